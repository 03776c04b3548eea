"""Turning any failure into one line for the user, with the details in a log file.

The CLI catches every exception at its entry (``cli.main``) and prints the
line this module writes: a user never sees a traceback, whatever went wrong.
Expected failures (a database that cannot be opened, a busy writer lock, a
value too long for a column, a broken audit chain) get a message naming the
cause; anything else is an internal error whose traceback goes to the log
(``$SANCTIONS_LOG``, else ``sanctions-errors.log`` in the working directory).
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
import traceback
from pathlib import Path

from sqlalchemy import exc as sa_exc

from sanctions.audit import AuditChainBroken
from sanctions.config import ConfigError
from sanctions.db import DatabaseUnavailable
from sanctions.locks import LockTimeout

LOG_NAME = "sanctions-errors.log"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def log_path() -> Path:
    return Path(os.environ.get("SANCTIONS_LOG") or LOG_NAME)


def write_log(exc: BaseException) -> Path:
    """Append the traceback to the log; falls back to the temp folder if the working one is read-only."""
    text = (f"--- {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')} ---\n"
            + "".join(traceback.format_exception(exc)))
    for path in (log_path(), Path(tempfile.gettempdir()) / LOG_NAME):
        try:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(text)
            return path.absolute()
        except OSError:
            continue
    return log_path()


def describe(exc: BaseException) -> str:
    """One line for the user, naming the cause."""
    if isinstance(exc, (DatabaseUnavailable, LockTimeout, AuditChainBroken, ConfigError)):
        return str(exc)
    if isinstance(exc, sa_exc.DBAPIError):
        reason = _first_line(exc.orig) if exc.orig is not None else _first_line(exc)
        if isinstance(exc, sa_exc.OperationalError) and "locked" in reason:
            return ("the database is busy: another process held its write lock for too long "
                    f"({reason}); nothing was changed, try again later")
        if isinstance(exc, sa_exc.DataError):
            return f"a value does not fit the database ({reason}); nothing was changed"
        if isinstance(exc, sa_exc.IntegrityError):
            return f"the database refused the change ({reason}); nothing was changed"
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return f"database error: {reason}; nothing was changed"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot access{where}: {exc.strerror or _first_line(exc)}"
    path = write_log(exc)
    return f"internal error: {type(exc).__name__}: {_first_line(exc)}; details in the log {path}"
