"""Officer decisions: pair decisions, gap dispositions and the audit log.

Decisions are keyed by stable designation keys and gap ids, so they survive
every re-import and re-match.  Each one is appended to ``audit_log`` (who,
when, what, before, after); nothing here edits or deletes that log, and the
database refuses to.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select, update

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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def decide_pair(engine: Engine, key1: str, key2: str, decision: str, by: str, note: str | None = None) -> dict:
    """Record an officer's decision on a pair and re-cluster at once."""
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
        before = {"decision": previous.decision, "by": previous.decided_by} if previous else None
        session.execute(update(PairDecision).where(PairDecision.key_a == key_a, PairDecision.key_b == key_b)
                        .values(current=False))
        session.add(PairDecision(key_a=key_a, key_b=key_b, decision=decision, decided_by=by, note=note,
                                 decided_at=_now(), hash_a=material_fingerprint(contents[key_a]),
                                 hash_b=material_fingerprint(contents[key_b])))
        audit.append(session, by, "pair-decision", f"{key_a} {key_b}", before, {"decision": decision}, note)
        session.flush()
        clusters = matching.recluster(session)
        counts = gaps.refresh(session)
    return {"pair": [key_a, key_b], "decision": decision, "clusters": clusters, "gaps": counts}


def set_gap_status(engine: Engine, gap_id: str, status: str, by: str, reason: str | None = None,
                   note: str | None = None) -> dict:
    """Move a gap along open -> under-review -> confirmed | dismissed (with a reason)."""
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
        if status not in TRANSITIONS[gap.disposition] and not (gap.needs_review and status == gap.disposition):
            allowed = ", ".join(sorted(TRANSITIONS[gap.disposition]))
            raise ReviewError(f"gap {gap_id} is {gap.disposition}; it can move to {allowed}")
        before = {"disposition": gap.disposition, "reason": gap.reason, "needs_review": gap.needs_review}
        gap.disposition, gap.reason, gap.needs_review = status, reason, False
        gap.material_hash = gaps.gap_material_hash(session, gap)
        after = {"disposition": status, "reason": reason, "needs_review": False}
        audit.append(session, by, "gap-disposition", gap_id, before, after, note)
    return {"gap": gap_id, **after}
