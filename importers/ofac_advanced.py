"""US OFAC: the advanced XML (``sdn_advanced.xml``, ``cons_advanced.xml``; root ``Sanctions``).

Built from OFAC's published advanced-XML schema; tested on the real non-SDN
publication of 2020-03-17 (``us/cons_advanced.xml``) and on an SDN excerpt
written in that schema from records of the real legacy and CSV editions.
Nothing is dropped silently: an unreadable date or an unknown party type
becomes a warning on the record (and so on the import run).

The format is a web of cross-references, resolved here before any record is
built:
- ``ReferenceValueSets`` hold every vocabulary (alias types, countries,
  feature types, document types, party sub-types, programmes …) as
  ``<X ID="n">text</X>``; records cite them by ID.
- ``Locations`` (countries and address parts) are cited by features
  (nationality, citizenship, address, vessel flag) through ``LocationID``.
- ``IDRegDocuments`` (passports, registration numbers, IMO …) cite the
  identity they belong to by ``IdentityID``.
- ``DistinctParty/@FixedRef`` is the CSV's ent_num, so keys match the other
  OFAC editions; ``Profile`` carries identities (aliases with their name
  parts) and features (dates of birth as ``DatePeriod`` ranges, places,
  gender, vessel and aircraft details, websites …).
- ``SanctionsEntries`` link a profile to its programmes (``SanctionsMeasure``
  of type Program, the code in ``Comment``) and listing events.
- ``ProfileRelationships`` hold the "Linked To" links.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict

from importers.common import (
    ImportFailure,
    add_country,
    children,
    child_text,
    clean,
    dedupe,
    element_to_dict,
    join_parts,
    localname,
    make_identifier,
    make_name,
    parse_xml,
)
from importers.countries import country_code
from importers.inputs import SourceFiles
from importers.ofac_remarks import CONTACT_LABELS, ID_LABELS
from sanctions.schema import (
    Address,
    Aircraft,
    Attribute,
    BirthDate,
    BirthPlace,
    Contact,
    CountryLink,
    Designation,
    ParsedList,
    Vessel,
)

FORMAT = "ofac-advanced"
SOURCES = ("us-sdn", "us-cons")
ROOT = "Sanctions"
ALIAS_TYPES = {"name": "primary", "a.k.a.": "alias", "f.k.a.": "fka", "n.k.a.": "alias"}
# Person name parts in reading order; other parts keep document order.
PERSON_PART_ORDER = ("first name", "middle name", "patronymic", "matronymic", "last name", "maiden name")
VESSEL_FEATURES = {"vessel call sign": "call_sign", "vessel type": "type", "vessel owner": "owner",
                   "vessel tonnage": "tonnage", "vessel gross registered tonnage": "gross_tonnage",
                   "vessel year of build": "build_year"}
AIRCRAFT_FEATURES = {"aircraft model": "model", "aircraft operator": "operator",
                     "aircraft manufacture date": "build_date", "aircraft tail number": "tail_number",
                     "aircraft manufacturer's serial number (msn)": "manufacturer_serial"}


def _all(el, name: str):
    return [e for e in el.iter() if isinstance(e.tag, str) and localname(e) == name]


class Vocabulary:
    """ID -> text for every reference value set, plus the attributes some carry."""

    def __init__(self, root):
        self.values: dict[str, dict[str, str]] = defaultdict(dict)
        self.attrs: dict[tuple[str, str], dict[str, str]] = {}
        for group in children(root, "ReferenceValueSets"):
            for value_set in group:
                if not isinstance(value_set.tag, str):
                    continue
                for item in value_set:
                    if isinstance(item.tag, str) and item.get("ID"):
                        kind = localname(item)
                        self.values[kind][item.get("ID")] = clean(item.text) or ""
                        self.attrs[(kind, item.get("ID"))] = dict(item.attrib)

    def __call__(self, kind: str, id_: str | None) -> str:
        return self.values[kind].get(id_ or "", "")


class UnreadableDate(ValueError):
    """A date element whose Year/Month/Day do not make a date; the caller warns and keeps the text."""


def _date(el) -> dt.date | None:
    """A <Year>/<Month>/<Day> element as a date (missing month/day: the first); None if there is none."""
    if el is None:
        return None
    year, month, day = child_text(el, "Year"), child_text(el, "Month"), child_text(el, "Day")
    if not (year or month or day):
        return None
    try:
        return dt.date(int(year or ""), int(month) if month else 1, int(day) if day else 1)
    except ValueError:
        raise UnreadableDate("-".join(p or "?" for p in (year, month, day))) from None


def _readable(record: Designation, what: str, read, default=None):
    """read(), or default with a warning on the record naming what could not be read."""
    try:
        return read()
    except UnreadableDate as exc:
        record.warnings.append(f"unreadable date {exc} in {what}: left out")
        return default


def _period(period) -> BirthDate | None:
    """A DatePeriod (Start From/To, End From/To) as a BirthDate interval with a readable text."""
    start = (children(period, "Start") or [None])[0]
    end = (children(period, "End") or [None])[0]

    def bound(el, which):
        found = children(el, which) if el is not None else []
        return _date(found[0]) if found else None

    earliest = bound(start, "From") or bound(start, "To")
    latest = bound(end, "To") or bound(end, "From") or bound(start, "To") or earliest
    if earliest is None or latest is None:
        return None
    circa = any(e.get("Approximate") == "true" for e in (start, end) if e is not None)
    if earliest == latest:
        precision, text = "day", earliest.strftime("%d %b %Y")
    elif (earliest.year == latest.year and earliest.month == latest.month and earliest.day == 1
          and latest.day == calendar.monthrange(latest.year, latest.month)[1]):
        precision, text = "month", earliest.strftime("%b %Y")
    elif earliest.year == latest.year and (earliest.month, earliest.day, latest.month, latest.day) == (1, 1, 12, 31):
        precision, text = "year", str(earliest.year)
    else:
        precision, text = "range", f"{earliest.isoformat()} to {latest.isoformat()}"
    return BirthDate(("circa " if circa else "") + text, earliest.isoformat(), latest.isoformat(), precision, circa)


def parse(files: SourceFiles, source: str) -> ParsedList:
    path, data = files.single()
    root = parse_xml(path, data)
    if localname(root) != ROOT:
        raise ImportFailure(path, f"expected OFAC's advanced XML (<{ROOT}>), found <{localname(root)}>")
    vocab = Vocabulary(root)
    issued = children(root, "DateOfIssue")
    warnings = []
    try:
        published = _date(issued[0]) if issued else None
    except UnreadableDate as exc:
        published = None
        warnings.append(f"unreadable DateOfIssue {exc}: the publication date is unknown")

    locations = {loc.get("ID"): loc for loc in _all(root, "Location")}
    documents: dict[str, list] = defaultdict(list)
    for doc in _all(root, "IDRegDocument"):
        documents[doc.get("IdentityID", "")].append(doc)
    entries: dict[str, list] = defaultdict(list)
    for entry in _all(root, "SanctionsEntry"):
        entries[entry.get("ProfileID", "")].append(entry)
    relations: dict[str, list[str]] = defaultdict(list)
    for rel in _all(root, "ProfileRelationship"):
        relations[rel.get("From-ProfileID", "")].append(rel.get("To-ProfileID", ""))

    parties = _all(root, "DistinctParty")
    names_by_profile: dict[str, str] = {}
    built = []
    for party in parties:
        record = build(path, source, party, vocab, locations, documents, entries)
        built.append((party, record))
        for profile in children(party, "Profile"):
            names_by_profile[profile.get("ID", "")] = record.name
    for party, record in built:
        for profile in children(party, "Profile"):
            record.linked_to += [names_by_profile[t] for t in relations.get(profile.get("ID", ""), [])
                                 if t in names_by_profile]
    return ParsedList(source=source, format=FORMAT, designations=[r for _, r in built],
                      published_on=published.isoformat() if published else None, warnings=warnings)


def _location(vocab: Vocabulary, loc) -> tuple[str, str | None]:
    """(address text, country name) of a Location."""
    country_el = children(loc, "LocationCountry")
    country = vocab("Country", country_el[0].get("CountryID")) if country_el else None
    parts = []
    for part in children(loc, "LocationPart"):
        values = [v for v in children(part, "LocationPartValue") if v.get("Primary", "true") == "true"] or \
            children(part, "LocationPartValue")
        for value in values[:1]:
            text = child_text(value, "Value")
            if text:
                parts.append(text)
    return ", ".join(parts + ([country] if country else [])), country


def _name(vocab: Vocabulary, documented, groups: dict[str, str], person: bool) -> tuple[str, dict[str, str]]:
    parts: list[tuple[str, str]] = []
    for part in children(documented, "DocumentedNamePart"):
        for value in children(part, "NamePartValue"):
            text = clean(value.text)
            if text:
                parts.append((groups.get(value.get("NamePartGroupID", ""), ""), text))
    if person:
        ordered = sorted(parts, key=lambda p: PERSON_PART_ORDER.index(p[0]) if p[0] in PERSON_PART_ORDER else 99)
    else:
        ordered = parts
    return join_parts(*(t for _, t in ordered)), {k.replace(" ", "_") or f"part{i}": t
                                                   for i, (k, t) in enumerate(parts, start=1)}


def build(path: str, source: str, party, vocab, locations, documents, entries) -> Designation:
    fixed_ref = party.get("FixedRef")
    profiles = children(party, "Profile")
    if not fixed_ref or not profiles:
        raise ImportFailure(path, "DistinctParty without FixedRef or Profile", record=f"line {party.sourceline}")
    profile = profiles[0]
    sub_type = vocab("PartySubType", profile.get("PartySubTypeID")).lower()
    party_type = vocab("PartyType", vocab.attrs.get(("PartySubType", profile.get("PartySubTypeID", "")), {})
                       .get("PartyTypeID")).lower()
    kind = ("vessel" if sub_type == "vessel" else "aircraft" if sub_type == "aircraft"
            else "person" if party_type == "individual" else "organization")
    unknown_type = kind == "organization" and party_type != "entity"

    names = []
    identity_ids = []
    for identity in children(profile, "Identity"):
        identity_ids.append(identity.get("ID", ""))
        groups = {g.get("ID", ""): vocab("NamePartType", g.get("NamePartTypeID")).lower()
                  for g in _all(identity, "NamePartGroup")}
        for alias in children(identity, "Alias"):
            alias_type = ALIAS_TYPES.get(vocab("AliasType", alias.get("AliasTypeID")).lower(), "alias")
            if alias.get("LowQuality") == "true":
                alias_type = "weak"
            elif alias_type == "primary" and alias.get("Primary") != "true":
                alias_type = "alias"
            for documented in children(alias, "DocumentedName"):
                full, parts = _name(vocab, documented, groups, kind == "person")
                name = make_name(full, alias_type, parts)
                if name:
                    names.append(name)
    names = dedupe(names)
    if not names:
        raise ImportFailure(path, "DistinctParty without a name", record=f"FixedRef {fixed_ref}")
    primary = next((n for n in names if n.type == "primary"), names[0])
    primary.type = "primary"

    record = Designation(source=source, source_id=fixed_ref, key=f"{source}:{fixed_ref}", kind=kind,
                         name=primary.full, names=names, raw=element_to_dict(party))
    if unknown_type:
        # Kept, as the closest kind, but said: a new OFAC party type needs a look.
        record.warnings.append(f"unknown party type {party_type or '(none)'!r}/{sub_type or '(none)'!r}: "
                               f"stored as an organization")
    for feature in children(profile, "Feature"):
        _feature(record, vocab, locations, feature)
    for identity_id in identity_ids:
        for doc in documents.get(identity_id, []):
            _document(record, vocab, doc)
    for entry in entries.get(profile.get("ID", ""), []):
        for measure in children(entry, "SanctionsMeasure"):
            if vocab("SanctionsType", measure.get("SanctionsTypeID")).lower() in ("program", ""):
                code = child_text(measure, "Comment")
                if code and code not in record.programmes:
                    record.programmes.append(code)
        dates = [d for d in (_readable(record, "a listing event", lambda e=e: _date((children(e, "Date") or [None])[0]))
                             for e in children(entry, "EntryEvent")) if d]
        if dates:
            record.listed_on = min(dates).isoformat()
        bases = [vocab("LegalBasis", e.get("LegalBasisID")) for e in children(entry, "EntryEvent")]
        record.legal_basis = "; ".join(dedupe(b for b in bases if b)) or record.legal_basis
    record.identifiers = dedupe(record.identifiers)
    record.countries = dedupe(record.countries)
    return record


def _feature(record: Designation, vocab, locations, feature) -> None:
    label = vocab("FeatureType", feature.get("FeatureTypeID"))
    key = label.lower()
    for version in children(feature, "FeatureVersion"):
        details = [(clean(v.text) or vocab("DetailReference", v.get("DetailReferenceID")))
                   for v in children(version, "VersionDetail")]
        details = [d for d in details if d]
        periods = [p for p in (_readable(record, label, lambda p=p: _period(p))
                               for p in children(version, "DatePeriod")) if p]
        locs = [locations[v.get("LocationID")] for v in children(version, "VersionLocation")
                if v.get("LocationID") in locations]
        text = "; ".join(details) or (periods[0].text if periods else "")
        if key == "birthdate":
            record.birth_dates += periods
        elif key == "place of birth":
            for detail in details:
                record.birth_places.append(BirthPlace(detail, country_code(detail.split(",")[-1].strip())))
        elif key in ("nationality country", "citizenship country"):
            role = "nationality" if key.startswith("nationality") else "citizenship"
            for loc in locs:
                # The country is a LocationCountry reference, or (as in the real
                # non-SDN file of 2020) only the text of a LocationPart.
                address, country = _location(vocab, loc)
                add_country(record, country or address, role)
        elif key == "location":
            for loc in locs:
                address, country = _location(vocab, loc)
                if address:
                    record.addresses.append(Address(address, country=country_code(country)))
        elif key == "gender":
            record.gender = text.lower() or None
        elif key == "title":
            record.title = text or record.title
        elif key == "vessel flag":
            country = _location(vocab, locs[0])[1] if locs else text
            record.vessel = record.vessel or Vessel()
            record.vessel.flag, record.vessel.flag_text = country_code(country), country
            if record.vessel.flag:
                record.countries.append(CountryLink(record.vessel.flag, "flag", country))
        elif key in VESSEL_FEATURES:
            record.vessel = record.vessel or Vessel()
            setattr(record.vessel, VESSEL_FEATURES[key], text)
        elif key in AIRCRAFT_FEATURES:
            record.aircraft = record.aircraft or Aircraft()
            setattr(record.aircraft, AIRCRAFT_FEATURES[key], text)
            if key == "aircraft manufacturer's serial number (msn)":
                ident = make_identifier("aircraft-serial", text, label=label)
                if ident:
                    record.identifiers.append(ident)
        elif label in CONTACT_LABELS:
            record.contacts += [Contact(CONTACT_LABELS[label], d) for d in details]
        elif label in ID_LABELS:
            for detail in details:
                ident = make_identifier(ID_LABELS[label], detail, label=label)
                if ident:
                    record.identifiers.append(ident)
        else:
            # A feature this importer has no field for is kept as an attribute; some
            # ("Nationality of Registration") carry their value only as a location.
            text = text or "; ".join(t for t in (_location(vocab, loc)[0] for loc in locs) if t)
            if text:
                record.attributes.append(Attribute(label.rstrip(":").rstrip(" -"), text))


def _document(record: Designation, vocab, doc) -> None:
    label = vocab("IDRegDocType", doc.get("IDRegDocTypeID"))
    number = child_text(doc, "IDRegistrationNo")
    if not number:
        return
    country = vocab("Country", doc.get("IssuedBy-CountryID")) or None
    type_ = ID_LABELS.get(label, "other")
    if type_ == "imo" or number.upper().startswith("IMO "):
        if number.upper().startswith("IMO"):
            number = number[3:].strip()
        type_ = "imo"
        if record.kind == "vessel":
            record.vessel = record.vessel or Vessel()
            record.vessel.imo = record.vessel.imo or number
    if type_ == "mmsi" and record.kind == "vessel":
        record.vessel = record.vessel or Vessel()
        record.vessel.mmsi = number
    notes = [f"{vocab('IDRegDocDateType', d.get('IDRegDocDateTypeID')) or 'date'} "
             f"{(_readable(record, f'{label} {number}', lambda p=p: _period(p)) or BirthDate('', None, None, '')).text}"
             for d in children(doc, "DocumentDate") for p in children(d, "DatePeriod")]
    comment = child_text(doc, "Comment")
    ident = make_identifier(type_, number, country_code(country), label=label or None,
                            note="; ".join([n for n in notes if n.strip()] + ([comment] if comment else [])) or None)
    if ident:
        record.identifiers.append(ident)


PARSERS = {"xml": parse}
