"""The EU and FCDO CSV editions, for which no real file was available.

Each test writes the CSV edition of a genuine XML excerpt, laid out as the
publisher documents it (the EU's 1.1 column list; the FCDO's 58-column
header after a ``Report Date`` line, one row per name), and checks that
both editions import to the same records.  Since such a CSV shares any
misreading with the XML it comes from, each CSV format also has one
hand-written record checked field by field against typed-in values.
"""
from __future__ import annotations

import csv
import io

from lxml import etree

import importers
from tests.conftest import real_file

EU_COLUMNS = """fileGenerationDate Entity_LogicalId Entity_EU_ReferenceNumber Entity_UnitedNationId
Entity_DesignationDate Entity_DesignationDetails Entity_Remark Entity_SubjectType Entity_SubjectType_ClassificationCode
Entity_Regulation_Type Entity_Regulation_OrganisationType Entity_Regulation_PublicationDate
Entity_Regulation_EntryIntoForceDate Entity_Regulation_NumberTitle Entity_Regulation_Programme
Entity_Regulation_PublicationUrl NameAlias_LastName NameAlias_FirstName NameAlias_MiddleName NameAlias_WholeName
NameAlias_NameLanguage NameAlias_Gender NameAlias_Title NameAlias_Function NameAlias_LogicalId
NameAlias_RegulationLanguage NameAlias_Remark NameAlias_Regulation_Type NameAlias_Regulation_NumberTitle
Address_City Address_Street Address_PoBox Address_ZipCode Address_Region Address_Place Address_AsAtListingTime
Address_ContactInfo Address_CountryIso2Code Address_CountryDescription Address_LogicalId Address_Remark
BirthDate_BirthDate BirthDate_Day BirthDate_Month BirthDate_Year BirthDate_YearRangeFrom BirthDate_YearRangeTo
BirthDate_Circa BirthDate_CalendarType BirthDate_ZipCode BirthDate_Region BirthDate_Place BirthDate_City
BirthDate_CountryIso2Code BirthDate_CountryDescription BirthDate_LogicalId BirthDate_Remark Identification_Number
Identification_Diplomatic Identification_KnownExpired Identification_KnownFalse Identification_ReportedLost
Identification_RevokedByIssuer Identification_IssuedBy Identification_IssuedDate Identification_ValidFrom
Identification_ValidTo Identification_LatinNumber Identification_NameOnDocument Identification_TypeCode
Identification_TypeDescription Identification_Region Identification_CountryIso2Code
Identification_CountryDescription Identification_LogicalId Identification_Remark Citizenship_Region
Citizenship_CountryIso2Code Citizenship_CountryDescription Citizenship_LogicalId Citizenship_Remark""".split()
# XML attribute -> CSV column suffix where they are not the same word.
EU_RENAMES = {"dayOfMonth": "Day", "monthOfYear": "Month", "birthdate": "BirthDate", "issueDate": "IssuedDate",
              "identificationTypeCode": "TypeCode", "identificationTypeDescription": "TypeDescription",
              "regulationType": "Type"}
EU_GROUPS = {"nameAlias": "NameAlias", "birthdate": "BirthDate", "identification": "Identification",
             "address": "Address", "citizenship": "Citizenship"}


def local(el) -> str:
    return etree.QName(el).localname


