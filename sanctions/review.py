"""Officer decisions: pair decisions, gap dispositions, and when they need re-review.

Decisions are keyed by stable designation keys and gap ids (which name a
persistent target), so they survive every re-import, re-match, merge and
split.  Each one is appended to ``audit_log`` (who, when, what, before,
after).  The functions here work inside the caller's transaction;
``sanctions.pipeline`` takes the lock, opens the transaction and re-clusters
only the targets a decision touches.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sanctions import audit, gaps
from sanctions.models import Designation, Gap, GapFormerId, PairDecision, TargetMember
from sanctions.schema import material_fingerprint

PAIR_DECISIONS = ("same", "different", "unsure")
# Allowed disposition changes: open -> under review -> confirmed or dismissed (and back to review).
TRANSITIONS = {
    "open": {"under-review"},
    "under-review": {"confirmed", "dismissed", "open"},
    "confirmed": {"under-review"},
    "dismissed": {"under-review"},
}


class ReviewError(ValueError):
    pass


# --- version check (issue 11) ----------------------------------------------------------
# A decision names the state it was made on: a gap's ``version``, a pair's current
# decision id (0 when undecided).  If someone else decided in between, the change is
# refused with ``Conflict`` carrying what is there now, so nothing is silently overwritten.
# The database enforces it too (gap update guarded by version; pair decisions unique on
# the decision they replace), so two transactions racing past the check cannot both win.

class Conflict(ReviewError):
    """Someone decided first; ``current`` is what they decided."""

    def __init__(self, message: str, current: dict | None):
        super().__init__(message)
        self.current = current


def _pair_state(decision: PairDecision | None) -> dict | None:
    if decision is None:
        return None
    return {"id": decision.id, "decision": decision.decision, "by": decision.decided_by, "note": decision.note,
            "at": decision.decided_at.replace(microsecond=0).isoformat()}


def _gap_state(gap: Gap) -> dict:
    return {"version": gap.version, "disposition": gap.disposition, "reason": gap.reason,
            "needs_review": gap.needs_review}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def record_pair_decision(session: Session, key1: str, key2: str, decision: str, by: str,
                         note: str | None = None, expected: int | None = None) -> tuple[str, str]:
    """Store an officer's decision on a pair (the previous one stays, no longer current).

    ``expected``: the id of the pair's current decision the officer saw (0: none);
    if another decision was recorded since, ``Conflict`` is raised and nothing is written.
    """
    if decision not in PAIR_DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(PAIR_DECISIONS)}")
    if not by.strip():
        raise ReviewError("--by must name the officer")
    key_a, key_b = sorted((key1, key2))
    if key_a == key_b:
        raise ReviewError("a pair needs two different designations")
    contents = dict(session.execute(select(Designation.key, Designation.content)
                                    .where(Designation.key.in_([key_a, key_b]))).all())
    missing = [k for k in (key_a, key_b) if k not in contents]
    if missing:
        raise ReviewError(f"no designation with key {', '.join(missing)}")
    previous = session.scalars(select(PairDecision).where(PairDecision.key_a == key_a,
                                                          PairDecision.key_b == key_b,
                                                          PairDecision.current.is_(True))).first()
    if expected is not None and expected != (previous.id if previous else 0):
        raise Conflict(f"pair {key_a} {key_b} was decided by someone else meanwhile", _pair_state(previous))
    before = {"decision": previous.decision, "by": previous.decided_by} if previous else None
    session.execute(update(PairDecision).where(PairDecision.key_a == key_a, PairDecision.key_b == key_b)
                    .values(current=False))
    session.add(PairDecision(key_a=key_a, key_b=key_b, decision=decision, decided_by=by, note=note,
                             decided_at=_now(), hash_a=material_fingerprint(contents[key_a]),
                             hash_b=material_fingerprint(contents[key_b]),
                             supersedes=previous.id if previous else 0))
    try:
        session.flush()
    except IntegrityError:  # a concurrent decision replaced the same one first (version check)
        raise Conflict(f"pair {key_a} {key_b} was decided by someone else at the same moment", None) from None
    audit.append(session, by, "pair-decision", f"{key_a} {key_b}", before, {"decision": decision}, note)
    session.flush()
    return key_a, key_b


def resolve_gap(session: Session, gap_id: str) -> Gap | None:
    """A gap by its id, or by an id it had before gap ids named targets."""
    gap = session.get(Gap, gap_id)
    if gap is None:
        current = session.scalar(select(GapFormerId.gap_id).where(GapFormerId.former_id == gap_id))
        gap = session.get(Gap, current) if current else None
    return gap


def record_gap_status(session: Session, gap_id: str, status: str, by: str, reason: str | None = None,
                      note: str | None = None, expected_version: int | None = None) -> dict:
    """Move a gap along open -> under-review -> confirmed | dismissed (with a reason).

    ``expected_version``: the gap's version the officer saw; a newer one raises ``Conflict``.
    """
    if status not in gaps.DISPOSITIONS:
        raise ReviewError(f"status must be one of {', '.join(gaps.DISPOSITIONS)}")
    if status == "dismissed" and reason not in gaps.DISMISS_REASONS:
        raise ReviewError(f"dismissing needs --reason, one of {', '.join(gaps.DISMISS_REASONS)}")
    if status != "dismissed" and reason:
        raise ReviewError("--reason is only for dismissing")
    if not by.strip():
        raise ReviewError("--by must name the officer")
    gap = resolve_gap(session, gap_id)
    if gap is None:
        raise ReviewError(f"no gap with id {gap_id!r}")
    if expected_version is not None and expected_version != gap.version:
        raise Conflict(f"gap {gap.id} was changed by someone else meanwhile (version {gap.version}, "
                       f"not {expected_version})", _gap_state(gap))
    if status not in TRANSITIONS[gap.disposition] and not (gap.needs_review and status == gap.disposition):
        allowed = ", ".join(sorted(TRANSITIONS[gap.disposition]))
        raise ReviewError(f"gap {gap.id} is {gap.disposition}; it can move to {allowed}")
    before = {"disposition": gap.disposition, "reason": gap.reason, "needs_review": gap.needs_review}
    material_hash = gaps.gap_material_hash(session, gap)
    seen = gap.version
    # Compare-and-set on the version: if another writer changed the gap after our read, it wins and we refuse.
    changed = session.execute(update(Gap).where(Gap.id == gap.id, Gap.version == seen).values(
        disposition=status, reason=reason, needs_review=False, material_hash=material_hash,
        version=seen + 1).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict(f"gap {gap.id} was changed by someone else at the same moment", None)
    session.expire(gap)
    after = {"disposition": status, "reason": reason, "needs_review": False}
    audit.append(session, by, "gap-disposition", gap.id, before, after, note)
    return {"gap": gap.id, **after, "version": seen + 1}


def carry_dispositions(session: Session, carries: Iterable[gaps.Carry]) -> int:
    """Decisions follow their target: a gap that moved to another target takes its disposition along.

    The decision was taken on another set of designations, so it is flagged
    for re-review (never silently kept or dropped).  Where the receiving gap
    already carries a different decision, that one is flagged instead.
    Returns how many gaps were flagged.
    """
    carries = list(carries)
    if not carries:
        return 0
    ids = sorted({c.from_id for c in carries} | {c.to_id for c in carries})
    rows: dict[str, Gap] = {}
    for i in range(0, len(ids), 900):
        rows.update({g.id: g for g in session.scalars(select(Gap).where(Gap.id.in_(ids[i : i + 900])))})
    flagged = 0
    for carry in carries:
        source, target = rows.get(carry.from_id), rows.get(carry.to_id)
        if source is None or target is None or (source.disposition == "open" and not source.needs_review):
            continue
        before = {"disposition": target.disposition, "reason": target.reason, "needs_review": target.needs_review}
        if target.disposition == "open":
            target.disposition, target.reason = source.disposition, source.reason
            target.material_hash = source.material_hash
            note = f"target {carry.why}: disposition carried from {source.id}"
        elif target.disposition != source.disposition or target.reason != source.reason:
            note = f"target {carry.why}: {source.id} had another decision ({source.disposition})"
        elif not source.needs_review:
            continue
        else:
            note = f"target {carry.why}: {source.id} was flagged for re-review"
        target.needs_review = True
        target.carried_from = target.carried_from or source.id
        flagged += 1
        audit.append(session, "system", "gap-carried", target.id, before,
                     {"disposition": target.disposition, "reason": target.reason, "needs_review": True}, note)
    return flagged


def flag_material_changes(session: Session, target_ids: Iterable[str] | None = None) -> int:
    """Flag gap dispositions and pair decisions whose designations changed materially since decided.

    A new date of birth or passport can undo the grounds of a decision; a
    remark cannot (see ``schema.material_fingerprint``).  Scoped to some
    targets after a pair decision, to the whole store after a match.
    """
    scope = None if target_ids is None else sorted(set(target_ids))
    stmt = select(Gap.id, Gap.target_id, Gap.designated_by, Gap.material_hash).where(
        Gap.state == "open", Gap.disposition != "open", Gap.material_hash.is_not(None), Gap.needs_review.is_(False))
    decided = []
    for chunk in ([None] if scope is None else [scope[i : i + 900] for i in range(0, len(scope), 900)]):
        decided += session.execute(stmt if chunk is None else stmt.where(Gap.target_id.in_(chunk))).all()
    now = gaps.material_hashes(session, [(g.id, g.target_id, g.designated_by) for g in decided])
    flagged = [g.id for g in decided if now[g.id] != g.material_hash]
    for gid in flagged:
        session.execute(update(Gap).where(Gap.id == gid).values(needs_review=True))
        audit.append(session, "system", "gap-flagged", gid, {"needs_review": False}, {"needs_review": True},
                     "the designations under this disposition changed materially")
    keys = None
    if scope is not None:
        keys = set()
        for i in range(0, len(scope), 900):
            keys.update(session.scalars(select(TargetMember.designation_key)
                                        .where(TargetMember.target_id.in_(scope[i : i + 900]))))
    return len(flagged) + _flag_pair_decisions(session, keys)


def _flag_pair_decisions(session: Session, keys: set[str] | None) -> int:
    decisions = [d for d in session.scalars(select(PairDecision).where(PairDecision.current.is_(True),
                                                                       PairDecision.needs_review.is_(False)))
                 if keys is None or d.key_a in keys or d.key_b in keys]
    if not decisions:
        return 0
    wanted = sorted({k for d in decisions for k in (d.key_a, d.key_b)})
    contents: dict[str, dict] = {}
    for i in range(0, len(wanted), 900):
        contents.update(session.execute(select(Designation.key, Designation.content)
                                        .where(Designation.key.in_(wanted[i : i + 900]))).all())
    flagged = 0
    for d in decisions:
        now = (material_fingerprint(contents[d.key_a]) if d.key_a in contents else None,
               material_fingerprint(contents[d.key_b]) if d.key_b in contents else None)
        if now != (d.hash_a, d.hash_b):
            d.needs_review = True
            flagged += 1
            audit.append(session, "system", "pair-flagged", f"{d.key_a} {d.key_b}", {"needs_review": False},
                         {"needs_review": True}, "a designation under this decision changed materially")
    return flagged
