"""EU: Financial Sanctions Files (FSF) consolidated list, XML 1.1 and CSV 1.1.

The XML keeps almost everything in attributes; the CSV is the same data
denormalised (one row per sub-record, columns ``NameAlias_WholeName`` …).
Both editions are reduced to the XML's attribute dictionaries and built by
the same code.

Quirks handled here (XML verified on a genuine 17-entity excerpt; the CSV
column list beyond its documented prefixes is not verified on data):
- Every element is in the ``http://eu.europa.ec/fpi/fsd/export`` namespace;
  parsed namespace-agnostically.
- ``logicalId`` is the stable id (``eu:514``); ``designationDate`` may be
  absent (then the regulation's publication date stands in).
- ``unitedNationId`` is usually empty even for UN-derived listings.
- Alias strength is NOT in ``strong`` (always "true"); it is a child
  ``<remark>low quality alias</remark>`` (also misspelt ``aliias``).
- ``nameLanguage`` is unreliable (a Cyrillic name tagged ``EN``), and the
  first ``nameAlias`` is not always the Latin primary name.
- Birth dates come as full date, year, month+year, year range, or place
  only; ``calendarType="ISLAMIC"`` parts are Hijri and are not read as
  Gregorian years.
- Country code ``00`` / ``UNKNOWN`` means unknown; empty strings stand for
  absent attributes.
- Identification ``number`` may be a placeholder (``-``).
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
    children,
    clean,
    dedupe,
    element_to_dict,
    localname,
    localname_attr,
    make_identifier,
    make_name,
    parse_day,
    parse_xml,
)
from importers.countries import country_code
from importers.inputs import SourceFiles
from sanctions.schema import Address, Attribute, BirthPlace, Contact, CountryLink, Designation, ParsedList

FORMAT = "eu-fsf"
SOURCES = ("eu",)
ROOT = "export"
KINDS = {"person": "person", "enterprise": "organization", "vessel": "vessel", "aircraft": "aircraft",
         "p": "person", "e": "organization"}
ID_TYPES = {"passport": "passport", "id": "national-id", "fiscalcode": "tax-id", "regnumber": "registration",
            "imo": "imo", "swiftbic": "swift-bic", "other": "other"}
_WEAK = re.compile(r"low quality", re.I)


@dataclass
class Entity:
    """One sanctionEntity as attribute dictionaries, from either edition."""

    attrs: dict[str, str]
    remarks: list[str] = field(default_factory=list)
    regulations: list[dict[str, str]] = field(default_factory=list)
    subject_type: str | None = None
    names: list[tuple[dict[str, str], list[str]]] = field(default_factory=list)
    citizenships: list[dict[str, str]] = field(default_factory=list)
    birthdates: list[dict[str, str]] = field(default_factory=list)
    addresses: list[tuple[dict[str, str], list[tuple[str, str]]]] = field(default_factory=list)
    identifications: list[dict[str, str]] = field(default_factory=list)
    raw: dict = field(default_factory=dict)


def _attrs(el) -> dict[str, str]:
    return {localname_attr(k): v for k, v in el.attrib.items()}


def _remarks(el) -> list[str]:
    return [t for t in (clean(r.text) for r in children(el, "remark")) if t]


# --- XML --------------------------------------------------------------------

def parse_xml_edition(files: SourceFiles, source: str) -> ParsedList:
    path, data = files.single()
    root = parse_xml(path, data)
    if localname(root) != ROOT or "fsd" not in (root.tag or ""):
        raise ImportFailure(path, f"expected the EU FSF export (<{ROOT}> in the fsd namespace), "
                                  f"found <{localname(root)}>")
    published = parse_day((root.get("generationDate") or "")[:10])
    designations = []
    for el in children(root, "sanctionEntity"):
        entity = Entity(attrs=_attrs(el), remarks=_remarks(el), raw=element_to_dict(el))
        entity.regulations = [_attrs(r) for r in children(el, "regulation")]
        subject = children(el, "subjectType")
        entity.subject_type = subject[0].get("code") if subject else None
        entity.names = [(_attrs(n), _remarks(n)) for n in children(el, "nameAlias")]
        entity.citizenships = [_attrs(c) for c in children(el, "citizenship")]
        entity.birthdates = [_attrs(b) for b in children(el, "birthdate")]
        entity.addresses = [(_attrs(a), [(c.get("key", ""), c.get("value", "")) for c in children(a, "contactInfo")])
                            for a in children(el, "address")]
        entity.identifications = [_attrs(i) for i in children(el, "identification")]
        designations.append(build(path, entity, f"line {el.sourceline}"))
    return ParsedList(source=source, format=f"{FORMAT}-xml", designations=designations, published_on=published)


# --- CSV --------------------------------------------------------------------

# CSV column suffixes whose XML attribute name is not simply the lowerCamel form
# (BirthDate_Day is the XML's dayOfMonth, Identification_IssuedDate its issueDate …).
_CSV_RENAMES = {"TypeCode": "identificationTypeCode", "TypeDescription": "identificationTypeDescription",
                "BirthDate": "birthdate", "Day": "dayOfMonth", "Month": "monthOfYear", "IssuedDate": "issueDate"}


def _lower_camel(suffix: str) -> str:
    return _CSV_RENAMES.get(suffix, suffix[:1].lower() + suffix[1:])


def parse_csv(files: SourceFiles, source: str) -> ParsedList:
    path, data = files.single()
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    header = next(reader, [])
    if not header or header[0] != "fileGenerationDate" or "Entity_LogicalId" not in header:
        raise ImportFailure(path, "expected the EU FSF CSV header (fileGenerationDate;Entity_LogicalId;…)",
                            record="line 1")
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    published = None
    for line_no, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ImportFailure(path, f"row has {len(row)} fields, the header {len(header)}", record=f"line {line_no}")
        rec = dict(zip(header, row))
        published = published or parse_day(rec["fileGenerationDate"][:10])
        if not clean(rec["Entity_LogicalId"]):
            raise ImportFailure(path, "row without Entity_LogicalId", record=f"line {line_no}")
        groups[rec["Entity_LogicalId"].strip()].append(rec)
    designations = [build(path, _entity_from_rows(logical_id, rows), f"Entity_LogicalId {logical_id}")
                    for logical_id, rows in groups.items()]
    return ParsedList(source=source, format=f"{FORMAT}-csv", designations=designations, published_on=published)


def _entity_from_rows(logical_id: str, rows: list[dict[str, str]]) -> Entity:
    def group(prefix: str, row: dict[str, str]) -> dict[str, str]:
        # Each sub-record repeats its regulation as <Prefix>_Regulation_*: not part of the sub-record.
        return {_lower_camel(k[len(prefix) + 1:]): v for k, v in row.items()
                if k.startswith(prefix + "_") and v and not k.startswith(prefix + "_Regulation_")}

    first = rows[0]
    entity = Entity(attrs={"logicalId": logical_id,
                           "euReferenceNumber": first.get("Entity_EU_ReferenceNumber", ""),
                           "unitedNationId": first.get("Entity_UnitedNationId", ""),
                           "designationDate": first.get("Entity_DesignationDate", ""),
                           "designationDetails": first.get("Entity_DesignationDetails", "")},
                    remarks=[r for r in [clean(first.get("Entity_Remark"))] if r],
                    subject_type=clean(first.get("Entity_SubjectType"))
                    or clean(first.get("Entity_SubjectType_ClassificationCode")),
                    raw={"rows": rows})
    for row in rows:
        regulation = {_lower_camel(k[len("Entity_Regulation_"):]): v for k, v in row.items()
                      if k.startswith("Entity_Regulation_") and v}
        if regulation:
            entity.regulations.append(regulation)
        name = group("NameAlias", row)
        if name.get("wholeName") or name.get("lastName"):
            entity.names.append((name, [r for r in [clean(name.get("remark"))] if r]))
        for prefix, target in (("Citizenship", entity.citizenships), ("BirthDate", entity.birthdates),
                               ("Identification", entity.identifications)):
            attrs = group(prefix, row)
            if any(k not in ("logicalId", "regulationLanguage") for k in attrs):
                target.append(attrs)
        address = group("Address", row)
        if any(k not in ("logicalId", "regulationLanguage", "asAtListingTime", "contactInfo") for k in address):
            contacts = [("phone", address.pop("contactInfo"))] if address.get("contactInfo") else []
            entity.addresses.append((address, contacts))
    entity.regulations = dedupe(entity.regulations)
    entity.names = dedupe(entity.names)
    entity.citizenships = dedupe(entity.citizenships)
    entity.birthdates = dedupe(entity.birthdates)
    entity.identifications = dedupe(entity.identifications)
    entity.addresses = dedupe(entity.addresses)
    return entity


# --- common build -------------------------------------------------------------

def _country(attrs: dict[str, str]) -> str | None:
    code = (attrs.get("countryIso2Code") or "").upper()
    if code and code != "00" and len(code) == 2:
        return code
    return country_code(attrs.get("countryDescription")) if attrs.get("countryDescription") not in (None, "", "UNKNOWN") else None


def build(path: str, e: Entity, where: str) -> Designation:
    logical_id = clean(e.attrs.get("logicalId"))
    if not logical_id:
        raise ImportFailure(path, "sanctionEntity without logicalId", record=where)
    kind = KINDS.get((e.subject_type or "").lower())
    if kind is None:
        raise ImportFailure(path, f"unknown subjectType {e.subject_type!r}", record=f"logicalId {logical_id}")
    names, functions, titles, genders = [], [], [], []
    for attrs, remarks in e.names:
        whole = clean(attrs.get("wholeName")) or " ".join(
            p for p in (clean(attrs.get(k)) for k in ("firstName", "middleName", "lastName")) if p)
        weak = attrs.get("strong") == "false" or any(_WEAK.search(r) for r in remarks)
        parts = {k: v for k in ("firstName", "middleName", "lastName") if (v := clean(attrs.get(k)))}
        name = make_name(whole, "weak" if weak else "alias", parts, language=clean(attrs.get("nameLanguage")))
        if name:
            names.append(name)
        functions.append(clean(attrs.get("function")))
        titles.append(clean(attrs.get("title")))
        genders.append(clean(attrs.get("gender")))
    names = dedupe(names)
    if not names:
        raise ImportFailure(path, "sanctionEntity without a name", record=f"logicalId {logical_id}")
    # The first strong Latin-script name is the primary one; the EU sometimes lists an Arabic original first.
    primary = next((n for n in names if n.type != "weak" and n.script == "Latn"), names[0])
    primary.type = "primary"
    regulation = e.regulations[0] if e.regulations else {}
    listed = parse_day(e.attrs.get("designationDate")) or parse_day(regulation.get("publicationDate"))
    gender = next((g for g in genders if g), None)
    record = Designation(
        source="eu",
        source_id=logical_id,
        key=f"eu:{logical_id}",
        kind=kind,
        name=primary.full,
        listed_on=listed,
        programmes=dedupe(r["programme"] for r in e.regulations if r.get("programme")),
        legal_basis="; ".join(dedupe(r["numberTitle"] for r in e.regulations if r.get("numberTitle"))) or None,
        remarks="\n".join(e.remarks) or None,
        title=", ".join(dedupe(t for t in titles if t)) or None,
        position="; ".join(dedupe(f for f in functions if f)) or None,
        gender={"M": "male", "F": "female"}.get(gender or "", gender),
        names=names,
        raw=e.raw,
    )
    for label, attr in (("EU reference number", "euReferenceNumber"), ("UN reference number", "unitedNationId"),
                        ("Designation details", "designationDetails")):
        value = clean(e.attrs.get(attr))
        if value:
            record.attributes.append(Attribute(label, value))
    for attrs in e.citizenships:
        code = _country(attrs)
        if code:
            record.countries.append(CountryLink(code, "citizenship", clean(attrs.get("countryDescription"))))
    for attrs in e.birthdates:
        _birthdate(record, attrs)
    for attrs, contacts in e.addresses:
        bits = [clean(attrs.get(k)) for k in ("street", "poBox", "zipCode", "city", "region", "place")]
        country = clean(attrs.get("countryDescription"))
        text = ", ".join(b for b in bits + [country if country != "UNKNOWN" else None] if b)
        if text:
            record.addresses.append(Address(text, city=bits[3], country=_country(attrs)))
        for key, value in contacts:
            if clean(value):
                record.contacts.append(Contact(key.lower() or "phone", value))
    for attrs in e.identifications:
        number = clean(attrs.get("number")) or clean(attrs.get("latinNumber"))
        if not number:
            continue
        code = (attrs.get("identificationTypeCode") or "other").lower()
        notes = [f"{label} {attrs[k]}" for k, label in (("issueDate", "issued"), ("validTo", "valid to"))
                 if attrs.get(k)]
        notes += [k for k in ("diplomatic", "knownExpired", "knownFalse", "reportedLost", "revokedByIssuer")
                  if attrs.get(k) == "true"]
        ident = make_identifier(ID_TYPES.get(code, "other"), number, _country(attrs),
                                label=clean(attrs.get("identificationTypeDescription")) or code,
                                note="; ".join(notes) or None)
        if ident:
            record.identifiers.append(ident)
    record.countries = dedupe(record.countries)
    record.identifiers = dedupe(record.identifiers)
    record.addresses = dedupe(record.addresses)
    return record


def _birthdate(record: Designation, attrs: dict[str, str]) -> None:
    place_bits = [clean(attrs.get(k)) for k in ("city", "place", "region")]
    country = clean(attrs.get("countryDescription"))
    place = ", ".join(b for b in place_bits + [country if country != "UNKNOWN" else None] if b)
    if place:
        record.birth_places.append(BirthPlace(place, _country(attrs)))
    if (attrs.get("calendarType") or "GREGORIAN").upper() != "GREGORIAN":
        # Hijri parts: only a Gregorian ``birthdate`` given alongside is usable.
        text = clean(attrs.get("birthdate"))
        if not text:
            record.attributes.append(Attribute("date of birth (Islamic calendar)", " ".join(
                attrs.get(k, "") for k in ("dayOfMonth", "monthOfYear", "year")).strip()))
            return
    else:
        text = clean(attrs.get("birthdate"))
        if not text:
            year, month = clean(attrs.get("year")), clean(attrs.get("monthOfYear"))
            lo, hi = clean(attrs.get("yearRangeFrom")), clean(attrs.get("yearRangeTo"))
            if year:
                text = f"{year}-{int(month):02d}" if month and month.isdigit() else year
            elif lo and hi:
                text = f"{lo} to {hi}"
            elif lo or hi:
                text = lo or hi
    if text:
        before = len(record.birth_dates)
        add_birth_dates(record, f"circa {text}" if attrs.get("circa") == "true" else text)
        record.birth_dates[before:] = [d for d in record.birth_dates[before:] if d not in record.birth_dates[:before]]


PARSERS = {"xml": parse_xml_edition, "csv": parse_csv}
