"""Gap priority: a transparent score from the signals an officer would weigh.

Each signal is named, has fixed points and a reason in words, so the list can
show why a gap ranks where it does and an officer can disagree with a weight
rather than with a black box.  For a gap "A designates the target, B does not":

- ``un``: the UN Security Council designates the target and B is not the UN:
  B is bound to implement UN designations, so this is the most pressing gap.
- ``others``: other jurisdictions (neither A nor B) designate it too.
- ``linked``: a publisher states a link (owner, controller, agent: OFAC's
  ``Linked To:``) between the target and a target B already designates.
- ``regime``: B has a comparable regime (the common regime crosswalk).
- ``age``: how long A has listed it (or the gap has been seen), in years.

Read-only: used by the gap pages and by ``sanctions gaps --sort priority``.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from sanctions import queries
from sanctions.models import Designation, SearchEntry

UN_POINTS = 40
OTHER_POINTS = 10      # per other jurisdiction
LINKED_POINTS = 15
REGIME_POINTS = 15
AGE_POINTS_PER_YEAR = 1
AGE_MAX_POINTS = 10
NAMES = {"us": "the US", "eu": "the EU", "gb": "the UK", "ca": "Canada", "un": "the UN"}


@dataclass
class Signal:
    name: str
    points: int
    reason: str


def _who(jurisdiction: str) -> str:
    return NAMES.get(jurisdiction, jurisdiction)


def signals(designated_by: str, not_by: str, active_jurisdictions: set[str], linked: bool, comparable: bool,
            age_days: int) -> list[Signal]:
    """The signals that apply to one gap (A designates, B does not), strongest first."""
    out = []
    if "un" in active_jurisdictions and not_by != "un":
        out.append(Signal("un", UN_POINTS, f"the UN designates it: {_who(not_by)} is bound to implement it"))
    others = sorted(active_jurisdictions - {designated_by, not_by, "un"})
    if others:
        out.append(Signal("others", OTHER_POINTS * len(others),
                          f"{len(others)} other jurisdiction{'s designate' if len(others) > 1 else ' designates'} it "
                          f"({', '.join(_who(j) for j in others)})"))
    if linked:
        out.append(Signal("linked", LINKED_POINTS, f"linked to a target {_who(not_by)} already designates"))
    if comparable:
        out.append(Signal("regime", REGIME_POINTS, f"{_who(not_by)} has a comparable regime"))
    years = age_days // 365
    if years >= 1:
        out.append(Signal("age", min(AGE_MAX_POINTS, years * AGE_POINTS_PER_YEAR),
                          f"designated by {_who(designated_by)} for {years} year{'s' if years > 1 else ''}"))
    return out


def _active_jurisdictions(session: Session, target_ids: Iterable[str]) -> dict[str, set[str]]:
    members = queries.targets_members(session, target_ids)
    target_of = {k: t for t, keys in members.items() for k in keys}
    out: dict[str, set[str]] = defaultdict(set)
    keys = sorted(target_of)
    for i in range(0, len(keys), 900):
        for key, jurisdiction in session.execute(select(Designation.key, Designation.jurisdiction).where(
                Designation.key.in_(keys[i : i + 900]), Designation.status == "active")):
            out[target_of[key]].add(jurisdiction)
    return out


def linked_jurisdictions(session: Session, keys: Iterable[str] | None = None) -> dict[str, set[str]]:
    """Target id -> jurisdictions that actively designate a target it is linked to (either direction).

    From the publishers' stated links (the search index's ``link`` entries, matched
    by folded name to another designation's names): one join over the ~6,000 links,
    not a query per gap.  ``keys``: only links stated by or naming these designations (one target's page).
    """
    holder, named = aliased(Designation), aliased(Designation)
    link, name = aliased(SearchEntry), aliased(SearchEntry)
    stmt = (select(holder.key, holder.jurisdiction, holder.status, named.key, named.jurisdiction, named.status)
            .join(link, link.designation_id == holder.id)
            .join(name, name.text == link.text)
            .join(named, named.id == name.designation_id)
            .where(link.field == "link", name.field == "name"))
    if keys is None:
        rows = session.execute(stmt).all()
    else:  # two indexed lookups rather than one OR, which would scan every link
        keys = sorted(set(keys))
        rows = list(dict.fromkeys([*session.execute(stmt.where(holder.key.in_(keys))).all(),
                                   *session.execute(stmt.where(named.key.in_(keys))).all()]))
    target_of = queries.target_ids(session, {r[0] for r in rows} | {r[3] for r in rows})
    out: dict[str, set[str]] = defaultdict(set)
    for h_key, h_j, h_status, n_key, n_j, n_status in rows:
        h_target, n_target = target_of.get(h_key), target_of.get(n_key)
        if h_target is None or n_target is None or h_target == n_target:
            continue
        if n_status == "active":
            out[h_target].add(n_j)
        if h_status == "active":
            out[n_target].add(h_j)
    return out


def annotate(session: Session, entries: list[dict[str, Any]], keys: Iterable[str] | None = None) -> None:
    """Add ``priority`` (points) and ``priority_reasons`` to gap report entries, in place.

    An entry against several B jurisdictions takes the score of its most pressing one.  ``keys``: the
    designations of the entries' targets when there are few (a gap page), to read only their links.
    """
    if not entries:
        return
    active = _active_jurisdictions(session, {e["target"] for e in entries})
    linked = linked_jurisdictions(session, keys)
    for e in entries:
        best: list[Signal] = []
        for b in e["not_by"]:
            found = signals(e["designated_by"], b, active.get(e["target"], set()) | {e["designated_by"]},
                            b in linked.get(e["target"], set()), bool(e["comparable_regime"].get(b)),
                            e["age_days"])
            if not best or sum(s.points for s in found) > sum(s.points for s in best):
                best = found
        e["priority"] = sum(s.points for s in best)
        e["priority_reasons"] = [{"signal": s.name, "points": s.points, "reason": s.reason} for s in best]


def sort_by_priority(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Highest priority first; ties oldest first, then by gap id (the same order on every database)."""
    return sorted(entries, key=lambda e: (-e["priority"], e["listed_on"] or e["opened_on"], e["gaps"][0]))
