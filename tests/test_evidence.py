"""Evidence that verifies: stored hashes are the files' own SHA-256; hostile XML and XLSX are refused.

An officer checks an evidence pack against the publisher's file with
``sha256sum``: the stored hash must be that of the bytes, not of the name.
"""
from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tracemalloc
import zipfile

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import importers
from importers.common import ImportFailure
from sanctions import imports
from sanctions.cli import main
from sanctions.db import session_factory
from sanctions.models import Designation, ImportRun
from tests.conftest import SAMPLES, real_file

UN_SAMPLE = SAMPLES / "un" / "consolidated.xml"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(engine):
    with session_factory(engine)() as session:
        return sorted(session.execute(select(Designation.key, Designation.content_hash)).all())


def test_single_file_hash_is_the_files_own(engine, tmp_path):
    path = real_file("un", "consolidated.xml")
    run = imports.run_import(engine, "un", str(path))
    expected = sha256(path.read_bytes())
    assert run.sha256 == expected and run.file_hashes == {"consolidated.xml": expected}
    assert subprocess.run(["sha256sum", str(path)], capture_output=True, text=True).stdout.split()[0] == expected


def test_identical_bytes_under_another_name_are_skipped(engine, tmp_path):
    imports.run_import(engine, "un", str(UN_SAMPLE))
    renamed = tmp_path / "un-2026-02-27.xml"
    shutil.copy(UN_SAMPLE, renamed)
    again = imports.run_import(engine, "un", str(renamed))
    assert again.status == "unchanged" and again.sha256 == sha256(UN_SAMPLE.read_bytes())


def test_ofac_csv_set_hashes_each_file_and_the_set(engine, tmp_path):
    folder = SAMPLES / "us"
    run = imports.run_import(engine, "us-sdn", str(folder))
    names = ["add.csv", "alt.csv", "sdn.csv", "sdn_comments.csv"]
    assert run.file_hashes == {n: sha256((folder / n).read_bytes()) for n in names}
    # The set's hash is that of `sha256sum` run over the files in name order.
    listing = subprocess.run(["sha256sum", *names], cwd=folder, capture_output=True).stdout
    assert run.sha256 == sha256(listing)
    with session_factory(engine)() as session:
        stored = session.get(ImportRun, run.id)
    assert stored.file_hashes == run.file_hashes and stored.sha256 == run.sha256


# --- XML that is not what a publisher writes -----------------------------------------------------

def hostile_un(tmp_path, doctype: str, body_change=lambda t: t) -> str:
    text = UN_SAMPLE.read_text(encoding="utf-8")
    decl, rest = text.split("\n", 1)
    path = tmp_path / "consolidated.xml"
    path.write_text(decl + "\n" + doctype + "\n" + body_change(rest), encoding="utf-8")
    return str(path)


def import_refused(engine, db_url, path, *fragments):
    stored = snapshot(engine)
    result = CliRunner().invoke(main, ["--db", db_url, "import", "un", path])
    assert result.exit_code == 1, result.output
    assert "import failed, previous data kept" in result.output and path in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    assert snapshot(engine) == stored
    with session_factory(engine)() as session:
        assert session.scalars(select(ImportRun.status).order_by(ImportRun.id.desc())).first() == "failed"


@pytest.fixture
def stored(engine):
    imports.run_import(engine, "un", str(UN_SAMPLE))
    return engine


def first_name(text: str) -> str:
    return text.split("<FIRST_NAME>", 1)[1].split("<", 1)[0]


def test_external_entity_is_refused(stored, db_url, tmp_path):
    """Today `&xxe; He fled…` is stored with the field cut; now the document is refused."""
    name = first_name(UN_SAMPLE.read_text(encoding="utf-8"))
    path = hostile_un(tmp_path, '<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
                      lambda t: t.replace(f"<FIRST_NAME>{name}", f"<FIRST_NAME>{name}&xxe;", 1))
    import_refused(stored, db_url, path, "external entities (xxe)", "XXE", "no supported publisher")


def test_internal_entity_is_refused(stored, db_url, tmp_path):
    path = hostile_un(tmp_path, '<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY who "Somebody Else">]>',
                      lambda t: t.replace("<FIRST_NAME>", "<FIRST_NAME>&who;", 1))
    import_refused(stored, db_url, path, "declares entities (who) in a DTD")


def test_undeclared_entity_reference_is_refused(stored, db_url, tmp_path):
    name = first_name(UN_SAMPLE.read_text(encoding="utf-8"))
    path = hostile_un(tmp_path, "", lambda t: t.replace(f"<FIRST_NAME>{name}", f"<FIRST_NAME>{name}&xxe;", 1))
    import_refused(stored, db_url, path, "malformed XML", "xxe")


def test_billion_laughs_is_named(stored, db_url, tmp_path):
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    path = hostile_un(tmp_path, f"<!DOCTYPE CONSOLIDATED_LIST [{entities}]>",
                      lambda t: t.replace("<FIRST_NAME>", "<FIRST_NAME>&lol9;", 1))
    import_refused(stored, db_url, path, "billion laughs")


def test_quadratic_blowup_is_named(stored, db_url, tmp_path):
    """Today: "unrecognised XML (root element <None>)", since the DTD fills the head of the file."""
    big = "A" * 50_000
    path = hostile_un(tmp_path, f'<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY a "{big}">]>',
                      lambda t: t.replace("<FIRST_NAME>", "<FIRST_NAME>" + "&a;" * 2000, 1))
    import_refused(stored, db_url, path, "quadratic-blowup", "50,000-byte entity &a;", "2,000 times")
    assert "root element" not in CliRunner().invoke(main, ["--db", db_url, "import", "un", path]).output


def test_publishers_real_xml_is_accepted():
    for parts, source in ((("un", "consolidated.xml"), "un"), (("ca", "sema-lmes.xml"), "ca"),
                          (("us", "consolidated.xml"), "us-cons"), (("us", "cons_advanced.xml"), "us-cons")):
        _, parsed = importers.load(source, str(real_file(*parts)))
        assert parsed.designations


# --- XLSX zip bombs ----------------------------------------------------------------------------------

def workbook_with_sheet(sheet: bytes) -> bytes:
    buffer = io.BytesIO()
    main_ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/workbook.xml", f'<workbook xmlns="{main_ns}" xmlns:r="{rel_ns}"><sheets>'
                                         f'<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
        book.writestr("xl/_rels/workbook.xml.rels",
                      '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                      '<Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>')
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            member.write(sheet)
    return buffer.getvalue()


def test_xlsx_zip_bomb_is_refused_before_inflating(engine, db_url, tmp_path):
    # 60 MB of one repeated cell inflates from ~60 kB: refused from the zip directory alone.
    row = b'<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>'
    sheet = f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'.encode() \
        + row * (60_000_000 // len(row)) + b"</sheetData></worksheet>"
    path = tmp_path / "ConList.xlsx"
    path.write_bytes(workbook_with_sheet(sheet))
    del sheet
    files = importers.open_location(str(path), "gb")
    tracemalloc.start()
    try:
        with pytest.raises(ImportFailure, match="a zip bomb: xl/worksheets/sheet1.xml would inflate"):
            importers.parse("gb", files)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, f"{peak:,} bytes allocated before refusing"
    result = CliRunner().invoke(main, ["--db", db_url, "import", "gb", str(path)])
    assert result.exit_code == 1 and "zip bomb" in result.output and str(path) in result.output


def test_real_ofsi_workbook_is_within_the_limits():
    files = importers.open_location(str(real_file("uk", "ConList.xlsx")), "gb")
    assert len(importers.parse("gb", files).designations) > 4000