def eu_csv_from_xml(xml: bytes) -> str:
    root = etree.fromstring(xml)
    d, m, y = root.get("generationDate")[8:10], root.get("generationDate")[5:7], root.get("generationDate")[:4]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EU_COLUMNS, delimiter=";")
    writer.writeheader()
    for entity in root:
        base = {"fileGenerationDate": f"{d}/{m}/{y}", "Entity_LogicalId": entity.get("logicalId"),
                "Entity_EU_ReferenceNumber": entity.get("euReferenceNumber"),
                "Entity_UnitedNationId": entity.get("unitedNationId"),
                "Entity_DesignationDate": entity.get("designationDate", ""),
                "Entity_DesignationDetails": entity.get("designationDetails"),
                "Entity_Remark": "\n".join(r.text for r in entity if local(r) == "remark")}
        for child in entity:
            name = local(child)
            if name == "subjectType":
                base["Entity_SubjectType"] = child.get("code")
                base["Entity_SubjectType_ClassificationCode"] = child.get("classificationCode")
            elif name == "regulation":
                for attr, value in child.attrib.items():
                    column = "Entity_Regulation_" + EU_RENAMES.get(attr, attr[0].upper() + attr[1:])
                    if column in EU_COLUMNS:
                        base[column] = value
                base["Entity_Regulation_PublicationUrl"] = child[0].text
        for child in entity:
            prefix = EU_GROUPS.get(local(child))
            if prefix is None:
                continue
            row = dict(base)
            for attr, value in child.attrib.items():
                column = f"{prefix}_" + EU_RENAMES.get(attr, attr[0].upper() + attr[1:])
                if column in EU_COLUMNS:
                    row[column] = value
            remarks = [r.text for r in child if local(r) == "remark"]
            if remarks:
                row[f"{prefix}_Remark"] = remarks[0]
            contacts = [c.get("value") for c in child if local(c) == "contactInfo"]
            if contacts:
                row["Address_ContactInfo"] = contacts[0]
            writer.writerow(row)
    return "\ufeff" + out.getvalue()


def comparable(designations):
    return {d.key: {k: v for k, v in d.content().items()} for d in designations}


def test_eu_csv_edition_imports_like_the_xml(tmp_path):
    xml_path = real_file("eu", "fixture-Babystep-Technologies-active_sanction-fsf.xml")
    csv_path = tmp_path / "20260805-FULL-1_1.csv"
    csv_path.write_text(eu_csv_from_xml(xml_path.read_bytes()), encoding="utf-8")
    from_xml = importers.load("eu", str(xml_path))[1]
    from_csv = importers.load("eu", str(csv_path))[1]
    assert from_csv.format == "eu-fsf-csv" and from_csv.published_on == from_xml.published_on == "2026-08-05"
    assert comparable(from_csv.designations) == comparable(from_xml.designations)


FCDO_HEADER = ("Last Updated,Unique ID,OFSI Group ID,UN Reference Number,Name 6,Name 1,Name 2,Name 3,Name 4,Name 5,"
               "Name type,Alias strength,Title,Name non-latin script,Non-latin script type,Non-latin script language,"
               "Regime Name,Designation Type,Designation source,Sanctions Imposed,Other Information,"
               "UK Statement of Reasons,Address Line 1,Address Line 2,Address Line 3,Address Line 4,Address Line 5,"
               "Address Line 6,Address Postal Code,Address Country,Phone number,Website,Email address,"
               "Date Designated,D.O.B,Nationality(/ies),National Identifier number,"
               "National Identifier additional information,Passport number,Passport additional information,"
               "Position,Gender,Town of birth,Country of birth,Type of entity,Subsidiaries,Parent company,"
               "Business registration number (s),IMO number,Current owner/operator (s),Previous owner/operator (s),"
               "Current believed flag of ship,Previous flags,Type of ship,Tonnage of ship,Length of ship,Year Built,"
               "Hull identification number (HIN)").split(",")


