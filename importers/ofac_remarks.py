"""OFAC's ``Remarks`` field: where the CSV edition hides all structured data.

The SDN CSV has no columns for dates of birth, nationalities or documents;
OFAC writes them into Remarks as ``; ``-separated ``Label value`` items::

    DOB 31 Aug 1960; alt. DOB 31 Aug 1953; POB Al Basuriyah, Lebanon;
    Gender Male; Passport 042833 (Lebanon); a.k.a. 'ZAHAR, Mahmoud';
    Linked To: HIZBALLAH.

Quirks handled here:
- ``alt.`` before a label means "another value of the same kind".
- Weak aliases exist *only* here (``a.k.a. 'NAME'``, single-quoted); alt.csv
  carries the strong ones.
- Identifier values carry the issuing country in parentheses and sometimes
  ``issued``/``expires`` dates: ``Passport A123 (Iran) expires 01 Jan 2020``.
- Several labels look like identifiers but are not (``Organization
  Established Date``, ``Secondary sanctions risk:``): they become attributes.
- Items we cannot classify are kept as attributes labelled ``remark``; the
  full Remarks text is stored too, so nothing is ever dropped.
"""
from __future__ import annotations

import re

from importers.common import add_birth_dates, add_country, clean, dedupe, make_identifier, parse_day
from importers.countries import country_code
from sanctions.schema import Aircraft, Attribute, BirthPlace, Contact, Designation, Name, Vessel

