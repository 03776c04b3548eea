"""Importers: one module per publisher format, from raw bytes to common-schema records.

``load(source, location)`` reads the location, recognises the format from the
content (never from the file name alone), checks that it belongs to the
requested source, and returns a ``ParsedList``.  Nothing here touches the
database.
"""
from __future__ import annotations

import csv
import importlib
import io
import re
import zipfile
from types import ModuleType

from importers import ofac_csv, ofac_lists
from importers.common import ImportFailure, imo_is_valid
from importers.inputs import SourceFiles, open_location
from importers.xmlsafety import check_no_dtd
from sanctions.schema import SOURCES, ParsedList

__all__ = ["ImportFailure", "SourceFiles", "detect", "load", "open_location", "parse", "publisher"]

# The csv module refuses fields over 128 kB by default, and OFAC's sdn.csv may carry longer remarks.  The
# limit stays finite so that a file with a runaway quote fails with a message instead of eating memory.
CSV_FIELD_LIMIT = 16 * 1024 * 1024
csv.field_size_limit(CSV_FIELD_LIMIT)

# Format modules are named here and imported on first use (``importer``): every CLI command
# imports this package, most never parse a list, and importing all eight (and lxml with them)
# cost each command 20 to 40 ms.  ``ofac_csv`` is imported above: ``detect`` reads its file sets.
#
# XML root element (local name) -> importer module.
XML_ROOTS: dict[str, str] = {
    "sdnList": "ofac_xml",
    "Sanctions": "ofac_advanced",
    "export": "eu_fsf",
    "Designations": "uk_fcdo",
    "data-set": "ca_sema",
    "CONSOLIDATED_LIST": "un_sc",
}
# Importer module -> the publication it reads, for messages.
PUBLISHERS: dict[str, str] = {
    "ofac_csv": "OFAC (US) CSV",
    "ofac_xml": "OFAC (US) XML",
    "ofac_advanced": "OFAC (US) advanced XML",
    "eu_fsf": "EU Financial Sanctions Files",
    "uk_fcdo": "FCDO UK Sanctions List",
    "uk_ofsi": "OFSI (UK) consolidated list",
    "ca_sema": "Canada SEMA consolidated list",
    "un_sc": "UN Security Council consolidated list",
}


def importer(name: str) -> ModuleType:
    """The importer module called ``name`` (one of PUBLISHERS), imported on first use."""
    return importlib.import_module(f"importers.{name}")


def publisher(module: ModuleType) -> str:
    """The publication an importer module reads ("FCDO UK Sanctions List")."""
    return PUBLISHERS[module.__name__.rsplit(".", 1)[-1]]


def _xml_root(data: bytes) -> str | None:
    """Local name of the first element, read from the head of the file."""
    head = data[:4096].decode("utf-8", errors="replace")
    for m in re.finditer(r"<([A-Za-z_][\w.:-]*)", head):
        name = m[1]
        if not name.startswith(("?", "!")):
            return name.rsplit(":", 1)[-1]
    return None


def detect(files: SourceFiles) -> tuple[ModuleType, str]:
    """(importer module, format variant) for the files, from their content."""
    if len(files.contents) > 1 or any(n in ofac_csv.FILE_SETS[s]["main"] for s in ofac_csv.SOURCES
                                      for n in files.contents):
        return ofac_csv, "csv"
    path, data = files.single()
    if not data.strip():
        raise ImportFailure(path, "the file is empty")
    if data[:2] == b"PK":
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            raise ImportFailure(path, "a damaged or truncated ZIP/XLSX file") from None
        if "xl/workbook.xml" in names:
            return importer("uk_ofsi"), "xlsx"
        raise ImportFailure(path, "a ZIP file that is not an Excel workbook")
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        check_no_dtd(path, stripped)
        root = _xml_root(stripped)
        if root in XML_ROOTS:
            return importer(XML_ROOTS[root]), "xml"
        raise ImportFailure(path, f"unrecognised XML (root element <{root}>)")
    first_line = stripped.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    if first_line.startswith("Last Updated"):
        return importer("uk_ofsi"), "csv"
    if first_line.startswith("Report Date"):
        return importer("uk_fcdo"), "csv"
    if first_line.startswith("fileGenerationDate"):
        return importer("eu_fsf"), "csv"
    if first_line[:1].isdigit() and ',"' in first_line:
        return ofac_csv, "csv"
    raise ImportFailure(path, "unrecognised file format (not one of the supported sanctions lists)")


def parse(source: str, files: SourceFiles) -> ParsedList:
    if source not in SOURCES:
        raise ImportFailure(files.location, f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    module, variant = detect(files)
    if source not in module.SOURCES:
        raise ImportFailure(
            files.location,
            f"this is the {publisher(module)}, which does not belong to source {source!r} "
            f"(it feeds {', '.join(module.SOURCES)})",
        )
    try:
        parsed = module.PARSERS[variant](files, source)
    except csv.Error as exc:  # e.g. a field over CSV_FIELD_LIMIT, or a NUL byte
        raise ImportFailure(files.location, f"unreadable CSV: {exc}") from None
    if not parsed.designations:
        raise ImportFailure(files.location, "the file holds no designations")
    _check_ship_numbers(parsed)
    ofac_lists.check_list(parsed, source, files.location)
    return parsed


def _check_ship_numbers(parsed: ParsedList) -> None:
    """A ship's IMO number carries a check digit; a failing one is kept and flagged.

    Only for vessels: the IMO numbers of shipping companies follow another scheme.
    """
    for record in parsed.designations:
        if record.kind != "vessel":
            continue
        for ident in record.identifiers:
            if ident.type == "imo" and not imo_is_valid(ident.normalized):
                record.warnings.append(f"IMO number {ident.value!r} fails its check digit")


def load(source: str, location: str) -> tuple[SourceFiles, ParsedList]:
    files = open_location(location, source)
    return files, parse(source, files)
