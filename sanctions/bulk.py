"""Bulk inserts at the database's own speed: COPY on PostgreSQL, multi-row INSERTs on SQLite.

A first import of the OFAC SDN list is ~15,000 designations and ~100,000
child rows.  Through SQLAlchemy's insert() each row's parameters are
processed one by one in Python (JSON and date types, compiled parameter
dicts), which cost more than the database itself; this module turns the
rows into plain tuples once and hands them to the driver:

- PostgreSQL: ``COPY table (columns) FROM STDIN`` through psycopg, one
  stream per table, in the caller's transaction;
- SQLite: multi-row ``INSERT ... VALUES (...), (...)`` statements of up to
  1,000 rows through the ``sqlite3`` cursor (see SQLITE_ROWS_PER_STATEMENT),
  executed on a writer thread while the next rows are built where the caller
  asks for it (``sqlite_background_writes``).

Values are converted to what SQLAlchemy itself would store, so rows read
back through the models exactly as before: JSON columns as ``json.dumps``
text, dates as ISO strings, booleans as 1/0 on SQLite.  ``reserve_ids``
hands out primary keys before the insert, so the caller can write child
rows without reading the new ids back.
"""
from __future__ import annotations

import datetime as dt
import json
import queue
import sqlite3
import threading
from contextlib import contextmanager, suppress
from itertools import chain, islice
from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import JSON, Boolean, Connection, Date, DateTime, Index, Table, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex


_encode = json.JSONEncoder().encode  # what json.dumps does, without re-checking its options per value


class Encoded(str):
    """JSON text the caller has encoded already (for its hash): stored as it is."""


def _json(value: Any) -> str:
    if isinstance(value, Encoded):
        return value
    # Most list and dict columns of a row are empty: skip the encoder for those.
    if not value and isinstance(value, (list, dict)):
        return "[]" if isinstance(value, list) else "{}"
    return _encode(value)


def _converter(column_type: Any, dialect: str) -> Callable[[Any], Any] | None:
    if isinstance(column_type, JSON):
        return _json
    if isinstance(column_type, Date):
        return lambda v: v.isoformat() if isinstance(v, dt.date) else v  # ISO text passes as it is
    if isinstance(column_type, Boolean) and dialect == "sqlite":
        return lambda v: None if v is None else int(bool(v))
    if isinstance(column_type, DateTime) and dialect == "sqlite":
        # SQLAlchemy's own text form on SQLite (microseconds always written), so stored
        # times sort and compare alike whichever way they were written.
        return lambda v: v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, dt.datetime) else v
    return None


def _tuples(table: Table, columns: Sequence[str], rows: Iterable[dict[str, Any]],
            dialect: str) -> Iterator[tuple[Any, ...]]:
    """The rows as driver tuples, one at a time (a COPY sends each as it comes)."""
    # itemgetter pulls a row's values in C; only the few JSON and date columns
    # are then touched in Python (this loop runs for ~150,000 rows of a first import).
    getter = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    converted = [(i, convert) for i, convert in
                 enumerate(_converter(table.c[name].type, dialect) for name in columns) if convert]
    if not converted:
        yield from map(getter, rows)
        return
    for row in rows:
        values = list(getter(row))
        for i, convert in converted:
            value = values[i]
            if value is not None:
                values[i] = convert(value)
        yield tuple(values)


def _python_defaults(table: Table, given: Sequence[str]) -> dict[str, Any]:
    """Python-side defaults of the columns not given (SQLAlchemy applies these itself, a driver does not)."""
    defaults = {}
    for column in table.c:
        default = column.default
        if column.name in given or default is None or column.primary_key:
            continue
        if default.is_scalar:
            defaults[column.name] = default.arg
        elif default.is_callable:
            defaults[column.name] = default.arg(None)
    return defaults


def insert(connection: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys) into table, in the connection's transaction.

    ``rows`` may be a generator: on PostgreSQL each row is then built while the
    server works on the ones already sent.
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    rows = chain((first,), rows)
    columns = list(first)
    dialect = connection.dialect.name
    defaults = _python_defaults(table, columns)
    if defaults:
        rows = ({**defaults, **row} for row in rows)
        columns += list(defaults)
    values = _tuples(table, columns, rows, dialect)
    quoted = ", ".join(f'"{name}"' for name in columns)
    if dialect == "postgresql":
        # Rows are converted as the COPY streams, so the server's work on the first
        # ones (JSON checks, indexes, triggers) overlaps with converting the rest.
        with connection.connection.driver_connection.cursor() as cursor:
            with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
                for row in values:
                    copy.write_row(row)
        return
    if dialect == "sqlite":
        _sqlite_insert(connection, table.name, quoted, len(columns), values)
        return
    placeholders = ", ".join("%s" for _ in columns)
    connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({placeholders})', list(values))


