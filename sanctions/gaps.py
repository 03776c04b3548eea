"""Gap lifecycle: targets that one jurisdiction designates and another does not.

For every target (``target_member``) and every ordered pair of jurisdictions
(A, B) whose lists are in the store:

- a ``missing`` gap: A has an active designation in the target, B has none;
- a ``delisted`` gap (the other direction of drift): A has only removed
  designations in the target, B still lists it.

A gap's id names the target, not a designation: ``<A>-<B>:<target id>`` and
``<A>-<B>:delisted:<target id>``.  Target ids survive records joining, leaving
and being delisted, so the gap and an officer's disposition on it do too.
When targets merge or split, a gap can move to another target: the old gap
closes (``merged`` / ``split``) naming its ``successor_id``, the new one names
where it was ``carried_from``, and ``refresh`` returns these carries so that
``review.carry_dispositions`` moves the decision and flags it for re-review.

``refresh`` opens, closes and reopens gaps and writes only what changed.
Reading gaps is ``sanctions.gap_queries``; flagging decisions is ``review``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sanctions import bulk
from sanctions.models import Designation, Gap, TargetMember
from sanctions.schema import material_fingerprint

DISPOSITIONS = ("open", "under-review", "confirmed", "dismissed")
DISMISS_REASONS = ("out-of-scope", "policy-divergence", "insufficient-evidence", "not-same-target")
CHUNK = 900


@dataclass
class Member:
    key: str
    jurisdiction: str
    status: str
    kind: str
    listed_on: dt.date | None
    regimes: list[str]
    changed_run_id: int
    removed_run_id: int | None


@dataclass
class TargetSides:
    """One target's designations, as the lifecycle needs them."""

    id: str
    members: list[Member] = field(default_factory=list)

    def active(self, jurisdiction: str) -> list[Member]:
        return [m for m in self.members if m.jurisdiction == jurisdiction and m.status == "active"]

    def removed(self, jurisdiction: str) -> list[Member]:
        return [m for m in self.members if m.jurisdiction == jurisdiction and m.status == "removed"]


@dataclass
class CurrentGap:
    """A gap as the store shows it now, with A's side described for filtering in SQL."""

    id: str
    kind: str
    designated_by: str
    not_by: str
    target_id: str
    anchor_key: str
    target_kind: str
    regimes: str | None
    listed_on: dt.date | None

    def description(self) -> dict[str, Any]:
        return {"anchor_key": self.anchor_key, "target_kind": self.target_kind, "regimes": self.regimes,
                "listed_on": self.listed_on}


@dataclass
class Carry:
    """A gap that moved to another target: ``to_id`` takes over from ``from_id``."""

    from_id: str
    to_id: str
    why: str  # merged, split


@dataclass
class RefreshResult:
    opened: int = 0
    closed: int = 0
    reopened: int = 0
    carries: list[Carry] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"opened": self.opened, "closed": self.closed, "reopened": self.reopened,
                "carried": len(self.carries)}


def gap_id(kind: str, a: str, b: str, target_id: str) -> str:
    return f"{a}-{b}:{target_id}" if kind == "missing" else f"{a}-{b}:delisted:{target_id}"


def regimes_text(regimes: Iterable[str]) -> str | None:
    """``|a|b|``: one text column that ``LIKE '%|a|%'`` filters on every database."""
    codes = sorted(set(regimes))
    return "|" + "|".join(codes) + "|" if codes else None


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def load_sides(session: Session, target_ids: Iterable[str] | None = None) -> dict[str, TargetSides]:
    """Targets by id with their members; all of them, or only ``target_ids``."""
    stmt = (select(TargetMember.target_id, Designation.key, Designation.jurisdiction, Designation.status,
                   Designation.kind, Designation.listed_on, Designation.regimes, Designation.changed_run_id,
                   Designation.removed_run_id)
            .join(Designation, Designation.key == TargetMember.designation_key))
    targets: dict[str, TargetSides] = {}
    chunks = [None] if target_ids is None else list(_chunks(sorted(set(target_ids))))
    for chunk in chunks:
        scoped = stmt if chunk is None else stmt.where(TargetMember.target_id.in_(chunk))
        for target_id, *row in session.execute(scoped):
            targets.setdefault(target_id, TargetSides(target_id)).members.append(Member(*row))
    return targets


