"""A small reader for the first sheet of an .xlsx workbook, as rows of strings.

OFSI's ConList.xlsx stores every cell, dates included, as a shared string,
so values come back exactly as published; numbers come back as their text.
lxml's iterparse keeps memory flat on large sheets.
"""
from __future__ import annotations

import io
import zipfile
from typing import Iterator

from lxml import etree

from importers.common import ImportFailure

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ROW, _CELL, _VALUE, _TEXT = f"{_MAIN}row", f"{_MAIN}c", f"{_MAIN}v", f"{_MAIN}t"


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch) - 64)
    return index - 1


def _text(si: etree._Element) -> str:
    return "".join(t.text or "" for t in si.iter(f"{_MAIN}t"))


def read_rows(path: str, data: bytes) -> Iterator[list[str]]:
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        workbook = etree.fromstring(book.read("xl/workbook.xml"))
        rels = etree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
        first = workbook.find(f"{_MAIN}sheets/{_MAIN}sheet")
        target = next(r.get("Target") for r in rels.iter(f"{_PKG_REL}Relationship")
                      if r.get("Id") == first.get(f"{_REL}id"))
        sheet_path = "xl/" + target.lstrip("/").removeprefix("xl/")
        shared: list[str] = []
        if "xl/sharedStrings.xml" in book.namelist():
            shared = [_text(si) for si in etree.fromstring(book.read("xl/sharedStrings.xml"),
                                                           etree.XMLParser(huge_tree=True))
                      if si.tag == f"{_MAIN}si"]
        sheet = book.open(sheet_path)
    except (KeyError, StopIteration, AttributeError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
        raise ImportFailure(path, f"not a readable Excel workbook ({exc})") from None

    try:
        yield from _sheet_rows(sheet, shared)
    except (etree.XMLSyntaxError, zipfile.BadZipFile, EOFError) as exc:
        raise ImportFailure(path, f"the worksheet is damaged or truncated ({exc})") from None


def _sheet_rows(sheet, shared: list[str]) -> Iterator[list[str]]:
    """Rows of cell texts; a gap in the cell references (an empty cell left out) becomes ""."""
    # A sheet of OFSI's size is ~700,000 cells, so the loop avoids per-cell regexes
    # and searches, caches column numbers, and drops finished rows to keep memory flat.
    columns: dict[str, int] = {}
    for _, row in etree.iterparse(sheet, tag=_ROW, huge_tree=True):
        cells: list[str] = []
        for c in row:
            if c.tag != _CELL:
                continue
            ref = c.get("r")
            if ref:
                letters = ref.rstrip("0123456789")
                col = columns.get(letters)
                if col is None:
                    col = columns[letters] = _column_index(letters)
            else:
                col = len(cells)
            kind = c.get("t")
            if kind == "inlineStr":
                value = "".join(t.text or "" for t in c.iter(_TEXT))
            else:
                value = ""
                for v in c:
                    if v.tag == _VALUE:
                        value = v.text or ""
                        break
                if kind == "s" and value:
                    value = shared[int(value)]
            if col > len(cells):
                cells.extend([""] * (col - len(cells)))
            cells.append(value)
        row.clear()
        parent = row.getparent()
        while row.getprevious() is not None:
            del parent[0]
        yield cells
