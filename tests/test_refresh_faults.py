"""Refresh fault tests: each failure is reported with its reason, the other sources go on, the data stays.

The publisher serves two small real lists (the EU and FCDO fixtures); the
fault hits the UK one after a first good refresh, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from lxml import etree
from sqlalchemy import func, select

from sanctions import config, refresh
from sanctions.db import session_factory
from sanctions.eventlog import EventLog, quiet
from sanctions.models import Designation, ImportRun, Refresh
from tests.conftest import REPO
from tests.publisher import Publisher
from tests.refresh_helpers import REAL, serve, settings_for, un_edition

SMALL = ["eu", "gb"]
GB = REAL["gb"][0]


def state(engine) -> dict[str, list[tuple[str, str, str]]]:
    """Every stored designation's key, content hash and status, by source: what 'intact' means."""
    with session_factory(engine)() as session:
        rows = session.execute(select(Designation.source, Designation.key, Designation.content_hash,
                                      Designation.status).order_by(Designation.key)).all()
    out: dict[str, list] = {}
    for source, key, digest, status in rows:
        out.setdefault(source, []).append((key, digest, status))
    return out


def gb_edition(data: bytes, drop: int = 0, root: str | None = None, amend: bool = True) -> bytes:
    """A later FCDO publication: ``drop`` designations gone, one amended, or the root renamed (a new format)."""
    tree = etree.fromstring(data)
    designations = tree.findall("Designation")
    for element in designations[:drop]:
        tree.remove(element)
    if amend:
        name = designations[drop].find(".//Name6")
        name.text = name.text + " TRADING"
    if root:
        tree.tag = root
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8")


@pytest.fixture
def baseline(engine, tmp_path):
    """A publisher, the configuration, and the store after a first good refresh of the two lists."""
    with Publisher(hang_seconds=2.0) as publisher:
        serve(publisher, SMALL)
        settings = settings_for(tmp_path, publisher, SMALL)
        first = refresh.run(engine, settings, log=quiet())
        assert first.exit_code == refresh.EXIT_OK
        yield publisher, settings, state(engine)


def _outcome(result, source):
    return next(o for o in result.outcomes if o.source == source)


def _assert_failed_and_intact(engine, result, before, problem: str, outcome: str = "failed"):
    gb = _outcome(result, "gb")
    assert gb.outcome == outcome and problem in gb.reason, gb.reason
    assert _outcome(result, "eu").outcome == "not-modified"  # the other source went on
    assert result.exit_code == refresh.EXIT_PARTIAL and result.status == "partial"
    assert state(engine) == before
    assert [s["outcome"] for s in result.report["sources"] if s["source"] == "gb"] == [outcome]
    with session_factory(engine)() as session:  # `sanctions sources` shows the failed run and why
        last = session.scalars(select(ImportRun).where(ImportRun.source == "gb").order_by(ImportRun.id.desc())).first()
        assert last.status == outcome and problem in last.error


def test_404(engine, baseline):
    publisher, settings, before = baseline
    publisher.publish(GB, gb_edition(publisher.files[GB]))
    publisher.fail_next(GB, "404")
    result = refresh.run(engine, settings, log=quiet())
    _assert_failed_and_intact(engine, result, before, "HTTP 404")
    assert _outcome(result, "gb").attempts == 1  # a 404 is not retried
    assert publisher.statuses(GB)[-1] == 404


def test_500_then_success_on_retry(engine, baseline):
    publisher, settings, before = baseline
    publisher.publish(GB, gb_edition(publisher.files[GB]))
    publisher.fail_next(GB, "500")
    lines = io.StringIO()
    result = refresh.run(engine, settings, log=EventLog(stream=lines))
    assert result.exit_code == refresh.EXIT_OK
    gb = _outcome(result, "gb")
    assert gb.outcome == "imported" and gb.attempts == 2
    assert publisher.statuses(GB)[-2:] == [500, 200]
    assert "event=fetch.retry source=gb attempt=1 problem=\"HTTP 500 Internal Server Error\"" in lines.getvalue()
    assert [c["change"] for c in result.report["designations"]] == ["amended"]
    assert state(engine)["eu"] == before["eu"]


def test_timeout(engine, baseline):
    publisher, settings, before = baseline
    publisher.publish(GB, gb_edition(publisher.files[GB]))
    publisher.fail_next(GB, "hang", "hang", "hang")
    result = refresh.run(engine, settings, log=quiet())
    _assert_failed_and_intact(engine, result, before, "no response within 1 s")
    assert _outcome(result, "gb").attempts == 3
    assert "after 3 attempts" in _outcome(result, "gb").reason


def test_truncated_download(engine, baseline, tmp_path):
    publisher, settings, before = baseline
    publisher.publish(GB, gb_edition(publisher.files[GB]))
    publisher.fail_next(GB, "truncate", "truncate", "truncate")
    result = refresh.run(engine, settings, log=quiet())
    _assert_failed_and_intact(engine, result, before, "truncated download: received")
    assert not list((tmp_path / "archive" / "tmp").iterdir())  # no partial file left behind


