"""Helpers that several importers need: errors, text, dates, identifiers, XML.

Country mapping lives in ``importers.countries``.  Nothing here knows a
particular publisher; publisher quirks stay in the publisher's module.
"""
from __future__ import annotations

import calendar
import functools
import re
import unicodedata
from typing import TYPE_CHECKING, Any, Iterable

from importers.countries import country_codes
from sanctions.schema import Attribute, BirthDate, CountryLink, Designation, Identifier, Name

if TYPE_CHECKING:  # lxml is imported where a document is parsed: most commands (and the web) never do
    from lxml import etree


class ImportFailure(Exception):
    """A file that cannot be imported: names the file, the record and the problem."""

    def __init__(self, file: str, problem: str, record: str | None = None):
        self.file = file
        self.problem = problem
        self.record = record
        where = f"{file}: record {record}" if record else str(file)
        super().__init__(f"{where}: {problem}")


# --- text -----------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def clean(value: Any) -> str | None:
    """Collapse whitespace; empty strings and publishers' null markers become None."""
    # Most cells of a wide sheet are empty: answer those before any other work.
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else str(value)
    # Most cells need only a strip; the regex runs where whitespace is irregular.
    if "  " in text or "\n" in text or "\t" in text or "\r" in text or "\xa0" in text:
        text = _SPACES.sub(" ", text)
    text = text.strip()
    if text in ("", "-0-", "-"):
        return None
    return text


def join_parts(*parts: str | None) -> str:
    return " ".join(p for p in (clean(x) for x in parts) if p)


def dedupe(items: Iterable[Any]) -> list[Any]:
    """Keep the first of equal items, in order (publishers repeat themselves)."""
    seen: list[Any] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


_SCRIPT_PREFIXES = {
    "LATIN": "Latn",
    "CYRILLIC": "Cyrl",
    "ARABIC": "Arab",
    "CJK": "Hani",
    "HANGUL": "Hang",
    "HIRAGANA": "Jpan",
    "KATAKANA": "Jpan",
    "GREEK": "Grek",
    "HEBREW": "Hebr",
    "GEORGIAN": "Geor",
    "ARMENIAN": "Armn",
    "THAI": "Thai",
    "MYANMAR": "Mymr",
    "DEVANAGARI": "Deva",
    "ETHIOPIC": "Ethi",
    "TIBETAN": "Tibt",
    "KHMER": "Khmr",
    "BENGALI": "Beng",
}


@functools.lru_cache(maxsize=65536)  # names repeat across rows, aliases and lists
def detect_script(text: str) -> str:
    """The dominant ISO 15924 script of the letters in ``text``.

    Publishers' language labels are unreliable (the EU tags a Cyrillic name
    ``EN``), so the script is read from the characters themselves.
    """
    if text.isascii():
        return "Latn" if any(ch.isalpha() for ch in text) else "Zyyy"
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        if ch.isascii():
            script = "Latn"
        else:
            try:
                first = unicodedata.name(ch).split()[0]
            except ValueError:
                continue
            script = _SCRIPT_PREFIXES.get(first, "Zyyy")
        counts[script] = counts.get(script, 0) + 1
    if not counts:
        return "Zyyy"
    return max(counts.items(), key=lambda kv: kv[1])[0]


# --- dates ----------------------------------------------------------------

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_name) if name})
_MONTHS["sept"] = 9


class DateError(ValueError):
    pass


def _interval(year: int, month: int | None = None, day: int | None = None) -> tuple[str, str, str]:
    if not 1000 <= year <= 2100:
        raise DateError(f"year {year} out of range")
    if month is None:
        return f"{year:04d}-01-01", f"{year:04d}-12-31", "year"
    if not 1 <= month <= 12:
        raise DateError(f"month {month} out of range")
    last = calendar.monthrange(year, month)[1]
    if day is None:
        return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{last:02d}", "month"
    if not 1 <= day <= last:
        raise DateError(f"day {day} out of range")
    iso = f"{year:04d}-{month:02d}-{day:02d}"
    return iso, iso, "day"


_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_DMY_TEXT = re.compile(r"^(?:(\d{1,2})[\s-]+)?([A-Za-z]{3,9})\.?,?[\s-]+(\d{4})$")
_SLASHED = re.compile(r"^(\w{1,2})/(\w{1,2})/(\w{4})$")
_MONTH_YEAR = re.compile(r"^(\d{1,2})/(\d{4})$")
_EXCEL_MON_YY = re.compile(r"^([A-Za-z]{3})-(\d{2})$")
_DECADE = re.compile(r"^(?:born in )?(?:the )?(early|mid|late)?\s*(\d{3})0'?s$", re.I)


