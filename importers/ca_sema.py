"""Canada: Consolidated Canadian Autonomous Sanctions List (``sema-lmes.xml``).

Quirks handled here:
- Root ``<data-set>``, flat ``<record>``s, no ids and no file date.  The
  publication date stays unknown: the newest ``DateOfListing`` is not one
  (a delisting changes the file without a new listing date), and standing
  in for it would back-date every removal the import sees.  The store
  dates a removal by the import that saw it instead.
- ``Country`` is the *regime*, bilingual ``English / French``, sometimes
  with trailing spaces (``Venezuela ``).  The stable key is built from its
  English part, the ``Schedule`` and the ``Item``:
  ``ca:russia/1-part-1/688``; an absent schedule leaves its segment empty.
- Persons have ``LastName``/``GivenName``; entities and ships share
  ``EntityOrShip``.  A ship is told apart by ``ShipIMONumber``, and then
  ``TitleOrShip`` is its type and ``DateOfBirthOrShipBuildDate`` its build
  year.
- ``Aliases`` is one free-text field with mixed separators (``;``, ``,``,
  `` / ``) and language labels (``Russian: Николай …``); no alias strength.
- Dates of birth: ``YYYY-MM-DD``, ``YYYY``, ``YYYY-MM`` with stray spaces,
  ``1963-1964``, ``1963 or 1964``, ``born in the early 1970s``, and an
  Excel artefact ``Sep-99``.
- No nationalities, places of birth, addresses or identifiers but IMO.
"""
from __future__ import annotations

import re

from importers.common import (
    ImportFailure,
    add_birth_dates,
    dedupe,
    element_to_dict,
    join_parts,
    localname,
    make_identifier,
    make_name,
    parse_day,
    parse_xml,
    raw_text,
)
from importers.inputs import SourceFiles
from sanctions.schema import Designation, ParsedList, Vessel

FORMAT = "ca-xml"
SOURCES = ("ca",)
ROOT = "data-set"
_LANGUAGE_LABEL = re.compile(r"^\s*([A-Z][a-z]+)\s*:\s*")


# Runs of spaces, commas and hyphens become one hyphen: the publisher writes both
# "1, Part 1.1" and "1,Part 3", and a spacing fix on its side must not change a key
# (a changed key reads as one record delisted and another added).  Idempotent, so
# migration 0004 can apply it to keys already stored.
_SEPARATORS = re.compile(r"[\s,-]+")


def regime_key(country: str) -> str:
    return _SEPARATORS.sub("-", country.split(" / ")[0].strip().lower()).strip("-")


def schedule_key(schedule: str | None) -> str:
    return _SEPARATORS.sub("-", (schedule or "").strip().lower()).strip("-")


def normalise_key(key: str) -> str:
    """A stored ``ca:`` key in today's form (used by migration 0004); other keys unchanged."""
    if not key.startswith("ca:") or key.count("/") < 2:
        return key
    regime, schedule, item = key[3:].split("/", 2)
    return f"ca:{regime_key(regime)}/{schedule_key(schedule)}/{item.strip()}"


def parse(files: SourceFiles, source: str) -> ParsedList:
    path, data = files.single()
    root = parse_xml(path, data)
    if localname(root) != ROOT:
        raise ImportFailure(path, f"expected Canada's consolidated list (<{ROOT}>), found <{localname(root)}>")
    designations = []
    seen: dict[str, int] = {}
    for el in root:
        if not isinstance(el.tag, str) or localname(el) != "record":
            continue
        record = build(path, el)
        if record.key in seen:
            raise ImportFailure(path, f"duplicate key {record.key} (also at line {seen[record.key]})",
                                record=f"line {el.sourceline}")
        seen[record.key] = el.sourceline
        designations.append(record)
    return ParsedList(source=source, format=FORMAT, designations=designations, published_on=None)


def split_aliases(text: str) -> list[tuple[str, str | None]]:
    """(alias, language label) pairs from Canada's free-text Aliases field."""
    pieces = re.split(r"\s*;\s*|\s+/\s+|\n", text)
    if len(pieces) == 1 and ", " in text:
        pieces = text.split(", ")
    out = []
    for piece in pieces:
        language = None
        m = _LANGUAGE_LABEL.match(piece)
        if m:
            language, piece = m[1], piece[m.end():]
        piece = piece.strip(" ,")
        if piece:
            out.append((piece, language))
    return out


def build(path: str, el) -> Designation:
    # Every field is read from the record's raw copy, made first: one walk of its children.
    raw = element_to_dict(el)
    country = raw_text(raw, "Country")
    item = raw_text(raw, "Item")
    if not country or not item:
        raise ImportFailure(path, "record without Country or Item", record=f"line {el.sourceline}")
    schedule = raw_text(raw, "Schedule")
    key = f"ca:{regime_key(country)}/{schedule_key(schedule)}/{item}"
    last, given = raw_text(raw, "LastName"), raw_text(raw, "GivenName")
    entity = raw_text(raw, "EntityOrShip")
    imo = raw_text(raw, "ShipIMONumber")
    title = raw_text(raw, "TitleOrShip")
    born = raw_text(raw, "DateOfBirthOrShipBuildDate")
    if last or given:
        kind = "person"
        full = join_parts(given, last)
        parts = {k: v for k, v in (("given", given), ("last", last)) if v}
    elif entity:
        kind = "vessel" if imo else "organization"
        full, parts = entity, {}
    else:
        raise ImportFailure(path, "record without a name", record=key)
    record = Designation(
        source="ca",
        source_id=f"{country.split(' / ')[0].strip()}/{schedule or ''}/{item}",
        key=key,
        kind=kind,
        name=full,
        listed_on=parse_day(raw_text(raw, "DateOfListing")),
        programmes=[country.strip()],
        legal_basis=f"Schedule {schedule}, item {item}" if schedule else f"Item {item}",
        raw=raw,
    )
    record.names.append(make_name(full, "primary", parts))
    for alias, language in split_aliases(raw_text(raw, "Aliases") or ""):
        name = make_name(alias, "alias", language=language)
        if name:
            record.names.append(name)
    if kind == "vessel":
        record.vessel = Vessel(imo=imo, type=title, build_year=born)
        ident = make_identifier("imo", imo, label="ShipIMONumber")
        if ident:
            record.identifiers.append(ident)
    else:
        record.title = title
        if kind == "person":
            add_birth_dates(record, born)
    record.names = dedupe(record.names)
    return record


PARSERS = {"xml": parse}
