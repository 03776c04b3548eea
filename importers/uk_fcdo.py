"""UK: the FCDO "UK Sanctions List" (XML and CSV), the only UK list since 28 January 2026.

Both editions are first reduced to one flat ``Fields`` record per
designation, then built by the same code.

Quirks handled here (XML verified on a genuine 21-record excerpt; the CSV
layout is taken from the published header and is not verified on data):
- XML: ``<DateGenerated>dd/mm/yyyy</DateGenerated>`` is the file date; one
  ``<Designation>`` per target; no namespace on the elements.
- ``UniqueID`` is the UK Sanctions List ref, the stable key (``gb:RUS1683``).
- ``OFSIGroupID`` and ``UNReferenceNumber`` may be missing; UN ships carry
  their UN ref only in ``OtherInformation`` (``UN Ref KPe.073``).
- ``NameType`` varies in case (``Primary Name`` / ``Primary name``,
  ``Primary Name Variation``, ``Alias``); ``AliasStrength`` is ``Good
  quality a.k.a`` / ``Low quality a.k.a``.
- Stray spaces in name parts, and an empty ``<Name>`` with only a type.
- DOBs ``dd/mm/yyyy`` with placeholders: ``dd/mm/1945``, ``00/00/1975``,
  even ``15/08/19yy``; duplicates occur (and passports repeated ten times).
- IMO numbers with or without the ``IMO`` prefix.
- ``UKStatementofReasons`` is always present, ``"\\n"`` when empty.
- CSV: first line ``Report Date: 08-Oct-2026``, then the header; one row
  per name/address variant, grouped by ``Unique ID``.
"""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field

from importers.common import (
    ImportFailure,
    add_birth_dates,
    add_country,
    child_text,
    children,
    clean,
    dedupe,
    element_to_dict,
    join_parts,
    localname,
    make_identifier,
    make_name,
    parse_day,
    parse_xml,
    path_texts,
)
from importers.countries import country_code
from importers.inputs import SourceFiles
from sanctions.schema import Address, Attribute, BirthPlace, Contact, CountryLink, Designation, ParsedList, Vessel

FORMAT = "fcdo"
SOURCES = ("gb",)
ROOT = "Designations"
KINDS = {"individual": "person", "entity": "organization", "ship": "vessel"}
_UN_REF_IN_TEXT = re.compile(r"UN Ref(?:erence Number)?:?\s*(?:UN Ref\s*)?([A-Z]{2}[ie]\.\d{3})")


@dataclass
class Fields:
    """One designation's values, whichever edition they came from."""

    unique_id: str
    kind_text: str | None = None
    last_updated: str | None = None
    date_designated: str | None = None
    ofsi_group_id: str | None = None
    un_refs: list[str] = field(default_factory=list)
    names: list[tuple[dict[str, str], str, str | None]] = field(default_factory=list)  # parts, type, strength
    non_latin: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # text, script, language
    titles: list[str] = field(default_factory=list)
    regimes: list[str] = field(default_factory=list)
    designation_source: str | None = None
    sanctions_imposed: str | None = None
    other_information: str | None = None
    reasons: str | None = None
    addresses: list[tuple[list[str], str | None, str | None]] = field(default_factory=list)  # lines, postcode, country
    phones: list[str] = field(default_factory=list)
    websites: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    dobs: list[str] = field(default_factory=list)
    passports: list[tuple[str | None, str | None]] = field(default_factory=list)
    national_ids: list[tuple[str | None, str | None]] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)
    positions: list[str] = field(default_factory=list)
    genders: list[str] = field(default_factory=list)
    birth_locations: list[tuple[str | None, str | None]] = field(default_factory=list)
    entity_types: list[str] = field(default_factory=list)
    subsidiaries: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    registrations: list[str] = field(default_factory=list)
    imos: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    previous_flags: list[str] = field(default_factory=list)
    ship_types: list[str] = field(default_factory=list)
    tonnages: list[str] = field(default_factory=list)
    years_built: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict)


# --- XML --------------------------------------------------------------------

def parse_xml_edition(files: SourceFiles, source: str) -> ParsedList:
    path, data = files.single()
    root = parse_xml(path, data)
    if localname(root) != ROOT:
        raise ImportFailure(path, f"expected the UK Sanctions List (<{ROOT}>), found <{localname(root)}>")
    published = parse_day(child_text(root, "DateGenerated"))
    designations = []
    for el in children(root, "Designation"):
        unique_id = child_text(el, "UniqueID")
        if not unique_id:
            raise ImportFailure(path, "Designation without UniqueID", record=f"line {el.sourceline}")
        designations.append(build(path, _fields_from_xml(el, unique_id)))
    return ParsedList(source=source, format=f"{FORMAT}-xml", designations=designations, published_on=published)