def fcdo_csv_from_xml(xml: bytes) -> str:
    """One row per name; the n-th row also carries the n-th of each repeated detail."""
    root = etree.fromstring(xml)

    def texts(el, *path):
        nodes = [el]
        for name in path:
            nodes = [c for n in nodes for c in n if local(c) == name]
        return [(n.text or "").strip() for n in nodes]

    def first(el, name):
        found = texts(el, name)
        return found[0] if found else ""

    out = io.StringIO()
    out.write("Report Date: 07-Sep-2026\n")
    writer = csv.DictWriter(out, fieldnames=FCDO_HEADER)
    writer.writeheader()
    for d in (c for c in root if local(c) == "Designation"):
        names = [n for ns in d if local(ns) == "Names" for n in ns]
        non_latin = [n for ns in d if local(ns) == "NonLatinNames" for n in ns]
        addresses = [a for s in d if local(s) == "Addresses" for a in s]
        ind = [i for s in d if local(s) == "IndividualDetails" for i in s]
        ent = [e for s in d if local(s) == "EntityDetails" for e in s]
        ship = [s for x in d if local(x) == "ShipDetails" for s in x]
        repeated = {
            "D.O.B": [t for i in ind for t in texts(i, "DOBs", "DOB")],
            "Nationality(/ies)": [t for i in ind for t in texts(i, "Nationalities", "Nationality")],
            "Position": [t for i in ind for t in texts(i, "Positions", "Position")],
            "Gender": [t for i in ind for t in texts(i, "Genders", "Gender")],
            "Title": texts(d, "Titles", "Title"),
            "Phone number": texts(d, "PhoneNumbers", "PhoneNumber"),
            "Website": texts(d, "Websites", "Website"),
            "Email address": texts(d, "EmailAddresses", "EmailAddress"),
            "Type of entity": [t for e in ent for t in texts(e, "TypeOfEntities", "TypeOfEntity")],
            "Subsidiaries": [t for e in ent for t in texts(e, "Subsidiaries", "Subsidiary")],
            "Business registration number (s)": [t for e in ent for t in texts(
                e, "BusinessRegistrationNumbers", "BusinessRegistrationNumber")],
            "IMO number": [t for s in ship for t in texts(s, "IMONumbers", "IMONumber")],
            "Current owner/operator (s)": [t for s in ship for t in texts(
                s, "CurrentOwnerOperators", "CurrentOwnerOperator")],
            "Current believed flag of ship": [t for s in ship for t in texts(
                s, "CurrentBelievedFlagOfShips", "CurrentBelievedFlagOfShip")],
            "Previous flags": [t for s in ship for t in texts(s, "PreviousFlags", "PreviousFlag")],
            "Type of ship": [t for s in ship for t in texts(s, "TypeOfShipDetails", "TypeOfShip")],
            "Tonnage of ship": [t for s in ship for t in texts(s, "TonnageOfShipDetails", "TonnageOfShip")],
            "Year Built": [t for s in ship for t in texts(s, "YearsBuilt", "YearBuilt")],
        }
        passports = [(first(p, "PassportNumber"), first(p, "PassportAdditionalInformation"))
                     for i in ind for s in i if local(s) == "PassportDetails" for p in s]
        national_ids = [(first(n, "NationalIdentifierNumber"), first(n, "NationalIdentifierAdditionalInformation"))
                        for i in ind for s in i if local(s) == "NationalIdentifierDetails" for n in s]
        births = [(first(loc, "TownOfBirth"), first(loc, "CountryOfBirth"))
                  for i in ind for s in i if local(s) == "BirthDetails" for loc in s]
        rows = max(len(names), len(non_latin), len(addresses), len(passports), len(national_ids), len(births),
                   *(len(v) for v in repeated.values()), 1)
        for n in range(rows):
            row = {"Last Updated": first(d, "LastUpdated"), "Unique ID": first(d, "UniqueID"),
                   "OFSI Group ID": first(d, "OFSIGroupID"), "UN Reference Number": first(d, "UNReferenceNumber"),
                   "Regime Name": first(d, "RegimeName"), "Designation Type": first(d, "IndividualEntityShip"),
                   "Designation source": first(d, "DesignationSource"),
                   "Sanctions Imposed": first(d, "SanctionsImposed"),
                   "Other Information": first(d, "OtherInformation"),
                   "UK Statement of Reasons": first(d, "UKStatementofReasons"),
                   "Date Designated": first(d, "DateDesignated")}
            if n < len(names):
                for i in range(1, 7):
                    row[f"Name {i}"] = first(names[n], f"Name{i}")
                row["Name type"] = first(names[n], "NameType")
                row["Alias strength"] = first(names[n], "AliasStrength")
            if n < len(non_latin):
                row["Name non-latin script"] = first(non_latin[n], "NameNonLatinScript")
                row["Non-latin script type"] = first(non_latin[n], "NonLatinScriptType")
                row["Non-latin script language"] = first(non_latin[n], "NonLatinScriptLanguage")
            if n < len(addresses):
                for i in range(1, 7):
                    row[f"Address Line {i}"] = first(addresses[n], f"AddressLine{i}")
                row["Address Postal Code"] = first(addresses[n], "AddressPostalCode")
                row["Address Country"] = first(addresses[n], "AddressCountry")
            for column, values in repeated.items():
                if n < len(values):
                    row[column] = values[n]
            if n < len(passports):
                row["Passport number"], row["Passport additional information"] = passports[n]
            if n < len(national_ids):
                row["National Identifier number"], row["National Identifier additional information"] = national_ids[n]
            if n < len(births):
                row["Town of birth"], row["Country of birth"] = births[n]
            writer.writerow(row)
    return out.getvalue()


