"""Named writer locks that work on SQLite and PostgreSQL.

Every write path takes the lock it needs before it writes: an import takes
``import:<source>``, a match ``match``, a refresh ``refresh``.  A second
writer waits up to ``timeout`` seconds, then gets ``LockTimeout`` with a
message naming the lock, which the CLI prints as a one-line error.

- PostgreSQL: a session-level advisory lock on a dedicated connection, keyed
  by the lock name and the schema (two registries in one database do not
  block each other).  A killed process loses its connection and so its lock.
- SQLite: an exclusive ``flock`` on a file beside the database
  (``<db>.<name>.lock``); the kernel releases it when the process dies.  An
  in-memory database needs no lock (one process only).

An import also takes ``match`` around its write transaction (not while it
downloads and parses), so an import and a match or a review decision never
interleave their writes: the store always ends as one of the serial orders.
Lock order is always ``import:<source>`` then ``match``.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from typing import Iterator

from sqlalchemy import Engine, text

POLL = 0.1


def default_timeout() -> float:
    """Seconds a writer waits for another: ``$SANCTIONS_LOCK_TIMEOUT``, else 120 (a full match takes ~25 s)."""
    try:
        return float(os.environ.get("SANCTIONS_LOCK_TIMEOUT", "120"))
    except ValueError:
        raise LockTimeout(f"SANCTIONS_LOCK_TIMEOUT must be a number of seconds, not "
                          f"{os.environ['SANCTIONS_LOCK_TIMEOUT']!r}") from None


DEFAULT_TIMEOUT = None  # hold() uses default_timeout() when given None


class LockTimeout(Exception):
    """Another writer held the lock for longer than the caller would wait."""


def _pg_key(name: str, schema: str) -> int:
    digest = hashlib.sha256(f"{schema}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _sqlite_lock_path(engine: Engine, name: str) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return f"{os.path.abspath(database)}.{safe}.lock"


# Locks this thread holds, so that a stage called under a lock its caller already took (the refresh
# runs an import that takes 'match' for its writes, say) does not wait for itself.
_held = threading.local()


@contextlib.contextmanager
def hold(engine: Engine, name: str, timeout: float | None = DEFAULT_TIMEOUT, what: str | None = None
         ) -> Iterator[None]:
    """Hold the named lock for the duration of the block (waiting at most ``timeout`` s).

    Re-entrant within one thread: an inner ``hold`` of a lock the thread
    already holds (same database, same name) passes straight through.
    """
    held = _held.__dict__.setdefault("names", set())
    key = (engine.url.render_as_string(hide_password=False), name)
    if key in held:
        yield
        return
    held.add(key)
    try:
        with _acquire(engine, name, timeout, what):
            yield
    finally:
        held.discard(key)


def _busy(what: str, name: str, timeout: float) -> LockTimeout:
    return LockTimeout(f"{what} is busy: another process has held the '{name}' lock for more than {timeout:g} s; "
                       f"try again later")


@contextlib.contextmanager
def _acquire(engine: Engine, name: str, timeout: float | None, what: str | None) -> Iterator[None]:
    what = what or name
    timeout = default_timeout() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            schema = connection.execute(text("select current_schema()")).scalar() or "public"
            key = _pg_key(name, schema)
            connection.commit()
            while not connection.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                connection.commit()
                if time.monotonic() >= deadline:
                    raise _busy(what, name, timeout)
                time.sleep(POLL)
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()
        return
    path = _sqlite_lock_path(engine, name)
    if path is None:
        yield
        return
    with open(path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(what, name, timeout) from None
                time.sleep(POLL)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