def _fields_from_xml(el, unique_id: str) -> Fields:
    f = Fields(unique_id=unique_id, raw=element_to_dict(el))
    f.kind_text = child_text(el, "IndividualEntityShip")
    f.last_updated = child_text(el, "LastUpdated")
    f.date_designated = child_text(el, "DateDesignated")
    f.ofsi_group_id = child_text(el, "OFSIGroupID")
    f.un_refs = [r for r in [child_text(el, "UNReferenceNumber")] if r]
    for name in [n for ns in children(el, "Names") for n in children(ns, "Name")]:
        parts = {f"name{i}": child_text(name, f"Name{i}") for i in range(1, 7)}
        f.names.append(({k: v for k, v in parts.items() if v}, child_text(name, "NameType") or "",
                        child_text(name, "AliasStrength")))
    for nl in [n for ns in children(el, "NonLatinNames") for n in children(ns, "NonLatinName")]:
        f.non_latin.append((child_text(nl, "NameNonLatinScript") or "", child_text(nl, "NonLatinScriptType"),
                            child_text(nl, "NonLatinScriptLanguage")))
    f.titles = path_texts(el, "Titles", "Title")
    f.regimes = [r for r in [child_text(el, "RegimeName")] if r]
    f.designation_source = child_text(el, "DesignationSource")
    f.sanctions_imposed = child_text(el, "SanctionsImposed")
    f.other_information = child_text(el, "OtherInformation")
    f.reasons = child_text(el, "UKStatementofReasons")
    for addr in [a for s in children(el, "Addresses") for a in children(s, "Address")]:
        f.addresses.append(([child_text(addr, f"AddressLine{i}") or "" for i in range(1, 7)],
                            child_text(addr, "AddressPostalCode"), child_text(addr, "AddressCountry")))
    f.phones = path_texts(el, "PhoneNumbers", "PhoneNumber")
    f.websites = path_texts(el, "Websites", "Website")
    f.emails = path_texts(el, "EmailAddresses", "EmailAddress")
    for ind in [i for d in children(el, "IndividualDetails") for i in children(d, "Individual")]:
        f.dobs += path_texts(ind, "DOBs", "DOB")
        for p in [p for s in children(ind, "PassportDetails") for p in children(s, "Passport")]:
            f.passports.append((child_text(p, "PassportNumber"), child_text(p, "PassportAdditionalInformation")))
        for n in [n for s in children(ind, "NationalIdentifierDetails") for n in children(s, "NationalIdentifier")]:
            f.national_ids.append((child_text(n, "NationalIdentifierNumber"),
                                   child_text(n, "NationalIdentifierAdditionalInformation")))
        f.nationalities += path_texts(ind, "Nationalities", "Nationality")
        f.positions += [p.strip() for t in path_texts(ind, "Positions", "Position") for p in t.split("|")]
        f.genders += path_texts(ind, "Genders", "Gender")
        for loc in [l for b in children(ind, "BirthDetails") for l in children(b, "Location")]:
            f.birth_locations.append((child_text(loc, "TownOfBirth"), child_text(loc, "CountryOfBirth")))
    for ent in [e for d in children(el, "EntityDetails") for e in children(d, "Entity")]:
        f.entity_types += path_texts(ent, "TypeOfEntities", "TypeOfEntity")
        f.subsidiaries += path_texts(ent, "Subsidiaries", "Subsidiary")
        f.parents += path_texts(ent, "ParentCompanies", "ParentCompany")
        f.registrations += path_texts(ent, "BusinessRegistrationNumbers", "BusinessRegistrationNumber")
    for ship in [s for d in children(el, "ShipDetails") for s in children(d, "Ship")]:
        f.imos += path_texts(ship, "IMONumbers", "IMONumber")
        f.owners += path_texts(ship, "CurrentOwnerOperators", "CurrentOwnerOperator")
        f.flags += path_texts(ship, "CurrentBelievedFlagOfShips", "CurrentBelievedFlagOfShip")
        f.previous_flags += path_texts(ship, "PreviousFlags", "PreviousFlag")
        f.ship_types += path_texts(ship, "TypeOfShipDetails", "TypeOfShip")
        f.tonnages += path_texts(ship, "TonnageOfShipDetails", "TonnageOfShip")
        f.years_built += path_texts(ship, "YearsBuilt", "YearBuilt")
    return f


# --- CSV --------------------------------------------------------------------

