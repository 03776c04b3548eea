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
    children,
    child_text,
    clean,
    dedupe,
    element_to_dict,
    id_type,
    localname,
    make_identifier,
    make_name,
    add_birth_dates,
    add_country,
    parse_day,
    parse_xml,
    path_texts,
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
    dataid = child_text(el, "DATAID")
    if not dataid:
        raise ImportFailure(path, "record without DATAID", record=f"line {el.sourceline}")
    parts = {f"part{i}": child_text(el, tag) for i, tag in enumerate(
        ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"), start=1)}
    full = " ".join(p for p in parts.values() if p)
    if not full:
        raise ImportFailure(path, "record without a name", record=f"DATAID {dataid}")
    reference = child_text(el, "REFERENCE_NUMBER")
    record = Designation(
        source="un",
        source_id=dataid,
        key=f"un:{dataid}",
        kind=kind,
        name=full,
        listed_on=parse_day(child_text(el, "LISTED_ON")),
        updated_on=max(filter(None, map(parse_day, path_texts(el, "LAST_DAY_UPDATED", "VALUE"))), default=None),
        programmes=[p for p in [child_text(el, "UN_LIST_TYPE")] if p],
        remarks=child_text(el, "COMMENTS1"),
        title=", ".join(path_texts(el, "TITLE", "VALUE")) or None,
        position="; ".join(path_texts(el, "DESIGNATION", "VALUE")) or None,
        gender=(child_text(el, "GENDER") or "").lower() or None,
        raw=element_to_dict(el),
    )
    if reference:
        record.attributes.append(Attribute("UN reference number", reference))
    record.names.append(make_name(full, "primary", {k: v for k, v in parts.items() if v}))
    original = make_name(child_text(el, "NAME_ORIGINAL_SCRIPT"), "alias")
    if original:
        record.names.append(original)
    for alias in children(el, "INDIVIDUAL_ALIAS") + children(el, "ENTITY_ALIAS"):
        quality = (child_text(alias, "QUALITY") or "").lower()
        name = make_name(child_text(alias, "ALIAS_NAME"), "weak" if quality in ("low", "a.k.a. low") else "alias")
        if name:
            record.names.append(name)
    for text in path_texts(el, "NATIONALITY", "VALUE"):
        add_country(record, text, "nationality")
    for dob in children(el, "INDIVIDUAL_DATE_OF_BIRTH"):
        _birth_date(record, dob)
    for pob in children(el, "INDIVIDUAL_PLACE_OF_BIRTH"):
        bits = [child_text(pob, t) for t in ("CITY", "STATE_PROVINCE", "COUNTRY")]
        text = ", ".join(b for b in bits if b) or child_text(pob, "NOTE")
        if text:
            record.birth_places.append(BirthPlace(text, country_code(bits[2])))
    for addr in children(el, "INDIVIDUAL_ADDRESS") + children(el, "ENTITY_ADDRESS"):
        bits = [child_text(addr, t) for t in ("STREET", "CITY", "STATE_PROVINCE", "ZIP_CODE", "COUNTRY")]
        text = ", ".join(b for b in bits if b)
        note = child_text(addr, "NOTE")
        if text or note:
            record.addresses.append(Address(text or note, city=bits[1], country=country_code(bits[4])))
    for doc in children(el, "INDIVIDUAL_DOCUMENT"):
        _document(record, doc)
    for m in _COMPANY_IMO.finditer(record.remarks or ""):
        ident = make_identifier("imo", m[1], label="IMO number (comments)")
        if ident:
            record.identifiers.append(ident)
    record.names = dedupe(record.names)
    record.identifiers = dedupe(record.identifiers)
    return record


def _birth_date(record: Designation, el) -> None:
    kind = (child_text(el, "TYPE_OF_DATE") or "").upper()
    date, year = child_text(el, "DATE"), child_text(el, "YEAR")
    lo, hi, note = child_text(el, "FROM_YEAR"), child_text(el, "TO_YEAR"), child_text(el, "NOTE")
    if kind == "BETWEEN" and lo and hi:
        text = f"{lo} to {hi}"
    else:
        text = date or year
    if not text:
        if note:
            record.attributes.append(Attribute("DOB note", note))
        return
    add_birth_dates(record, f"circa {text}" if kind == "APPROXIMATELY" else text)


def _document(record: Designation, el) -> None:
    number = child_text(el, "NUMBER")
    if not number:
        return
    label = clean(child_text(el, "TYPE_OF_DOCUMENT")) or ""
    label2 = child_text(el, "TYPE_OF_DOCUMENT2")
    country_text = child_text(el, "ISSUING_COUNTRY") or child_text(el, "COUNTRY_OF_ISSUE")
    note = "; ".join(x for x in (label2, child_text(el, "DATE_OF_ISSUE"), child_text(el, "CITY_OF_ISSUE"),
                                 child_text(el, "NOTE")) if x) or None
    ident = make_identifier(id_type(label), number, country_code(country_text), label=label or None, note=note)
    if ident:
        record.identifiers.append(ident)


PARSERS = {"xml": parse}
