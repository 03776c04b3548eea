"""The audit log: every officer decision and every automatic re-review flag, append-only.

Only ``append`` writes to it; the database refuses updates and deletes
(triggers created by migration 0003).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanctions.models import AuditEntry


def append(session: Session, actor: str, action: str, subject: str, before: dict | None, after: dict | None,
           note: str | None = None) -> None:
    session.add(AuditEntry(at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), actor=actor, action=action,
                           subject=subject, before=before, after=after, note=note))


def entries(session: Session, since: dt.date | None = None) -> Iterator[dict[str, Any]]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if since:
        stmt = stmt.where(AuditEntry.at >= dt.datetime.combine(since, dt.time()))
    for entry in session.scalars(stmt):
        yield {"id": entry.id, "at": entry.at.replace(microsecond=0).isoformat() + "Z", "actor": entry.actor,
               "action": entry.action, "subject": entry.subject, "before": entry.before, "after": entry.after,
               "note": entry.note}
