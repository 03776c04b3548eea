"""Bad input: a clear error naming file, record and problem; the previous good data intact.

Each case first imports a good sample, then feeds a bad file through the CLI
and checks the exit code, the message and that nothing stored changed.
"""
from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from sanctions import imports, store
from sanctions.cli import main
from sanctions.db import session_factory
from sanctions.models import Designation, ImportRun
from tests.conftest import SAMPLES

UN_SAMPLE = SAMPLES / "un" / "consolidated.xml"


def snapshot(engine):
    """Everything that must survive a failed import: keys, statuses and content hashes."""
    with session_factory(engine)() as session:
        return sorted(session.execute(select(Designation.key, Designation.status, Designation.content_hash)).all())


def cli(db_url, *args):
    return CliRunner().invoke(main, ["--db", db_url, *args])


@pytest.fixture
def stored_un(engine):
    imports.run_import(engine, "un", str(UN_SAMPLE))
    imports.run_import(engine, "us-sdn", str(SAMPLES / "us"))
    return snapshot(engine)


def bad_un_file(tmp_path, mutate):
    path = tmp_path / "consolidated.xml"
    path.write_bytes(mutate(UN_SAMPLE.read_bytes()))
    return path


def assert_failed_cleanly(engine, db_url, result, stored, *fragments):
    assert result.exit_code != 0, result.output
    assert "import failed, previous data kept" in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    assert snapshot(engine) == stored
    with session_factory(engine)() as session:
        last = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert last.status in ("failed", "refused") and last.error


def test_malformed_xml(engine, db_url, stored_un, tmp_path):
    path = bad_un_file(tmp_path, lambda b: b.replace(b"</FIRST_NAME>", b"</FIRSTNAME>", 1))
    result = cli(db_url, "import", "un", str(path))
    assert_failed_cleanly(engine, db_url, result, stored_un, str(path), "malformed XML at line")