# Identifier labels OFAC uses (matched case-sensitively, longest first).
ID_LABELS = {
    "Passport": "passport",
    "Diplomatic Passport": "passport",
    "British National Overseas Passport": "passport",
    "Passport Booklet": "passport",
    "Travel Document Number": "passport",
    "National ID No.": "national-id",
    "National Foreign ID Number": "national-id",
    "Personal ID Card": "national-id",
    "Cedula No.": "national-id",
    "C.U.R.P.": "national-id",
    "C.U.R.P. #": "national-id",
    "D.N.I.": "national-id",
    "Kenyan ID No.": "national-id",
    "Turkish Identification Number": "national-id",
    "Numero de Identidad": "national-id",
    "Citizen's Card Number": "national-id",
    "Birth Certificate Number": "national-id",
    "Electoral Registry No.": "national-id",
    "Credencial electoral": "national-id",
    "Residency Number": "national-id",
    "Refugee ID Card": "national-id",
    "Tazkira National ID Card": "national-id",
    "UAE Identification": "national-id",
    "SSN": "national-id",
    "I.F.E.": "national-id",
    "Bosnian Personal ID No.": "national-id",
    "Moroccan Personal ID No.": "national-id",
    "Cartilla de Servicio Militar Nacional": "national-id",
    "Military Registration Number": "national-id",
    "Tax ID No.": "tax-id",
    "R.F.C.": "tax-id",
    "R.F.C. #": "tax-id",
    "RFC": "tax-id",
    "NIT #": "tax-id",
    "RUC #": "tax-id",
    "RIF #": "tax-id",
    "RTN": "tax-id",
    "C.U.I.T.": "tax-id",
    "C.U.I.": "tax-id",
    "C.U.I.P.": "tax-id",
    "C.I.F.": "tax-id",
    "V.A.T. Number": "tax-id",
    "US FEIN": "tax-id",
    "Italian Fiscal Code": "tax-id",
    "Paraguayan tax identification number": "tax-id",
    "Numero Unico de Identificacao Tributaria (NUIT)": "tax-id",
    "Registration Number": "registration",
    "Registration ID": "registration",
    "Business Registration Number": "registration",
    "Business Registration Document #": "registration",
    "Business Number": "registration",
    "Commercial Registry Number": "registration",
    "Company Number": "registration",
    "UK Company Number": "registration",
    "Public Registration Number": "registration",
    "C.R. No.": "registration",
    "Romanian C.R.": "registration",
    "Chamber of Commerce Number": "registration",
    "Istanbul Chamber of Comm. No.": "registration",
    "Dubai Chamber of Commerce Membership No.": "registration",
    "Folio Mercantil No.": "registration",
    "Matricula Mercantil No": "registration",
    "Government Gazette Number": "registration",
    "Unified Social Credit Code (USCC)": "registration",
    "United Social Credit Code Certificate (USCCC)": "registration",
    "Economic Register Number (CBLS)": "registration",
    "Central Registration System Number": "registration",
    "Certificate of Incorporation Number": "registration",
    "Enterprise Number": "registration",
    "Branch Unit Number": "registration",
    "Identification Number": "registration",
    "Organization Code": "registration",
    "Chinese Commercial Code": "registration",
    "Registered Charity No.": "registration",
    "D-U-N-S Number": "duns",
    "Legal Entity Number": "lei",
    "LE Number": "lei",
    "Trade License No.": "license",
    "License": "license",
    "Permit Number": "license",
    "SRE Permit No.": "license",
    "Afghan Money Service Provider License Number": "license",
    "Pilot License Number": "license",
    "Driver's License No.": "driver-license",
    "SWIFT/BIC": "swift-bic",
    "ISIN": "isin",
    "Equity Ticker": "ticker",
    "BIK (RU)": "bik",
    "MMSI": "mmsi",
    "Vessel Registration Identification": "imo",
    "Aircraft Manufacturer's Serial Number (MSN)": "aircraft-serial",
    "Aircraft Construction Number (also called L/N or S/N or F/N)": "aircraft-serial",
    "Aircraft Serial Identification": "aircraft-serial",
    "Aircraft Tail Number": "aircraft-tail",
    "Previous Aircraft Tail Number": "aircraft-tail",
    "Aircraft Mode S Transponder Code": "aircraft-transponder",
    "Digital Currency Address - XBT": "crypto-wallet",
    "Digital Currency Address - ETH": "crypto-wallet",
    "Digital Currency Address - USDT": "crypto-wallet",
    "Digital Currency Address - USDC": "crypto-wallet",
    "Digital Currency Address - LTC": "crypto-wallet",
    "Digital Currency Address - TRX": "crypto-wallet",
    "Digital Currency Address - XMR": "crypto-wallet",
    "Digital Currency Address - DASH": "crypto-wallet",
    "Digital Currency Address - ZEC": "crypto-wallet",
    "Digital Currency Address - BSV": "crypto-wallet",
    "Digital Currency Address - BCH": "crypto-wallet",
    "Digital Currency Address - XVG": "crypto-wallet",
    "Digital Currency Address - ETC": "crypto-wallet",
    "Digital Currency Address - BTG": "crypto-wallet",
    "Digital Currency Address - ARB": "crypto-wallet",
    "Digital Currency Address - BSC": "crypto-wallet",
    "Digital Currency Address - SOL": "crypto-wallet",
    "VisaNumberID": "visa",
    "Immigration No.": "national-id",
    "Public Security and Immigration No.": "national-id",
    "File Number": "other",
    "Serial No.": "other",
}
CONTACT_LABELS = {
    "Website": "website",
    "Email Address": "email",
    "EMAIL": "email",
    "Phone Number": "phone",
    "Telephone No.": "phone",
    "Telephone": "phone",
    "PHONE": "phone",
    "FAX": "fax",
    "Fax": "fax",
}
FACT_LABELS = (
    "DOB", "POB", "nationality", "citizen", "Gender", "Linked To:", "Title",
    "a.k.a.", "f.k.a.", "n.k.a.",
    "Aircraft Model", "Aircraft Operator", "Aircraft Manufacture Date",
    "Vessel Year of Build", "Other Vessel Call Sign", "Other Vessel Flag", "Other Vessel Type",
    "Vessel Type", "Vessel Flag", "Former Vessel Flag",
)
ATTRIBUTE_LABELS = (
    "Organization Established Date", "Organization Type:", "Target Type",
    "Secondary sanctions risk:", "Additional Sanctions Information -",
    "Transactions Prohibited For Persons Owned or Controlled By U.S. Financial Institutions:",
    "Executive Order 13662 Directive Determination -", "Executive Order 13846 information:",
    "Executive Order 14024 Directive Information -", "Executive Order 14024 Directive Information",
    "Listing Date (EO 14024 Directive 1a):", "Listing Date (EO 14024 Directive 2):",
    "Listing Date (EO 14024 Directive 3):", "Effective Date (EO 14024 Directive 1a):",
    "Effective Date (EO 14024 Directive 2):", "Effective Date (EO 14024 Directive 3):",
    "Listing Date (CMIC)", "Effective Date (CMIC)", "Purchase/Sales For Divestment Date (CMIC)",
    "CAATSA Section 235 Information:", "Issuer Name", "Nationality of Registration",
    "IFCA Determination -", "Executive Order 14014 Directive Information:",
)

