"""The nightly refresh end to end: real files from a local publisher, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from sanctions import refresh
from sanctions.db import session_factory
from sanctions.eventlog import quiet
from sanctions.models import Designation, Download, ImportRun, Refresh
from tests.publisher import Publisher
from tests.refresh_helpers import REAL, serve, settings_for, un_edition

ALL = ["us-sdn", "us-cons", "eu", "gb", "ca", "un"]


def _counts(engine) -> dict[str, int]:
    with session_factory(engine)() as session:
        return dict(session.execute(select(Designation.source, func.count())
                                    .where(Designation.status == "active").group_by(Designation.source)).all())


def test_refresh_end_to_end(engine, tmp_path):
    with Publisher() as publisher:
        serve(publisher, ALL)
        settings = settings_for(tmp_path, publisher, ALL)

        first = refresh.run(engine, settings, log=quiet())
        assert first.exit_code == refresh.EXIT_OK, [(o.source, o.reason) for o in first.outcomes]
        assert [o.outcome for o in first.outcomes] == ["imported"] * 6
        assert _counts(engine) == {"us-sdn": 2, "us-cons": 375, "eu": 17, "gb": 21, "ca": 4759, "un": 1003}
        with session_factory(engine)() as session:
            # The advanced XML carries listing dates: every one of the 375 non-SDN parties has one.
            undated = session.scalar(select(func.count()).select_from(Designation).where(
                Designation.source == "us-cons", Designation.listed_on.is_(None)))
            assert undated == 0
        assert first.match_run_id is not None
        totals = first.report["summary"]["totals"]
        assert totals["new"] == 2 + 375 + 17 + 21 + 4759 + 1003
        assert totals["gaps_opened"] > 0
        # Every download is archived under its SHA-256, with its URL and headers.
        for outcome in first.outcomes:
            archived = Path(outcome.archive_path)
            assert archived.parent.name == outcome.sha256
            fetches = json.loads((archived.parent / "fetches.json").read_text())
            assert fetches[-1]["url"] == outcome.url and "etag" in fetches[-1]["headers"]
        assert sorted(Path(f).suffix for f in first.report_files) == [".html", ".json", ".txt"]

        second = refresh.run(engine, settings, log=quiet())
        assert second.exit_code == refresh.EXIT_OK
        assert [o.outcome for o in second.outcomes] == ["not-modified"] * 6
        for source in ALL:  # conditional requests, answered 304: nothing downloaded again
            assert publisher.statuses(REAL[source][0]) == [200, 304]
        assert second.match_run_id is None
        assert second.report["summary"]["totals"] == dict.fromkeys(
            ["new", "amended", "delisted", "relisted", "gaps_opened", "gaps_closed"], 0)

        path, _ = REAL["un"]
        publisher.publish(path, un_edition(publisher.files[path], drop=1, rename="CHANGED"))
        third = refresh.run(engine, settings, log=quiet())
        assert third.exit_code == refresh.EXIT_OK
        assert {o.source: o.outcome for o in third.outcomes} == {
            "us-sdn": "not-modified", "us-cons": "not-modified", "eu": "not-modified", "gb": "not-modified",
            "ca": "not-modified", "un": "imported"}
        assert third.match_run_id is not None
        by_change = {}
        for change in third.report["designations"]:
            by_change.setdefault(change["change"], []).append(change)
        assert sorted(by_change) == ["amended", "delisted"]
        assert len(by_change["delisted"]) == 1 and len(by_change["amended"]) == 1
        assert "names" in by_change["amended"][0]["fields"]
        assert third.report["summary"]["by_jurisdiction"]["un"]
        assert _counts(engine)["un"] == 1002

    with session_factory(engine)() as session:
        runs = session.execute(select(ImportRun.source, ImportRun.status).order_by(ImportRun.id)).all()
        assert [r for r in runs if r.status == "succeeded"].count(("un", "succeeded")) == 2
        assert session.scalar(select(func.count()).select_from(Download)) == 18
        assert [r.status for r in session.scalars(select(Refresh).order_by(Refresh.id))] == ["succeeded"] * 3


def test_readers_see_whole_publications_during_a_refresh(engine, tmp_path):
    """A reader (the web app) polling during a refresh sees the UN list either absent or whole, never half."""
    import threading

    with Publisher() as publisher:
        serve(publisher, ["un"])
        settings = settings_for(tmp_path, publisher, ["un"])
        seen, done = [], threading.Event()

        def read() -> None:
            Session = session_factory(engine)
            while not done.is_set():
                with Session() as session:
                    seen.append(session.scalar(select(func.count()).select_from(Designation)
                                               .where(Designation.source == "un")))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            result = refresh.run(engine, settings, log=quiet())
        finally:
            done.set()
            reader.join()
    assert result.exit_code == refresh.EXIT_OK
    assert set(seen) <= {0, 1003} and len(seen) > 5, (len(seen), set(seen))


def test_refresh_of_a_source_without_url(engine, db_url, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from sanctions.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SANCTIONS_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["--db", db_url, "refresh", "--source", "eu"])
    assert result.exit_code == refresh.EXIT_FAILED
    assert "refresh not run: no URL configured for eu: set [sources.eu] url" in result.stderr