def _to_int(part: str) -> int | None:
    """A date part; ``00``, ``dd``, ``mm``, ``yy`` placeholders mean unknown."""
    if part.isdigit() and int(part) != 0:
        return int(part)
    return None


def _single(text: str) -> tuple[str, str, str]:
    text = text.strip().strip(".,")
    m = _ISO.match(text)
    if m:
        return _interval(int(m[1]), _to_int(m[2] or ""), _to_int(m[3] or ""))
    m = _DMY_TEXT.match(text)
    if m and m[2].lower() in _MONTHS:
        return _interval(int(m[3]), _MONTHS[m[2].lower()], int(m[1]) if m[1] else None)
    m = _SLASHED.match(text)
    if m:
        # dd/mm/yyyy; unknown parts are written 00, dd, mm or even 19yy.
        year = _to_int(m[3])
        if year is None:
            decade = re.match(r"^(\d{2})yy$", m[3], re.I)
            if decade:
                century = int(decade[1]) * 100
                return f"{century:04d}-01-01", f"{century + 99:04d}-12-31", "range"
            raise DateError("no year")
        month = _to_int(m[2])
        return _interval(year, month, _to_int(m[1]) if month else None)
    m = _MONTH_YEAR.match(text)
    if m:
        return _interval(int(m[2]), _to_int(m[1]))
    m = _EXCEL_MON_YY.match(text)
    if m and m[1].lower() in _MONTHS:
        # Excel turned a two-digit year into ``Sep-99``; read it as 19xx for birth dates.
        return _interval(1900 + int(m[2]), _MONTHS[m[1].lower()])
    m = _DECADE.match(text)
    if m:
        start = int(m[2]) * 10
        lo, hi = {"early": (0, 3), "mid": (3, 6), "late": (6, 9), None: (0, 9)}[m[1] and m[1].lower()]
        return f"{start + lo:04d}-01-01", f"{start + hi:04d}-12-31", "range"
    raise DateError(f"unrecognised date {text!r}")


_RANGE_SPLIT = re.compile(r"\s+(?:to|-|–|and)\s+|(?<=\d{4})-(?=\d{4}$)|(?<=\d)\s*-\s*(?=\d{4}-)")
_ALTERNATIVES = re.compile(r"\s+or\s+", re.I)
_CIRCA = re.compile(r"^(?:circa|approx\.?|approximately|about|c\.|ca\.)\s*", re.I)


def parse_birth_dates(text: str | None) -> list[BirthDate]:
    """Parse the free-text date forms the publishers use.

    ``A or B`` gives two dates (either may be right); ``A to B`` and
    ``A-B`` give one range.  Returns [] for empty text and raises DateError
    for text that is not a date at all; callers keep such text raw and
    count a warning.
    """
    text = clean(text)
    if not text:
        return []
    alternatives = _ALTERNATIVES.split(text)
    return [_parse_one(alt if len(alternatives) > 1 else text) for alt in alternatives]


def _parse_one(text: str) -> BirthDate:
    body = text
    circa = False
    m = _CIRCA.match(body)
    if m:
        circa = True
        body = body[m.end():]
    parts = [p for p in _RANGE_SPLIT.split(body) if p.strip()]
    if not parts:
        raise DateError(f"unrecognised date {text!r}")
    intervals = [_single(p) for p in parts]
    earliest = min(i[0] for i in intervals)
    latest = max(i[1] for i in intervals)
    precision = intervals[0][2] if len(intervals) == 1 else "range"
    return BirthDate(text=text, earliest=earliest, latest=latest, precision=precision, circa=circa)


def add_birth_dates(record: Designation, text: str | None) -> None:
    """Add parsed birth dates to a record; unparseable text is kept raw with a warning."""
    try:
        record.birth_dates.extend(parse_birth_dates(text))
    except DateError as exc:
        record.warnings.append(f"unparsed date of birth {text!r}: {exc}")
        record.attributes.append(Attribute("date of birth", clean(text) or ""))


