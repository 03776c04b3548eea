"""UK OFSI Consolidated List, 2022 format: ``ConList.xlsx`` and ``ConList.csv``.

Frozen since the FCDO UK Sanctions List became the only UK list on
28 January 2026; imported for history into the same ``gb`` source.

Quirks handled here:
- First row ``Last Updated | dd/mm/yyyy`` (the publication date), header on
  the second row; columns are mapped by header name, never by position.
- One row per *name*; rows are grouped by ``Group ID``.  The target's other
  fields repeat (or vary) across its rows and are merged.
- The stable key is the FCDO ref found in ``Other Information`` as
  ``(UK Sanctions List Ref):RUS0254`` -> ``gb:RUS0254``; a group without
  one keeps ``gb-ofsi:<Group ID>``.
- ``Name 6`` is the surname (or the whole name of an entity or ship);
  ``Name 1..5`` are given names in order.
- ``Alias Type``: ``Primary name``, ``Primary name variation``, ``AKA``,
  ``FKA``; ``Alias Quality`` ``Low quality`` marks a weak alias.
- Multi-valued cells use ``(1) … (2) …``; DOBs use ``00`` for unknown parts
  and also ``mm/yyyy`` and ``yyyy``.
- ``Other Information`` carries tagged facts: ``(UN Ref):``, ``(Gender):``,
  ``(UK Statement of Reasons):``, and for ships ``(IMO number):``,
  ``(Flag of ship):``, ``(Type of ship):`` …
- The CSV edition starts with a UTF-8 BOM.
"""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict

from importers import xlsx
from importers.common import (
    ImportFailure,
    add_birth_dates,
    add_country,
    clean,
    dedupe,
    join_parts,
    make_identifier,
    make_name,
    parse_day,
)
from importers.countries import country_code
from importers.inputs import SourceFiles
from sanctions.schema import Address, Attribute, BirthPlace, Contact, CountryLink, Designation, ParsedList, Vessel

FORMAT = "ofsi"
SOURCES = ("gb",)
REQUIRED = ("Name 6", "Group ID", "Group Type", "Alias Type", "Regime", "Other Information")
KINDS = {"individual": "person", "entity": "organization", "ship": "vessel"}
NAME_TYPES = {"primary name": "primary", "primary name variation": "alias", "aka": "alias", "fka": "fka"}
OTHER_INFO_TAGS = (
    "UK Sanctions List Ref", "UK Statement of Reasons", "UN Ref", "Gender", "Phone number", "Email address",
    "Type of entity", "Website", "Parent company", "Business Reg No", "Subsidiaries", "IMO number",
    "Flag of ship", "Type of ship", "Tonnage of ship", "Length of ship", "Year built", "Current owners",
    "Fax", "Previous flags", "Tel",
)
_TAG = re.compile(r"\((" + "|".join(re.escape(t) for t in OTHER_INFO_TAGS) + r")\)\s*:\s*")
_NUMBERED = re.compile(r"\(\d{1,2}\)\s*")


def numbered(value: str | None) -> list[str]:
    """``(1) A. (2) B`` -> [A, B]; a plain value -> [value]."""
    value = clean(value)
    if not value:
        return []
    if not value.startswith("(1)"):
        return [value]
    return [v for v in (clean(p.strip().rstrip(".;")) for p in _NUMBERED.split(value)) if v]


# Tags whose value is one short token; OFSI runs free text on after it
# ("(UN Ref):QDi.330. Has ties to …"), which belongs to the remarks.
_SHORT_VALUES = {
    "UK Sanctions List Ref": re.compile(r"^(?:[A-Z]{3}\d{4}|[A-Z]{2}[ie]\.\d{3})"),
    "UN Ref": re.compile(r"^[A-Z]{2}[ie]\.\d{3}"),
    "Gender": re.compile(r"^(?:Male|Female)\b", re.I),
    "IMO number": re.compile(r"^(?:IMO\s*)?\d{7}"),
}


def tagged(other_information: str) -> tuple[dict[str, list[str]], str]:
    """Split ``Other Information`` into its tags and the untagged free text."""
    pieces = _TAG.split(other_information)
    free = [pieces[0]]
    tags: dict[str, list[str]] = defaultdict(list)
    for tag, value in zip(pieces[1::2], pieces[2::2]):
        value = value.strip()
        short = _SHORT_VALUES.get(tag)
        if short:
            m = short.match(value)
            if not m:
                free.append(f"({tag}):{value}")
                continue
            value, rest = m[0], value[m.end():].lstrip(" .;")
            if rest:
                free.append(rest)
        value = value.rstrip(".").strip()
        if value:
            tags[tag].append(value)
    return tags, " ".join(p.strip() for p in free if p.strip())


