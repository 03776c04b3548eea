"""Importers against the real published files: counts and field-by-field spot checks.

Counts come from the files themselves (see ../shared/data/lists/PROVENANCE.md).
"""
from __future__ import annotations

from collections import Counter

import pytest

import importers
from tests.conftest import real_file


def load(source: str, *parts: str):
    path = real_file(*parts)
    return {d.key: d for d in importers.load(source, str(path))[1].designations}


@pytest.fixture(scope="module")
def sdn():
    return load("us-sdn", "us")


def names(record, type_=None):
    return [n.full for n in record.names if type_ is None or n.type == type_]


def test_ofac_sdn_csv_counts(sdn):
    assert len(sdn) == 14965
    kinds = Counter(d.kind for d in sdn.values())
    assert kinds == {"person": 6854, "vessel": 851, "aircraft": 376, "organization": 6884}
    assert all(d.key == f"us-sdn:{d.source_id}" for d in sdn.values())


def test_ofac_sdn_person_with_remarks(sdn):
    d = sdn["us-sdn:2686"]
    assert d.name == "Hasan NASRALLAH"
    assert d.names[0].parts == {"last": "NASRALLAH", "given": "Hasan"}
    assert d.programmes == ["SDGT", "SYRIA"]
    assert d.title == "Secretary General of Hizballah"
    assert [b.earliest for b in d.birth_dates] == ["1960-08-31", "1953-08-31", "1955-08-31", "1958-08-31"]
    assert all(b.precision == "day" for b in d.birth_dates)
    assert d.birth_places[0].text == "Al Basuriyah, Lebanon" and d.birth_places[0].country == "LB"
    assert d.gender == "male"
    (passport,) = d.identifiers
    assert (passport.type, passport.value, passport.country) == ("passport", "042833", "LB")
    assert d.linked_to == ["HIZBALLAH"]
    assert "Hasan Abd-al-Karim NASRALLAH" in names(d, "alias")


def test_ofac_sdn_vessel_with_imo_and_weak_aliases(sdn):
    d = sdn["us-sdn:4243"]
    assert d.kind == "vessel" and d.name == "EBANO"
    assert d.vessel.imo == "7406784" and d.vessel.flag == "PA"
    assert (d.vessel.type, d.vessel.tonnage, d.vessel.gross_tonnage) == ("General Cargo", "2595", "1865")
    assert [(i.type, i.normalized) for i in d.identifiers] == [("imo", "7406784")]
    assert names(d, "weak") == ["ANA I", "SAND SWAN"]


def test_ofac_weak_aliases_only_in_remarks(sdn):
    d = sdn["us-sdn:9647"]
    assert names(d, "alias") == ["Mahmoud Khaled AL ZAHAR"]
    assert names(d, "weak") == ["Mahmoud ZAHAR", "Mahmoud AL-ZAHAR"]
    assert d.birth_dates[0].precision == "year" and d.birth_dates[0].latest == "1945-12-31"


def test_ofac_dob_forms(sdn):
    circa = sdn["us-sdn:7782"].birth_dates[0]
    assert circa.circa and (circa.earliest, circa.latest) == ("1951-01-01", "1951-12-31")
    ranged = sdn["us-sdn:11748"].birth_dates[0]
    assert ranged.precision == "range" and (ranged.earliest, ranged.latest) == ("1979-01-01", "1982-12-31")


def test_ofac_remarks_continue_in_comments(sdn):
    # Remarks are capped at 1,000 characters; sdn_comments.csv holds the rest.
    d = sdn["us-sdn:17018"]
    assert len(d.remarks) > 1000
    assert "SBERBANK MUMBAI" in names(d, "weak")


def test_ofac_aircraft(sdn):
    d = sdn["us-sdn:15431"]
    assert d.kind == "aircraft"
    assert d.aircraft.model == "IL76-TD" and d.aircraft.manufacturer_serial == "8401"
    assert d.aircraft.operator == "YAS AIR"


def test_ofac_identifier_attributes_go_elsewhere(sdn):
    everything = [i.label for d in sdn.values() for i in d.identifiers]
    assert "Gender" not in everything and "Website" not in everything
    assert not any(label and label.startswith("Secondary sanctions risk") for label in everything)
    websites = [c for d in sdn.values() for c in d.contacts if c.type == "website"]
    assert websites