@functools.lru_cache(maxsize=16384)  # a list repeats the same few thousand dates on every row
def parse_day(text: str | None, dayfirst: bool = True) -> str | None:
    """A listing/update date to ISO ``YYYY-MM-DD`` (or None when unparseable)."""
    text = clean(text)
    if not text:
        return None
    text = text[:10] if re.match(r"^\d{4}-\d{2}-\d{2}", text) else text
    m = re.match(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$", text)
    if m:
        day, month = (int(m[1]), int(m[2])) if dayfirst else (int(m[2]), int(m[1]))
        try:
            return _interval(int(m[3]), month, day)[0]
        except DateError:
            return None
    try:
        lo, hi, _ = _single(text)
    except DateError:
        return None
    return lo if lo == hi else None


# --- identifiers ----------------------------------------------------------


def normalize_id(value: str) -> str:
    """Upper-case letters and digits of an identifier, in any script.

    Accents are dropped (``é`` -> ``E``) but letters of other scripts are kept:
    a Cyrillic passport series (``АВ 1234567``) is part of the number, and
    dropping it made different documents compare equal.
    """
    if value.isascii():
        # Most identifiers: NFKD leaves ASCII as it is and no ASCII character combines,
        # so the test below reduces to isalnum (the same result, without the Unicode look-ups).
        return "".join(filter(str.isalnum, value.upper()))
    folded = unicodedata.normalize("NFKD", value).upper()
    return "".join(ch for ch in folded if ch.isalnum() and not unicodedata.combining(ch)
                   and (ch.isascii() or unicodedata.category(ch) in ("Lu", "Ll", "Lo", "Nd")))


def imo_is_valid(number: str) -> bool:
    """IMO ship numbers carry a check digit: sum of digits 1-6 weighted 7..2, mod 10."""
    if not re.fullmatch(r"\d{7}", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:6], range(7, 1, -1)))
    return total % 10 == int(number[6])


def make_identifier(
    type_: str,
    value: str,
    country: str | None = None,
    label: str | None = None,
    note: str | None = None,
) -> Identifier | None:
    value = clean(value) or ""
    normalized = normalize_id(value)
    if type_ == "imo":
        normalized = normalized.removeprefix("IMO")
    if not normalized:
        return None
    return Identifier(type=type_, value=value, normalized=normalized, country=country, label=label, note=note)


# Identifier labels across publishers (lower-cased) -> schema identifier type.
ID_TYPES = {
    "passport": "passport",
    "passport no.": "passport",
    "passport number": "passport",
    "diplomatic passport": "passport",
    "numéro de passeport": "passport",
    "número de pasaporte": "passport",
    "national id no.": "national-id",
    "national identification number": "national-id",
    "national identity card": "national-id",
    "identity card": "national-id",
    "id": "national-id",
    "numéro d'identification nationale": "national-id",
    "número de identidad nacional": "national-id",
    "cedula no.": "national-id",
    "d.n.i.": "national-id",
    "curp #": "national-id",
    "personal id card": "national-id",
    "tax id no.": "tax-id",
    "fiscalcode": "tax-id",
    "nit #": "tax-id",
    "ruc #": "tax-id",
    "rfc #": "tax-id",
    "v.a.t. number": "tax-id",
    "vat number": "tax-id",
    "inn": "tax-id",
    "kpp": "tax-id",
    "registration id": "registration",
    "registration number": "registration",
    "regnumber": "registration",
    "business registration number": "registration",
    "commercial registry number": "registration",
    "company number": "registration",
    "public registration number": "registration",
    "c.r. no.": "registration",
    "chamber of commerce number": "registration",
    "folio mercantil no.": "registration",
    "matricula mercantil no": "registration",
    "government gazette number": "registration",
    "legal entity number": "lei",
    "unified social credit code (uscc)": "registration",
    "economic register number (cbls)": "registration",
    "ogrn": "registration",
    "identification number": "registration",
    "license": "license",
    "driver's license no.": "driver-license",
    "swift/bic": "swift-bic",
    "isin": "isin",
    "bik (ru)": "bik",
    "imo": "imo",
    "vessel registration identification": "imo",
    "mmsi": "mmsi",
    "aircraft manufacturer's serial number (msn)": "aircraft-serial",
    "aircraft tail number": "aircraft-tail",
    "stateless person passport": "passport",
    "stateless person id card": "national-id",
    "residency number": "national-id",
    "social security number": "national-id",
    "birth certificate number": "national-id",
    "refugee id card": "national-id",
    "other": "other",
}


def id_type(label: str | None) -> str:
    return ID_TYPES.get(clean(label or "").lower() if label else "", "other")


# --- XML ------------------------------------------------------------------

def parse_xml(path: str, data: bytes) -> etree._Element:
    """Parse a whole XML document, turning syntax errors into ImportFailure."""
    if not data.strip():
        raise ImportFailure(path, "the file is empty")
    from lxml import etree

    from importers.xmlsafety import check_no_dtd  # here, not at the top: xmlsafety imports this module

    check_no_dtd(path, data)
    parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ImportFailure(path, f"malformed XML at line {exc.position[0]}: {exc.msg}") from None


