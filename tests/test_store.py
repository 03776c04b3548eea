"""The store on SQLite and PostgreSQL: exact contents, re-imports, diffs and history."""
from __future__ import annotations

import csv
import io

from sqlalchemy import func, select, update

import importers
from sanctions import imports, queries, store
from sanctions.db import session_factory
from sanctions.models import Designation, DesignationChange, IdentifierRow, ImportRun, NameRow
from tests.conftest import SAMPLES, real_file


def count(engine, model, *where):
    with session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def detail(engine, key):
    with session_factory(engine)() as session:
        return queries.designation_detail(session, key)


REAL_FILES = [
    ("us-sdn", ("us",)),
    ("us-cons", ("us", "consolidated.xml")),
    ("un", ("un", "consolidated.xml")),
    ("ca", ("ca", "sema-lmes.xml")),
    ("gb", ("uk", "ConList.xlsx")),
    ("eu", ("eu", "fixture-Babystep-Technologies-active_sanction-fsf.xml")),
]


def test_real_files_stored_exactly(engine):
    for source, parts in REAL_FILES:
        path = str(real_file(*parts))
        parsed = importers.load(source, path)[1]
        run = imports.run_import(engine, source, path)
        assert run.status == "succeeded" and run.added == len(parsed.designations)
        assert count(engine, Designation, Designation.source == source) == len(parsed.designations)
        expected_names = sum(len(d.names) for d in parsed.designations)
        stored_names = count(engine, NameRow, NameRow.designation_id.in_(
            select(Designation.id).where(Designation.source == source)))
        assert stored_names == expected_names
        # Every programme value of the real files is in the regime crosswalk.
        assert not [w for w in run.warnings if "regime crosswalk" in w]

    nasrallah = detail(engine, "us-sdn:2686")
    assert [b["earliest"] for b in nasrallah["birth_dates"]][0] == "1960-08-31"
    assert nasrallah["identifiers"][0]["value"] == "042833"
    assert nasrallah["regimes"] == ["counter-terrorism", "syria"]
    assert nasrallah["raw"]["sdn"][1] == "NASRALLAH, Hasan"
    ebano = detail(engine, "us-sdn:4243")
    assert ebano["vessel"]["imo"] == "7406784"
    assert [n["full"] for n in ebano["names"] if n["type"] == "weak"] == ["ANA I", "SAND SWAN"]
    saddam = detail(engine, "un:6908048")
    assert any(n["script"] == "Arab" for n in saddam["names"])
    assert count(engine, IdentifierRow, IdentifierRow.normalized == "7406784") >= 1
    ofsi = detail(engine, "gb:AQD0153")
    assert {i["value"] for i in ofsi["identifiers"]} == {"C389664", "1024026187"}


def test_reimport_identical_file_is_unchanged(engine):
    path = str(real_file("un", "consolidated.xml"))
    first = imports.run_import(engine, "un", path)
    before = (count(engine, Designation), count(engine, NameRow), count(engine, DesignationChange))
    again = imports.run_import(engine, "un", path)
    assert again.status == "unchanged" and again.unchanged == first.added and again.added == 0
    assert (count(engine, Designation), count(engine, NameRow), count(engine, DesignationChange)) == before
    forced = imports.run_import(engine, "un", path, force=True)
    assert forced.status == "succeeded" and forced.unchanged == first.added and forced.amended == 0
    assert (count(engine, Designation), count(engine, NameRow), count(engine, DesignationChange)) == before


def test_ofac_2021_then_2024_reports_changes(engine):
    old_path, new_path = str(real_file("us", "sdn_csv_2021-04")), str(real_file("us"))
    # The oracle compares the records themselves (dict equality ignores key order),
    # not the store's hash: a hash bug must not be able to hide in both sides.
    old = {d.key: (d.content(), d.raw) for d in importers.load("us-sdn", old_path)[1].designations}
    new = {d.key: (d.content(), d.raw) for d in importers.load("us-sdn", new_path)[1].designations}
    imports.run_import(engine, "us-sdn", old_path)

    # 944 of 8,890 records disappear: more than 10%, so the import is refused first.
    try:
        imports.run_import(engine, "us-sdn", new_path)
        raise AssertionError("the shrink guard did not refuse")
    except store.ShrinkRefused as exc:
        assert "944" in str(exc)
    assert count(engine, Designation, Designation.status == "removed") == 0

    run = imports.run_import(engine, "us-sdn", new_path, allow_shrink=True)
    added = set(new) - set(old)
    removed = set(old) - set(new)
    amended = {k for k in set(old) & set(new) if old[k] != new[k]}
    assert (run.added, run.removed, run.amended) == (len(added), len(removed), len(amended))
    assert run.unchanged == len(new) - len(added) - len(amended)
    assert len(added) > 5000 and len(removed) == 944 and amended
    assert count(engine, Designation, Designation.status == "removed") == len(removed)
    # Removed designations are kept and marked, never deleted.
    assert count(engine, Designation) == len(set(old) | set(new))
    gone = detail(engine, sorted(removed)[0])
    assert gone["status"] == "removed" and gone["removed_run"] == run.id
    changed = detail(engine, sorted(amended)[0])
    assert [h["change"] for h in changed["history"]] == ["added", "amended"]
    assert changed["history"][1]["fields"]