CSV_REQUIRED = ("Unique ID", "Name 6", "Name type", "Regime Name", "Designation Type")


def parse_csv(files: SourceFiles, source: str) -> ParsedList:
    path, data = files.single()
    text = data.decode("utf-8-sig", errors="replace")
    lines = csv.reader(io.StringIO(text, newline=""))
    first = next(lines, [])
    if not first or not first[0].startswith("Report Date"):
        raise ImportFailure(path, "expected 'Report Date:' on the first line (is this the UK Sanctions List CSV?)")
    published = parse_day(first[0].split(":", 1)[1].strip()) if ":" in first[0] else None
    header = [clean(h) or "" for h in next(lines, [])]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise ImportFailure(path, f"header row lacks column(s) {', '.join(missing)}", record="line 2")
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for line_no, row in enumerate(lines, start=3):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ImportFailure(path, f"row has {len(row)} cells, the header {len(header)}", record=f"line {line_no}")
        rec = dict(zip(header, row))
        unique_id = clean(rec["Unique ID"])
        if not unique_id:
            raise ImportFailure(path, "row without Unique ID", record=f"line {line_no}")
        groups[unique_id].append(rec)
    designations = [build(path, _fields_from_csv(uid, rows)) for uid, rows in groups.items()]
    return ParsedList(source=source, format=f"{FORMAT}-csv", designations=designations, published_on=published)


def _fields_from_csv(unique_id: str, rows: list[dict[str, str]]) -> Fields:
    def col(name: str) -> list[str]:
        return dedupe(v for r in rows for v in (clean(r.get(name)),) if v)

    first = rows[0]
    f = Fields(unique_id=unique_id, raw={"rows": rows})
    f.kind_text = clean(first.get("Designation Type"))
    f.last_updated = clean(first.get("Last Updated"))
    f.date_designated = clean(first.get("Date Designated"))
    f.ofsi_group_id = clean(first.get("OFSI Group ID"))
    f.un_refs = col("UN Reference Number")
    for r in rows:
        parts = {f"name{i}": clean(r.get(f"Name {i}")) for i in range(1, 7)}
        f.names.append(({k: v for k, v in parts.items() if v}, clean(r.get("Name type")) or "",
                        clean(r.get("Alias strength"))))
        if clean(r.get("Name non-latin script")):
            f.non_latin.append((r["Name non-latin script"], clean(r.get("Non-latin script type")),
                                clean(r.get("Non-latin script language"))))
        lines = [clean(r.get(f"Address Line {i}")) or "" for i in range(1, 7)]
        if any(lines) or clean(r.get("Address Country")):
            f.addresses.append((lines, clean(r.get("Address Postal Code")), clean(r.get("Address Country"))))
        if clean(r.get("Passport number")):
            f.passports.append((clean(r["Passport number"]), clean(r.get("Passport additional information"))))
        if clean(r.get("National Identifier number")):
            f.national_ids.append((clean(r["National Identifier number"]),
                                   clean(r.get("National Identifier additional information"))))
        if clean(r.get("Town of birth")) or clean(r.get("Country of birth")):
            f.birth_locations.append((clean(r.get("Town of birth")), clean(r.get("Country of birth"))))
    f.titles = col("Title")
    f.regimes = col("Regime Name")
    f.designation_source = clean(first.get("Designation source"))
    f.sanctions_imposed = clean(first.get("Sanctions Imposed"))
    f.other_information = clean(first.get("Other Information"))
    f.reasons = clean(first.get("UK Statement of Reasons"))
    f.phones, f.websites, f.emails = col("Phone number"), col("Website"), col("Email address")
    f.dobs = col("D.O.B")
    f.nationalities = col("Nationality(/ies)")
    f.positions, f.genders = col("Position"), col("Gender")
    f.entity_types, f.subsidiaries, f.parents = col("Type of entity"), col("Subsidiaries"), col("Parent company")
    f.registrations = col("Business registration number (s)")
    f.imos, f.owners = col("IMO number"), col("Current owner/operator (s)")
    f.flags, f.previous_flags = col("Current believed flag of ship"), col("Previous flags")
    f.ship_types, f.tonnages, f.years_built = col("Type of ship"), col("Tonnage of ship"), col("Year Built")
    return f


# --- common build -------------------------------------------------------------

def _name_type(name_type: str, strength: str | None) -> str:
    name_type = name_type.lower()
    if name_type == "primary name":
        return "primary"
    if strength and strength.lower().startswith("low"):
        return "weak"
    return "alias"