def localname(el: etree._Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def element_to_dict(el: etree._Element) -> Any:
    """An XML element as JSON-ready data: attributes, text and child lists.

    Used for the raw evidence copy of each record; repeated children become lists.
    """
    children = [c for c in el if isinstance(c.tag, str)] if len(el) else ()
    text = (el.text or "").strip()
    if not children and not el.attrib:
        return text
    out: dict[str, Any] = {f"@{localname_attr(k)}": v for k, v in el.attrib.items()}
    if text:
        out["#text"] = text
    for child in children:
        name = localname(child)
        # Most elements are leaves without attributes (a UN record holds about thirty):
        # their value is their text, without a call of their own.
        value = (child.text or "").strip() if not len(child) and not child.attrib else element_to_dict(child)
        if name in out:
            if not isinstance(out[name], list):
                out[name] = [out[name]]
            out[name].append(value)
        else:
            out[name] = value
    return out


def localname_attr(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def child_text(el: etree._Element, name: str) -> str | None:
    """Text of the first child called ``name`` (namespace-agnostic), cleaned."""
    # lxml's "{*}" tag filter matches the name in any namespace or none, in C: a Python loop
    # over every child was the largest cost of parsing the UN and Canadian lists.
    child = next(el.iterchildren("{*}" + name), None)
    return clean(child.text) if child is not None else None


def children(el: etree._Element, name: str) -> list[etree._Element]:
    return list(el.iterchildren("{*}" + name))


def path_texts(el: etree._Element, *path: str) -> list[str]:
    """Cleaned texts at a child path such as ("NATIONALITY", "VALUE")."""
    nodes = [el]
    for name in path:
        nodes = [c for n in nodes for c in children(n, name)]
    return [t for t in (clean(n.text) for n in nodes) if t]


# --- a record read from its raw copy --------------------------------------
# ``element_to_dict`` names every child once; an importer that takes its
# record's raw copy anyway reads the fields from it, instead of searching the
# element's children again for each field (child_text's thirty searches per
# UN record were a fifth of that list's import).  ``raw_text(raw, name)`` is
# ``child_text(el, name)`` for ``raw = element_to_dict(el)``, with one exception:
# ``clean`` turns a Unicode space such as U+202F into a plain one only when the
# text also holds a newline, tab, double or no-break space, and the raw copy is
# stripped first, so a field with such a space inside and a newline only at an
# edge keeps the U+202F here.  No UN or Canadian record has that today (every
# record of the real lists reads identically both ways); making ``clean``
# always fold such spaces would change 19 stored records of the real lists.

def _raw_value_text(value: Any) -> str | None:
    """An element's cleaned text from its raw copy: a leaf's text, or a parent's ``#text``."""
    return clean(value.get("#text") if isinstance(value, dict) else value)


def raw_text(raw: Any, name: str) -> str | None:
    """The cleaned text of the first child ``name`` in a raw copy (``child_text``)."""
    items = raw_items(raw, name)
    return _raw_value_text(items[0]) if items else None


def raw_items(raw: Any, name: str) -> list[Any]:
    """Every child ``name`` in a raw copy, as raw copies themselves (``children``).

    A child without children or attributes is its text (a string): it has no fields.
    """
    value = raw.get(name) if isinstance(raw, dict) else None
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def raw_path_texts(raw: Any, *path: str) -> list[str]:
    """Cleaned texts at a child path such as ("NATIONALITY", "VALUE") in a raw copy (``path_texts``)."""
    nodes = [raw]
    for name in path:
        nodes = [c for n in nodes for c in raw_items(n, name)]
    return [t for t in map(_raw_value_text, nodes) if t]


def make_name(
    full: str | None,
    type_: str = "primary",
    parts: dict[str, str] | None = None,
    language: str | None = None,
) -> Name | None:
    """A Name with cleaned text and its script detected; None for empty text."""
    full = clean(full)
    if not full:
        return None
    cleaned = {}
    if parts:
        for k, v in parts.items():
            v = clean(v)
            if v:
                cleaned[k] = v
    return Name(full=full, type=type_, parts=cleaned, script=detect_script(full), language=language)


def add_country(record: Designation, text: str | None, role: str) -> None:
    """Link a country by its publisher's name; unknown names are kept raw with a warning."""
    text = clean(text)
    if not text:
        return
    codes = country_codes(text)
    if not codes:
        record.warnings.append(f"unknown country {text!r} ({role})")
        record.attributes.append(Attribute(role, text))
        return
    for code in codes:
        link = CountryLink(code, role, text)
        if link not in record.countries:
            record.countries.append(link)