def covered_jurisdictions(session: Session) -> set[str]:
    """Jurisdictions whose lists are in the store: a gap against an unimported list means nothing."""
    # One small look-up per jurisdiction on its index, not a scan of every designation row.
    jurisdictions = session.scalars(select(Designation.jurisdiction).distinct()).all()
    return {j for j in jurisdictions if session.scalar(select(select(Designation.id).where(
        Designation.jurisdiction == j, Designation.status == "active").exists()))}


def current_gaps(targets: Iterable[TargetSides], covered: set[str]) -> dict[str, CurrentGap]:
    """Gap id -> the gap, for the targets as they are now."""
    out: dict[str, CurrentGap] = {}
    for target in targets:
        active: dict[str, list[Member]] = defaultdict(list)
        removed: dict[str, list[Member]] = defaultdict(list)
        for m in target.members:
            (active if m.status == "active" else removed)[m.jurisdiction].append(m)
        for a in ({m.jurisdiction for m in target.members} & covered):
            if a in active:
                kind, side, against = "missing", active[a], covered - {a} - set(active)
            elif a in removed:
                kind, side, against = "delisted", removed[a], (covered - {a}) & set(active)
            else:
                continue
            if not against:
                continue
            anchor = min(side, key=lambda m: m.key)
            regimes = regimes_text(r for m in side for r in m.regimes or [])
            listed = min((m.listed_on for m in side if m.listed_on), default=None)
            for b in against:
                gid = gap_id(kind, a, b, target.id)
                out[gid] = CurrentGap(gid, kind, a, b, target.id, anchor.key, anchor.kind, regimes, listed)
    return out


def _stored(session: Session, target_ids: set[str] | None) -> dict[str, Any]:
    stmt = select(Gap.id, Gap.kind, Gap.designated_by, Gap.not_by, Gap.target_id, Gap.anchor_key, Gap.state,
                  Gap.disposition, Gap.target_kind, Gap.regimes, Gap.listed_on)
    if target_ids is None:
        return {row.id: row for row in session.execute(stmt)}
    out = {}
    for chunk in _chunks(sorted(target_ids)):
        out.update({row.id: row for row in session.execute(stmt.where(Gap.target_id.in_(chunk)))})
    return out


def refresh(session: Session, today: dt.date | None = None, target_ids: Iterable[str] | None = None,
            lineage: Iterable[Any] = ()) -> RefreshResult:
    """The gap stage: open new gaps, close resolved ones, reopen returning ones.

    ``target_ids`` limits the work to a few targets (after a pair decision);
    ``lineage`` is the cluster stage's merge/split events of this run, so a
    gap whose designations moved to another target is carried, not dropped.
    Reads stored gaps as plain rows and writes only what changed.
    """
    today = today or dt.date.today()
    scope = None if target_ids is None else set(target_ids)
    targets = load_sides(session, scope)
    current = current_gaps(targets.values(), covered_jurisdictions(session))
    stored = _stored(session, scope)
    # Where each designation is now, to follow a closing gap's anchor to its new target.
    target_of = {m.key: t.id for t in targets.values() for m in t.members}
    if scope is not None:
        missing = sorted({row.anchor_key for row in stored.values()} - set(target_of))
        for chunk in _chunks(missing):
            target_of.update(session.execute(select(TargetMember.designation_key, TargetMember.target_id)
                                             .where(TargetMember.designation_key.in_(chunk))).all())
    result = RefreshResult()

    inserts = [{"id": g.id, "kind": g.kind, "designated_by": g.designated_by, "not_by": g.not_by,
                "target_id": g.target_id, "state": "open", "opened_on": today, "disposition": "open",
                "needs_review": False, **g.description()}
               for g in current.values() if g.id not in stored]
    result.opened = len(inserts)
    changes: list[dict[str, Any]] = []
    for gid, row in stored.items():
        now = current.get(gid)
        if row.state == "open" and now is None:
            reason, run_id = _why_closed(row, targets.get(row.target_id))
            successor = _successor(row, target_of, current)
            if successor:
                reason = "merged" if row.target_id not in targets else "split"
                result.carries.append(Carry(gid, successor, reason))
            changes.append({"id": gid, "state": "closed", "closed_on": today, "closed_reason": reason,
                            "closed_run_id": run_id, "successor_id": successor})
            result.closed += 1
        elif row.state == "closed" and now is not None:
            changes.append({"id": gid, "state": "open", "closed_on": None, "closed_reason": None,
                            "closed_run_id": None, "successor_id": None, **now.description(),
                            **({"needs_review": True} if row.disposition != "open" else {})})
            result.reopened += 1
        elif now is not None and (row.anchor_key, row.target_kind, row.regimes, row.listed_on) != \
                (now.anchor_key, now.target_kind, now.regimes, now.listed_on):
            changes.append({"id": gid, **now.description()})
    result.carries += _lineage_carries(lineage, current, stored, {c.to_id for c in result.carries})
    carried_from = {c.to_id: c.from_id for c in result.carries}
    for row in inserts:
        row["carried_from"] = carried_from.get(row["id"])
    # Through the bulk writer (a first match opens 84,000 gaps on the real lists), a slice
    # at a time: the writer holds a slice's rows twice, as dicts and as driver tuples.
    connection = session.connection()
    with bulk.sqlite_background_writes(connection):
        for chunk in _chunks(inserts, 5000):
            bulk.insert(connection, Gap.__table__, chunk)
    for row in changes:
        session.execute(update(Gap).where(Gap.id == row["id"]).values(**{k: v for k, v in row.items() if k != "id"}))
    return result


