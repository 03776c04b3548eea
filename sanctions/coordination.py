"""Coordination within a regime family: who designates what the others do not, and who listed first.

For one regime (``russia``, ``syria``, ``counter-terrorism`` …) this reads
the active designations carrying it, groups them by target, and returns:

- the matrix: for each ordered pair of jurisdictions (A, B), the targets A
  designates under the regime that B does not designate at all;
- lead and follow: for each pair that both designate the same targets, who
  listed first and the median number of days between the two listings;
- a timeline: per year, how many of the regime's targets each jurisdiction
  listed;
- notes on sources that publish no listing dates, so the page says "not
  published" instead of guessing (OFAC's CSV and legacy XML editions).

Both the coordination page and ``/api/coordination`` call ``coordination()``.
"""
from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from sanctions import queries
from sanctions.models import Designation, ImportRun, MatchRun, PairDecision
from sanctions.schema import JURISDICTIONS


@dataclass
class Listing:
    key: str
    source: str
    jurisdiction: str
    status: str
    listed_on: dt.date | None
    regimes: list[str]


def _regime_listings(session: Session, regime: str) -> list[Listing]:
    # The JSON list is matched as text first (same on SQLite and PostgreSQL), then checked exactly.
    pattern = f'%"{regime}"%'
    rows = session.execute(select(Designation.key, Designation.source, Designation.jurisdiction, Designation.status,
                                  Designation.listed_on, Designation.regimes)
                           .where(Designation.status == "active", cast(Designation.regimes, String).like(pattern)))
    return [Listing(*row) for row in rows if regime in (row.regimes or [])]


def _all_members(session: Session, target_ids: list[str]) -> dict[str, list[Listing]]:
    members = queries.targets_members(session, target_ids)
    keys = sorted({k for ks in members.values() for k in ks})
    rows: dict[str, Listing] = {}
    for i in range(0, len(keys), 900):
        for row in session.execute(select(Designation.key, Designation.source, Designation.jurisdiction,
                                          Designation.status, Designation.listed_on)
                                   .where(Designation.key.in_(keys[i : i + 900]))):
            rows[row.key] = Listing(*row, regimes=[])
    return {t: [rows[k] for k in ks if k in rows] for t, ks in members.items()}


def covered_jurisdictions(session: Session) -> list[str]:
    """Jurisdictions with active designations in the store, in the usual order."""
    present = set(session.scalars(select(Designation.jurisdiction).where(Designation.status == "active")
                                  .group_by(Designation.jurisdiction)))
    return [j for j in JURISDICTIONS if j in present]


def undated_sources(session: Session) -> list[dict[str, Any]]:
    """Sources whose active designations carry no listing date, with how many."""
    rows = session.execute(select(Designation.source, func.count(), func.count(Designation.listed_on))
                           .where(Designation.status == "active").group_by(Designation.source)
                           .order_by(Designation.source))
    return [{"source": source, "designations": total, "undated": total - dated}
            for source, total, dated in rows if total - dated]


_CACHE: dict[tuple, dict[str, Any]] = {}
_CACHE_SIZE = 64


def data_version(session: Session) -> tuple:
    """What the figures depend on: the last import, the last match and the last officer decision."""
    return (session.scalar(select(func.max(ImportRun.id))), session.scalar(select(func.max(MatchRun.id))),
            session.scalar(select(func.count()).select_from(MatchRun).where(MatchRun.finished_at.is_(None))),
            session.scalar(select(func.max(PairDecision.id))))


def coordination(session: Session, regime: str) -> dict[str, Any]:
    """The figures for one regime, computed once per state of the data (they change only with it)."""
    key = (str(session.get_bind().url), regime, data_version(session))
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = compute(session, regime)
    return _CACHE[key]


def compute(session: Session, regime: str) -> dict[str, Any]:
    listings = _regime_listings(session, regime)
    target_of = queries.target_ids(session, [entry.key for entry in listings])
    in_regime: dict[str, set[str]] = defaultdict(set)       # target -> jurisdictions designating it under the regime
    unplaced: dict[str, list[Listing]] = {}
    for entry in listings:
        # A designation imported since the last match counts as a target of its own until matched.
        group = target_of.get(entry.key)
        if group is None:
            group = f"designation:{entry.key}"
            unplaced[group] = [entry]
        in_regime[group].add(entry.jurisdiction)
    members = {**_all_members(session, sorted(set(in_regime) - set(unplaced))), **unplaced}
    covered = covered_jurisdictions(session)

    # Matrix: A designates under the regime, B has no active designation of the target at all.
    matrix = {a: {b: 0 for b in covered if b != a} for a in covered}
    totals = {j: 0 for j in covered}
    first_listed: dict[str, dict[str, dt.date | None]] = {}
    for target, regime_jurisdictions in in_regime.items():
        active_anywhere = {m.jurisdiction for m in members.get(target, []) if m.status == "active"}
        for a in regime_jurisdictions:
            totals[a] = totals.get(a, 0) + 1
            for b in covered:
                if b != a and b not in active_anywhere and a in matrix:
                    matrix[a][b] += 1
        dates: dict[str, dt.date | None] = {}
        for m in members.get(target, []):
            if m.status != "active":
                continue
            current = dates.get(m.jurisdiction)
            if m.jurisdiction not in dates or (m.listed_on and (current is None or m.listed_on < current)):
                dates[m.jurisdiction] = m.listed_on
        first_listed[target] = dates

    # Lead and follow for every pair that shares targets.
    pairs = []
    for i, a in enumerate(covered):
        for b in covered[i + 1 :]:
            shared = [d for d in first_listed.values() if a in d and b in d]
            if not shared:
                continue
            dated = [(d[a], d[b]) for d in shared if d[a] and d[b]]
            gaps = [(db - da).days for da, db in dated]
            pairs.append({
                "a": a, "b": b, "shared": len(shared), "dated": len(dated),
                "a_first": sum(g > 0 for g in gaps), "b_first": sum(g < 0 for g in gaps),
                "same_day": sum(g == 0 for g in gaps),
                # Positive: A listed first, by this many days (median over shared targets).
                "median_lead_days": statistics.median(gaps) if gaps else None,
            })

    # Timeline: targets each jurisdiction listed, per year (undated listings counted apart).
    per_year: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    undated: dict[str, int] = defaultdict(int)
    for target, dates in first_listed.items():
        for j, day in dates.items():
            if j not in in_regime[target]:
                continue
            if day is None:
                undated[j] += 1
            else:
                per_year[day.year][j] += 1
    timeline = [{"year": year, "listed": {j: per_year[year].get(j, 0) for j in covered}}
                for year in sorted(per_year)]
    return {
        "regime": regime,
        "jurisdictions": covered,
        "targets": len(in_regime),
        "designated": totals,
        "matrix": matrix,
        "pairs": pairs,
        "timeline": timeline,
        "undated": {j: undated.get(j, 0) for j in covered},
        "undated_sources": [s for s in undated_sources(session)
                            if any(entry.source == s["source"] for entry in listings)],
    }