def build(path: str, f: Fields) -> Designation:
    kind = KINDS.get((f.kind_text or "").lower())
    if kind is None:
        raise ImportFailure(path, f"unknown IndividualEntityShip {f.kind_text!r}", record=f.unique_id)
    names = []
    for parts, name_type, strength in f.names:
        ordered = [parts.get(f"name{i}") for i in range(1, 7)]
        name = make_name(join_parts(*ordered), _name_type(name_type, strength), parts)
        if name:
            names.append(name)
    for text, _script, language in f.non_latin:
        name = make_name(text, "alias", language=language)
        if name:
            names.append(name)
    names = dedupe(names)
    if not names:
        raise ImportFailure(path, "designation without a name", record=f.unique_id)
    primary = next((n for n in names if n.type == "primary"), names[0])
    un_refs = list(f.un_refs) + _UN_REF_IN_TEXT.findall(f.other_information or "")
    record = Designation(
        source="gb",
        source_id=f.unique_id,
        key=f"gb:{f.unique_id}",
        kind=kind,
        name=primary.full,
        listed_on=parse_day(f.date_designated),
        updated_on=parse_day(f.last_updated),
        programmes=f.regimes,
        remarks=f.other_information,
        reasons=f.reasons,
        title=", ".join(dedupe(f.titles)) or None,
        position="; ".join(dedupe(f.positions)) or None,
        gender=f.genders[0].lower() if f.genders else None,
        names=names,
        raw=f.raw,
    )
    if f.ofsi_group_id:
        record.attributes.append(Attribute("OFSI Group ID", f.ofsi_group_id))
    for ref in dedupe(un_refs):
        record.attributes.append(Attribute("UN reference number", ref))
    for label, value in (("Designation source", f.designation_source), ("Sanctions imposed", f.sanctions_imposed)):
        if value:
            record.attributes.append(Attribute(label, value))
    for label, items in (("Type of entity", f.entity_types), ("Subsidiary", f.subsidiaries),
                         ("Parent company", f.parents), ("Previous flag", f.previous_flags)):
        record.attributes.extend(Attribute(label, v) for v in dedupe(items))
    record.contacts = dedupe(
        [Contact("phone", p) for p in f.phones] + [_web_contact(w) for w in f.websites]
        + [Contact("email", e) for e in f.emails]
    )
    for text in dedupe(f.dobs):
        add_birth_dates(record, text)
    record.birth_dates = dedupe(record.birth_dates)
    for town, country in dedupe(f.birth_locations):
        record.birth_places.append(BirthPlace(", ".join(p for p in (town, country) if p), country_code(country)))
    for text in dedupe(f.nationalities):
        add_country(record, text, "nationality")
    for type_, docs, label in (("passport", f.passports, "Passport"), ("national-id", f.national_ids, "National Identifier")):
        for number, info in dedupe(docs):
            if number:
                ident = make_identifier(type_, number, label=label, note=info)
                if ident:
                    record.identifiers.append(ident)
            elif info:
                record.attributes.append(Attribute(label, info))
    for text in dedupe(f.registrations):
        for line in text.split("\n") if "\n" in text else [text]:
            ident = make_identifier("registration", line, label="Business registration number")
            if ident:
                record.identifiers.append(ident)
    for lines, postcode, country in dedupe(f.addresses):
        code = country_code(country)
        if not country:
            # One address puts its country in a line instead of AddressCountry.
            for line in reversed([l for l in lines if l]):
                if country_code(line):
                    code = country_code(line)
                    break
        text = ", ".join(p for p in lines + [postcode or "", country or ""] if p)
        city = next((l for l in reversed(lines) if l), None)
        record.addresses.append(Address(text, city=city, country=code))
    for imo in dedupe(f.imos):
        ident = make_identifier("imo", imo, label="IMO number")
        if ident:
            record.identifiers.append(ident)
    if kind == "vessel":
        flag = f.flags[0] if f.flags else None
        record.vessel = Vessel(
            imo=next((i.normalized for i in record.identifiers if i.type == "imo"), None),
            flag=country_code(flag), flag_text=flag,
            type=f.ship_types[0] if f.ship_types else None,
            tonnage=f.tonnages[0] if f.tonnages else None,
            owner="; ".join(f.owners) or None,
            build_year=f.years_built[0] if f.years_built else None,
        )
        if record.vessel.flag:
            record.countries.append(CountryLink(record.vessel.flag, "flag", flag))
    record.identifiers = dedupe(record.identifiers)
    return record


def _web_contact(value: str) -> Contact:
    """The Websites field sometimes holds an e-mail address (``office@ban.by``)."""
    return Contact("email" if "@" in value and "/" not in value else "website", value)



PARSERS = {"xml": parse_xml_edition, "csv": parse_csv}