def test_ofac_cons_csv_and_xml_agree():
    csv_set = load("us-cons", "us")
    xml = load("us-cons", "us", "consolidated.xml")
    assert len(csv_set) == 442 and len(xml) == 443
    d = xml["us-cons:9647"]
    assert d.name == "Mahmoud Khaled ZAHHAR" and d.kind == "person"
    assert [c.code for c in d.countries if c.role == "nationality"] == ["PS"]
    assert d.birth_dates[0].text == "1945"
    assert "Mahmoud ZAHAR" in names(d, "weak")
    assert set(xml) & set(csv_set)


def test_ofac_xml_publication_date():
    files, parsed = importers.load("us-cons", str(real_file("us", "consolidated.xml")))
    assert parsed.published_on == "2025-03-28"


def test_un_list():
    un = load("un", "un", "consolidated.xml")
    assert len(un) == 1003
    assert Counter(d.kind for d in un.values()) == {"person": 730, "organization": 273}
    badege = un["un:6907993"]
    assert badege.name == "ERIC BADEGE" and badege.listed_on == "2012-12-31"
    assert [(b.earliest, b.latest) for b in badege.birth_dates] == [("1971-01-01", "1971-12-31")]
    assert [c.code for c in badege.countries] == ["CD"]
    saddam = un["un:6908048"]
    arabic = [n for n in saddam.names if n.script == "Arab"]
    assert arabic and arabic[0].full == "صدام حسين التكريتي"
    assert "Abu Ali" in names(saddam, "weak")
    fardc = un["un:6908010"].identifiers[0]
    assert (fardc.type, fardc.value, fardc.note) == ("national-id", "1-78-09-44621-80", "FARDC ID")


def test_canada_list():
    ca = load("ca", "ca", "sema-lmes.xml")
    assert len(ca) == 4759
    assert Counter(d.kind for d in ca.values())["vessel"] == 109
    assert "ca:belarus/1-part-1/56" in ca
    oleksin = ca["ca:belarus/1-part-1/56"]
    assert oleksin.name == "Aleksey Oleksin" and names(oleksin, "alias") == ["Aliaksei Aleksin"]
    barsukov = ca["ca:belarus/1-part-1/3"]
    assert barsukov.birth_dates[0].earliest == "1965-04-29" and barsukov.birth_dates[0].precision == "day"
    ship = ca["ca:russia/1.1/1"]
    assert ship.kind == "vessel" and ship.vessel.imo == "7612448" and ship.vessel.build_year == "1980"
    assert not ship.birth_dates
    # Keys with an empty schedule segment, and unique keys overall.
    assert any(k.startswith("ca:zimbabwe//") for k in ca)
    cyrillic = [n for d in ca.values() for n in d.names if n.script == "Cyrl"]
    assert len(cyrillic) > 1000


def test_canada_dob_forms():
    ca = load("ca", "ca", "sema-lmes.xml")
    texts = {b.text: b for d in ca.values() for b in d.birth_dates}
    assert (texts["1963-1964"].earliest, texts["1963-1964"].latest) == ("1963-01-01", "1964-12-31")
    assert texts["born in the early 1970s"].earliest == "1970-01-01"
    assert texts["Sep-99"].earliest == "1999-09-01"
    either = [d for d in ca.values() if any(b.text == "1972-08-10" for b in d.birth_dates)][0]
    assert [b.text for b in either.birth_dates] == ["1972-08-10", "1972-08-11"]
    assert not [w for d in ca.values() for w in d.warnings]


def test_ofsi_xlsx():
    gb = load("gb", "uk", "ConList.xlsx")
    assert len(gb) == 4688
    assert Counter(d.kind for d in gb.values())["vessel"] == 15
    d = gb["gb:AQD0153"]
    assert d.raw["Group ID"] == "13127"
    assert "Azam A.R. ALSBHUA" in names(d)
    assert [(b.earliest, b.precision) for b in d.birth_dates] == [("1976-04-12", "day")]
    assert {(i.type, i.value) for i in d.identifiers} == {("passport", "C389664"), ("national-id", "1024026187")}
    assert [c.code for c in d.countries] == ["SA"]
    assert ("UN reference number", "QDi.330") in [(a.label, a.value) for a in d.attributes]
    russian = gb["gb:RUS1831"]
    assert "ЗАДАЧИН Андрей Андреевич" in [n.full for n in russian.names if n.script == "Cyrl"]
    assert set(names(gb["gb:CAF0011"], "weak")) >= {"BASHIR", "CAESAR"}
    # Only a group without a UK Sanctions List Ref keeps its OFSI key.
    assert [k for k in gb if k.startswith("gb-ofsi:")] == ["gb-ofsi:15878"]


