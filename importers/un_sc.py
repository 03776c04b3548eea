"""UN Security Council consolidated list (``consolidated.xml``).

Quirks handled here:
- ``FIRST_NAME`` .. ``FOURTH_NAME`` are name parts *in order*, not
  first/last; entities use ``FIRST_NAME`` only.
- Empty alias elements (``<QUALITY/><ALIAS_NAME/>``) are common: skipped.
- Alias ``QUALITY`` ``Low`` is a weak alias; ``Good`` a strong one.
- Dates of birth come as ``EXACT`` + ``DATE`` or ``YEAR``,
  ``APPROXIMATELY`` + ``YEAR``, ``BETWEEN`` + ``FROM_YEAR``/``TO_YEAR``,
  or a ``NOTE`` alone; empty elements occur.
- Document types are sometimes French or Spanish and carry newlines and
  runs of spaces.
- Entities have no type beyond ENTITY; a company's IMO number sits only in
  the free-text ``COMMENTS1`` (``IMO number: 5571322``).
- No vessels of their own: the UN lists ships' owners, not ships.
"""
from __future__ import annotations

import re

from importers.common import (
    ImportFailure,
    add_birth_dates,
    add_country,
    children,
    dedupe,
    element_to_dict,
    id_type,
    localname,
    make_identifier,
    make_name,
    parse_day,
    parse_xml,
    raw_items,
    raw_path_texts,
    raw_text,
)
from importers.countries import country_code
from importers.inputs import SourceFiles
from sanctions.schema import Address, Attribute, BirthPlace, Designation, ParsedList

FORMAT = "un-xml"
SOURCES = ("un",)
ROOT = "CONSOLIDATED_LIST"
_COMPANY_IMO = re.compile(r"IMO\)?\s*(?:number|Number|No\.?)?\s*:?\s*(\d{7})\b")


def parse(files: SourceFiles, source: str) -> ParsedList:
    path, data = files.single()
    root = parse_xml(path, data)
    if localname(root) != ROOT:
        raise ImportFailure(path, f"expected a UN consolidated list (<{ROOT}>), found <{localname(root)}>")
    published = parse_day((root.get("dateGenerated") or "")[:10])
    designations = []
    for section, kind in (("INDIVIDUALS", "person"), ("ENTITIES", "organization")):
        for group in children(root, section):
            for el in group:
                if isinstance(el.tag, str):
                    designations.append(build(path, el, kind))
    return ParsedList(source=source, format=FORMAT, designations=designations, published_on=published)


def build(path: str, el, kind: str) -> Designation:
    # Every field is read from the record's raw copy, made first: one walk of its children.
    raw = element_to_dict(el)
    dataid = raw_text(raw, "DATAID")
    if not dataid:
        raise ImportFailure(path, "record without DATAID", record=f"line {el.sourceline}")
    parts = {f"part{i}": raw_text(raw, tag) for i, tag in enumerate(
        ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"), start=1)}
    full = " ".join(p for p in parts.values() if p)
    if not full:
        raise ImportFailure(path, "record without a name", record=f"DATAID {dataid}")
    reference = raw_text(raw, "REFERENCE_NUMBER")
    record = Designation(
        source="un",
        source_id=dataid,
        key=f"un:{dataid}",
        kind=kind,
        name=full,
        listed_on=parse_day(raw_text(raw, "LISTED_ON")),
        updated_on=max(filter(None, map(parse_day, raw_path_texts(raw, "LAST_DAY_UPDATED", "VALUE"))),
                       default=None),
        programmes=[p for p in [raw_text(raw, "UN_LIST_TYPE")] if p],
        remarks=raw_text(raw, "COMMENTS1"),
        title=", ".join(raw_path_texts(raw, "TITLE", "VALUE")) or None,
        position="; ".join(raw_path_texts(raw, "DESIGNATION", "VALUE")) or None,
        gender=(raw_text(raw, "GENDER") or "").lower() or None,
        raw=raw,
    )
    if reference:
        record.attributes.append(Attribute("UN reference number", reference))
    record.names.append(make_name(full, "primary", {k: v for k, v in parts.items() if v}))
    original = make_name(raw_text(raw, "NAME_ORIGINAL_SCRIPT"), "alias")
    if original:
        record.names.append(original)
    for alias in raw_items(raw, "INDIVIDUAL_ALIAS") + raw_items(raw, "ENTITY_ALIAS"):
        quality = (raw_text(alias, "QUALITY") or "").lower()
        name = make_name(raw_text(alias, "ALIAS_NAME"), "weak" if quality in ("low", "a.k.a. low") else "alias")
        if name:
            record.names.append(name)
    for text in raw_path_texts(raw, "NATIONALITY", "VALUE"):
        add_country(record, text, "nationality")
    for dob in raw_items(raw, "INDIVIDUAL_DATE_OF_BIRTH"):
        _birth_date(record, dob)
    for pob in raw_items(raw, "INDIVIDUAL_PLACE_OF_BIRTH"):
        bits = [raw_text(pob, t) for t in ("CITY", "STATE_PROVINCE", "COUNTRY")]
        text = ", ".join(b for b in bits if b) or raw_text(pob, "NOTE")
        if text:
            record.birth_places.append(BirthPlace(text, country_code(bits[2])))
    for addr in raw_items(raw, "INDIVIDUAL_ADDRESS") + raw_items(raw, "ENTITY_ADDRESS"):
        bits = [raw_text(addr, t) for t in ("STREET", "CITY", "STATE_PROVINCE", "ZIP_CODE", "COUNTRY")]
        text = ", ".join(b for b in bits if b)
        note = raw_text(addr, "NOTE")
        if text or note:
            record.addresses.append(Address(text or note, city=bits[1], country=country_code(bits[4])))
    for doc in raw_items(raw, "INDIVIDUAL_DOCUMENT"):
        _document(record, doc)
    for m in _COMPANY_IMO.finditer(record.remarks or ""):
        ident = make_identifier("imo", m[1], label="IMO number (comments)")
        if ident:
            record.identifiers.append(ident)
    record.names = dedupe(record.names)
    record.identifiers = dedupe(record.identifiers)
    return record


def _birth_date(record: Designation, raw) -> None:
    kind = (raw_text(raw, "TYPE_OF_DATE") or "").upper()
    date, year = raw_text(raw, "DATE"), raw_text(raw, "YEAR")
    lo, hi, note = raw_text(raw, "FROM_YEAR"), raw_text(raw, "TO_YEAR"), raw_text(raw, "NOTE")
    if kind == "BETWEEN" and lo and hi:
        text = f"{lo} to {hi}"
    else:
        text = date or year
    if not text:
        if note:
            record.attributes.append(Attribute("DOB note", note))
        return
    add_birth_dates(record, f"circa {text}" if kind == "APPROXIMATELY" else text)


def _document(record: Designation, raw) -> None:
    number = raw_text(raw, "NUMBER")
    if not number:
        return
    label = raw_text(raw, "TYPE_OF_DOCUMENT") or ""  # cleaned already
    label2 = raw_text(raw, "TYPE_OF_DOCUMENT2")
    country_text = raw_text(raw, "ISSUING_COUNTRY") or raw_text(raw, "COUNTRY_OF_ISSUE")
    note = "; ".join(x for x in (label2, raw_text(raw, "DATE_OF_ISSUE"), raw_text(raw, "CITY_OF_ISSUE"),
                                 raw_text(raw, "NOTE")) if x) or None
    ident = make_identifier(id_type(label), number, country_code(country_text), label=label or None, note=note)
    if ident:
        record.identifiers.append(ident)


PARSERS = {"xml": parse}