def sqlite_transaction_open(connection: Connection) -> bool:
    """Whether this is SQLite inside an open transaction, where a schema change (dropping an
    index or a trigger for a bulk load) is part of the transaction and undone with it.

    ``db.connect`` begins SQLite transactions explicitly, so the driver's own flag is true.
    """
    return connection.dialect.name == "sqlite" and connection.connection.driver_connection.in_transaction


@contextmanager
def emptied_for_load(connection: Connection, table: Table) -> Iterator[Callable[[], None]]:
    """Empty a table for a bulk load; on SQLite, load it without its indexes, then build them once.

    Building an index from the loaded rows is a sort; keeping it up to date row by
    row is a random insert into a B-tree each time: the 229,000 match keys of the
    real lists took 1.03 s with their two indexes, 0.43 s without them and then
    built.  Emptying goes the same way: with foreign keys on, SQLite deletes a
    child table's rows one by one (0.47 s for those keys), 0.10 s once the indexes
    are gone.

    Yields ``build_indexes()``: the caller may call it once the table is loaded,
    to have the indexes built then rather than at the end of the block (a full
    match builds them while its workers still score).  Inside
    ``sqlite_background_writes`` they are built on the writer thread, after the
    rows queued before, while the caller goes on.  Rows written after it are
    indexed one by one, as usual.

    Only the indexes the database has are dropped and built again, and only inside
    an open transaction (``db.connect`` begins one explicitly): SQLite's schema
    changes are then part of it, so when the caller rolls back, the table and its
    indexes are as they were, and readers (in WAL mode) keep their snapshot
    meanwhile.  On PostgreSQL the rows are only deleted: dropping an index there
    would lock the table against readers (screening reads the match keys) until
    the transaction ends.
    """
    dropped: list[Index] = []
    if sqlite_transaction_open(connection):
        present = {index["name"] for index in inspect(connection).get_indexes(table.name)}
        dropped = [index for index in table.indexes if index.name in present]
        for index in dropped:
            index.drop(connection)
    connection.execute(table.delete())

    def build_indexes() -> None:
        writer = connection.info.get(_WRITER)
        while dropped:
            if writer is not None:
                writer.submit(str(CreateIndex(dropped[0]).compile(dialect=connection.dialect)), ())
            else:
                dropped[0].create(connection)
            dropped.pop(0)

    yield build_indexes
    build_indexes()


# Rows per SQLite statement.  An executemany runs one statement per row, and
# the FTS5 index that triggers keep on search_entry flushes its pending terms
# at the end of every statement: 92,000 entries took 2.0 s that way, 0.55 s
# as multi-row VALUES of 1,000 rows (names with their search-queue trigger:
# 0.22 s -> 0.13 s).  Larger statements gain little and cost memory.
SQLITE_ROWS_PER_STATEMENT = 1000


