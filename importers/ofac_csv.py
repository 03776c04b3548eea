"""US OFAC: the SDN CSV set and the non-SDN consolidated CSV set.

Files (SDN / consolidated): ``sdn.csv`` / ``cons_prim.csv`` (12 columns),
``add.csv`` / ``cons_add.csv`` (6), ``alt.csv`` / ``cons_alt.csv`` (5),
``sdn_comments.csv`` / ``cons_comments.csv`` (2).

Quirks handled here:
- No header row; strings quoted, numbers not; CRLF; a Ctrl-Z byte (0x1A)
  after the last line, which the csv module would read as a bogus row.
- ``-0-`` (often with a trailing space) is the null marker, quoted or not.
- ASCII in practice, but decoded as cp1252 to be safe.
- ``SDN_Type`` is empty (``-0-``) for entities: there is no "entity" value.
  Any other value is new: stored as an organization, with a warning.
- Remarks are capped at 1,000 characters; the rest continues, mid-word, in
  the comments file, keyed by ent_num, and is appended with no separator.
- add/alt/comments rows may reference ent_nums missing from the main file
  when the files come from different days; such orphans are reported in the
  run's warnings, not treated as errors.
- No listing dates and no publication date anywhere in the CSV set.
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict

from importers.common import ImportFailure, clean, make_name
from importers.countries import country_code
from importers.inputs import SourceFiles
from importers.ofac_remarks import apply_remarks, finish, split_person_name
from sanctions.schema import Address, CountryLink, Designation, Name, ParsedList, Vessel

FORMAT = "ofac-csv"
SOURCES = ("us-sdn", "us-cons")
FILE_SETS = {
    "us-sdn": {"main": "sdn.csv", "add": "add.csv", "alt": "alt.csv", "comments": "sdn_comments.csv"},
    "us-cons": {"main": "cons_prim.csv", "add": "cons_add.csv", "alt": "cons_alt.csv", "comments": "cons_comments.csv"},
}
WIDTHS = {"main": 12, "add": 6, "alt": 5, "comments": 2}
KINDS = {"individual": "person", "vessel": "vessel", "aircraft": "aircraft", "": "organization"}
ALT_TYPES = {"aka": "alias", "fka": "fka", "nka": "alias"}


def rows(files: SourceFiles, role: str, source: str) -> list[tuple[int, list[str]]]:
    """(line number, cleaned cells) of one file of the set, width-checked."""
    name = FILE_SETS[source][role]
    path, data = files.get(name)
    if data is None:
        if role == "main":
            raise ImportFailure(files.location, f"the OFAC CSV set has no {name}")
        return []
    text = data.decode("cp1252", errors="replace").rstrip("\x1a\r\n ")
    if role == "main" and not text.strip():
        raise ImportFailure(path, "the file is empty")
    out = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if not row:
            continue
        if len(row) != WIDTHS[role]:
            record = clean(row[0]) if row else None
            raise ImportFailure(
                path,
                f"line {line_no}: expected {WIDTHS[role]} columns, found {len(row)}",
                record=f"ent_num {record}" if record else f"line {line_no}",
            )
        if not row[0].strip().isdigit():
            raise ImportFailure(path, f"line {line_no}: ent_num {row[0]!r} is not a number "
                                f"(is this an OFAC CSV file?)", record=f"line {line_no}")
        out.append((line_no, [clean(cell) or "" for cell in row]))
    return out


def parse(files: SourceFiles, source: str) -> ParsedList:
    main = rows(files, "main", source)
    extra: dict[str, dict[str, list[list[str]]]] = {}
    for role in ("add", "alt", "comments"):
        grouped: dict[str, list[list[str]]] = defaultdict(list)
        for _, row in rows(files, role, source):
            grouped[row[0]].append(row)
        extra[role] = grouped

    designations = []
    for line_no, row in main:
        ent_num = row[0]
        raw = {
            "sdn": row,
            "add": extra["add"].get(ent_num, []),
            "alt": extra["alt"].get(ent_num, []),
            "comments": extra["comments"].get(ent_num, []),
        }
        designations.append(build(source, row, raw))

    known = {row[0] for _, row in main}
    warnings = []
    for role, grouped in extra.items():
        orphans = sorted(set(grouped) - known, key=int)
        if orphans:
            warnings.append(
                f"{FILE_SETS[source][role]}: {len(orphans)} rows' ent_nums are not in "
                f"{FILE_SETS[source]['main']} (files of different days?), e.g. {', '.join(orphans[:5])}"
            )
    return ParsedList(source=source, format=FORMAT, designations=designations, warnings=warnings)


def build(source: str, row: list[str], raw: dict) -> Designation:
    ent_num, sdn_name, sdn_type, program, title, call_sign, vess_type, tonnage, grt, flag, owner, remarks = row
    kind = KINDS.get(sdn_type.lower())
    comment = "".join(c[1] for c in raw["comments"])
    remarks = remarks + comment if comment else remarks
    if kind == "person":
        full, parts = split_person_name(sdn_name)
    else:
        full, parts = sdn_name, {}
    record = Designation(
        source=source,
        source_id=ent_num,
        key=f"{source}:{ent_num}",
        kind=kind or "organization",
        name=full,
        programmes=[p.strip() for p in program.split("] [") if p.strip()],
        title=title or None,
        remarks=remarks or None,
        raw=raw,
    )
    if kind is None:
        # A type OFAC has not used before: kept as the closest kind, and said.
        record.warnings.append(f"unknown SDN_Type {sdn_type!r}: stored as an organization")
    record.names.append(make_name(full, "primary", parts) or Name(full))
    for alt in raw["alt"]:
        alt_name = alt[3]
        alt_full, alt_parts = split_person_name(alt_name) if kind == "person" else (alt_name, {})
        name = make_name(alt_full, ALT_TYPES.get(alt[2].lower(), "alias"), alt_parts)
        if name:
            record.names.append(name)
    if kind == "vessel":
        record.vessel = Vessel(
            call_sign=call_sign or None,
            type=vess_type or None,
            flag=country_code(flag),
            flag_text=flag or None,
            tonnage=tonnage or None,
            gross_tonnage=grt or None,
            owner=owner or None,
        )
    if remarks:
        apply_remarks(record, remarks)
    if record.vessel and record.vessel.flag:
        record.countries.append(CountryLink(record.vessel.flag, "flag", record.vessel.flag_text))
    for add in raw["add"]:
        _, _, street, city, country, add_remarks = add
        text = ", ".join(p for p in (street, city, country) if p)
        if text:
            record.addresses.append(Address(text=text, city=city or None, country=country_code(country),
                                            note=add_remarks or None))
    finish(record)
    return record



PARSERS = {"csv": parse}