def essentials(designations):
    """What both editions must agree on (the CSV flattens positions' "|" and drops empty names)."""
    return {d.key: (d.kind, d.name, sorted((n.full, n.type) for n in d.names),
                    sorted((b.earliest, b.latest) for b in d.birth_dates),
                    sorted((i.type, i.normalized) for i in d.identifiers),
                    sorted((c.code, c.role) for c in d.countries), d.listed_on, d.updated_on, d.programmes,
                    sorted(a.text for a in d.addresses), d.gender)
            for d in designations}


def test_fcdo_csv_edition_imports_like_the_xml(tmp_path):
    xml_path = real_file("uk", "fixture-Babystep-Technologies-active_sanction-uk-sanctions-list.xml")
    csv_path = tmp_path / "UK-Sanctions-List.csv"
    csv_path.write_text(fcdo_csv_from_xml(xml_path.read_bytes()), encoding="utf-8-sig")
    from_xml = importers.load("gb", str(xml_path))[1]
    from_csv = importers.load("gb", str(csv_path))[1]
    assert from_csv.format == "fcdo-csv" and from_csv.published_on == from_xml.published_on == "2026-09-07"
    assert essentials(from_csv.designations) == essentials(from_xml.designations)


def test_ofac_advanced_xml_imports_like_the_csv():
    """OFAC's advanced schema, on two real SDN records written in it (the real non-SDN advanced file is
    tested in test_importers_real.py)."""
    from tests.conftest import REPO

    advanced = importers.load("us-sdn", str(REPO / "tests" / "data" / "sdn_advanced_excerpt.xml"))[1]
    assert advanced.format == "ofac-advanced" and advanced.published_on == "2024-05-03"
    csv_records = {d.key: d for d in importers.load("us-sdn", str(real_file("us")))[1].designations}
    for record in advanced.designations:
        twin = csv_records[record.key]
        assert (record.kind, record.name, record.programmes, record.gender) == \
            (twin.kind, twin.name, twin.programmes, twin.gender)
        assert sorted((n.full, n.type) for n in record.names) == sorted((n.full, n.type) for n in twin.names)
        assert [(b.earliest, b.latest, b.precision) for b in record.birth_dates] == \
            [(b.earliest, b.latest, b.precision) for b in twin.birth_dates]
        assert sorted((i.type, i.normalized, i.country) for i in record.identifiers) == \
            sorted((i.type, i.normalized, i.country) for i in twin.identifiers)
        assert [p.text for p in record.birth_places] == [p.text for p in twin.birth_places]
    nasrallah, ebano = (next(d for d in advanced.designations if d.source_id == i) for i in ("2686", "4243"))
    assert nasrallah.title == "Secretary General of Hizballah" and nasrallah.listed_on == "1995-01-23"
    assert ("Additional Sanctions Information", "Subject to Secondary Sanctions Pursuant to the Hizballah "
            "Financial Sanctions Regulations") in [(a.label, a.value) for a in nasrallah.attributes]
    assert (ebano.vessel.imo, ebano.vessel.flag, ebano.vessel.type, ebano.vessel.tonnage,
            ebano.vessel.gross_tonnage) == ("7406784", "PA", "General Cargo", "2595", "1865")


# Hand-written records: each edition read on its own, field by field, against values typed here
# (the tests above compare the CSV with the XML it was made from, which cannot catch a
# misreading that both editions share).