def test_truncated_publication(engine, baseline):
    """The server sends the whole of a file that is itself cut off: the content check catches it."""
    publisher, settings, before = baseline
    data = gb_edition(publisher.files[GB])
    publisher.publish(GB, data[: len(data) * 2 // 3])
    result = refresh.run(engine, settings, log=quiet())
    _assert_failed_and_intact(engine, result, before, "the XML is incomplete: it does not end with </Designations>")


def test_file_in_a_changed_format(engine, baseline):
    publisher, settings, before = baseline
    publisher.publish(GB, gb_edition(publisher.files[GB], root="SanctionsList"))
    result = refresh.run(engine, settings, log=quiet())
    _assert_failed_and_intact(engine, result, before, "unrecognised XML (root element <SanctionsList>)")


def test_another_publishers_file(engine, baseline):
    publisher, settings, before = baseline
    publisher.publish(GB, publisher.files[REAL["eu"][0]])
    result = refresh.run(engine, settings, log=quiet())
    _assert_failed_and_intact(engine, result, before, "this is the EU Financial Sanctions Files, which does not "
                                                      "belong to source 'gb'")


def test_a_publication_that_would_shrink_the_list(engine, baseline):
    publisher, settings, before = baseline
    publisher.publish(GB, gb_edition(publisher.files[GB], drop=10))
    result = refresh.run(engine, settings, log=quiet())
    _assert_failed_and_intact(engine, result, before, "would remove", outcome="refused")


def test_every_source_failing_is_total_failure(engine, baseline):
    publisher, settings, before = baseline
    publisher.fail_next(GB, "404")
    publisher.fail_next(REAL["eu"][0], "404")
    result = refresh.run(engine, settings, log=quiet())
    assert result.exit_code == refresh.EXIT_FAILED and result.status == "failed"
    assert state(engine) == before


def test_a_second_refresh_while_one_runs(engine, baseline):
    publisher, settings, before = baseline
    publisher.publish(GB, gb_edition(publisher.files[GB]))
    publisher.fail_next(GB, "hang")  # the first refresh is busy for a while (then retries and succeeds)
    results = []
    running = threading.Thread(target=lambda: results.append(refresh.run(engine, settings, log=quiet())))
    running.start()
    try:
        # While the first refresh waits on the hanging publisher it holds the refresh lock.
        assert publisher.hanging.wait(10)
        with pytest.raises(refresh.RefreshError, match="refresh is busy"):
            refresh.run(engine, settings, log=quiet(), lock_timeout=0.2)
    finally:
        running.join()
    assert results[0].exit_code == refresh.EXIT_OK
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Refresh)) == 2  # the busy one left no trace


def test_a_refresh_killed_in_the_middle(engine, db_url, tmp_path):
    """SIGKILL during the UN import: that import leaves nothing, and the next refresh runs normally."""
    with Publisher() as publisher:
        serve(publisher, ["eu", "un"])
        un_path = REAL["un"][0]
        settings_for(tmp_path, publisher, ["eu", "un"], db_url=db_url)
        env = {**os.environ, "PYTHONPATH": str(REPO), "SANCTIONS_CONFIG": str(tmp_path / "sanctions.toml")}
        env.pop("SANCTIONS_DB", None)
        child = subprocess.Popen([sys.executable, "-m", "sanctions.cli", "refresh"], cwd=tmp_path, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            for line in child.stderr:
                if "event=import.start source=un" in line:
                    break
            time.sleep(0.3)  # inside the UN import's transaction (it takes about a second)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert child.returncode == -signal.SIGKILL
        killed = state(engine)
        assert len(killed["eu"]) == 17  # imported before the kill, committed
        assert "un" not in killed  # no partial import
        with session_factory(engine)() as session:
            assert session.scalar(select(Refresh.status)) == "running"

        publisher.publish(un_path, un_edition(publisher.files[un_path]))
        settings = settings_for(tmp_path, publisher, ["eu", "un"], db_url=db_url)
        result = refresh.run(engine, settings, log=quiet())
        assert result.exit_code == refresh.EXIT_OK
        assert {o.source: o.outcome for o in result.outcomes} == {"eu": "not-modified", "un": "imported"}
        assert len(state(engine)["un"]) == 1003
        with session_factory(engine)() as session:
            statuses = session.scalars(select(Refresh.status).order_by(Refresh.id)).all()
        assert statuses == ["interrupted", "succeeded"]


def test_a_first_publication_far_below_the_expected_size(engine, tmp_path):
    """Without the test configuration's [expected_minimum] = 0, the 17-record EU excerpt is refused."""
    with Publisher() as publisher:
        serve(publisher, ["eu", "un"])
        settings = settings_for(tmp_path, publisher, ["eu", "un"])
        settings.values.pop(("expected_minimum", "eu"))
        settings.values[("expected_minimum", "eu")] = config.Setting(4000, "default")
        result = refresh.run(engine, settings, log=quiet())
    assert result.exit_code == refresh.EXIT_PARTIAL
    eu = _outcome(result, "eu")
    assert eu.outcome == "refused" and "17" in eu.reason and "4000" in eu.reason.replace(",", ""), eu.reason
    assert _outcome(result, "un").outcome == "imported"
    assert "eu" not in state(engine)
