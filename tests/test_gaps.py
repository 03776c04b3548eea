"""Gap reports and the officer review workflow, on SQLite and PostgreSQL, with the bundled samples."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from sanctions import gap_queries as gaps, imports, matching, pipeline, queries, review
from sanctions.cli import main
from sanctions.demo import SAMPLE_FILES
from sanctions.db import session_factory
from sanctions.models import Gap, PairDecision, TargetMember
from tests.conftest import SAMPLES

SADDAM = ("us-sdn:7843", "gb:IRQ0062", "un:6908048", "eu:13")
VOLODIN = "us-sdn:16714"  # a US Russia-related designation the UK sample does not carry


def import_samples(engine, *, gb=None, us=None, only=None, force=False):
    files = {**dict(SAMPLE_FILES), **{s: p for s, p in (("us-sdn", us), ("gb", gb)) if p}}
    runs = {}
    for source, path in files.items():
        if only is None or source in only:
            runs[source] = imports.run_import(engine, source, str(path), force=force, allow_shrink=True)
    pipeline.match(engine)
    return runs


def gap(engine, gap_id) -> Gap | None:
    with session_factory(engine)() as session:
        return session.get(Gap, gap_id)


def gap_id(engine, a: str, b: str, key: str, delisted: bool = False) -> str:
    """The id of the (A, B) gap of the target that holds designation ``key`` now."""
    with session_factory(engine)() as session:
        target = queries.target_ids(session, [key])[key]
    return f"{a}-{b}:delisted:{target}" if delisted else f"{a}-{b}:{target}"


def gap_of(engine, a: str, b: str, key: str, delisted: bool = False) -> Gap | None:
    return gap(engine, gap_id(engine, a, b, key, delisted))


def uk_sample_without(tmp_path, ref: str, replace: tuple[str, str] | None = None):
    lines = (SAMPLES / "gb" / "ConList.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    if replace:
        kept = [line.replace(*replace) if f"(UK Sanctions List Ref):{ref}." in line else line for line in lines]
    else:
        kept = [line for line in lines if f"(UK Sanctions List Ref):{ref}." not in line]
    path = tmp_path / "ConList.csv"
    path.write_text("".join(kept), encoding="utf-8-sig")
    return path


def cli(db_url, *args):
    return CliRunner().invoke(main, ["--db", db_url, *args])


def test_known_gap_and_non_gap(engine, db_url):
    import_samples(engine)
    volodin = gap_of(engine, "us", "gb", VOLODIN)
    assert volodin.state == "open" and volodin.kind == "missing" and volodin.disposition == "open"
    assert gap_of(engine, "us", "gb", "us-sdn:7843") is None  # listed by the US, the UK, the UN and the EU
    assert gap_of(engine, "gb", "us", "gb:IRQ0062") is None

    with session_factory(engine)() as session:
        found = gaps.find_gaps(session, gaps.GapQuery("us", ["gb"], regime="russia", kind="person"))
    entry = next(g for g in found if g["designations"][0]["key"] == VOLODIN)
    assert entry["regimes"] == ["russia"] and entry["comparable_regime"] == {"gb": True}
    assert all(g["designations"][0]["kind"] == "person" and "russia" in g["regimes"] for g in found)

    table = cli(db_url, "gaps", "--designated-by", "us", "--not-by", "gb", "--regime", "russia")
    assert table.exit_code == 0 and gap_id(engine, "us", "gb", VOLODIN) in table.output
    rows = list(csv.DictReader(io.StringIO(cli(db_url, "gaps", "--designated-by", "us", "--not-by", "gb",
                                               "--format", "csv").output)))
    assert any(r["gap"] == gap_id(engine, "us", "gb", VOLODIN) and r["regimes"] == "russia" for r in rows)


def test_not_by_all_or_any(engine):
    import_samples(engine)
    with session_factory(engine)() as session:
        both = gaps.find_gaps(session, gaps.GapQuery("us", ["gb", "ca"]))
        anyone = {g["target"] for g in gaps.find_gaps(session, gaps.GapQuery("us", ["any"]))}
        alone = {j: {g["target"] for g in gaps.find_gaps(session, gaps.GapQuery("us", [j]))}
                 for j in ("eu", "gb", "ca", "un")}
    # Several jurisdictions: the targets that none of them designates, i.e. the intersection;
    # non-empty (Volodin is on neither sample) and narrower than one jurisdiction alone.
    assert {g["target"] for g in both} == alone["gb"] & alone["ca"]
    assert 0 < len(both) < len(alone["gb"])
    assert any(g["designations"][0]["key"] == VOLODIN for g in both)
    assert all(set(g["not_by"]) == {"gb", "ca"} for g in both)
    # "any": the targets that at least one other jurisdiction does not designate, i.e. the union.
    assert anyone == set().union(*alone.values()) and len(anyone) > len(alone["gb"])


def test_matrix_and_stats(engine, db_url):
    import_samples(engine)
    with session_factory(engine)() as session:
        counts = gaps.matrix(session)
        russia = gaps.matrix(session, "russia")
        stats = gaps.alignment_stats(session)
    assert set(counts) == {"us", "eu", "gb", "ca", "un"}
    assert counts["us"]["gb"] >= russia["us"]["gb"] >= 1
    cell = next(r for r in stats if (r["designated_by"], r["other"], r["regime"]) == ("un", "gb", "iraq"))
    assert cell["aligned"] >= 1 and cell["share_aligned"] > 0 and cell["median_days_to_align"] is not None
    out = cli(db_url, "gaps", "--matrix")
    assert out.exit_code == 0 and "designated by" in out.output
    assert cli(db_url, "gaps", "--stats", "--format", "csv").output.startswith("designated_by,other,regime")


def test_gap_closes_when_the_other_list_adds_the_target(engine, tmp_path):
    import_samples(engine, gb=uk_sample_without(tmp_path, "IRQ0062"))
    opened = gap_of(engine, "us", "gb", "us-sdn:7843")
    assert opened.state == "open"
    runs = import_samples(engine)
    closed = gap_of(engine, "us", "gb", "us-sdn:7843")
    assert closed.state == "closed" and closed.closed_reason == "aligned"
    assert closed.closed_run_id == runs["gb"].id and closed.closed_on is not None


def test_near_miss_is_shown_with_its_candidate(engine, tmp_path):
    # The UK record of Saddam Hussein with another date of birth: the name agrees, the date does not.
    edited = uk_sample_without(tmp_path, "IRQ0062", replace=("28/04/1937", "03/11/1951"))
    import_samples(engine, gb=edited, only={"us-sdn", "gb"})
    with session_factory(engine)() as session:
        (entry,) = [g for g in gaps.find_gaps(session, gaps.GapQuery("us", ["gb"]), evidence=True)
                    if g["designations"][0]["key"] == "us-sdn:7843"]
    (miss,) = [m for m in entry["near_misses"]["gb"] if m["key"] == "gb:IRQ0062"]
    assert 0.6 <= miss["score"] < 0.88 and miss["explanation"]["birth_date"]["value"] == "conflict"
    evidence = entry["evidence"]
    assert evidence["designated"][0]["import"]["sha256"] and evidence["designated"][0]["source_record"]
    assert evidence["near_misses"]["gb"][0]["import"]["published_on"] == "2025-04-14"


def test_decisions_survive_reimport_and_full_rematch(engine, db_url):
    import_samples(engine)
    volodin_gap = gap_id(engine, "us", "gb", VOLODIN)
    assert cli(db_url, "review", "gap", volodin_gap, "under-review", "--by", "A. Officer").exit_code == 0
    out = cli(db_url, "review", "gap", volodin_gap, "confirmed", "--by", "A. Officer", "--note", "propose")
    assert out.exit_code == 0, out.output
    out = cli(db_url, "review", "pair", "eu:13", "us-sdn:7843", "different", "--by", "B. Officer")
    assert out.exit_code == 0, out.output

    import_samples(engine, force=True)
    pipeline.match(engine, full=True)
    assert gap(engine, volodin_gap).disposition == "confirmed" and not gap(engine, volodin_gap).needs_review
    assert not matching_together(engine, "eu:13", "us-sdn:7843")
    with session_factory(engine)() as session:
        (decision,) = session.scalars(select(PairDecision).where(PairDecision.current.is_(True))).all()
    assert decision.decision == "different" and not decision.needs_review


def matching_together(engine, *keys):
    from tests.test_matching import together
    return together(engine, *keys)


def test_negative_pair_decision_splits_a_cluster_and_opens_gaps(engine, db_url):
    import_samples(engine)
    assert matching_together(engine, *SADDAM)
    out = cli(db_url, "review", "pair", "us-sdn:7843", "eu:13", "different", "--by", "C. Officer")
    assert out.exit_code == 0 and "gaps opened" in out.output
    assert not matching_together(engine, "eu:13", "us-sdn:7843")
    assert gap_of(engine, "eu", "us", "eu:13").state == "open"
    out = cli(db_url, "review", "pair", "us-sdn:7843", "eu:13", "same", "--by", "C. Officer")
    assert matching_together(engine, "eu:13", "us-sdn:7843")
    assert gap_of(engine, "eu", "us", "eu:13").state == "closed"


def test_material_change_flags_decisions_for_rereview(engine, db_url, tmp_path):
    import_samples(engine)
    volodin_gap = gap_id(engine, "us", "gb", VOLODIN)
    review.set_gap_status(engine, volodin_gap, "under-review", "A. Officer")
    review.decide_pair(engine, "us-sdn:7843", "gb:IRQ0062", "same", "B. Officer")
    folder = tmp_path / "us"
    shutil.copytree(SAMPLES / "us", folder)
    sdn = (folder / "sdn.csv").read_bytes()
    (folder / "sdn.csv").write_bytes(sdn.replace(b"DOB 04 Feb 1964", b"DOB 04 Feb 1965")
                                     .replace(b"DOB 28 Apr 1937", b"DOB 28 Apr 1937; alt. DOB 1938"))
    import_samples(engine, us=folder, only={"us-sdn"})
    assert gap(engine, volodin_gap).needs_review
    with session_factory(engine)() as session:
        decision = session.scalars(select(PairDecision).where(PairDecision.current.is_(True))).one()
    assert decision.needs_review
    table = cli(db_url, "gaps", "--designated-by", "us", "--not-by", "gb", "--status", "under-review")
    assert "NEEDS RE-REVIEW" in table.output
    audit = json.loads(cli(db_url, "audit", "--format", "json").output)
    assert {"gap-flagged", "pair-flagged"} <= {e["action"] for e in audit}


def test_review_rules(engine, db_url):
    import_samples(engine)
    volodin_gap = gap_id(engine, "us", "gb", VOLODIN)
    skip = cli(db_url, "review", "gap", volodin_gap, "confirmed", "--by", "X")
    assert skip.exit_code != 0 and "can move to under-review" in skip.output
    cli(db_url, "review", "gap", volodin_gap, "under-review", "--by", "X")
    no_reason = cli(db_url, "review", "gap", volodin_gap, "dismissed", "--by", "X")
    assert no_reason.exit_code != 0 and "needs --reason" in no_reason.output
    ok = cli(db_url, "review", "gap", volodin_gap, "dismissed", "--by", "X", "--reason", "policy-divergence")
    assert ok.exit_code == 0 and gap(engine, volodin_gap).reason == "policy-divergence"
    assert cli(db_url, "review", "gap", "us-gb:nope", "under-review", "--by", "X").exit_code != 0
    assert cli(db_url, "review", "pair", "us-sdn:7843", "gb:NOPE", "same", "--by", "X").exit_code != 0


def test_audit_log_is_append_only(engine, db_url):
    import_samples(engine)
    review.set_gap_status(engine, gap_id(engine, "us", "gb", VOLODIN), "under-review", "A. Officer", note="looking")
    rows = list(csv.DictReader(io.StringIO(cli(db_url, "audit").output)))
    (entry,) = [r for r in rows if r["action"] == "gap-disposition"]
    assert entry["actor"] == "A. Officer" and json.loads(entry["before"])["disposition"] == "open"
    assert json.loads(entry["after"])["disposition"] == "under-review" and entry["note"] == "looking"
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            with engine.begin() as connection:
                connection.execute(text(statement))
    assert len(list(csv.DictReader(io.StringIO(cli(db_url, "audit", "--since", "2000-01-01").output)))) == len(rows)


def test_delisted_by_one_still_listed_by_another(engine, db_url, tmp_path):
    """The other direction of drift: the UN delists a target the UK still lists."""
    import_samples(engine)
    text = (SAMPLES / "un" / "consolidated.xml").read_text(encoding="utf-8")
    start = text.index("<DATAID>6908048</DATAID>")
    begin = text.rindex("<INDIVIDUAL>", 0, start)
    end = text.index("</INDIVIDUAL>", start) + len("</INDIVIDUAL>")
    shorter = tmp_path / "consolidated.xml"
    shorter.write_text(text[:begin] + text[end:], encoding="utf-8")
    assert imports.run_import(engine, "un", str(shorter)).removed == 1
    pipeline.match(engine)
    drift = gap_of(engine, "un", "gb", "un:6908048", delisted=True)
    assert drift is not None and drift.state == "open" and drift.kind == "delisted"
    out = cli(db_url, "gaps", "--designated-by", "un", "--not-by", "gb", "--delisted", "--format", "json")
    (entry,) = json.loads(out.output)
    assert entry["kind"] == "delisted" and entry["designations"][0]["status"] == "removed"


def test_since_filters_on_the_listing_date(engine):
    import_samples(engine)
    with session_factory(engine)() as session:
        recent = gaps.find_gaps(session, gaps.GapQuery("gb", ["ca"], since=dt.date(2022, 7, 1)))
        everything = gaps.find_gaps(session, gaps.GapQuery("gb", ["ca"]))
    assert recent and len(recent) < len(everything)
    assert all(g["listed_on"] is None or g["listed_on"] >= "2022-07-01" for g in recent)


def test_stats_table_lines_up_with_one_number_type_per_column(engine, db_url):
    import_samples(engine)
    table = cli(db_url, "gaps", "--stats").output.splitlines()
    assert len(table) > 10 and table[0].split() == ["designated_by", "other", "regime", "targets", "aligned",
                                                    "open_gaps", "share_aligned", "median_days_to_align", "timed"]
    # Right-aligned numbers: every line ends at the same column, and each column's cells end together.
    assert len({len(line) for line in table}) == 1
    for column in ("share_aligned", "median_days_to_align"):
        end = table[0].index(column) + len(column)
        assert all(line[end - 1] != " " for line in table), column
    medians = [json_row["median_days_to_align"] for json_row in
               json.loads(cli(db_url, "gaps", "--stats", "--format", "json").output)]
    assert {type(m) for m in medians if m is not None} == {float}
    cells = [line.split()[7] for line in table[1:]]
    assert all(c == "-" or re.fullmatch(r"\d+\.\d", c) for c in cells) and any(c != "-" for c in cells)


def test_match_stage_does_not_run_the_next_stages(engine):
    for source, path in SAMPLE_FILES:
        imports.run_import(engine, source, str(path))
    run = matching.run_match(engine, full=True)
    with session_factory(engine)() as session:
        assert run.linked > 0
        assert session.scalar(select(func.count()).select_from(TargetMember)) == 0
        assert session.scalar(select(func.count()).select_from(Gap)) == 0
    stages = []
    pipeline.match(engine, progress=lambda phase, done, total: stages.append((phase.split()[0], done, total)))
    assert [s for s in stages if s[1] == s[2]] == [("scoring", 1, 1), ("clustering", 1, 1), ("gaps", 1, 1)]
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Gap)) > 0


def test_pages_in_sql_and_streamed_evidence_pack(engine, db_url):
    import_samples(engine)
    query = gaps.GapQuery("us", ["any"])
    with session_factory(engine)() as session:
        everything = gaps.find_gaps(session, query)
        pages, offset = [], 0
        while True:
            page, total = gaps.gap_page(session, query, limit=7, offset=offset)
            if not page:
                break
            pages += page
            offset += 7
        russia, russia_total = gaps.gap_page(session, gaps.GapQuery("us", ["gb"], regime="russia", kind="person"),
                                             limit=50)
    assert total == len(everything) > 14 and [g["target"] for g in pages] == [g["target"] for g in everything]
    assert russia_total == len(russia) and all("russia" in g["regimes"] for g in russia)
    out = cli(db_url, "gaps", "--designated-by", "us", "--not-by", "any", "--format", "json")
    pack = json.loads(out.output)
    assert [g["target"] for g in pack] == [g["target"] for g in everything]
    assert all(e["evidence"]["designated"] and e["evidence"]["designated"][0]["source_record"] for e in pack)