def test_relisting_after_removal(engine, tmp_path):
    full = (SAMPLES / "un" / "consolidated.xml").read_text(encoding="utf-8")
    start = full.index("<INDIVIDUAL>")
    end = full.index("</INDIVIDUAL>", start) + len("</INDIVIDUAL>")
    dropped_key = "un:" + full[start:end].split("<DATAID>")[1].split("<")[0]
    shorter = tmp_path / "consolidated.xml"
    shorter.write_text(full[:start] + full[end:], encoding="utf-8")

    imports.run_import(engine, "un", str(SAMPLES / "un" / "consolidated.xml"))
    removal = imports.run_import(engine, "un", str(shorter))
    assert removal.removed == 1 and detail(engine, dropped_key)["status"] == "removed"
    relist = imports.run_import(engine, "un", str(SAMPLES / "un" / "consolidated.xml"))
    assert relist.relisted == 1 and relist.added == 0
    history = detail(engine, dropped_key)["history"]
    assert [h["change"] for h in history] == ["added", "removed", "relisted"]
    assert detail(engine, dropped_key)["status"] == "active"


def test_runs_are_recorded(engine):
    imports.run_import(engine, "ca", str(SAMPLES / "ca" / "sema-lmes.xml"))
    with session_factory(engine)() as session:
        (run,) = session.scalars(select(ImportRun)).all()
        summary = {row["source"]: row for row in queries.sources_summary(session)}
    # Canada's file states no publication date, and none is made up.
    assert run.sha256 and run.published_on is None and run.finished_at >= run.started_at
    assert summary["ca"]["active"] == run.added == run.parsed
    assert summary["ca"]["last_run"]["status"] == "succeeded"


def test_canada_removal_is_dated_by_the_import_that_saw_it(engine, tmp_path):
    """No publication date in the file: a removal gets the import's date, not the newest listing date."""
    sample = (SAMPLES / "ca" / "sema-lmes.xml").read_text(encoding="utf-8")
    start = sample.index("<record>")
    end = sample.index("</record>", start) + len("</record>")
    shorter = tmp_path / "sema-lmes.xml"
    shorter.write_text(sample[:start] + sample[end:], encoding="utf-8")
    newest_listing = max(d.listed_on for d in importers.load("ca", str(SAMPLES / "ca" / "sema-lmes.xml"))[1]
                         .designations if d.listed_on)

    imports.run_import(engine, "ca", str(SAMPLES / "ca" / "sema-lmes.xml"))
    removal = imports.run_import(engine, "ca", str(shorter))
    assert removal.removed == 1 and removal.published_on is None
    with session_factory(engine)() as session:
        (gone,) = session.execute(select(Designation.key, Designation.removed_on, Designation.removed_run_id)
                                  .where(Designation.status == "removed")).all()
    assert gone.removed_run_id == removal.id
    assert gone.removed_on == removal.started_at.date() and gone.removed_on.isoformat() != newest_listing
    history = detail(engine, gone.key)["history"]
    assert [(h["change"], h["published_on"]) for h in history] == [("added", None), ("removed", None)]


def reordered_ofsi_csv(tmp_path, change=None):
    """The bundled OFSI CSV with its columns in reverse order (and optionally one cell changed)."""
    text = (SAMPLES / "gb" / "ConList.csv").read_text(encoding="utf-8-sig")
    first_line, _, body = text.partition("\n")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    if change:
        row, column, value = change
        rows[row][rows[0].index(column)] = value
    out = io.StringIO()
    out.write(first_line + "\n")
    csv.writer(out, lineterminator="\n").writerows([list(reversed(r)) for r in rows])
    path = tmp_path / "ConList.csv"
    path.write_text(out.getvalue(), encoding="utf-8-sig")
    return path


def test_reordered_columns_keep_the_hash(engine, tmp_path):
    original = importers.load("gb", str(SAMPLES / "gb" / "ConList.csv"))[1].designations
    reordered = importers.load("gb", str(reordered_ofsi_csv(tmp_path)))[1].designations
    # The raw rows really are in another order: only the hash rule can make them agree.
    assert list(original[0].raw["rows"][0])[0] != list(reordered[0].raw["rows"][0])[0]
    assert {d.key: store.content_hash(d) for d in original} == {d.key: store.content_hash(d) for d in reordered}

    imports.run_import(engine, "gb", str(SAMPLES / "gb" / "ConList.csv"))
    run = imports.run_import(engine, "gb", str(reordered_ofsi_csv(tmp_path)))
    assert run.status == "succeeded" and (run.amended, run.added, run.removed) == (0, 0, 0)
    assert run.unchanged == len(original)
    # A real change in the same reordered file is still seen.
    changed = imports.run_import(engine, "gb", str(reordered_ofsi_csv(tmp_path, (1, "Position", "Chairman"))))
    assert changed.amended == 1 and changed.unchanged == len(original) - 1


def test_rows_stored_under_an_older_hash_rule_are_rehashed_not_amended(engine):
    path = str(SAMPLES / "un" / "consolidated.xml")
    first = imports.run_import(engine, "un", path)
    with session_factory(engine).begin() as session:
        session.execute(update(Designation).values(content_hash="0" * 64))
    changes = count(engine, DesignationChange)
    again = imports.run_import(engine, "un", path, force=True)
    assert (again.amended, again.unchanged) == (0, first.added)
    assert count(engine, DesignationChange) == changes
    parsed = importers.load("un", path)[1]
    imports.apply_crosswalk(parsed)  # the import fills the regimes before hashing
    expected = {d.key: store.content_hash(d) for d in parsed.designations}
    with session_factory(engine)() as session:
        assert dict(session.execute(select(Designation.key, Designation.content_hash)).all()) == expected