_labels = sorted(
    list(ID_LABELS) + list(CONTACT_LABELS) + list(FACT_LABELS) + list(ATTRIBUTE_LABELS),
    key=len,
    reverse=True,
)
_ITEM = re.compile(
    r"^(?P<alt>alt\.\s+)?(?P<label>" + "|".join(re.escape(label) for label in _labels) + r")(?=[\s:]|$)\s*(?P<value>.*)$",
    re.S,
)
# Identifier labels we have not listed: anything ending like a number label.
_GENERIC_ID = re.compile(
    r"^(?:alt\.\s+)?(?P<label>[A-Z][\w .,'/&()-]{1,60}?(?:No\.|Number|#|ID|Identification|Card|Certificate))"
    r"\s+(?P<value>[A-Z0-9][^;]*\d[^;]*)$"
)
_QUOTED = re.compile(r"^'(.*)'$", re.S)
_COUNTRY_SUFFIX = re.compile(r"\s*\(([^()]+)\)\s*(.*)$")
_ISSUE_NOTE = re.compile(r"\s+((?:issued|expires|Issue Date|Expiration Date|Expire Date)\b.*)$", re.I)


def split_items(remarks: str) -> list[str]:
    """Remarks items; the closing period belongs to the list, not the last item."""
    text = remarks.strip()
    if text.endswith("."):
        text = text[:-1]
    return [item.strip() for item in re.split(r";\s*", text) if item.strip()]


def split_person_name(published: str) -> tuple[str, dict[str, str]]:
    """``LAST, First Middle`` -> (``First Middle LAST``, parts)."""
    if ", " in published:
        last, _, given = published.partition(", ")
        return f"{given} {last}".strip(), {"last": last, "given": given}
    return published, {}


def _identifier_value(value: str) -> tuple[str, str | None, str | None]:
    """Split ``A123 issued 2010 (Iran) expires 2020`` into value, country, note."""
    note_parts: list[str] = []
    country = None
    m = _COUNTRY_SUFFIX.search(value)
    if m:
        country, rest = m[1], m[2]
        value = value[: m.start()]
        if rest:
            note_parts.append(rest)
    m = _ISSUE_NOTE.search(value)
    if m:
        note_parts.insert(0, m[1])
        value = value[: m.start()]
    return value.strip(), country, "; ".join(note_parts) or None


def apply_remarks(record: Designation, remarks: str) -> None:
    """Parse OFAC remarks into ``record``'s structured fields."""
    for item in split_items(remarks):
        m = _ITEM.match(item)
        if not m:
            g = _GENERIC_ID.match(item)
            if g:
                _add_identifier(record, "other", g["value"], g["label"].strip())
            else:
                record.attributes.append(Attribute("remark", item))
            continue
        label, value = m["label"], m["value"].strip().lstrip(":").strip()
        _apply_item(record, label, value, item)


