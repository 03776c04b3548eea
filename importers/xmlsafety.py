"""Refuse XML that declares a DTD: no publisher's format uses one, and every XML attack needs one.

lxml is run with ``resolve_entities=False`` and ``no_network=True``, so an
external entity (XXE) is never fetched, but an *unresolved* entity is
silently dropped from the text around it (``ERIC&xxe;`` is stored as
``ERIC``), and an internal one can still blow the document up in memory
(``billion laughs``, the quadratic blowup).  None of the supported
publishers (OFAC, EU, FCDO, OFSI's workbook, Canada, UN) writes a
``<!DOCTYPE>``, so a document with one is refused before it is parsed, and
the message says which kind of document it is.  A reference to an entity
that is not declared is then a syntax error, which the parser reports.
"""
from __future__ import annotations

import re

from importers.common import ImportFailure

# What may precede the root element: BOM, XML declaration, comments, processing instructions, space.
_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)
_ENTITY = re.compile(rb"<!ENTITY\s+(%\s+)?([\w.:-]+)\s+(SYSTEM|PUBLIC|\"[^\"]*\"|'[^']*')", re.S)
BIG_ENTITY = 1024  # bytes: an entity this long, repeated, is a quadratic blowup


def check_no_dtd(path: str, data: bytes) -> None:
    """Raise ImportFailure naming the kind of document if ``data`` declares a DTD."""
    start = _PROLOG.match(data).end()
    if data[start:start + 9].upper() != b"<!DOCTYPE":
        return
    problem = _describe(data, start)
    raise ImportFailure(path, f"{problem}; no supported publisher's format uses a DTD, so the file is refused")


def _describe(data: bytes, start: int) -> str:
    # The internal subset ends at the first "]>" (entity values holding "]>" only make it end early,
    # which can only under-count what follows).
    end = data.find(b"]>", start)
    dtd = data[start:end if end != -1 else len(data)]
    entities = list(_ENTITY.finditer(dtd))
    if not entities:
        return "the document declares a DTD (<!DOCTYPE ...>)"
    if any(m[3] in (b"SYSTEM", b"PUBLIC") for m in entities):
        names = ", ".join(m[2].decode("ascii", "replace") for m in entities if m[3] in (b"SYSTEM", b"PUBLIC"))
        return f"the document declares external entities ({names}): an XML external entity (XXE) document"
    values = {m[2]: m[3][1:-1] for m in entities}
    if any(re.search(rb"&" + re.escape(other) + rb";", value) for value in values.values() for other in values):
        return "the document defines entities built from other entities: an entity-expansion ('billion laughs') bomb"
    name, value = max(values.items(), key=lambda kv: len(kv[1]))
    if len(value) >= BIG_ENTITY:
        uses = data.count(b"&" + name + b";", start + len(dtd))
        return (f"the document defines a {len(value):,}-byte entity &{name.decode('ascii', 'replace')}; that its "
                f"body repeats {uses:,} times: a quadratic-blowup (entity-expansion) document")
    names = ", ".join(n.decode("ascii", "replace") for n in values)
    return f"the document declares entities ({names}) in a DTD"
