"""Persistent target ids and gaps that keep their identity (issue 7), on SQLite and PostgreSQL.

Each scenario puts an officer's disposition on a gap, changes the target under
it (a record delisted, a record joining, two targets merging, one splitting)
and checks that the gap id and its disposition survive, or that the change is
recorded and flagged for re-review: never silently dropped.
"""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from sanctions import imports, pipeline, queries, review
from sanctions.db import session_factory
from sanctions.demo import SAMPLE_FILES
from sanctions.models import AuditEntry, Gap, Target, TargetEvent, TargetMember
from sanctions.targets import assign, new_target_id
from tests.conftest import SAMPLES

VOLODIN = "us-sdn:16714"   # a US Russia-related person the UK sample does not carry: an open us-gb gap
BORODAY = "us-sdn:17024"   # another
SADDAM = ("us-sdn:7843", "gb:IRQ0062", "un:6908048", "eu:13")  # one target; Canada's sample lacks him
VOLODIN_LINE = next(line for line in (SAMPLES / "us" / "sdn.csv").read_text(encoding="cp1252").splitlines()
                    if line.startswith("16714,"))


def import_samples(engine) -> None:
    for source, path in SAMPLE_FILES:
        imports.run_import(engine, source, str(path))
    pipeline.match(engine)


def target_of(engine, key: str) -> str:
    with session_factory(engine)() as session:
        return queries.target_ids(session, [key])[key]


def gap(engine, gap_id: str) -> Gap | None:
    with session_factory(engine)() as session:
        return session.get(Gap, gap_id)


def confirm(engine, gap_id: str) -> None:
    pipeline.set_gap_status(engine, gap_id, "under-review", "A. Officer")
    pipeline.set_gap_status(engine, gap_id, "confirmed", "A. Officer", note="propose designation")


def import_us_cons(engine, tmp_path, *ent_nums: str):
    """An OFAC non-SDN list holding copies of VOLODIN's SDN entry under the given entity numbers.

    The copies carry no date of birth: a name alone is not the strong evidence on
    which the matcher puts two records of one publisher into one target, so an
    officer's ``same`` decision is what joins them.
    """
    folder = tmp_path / "cons"
    folder.mkdir(exist_ok=True)
    undated = VOLODIN_LINE.replace("DOB 04 Feb 1964; ", "")
    lines = [re.sub(r"^16714,", f"{n},", undated) for n in ent_nums]
    (folder / "cons_prim.csv").write_text("\n".join(lines) + "\n", encoding="cp1252")
    run = imports.run_import(engine, "us-cons", str(folder), allow_shrink=True)
    pipeline.match(engine)
    return run


def test_id_rule_is_pure_and_keeps_the_older_id():
    previous = {"a": "T1", "b": "T1", "c": "T2", "d": "T3"}
    age = {"T1": (2,), "T2": (1,), "T3": (3,)}
    # a+b and c merge (T2 is older, it stays); d stays alone; e is new.
    merged = assign([{"a", "b", "c"}, {"d"}, {"e"}], previous, age, taken={"T1", "T2", "T3"})
    assert merged.target_of == {"a": "T2", "b": "T2", "c": "T2", "d": "T3", "e": new_target_id({"e"}, set())}
    assert merged.retired == {"T1"} and [(e.target_id, e.other_target_id, e.event) for e in merged.events] == \
        [("T2", "T1", "merged")]
    # a leaves T1 = {a, b, x}: the larger part keeps T1, a gets a new id and the split is recorded.
    split = assign([{"a"}, {"b", "x"}], {"a": "T1", "b": "T1", "x": "T1"}, {"T1": (1,)}, taken={"T1"})
    assert split.target_of["b"] == split.target_of["x"] == "T1" and split.target_of["a"] not in ("T1",)
    assert [(e.target_id, e.event, e.keys) for e in split.events] == [("T1", "split", ["a"])]
    # A new id never reuses one given before, even a retired one.
    first = new_target_id({"a"}, set())
    assert new_target_id({"a"}, {first}) != first