def test_ofsi_ship_details():
    gb = load("gb", "uk", "ConList.xlsx")
    ships = [d for d in gb.values() if d.kind == "vessel"]
    assert all(d.vessel.imo and len(d.vessel.imo) == 7 for d in ships)
    assert all(any(i.type == "imo" for i in d.identifiers) for d in ships)


def test_fcdo_xml():
    gb = load("gb", "uk", "fixture-Babystep-Technologies-active_sanction-uk-sanctions-list.xml")
    assert len(gb) == 21
    assert Counter(d.kind for d in gb.values()) == {"person": 14, "organization": 5, "vessel": 2}
    afg = gb["gb:AFG0001"]
    assert afg.name == "HAJI KHAIRULLAH HAJI SATTAR MONEY EXCHANGE" and len(names(afg, "alias")) >= 8
    assert ("OFSI Group ID", "12703") in [(a.label, a.value) for a in afg.attributes]
    ships = [d for d in gb.values() if d.kind == "vessel"]
    assert all(s.vessel.imo and s.vessel.imo.isdigit() for s in ships)
    # A UN ship's UN ref appears only in free text ("UN Reference Number: UN Ref KPe.073").
    refs = [a.value for s in ships for a in s.attributes if a.label == "UN reference number"]
    assert "KPe.073" in refs
    assert "gb:RUS3379" in gb
    for d in gb.values():
        assert all(n.full == n.full.strip() and "  " not in n.full for n in d.names)


def test_eu_fsf_xml():
    eu = load("eu", "eu", "fixture-Babystep-Technologies-active_sanction-fsf.xml")
    assert len(eu) == 17
    assert Counter(d.kind for d in eu.values()) == {"person": 10, "organization": 7}
    saddam = eu["eu:13"]
    assert saddam.name == "Saddam Hussein Al-Tikriti"
    assert [(b.earliest, b.precision) for b in saddam.birth_dates] == [("1937-04-28", "day")]
    assert [c.code for c in saddam.countries] == ["IQ"]
    assert saddam.listed_on == "2003-07-08"  # no designationDate: the regulation's publication date
    agha = eu["eu:514"]
    assert agha.name == "Abdul Manan Agha"  # not the Arabic name listed first
    assert set(names(agha, "weak")) == {"Saiyid Abd al-Man", "Abdul Man’am Saiyid"}
    assert "Abdul Manan" in names(agha, "alias")
    cyrillic = [n for d in eu.values() for n in d.names if n.script == "Cyrl"]
    assert "Анатолий Алексеевич СИДОРОВ" in [n.full for n in cyrillic]


# OFAC's advanced XML: the real non-SDN publication of 2020-03-17 (375 parties; see PROVENANCE.md).
ADVANCED_NS = "{http://www.un.org/sanctions/1.0}"


@pytest.fixture(scope="module")
def advanced():
    return importers.load("us-cons", str(real_file("us", "cons_advanced.xml")))[1]


def test_ofac_advanced_real_counts(advanced):
    # The expected counts are read from the file with a plain lxml walk, not through the importer.
    from lxml import etree

    root = etree.parse(str(real_file("us", "cons_advanced.xml"))).getroot()
    parties = root.findall(f".//{ADVANCED_NS}DistinctParty")
    individual = {t.get("ID") for t in root.iter(f"{ADVANCED_NS}PartyType") if t.text == "Individual"}
    person_subtypes = {t.get("ID") for t in root.iter(f"{ADVANCED_NS}PartySubType")
                       if t.get("PartyTypeID") in individual}
    persons = sum(p.find(f"{ADVANCED_NS}Profile").get("PartySubTypeID") in person_subtypes for p in parties)
    assert advanced.format == "ofac-advanced" and advanced.published_on == "2020-03-17"
    assert len(advanced.designations) == len(parties) == 375
    assert Counter(d.kind for d in advanced.designations) == {"person": persons, "organization": 375 - persons}
    assert persons == 82
    assert {d.key for d in advanced.designations} == {f"us-cons:{p.get('FixedRef')}" for p in parties}
    # Nothing in the real file is unreadable or of an unknown type.
    assert advanced.warnings == [] and [w for d in advanced.designations for w in d.warnings] == []