def hand_written_csv(columns, rows, delimiter=",", first_line=""):
    out = io.StringIO()
    out.write(first_line)
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


EU_ENTITY = {
    "fileGenerationDate": "28/10/2026", "Entity_LogicalId": "999001", "Entity_EU_ReferenceNumber": "EU.9999.99",
    "Entity_DesignationDate": "2022-02-25", "Entity_Remark": "Hand-written test record.",
    "Entity_SubjectType": "person", "Entity_SubjectType_ClassificationCode": "P",
    "Entity_Regulation_Type": "regulation", "Entity_Regulation_PublicationDate": "2022-02-25",
    "Entity_Regulation_NumberTitle": "2022/330 (OJ L53)", "Entity_Regulation_Programme": "RUS",
    "Entity_Regulation_PublicationUrl": "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=OJ:L:2022:053:TOC",
}


def test_eu_csv_hand_written_record(tmp_path):
    rows = [
        {**EU_ENTITY, "NameAlias_LastName": "PETROV", "NameAlias_FirstName": "Ivan",
         "NameAlias_MiddleName": "Sergeyevich", "NameAlias_WholeName": "Ivan Sergeyevich PETROV",
         "NameAlias_Gender": "M", "NameAlias_Function": "Deputy Minister of Defence", "NameAlias_LogicalId": "1001",
         "BirthDate_BirthDate": "1961-05-14", "BirthDate_City": "Omsk", "BirthDate_CountryIso2Code": "RU",
         "BirthDate_CountryDescription": "RUSSIAN FEDERATION", "BirthDate_LogicalId": "2001",
         "Identification_Number": "7203456789", "Identification_TypeCode": "passport",
         "Identification_TypeDescription": "National passport", "Identification_IssuedDate": "2015-03-01",
         "Identification_CountryIso2Code": "RU", "Identification_CountryDescription": "RUSSIAN FEDERATION",
         "Identification_LogicalId": "3001", "Citizenship_CountryIso2Code": "RU",
         "Citizenship_CountryDescription": "RUSSIAN FEDERATION", "Citizenship_LogicalId": "4001",
         "Address_Street": "Frunzenskaya naberezhnaya 22", "Address_ZipCode": "119160", "Address_City": "Moscow",
         "Address_CountryIso2Code": "RU", "Address_CountryDescription": "RUSSIAN FEDERATION",
         "Address_LogicalId": "5001"},
        {**EU_ENTITY, "NameAlias_WholeName": "Иван Сергеевич ПЕТРОВ", "NameAlias_NameLanguage": "RU",
         "NameAlias_LogicalId": "1002"},
    ]
    path = tmp_path / "20261028-FULL-1_1.csv"
    path.write_text("\ufeff" + hand_written_csv(EU_COLUMNS, rows, delimiter=";"), encoding="utf-8")
    parsed = importers.load("eu", str(path))[1]
    assert (parsed.format, parsed.published_on) == ("eu-fsf-csv", "2026-10-28")
    (d,) = parsed.designations
    assert (d.key, d.kind, d.name, d.listed_on) == ("eu:999001", "person", "Ivan Sergeyevich PETROV", "2022-02-25")
    assert (d.programmes, d.legal_basis, d.remarks) == (["RUS"], "2022/330 (OJ L53)", "Hand-written test record.")
    assert (d.gender, d.position, d.title) == ("male", "Deputy Minister of Defence", None)
    assert [(n.full, n.type, n.script, n.language) for n in d.names] == [
        ("Ivan Sergeyevich PETROV", "primary", "Latn", None), ("Иван Сергеевич ПЕТРОВ", "alias", "Cyrl", "RU")]
    assert d.names[0].parts == {"firstName": "Ivan", "middleName": "Sergeyevich", "lastName": "PETROV"}
    assert [(b.earliest, b.latest, b.precision) for b in d.birth_dates] == [("1961-05-14", "1961-05-14", "day")]
    assert [(p.text, p.country) for p in d.birth_places] == [("Omsk, RUSSIAN FEDERATION", "RU")]
    assert [(c.code, c.role) for c in d.countries] == [("RU", "citizenship")]
    assert [(i.type, i.value, i.country, i.label, i.note) for i in d.identifiers] == [
        ("passport", "7203456789", "RU", "National passport", "issued 2015-03-01")]
    assert [(a.text, a.city, a.country) for a in d.addresses] == [
        ("Frunzenskaya naberezhnaya 22, 119160, Moscow, RUSSIAN FEDERATION", "Moscow", "RU")]
    assert ("EU reference number", "EU.9999.99") in [(a.label, a.value) for a in d.attributes]


