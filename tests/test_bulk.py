"""The bulk writer: rows written through the driver read back through SQLAlchemy exactly as if it had written them."""
from __future__ import annotations

import datetime as dt
import threading

from contextlib import nullcontext

import pytest
from sqlalchemy import (JSON, Boolean, Column, Date, DateTime, Integer, MetaData, Table, Text, exc, func, inspect,
                        select, text)

from sanctions import bulk, db


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


def test_times_are_stored_as_sqlalchemy_stores_them(engine):
    table = Table("bulk_times", MetaData(), Column("id", Integer, primary_key=True), Column("at", DateTime))
    table.create(engine)
    moments = [dt.datetime(2026, 12, 7, 12, 0, 0), dt.datetime(2026, 12, 7, 9, 30, 5, 123456)]
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": 1, "at": moments[0]}, {"id": 2, "at": moments[1]}])
        bulk.insert(conn, table, [{"id": 3, "at": moments[0]}, {"id": 4, "at": moments[1]}])
    with engine.connect() as conn:
        read = dict(conn.execute(select(table.c.id, table.c.at)).all())
        # Compared as stored: times written either way must order and match alike in SQL.
        same = conn.execute(select(func.count()).select_from(table.alias("a").join(
            table.alias("b"), text("a.at = b.at AND a.id < b.id")))).scalar()
    assert read == {1: moments[0], 2: moments[1], 3: moments[0], 4: moments[1]}
    assert same == 2


def test_emptied_for_load_keeps_the_indexes_and_rolls_back_whole(engine):
    metadata = MetaData()
    table = Table("bulk_keys", metadata, Column("id", Integer, primary_key=True), Column("key", Text, index=True))
    table.create(engine)
    with engine.begin() as conn:
        bulk.insert(conn, table, [{"id": i, "key": f"old {i}"} for i in range(5)])

    def indexes():
        return [ix["name"] for ix in inspect(engine).get_indexes("bulk_keys")]

    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            with bulk.emptied_for_load(conn, table):
                bulk.insert(conn, table, [{"id": 10, "key": "half-written"}])
                raise RuntimeError("the load fails half-way")
    with engine.connect() as conn:
        assert conn.execute(select(table.c.key).order_by(table.c.id)).scalars().all() == [f"old {i}" for i in range(5)]
    assert indexes() == ["ix_bulk_keys_key"]

    with engine.begin() as conn:
        with bulk.emptied_for_load(conn, table):
            bulk.insert(conn, table, [{"id": i, "key": f"new {i}"} for i in range(3)])
    with engine.connect() as conn:
        assert conn.execute(select(table.c.key).where(table.c.key == "new 2")).scalars().all() == ["new 2"]
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 3
    assert indexes() == ["ix_bulk_keys_key"]


def test_emptied_for_load_builds_the_indexes_when_told_the_table_is_loaded(engine):
    """A full match says when its keys are loaded, so that the indexes are built while it goes on."""
    metadata = MetaData()
    table = Table("bulk_keys", metadata, Column("id", Integer, primary_key=True), Column("key", Text, index=True))
    table.create(engine)
    sqlite = engine.dialect.name == "sqlite"
    for background in (False, True):
        with engine.begin() as conn:
            with bulk.emptied_for_load(conn, table) as build_indexes, \
                    (bulk.sqlite_background_writes(conn) if background else nullcontext()):
                assert [ix["name"] for ix in inspect(conn).get_indexes("bulk_keys")] == \
                    ([] if sqlite else ["ix_bulk_keys_key"])  # PostgreSQL keeps them
                bulk.insert(conn, table, [{"id": i, "key": f"new {i}"} for i in range(3)])
                build_indexes()  # on the writer thread, after the rows queued before it
                bulk.insert(conn, table, [{"id": 3, "key": "new 3"}])
                assert [ix["name"] for ix in inspect(conn).get_indexes("bulk_keys")] == ["ix_bulk_keys_key"]
                assert conn.execute(select(table.c.id).where(table.c.key == "new 3")).scalars().all() == [3]
        assert [ix["name"] for ix in inspect(engine).get_indexes("bulk_keys")] == ["ix_bulk_keys_key"]


def test_emptied_for_load_builds_only_the_indexes_that_were_there(engine):
    table = Table("bulk_unindexed", MetaData(), Column("id", Integer, primary_key=True), Column("key", Text))
    table.create(engine)
    declared = Table("bulk_unindexed", MetaData(), Column("id", Integer, primary_key=True),
                     Column("key", Text, index=True))  # the model declares an index the database lacks
    with engine.begin() as conn:
        with bulk.emptied_for_load(conn, declared):
            bulk.insert(conn, declared, [{"id": 1, "key": "k"}])
    assert inspect(engine).get_indexes("bulk_unindexed") == []


def numbered_table() -> Table:
    return Table("bulk_numbers", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer),
                 Column("label", Text))


