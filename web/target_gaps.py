"""The gap section of the public target page, for signed-in users only.

Gaps are internal deliberations: the target page (the read side's) includes
``_target_gaps.html``, which asks ``target_gaps(target_id)``; that answers an
empty list to anonymous visitors, so nothing of a gap reaches them.
"""
from __future__ import annotations

from flask import Blueprint
from flask_login import current_user
from sqlalchemy import select

from sanctions import queries
from sanctions.models import Gap
from web import database

bp = Blueprint("target_gaps", __name__)


def gaps_of_target(target_id: str) -> list[dict]:
    if not (current_user.is_authenticated and current_user.can("viewer")):
        return []
    session = database.session()
    keys = queries.target_member_keys(session, target_id)
    if not keys:
        return []
    return [{"id": g.id, "kind": g.kind, "designated_by": g.designated_by, "not_by": g.not_by, "state": g.state,
             "disposition": g.disposition, "needs_review": g.needs_review, "opened_on": g.opened_on}
            for g in session.scalars(select(Gap).where(Gap.anchor_key.in_(keys))
                                     .order_by(Gap.state.desc(), Gap.designated_by, Gap.not_by))]


@bp.app_context_processor
def provide() -> dict:
    return {"target_gaps": gaps_of_target}