def test_fcdo_csv_hand_written_record(tmp_path):
    common = {"Last Updated": "16/03/2022", "Unique ID": "RUS9999", "OFSI Group ID": "99999",
              "Regime Name": "Russia", "Designation Type": "Individual", "Designation source": "UK",
              "Sanctions Imposed": "Asset freeze|Travel Ban", "Date Designated": "15/03/2022",
              "UK Statement of Reasons": "Hand-written test record."}
    rows = [
        {**common, "Name 6": "PETROV", "Name 1": "Ivan", "Name 2": "Sergeyevich", "Name type": "Primary Name",
         "Title": "General", "D.O.B": "14/05/1961", "Nationality(/ies)": "Russia", "Passport number": "7203456789",
         "Passport additional information": "Russia", "Position": "Deputy Minister of Defence", "Gender": "Male",
         "Town of birth": "Omsk", "Country of birth": "Russia", "Address Line 1": "Frunzenskaya naberezhnaya 22",
         "Address Line 2": "Moscow", "Address Postal Code": "119160", "Address Country": "Russia"},
        {**common, "Name 6": "PETROFF", "Name 1": "Ivan", "Name type": "Alias", "Alias strength": "Good quality a.k.a",
         "Name non-latin script": "Иван Сергеевич ПЕТРОВ", "Non-latin script type": "Cyrillic",
         "Non-latin script language": "Russian"},
        {**common, "Name 6": "VANYA", "Name type": "Alias", "Alias strength": "Low quality a.k.a"},
    ]
    path = tmp_path / "UK-Sanctions-List.csv"
    path.write_text(hand_written_csv(FCDO_HEADER, rows, first_line="Report Date: 07-Sep-2026\r\n"),
                    encoding="utf-8-sig")
    parsed = importers.load("gb", str(path))[1]
    assert (parsed.format, parsed.published_on) == ("fcdo-csv", "2026-09-07")
    (d,) = parsed.designations
    assert (d.key, d.kind, d.name) == ("gb:RUS9999", "person", "Ivan Sergeyevich PETROV")
    assert (d.listed_on, d.updated_on, d.programmes) == ("2022-03-15", "2022-03-16", ["Russia"])
    assert (d.reasons, d.title, d.position, d.gender) == ("Hand-written test record.", "General",
                                                          "Deputy Minister of Defence", "male")
    assert [(n.full, n.type) for n in d.names] == [
        ("Ivan Sergeyevich PETROV", "primary"), ("Ivan PETROFF", "alias"), ("VANYA", "weak"),
        ("Иван Сергеевич ПЕТРОВ", "alias")]
    assert d.names[3].language == "Russian" and d.names[3].script == "Cyrl"
    assert [(b.earliest, b.latest, b.precision) for b in d.birth_dates] == [("1961-05-14", "1961-05-14", "day")]
    assert [(p.text, p.country) for p in d.birth_places] == [("Omsk, Russia", "RU")]
    assert [(c.code, c.role) for c in d.countries] == [("RU", "nationality")]
    assert [(i.type, i.value, i.note) for i in d.identifiers] == [("passport", "7203456789", "Russia")]
    assert [(a.text, a.city, a.country) for a in d.addresses] == [
        ("Frunzenskaya naberezhnaya 22, Moscow, 119160, Russia", "Moscow", "RU")]
    assert [(a.label, a.value) for a in d.attributes] == [
        ("OFSI Group ID", "99999"), ("Designation source", "UK"), ("Sanctions imposed", "Asset freeze|Travel Ban")]