def _sqlite_insert(connection: Connection, name: str, quoted: str, width: int,
                   values: Iterator[tuple[Any, ...]]) -> None:
    # The build's limit on parameters per statement (32,766 by default, 999 before SQLite 3.32).
    limit = connection.connection.driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(SQLITE_ROWS_PER_STATEMENT, limit // width))
    writer = connection.info.get(_WRITER)
    # Through SQLAlchemy (not the raw cursor), so that its BEGIN has been issued for this
    # transaction; a background writer exists only inside an open one.
    execute = writer.submit if writer is not None else connection.exec_driver_sql
    row = "(" + ", ".join("?" * width) + ")"
    full = f'INSERT INTO "{name}" ({quoted}) VALUES {", ".join([row] * per)}'
    values = iter(values)
    while chunk := list(islice(values, per)):
        # Full statements have the same text each time, so sqlite3's statement cache prepares it once.
        sql = full if len(chunk) == per else f'INSERT INTO "{name}" ({quoted}) VALUES {", ".join([row] * len(chunk))}'
        execute(sql, tuple(chain.from_iterable(chunk)))


_WRITER = "bulk_background_writer"  # key of a connection's background writer in ``connection.info``


class _BackgroundWriter:
    """A thread that runs one SQLite connection's bulk INSERTs in the order they come.

    sqlite3 lets go of Python's lock while SQLite executes a statement (its
    B-trees, indexes and triggers), so the caller builds the next rows
    meanwhile.  Statements wait in a short queue (a few thousand rows at most).
    After a failure, or once abandoned, the rest are skipped; a failure is
    raised to the caller at its next insert or wait, as SQLAlchemy raises a
    driver's error, naming the statement that failed.
    """

    def __init__(self, driver: sqlite3.Connection) -> None:
        self.driver = driver
        self.pending: queue.Queue = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.abandoned = False  # queued statements are skipped from now on
        self.ended: str | None = None  # how the transaction ended inside the scope (no insert may follow)
        self.thread = threading.Thread(target=self._run, name="sqlite-bulk-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.pending.get()
            try:
                if item is None:
                    return
                if self.error is None and not self.abandoned:
                    self.driver.execute(*item)
            except sqlite3.Error as error:
                self.error = DBAPIError.instance(item[0], None, error, sqlite3.Error, hide_parameters=True)
            except BaseException as error:
                self.error = error
            finally:
                self.pending.task_done()

    def submit(self, sql: str, parameters: tuple) -> None:
        self._raise_failure()
        if self.ended:
            raise RuntimeError(f"bulk insert after its transaction was {self.ended}")
        self.pending.put((sql, parameters))

    def wait(self) -> None:
        """Until every statement submitted has run; raises the first failure."""
        self.pending.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self.error is not None:
            raise self.error

    def stop(self, abandon: bool) -> None:
        """End the thread; with ``abandon``, statements still queued are skipped."""
        self.abandoned = self.abandoned or abandon
        self.pending.put(None)
        self.thread.join()


def _threads_may_share(connection: Connection) -> bool:
    """Whether the driver connection may be used from another thread: SQLAlchemy allows it
    for a database file, not for an in-memory database (``check_same_thread`` stays on)."""
    url = connection.engine.url
    return bool(url.database) and url.database != ":memory:" and url.query.get("mode") != "memory"


@contextmanager
def sqlite_background_writes(connection: Connection) -> Iterator[None]:
    """Inside, this connection's bulk inserts run on a writer thread while the caller goes on.

    On SQLite, executing a first import's inserts (rows into B-trees and
    indexes, the search queue's triggers) takes longer than building the rows
    in Python; the two now overlap.  Anything else on the connection inside (an
    update, a query, an ORM flush, a commit) first waits until every submitted
    insert has run, so statements run in the order the caller issued them; a
    rollback skips what is still queued.  The scope ends only when every insert
    has run, or, when it ends with an error, once the thread is done (so that
    nothing runs while the caller rolls back).  Inside, fork nothing and use
    the driver connection only through SQLAlchemy.

    Only in an open SQLite transaction on a database file
    (``sqlite_transaction_open``); elsewhere, and on PostgreSQL (whose COPY
    already streams to the server's own process), it changes nothing.
    """
    if not (sqlite_transaction_open(connection) and _threads_may_share(connection)) or _WRITER in connection.info:
        yield
        return
    writer = _BackgroundWriter(connection.connection.driver_connection)
    info = connection.info  # kept: an interrupted connection is invalidated and refuses .info

    def wait_for_writer(*_args: Any) -> None:
        try:
            writer.wait()
        except BaseException:
            writer.abandoned = True  # what is still queued is not run: the caller is failing
            raise

    def commit_all(*_args: Any) -> None:
        wait_for_writer()
        writer.ended = "committed"  # later inserts would run outside any transaction

    def skip_the_rest(*_args: Any) -> None:
        writer.abandoned, writer.ended = True, "rolled back"
        writer.pending.join()  # the statement running now ends before the rollback starts

    listeners = [("before_cursor_execute", wait_for_writer), ("commit", commit_all),
                 ("rollback", skip_the_rest)]
    info[_WRITER] = writer
    for name, listener in listeners:
        event.listen(connection, name, listener)
    failed = True
    try:
        yield
        writer.wait()
        failed = False
    finally:
        writer.stop(abandon=failed)  # first: the thread must be done before anyone rolls back
        info.pop(_WRITER, None)
        for name, listener in listeners:
            with suppress(Exception):  # a connection invalidated by an interrupt may refuse
                event.remove(connection, name, listener)


def reserve_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` unused primary keys of table, safe to insert explicitly in this transaction.

    PostgreSQL draws them from the column's sequence, so concurrent writers
    never collide.  SQLite allows one writer at a time and the caller has
    already written in this transaction (the import run), so the database is
    locked for it and max(id)+1.. cannot be taken by anyone else.
    """
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        result = connection.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": count})
        return [row[0] for row in result]
    start = connection.execute(text(f'SELECT coalesce(max(id), 0) FROM "{table.name}"')).scalar_one()
    return list(range(start + 1, start + 1 + count))
