"""The bulk writer: rows written through the driver read back through SQLAlchemy exactly as if it had written them."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Column, Date, Integer, MetaData, Table, Text, select

from sanctions import bulk


def probe_table() -> Table:
    return Table("bulk_probe", MetaData(), Column("id", Integer, primary_key=True), Column("name", Text),
                 Column("day", Date), Column("flag", Boolean, default=False), Column("tags", JSON, default=list),
                 Column("doc", JSON))


def test_rows_round_trip_on_both_databases(engine):
    table = probe_table()
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert().values(name="written by SQLAlchemy"))  # and now holds SQLite's write lock
        ids = bulk.reserve_ids(conn, table, 3)
        bulk.insert(conn, table, [
            {"id": ids[0], "name": "Zoë \"quoted\"\ttab", "day": dt.date(1961, 5, 14), "flag": True,
             "tags": ["a", "b"], "doc": {"nested": {"x": 1}, "text": "Иван"}},
            {"id": ids[1], "name": None, "day": "1970-01-31", "flag": False, "tags": [], "doc": None},
        ])
        # flag and tags left out: their Python-side defaults apply, as SQLAlchemy would apply them.
        bulk.insert(conn, table, [{"id": ids[2], "name": "defaults", "day": None,
                                   "doc": bulk.Encoded('{"pre":"encoded"}')}])
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.id)).all()
    assert len(set(ids)) == 3 and min(ids) > 1
    assert [tuple(r) for r in rows[1:]] == [
        (ids[0], "Zoë \"quoted\"\ttab", dt.date(1961, 5, 14), True, ["a", "b"], {"nested": {"x": 1}, "text": "Иван"}),
        (ids[1], None, dt.date(1970, 1, 31), False, [], None),
        (ids[2], "defaults", None, False, [], {"pre": "encoded"}),
    ]


def test_reserved_ids_do_not_collide_with_later_inserts(engine):
    table = probe_table()
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert().values(name="first"))
        ids = bulk.reserve_ids(conn, table, 5)
        bulk.insert(conn, table, [{"id": i, "name": f"bulk {i}"} for i in ids])
    with engine.begin() as conn:
        conn.execute(table.insert().values(name="after"))  # the database picks the id itself
    with engine.connect() as conn:
        names = dict(conn.execute(select(table.c.id, table.c.name)).all())
    assert len(names) == 7 and sorted(names.values()).count("after") == 1