def test_truncated_xml(engine, db_url, stored_un, tmp_path):
    path = bad_un_file(tmp_path, lambda b: b[: len(b) // 2])
    result = cli(db_url, "import", "un", str(path))
    assert_failed_cleanly(engine, db_url, result, stored_un, str(path), "malformed XML")


def test_empty_file(engine, db_url, stored_un, tmp_path):
    path = bad_un_file(tmp_path, lambda b: b"")
    result = cli(db_url, "import", "un", str(path))
    assert_failed_cleanly(engine, db_url, result, stored_un, str(path), "the file is empty")


def test_file_of_another_publisher(engine, db_url, stored_un):
    path = SAMPLES / "ca" / "sema-lmes.xml"
    result = cli(db_url, "import", "un", str(path))
    assert_failed_cleanly(engine, db_url, result, stored_un, str(path), "Canada", "does not belong to source 'un'")


def test_unreadable_record(engine, db_url, stored_un, tmp_path):
    path = bad_un_file(tmp_path, lambda b: b.replace(b"<DATAID>6908048</DATAID>", b"<DATAID></DATAID>"))
    assert b"6908048" in UN_SAMPLE.read_bytes()
    result = cli(db_url, "import", "un", str(path))
    assert_failed_cleanly(engine, db_url, result, stored_un, str(path), "record line", "without DATAID")


def test_csv_with_wrong_column_count(engine, db_url, stored_un, tmp_path):
    folder = tmp_path / "us"
    shutil.copytree(SAMPLES / "us", folder)
    lines = (folder / "sdn.csv").read_bytes().split(b"\r\n")
    ent_num = lines[3].split(b",")[0].decode()
    lines[3] = lines[3].rsplit(b",", 1)[0]  # drop the Remarks column
    (folder / "sdn.csv").write_bytes(b"\r\n".join(lines))
    result = cli(db_url, "import", "us-sdn", str(folder))
    assert_failed_cleanly(engine, db_url, result, stored_un, "sdn.csv", f"ent_num {ent_num}",
                          "line 4: expected 12 columns, found 11")


def test_not_a_list_at_all(engine, db_url, stored_un, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a sanctions list\n")
    result = cli(db_url, "import", "gb", str(path))
    assert_failed_cleanly(engine, db_url, result, stored_un, str(path), "unrecognised file format")


def test_missing_file(engine, db_url, stored_un, tmp_path):
    result = cli(db_url, "import", "un", str(tmp_path / "nope.xml"))
    assert_failed_cleanly(engine, db_url, result, stored_un, "nope.xml", "no such file")


def test_failure_while_writing_rolls_back(engine, db_url, stored_un, tmp_path, monkeypatch):
    """A crash half-way through the writes leaves no trace of the half-written import."""
    path = bad_un_file(tmp_path, lambda b: b.replace(b"<FIRST_NAME>", b"<FIRST_NAME>X", 1))  # one amendment
    real_apply = store.apply_diff

    def crash_after_writing(session, run, diff, *args, **kwargs):
        real_apply(session, run, diff, *args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "apply_diff", crash_after_writing)
    with pytest.raises(RuntimeError):
        imports.run_import(engine, "un", str(path))
    assert snapshot(engine) == stored_un
    with session_factory(engine)() as session:
        statuses = session.scalars(select(ImportRun.status).order_by(ImportRun.id)).all()
    assert statuses[-1] == "failed"


def test_shrink_guard(engine, db_url, stored_un, tmp_path):
    text = UN_SAMPLE.read_text(encoding="utf-8")
    head, _, rest = text.partition("<INDIVIDUAL>")
    tail = rest[rest.index("</INDIVIDUALS>"):]
    first_three = "<INDIVIDUAL>" + "<INDIVIDUAL>".join(rest.split("<INDIVIDUAL>")[:3])
    path = tmp_path / "consolidated.xml"
    path.write_text(head + first_three.rstrip() + "\n  " + tail, encoding="utf-8")
    result = cli(db_url, "import", "un", str(path))
    assert_failed_cleanly(engine, db_url, result, stored_un, "would remove", "--allow-shrink")
    allowed = cli(db_url, "import", "un", str(path), "--allow-shrink")
    assert allowed.exit_code == 0, allowed.output
    # Every individual after the first three is gone; the entities stay.
    dropped = rest[:rest.index("</INDIVIDUALS>")].count("<INDIVIDUAL>") + 1 - 3
    assert dropped > 3 and f"removed {dropped} " in allowed.output, allowed.output
    with session_factory(engine)() as session:
        statuses = dict(session.execute(select(Designation.key, Designation.status)
                                        .where(Designation.source == "un")).all())
    assert sum(s == "removed" for s in statuses.values()) == dropped
    assert sum(s == "active" for s in statuses.values()) == len(statuses) - dropped


def test_bad_field_is_a_warning_not_a_failure(engine, db_url, tmp_path):
    sample = (SAMPLES / "ca" / "sema-lmes.xml").read_text(encoding="utf-8")
    marker = "<DateOfListing>"
    first = sample.index(marker)
    bad = sample[:first] + "<DateOfBirthOrShipBuildDate>sometime in spring</DateOfBirthOrShipBuildDate>\n\t\t" \
        + sample[first:]
    path = tmp_path / "sema-lmes.xml"
    path.write_text(bad, encoding="utf-8")
    result = cli(db_url, "import", "ca", str(path), "--allow-partial")  # the sample is an excerpt
    assert result.exit_code == 0, result.output
    # Two warnings: the unreadable date, and the excerpt accepted as partial.
    assert "2 warnings" in result.output and "sometime in spring" in result.output
    assert "accepted as partial" in result.output
    with session_factory(engine)() as session:
        contents = session.scalars(select(Designation.content)).all()
    kept = [a for c in contents for a in c["attributes"] if a["value"] == "sometime in spring"]
    assert kept and kept[0]["label"] == "date of birth"


def test_vessel_imo_with_a_wrong_check_digit_is_kept_and_flagged(engine, db_url, tmp_path):
    sample = (SAMPLES / "ca" / "sema-lmes.xml").read_text(encoding="utf-8")
    assert "<ShipIMONumber>7612448</ShipIMONumber>" in sample
    path = tmp_path / "sema-lmes.xml"
    path.write_text(sample.replace("<ShipIMONumber>7612448</ShipIMONumber>", "<ShipIMONumber>7612449</ShipIMONumber>"),
                    encoding="utf-8")
    result = cli(db_url, "import", "ca", str(path), "--allow-partial")  # the sample is an excerpt
    assert result.exit_code == 0 and "IMO number '7612449' fails its check digit" in result.output