def test_ofac_advanced_real_person(advanced):
    d = next(r for r in advanced.designations if r.key == "us-cons:9639")
    assert (d.kind, d.name, d.listed_on, d.programmes) == ("person", "Ismail Abdul Salah HANIYA", "2006-04-12",
                                                           ["NS-PLC"])
    assert d.legal_basis == "General License 4 Under EO 13224 (Terrorism)"
    assert [(n.full, n.type) for n in d.names] == [("Ismail Abdul Salah HANIYA", "primary"),
                                                   ("Ismail HANIYA", "alias"), ("Ismaeel HANIYYA", "alias")]
    assert d.names[0].parts == {"last_name": "HANIYA", "first_name": "Ismail Abdul Salah"}
    assert [(b.earliest, b.latest, b.precision) for b in d.birth_dates] == [("1962-01-01", "1962-12-31", "year")]
    assert [p.text for p in d.birth_places] == ["Shati"]
    # Its only Location is an "undetermined" area code: nothing to keep.
    assert d.addresses == [] and d.identifiers == [] and d.countries == []


def test_ofac_advanced_real_person_with_passport_and_citizenship(advanced):
    d = next(r for r in advanced.designations if r.key == "us-cons:26182")
    assert (d.name, d.gender, d.listed_on, d.programmes) == ("Evren KAYAKIRAN", "male", "2019-02-07", ["FSE-IR"])
    assert [(b.earliest, b.precision) for b in d.birth_dates] == [("1980-02-08", "day")]
    assert [(i.type, i.value, i.country) for i in d.identifiers] == [("passport", "U00242309", "TR")]
    # The citizenship is a Location holding only the text "Turkey" (no LocationCountry).
    assert [(c.code, c.role) for c in d.countries] == [("TR", "citizenship")]
    assert [(a.text, a.country) for a in d.addresses] == [("Turkey", "TR")]


def test_ofac_advanced_real_organisation(advanced):
    d = next(r for r in advanced.designations if r.key == "us-cons:17018")
    assert (d.kind, d.name, d.listed_on, d.programmes) == ("organization", "Sberbank of Russia", "2014-09-12",
                                                           ["UKRAINE-EO13662"])
    assert [(n.full, n.type) for n in d.names] == [
        ("Sberbank of Russia", "primary"), ("Sberbank Rossii", "alias"), ("Sberbank Rossii OAO", "fka"),
        ("Otkrytoe Aktsionernoe Obshchestvo Sberbank Rossii", "fka")]
    assert [(i.type, i.value) for i in d.identifiers] == [("swift-bic", "SABRRUMM")]
    assert [(a.text, a.country) for a in d.addresses] == [("19 ul. Vavilova, Moscow, 117997, Russia", "RU")]
    assert sorted((c.type, c.value) for c in d.contacts) == [("email", "sbrf@sbrf.ru"), ("website", "www.sberbank.ru")]
    assert [(a.label, a.value) for a in d.attributes] == [
        ("Executive Order 13662 Directive Determination", "Subject to Directive 1")]
    # A feature whose value is only a location is kept, not dropped.
    registered = next(r for r in advanced.designations if r.key == "us-cons:23552")
    assert ("Nationality of Registration", "Russia") in [(a.label, a.value) for a in registered.attributes]


def test_ofac_advanced_real_against_the_2025_legacy_xml(advanced):
    """The same non-SDN list five years later: what may change (names, new numbers) and what may not."""
    later = {d.key: d for d in importers.load("us-cons", str(real_file("us", "consolidated.xml")))[1].designations}
    then = {d.key: d for d in advanced.designations}
    common = sorted(set(then) & set(later))
    assert len(common) >= 360  # 366: nine parties left the list between 2020 and 2025
    # The kind, the dates of birth and the nationalities of a party do not change.
    assert all(then[k].kind == later[k].kind for k in common)
    assert all(sorted((b.earliest, b.latest) for b in then[k].birth_dates)
               == sorted((b.earliest, b.latest) for b in later[k].birth_dates) for k in common)
    same_countries = sum(sorted((c.code, c.role) for c in then[k].countries)
                         == sorted((c.code, c.role) for c in later[k].countries) for k in common)
    assert same_countries >= len(common) - 2
    # Names: Russian companies were renamed (OAO -> PJSC); the 2020 name is mostly still among the 2025 names.
    kept_name = sum(then[k].name.casefold() in {n.full.casefold() for n in later[k].names} for k in common)
    assert kept_name >= 0.9 * len(common)
    # Identifiers are added over the years (LEIs, tax numbers) but rarely withdrawn.
    kept_ids = sum({(i.type, i.normalized) for i in then[k].identifiers}
                   <= {(i.type, i.normalized) for i in later[k].identifiers} for k in common)
    assert kept_ids >= 0.9 * len(common)
