"""The search entries an import writes from its records are the ones the commit hook writes from the stored rows."""
from __future__ import annotations

import shutil

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
