"""Officer decisions: pair decisions, gap dispositions and the audit log.

Decisions are keyed by stable designation keys and gap ids, so they survive
every re-import and re-match.  Each one is appended to ``audit_log`` (who,
when, what, before, after); nothing here edits or deletes that log, and the
database refuses to.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from sanctions import audit, gaps, matching
from sanctions.db import session_factory
from sanctions.models import Designation, Gap, PairDecision
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


def decide_pair(engine: Engine, key1: str, key2: str, decision: str, by: str, note: str | None = None,
                expected: int | None = None) -> dict:
    """Record an officer's decision on a pair and re-cluster at once.

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
    Session = session_factory(engine)
    with Session.begin() as session:
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
        audit.append(session, by, "pair-decision", f"{key_a} {key_b}", before, {"decision": decision}, note)
        try:
            session.flush()
        except IntegrityError:  # a concurrent decision replaced the same one first
            raise Conflict(f"pair {key_a} {key_b} was decided by someone else at the same moment", None) from None
        clusters = matching.recluster(session)
        counts = gaps.refresh(session)
    return {"pair": [key_a, key_b], "decision": decision, "clusters": clusters, "gaps": counts}


def set_gap_status(engine: Engine, gap_id: str, status: str, by: str, reason: str | None = None,
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
    Session = session_factory(engine)
    with Session.begin() as session:
        gap = session.get(Gap, gap_id)
        if gap is None:
            raise ReviewError(f"no gap with id {gap_id!r}")
        if expected_version is not None and expected_version != gap.version:
            raise Conflict(f"gap {gap_id} was changed by someone else meanwhile (version {gap.version}, "
                           f"not {expected_version})", _gap_state(gap))
        if status not in TRANSITIONS[gap.disposition] and not (gap.needs_review and status == gap.disposition):
            allowed = ", ".join(sorted(TRANSITIONS[gap.disposition]))
            raise ReviewError(f"gap {gap_id} is {gap.disposition}; it can move to {allowed}")
        before = {"disposition": gap.disposition, "reason": gap.reason, "needs_review": gap.needs_review}
        material_hash = gaps.gap_material_hash(session, gap)
        seen = gap.version
        # Compare-and-set on the version: a concurrent change between our read and this write wins, we refuse.
        changed = session.execute(update(Gap).where(Gap.id == gap_id, Gap.version == seen).values(
            disposition=status, reason=reason, needs_review=False, material_hash=material_hash,
            version=seen + 1).execution_options(synchronize_session=False)).rowcount
        if changed != 1:
            raise Conflict(f"gap {gap_id} was changed by someone else at the same moment", None)
        after = {"disposition": status, "reason": reason, "needs_review": False}
        audit.append(session, by, "gap-disposition", gap_id, before, after, note)
    return {"gap": gap_id, **after, "version": seen + 1}
