"""The matching job end to end, on SQLite and PostgreSQL: real lists, incremental runs, decisions, exports."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from importers.common import ImportFailure
from sanctions import gap_queries as gaps, imports, matching, pipeline, queries, schema
from sanctions.cli import main
from sanctions.config import MatchingConfig
from sanctions.demo import SAMPLE_FILES
from sanctions.db import session_factory
from sanctions.models import Designation, Gap, MatchPair, MatchRun, PairDecision, TargetMember
from sanctions.schema import ParsedList
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
    for source, parts in (("us-sdn", ("us",)), ("us-cons", ("us", "consolidated.xml")),
                          ("un", ("un", "consolidated.xml")), ("gb", ("uk", "ConList.xlsx")),
                          ("ca", ("ca", "sema-lmes.xml"))):
        imports.run_import(engine, source, str(real_file(*parts)))
    run = pipeline.match(engine)
    assert run.mode == "full" and run.designations == 25858 and run.linked > 5000

    # Known cross-list links: a UN-listed person in all three lists, a renamed vessel by IMO,
    # a Russia-related person spelt differently by Canada and the UK.
    assert together(engine, "us-sdn:7843", "gb:IRQ0062", "un:6908048")
    assert together(engine, "ca:russia/1.1/76", "us-sdn:47003")
    assert together(engine, "ca:russia/1-part-1/608", "gb:RUS0982")
    # Known non-links: same given names, another person (kept for review, not linked).
    assert not together(engine, "ca:iran/1-part-2.1/72", "gb:AFG0078")
    # One equal national id under different names and dates of birth: review, naming the conflict.
    assert not together(engine, "gb:RUS1718", "us-sdn:40418")
    with session_factory(engine)() as session:
        niyazi = session.scalars(select(MatchPair).where(MatchPair.key_a == "gb:RUS1718",
                                                         MatchPair.key_b == "us-sdn:40418")).one()
    assert niyazi.band == "review" and "names differ" in niyazi.explanation["identifiers"]["contribution"]
    # The same OFAC entry on the SDN and the non-SDN list is one target: all 61 of them.
    with session_factory(engine)() as session:
        cluster_of = dict(session.execute(select(TargetMember.designation_key, TargetMember.target_id)).all())
        cons = session.scalars(select(Designation.source_id).where(Designation.source == "us-cons")).all()
        sdn = set(session.scalars(select(Designation.source_id).where(Designation.source == "us-sdn")).all())
    both = [n for n in cons if n in sdn]
    assert len(both) == 61
    assert [n for n in both if cluster_of.get(f"us-sdn:{n}") is None
            or cluster_of.get(f"us-sdn:{n}") != cluster_of.get(f"us-cons:{n}")] == []
    # A publisher listing one person twice: both records in the one target, with the other lists' record.
    assert together(engine, "us-sdn:24143", "us-sdn:36397")
    assert together(engine, "gb:RUS0084", "gb:CHW0014", "us-sdn:31126")
    assert together(engine, "gb:RUS0029", "gb:CHW0013")

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


def targets_by_jurisdictions_joined(session) -> dict[int, int]:
    """The reference count: every member joined to its designation row."""
    found = defaultdict(set)
    for target_id, jurisdiction in session.execute(
            select(TargetMember.target_id, Designation.jurisdiction)
            .join(Designation, Designation.key == TargetMember.designation_key)):
        found[target_id].add(jurisdiction)
    counts = Counter(len(j) for j in found.values() if len(j) > 1)
    return dict(sorted(counts.items()))


def test_targets_by_jurisdictions_read_from_keys(engine):
    """The ``match`` command's closing count reads jurisdictions off the keys: the same as a join."""
    import_samples(engine)
    pipeline.match(engine)
    Session = session_factory(engine)
    with Session() as session:
        assert matching.multi_jurisdiction_targets(session) == targets_by_jurisdictions_joined(session)
        assert sum(matching.multi_jurisdiction_targets(session).values()) > 10
        before = targets_by_jurisdictions_joined(session)
        # The UK and UN members of one target, given keys with one prefix that names no source (as
        # OFSI rows without an FCDO reference have): their jurisdictions are looked up, not read off
        # the keys (which would make the two one jurisdiction).
        target_id = session.scalars(
            select(TargetMember.target_id).where(TargetMember.designation_key.like("gb:%"))
            .where(TargetMember.target_id.in_(select(TargetMember.target_id)
                                              .where(TargetMember.designation_key.like("un:%"))))
            .order_by(TargetMember.target_id).limit(1)).one()
        keys = session.scalars(select(TargetMember.designation_key).where(
            TargetMember.target_id == target_id,
            TargetMember.designation_key.like("gb:%") | TargetMember.designation_key.like("un:%"))).all()
    with Session.begin() as session:
        for n, key in enumerate(keys):
            session.execute(update(Designation).where(Designation.key == key).values(key=f"ofsi-old:{n}"))
            session.execute(update(TargetMember).where(TargetMember.designation_key == key)
                            .values(designation_key=f"ofsi-old:{n}"))
    with Session() as session:
        assert targets_by_jurisdictions_joined(session) == before
        assert matching.multi_jurisdiction_targets(session) == before


