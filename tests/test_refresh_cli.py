"""The refresh commands from the command line: refresh, changes, check, restore by SHA-256, config, mail."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select

from sanctions import locks, refresh
from sanctions.cli import main
from sanctions.db import session_factory
from sanctions.eventlog import quiet
from sanctions.models import Download
from tests.publisher import Publisher
from tests.refresh_helpers import REAL, serve, settings_for, un_edition

UN = REAL["un"][0]


def cli(db_url, *args):
    return CliRunner().invoke(main, ["--db", db_url, *args])


def test_refresh_changes_check_and_restore(engine, db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with Publisher() as publisher:
        serve(publisher, ["eu", "un"])
        settings_for(tmp_path, publisher, ["eu", "un"])
        monkeypatch.setenv("SANCTIONS_CONFIG", str(tmp_path / "sanctions.toml"))

        first = cli(db_url, "refresh")
        assert first.exit_code == 0, first.output
        assert "Sanctions refresh 1 (succeeded)" in first.stdout
        assert "1020 new, 0 amended, 0 delisted" in first.stdout
        assert "event=refresh.done refresh=1 status=succeeded exit_code=0" in first.stderr  # structured log
        assert len(list((tmp_path / "reports").glob("*-refresh-1.*"))) == 3

        ok = cli(db_url, "check")
        assert ok.exit_code == 0 and ok.stdout.startswith("SANCTIONS OK - all 2 sources current"), ok.output
        stale = cli(db_url, "check", "--max-age", "0.000001")
        assert stale.exit_code == 1 and "SANCTIONS WARNING - " in stale.stdout and "no good import for" in stale.stdout

        publisher.publish(UN, un_edition(publisher.files[UN], drop=1))
        second = cli(db_url, "refresh")
        assert second.exit_code == 0, second.output
        assert "0 new, 0 amended, 1 delisted" in second.stdout

        latest = json.loads(cli(db_url, "changes", "--format", "json").stdout)
        assert [r["id"] for r in latest["refreshes"]] == [2]
        assert [(c["change"], c["jurisdiction"]) for c in latest["designations"]] == [("delisted", "un")]
        since = cli(db_url, "changes", "--since", dt.date.today().isoformat(), "--format", "text")
        assert since.exit_code == 0 and since.stdout.startswith("Sanctions refreshes 1-2 (2 runs)")
        assert "1020 new, 0 amended, 1 delisted" in since.stdout
        page = cli(db_url, "changes", "--format", "html").stdout
        assert page.startswith("<!doctype html>") and "<td>delisted</td>" in page

        # Restore the first UN publication from the archive by its SHA-256: the delisted record comes back.
        with session_factory(engine)() as session:
            first_un = session.scalars(select(Download.sha256).where(Download.source == "un")
                                       .order_by(Download.id)).first()
        restored = cli(db_url, "import", "un", first_un)
        assert restored.exit_code == 0, restored.output
        assert "un: succeeded" in restored.stdout and "relisted 1" in restored.stdout
        short = cli(db_url, "import", "un", first_un[:12])
        assert short.exit_code == 0 and "un: unchanged" in short.stdout
        missing = cli(db_url, "import", "un", "ab" * 32)
        assert missing.exit_code == 1 and f"no archived file with SHA-256 {'ab' * 32}" in missing.output

        publisher.publish(UN, un_edition(publisher.files[UN], drop=2))
        publisher.fail_next(UN, "404")
        failed = cli(db_url, "refresh")
        assert failed.exit_code == refresh.EXIT_PARTIAL == 3
        assert "FAILED" in failed.stdout and "HTTP 404" in failed.stdout
        critical = cli(db_url, "check")
        assert critical.exit_code == 2
        assert critical.stdout.startswith("SANCTIONS CRITICAL - un last run failed") and "HTTP 404" in critical.stdout
        assert len(critical.stdout.strip().splitlines()) == 1

        with locks.hold(engine, "refresh"):
            busy = cli(db_url, "refresh", "--lock-timeout", "0.2")
        assert busy.exit_code == refresh.EXIT_FAILED == 4
        assert "Error: refresh not run: refresh is busy" in busy.stderr


def test_check_never_imported(engine, db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SANCTIONS_URL_EU", "http://127.0.0.1:9/eu.xml")
    result = cli(db_url, "check")
    assert result.exit_code == 2 and "eu never imported" in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def test_report_is_mailed(engine, tmp_path):
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with Publisher() as publisher:
            serve(publisher, ["eu"])
            smtp = (f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsender = "registry@example.org"\n'
                    f'to = ["officer1@example.org", "officer2@example.org"]')
            settings = settings_for(tmp_path, publisher, ["eu"], extra=smtp)
            result = refresh.run(engine, settings, log=quiet())
    finally:
        controller.stop()
    assert result.exit_code == 0 and result.mail_error is None
    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "registry@example.org"
    assert envelope.rcpt_tos == ["officer1@example.org", "officer2@example.org"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"].strip() == "Sanctions refresh 1: 17 new, 0 amended, 0 delisted; gaps 0 opened, 0 closed"
    text = message.get_body(("plain",)).get_content()
    assert "eu       imported      added 17" in text and "eu / " in text
    assert "<h1>Sanctions refresh 1 (succeeded)" in message.get_body(("html",)).get_content()


def test_mail_failure_is_reported(engine, tmp_path):
    with Publisher() as publisher:
        serve(publisher, ["eu"])
        settings = settings_for(tmp_path, publisher, ["eu"],
                                extra=f'[smtp]\nhost = "127.0.0.1"\nport = {_free_port()}\nto = ["o@example.org"]')
        result = refresh.run(engine, settings, log=quiet())
    assert result.exit_code == refresh.EXIT_PARTIAL
    assert result.mail_error.startswith("cannot mail the report through 127.0.0.1:")
    assert result.status == "succeeded"  # the data is in; only the mail failed
