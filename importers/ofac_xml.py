"""US OFAC: the legacy XML (``SDN.XML`` and the non-SDN ``consolidated.xml``, root ``sdnList``).

Quirks handled here:
- The default namespace changed over the years (``tempuri.org`` before
  2024, ``sanctionslistservice.ofac.treas.gov`` since): parsed
  namespace-agnostically.
- ``publshInformation/Publish_Date`` (sic) is MM/DD/YYYY, unlike every
  other date in this project's inputs.
- ``uid`` equals the CSV's ent_num, so keys are the same in both editions.
- ``sdnType`` is capitalised (``Individual``, ``Entity``, ``Vessel``,
  ``Aircraft``).
- A weak alias (``category`` ``weak``) often puts the whole name, comma and
  all, into ``lastName``.
- ``idList`` mixes real identifiers with attributes (``Gender``,
  ``Website``, ``Secondary sanctions risk:``, directive dates…); only the
  identifier types in ``ofac_remarks.ID_LABELS`` count as identifiers.
- ``Record_Count`` in the header must equal the number of entries; a
  mismatch means a truncated or damaged file.
"""
from __future__ import annotations

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
)
from importers.countries import country_code
from importers.inputs import SourceFiles
from importers.ofac_remarks import CONTACT_LABELS, ID_LABELS, split_person_name
from sanctions.schema import Address, Attribute, BirthPlace, Contact, CountryLink, Designation, ParsedList, Vessel

FORMAT = "ofac-xml"
SOURCES = ("us-sdn", "us-cons")
ROOT = "sdnList"
KINDS = {"individual": "person", "entity": "organization", "vessel": "vessel", "aircraft": "aircraft"}
ALIAS_TYPES = {"a.k.a.": "alias", "f.k.a.": "fka", "n.k.a.": "alias"}


def _items(el, list_name: str, item_name: str):
    return [i for lst in children(el, list_name) for i in children(lst, item_name)]


def parse(files: SourceFiles, source: str) -> ParsedList:
    path, data = files.single()
    root = parse_xml(path, data)
    if localname(root) != ROOT:
        raise ImportFailure(path, f"expected OFAC's sdnList XML, found <{localname(root)}>")
    info = children(root, "publshInformation")
    published = parse_day(child_text(info[0], "Publish_Date"), dayfirst=False) if info else None
    entries = children(root, "sdnEntry")
    declared = child_text(info[0], "Record_Count") if info else None
    if declared and declared.isdigit() and int(declared) != len(entries):
        raise ImportFailure(path, f"the header announces {declared} entries but the file holds {len(entries)} "
                                  f"(truncated?)")
    designations = [build(path, source, el) for el in entries]
    return ParsedList(source=source, format=FORMAT, designations=designations, published_on=published)


def build(path: str, source: str, el) -> Designation:
    uid = child_text(el, "uid")
    if not uid:
        raise ImportFailure(path, "sdnEntry without uid", record=f"line {el.sourceline}")
    sdn_type = child_text(el, "sdnType")
    kind = KINDS.get((sdn_type or "").lower())
    first, last = child_text(el, "firstName"), child_text(el, "lastName")
    full = join_parts(first, last)
    if not full:
        raise ImportFailure(path, "sdnEntry without a name", record=f"uid {uid}")
    remarks = child_text(el, "remarks")
    record = Designation(
        source=source,
        source_id=uid,
        key=f"{source}:{uid}",
        kind=kind or "organization",
        name=full,
        programmes=[p for p in (clean(x.text) for x in _items(el, "programList", "program")) if p],
        title=child_text(el, "title"),
        remarks=remarks,
        raw=element_to_dict(el),
    )
    if kind is None:
        # A type OFAC has not used before: kept as the closest kind, and said.
        record.warnings.append(f"unknown sdnType {sdn_type!r}: stored as an organization")
    record.names.append(make_name(full, "primary", {k: v for k, v in (("first", first), ("last", last)) if v}))
    for aka in _items(el, "akaList", "aka"):
        a_first, a_last = child_text(aka, "firstName"), child_text(aka, "lastName")
        weak = (child_text(aka, "category") or "").lower() == "weak"
        if weak and not a_first and a_last and ", " in a_last and kind == "person":
            a_full, parts = split_person_name(a_last)
        else:
            a_full, parts = join_parts(a_first, a_last), {k: v for k, v in (("first", a_first), ("last", a_last)) if v}
        type_ = "weak" if weak else ALIAS_TYPES.get((child_text(aka, "type") or "").lower(), "alias")
        name = make_name(a_full, type_, parts)
        if name:
            record.names.append(name)
    for item in _items(el, "dateOfBirthList", "dateOfBirthItem"):
        add_birth_dates(record, child_text(item, "dateOfBirth"))
    for item in _items(el, "placeOfBirthList", "placeOfBirthItem"):
        text = child_text(item, "placeOfBirth")
        if text:
            record.birth_places.append(BirthPlace(text, country_code(text.split(",")[-1].strip())))
    for list_name, item_name, role in (("nationalityList", "nationality", "nationality"),
                                       ("citizenshipList", "citizenship", "citizenship")):
        for item in _items(el, list_name, item_name):
            add_country(record, child_text(item, "country"), role)
    for item in _items(el, "addressList", "address"):
        bits = [child_text(item, t) for t in ("address1", "address2", "address3", "city", "stateOrProvince",
                                               "postalCode", "country")]
        text = ", ".join(b for b in bits if b)
        if text:
            record.addresses.append(Address(text, city=bits[3], country=country_code(bits[6])))
    for item in _items(el, "idList", "id"):
        _id_item(record, item)
    vessel = children(el, "vesselInfo")
    if vessel:
        v = vessel[0]
        flag = child_text(v, "vesselFlag")
        imo = next((i.normalized for i in record.identifiers if i.type == "imo"), None)
        record.vessel = Vessel(imo=imo, call_sign=child_text(v, "callSign"), type=child_text(v, "vesselType"),
                               flag=country_code(flag), flag_text=flag, tonnage=child_text(v, "tonnage"),
                               gross_tonnage=child_text(v, "grossRegisteredTonnage"), owner=child_text(v, "vesselOwner"))
        if record.vessel.flag:
            record.countries.append(CountryLink(record.vessel.flag, "flag", flag))
    if remarks and "Linked To:" in remarks:
        record.linked_to.append(remarks.split("Linked To:", 1)[1].strip(" ).;"))
    record.names = dedupe(record.names)
    record.identifiers = dedupe(record.identifiers)
    record.countries = dedupe(record.countries)
    return record


def _id_item(record: Designation, item) -> None:
    label = (child_text(item, "idType") or "").strip()
    number = child_text(item, "idNumber")
    country_text = child_text(item, "idCountry")
    if label == "Gender":
        record.gender = (number or "").lower() or None
        return
    if label in CONTACT_LABELS:
        record.contacts.append(Contact(CONTACT_LABELS[label], number or ""))
        return
    if label in ID_LABELS and number:
        type_ = ID_LABELS[label]
        if type_ == "imo" and number.upper().startswith("IMO"):
            number = number[3:].strip()
        notes = [f"{k} {v}" for k, v in (("issued", child_text(item, "issueDate")),
                                         ("expires", child_text(item, "expirationDate"))) if v]
        ident = make_identifier(type_, number, country_code(country_text), label=label, note="; ".join(notes) or None)
        if ident:
            record.identifiers.append(ident)
        return
    value = " ".join(x for x in (number, country_text) if x)
    record.attributes.append(Attribute(label.rstrip(":").rstrip(" -"), value))


PARSERS = {"xml": parse}
