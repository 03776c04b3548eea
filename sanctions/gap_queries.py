"""Reading gaps: reports, pages of 50 for the web, the streamed evidence pack, matrix and stats.

Filters and pagination run in SQL on the gap row (A's side is described
there: target kind, regimes, listing date), so a page loads only its own
targets.  Entries come out one target at a time, oldest listing first;
``iter_gaps`` yields them batch by batch so that a large JSON evidence pack
is written as it is read, never built whole in memory.
"""
from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sanctions.gaps import CHUNK, covered_jurisdictions, load_sides
from sanctions.models import Designation, Gap, ImportRun, MatchPair, TargetMember
from sanctions.regimes import table as regime_table
from sanctions.schema import JURISDICTIONS

PAGE = 50


@dataclass
class GapQuery:
    designated_by: str
    not_by: list[str]          # one or more jurisdictions (gaps against all of them), or ["any"]
    regime: str | None = None
    kind: str | None = None
    since: dt.date | None = None
    status: str = "open"       # open, closed, under-review, confirmed, dismissed, all
    gap_kind: str = "missing"  # missing, delisted


def comparable_regimes() -> dict[str, set[str]]:
    """Regime codes each jurisdiction has programmes for, from the crosswalk."""
    codes: dict[str, set[str]] = defaultdict(set)
    for (jurisdiction, _programme), regimes in regime_table().items():
        codes[jurisdiction].update(regimes)
    return codes


def _started():
    return func.coalesce(Gap.listed_on, Gap.opened_on)


def filtered_gaps(q: GapQuery) -> Select:
    """The gap rows a query selects, every filter in SQL."""
    stmt = select(Gap).where(Gap.designated_by == q.designated_by, Gap.kind == q.gap_kind)
    if q.not_by != ["any"]:
        stmt = stmt.where(Gap.not_by.in_(q.not_by))
    if q.status in ("open", "closed"):
        stmt = stmt.where(Gap.state == q.status)
    elif q.status != "all":
        stmt = stmt.where(Gap.disposition == q.status, Gap.state == "open")
    if q.regime:
        stmt = stmt.where(Gap.regimes.like(f"%|{q.regime}|%"))
    if q.kind:
        stmt = stmt.where(Gap.target_kind == q.kind)
    if q.since:
        stmt = stmt.where(_started() >= q.since)
    return stmt


def _targets(q: GapQuery) -> Select:
    """One row per target: (target id, first date), with every B when several are asked for."""
    gaps = filtered_gaps(q).subquery()
    stmt = (select(gaps.c.target_id, func.min(func.coalesce(gaps.c.listed_on, gaps.c.opened_on)).label("started"),
                   func.min(gaps.c.id).label("first"))
            .group_by(gaps.c.target_id))
    if q.not_by != ["any"] and len(q.not_by) > 1:
        stmt = stmt.having(func.count(func.distinct(gaps.c.not_by)) == len(set(q.not_by)))
    return stmt


def count_gaps(session: Session, q: GapQuery) -> int:
    """How many targets a query selects (the total behind a page)."""
    return session.scalar(select(func.count()).select_from(_targets(q).subquery())) or 0


def gap_page(session: Session, q: GapQuery, limit: int = PAGE, offset: int = 0,
             evidence: bool = False) -> tuple[list[dict[str, Any]], int]:
    """One page of report entries and the total, for the web's pages of 50."""
    return report_entries(session, q, _target_page(session, q, limit, offset), evidence), count_gaps(session, q)


def _target_page(session: Session, q: GapQuery, limit: int | None, offset: int) -> list[str]:
    rows = _targets(q).subquery()
    stmt = select(rows.c.target_id).order_by(rows.c.started, rows.c.first)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return list(session.scalars(stmt))