def test_import_refuses_a_key_naming_another_jurisdiction():
    parsed = ParsedList(source="gb", format="test", designations=[
        schema.Designation(source="gb", source_id="1", key="gb:1", kind="person", name="A"),
        schema.Designation(source="gb", source_id="2", key="un:2", kind="person", name="B")])
    with pytest.raises(ImportFailure, match=r"record un:2: the key names the source 'un'"):
        imports._check_keys(parsed, "list.xml")


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
    assert json.loads(rows[0]["explanation"])["name"]
    # What is stored and exported is what explain computes now from the store, pair by pair.
    for row in rows:
        again = json.loads(runner.invoke(main, ["--db", db_url, "explain", row["key_a"], row["key_b"]]).output)
        assert (again["score"], again["band"]) == (float(row["score"]), "review"), row
    missing = runner.invoke(main, ["--db", db_url, "explain", "us-sdn:7843", "un:0"])
    assert missing.exit_code != 0 and "no designation with key un:0" in missing.output


def test_bad_thresholds_are_refused(engine, db_url, tmp_path, monkeypatch):
    config = tmp_path / "sanctions.toml"
    config.write_text("[matching]\nhigh = 0.5\nlow = 0.9\n")
    monkeypatch.setenv("SANCTIONS_CONFIG", str(config))
    out = CliRunner().invoke(main, ["--db", db_url, "match"])
    assert out.exit_code != 0 and "thresholds must satisfy" in out.output


@pytest.mark.parametrize("setting", ["candidates_per_record = 0", "min_name_mass = 0.0"])
def test_bounds_that_leave_nothing_to_match_are_refused(engine, db_url, tmp_path, monkeypatch, setting):
    config = tmp_path / "sanctions.toml"
    config.write_text(f"[matching]\n{setting}\n")
    monkeypatch.setenv("SANCTIONS_CONFIG", str(config))
    out = CliRunner().invoke(main, ["--db", db_url, "match"])
    assert out.exit_code != 0 and "candidates_per_record must be at least 1" in out.output
    assert "Traceback" not in out.output


def test_a_bad_number_of_scoring_processes_is_refused_in_one_line(engine, db_url, monkeypatch):
    import_samples(engine)
    pipeline.match(engine)
    with session_factory(engine)() as session:
        runs = session.scalar(select(func.count()).select_from(MatchRun))
        pairs = session.scalar(select(func.count()).select_from(MatchPair))
    monkeypatch.setenv("SANCTIONS_MATCH_WORKERS", "two")
    out = CliRunner().invoke(main, ["--db", db_url, "match", "--full"])
    assert out.exit_code != 0 and "Traceback" not in out.output
    assert out.output.strip().splitlines() == [
        "Error: $SANCTIONS_MATCH_WORKERS: performance.match_workers = 'two' is not a valid int"]
    with session_factory(engine)() as session:  # nothing written: no run, the pairs as they were
        assert session.scalar(select(func.count()).select_from(MatchRun)) == runs
        assert session.scalar(select(func.count()).select_from(MatchPair)) == pairs


def test_thresholds_from_configuration(engine, db_url, tmp_path, monkeypatch):
    """Other thresholds move exactly the pairs scored across them to another band, and the run records them."""
    import_samples(engine)
    pipeline.match(engine)
    with session_factory(engine)() as session:
        before = {(a, b): (band, s) for a, b, band, s in
                  session.execute(select(MatchPair.key_a, MatchPair.key_b, MatchPair.band, MatchPair.score))}
    config = tmp_path / "sanctions.toml"
    config.write_text("[matching]\nhigh = 0.8\nlow = 0.6\nnear = 0.5\ncandidates_per_record = 10\n")
    monkeypatch.setenv("SANCTIONS_CONFIG", str(config))
    run = pipeline.match(engine)
    assert run.mode == "full"  # another configuration: every score is recomputed
    assert (run.high, run.low, run.config["high"], run.config["low"]) == (0.8, 0.6, 0.8, 0.6)
    assert run.config_hash == MatchingConfig(high=0.8, low=0.6, near=0.5).digest() != MatchingConfig().digest()
    with session_factory(engine)() as session:
        after = {(a, b): (band, s) for a, b, band, s in
                 session.execute(select(MatchPair.key_a, MatchPair.key_b, MatchPair.band, MatchPair.score))}
    to_link = {pair for pair, (band, _) in before.items() if band == "review" and after[pair][0] == "link"}
    to_review = {pair for pair, (band, _) in before.items() if band == "near" and after[pair][0] == "review"}
    assert to_link and to_link == {pair for pair, (band, s) in before.items() if band == "review" and s >= 0.8}
    assert to_review and to_review == {pair for pair, (band, s) in before.items() if band == "near" and s >= 0.6}
    # Same scores; pairs between 0.5 and 0.6 are now kept as near misses too.
    assert all(after[pair][1] == s for pair, (_, s) in before.items())
    assert all(0.5 <= s < 0.6 and band == "near" for pair, (band, s) in after.items() if pair not in before)
