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
from sanctions.models import Designation, SearchEntry, TargetMember

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
    """Target id -> jurisdictions with an active designation in it."""
    ids = sorted(set(target_ids))
    out: dict[str, set[str]] = defaultdict(set)
    if len(ids) > 2000:  # a whole list: one pass over every active membership beats many IN lists
        wanted = set(ids)
        for target_id, jurisdiction in session.execute(
                select(TargetMember.target_id, Designation.jurisdiction)
                .join(Designation, Designation.key == TargetMember.designation_key)
                .where(Designation.status == "active")):
            if target_id in wanted:
                out[target_id].add(jurisdiction)
        return out
    for i in range(0, len(ids), 900):
        for target_id, jurisdiction in session.execute(
                select(TargetMember.target_id, Designation.jurisdiction).distinct()
                .join(Designation, Designation.key == TargetMember.designation_key)
                .where(TargetMember.target_id.in_(ids[i : i + 900]), Designation.status == "active")):
            out[target_id].add(jurisdiction)
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


def score_targets(session: Session, designated_by: str, facts: dict[str, dict[str, Any]],
                  keys: Iterable[str] | None = None) -> dict[str, tuple[int, list[dict[str, Any]]]]:
    """Target id -> (points, reasons) of its gap(s) against B.

    ``facts`` per target: ``not_by`` (the B jurisdictions), ``age_days``, ``comparable`` (B -> bool).
    A target with gaps against several B takes the score of its most pressing one.  ``keys``: the
    targets' designations when there are few (one gap page), to read only their links.
    """
    if not facts:
        return {}
    active = _active_jurisdictions(session, facts)
    linked = linked_jurisdictions(session, keys)
    out = {}
    for target_id, f in facts.items():
        best: list[Signal] = []
        for b in f["not_by"]:
            found = signals(designated_by, b, active.get(target_id, set()) | {designated_by},
                            b in linked.get(target_id, set()), bool(f["comparable"].get(b)), f["age_days"])
            if not best or sum(s.points for s in found) > sum(s.points for s in best):
                best = found
        out[target_id] = (sum(s.points for s in best),
                          [{"signal": s.name, "points": s.points, "reason": s.reason} for s in best])
    return out
