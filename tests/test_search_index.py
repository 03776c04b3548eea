"""The search entries an import writes from its records are the ones the commit hook writes from the stored rows."""
from __future__ import annotations

import contextlib
import shutil

import pytest

from sqlalchemy import text

from sanctions import imports, search_index
from tests.conftest import SAMPLES

SOURCES = [("us-sdn", "us"), ("eu", "eu/fsf.xml"), ("gb", "gb/ConList.csv"), ("ca", "ca/sema-lmes.xml"),
           ("un", "un/consolidated.xml")]


def entries(engine) -> list[tuple]:
    with engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(text(
            "SELECT d.key, e.field, e.kind, e.text, e.label FROM search_entry e "
            "JOIN designation d ON d.id = e.designation_id")))


def test_import_indexes_what_a_rebuild_from_the_stored_rows_would(engine):
    for source, path in SOURCES:
        run = imports.run_import(engine, source, str(SAMPLES / path), expected_minimum=None)
        assert run.status == "succeeded" and run.added
    written = entries(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM search_pending")).scalar() == 0
    with engine.begin() as conn:
        search_index.rebuild(conn)
    assert written and entries(engine) == written
    # The text search sees them too (SQLite FTS5 is filled by a trigger, PostgreSQL by its GIN index).
    folded = search_index.fold_query("Hussein")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            hits = conn.execute(text("SELECT count(*) FROM search_fts WHERE search_fts MATCH :q"),
                                {"q": f'"{folded}"'}).scalar()
        else:
            hits = conn.execute(text("SELECT count(*) FROM search_entry WHERE text LIKE :q"),
                                {"q": f"%{folded}%"}).scalar()
    assert hits > 0


def test_amended_designations_are_reindexed_like_a_rebuild(engine, tmp_path):
    imports.run_import(engine, "us-sdn", str(SAMPLES / "us"), expected_minimum=None)
    edited = tmp_path / "us"
    shutil.copytree(SAMPLES / "us", edited)
    sdn = edited / "sdn.csv"
    sdn.write_bytes(sdn.read_bytes().replace(b"a.k.a. 'ABU ALI'", b"a.k.a. 'ABU ALIYEV'; Passport A1234567 (Iraq)"))
    run = imports.run_import(engine, "us-sdn", str(edited))
    assert run.amended == 1 and not run.added
    written = entries(engine)
    assert ("us-sdn:7843", "name", "weak", search_index.fold_name("ABU ALIYEV"), "ABU ALIYEV") in written
    with engine.begin() as conn:
        search_index.rebuild(conn)
    assert entries(engine) == written


def _trigger(conn) -> str | None:
    return conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'search_entry_ai'")) \
        .scalar()


def test_sqlite_trigram_index_holds_every_entry_after_imports(engine, tmp_path):
    """A first import adds its entries to FTS5 in one statement, with the per-row trigger dropped
    meanwhile: the index must hold exactly the entries, and the trigger must be back as it was."""
    if engine.dialect.name != "sqlite":
        pytest.skip("FTS5 is SQLite's; PostgreSQL's GIN index is kept by the server")
    with engine.connect() as conn:
        trigger = _trigger(conn)
    assert trigger
    # The load really goes without the trigger (else this test would prove nothing about it).
    loads_without_trigger = []
    load = search_index._trigrams_added_at_the_end

    @contextlib.contextmanager
    def watched(conn):
        with load(conn):
            loads_without_trigger.append(_trigger(conn) is None)
            yield

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search_index, "_trigrams_added_at_the_end", watched)
        for source, path in SOURCES:
            imports.run_import(engine, source, str(SAMPLES / path), expected_minimum=None)
    assert loads_without_trigger == [True] * len(SOURCES)

    def consistent() -> None:
        with engine.begin() as conn:
            assert _trigger(conn) == trigger
            # rank 1: also checks the index against the entries table (raises where they differ).
            conn.execute(text("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)"))

    consistent()
    # Entries written later by the trigger (an amended designation, reindexed on commit) go in too.
    edited = tmp_path / "us"
    shutil.copytree(SAMPLES / "us", edited)
    (edited / "sdn.csv").write_bytes((edited / "sdn.csv").read_bytes().replace(b"'ABU ALI'", b"'ABU ALIYEV'"))
    assert imports.run_import(engine, "us-sdn", str(edited)).amended == 1
    consistent()
    with engine.connect() as conn:
        hits = conn.execute(text("SELECT count(*) FROM search_fts WHERE search_fts MATCH :q"),
                            {"q": f'"{search_index.fold_name("ABU ALIYEV")}"'}).scalar()
    assert hits == 1


def test_sqlite_trigger_survives_a_load_that_fails(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("FTS5 is SQLite's")
    with engine.connect() as conn:
        trigger = _trigger(conn)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        with search_index._trigrams_added_at_the_end(conn):
            assert _trigger(conn) is None
            raise RuntimeError("the load failed")
    with engine.connect() as conn:
        assert _trigger(conn) == trigger
    # A caller that catches the failure and commits what it has keeps the trigger too.
    with engine.begin() as conn:
        try:
            with search_index._trigrams_added_at_the_end(conn):
                raise RuntimeError("the load failed")
        except RuntimeError:
            pass
    with engine.begin() as conn:
        assert _trigger(conn) == trigger
        conn.execute(text("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)"))