def iter_gaps(session: Session, q: GapQuery, evidence: bool = False, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every entry of a report, in order.

    With the evidence pack (every record as published: megabytes per batch)
    entries are loaded ``batch`` targets at a time and can be written as they
    come.  Without it, one query per table reads the whole report, the
    targets chosen by a sub-select rather than by long lists of ids.
    """
    target_ids = _target_page(session, q, None, 0)
    if not evidence:
        yield from report_entries(session, q, target_ids, evidence, whole=True)
        return
    for i in range(0, len(target_ids), batch):
        yield from report_entries(session, q, target_ids[i : i + batch], evidence)


def find_gaps(session: Session, q: GapQuery, evidence: bool = False) -> list[dict[str, Any]]:
    """Gaps matching the query, one entry per target, oldest listing first."""
    return list(iter_gaps(session, q, evidence))


def _where_target(column, q: GapQuery, target_ids: list[str], whole: bool) -> list:
    """Conditions selecting the report's targets: one sub-select for a whole report, else id chunks."""
    if whole:
        return [column.in_(filtered_gaps(q).with_only_columns(Gap.target_id))]
    return [column.in_(chunk) for chunk in _chunks(target_ids)]


def report_entries(session: Session, q: GapQuery, target_ids: list[str], evidence: bool,
             whole: bool = False) -> list[dict[str, Any]]:
    """Report entries for ``target_ids`` (in that order); ``whole``: they are all of the query's."""
    if not target_ids:
        return []
    # Plain rows, not ORM objects: a report of 12,000 targets pays for every attribute access.
    columns = filtered_gaps(q).with_only_columns(Gap.id, Gap.target_id, Gap.not_by, Gap.state, Gap.opened_on,
                                             Gap.closed_on, Gap.closed_reason, Gap.disposition, Gap.reason,
                                             Gap.needs_review, Gap.carried_from, Gap.listed_on)
    gaps_of: dict[str, list[Any]] = defaultdict(list)
    for condition in ([] if whole else _where_target(Gap.target_id, q, target_ids, whole)) or [None]:
        for gap in session.execute(columns if condition is None else columns.where(condition)):
            gaps_of[gap.target_id].append(gap)
    sides = designated_side(session, _where_target(TargetMember.target_id, q, target_ids, whole), q.designated_by)
    codes = comparable_regimes()
    members = {t: [m["key"] for m in sides.get(t, [])] for t in target_ids}
    if whole:
        keys = (select(TargetMember.designation_key)
                .where(*_where_target(TargetMember.target_id, q, target_ids, whole)))
        misses = near_misses(session, members, key_select=keys)
    else:
        misses = near_misses(session, members)
    records = evidence_records(session, sides, misses) if evidence else {}
    today = dt.date.today()
    out = []
    for target_id in target_ids:
        gaps = sorted(gaps_of[target_id], key=lambda g: g.not_by)
        side_a = sides.get(target_id, [])
        if not gaps or not side_a:
            continue
        regimes = sorted({r for m in side_a for r in m["regimes"] or []})
        listed = min((m["listed_on"] for m in side_a if m["listed_on"]), default=None)
        started = min(g.listed_on or g.opened_on for g in gaps)
        entry: dict[str, Any] = {
            "gaps": [g.id for g in gaps],
            "kind": q.gap_kind,
            "target": target_id,
            "designated_by": q.designated_by,
            "not_by": [g.not_by for g in gaps],
            "designations": side_a,
            "regimes": regimes,
            "listed_on": listed,
            "age_days": (today - started).days,
            "comparable_regime": {g.not_by: bool(set(regimes) & codes.get(g.not_by, set())) for g in gaps},
            "state": gaps[0].state,
            "opened_on": min(g.opened_on for g in gaps).isoformat(),
            "closed_on": max((g.closed_on for g in gaps if g.closed_on), default=None),
            "closed_reason": gaps[0].closed_reason,
            "disposition": {g.id: g.disposition for g in gaps},
            "reason": {g.id: g.reason for g in gaps if g.reason},
            "needs_review": any(g.needs_review for g in gaps),
            "carried_from": {g.id: g.carried_from for g in gaps if g.carried_from},
            "near_misses": {g.not_by: misses.get(target_id, {}).get(g.not_by, []) for g in gaps},
        }
        if entry["closed_on"]:
            entry["closed_on"] = entry["closed_on"].isoformat()
        if evidence:
            entry["evidence"] = evidence_pack(records, side_a, entry["near_misses"])
        out.append(entry)
    return out


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def designated_side(session: Session, conditions: list, a: str) -> dict[str, list[dict[str, Any]]]:
    """A's designations of each target the conditions select, in key order."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for condition in conditions:
        # A's designations are picked here, not in SQL: a condition on the jurisdiction lets
        # SQLite scan every designation of A through its index instead of the few targets'.
        for target_id, key, jurisdiction, name, kind, status, listed_on, regimes in session.execute(
                select(TargetMember.target_id, Designation.key, Designation.jurisdiction, Designation.name,
                       Designation.kind, Designation.status, Designation.listed_on, Designation.regimes)
                .join(Designation, Designation.key == TargetMember.designation_key)
                .where(condition)):
            if jurisdiction == a:
                out[target_id].append({"key": key, "name": name, "kind": kind, "status": status,
                                       "listed_on": listed_on.isoformat() if listed_on else None,
                                       "regimes": regimes or []})
    for side in out.values():
        side.sort(key=lambda m: m["key"])
    return out


def near_misses(session: Session, members: dict[str, list[str]], limit: int = 3,
                key_select: Select | None = None) -> dict[str, dict[str, list[dict]]]:
    """Per target id and jurisdiction: the closest designations outside the target.

    ``members`` is target id -> the keys to look from.  These are pairs the
    matcher scored below the link threshold (or links that an officer's
    decision or a clustering rule kept apart).  One pass over the scored
    pairs of all the targets at hand, not a query per gap; ``key_select``
    (a sub-select of the same keys) replaces long lists of keys.  The
    explanations are read only for the pairs shown.
    """
    member_of = {k: t for t, keys in members.items() for k in keys}
    pair = select(MatchPair.id, MatchPair.key_a, MatchPair.key_b, MatchPair.score, MatchPair.band)
    if key_select is not None:
        # Two indexed look-ups rather than one OR, which SQLite answers by scanning.
        conditions = [MatchPair.key_a.in_(key_select), MatchPair.key_b.in_(key_select)]
    else:
        keys = sorted(member_of)
        conditions = [c for i in range(0, len(keys), 900)
                      for c in (MatchPair.key_a.in_(keys[i : i + 900]), MatchPair.key_b.in_(keys[i : i + 900]))]
    touching: dict[str, list[tuple[str, float, str, int]]] = defaultdict(list)
    seen_pairs: set[int] = set()
    for condition in conditions:
        for pair_id, a, b, score, band in session.execute(pair.where(condition)):
            if pair_id in seen_pairs:
                continue
            seen_pairs.add(pair_id)
            for own, other in ((a, b), (b, a)):
                if own in member_of:
                    touching[member_of[own]].append((other, score, band, pair_id))
    others = sorted({o for rows in touching.values() for o, *_ in rows})
    info: dict[str, tuple[str, str, str]] = {}
    for chunk in _chunks(others):
        info.update({k: (t, j, n) for k, t, j, n in session.execute(
            select(Designation.key, TargetMember.target_id, Designation.jurisdiction, Designation.name)
            .join(TargetMember, TargetMember.designation_key == Designation.key)
            .where(Designation.key.in_(chunk)))})
    out: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    shown: dict[int, list[dict]] = defaultdict(list)  # a pair between two reported targets shows twice
    for target_id, rows in touching.items():
        seen: set[str] = set()
        for other, score, band, pair_id in sorted(rows, key=lambda r: (-r[1], r[0])):
            other_target, jurisdiction, name = info.get(other, ("", "", ""))
            if other in seen or other_target == target_id or len(out[target_id][jurisdiction]) >= limit:
                continue
            seen.add(other)
            miss = {"key": other, "name": name, "score": score, "band": band, "explanation": None}
            shown[pair_id].append(miss)
            out[target_id][jurisdiction].append(miss)
    ids = sorted(shown)
    for chunk in _chunks(ids):
        for pair_id, explanation in session.execute(select(MatchPair.id, MatchPair.explanation)
                                                    .where(MatchPair.id.in_(chunk))):
            for miss in shown[pair_id]:
                miss["explanation"] = explanation
    return out


def evidence_records(session: Session, sides: dict[str, list[dict]], misses: dict[str, dict[str, list[dict]]]):
    """Every designation an evidence batch shows, with the import that carried it: one query per chunk."""
    keys = {m["key"] for side in sides.values() for m in side}
    keys |= {m["key"] for per_b in misses.values() for ms in per_b.values() for m in ms}
    runs = {r.id: r for r in session.scalars(select(ImportRun))}
    out = {}
    for chunk in _chunks(sorted(keys)):
        for key, status, content, raw, run_id in session.execute(
                select(Designation.key, Designation.status, Designation.content, Designation.raw,
                       Designation.changed_run_id).where(Designation.key.in_(chunk))):
            out[key] = {"key": key, "status": status, "record": content, "source_record": raw,
                        "import": run_info(runs.get(run_id))}
    return out


def run_info(run: ImportRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"run": run.id, "location": run.location, "sha256": run.sha256,
            "published_on": run.published_on.isoformat() if run.published_on else None}


def evidence_pack(records: dict[str, dict], side_a: list[dict], misses: dict[str, list[dict]]) -> dict[str, Any]:
    """Both sides' source records with the import that carried each."""
    return {"designated": [records[m["key"]] for m in side_a if m["key"] in records],
            "near_misses": {b: [{**records[m["key"]], "score": m["score"], "explanation": m["explanation"]}
                                for m in ms if m["key"] in records] for b, ms in misses.items()}}


def matrix(session: Session, regime: str | None = None) -> dict[str, dict[str, int]]:
    """Open ``missing`` gaps for every ordered pair (A designates, B does not)."""
    covered = sorted(covered_jurisdictions(session), key=JURISDICTIONS.index)
    counts: dict[str, dict[str, int]] = {a: {b: 0 for b in covered if b != a} for a in covered}
    stmt = (select(Gap.designated_by, Gap.not_by, func.count()).where(Gap.state == "open", Gap.kind == "missing")
            .group_by(Gap.designated_by, Gap.not_by))
    if regime:
        stmt = stmt.where(Gap.regimes.like(f"%|{regime}|%"))
    for a, b, n in session.execute(stmt):
        if a in counts and b in counts[a]:
            counts[a][b] = n
    return counts


def alignment_stats(session: Session) -> list[dict[str, Any]]:
    """Per jurisdiction pair and regime: targets aligned, open gaps, median days from A's listing to B's."""
    covered = covered_jurisdictions(session)
    cells: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(lambda: {"aligned": 0, "open": 0, "delays": []})
    for target in load_sides(session).values():
        for a in covered:
            side_a = target.active(a)
            if not side_a:
                continue
            regimes = {r for m in side_a for r in m.regimes or []} or {"(none)"}
            listed_a = min((m.listed_on for m in side_a if m.listed_on), default=None)
            for b in covered - {a}:
                side_b = target.active(b)
                listed_b = min((m.listed_on for m in side_b if m.listed_on), default=None)
                for regime in regimes:
                    cell = cells[(a, b, regime)]
                    if not side_b:
                        cell["open"] += 1
                        continue
                    cell["aligned"] += 1
                    if listed_a and listed_b and listed_b >= listed_a:
                        cell["delays"].append((listed_b - listed_a).days)
    out = []
    for (a, b, regime), cell in sorted(cells.items()):
        total = cell["aligned"] + cell["open"]
        delays = cell["delays"]
        out.append({"designated_by": a, "other": b, "regime": regime, "targets": total,
                    "aligned": cell["aligned"], "open_gaps": cell["open"],
                    "share_aligned": round(cell["aligned"] / total, 3) if total else None,
                    # A median of an even count is a half day: always one decimal, one type per column.
                    "median_days_to_align": float(statistics.median(delays)) if delays else None,
                    "timed": len(delays)})
    return out
