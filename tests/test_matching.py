"""The matching job end to end, on SQLite and PostgreSQL: real lists, incremental runs, decisions, exports."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
from collections import defaultdict

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from sanctions import gap_queries as gaps, imports, matching, pipeline, queries
from sanctions.cli import main
from sanctions.demo import SAMPLE_FILES
from sanctions.db import session_factory
from sanctions.models import Gap, PairDecision, TargetMember
from tests.conftest import SAMPLES, SHARED_DATA, real_file


def clusters(engine) -> dict[str, set[str]]:
    with session_factory(engine)() as session:
        out = defaultdict(set)
        for cid, key in session.execute(select(TargetMember.target_id, TargetMember.designation_key)):
            out[cid].add(key)
    return {cid: keys for cid, keys in out.items() if len(keys) > 1}


def together(engine, *keys) -> bool:
    return any(set(keys) <= members for members in clusters(engine).values())


def import_samples(engine):
    for source, path in SAMPLE_FILES:
        imports.run_import(engine, source, str(path))


def test_real_lists_known_links_and_dev_scores(engine, tmp_path):
    for source, parts in (("us-sdn", ("us",)), ("un", ("un", "consolidated.xml")),
                          ("gb", ("uk", "ConList.xlsx")), ("ca", ("ca", "sema-lmes.xml"))):
        imports.run_import(engine, source, str(real_file(*parts)))
    run = pipeline.match(engine)
    assert run.mode == "full" and run.designations == 25415 and run.linked > 5000

    # Known cross-list links: a UN-listed person in all three lists, a renamed vessel by IMO,
    # a Russia-related person spelt differently by Canada and the UK.
    assert together(engine, "us-sdn:7843", "gb:IRQ0062", "un:6908048")
    assert together(engine, "ca:russia/1.1/76", "us-sdn:47003")
    assert together(engine, "ca:russia/1-part-1/608", "gb:RUS0982")
    # Known non-links: same given names, another person (kept for review, not linked).
    assert not together(engine, "ca:iran/1-part-2.1/72", "gb:AFG0078")

    # Gaps on the real lists: a Russia-related US vessel the UK list does not carry is a gap;
    # persons the US, the UK and the UN all list are not.
    with session_factory(engine)() as session:
        target = queries.target_ids(session, ["us-sdn:47003", "us-sdn:7843", "us-sdn:16714", "gb:IRQ0062",
                                              "un:6908048"])
        ns_consul = session.get(Gap, f"us-gb:{target['us-sdn:47003']}")
        assert ns_consul is not None and ns_consul.state == "open"
        for a, b, key in (("us", "gb", "us-sdn:7843"), ("us", "gb", "us-sdn:16714"), ("gb", "un", "gb:IRQ0062"),
                          ("un", "us", "un:6908048")):
            assert session.get(Gap, f"{a}-{b}:{target[key]}") is None
        (entry,) = [g for g in gaps.find_gaps(session, gaps.GapQuery("us", ["gb"], regime="russia", kind="vessel"))
                    if g["designations"][0]["key"] == "us-sdn:47003"]
        assert entry["comparable_regime"] == {"gb": True}

    truth = SHARED_DATA / "groundtruth" / "dev_clusters.csv"
    exported = CliRunner().invoke(main, ["--db", engine.url.render_as_string(hide_password=False),
                                         "export", "clusters", "--format", "csv"])
    assert exported.exit_code == 0 and exported.output.startswith("cluster,key\n")
    predicted = tmp_path / "clusters.csv"
    predicted.write_text(exported.output)
    score = subprocess.run([sys.executable, str(SHARED_DATA.parent / "tools" / "score_links.py"), str(predicted),
                            "--clusters", str(truth)], capture_output=True, text=True, check=True).stdout
    overall = re.search(r"overall\s+P=([\d.]+) R=([\d.]+)", score)
    assert float(overall[1]) >= 0.98 and float(overall[2]) >= 0.97, score


def test_incremental_match_equals_full_match(engine, tmp_path):
    import_samples(engine)
    first = pipeline.match(engine)
    assert first.mode == "full"
    again = pipeline.match(engine)
    assert again.mode == "incremental" and again.changed == 0 and again.clusters == first.clusters

    text = (SAMPLES / "un" / "consolidated.xml").read_text(encoding="utf-8")
    edited = re.sub(r"<FIRST_NAME>([^<]*)</FIRST_NAME>", lambda m: f"<FIRST_NAME>{m[1].lower()}</FIRST_NAME>",
                    text, count=5)
    path = tmp_path / "consolidated.xml"
    path.write_text(edited, encoding="utf-8")
    assert imports.run_import(engine, "un", str(path)).amended == 5
    incremental = pipeline.match(engine)
    assert incremental.mode == "incremental" and incremental.changed == 5
    after_incremental = clusters(engine)
    pipeline.match(engine, full=True)
    assert clusters(engine) == after_incremental


def test_officer_decisions_override_the_matcher(engine):
    import_samples(engine)
    pipeline.match(engine)
    saddam = ("us-sdn:7843", "gb:IRQ0062", "un:6908048", "eu:13")
    assert together(engine, *saddam)
    Session = session_factory(engine)
    with Session.begin() as session:
        session.add(PairDecision(key_a="eu:13", key_b="us-sdn:7843", decision="different", decided_by="test",
                                 decided_at=dt.datetime(2026, 1, 1)))
    pipeline.match(engine)
    assert not together(engine, "eu:13", "us-sdn:7843")
    # One of the two stays with the UK and UN records; which one is the matcher's call.
    assert together(engine, "us-sdn:7843", "gb:IRQ0062", "un:6908048") != together(engine, "eu:13", "gb:IRQ0062",
                                                                                    "un:6908048")


def test_match_explain_and_exports_cli(engine, db_url):
    import_samples(engine)
    runner = CliRunner()
    out = runner.invoke(main, ["--db", db_url, "match"])
    assert out.exit_code == 0, out.output
    assert "targets listed by several jurisdictions" in out.output
    explained = runner.invoke(main, ["--db", db_url, "explain", "us-sdn:7843", "un:6908048"])
    data = json.loads(explained.output)
    assert data["band"] == "link" and set(data["features"]) >= {"name", "birth_date", "nationality"}
    candidates = runner.invoke(main, ["--db", db_url, "export", "candidates", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(candidates.output)))
    assert list(rows[0]) == ["key_a", "key_b", "score", "name_a", "name_b", "explanation"]
    assert all(0.70 <= float(r["score"]) < 0.88 for r in rows)
    assert json.loads(rows[0]["explanation"])["name"]
    missing = runner.invoke(main, ["--db", db_url, "explain", "us-sdn:7843", "un:0"])
    assert missing.exit_code != 0 and "no designation with key un:0" in missing.output


def test_bad_thresholds_are_refused(engine, db_url, tmp_path, monkeypatch):
    config = tmp_path / "sanctions.toml"
    config.write_text("[matching]\nhigh = 0.5\nlow = 0.9\n")
    monkeypatch.setenv("SANCTIONS_CONFIG", str(config))
    out = CliRunner().invoke(main, ["--db", db_url, "match"])
    assert out.exit_code != 0 and "thresholds must satisfy" in out.output


@pytest.mark.parametrize("high", [0.95])
def test_thresholds_from_configuration(engine, db_url, tmp_path, monkeypatch, high):
    import_samples(engine)
    config = tmp_path / "sanctions.toml"
    config.write_text(f"[matching]\nhigh = {high}\nlow = 0.6\n")
    monkeypatch.setenv("SANCTIONS_CONFIG", str(config))
    run = pipeline.match(engine)
    assert (run.high, run.low) == (high, 0.6)
    with session_factory(engine)() as session:
        from sanctions.models import MatchPair
        scores = session.execute(select(MatchPair.band, MatchPair.score)).all()
    assert all(s >= high for band, s in scores if band == "link")
    assert all(0.6 <= s < high for band, s in scores if band == "review")