def _successor(row: Any, target_of: dict[str, str], current: dict[str, CurrentGap]) -> str | None:
    """The same gap on the target that A's anchor designation belongs to now, if it moved."""
    moved_to = target_of.get(row.anchor_key)
    if moved_to is None or moved_to == row.target_id:
        return None
    successor = gap_id(row.kind, row.designated_by, row.not_by, moved_to)
    return successor if successor in current else None


def _lineage_carries(lineage: Iterable[Any], current: dict[str, CurrentGap], stored: dict[str, Any],
                     already: set[str]) -> list[Carry]:
    """New gaps on a target that split from (or absorbed) one whose same gap stays open: carry it too."""
    carries = []
    for event in lineage:
        if event.event == "split":
            source, destination = event.target_id, event.other_target_id
        else:
            source, destination = event.other_target_id, event.target_id
        for gap in current.values():
            if gap.target_id != destination or gap.id in stored or gap.id in already:
                continue
            origin = gap_id(gap.kind, gap.designated_by, gap.not_by, source)
            if origin in stored and stored[origin].state == "open":
                carries.append(Carry(origin, gap.id, event.event))
                already.add(gap.id)
    return carries


def _why_closed(row: Any, target: TargetSides | None) -> tuple[str, int | None]:
    if target is None:
        return "merged", None
    side = [m for m in target.members if m.jurisdiction == row.designated_by]
    if not side:
        return "split", None
    if row.kind == "missing":
        if not target.active(row.designated_by):
            return "delisted", max((m.removed_run_id for m in side if m.removed_run_id), default=None)
        added = target.active(row.not_by)
        if added:
            return "aligned", max(m.changed_run_id for m in added)
        return "target-changed", None
    if target.active(row.designated_by):
        return "relisted", max(m.changed_run_id for m in target.active(row.designated_by))
    if not target.active(row.not_by):
        return "aligned", max((m.removed_run_id for m in target.removed(row.not_by) if m.removed_run_id),
                              default=None)
    return "target-changed", None


# --- what a disposition was taken on -------------------------------------------------

def material_hashes(session: Session, gaps: list[tuple[str, str, str]]) -> dict[str, str]:
    """Gap id -> fingerprint of A's side of its target, for (gap id, target id, A) triples.

    Recorded with a disposition; when it changes, the disposition needs
    re-review.  One pass over the members of all the targets at hand.
    """
    target_ids = sorted({t for _g, t, _a in gaps})
    contents: dict[str, dict[str, list[tuple[str, dict]]]] = defaultdict(lambda: defaultdict(list))
    for chunk in _chunks(target_ids):
        for target_id, key, jurisdiction, content in session.execute(
                select(TargetMember.target_id, Designation.key, Designation.jurisdiction, Designation.content)
                .join(Designation, Designation.key == TargetMember.designation_key)
                .where(TargetMember.target_id.in_(chunk))):
            contents[target_id][jurisdiction].append((key, content))
    out = {}
    for gid, target_id, a in gaps:
        digest = hashlib.sha256()
        for key, content in sorted(contents[target_id][a], key=lambda kc: kc[0]):
            digest.update(f"{key}:{material_fingerprint(content)};".encode())
        out[gid] = digest.hexdigest()
    return out


def gap_material_hash(session: Session, gap: Gap) -> str:
    return material_hashes(session, [(gap.id, gap.target_id, gap.designated_by)])[gap.id]

