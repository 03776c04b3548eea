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
from importers.xmlsafety import check_no_dtd

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


# A zip bomb is refused from the zip's directory, before anything is inflated.  OFSI's ConList.xlsx
# (2.2 MB) holds 17 MB of XML, at most 10x compressed; the limits leave ample room above that.
MAX_UNCOMPRESSED = 512 * 1024 * 1024
MAX_RATIO = 200
_SAFE_PARSER = dict(huge_tree=True, resolve_entities=False, no_network=True)


def check_sizes(path: str, book: zipfile.ZipFile) -> None:
    """Refuse a workbook whose members would inflate beyond reason (a zip bomb)."""
    total = 0
    for info in book.infolist():
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ImportFailure(path, f"a zip bomb: {info.filename} would inflate {info.compress_size:,} bytes "
                                f"to {info.file_size:,} (more than {MAX_RATIO}x); refused before reading")
    if total > MAX_UNCOMPRESSED:
        raise ImportFailure(path, f"a zip bomb: the workbook would inflate to {total:,} bytes (more than "
                            f"{MAX_UNCOMPRESSED:,}); refused before reading")


class _Bounded(io.RawIOBase):
    """A member's stream that stops at the size the zip directory declares (a forged size cannot overrun)."""

    def __init__(self, path: str, book: zipfile.ZipFile, name: str):
        self.path, self.name = path, name
        self.stream = book.open(name)
        self.left = book.getinfo(name).file_size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.stream.read(min(len(buffer), self.left + 1))
        if len(chunk) > self.left:
            raise ImportFailure(self.path, f"a zip bomb: {self.name} inflates beyond the size its zip entry "
                                "declares; refused")
        self.left -= len(chunk)
        buffer[:len(chunk)] = chunk
        return len(chunk)


def _member(path: str, book: zipfile.ZipFile, name: str) -> bytes:
    data = _Bounded(path, book, name).read()
    check_no_dtd(f"{path} ({name})", data)
    return data


def read_rows(path: str, data: bytes) -> Iterator[list[str]]:
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        check_sizes(path, book)
        parser = etree.XMLParser(**_SAFE_PARSER)
        workbook = etree.fromstring(_member(path, book, "xl/workbook.xml"), parser)
        rels = etree.fromstring(_member(path, book, "xl/_rels/workbook.xml.rels"), parser)
        first = workbook.find(f"{_MAIN}sheets/{_MAIN}sheet")
        target = next(r.get("Target") for r in rels.iter(f"{_PKG_REL}Relationship")
                      if r.get("Id") == first.get(f"{_REL}id"))
        sheet_path = "xl/" + target.lstrip("/").removeprefix("xl/")
        shared: list[str] = []
        if "xl/sharedStrings.xml" in book.namelist():
            shared = [_text(si) for si in etree.fromstring(_member(path, book, "xl/sharedStrings.xml"), parser)
                      if si.tag == f"{_MAIN}si"]
        sheet = io.BufferedReader(_Bounded(path, book, sheet_path))
        check_no_dtd(f"{path} ({sheet_path})", sheet.peek(4096))
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
    for _, row in etree.iterparse(sheet, tag=_ROW, **_SAFE_PARSER):
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
