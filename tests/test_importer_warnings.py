"""Nothing dropped silently: what an importer cannot place becomes a warning on the record and the run."""
from __future__ import annotations

import shutil

from sqlalchemy import select

import importers
from sanctions import imports
from sanctions.db import session_factory
from sanctions.models import Designation
from tests.conftest import REPO, SAMPLES, real_file

EXCERPT = REPO / "tests" / "data" / "sdn_advanced_excerpt.xml"


def test_unknown_ofac_csv_entity_type_is_a_warning_on_the_run(engine, tmp_path):
    folder = tmp_path / "us"
    shutil.copytree(SAMPLES / "us", folder)
    sdn = (folder / "sdn.csv").read_text(encoding="cp1252")
    assert '7843,"AL-TIKRITI, Saddam Hussein","individual"' in sdn
    (folder / "sdn.csv").write_text(sdn.replace('7843,"AL-TIKRITI, Saddam Hussein","individual"',
                                                '7843,"AL-TIKRITI, Saddam Hussein","submarine"'), encoding="cp1252")
    run = imports.run_import(engine, "us-sdn", str(folder))
    assert run.status == "succeeded"
    assert "us-sdn:7843: unknown SDN_Type 'submarine': stored as an organization" in run.warnings
    with session_factory(engine)() as session:
        kind, warnings = session.execute(select(Designation.kind, Designation.warnings)
                                         .where(Designation.key == "us-sdn:7843")).one()
    assert kind == "organization" and warnings == ["unknown SDN_Type 'submarine': stored as an organization"]


def test_unknown_ofac_xml_entity_type_is_a_warning_not_a_failure(tmp_path):
    text = real_file("us", "consolidated.xml").read_text(encoding="utf-8")
    first = text.index("<sdnType>")
    end = text.index("</sdnType>", first)
    path = tmp_path / "consolidated.xml"
    path.write_text(text[:first] + "<sdnType>Submarine" + text[end:], encoding="utf-8")
    parsed = importers.load("us-cons", str(path))[1]
    assert len(parsed.designations) == 443
    (flagged,) = [d for d in parsed.designations if d.warnings]
    assert flagged.kind == "organization"
    assert flagged.warnings == ["unknown sdnType 'Submarine': stored as an organization"]


def test_unreadable_advanced_xml_date_is_a_warning(tmp_path):
    text = EXCERPT.read_text(encoding="utf-8")
    birth = "<From><Year>1960</Year><Month>8</Month><Day>31</Day></From>"
    assert birth in text
    path = tmp_path / "sdn_advanced.xml"
    path.write_text(text.replace(birth, "<From><Year>1960</Year><Month>8</Month><Day>32</Day></From>", 1),
                    encoding="utf-8")
    good = {d.key: d for d in importers.load("us-sdn", str(EXCERPT))[1].designations}
    parsed = {d.key: d for d in importers.load("us-sdn", str(path))[1].designations}
    nasrallah = parsed["us-sdn:2686"]
    assert nasrallah.warnings == ["unreadable date 1960-8-32 in Birthdate: left out"]
    # Only the unreadable period is left out; the others are kept.
    assert len(nasrallah.birth_dates) == len(good["us-sdn:2686"].birth_dates) - 1
    assert not parsed["us-sdn:4243"].warnings


def test_unreadable_advanced_xml_issue_date_is_a_run_warning(tmp_path):
    text = EXCERPT.read_text(encoding="utf-8")
    assert "<Year>2024</Year>" in text
    path = tmp_path / "sdn_advanced.xml"
    path.write_text(text.replace("<Year>2024</Year>", "<Year>20x4</Year>", 1), encoding="utf-8")
    parsed = importers.load("us-sdn", str(path))[1]
    assert parsed.published_on is None
    assert parsed.warnings == ["unreadable DateOfIssue 20x4-5-3: the publication date is unknown"]
