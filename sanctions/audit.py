"""The audit log: every officer decision and every automatic re-review flag, append-only and hash-chained.

Only ``append`` writes to it.  The database refuses updates and deletes
(triggers of migration 0003) and, on PostgreSQL, TRUNCATE (migration 0005).
Triggers can be dropped by whoever owns the table, so each entry also stores
``entry_hash`` = SHA-256 over its own content and the previous entry's hash
(``prev_hash``), and a one-row ``audit_head`` records how many entries the
chain has and the last hash.  ``verify`` recomputes the chain and names the
first entry that was altered, deleted, inserted or back-dated, and a log
that was cut short or emptied.  ``append`` checks the tail on every call
and the whole chain once per session, and refuses to extend a broken chain,
so tampering cannot be buried under new entries.

What the chain cannot catch on its own: someone who can write the database
*and* recompute every later hash and the head.  Against that, run the
application under a role that owns no tables (README), and keep the head
hash that ``sanctions audit verify`` prints somewhere outside the database.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sanctions.models import AuditEntry, AuditHead

GENESIS = "0" * 64
ACTOR_MAX = 200  # audit_log.actor is VARCHAR(200): PostgreSQL refuses longer, SQLite would store it
ACTION_MAX = 32


class AuditChainBroken(Exception):
    """The log was changed outside the application; nothing more is appended until it is investigated."""


def entry_hash(entry_id: int, at: dt.datetime, actor: str, action: str, subject: str, before: Any, after: Any,
               note: str | None, prev_hash: str) -> str:
    """SHA-256 over one entry's content and its predecessor's hash, in a canonical JSON form.

    Canonical (sorted keys, fixed separators, ISO time with microseconds) so
    that SQLite and PostgreSQL, which return JSON and times in their own
    ways, give the same digest for the same entry.
    """
    payload = json.dumps({"id": entry_id, "at": at.isoformat(timespec="microseconds"), "actor": actor,
                          "action": action, "subject": subject, "before": before, "after": after, "note": note,
                          "prev": prev_hash}, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                         default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _hash_of(entry: AuditEntry) -> str:
    return entry_hash(entry.id, entry.at, entry.actor, entry.action, entry.subject, entry.before, entry.after,
                      entry.note, entry.prev_hash or "")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def check_actor(actor: str) -> None:
    """Refuse an actor name the log cannot store on every database (before anything is written)."""
    if not actor or not actor.strip():
        raise ValueError("the officer's name (--by) is empty")
    if len(actor) > ACTOR_MAX:
        raise ValueError(f"the officer's name (--by) is {len(actor)} characters long; at most {ACTOR_MAX}")


def _check_tail(session: Session, head: AuditHead) -> AuditEntry | None:
    """The last entry, after checking it is the one the head records and is intact."""
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    count = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    if count != head.entries:
        raise AuditChainBroken(f"the audit log holds {count} entries but its chain head records {head.entries}; "
                               f"entries were deleted or added outside the application "
                               f"(run 'sanctions audit verify'); nothing appended")
    if last is None:
        return None
    if last.id != head.last_id or last.entry_hash != head.last_hash or _hash_of(last) != last.entry_hash:
        raise AuditChainBroken(f"the audit log's last entry {last.id} does not match its chain head; the log was "
                               f"changed outside the application (run 'sanctions audit verify'); nothing appended")
    return last


def append(session: Session, actor: str, action: str, subject: str, before: dict | None, after: dict | None,
           note: str | None = None) -> AuditEntry:
    """Append one entry to the chain in the caller's transaction (which must commit it).

    Locks the chain head first (PostgreSQL row lock; SQLite has one writer),
    so two appenders never chain onto the same predecessor.
    """
    check_actor(actor)
    if len(action) > ACTION_MAX:
        raise ValueError(f"audit action {action!r} is longer than {ACTION_MAX} characters")
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        raise AuditChainBroken("the audit log's chain head is missing; the log was changed outside the "
                               "application (run 'sanctions audit verify'); nothing appended")
    last = _check_tail(session, head)
    if not session.info.get("audit_chain_verified"):
        # The whole chain once per session (one writing command), the tail on every append: an entry
        # forged anywhere stops the next command from appending, at the cost of one pass per command.
        result = verify(session)
        if not result.ok:
            raise AuditChainBroken(f"the audit log is broken: {result.problem} (see 'sanctions audit verify'); "
                                   f"nothing appended")
        session.info["audit_chain_verified"] = True
    at = _now()
    if last is not None and at < last.at:  # a clock stepped back must not look like a back-dated entry
        at = last.at
    prev = head.last_hash
    entry = AuditEntry(id=head.last_id + 1, at=at, actor=actor, action=action, subject=subject, before=before,
                       after=after, note=note, prev_hash=prev)
    entry.entry_hash = entry_hash(entry.id, at, actor, action, subject, before, after, note, prev)
    session.add(entry)
    head.entries += 1
    head.last_id = entry.id
    head.last_hash = entry.entry_hash
    session.flush()
    return entry


@dataclasses.dataclass
class Verification:
    """The outcome of ``verify``: ``problem`` is None when the chain is intact."""

    entries: int
    head_hash: str
    problem: str | None = None
    entry_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(session: Session) -> Verification:
    """Recompute the whole chain; report the first altered, missing, inserted or back-dated entry."""
    head = session.get(AuditHead, 1)
    seen = 0
    prev_hash, prev_id, prev_at = GENESIS, 0, None

    def broken(entry_id: int | None, problem: str) -> Verification:
        return Verification(seen, prev_hash, problem, entry_id)

    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)):
        if not entry.entry_hash or not entry.prev_hash:
            return broken(entry.id, f"entry {entry.id} has no chain hash: it was written outside the application")
        if _hash_of(entry) != entry.entry_hash:
            return broken(entry.id, f"entry {entry.id} was altered: its content no longer matches its hash")
        if entry.prev_hash != prev_hash:
            if entry.id > prev_id + 1:
                missing = f"{prev_id + 1}" if entry.id == prev_id + 2 else f"{prev_id + 1}-{entry.id - 1}"
                return broken(entry.id, f"entry {missing} is missing (deleted): entry {entry.id} does not follow "
                                        f"entry {prev_id or 'start'}")
            return broken(entry.id, f"entry {entry.id} was inserted or replaced: it does not chain onto entry "
                                    f"{prev_id or 'start'}")
        if prev_at is not None and entry.at < prev_at:
            return broken(entry.id, f"entry {entry.id} is back-dated: {entry.at.isoformat()} is earlier than "
                                    f"entry {prev_id}'s {prev_at.isoformat()}")
        seen += 1
        prev_hash, prev_id, prev_at = entry.entry_hash, entry.id, entry.at
    if head is None:
        return broken(None, "the chain head (audit_head) is missing: the log was changed outside the application")
    if seen < head.entries:
        return broken(prev_id + 1, f"the log ends after {seen} entries but the chain head records {head.entries} "
                                   f"(last {head.last_id}): entries were deleted from the end or the log was "
                                   f"truncated")
    if seen > head.entries or prev_hash != head.last_hash:
        return broken(prev_id, f"the log's last entry {prev_id} is not the chain head's {head.last_id}: entries "
                               f"were added outside the application")
    return Verification(seen, prev_hash)


def entries(session: Session, since: dt.date | None = None) -> Iterator[dict[str, Any]]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if since:
        stmt = stmt.where(AuditEntry.at >= dt.datetime.combine(since, dt.time()))
    for entry in session.scalars(stmt):
        yield {"id": entry.id, "at": entry.at.replace(microsecond=0).isoformat() + "Z", "actor": entry.actor,
               "action": entry.action, "subject": entry.subject, "before": entry.before, "after": entry.after,
               "note": entry.note}