def parse_xlsx(files: SourceFiles, source: str) -> ParsedList:
    path, data = files.single()
    return _parse_rows(path, xlsx.read_rows(path, data), source, "xlsx")


def parse_csv(files: SourceFiles, source: str) -> ParsedList:
    path, data = files.single()
    text = data.decode("utf-8-sig", errors="replace")
    return _parse_rows(path, csv.reader(io.StringIO(text, newline="")), source, "csv")


def _parse_rows(path: str, rows, source: str, variant: str) -> ParsedList:
    rows = iter(rows)
    first = next(rows, None)
    if not first or clean(first[0]) != "Last Updated":
        raise ImportFailure(path, "expected 'Last Updated' in the first row (is this OFSI's ConList?)")
    published = parse_day(first[1] if len(first) > 1 else None)
    header = [clean(h) or "" for h in next(rows, [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportFailure(path, f"header row lacks column(s) {', '.join(missing)}", record="line 2")
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for line_no, row in enumerate(rows, start=3):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            raise ImportFailure(path, f"row has {len(row)} cells, the header {len(header)}", record=f"line {line_no}")
        record = dict(zip(header, row))
        group = clean(record.get("Group ID"))
        if not group or not group.isdigit():
            raise ImportFailure(path, f"Group ID {record.get('Group ID')!r} is not a number", record=f"line {line_no}")
        groups[group].append(record)
    designations = [build(path, group, group_rows) for group, group_rows in groups.items()]
    return ParsedList(source=source, format=f"{FORMAT}-{variant}", designations=designations, published_on=published)


def build(path: str, group: str, rows: list[dict[str, str]]) -> Designation:
    def values(column: str) -> list[str]:
        return dedupe(v for r in rows for v in numbered(r.get(column)))

    tags: dict[str, list[str]] = defaultdict(list)
    free_text = []
    for r in rows:
        row_tags, free = tagged(r.get("Other Information") or "")
        for tag, vals in row_tags.items():
            tags[tag].extend(vals)
        if free:
            free_text.append(free)
    tags = {tag: dedupe(vals) for tag, vals in tags.items()}
    refs = tags.get("UK Sanctions List Ref", [])
    key = f"gb:{refs[0]}" if refs else f"gb-ofsi:{group}"
    kind = KINDS.get((clean(rows[0].get("Group Type")) or "").lower())
    if kind is None:
        raise ImportFailure(path, f"unknown Group Type {rows[0].get('Group Type')!r}", record=f"Group ID {group}")

    names = []
    for r in rows:
        alias_type = (clean(r.get("Alias Type")) or "").lower()
        type_ = NAME_TYPES.get(alias_type, "alias")
        if type_ != "primary" and (clean(r.get("Alias Quality")) or "").lower().startswith("low"):
            type_ = "weak"
        given = [clean(r.get(f"Name {i}")) for i in range(1, 6)]
        parts = {f"name{i}": v for i, v in enumerate(given, start=1) if v}
        if clean(r.get("Name 6")):
            parts["name6"] = clean(r["Name 6"])
        name = make_name(join_parts(*given, r.get("Name 6")), type_, parts)
        if name:
            names.append(name)
        non_latin = make_name(r.get("Name Non-Latin Script"), "alias" if type_ == "primary" else type_,
                              language=clean(r.get("Non-Latin Script Language")))
        if non_latin:
            names.append(non_latin)
    names = dedupe(names)
    primary = next((n for n in names if n.type == "primary"), names[0] if names else None)
    if primary is None:
        raise ImportFailure(path, "group without a name", record=f"Group ID {group}")

    listed = [d for d in (parse_day(r.get("UK Sanctions List Date Designated")) or parse_day(r.get("Listed On"))
                          for r in rows) if d]
    updated = [d for d in (parse_day(r.get("Last Updated")) for r in rows) if d]
    record = Designation(
        source="gb",
        source_id=refs[0] if refs else group,
        key=key,
        kind=kind,
        name=primary.full,
        listed_on=min(listed, default=None),
        updated_on=max(updated, default=None),
        programmes=values("Regime"),
        remarks=" ".join(dedupe(free_text)) or None,
        reasons=" ".join(tags.get("UK Statement of Reasons", [])) or None,
        title=", ".join(values("Title")) or None,
        position="; ".join(values("Position")) or None,
        gender=(tags.get("Gender") or [None])[0],
        names=names,
        raw={"Group ID": group, "rows": rows},
    )
    record.gender = record.gender.lower() if record.gender else None
    record.attributes.append(Attribute("OFSI Group ID", group))
    for ref in tags.get("UN Ref", []):
        record.attributes.append(Attribute("UN reference number", ref))
    for other in ("Type of entity", "Parent company", "Subsidiaries"):
        for value in tags.get(other, []):
            record.attributes.append(Attribute(other, value))
    for contact_type, tag in (("phone", "Phone number"), ("phone", "Tel"), ("email", "Email address"),
                              ("website", "Website"), ("fax", "Fax")):
        for value in tags.get(tag, []):
            record.contacts.append(Contact(contact_type, value))

    for text in values("DOB"):
        add_birth_dates(record, text)
    towns, birth_countries = values("Town of Birth"), values("Country of Birth")
    for i, town in enumerate(towns):
        country = birth_countries[i] if i < len(birth_countries) else (birth_countries[0] if birth_countries else None)
        record.birth_places.append(BirthPlace(join_parts(town, country and f", {country}").replace(" ,", ","),
                                              country_code(country)))
    if not towns:
        for country in birth_countries:
            record.birth_places.append(BirthPlace(country, country_code(country)))
    for text in values("Nationality"):
        add_country(record, text, "nationality")
    for r in rows:
        _documents(record, r, "Passport Number", "Passport Details", "passport")
        _documents(record, r, "National Identification Number", "National Identification Details", "national-id")
        address = [clean(r.get(f"Address {i}")) for i in range(1, 7)] + [clean(r.get("Post/Zip Code"))]
        country = clean(r.get("Country"))
        text = ", ".join(p for p in address + [country] if p)
        if text:
            record.addresses.append(Address(text, city=address[5] or None, country=country_code(country)))
    for reg in tags.get("Business Reg No", []):
        ident = make_identifier("registration", reg, label="Business Reg No")
        if ident:
            record.identifiers.append(ident)
    if kind == "vessel":
        imo = (tags.get("IMO number") or [None])[0]
        flag = (tags.get("Flag of ship") or [None])[0]
        record.vessel = Vessel(
            imo=imo, flag=country_code(flag), flag_text=flag,
            type=(tags.get("Type of ship") or [None])[0],
            tonnage=(tags.get("Tonnage of ship") or [None])[0],
            owner=(tags.get("Current owners") or [None])[0],
            build_year=(tags.get("Year built") or [None])[0],
        )
        if record.vessel.flag:
            record.countries.append(CountryLink(record.vessel.flag, "flag", flag))
        for prev in tags.get("Previous flags", []):
            record.attributes.append(Attribute("Previous flags", prev))
    for imo in tags.get("IMO number", []):
        ident = make_identifier("imo", imo, label="IMO number")
        if ident:
            record.identifiers.append(ident)
    record.addresses = dedupe(record.addresses)
    record.identifiers = dedupe(record.identifiers)
    record.contacts = dedupe(record.contacts)
    record.countries = dedupe(record.countries)
    record.birth_places = dedupe(record.birth_places)
    record.birth_dates = dedupe(record.birth_dates)
    return record


def _documents(record: Designation, row: dict[str, str], number_col: str, details_col: str, type_: str) -> None:
    numbers = numbered(row.get(number_col))
    details = numbered(row.get(details_col))
    for i, number in enumerate(numbers):
        note = details[i] if i < len(details) else (details[0] if len(details) == 1 else None)
        ident = make_identifier(type_, number, country_code(_leading_country(note)), label=number_col, note=note)
        if ident:
            record.identifiers.append(ident)


def _leading_country(note: str | None) -> str | None:
    """Passport details often start with the issuing country: ``Iraq. Expires …``."""
    if not note:
        return None
    head = re.split(r"[.,;]| number| issued", note.strip("() "), maxsplit=1)[0]
    return head if country_code(head) else None


PARSERS = {"xlsx": parse_xlsx, "csv": parse_csv}
