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


def _filtered(q: GapQuery) -> Select:
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
    gaps = _filtered(q).subquery()
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
    return _entries(session, q, _target_page(session, q, limit, offset), evidence), count_gaps(session, q)


def _target_page(session: Session, q: GapQuery, limit: int | None, offset: int) -> list[str]:
    rows = _targets(q).subquery()
    stmt = select(rows.c.target_id).order_by(rows.c.started, rows.c.first)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return list(session.scalars(stmt))


def iter_gaps(session: Session, q: GapQuery, evidence: bool = False, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every entry of a report, loaded ``batch`` targets at a time, for streaming output."""
    target_ids = _target_page(session, q, None, 0)
    for i in range(0, len(target_ids), batch):
        yield from _entries(session, q, target_ids[i : i + batch], evidence)


def find_gaps(session: Session, q: GapQuery, evidence: bool = False) -> list[dict[str, Any]]:
    """Gaps matching the query, one entry per target, oldest listing first."""
    return list(iter_gaps(session, q, evidence))


def _entries(session: Session, q: GapQuery, target_ids: list[str], evidence: bool) -> list[dict[str, Any]]:
    if not target_ids:
        return []
    gaps_of: dict[str, list[Gap]] = defaultdict(list)
    for chunk in _chunks(target_ids):
        for gap in session.scalars(_filtered(q).where(Gap.target_id.in_(chunk))):
            gaps_of[gap.target_id].append(gap)
    sides = _side_a(session, target_ids, q.designated_by)
    codes = comparable_regimes()
    misses = near_misses(session, {t: [m["key"] for m in sides.get(t, [])] for t in target_ids},
                         all_members=True)
    records = _records(session, sides, misses) if evidence else {}
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
            entry["evidence"] = _evidence(records, side_a, entry["near_misses"])
        out.append(entry)
    return out


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _side_a(session: Session, target_ids: list[str], a: str) -> dict[str, list[dict[str, Any]]]:
    """A's designations of each target, in key order."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for chunk in _chunks(target_ids):
        for target_id, key, name, kind, status, listed_on, regimes in session.execute(
                select(TargetMember.target_id, Designation.key, Designation.name, Designation.kind,
                       Designation.status, Designation.listed_on, Designation.regimes)
                .join(Designation, Designation.key == TargetMember.designation_key)
                .where(TargetMember.target_id.in_(chunk), Designation.jurisdiction == a)
                .order_by(Designation.key)):
            out[target_id].append({"key": key, "name": name, "kind": kind, "status": status,
                                   "listed_on": listed_on.isoformat() if listed_on else None,
                                   "regimes": regimes or []})
    return out


def near_misses(session: Session, members: dict[str, list[str]], limit: int = 3,
                all_members: bool = False) -> dict[str, dict[str, list[dict]]]:
    """Per target id and jurisdiction: the closest designations outside the target.

    ``members`` is target id -> the keys to look from.  These are pairs the
    matcher scored below the link threshold (or links that an officer's
    decision or a clustering rule kept apart).  One pass over the scored
    pairs of all the targets at hand, not a query per gap.
    """
    member_of = {k: t for t, keys in members.items() for k in keys}
    keys = sorted(member_of)
    touching: dict[str, list[tuple[str, float, str, dict]]] = defaultdict(list)
    for i in range(0, len(keys), 450):
        chunk = keys[i : i + 450]
        for a, b, score, band, explanation in session.execute(
                select(MatchPair.key_a, MatchPair.key_b, MatchPair.score, MatchPair.band, MatchPair.explanation)
                .where(MatchPair.key_a.in_(chunk) | MatchPair.key_b.in_(chunk))):
            for own, other in ((a, b), (b, a)):
                if own in member_of:
                    touching[member_of[own]].append((other, score, band, explanation))
    others = sorted({o for rows in touching.values() for o, *_ in rows})
    info: dict[str, tuple[str, str, str]] = {}
    for chunk in _chunks(others):
        info.update({k: (t, j, n) for k, t, j, n in session.execute(
            select(Designation.key, TargetMember.target_id, Designation.jurisdiction, Designation.name)
            .join(TargetMember, TargetMember.designation_key == Designation.key)
            .where(Designation.key.in_(chunk)))})
    out: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for target_id, rows in touching.items():
        seen: set[str] = set()
        for other, score, band, explanation in sorted(rows, key=lambda r: (-r[1], r[0])):
            other_target, jurisdiction, name = info.get(other, ("", "", ""))
            if other in seen or other_target == target_id or len(out[target_id][jurisdiction]) >= limit:
                continue
            seen.add(other)
            out[target_id][jurisdiction].append({"key": other, "name": name, "score": score, "band": band,
                                                 "explanation": explanation})
    return out


def _records(session: Session, sides: dict[str, list[dict]], misses: dict[str, dict[str, list[dict]]]):
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
                        "import": _run_info(runs.get(run_id))}
    return out


def _run_info(run: ImportRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"run": run.id, "location": run.location, "sha256": run.sha256,
            "published_on": run.published_on.isoformat() if run.published_on else None}


def _evidence(records: dict[str, dict], side_a: list[dict], misses: dict[str, list[dict]]) -> dict[str, Any]:
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