def test_background_writes_keep_the_order_of_every_statement(engine, monkeypatch):
    """Inserts from a writer thread, an update and a read of the same connection in between:
    each statement sees what was issued before it, and the scope ends with every row written."""
    monkeypatch.setattr(bulk, "SQLITE_ROWS_PER_STATEMENT", 7)  # many statements in the queue
    table = numbered_table()
    table.create(engine)
    inserted_by = set()
    with engine.begin() as conn:
        conn.execute(table.insert().values(id=1, n=0, label="first"))
        if engine.dialect.name == "sqlite":
            conn.connection.driver_connection.set_trace_callback(
                lambda sql: inserted_by.add(threading.current_thread().name) if "bulk_numbers" in sql
                and sql.startswith("INSERT") else None)
        with bulk.sqlite_background_writes(conn):
            bulk.insert(conn, table, ({"id": i, "n": i, "label": None} for i in range(2, 500)))
            # Issued after the inserts, so it must see every one of them.
            conn.execute(table.update().where(table.c.n % 2 == 0).values(label="even"))
            evens = conn.execute(select(func.count()).where(table.c.label == "even")).scalar()
            assert evens == 250  # n = 0, 2, ..., 498
            bulk.insert(conn, table, [{"id": i, "n": i, "label": "late"} for i in range(500, 1000)])
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 999
        assert bulk._WRITER not in conn.info
        if engine.dialect.name == "sqlite":
            conn.connection.driver_connection.set_trace_callback(None)
    # On SQLite every bulk insert ran on the writer thread.
    assert inserted_by == ({"sqlite-bulk-writer"} if engine.dialect.name == "sqlite" else set())
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(table.c.label == "late")).scalar() == 500
    assert not [t for t in threading.enumerate() if t.name == "sqlite-bulk-writer"]


def test_a_failed_background_insert_is_raised_naming_its_statement(engine, monkeypatch):
    monkeypatch.setattr(bulk, "SQLITE_ROWS_PER_STATEMENT", 10)
    table = numbered_table()
    table.create(engine)
    run = []
    if engine.dialect.name == "sqlite":
        original = bulk._BackgroundWriter._run

        def counted(writer):
            execute = writer.driver.execute
            writer.driver = type("Counted", (), {"execute": lambda self, *a: run.append(a[0]) or execute(*a)})()
            original(writer)
        monkeypatch.setattr(bulk._BackgroundWriter, "_run", counted)
    # SQLAlchemy's error from the writer thread, the driver's own from PostgreSQL's COPY.
    error = exc.IntegrityError if engine.dialect.name == "sqlite" else Exception
    with pytest.raises(error, match="(?i)unique|duplicate key") as raised:
        with engine.begin() as conn:
            conn.execute(table.insert().values(id=1, n=0))
            with bulk.sqlite_background_writes(conn):
                # Row 60 repeats key 57: its statement (rows 52 to 61) fails; what comes after is not run.
                bulk.insert(conn, table, ({"id": 57 if i == 60 else i, "n": i, "label": None} for i in range(2, 80)))
                bulk.insert(conn, table, [{"id": i, "n": i, "label": None} for i in range(100, 200)])
    if engine.dialect.name == "sqlite":
        assert 'INSERT INTO "bulk_numbers"' in str(raised.value)
        assert len(run) == 6  # rows 2-11, ..., 42-51, and the failing 52-61: nothing after
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 0
    assert not [t for t in threading.enumerate() if t.name == "sqlite-bulk-writer"]


@pytest.mark.parametrize("end, kept", [("commit", 2999), ("rollback", 0)])
def test_a_transaction_ended_inside_takes_or_drops_what_is_queued(engine, end, kept):
    """A commit inside the scope includes every queued insert, a rollback skips them; on SQLite an
    insert after either is refused (it would run outside any transaction)."""
    table = numbered_table()
    table.create(engine)
    ended = {"commit": "committed", "rollback": "rolled back"}[end]
    with engine.connect() as conn:
        conn.begin()
        conn.execute(table.insert().values(id=1, n=0))
        with pytest.raises(RuntimeError, match=ended):
            with bulk.sqlite_background_writes(conn):
                bulk.insert(conn, table, [{"id": i, "n": i, "label": None} for i in range(2, 3000)])
                getattr(conn, end)()
                bulk.insert(conn, table, [{"id": 5000, "n": 0, "label": None}])
                if engine.dialect.name == "postgresql":
                    raise RuntimeError(ended)  # PostgreSQL inserts are not queued: nothing to refuse
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(table.c.id < 5000)).scalar() == kept


def test_background_writes_only_inside_an_open_transaction_on_a_database_file(engine, tmp_path):
    """Outside a transaction (SQLite's schema changes and locks would not be the caller's), on an
    in-memory database (its connection stays with its thread), and on PostgreSQL (its COPY streams
    to the server's process already), inserts run in the caller, as always."""
    table = numbered_table()
    table.create(engine)
    with engine.connect() as conn:
        with bulk.sqlite_background_writes(conn):
            assert bulk._WRITER not in conn.info
    with engine.begin() as conn:
        with bulk.sqlite_background_writes(conn):
            assert (bulk._WRITER in conn.info) == (engine.dialect.name == "sqlite")
            with bulk.sqlite_background_writes(conn):  # nested: the same writer, still in place after
                pass
            assert (bulk._WRITER in conn.info) == (engine.dialect.name == "sqlite")
    memory = db.connect("sqlite://")
    table.create(memory)
    with memory.begin() as conn:
        with bulk.sqlite_background_writes(conn):
            assert bulk._WRITER not in conn.info
            bulk.insert(conn, table, [{"id": i, "n": i, "label": None} for i in range(1, 2000)])
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 1999
