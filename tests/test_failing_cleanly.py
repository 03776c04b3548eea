"""No traceback reaches a user: each failure is one line naming its cause, with a non-zero exit.

Also: an import that fails for *any* reason (an importer bug, a lock
timeout, a database error) is recorded as a failed run with its message,
and bad option combinations are refused with the valid choices.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import importers
from sanctions import db, imports, locks, store
from sanctions.cli import main
from sanctions.db import session_factory
from sanctions.models import AuditEntry, Designation, ImportRun
from tests.conftest import SAMPLES

UN_SAMPLE = SAMPLES / "un" / "consolidated.xml"


def cli(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def assert_one_line_error(result, *fragments, code=1):
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an escaped exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def last_run(engine) -> ImportRun:
    with session_factory(engine)() as session:
        return session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()


# --- databases that cannot be opened ---------------------------------------------------------------

def test_bad_database_url():
    assert_one_line_error(cli("--db", "nosuchdialect://x/y", "sources"), "not a usable database URL",
                          "nosuchdialect://x/y")


def test_sqlite_path_in_a_missing_folder(tmp_path):
    url = f"sqlite:///{tmp_path}/no/such/folder/registry.db"
    assert_one_line_error(cli("--db", url, "sources"), f"the folder {tmp_path}/no/such/folder does not exist")
    assert not (tmp_path / "no").exists()


def test_missing_postgresql_database():
    base = os.environ.get("SANCTIONS_TEST_DB")
    if not base:
        pytest.skip("SANCTIONS_TEST_DB is not set: PostgreSQL tests skipped")
    url = base.rsplit("/", 1)[0] + "/no_such_database_here"
    assert_one_line_error(cli("--db", url, "sources"), "cannot open the database",
                          'database "no_such_database_here" does not exist')


def test_closed_port():
    assert_one_line_error(cli("--db", "postgresql://postgres:secret@127.0.0.1:1/test", "sources"),
                          "cannot open the database postgresql://postgres:***@127.0.0.1:1/test", "refused")


# --- values the database would refuse --------------------------------------------------------------

def test_officer_name_too_long_is_refused_before_writing(engine, db_url):
    imports.run_import(engine, "un", str(UN_SAMPLE))
    with session_factory(engine)() as session:
        keys = session.scalars(select(Designation.key).order_by(Designation.key).limit(2)).all()
    result = cli("--db", db_url, "review", "pair", keys[0], keys[1], "unsure", "--by", "x" * 250)
    assert result.exit_code == 2 and "at most 200" in result.output and "--by" in result.output, result.output
    assert "Traceback" not in result.output and "StringDataRightTruncation" not in result.output
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


# --- imports that fail for reasons other than a bad file ------------------------------------------

def test_unexpected_importer_error_is_recorded_and_printed_in_one_line(engine, db_url, monkeypatch, tmp_path):
    def broken_parser(source, files):
        raise KeyError("Publish_Date")

    monkeypatch.setattr(importers, "parse", broken_parser)
    monkeypatch.setenv("SANCTIONS_LOG", str(tmp_path / "errors.log"))
    result = cli("--db", db_url, "import", "un", str(UN_SAMPLE))
    assert_one_line_error(result, "import failed, previous data kept", "internal error: KeyError",
                          str(tmp_path / "errors.log"))
    assert "broken_parser" in (tmp_path / "errors.log").read_text()  # the traceback went to the log
    run = last_run(engine)
    assert run.status == "failed" and run.error == "KeyError: 'Publish_Date'"
    assert run.sha256 == store_sha(UN_SAMPLE)


def store_sha(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def held_by_another_writer(engine, name):
    """Hold a lock from another thread (a lock is re-entrant within its own thread)."""
    taken, release = threading.Event(), threading.Event()

    def holder():
        with locks.hold(engine, name):
            taken.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join()


def test_lock_timeout_is_recorded_as_a_failed_run(engine, db_url):
    with held_by_another_writer(engine, "import:un"):
        result = cli("--db", db_url, "import", "un", str(UN_SAMPLE), env={"SANCTIONS_LOCK_TIMEOUT": "0.3"})
    assert_one_line_error(result, "the import of un is busy", "'import:un' lock", "0.3 s")
    run = last_run(engine)
    assert run.status == "failed" and "is busy" in run.error
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Designation)) == 0


def test_sqlite_writer_busy_is_a_clear_error(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    engine = db.connect(url)
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT", 0.3)
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's long write transaction
    try:
        result = cli("--db", url, "import", "un", str(UN_SAMPLE), "--allow-partial")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert_one_line_error(result, "import failed, previous data kept", "the database is busy")
    engine.dispose()


def test_csv_field_over_128_kb_is_imported(engine, db_url, tmp_path):
    folder = tmp_path / "us"
    shutil.copytree(SAMPLES / "us", folder)
    lines = (folder / "sdn.csv").read_bytes().split(b"\r\n")
    remark = b"R" * 200_000
    cells = lines[0].rsplit(b",", 1)
    lines[0] = cells[0] + b',"' + remark + b'"'
    (folder / "sdn.csv").write_bytes(b"\r\n".join(lines))
    run = imports.run_import(engine, "us-sdn", str(folder))
    assert run.status == "succeeded"
    ent_num = lines[0].split(b",")[0].decode()
    with session_factory(engine)() as session:
        remarks = session.scalar(select(Designation.remarks).where(Designation.key == f"us-sdn:{ent_num}"))
    assert remark.decode() in remarks


def test_csv_field_over_the_limit_is_a_clear_failure(engine, db_url, tmp_path, monkeypatch):
    import csv

    folder = tmp_path / "us"
    shutil.copytree(SAMPLES / "us", folder)
    lines = (folder / "sdn.csv").read_bytes().split(b"\r\n")
    lines[0] = lines[0].rsplit(b",", 1)[0] + b',"' + b"R" * 5000 + b'"'
    (folder / "sdn.csv").write_bytes(b"\r\n".join(lines))
    previous = csv.field_size_limit(1000)  # stands in for CSV_FIELD_LIMIT (16 MB), not to write 16 MB here
    try:
        result = cli("--db", db_url, "import", "us-sdn", str(folder), "--allow-partial")
    finally:
        csv.field_size_limit(previous)
    assert_one_line_error(result, "import failed, previous data kept", str(folder), "unreadable CSV",
                          "field larger than field limit")
    assert last_run(engine).status == "failed"


# --- option combinations ------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragments", [
    (["--designated-by", "us", "--not-by", "gb", "--regime", "Russia"],
     ["unknown regime 'Russia'", "did you mean 'russia'", "belarus"]),
    (["--designated-by", "us", "--not-by", "gb", "--regime", "narnia"], ["unknown regime 'narnia'", "russia"]),
    (["--matrix", "--stats"], ["--matrix and --stats"]),
    (["--designated-by", "us", "--not-by", "gb", "--not-by", "any"], ["'any'", "us, eu, gb, ca, un"]),
])
def test_bad_gap_options_are_refused_with_the_choices(tmp_path, args, fragments):
    result = cli("--db", f"sqlite:///{tmp_path / 'r.db'}", "gaps", *args)
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    assert "no gaps" not in result.output.lower()


def test_key_naming_another_jurisdiction_is_refused_and_nothing_stored_changes(engine, db_url, monkeypatch,
                                                                                tmp_path):
    """An importer that gave a UN record an OFAC key would make the closing count of the
    ``match`` command read it as American: refused before anything is written."""
    assert imports.run_import(engine, "un", str(UN_SAMPLE), expected_minimum=None).status == "succeeded"
    with session_factory(engine)() as session:
        before = session.execute(select(Designation.key, Designation.content_hash, Designation.status)
                                 .order_by(Designation.key)).all()
    real_parse = importers.parse

    def parse_with_a_foreign_key(source, files):
        parsed = real_parse(source, files)
        parsed.designations[0].key = "us-sdn:99999"
        return parsed

    monkeypatch.setattr(importers, "parse", parse_with_a_foreign_key)
    changed = tmp_path / "consolidated.xml"
    changed.write_bytes(UN_SAMPLE.read_bytes() + b"\n<!-- republished -->\n")
    result = cli("--db", db_url, "import", "un", str(changed))
    assert_one_line_error(result, str(changed), "record us-sdn:99999",
                          "names the source 'us-sdn' (jurisdiction us), but the record is 'un'")
    with session_factory(engine)() as session:
        after = session.execute(select(Designation.key, Designation.content_hash, Designation.status)
                                .order_by(Designation.key)).all()
    assert after == before and len(before) == 30
    assert last_run(engine).status == "failed"