def _apply_item(record: Designation, label: str, value: str, item: str) -> None:
    if label == "DOB":
        add_birth_dates(record, value)
    elif label == "POB":
        parts = [p.strip() for p in value.split(",")]
        record.birth_places.append(BirthPlace(value, country_code(parts[-1]) if parts else None))
    elif label in ("nationality", "citizen"):
        add_country(record, value, "nationality" if label == "nationality" else "citizenship")
    elif label == "Gender":
        record.gender = value.lower() or None
    elif label == "Linked To:":
        record.linked_to.append(value)
    elif label == "Title":
        record.title = record.title or value
    elif label in ("a.k.a.", "f.k.a.", "n.k.a."):
        quoted = _QUOTED.match(value)
        name = quoted[1] if quoted else value
        full, parts = split_person_name(name) if record.kind == "person" else (name, {})
        record.names.append(Name(full=full, type="weak", parts=parts))
    elif label in ID_LABELS:
        _apply_identifier_item(record, label, value)
    elif label in CONTACT_LABELS:
        record.contacts.append(Contact(CONTACT_LABELS[label], value))
    elif label.startswith("Aircraft") or label.startswith("Vessel") or label.startswith("Other Vessel"):
        _apply_craft_item(record, label, value)
    else:
        record.attributes.append(Attribute(label.rstrip(":"), value))


def _apply_identifier_item(record: Designation, label: str, value: str) -> None:
    type_ = ID_LABELS[label]
    if type_ == "imo":
        # "Vessel Registration Identification IMO 7406784"; the label is also
        # used for national registrations ("... RS 1234"), which are not IMOs.
        imo = re.match(r"^IMO\s*(\d{7})\b", value)
        if not imo:
            _add_identifier(record, "registration", value, label)
            return
        _add_identifier(record, "imo", imo[1], label)
        record.vessel = record.vessel or Vessel()
        record.vessel.imo = record.vessel.imo or imo[1]
        return
    if type_ == "registration" and value.startswith("IMO "):
        # Shipping companies: "Identification Number IMO 1234567" is the
        # company's IMO number, not a ship's.
        _add_identifier(record, "imo", value[4:], label)
        return
    if type_ == "mmsi":
        record.vessel = record.vessel or Vessel()
        record.vessel.mmsi = record.vessel.mmsi or value
    if type_ == "aircraft-serial":
        record.aircraft = record.aircraft or Aircraft()
        record.aircraft.manufacturer_serial = record.aircraft.manufacturer_serial or value
    if type_ == "aircraft-tail":
        record.aircraft = record.aircraft or Aircraft()
        record.aircraft.tail_number = record.aircraft.tail_number or value
    _add_identifier(record, type_, value, label)


def _apply_craft_item(record: Designation, label: str, value: str) -> None:
    if label.startswith("Aircraft"):
        record.aircraft = record.aircraft or Aircraft()
        if label == "Aircraft Model":
            record.aircraft.model = value
        elif label == "Aircraft Operator":
            record.aircraft.operator = value
        elif label == "Aircraft Manufacture Date":
            record.aircraft.build_date = parse_day(value) or value
        return
    record.vessel = record.vessel or Vessel()
    if label == "Vessel Year of Build":
        record.vessel.build_year = value
    else:
        record.attributes.append(Attribute(label, value))


def _add_identifier(record: Designation, type_: str, raw_value: str, label: str) -> None:
    value, country_text, note = _identifier_value(raw_value)
    country = country_code(country_text) if country_text else None
    if country_text and not country:
        # "(Lebanon)" is a country, but "(MSN)" or "(RU)" in a value is not.
        value, note = raw_value.strip(), note
    ident = make_identifier(type_, value, country, label=label, note=note)
    if ident and ident not in record.identifiers:
        record.identifiers.append(ident)


def finish(record: Designation) -> None:
    """De-duplicate what remarks and other columns both said."""
    record.names = dedupe(record.names)
    record.birth_dates = dedupe(record.birth_dates)
    record.birth_places = dedupe(record.birth_places)
    record.contacts = dedupe(record.contacts)
    for text in record.names:
        text.full = clean(text.full) or text.full
