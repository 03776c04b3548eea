"""Reading the audit log with filters and pagination in SQL (the admin's ``/audit`` page and its CSV).

Separate from ``sanctions.audit``, which owns writing (and the chain behind it):
this module only selects.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sanctions.models import AuditEntry


@dataclass
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    subject: str | None = None       # substring
    since: dt.date | None = None
    until: dt.date | None = None     # inclusive


def _where(stmt, f: AuditFilter):
    if f.actor:
        stmt = stmt.where(AuditEntry.actor == f.actor)
    if f.action:
        stmt = stmt.where(AuditEntry.action == f.action)
    if f.subject:
        escaped = f.subject.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(AuditEntry.subject.like(f"%{escaped}%", escape="\\"))
    if f.since:
        stmt = stmt.where(AuditEntry.at >= dt.datetime.combine(f.since, dt.time()))
    if f.until:
        stmt = stmt.where(AuditEntry.at < dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time()))
    return stmt


def _row(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "at": e.at.replace(microsecond=0).isoformat() + "Z", "actor": e.actor, "action": e.action,
            "subject": e.subject, "before": e.before, "after": e.after, "note": e.note}


def find(session: Session, f: AuditFilter, limit: int | None = 50, offset: int = 0) -> dict[str, Any]:
    """Newest first."""
    total = session.scalar(_where(select(func.count()).select_from(AuditEntry), f))
    stmt = _where(select(AuditEntry), f).order_by(AuditEntry.id.desc()).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return {"total": total, "offset": offset, "limit": limit, "entries": [_row(e) for e in session.scalars(stmt)]}


def facets(session: Session) -> dict[str, list[str]]:
    """The actors and actions present, for the filter menus."""
    return {"actors": list(session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor))),
            "actions": list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))}