def test_every_designation_has_one_stored_target(engine):
    import_samples(engine)
    with session_factory(engine)() as session:
        members = session.execute(select(TargetMember.designation_key, TargetMember.target_id)).all()
        ids = set(session.scalars(select(Target.id).where(Target.retired_at.is_(None))))
        keys = set(session.scalars(select(queries.Designation.key)))
    assert {k for k, _ in members} == keys and {t for _, t in members} == ids
    assert all(re.fullmatch(r"T[0-9a-f]{12}", t) for t in ids)
    saddam = {target_of(engine, k) for k in SADDAM}
    assert len(saddam) == 1
    with session_factory(engine)() as session:
        assert queries.target_member_keys(session, saddam.pop()) == sorted(SADDAM)
    # Re-running the whole pipeline keeps every id.
    before = dict(members)
    pipeline.match(engine, full=True)
    with session_factory(engine)() as session:
        assert dict(session.execute(select(TargetMember.designation_key, TargetMember.target_id)).all()) == before


def test_smaller_key_joining_keeps_the_gap_and_its_disposition(engine, tmp_path):
    import_samples(engine)
    target = target_of(engine, VOLODIN)
    gap_id = f"us-gb:{target}"
    confirm(engine, gap_id)
    import_us_cons(engine, tmp_path, "100")  # us-cons:100 sorts before us-sdn:16714
    # The matcher pairs only records of two jurisdictions; an officer joins the US records.
    pipeline.decide_pair(engine, VOLODIN, "us-cons:100", "same", "B. Officer")
    assert target_of(engine, "us-cons:100") == target
    kept = gap(engine, gap_id)
    assert kept.state == "open" and kept.disposition == "confirmed"
    # A's side gained a record: the decision stands but asks to be looked at again.
    assert kept.needs_review and kept.anchor_key == "us-cons:100"
    # The joining record's own gap of before closes into this one.
    with session_factory(engine)() as session:
        (other,) = session.scalars(select(Gap).where(Gap.designated_by == "us", Gap.not_by == "gb",
                                                     Gap.anchor_key == "us-cons:100", Gap.id != gap_id)).all()
    assert other.state == "closed" and other.closed_reason == "merged" and other.successor_id == gap_id


def test_anchor_delisted_while_another_record_of_a_stays(engine, tmp_path):
    import_samples(engine)
    import_us_cons(engine, tmp_path, "100", "99999")
    pipeline.decide_pair(engine, VOLODIN, "us-cons:100", "same", "B. Officer")
    target = target_of(engine, VOLODIN)
    assert target_of(engine, "us-cons:100") == target
    gap_id = f"us-gb:{target}"
    confirm(engine, gap_id)
    # The anchor (smallest key of A's side) is delisted; the US still lists the person as us-sdn:16714.
    run = import_us_cons(engine, tmp_path, "99999")
    assert run.removed == 1
    kept = gap(engine, gap_id)
    assert kept.state == "open" and kept.disposition == "confirmed" and not kept.needs_review
    assert kept.anchor_key == VOLODIN


def test_two_targets_merging_carry_the_decision(engine, db_url):
    import_samples(engine)
    volodin, boroday = target_of(engine, VOLODIN), target_of(engine, BORODAY)
    confirm(engine, f"us-gb:{volodin}")
    result = pipeline.decide_pair(engine, VOLODIN, BORODAY, "same", "B. Officer")
    (merged,) = result["targets"]
    assert merged in (volodin, boroday)
    retired = ({volodin, boroday} - {merged}).pop()
    with session_factory(engine)() as session:
        ages = dict(session.execute(select(Target.id, Target.created_at)
                                    .where(Target.id.in_([volodin, boroday]))).all())
        lineage = queries.target_lineage(session, retired)
    # The older target keeps its id (ties between targets of one run: the smaller id).
    assert merged == min((volodin, boroday), key=lambda t: (ages[t], t))
    assert lineage["retired_at"] and lineage["merged_into"] == merged
    survivor, closed = gap(engine, f"us-gb:{merged}"), gap(engine, f"us-gb:{retired}")
    assert closed.state == "closed" and closed.closed_reason == "merged" and closed.successor_id == survivor.id
    assert survivor.state == "open" and survivor.disposition == "confirmed"
    if merged == boroday:  # the decision moved to another gap id: recorded and flagged
        assert survivor.needs_review and survivor.carried_from == f"us-gb:{volodin}"


