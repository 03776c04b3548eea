"""Bulk inserts at the database's own speed: COPY on PostgreSQL, a driver executemany on SQLite.

A first import of the OFAC SDN list is ~15,000 designations and ~100,000
child rows.  Through SQLAlchemy's insert() each row's parameters are
processed one by one in Python (JSON and date types, compiled parameter
dicts), which cost more than the database itself; this module turns the
rows into plain tuples once and hands them to the driver:

- PostgreSQL: ``COPY table (columns) FROM STDIN`` through psycopg, one
  stream per table, in the caller's transaction;
- SQLite: one prepared ``INSERT`` run by ``sqlite3``'s executemany.

Values are converted to what SQLAlchemy itself would store, so rows read
back through the models exactly as before: JSON columns as ``json.dumps``
text, dates as ISO strings, booleans as 1/0 on SQLite.  ``reserve_ids``
hands out primary keys before the insert, so the caller can write child
rows without reading the new ids back.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import JSON, Boolean, Connection, Date, Table, text


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
        return lambda v: v.isoformat() if isinstance(v, dt.date) else v
    if isinstance(column_type, Boolean) and dialect == "sqlite":
        return lambda v: None if v is None else int(bool(v))
    return None


def _tuples(table: Table, columns: Sequence[str], rows: Iterable[dict[str, Any]],
            dialect: str) -> list[tuple[Any, ...]]:
    converters = [_converter(table.c[name].type, dialect) for name in columns]
    if not any(converters):
        return [tuple(row[name] for name in columns) for row in rows]
    out = []
    for row in rows:
        values = []
        for name, convert in zip(columns, converters):
            value = row[name]
            values.append(convert(value) if convert is not None and value is not None else value)
        out.append(tuple(values))
    return out


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


def insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys) into table, in the connection's transaction."""
    if not rows:
        return
    columns = list(rows[0])
    dialect = connection.dialect.name
    defaults = _python_defaults(table, columns)
    if defaults:
        rows = [{**defaults, **row} for row in rows]
        columns += list(defaults)
    values = _tuples(table, columns, rows, dialect)
    quoted = ", ".join(f'"{name}"' for name in columns)
    if dialect == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in values:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns) if dialect == "sqlite" else \
        ", ".join("%s" for _ in columns)
    connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({placeholders})', values)


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
