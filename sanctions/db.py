"""Database connection and schema upgrades.

``connect(url)`` returns an Engine whose schema is at the newest Alembic
revision: every command upgrades an empty or older database by itself, so
operators never run migrations by hand.  A database that cannot be opened
raises ``DatabaseUnavailable`` with a one-line reason (the CLI prints it).

SQLite runs in WAL mode (readers never wait for the writer) with a busy
timeout, and a write transaction can start with ``BEGIN IMMEDIATE``
(``writer(engine)``) so it waits for the write lock up front instead of
failing half-way when another writer committed since its first read.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, exc as sa_exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_URL = "sqlite:///sanctions.db"
MIGRATIONS = Path(__file__).parent / "migrations"
# Migration scripts are named after their revision (``0009_matching_config.py`` holds
# revision ``0009``), so the newest revision is known from the file names: a command on a
# database already there then needs neither Alembic nor a parse of the scripts (a quarter
# of a second or more of every command's start-up).  ``tests/test_db.py`` checks this
# against Alembic's own view of the scripts.
REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")
# How long a SQLite writer waits for another writer's transaction (seconds).
SQLITE_BUSY_TIMEOUT = float(os.environ.get("SANCTIONS_SQLITE_BUSY_TIMEOUT", "60"))


class DatabaseUnavailable(Exception):
    """The database cannot be opened or reached; the message says why, in one line."""


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown as given, minus anything after a colon-at
        return url.split("@")[-1] if "@" in url else url


def database_url(explicit: str | None = None) -> str:
    """``--db`` wins, then ``SANCTIONS_DB``, then a SQLite file in the working directory."""
    return explicit or os.environ.get("SANCTIONS_DB") or DEFAULT_URL


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets the web app read during an import.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
    cursor.close()
    # SQLAlchemy, not the sqlite3 module, decides where transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection) -> None:
    """BEGIN, or BEGIN IMMEDIATE for a connection of ``writer(engine)``."""
    immediate = connection.get_execution_options().get("sqlite_immediate")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The engine for a write transaction: on SQLite it takes the write lock at its start."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_immediate=True)
    return engine


def _check_sqlite_path(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().absolute().parent
        if not folder.is_dir():
            raise DatabaseUnavailable(f"cannot open the SQLite database {database}: the folder {folder} "
                                      f"does not exist")


def create(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        engine = create_engine(url, future=True)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError) as exc:
        raise DatabaseUnavailable(f"not a usable database URL {safe_url(url)!r}: {exc}; expected e.g. "
                                  f"sqlite:///sanctions.db or postgresql://user@host/dbname") from None
    except ImportError as exc:
        raise DatabaseUnavailable(f"the database driver for {safe_url(url)!r} is not installed: {exc}") from None
    if engine.dialect.name == "sqlite":
        _check_sqlite_path(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def head_revision() -> str | None:
    """The newest revision by the migration scripts' names (None if none is named so)."""
    revisions = [m[1] for m in map(REVISION_FILE.match, os.listdir(MIGRATIONS / "versions")) if m]
    return max(revisions, default=None)


def _stored_revision(engine: Engine) -> str | None:
    """The one schema revision the database records, in plain SQL (None for a new database,
    or for anything unusual, such as several revision rows: Alembic then decides)."""
    with engine.connect() as connection:
        if not connection.dialect.has_table(connection, "alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    stored = _stored_revision(engine)
    if stored is not None and stored == head_revision():
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        if MigrationContext.configure(connection).get_current_revision() == head:
            return
    # Two commands started at once on a new database would both create the tables: one upgrades, under
    # a lock, and the other finds the schema current when it gets the lock.
    from sanctions import locks  # here: locks is a leaf, but keep db importable without it at module level

    with locks.hold(engine, "schema-upgrade", what="the schema upgrade"), engine.begin() as connection:
        if MigrationContext.configure(connection).get_current_revision() == head:
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def connect(url: str | None = None) -> Engine:
    url = database_url(url)
    engine = create(url)
    try:
        upgrade(engine)
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        raise DatabaseUnavailable(f"cannot open the database {safe_url(url)}: {reason}") from None
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