def test_split_after_different_decision_records_and_flags(engine, db_url):
    import_samples(engine)
    saddam = target_of(engine, "us-sdn:7843")
    for a in ("us", "eu"):
        confirm(engine, f"{a}-ca:{saddam}")
    pipeline.decide_pair(engine, "us-sdn:7843", "eu:13", "different", "C. Officer")
    moved = [k for k in SADDAM if target_of(engine, k) != saddam]
    assert len(moved) == 1 and moved[0] in ("us-sdn:7843", "eu:13")
    leaving = moved[0]
    staying = "eu" if leaving == "us-sdn:7843" else "us"
    jurisdiction = leaving.split(":")[0].split("-")[0]
    new = target_of(engine, leaving)
    with session_factory(engine)() as session:
        lineage = queries.target_lineage(session, saddam)
        events = session.scalars(select(TargetEvent)).all()
        carried = session.scalars(select(AuditEntry).where(AuditEntry.action == "gap-carried")).all()
    assert [(e["event"], e["other"], e["keys"]) for e in lineage["events"]] == [("split-off", new, [leaving])]
    assert [(e.target_id, e.other_target_id, e.event) for e in events] == [(saddam, new, "split")]
    # The staying side's gap keeps its id and decision untouched.
    stays = gap(engine, f"{staying}-ca:{saddam}")
    assert stays.state == "open" and stays.disposition == "confirmed" and not stays.needs_review
    # The leaving side's gap closes as split, naming where its decision went; the new one is flagged.
    old, successor = gap(engine, f"{jurisdiction}-ca:{saddam}"), gap(engine, f"{jurisdiction}-ca:{new}")
    assert old.state == "closed" and old.closed_reason == "split" and old.successor_id == successor.id
    assert successor.disposition == "confirmed" and successor.needs_review and successor.carried_from == old.id
    assert [c.subject for c in carried] == [successor.id]
    # Both halves' gaps to each other open now.
    assert gap(engine, f"{jurisdiction}-{staying}:{new}").state == "open"


def test_a_decision_reclusters_only_the_targets_it_touches(engine):
    import_samples(engine)
    with session_factory(engine)() as session:
        before = dict(session.execute(select(TargetMember.designation_key, TargetMember.target_id)).all())
        gaps_before = {g.id: (g.state, g.disposition) for g in session.scalars(select(Gap))}
    result = pipeline.decide_pair(engine, VOLODIN, BORODAY, "same", "B. Officer")
    with session_factory(engine)() as session:
        after = dict(session.execute(select(TargetMember.designation_key, TargetMember.target_id)).all())
        gaps_after = {g.id: (g.state, g.disposition) for g in session.scalars(select(Gap))}
    changed = {k for k in after if after[k] != before[k]}
    assert changed <= {VOLODIN, BORODAY} and changed
    touched = {before[VOLODIN], before[BORODAY]}
    assert {g for g in gaps_after if gaps_after[g] != gaps_before.get(g)} <= \
        {g for g in gaps_after if g.split(":")[-1] in touched}
    assert result["gaps"]["closed"] >= 1


def test_canada_spacing_variant_does_not_delist_and_readd(engine, tmp_path):
    text = (SAMPLES / "ca" / "sema-lmes.xml").read_text(encoding="utf-8")
    assert "<Schedule>1, Part 1</Schedule>" in text
    first = imports.run_import(engine, "ca", str(SAMPLES / "ca" / "sema-lmes.xml"))
    respaced = tmp_path / "sema-lmes.xml"
    respaced.write_text(text.replace("<Schedule>1, Part 1</Schedule>", "<Schedule>1,Part  1 </Schedule>"),
                        encoding="utf-8")
    second = imports.run_import(engine, "ca", str(respaced))
    assert first.added > 0 and second.added == 0 and second.removed == 0
    with session_factory(engine)() as session:
        assert not session.scalars(select(queries.Designation.key).where(queries.Designation.key.like("%,%"))).all()


def test_old_gap_ids_still_resolve_for_review(engine):
    import_samples(engine)
    target = target_of(engine, VOLODIN)
    with session_factory(engine).begin() as session:
        session.add(review.GapFormerId(former_id=f"us-gb:{VOLODIN}", gap_id=f"us-gb:{target}"))
    result = pipeline.set_gap_status(engine, f"us-gb:{VOLODIN}", "under-review", "A. Officer")
    assert result["gap"] == f"us-gb:{target}" and gap(engine, f"us-gb:{target}").disposition == "under-review"
