"""The search index: folded names and compact identifiers of every designation.

Why a separate table: the publishers' names are stored as written
(``Евгений Викторович ПРИГОЖИН``, ``Yevgeniy Viktorovich PRIGOZHIN``); a
search must find both from ``Evgeny Prigozhin``.  Each name is stored here in
the matcher's folded form (``matchers.normalize``: transliterated, lower-case,
titles dropped, spelling variants folded to one) and each identifier in its
compact form (letters and digits only), and the database's own trigram text
search runs over that (relations a publisher states by name, such as OFAC's
``Linked To:``, are indexed the same way so that they resolve to targets): SQLite FTS5 with the ``trigram`` tokenizer, PostgreSQL
``pg_trgm`` (GIN index).

How it stays current for every writer: database triggers
on ``designation_name`` and ``designation_identifier`` (insert and delete)
queue the designation's id in ``search_pending``; a listener on every ORM
session's commit (registered when this module is imported, which
``sanctions.models`` does) folds the queued designations' names and writes
their entries in the same transaction.  Folding needs Python (transliteration,
variant tables), which is why the triggers only queue.

One shortcut: an import indexes the designations it adds itself
(``index_new``), from the records it has just written, and takes them off the
queue; reading a first import's names, identifiers and contents back only to
fold them took a third of its time.  Both paths build entries with the same
three functions, so the index holds the same entries either way.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Iterable, Iterator

from sqlalchemy import (Column, Connection, Integer, MetaData, String, Table, Text, bindparam, event, inspect,
                        text)
from sqlalchemy.orm import Session

from matchers.normalize import fold_token, name_tokens, raw_tokens
from sanctions import bulk
from sanctions.schema import Designation as Record

CHUNK = 900
NAME, IDENTIFIER, LINK = "name", "identifier", "link"

# The columns the index writes, as the bulk writer needs them (names and types), on their own
# rather than the model's table: migration 0006 rebuilds the index through this module, and a
# column a later revision adds to the model must not be written at that revision.
_ENTRY = Table("search_entry", MetaData(), Column("designation_id", Integer), Column("field", String),
               Column("kind", String), Column("text", Text), Column("label", Text))


def fold_name(full: str, kind: str = "person") -> str:
    """A stored name as indexed: the matcher's distinctive folded tokens, space-separated."""
    return " ".join(name_tokens(full, kind)) or " ".join(fold_token(t) for t in raw_tokens(full))


def fold_query(query: str) -> str:
    """A typed query folded like the names, whatever kind of target the user has in mind."""
    # As an organisation's name: titles, articles and legal forms ("PJSC", "LLC") all dropped.
    tokens = name_tokens(query, "organization") or tuple(fold_token(t) for t in raw_tokens(query))
    return " ".join(tokens)


def compact_identifier(value: str) -> str:
    """An identifier as typed or published, without spaces, dashes or case: ``AB-12 345`` -> ``ab12345``."""
    return "".join(raw_tokens(value))


def identifier_queries(query: str) -> list[str]:
    """Compact forms a typed identifier may take: all of it, and without a leading label (``IMO 9166778``)."""
    tokens = raw_tokens(query)
    forms = ["".join(tokens)]
    while tokens and tokens[0].isalpha() and len(tokens) > 1:
        tokens = tokens[1:]
        forms.append("".join(tokens))
    # A label glued to the number ("imo7612448", "no. 40 07"): the number alone too.
    forms.append(re.sub(r"^[a-z]+(?=\d)", "", forms[0]))
    return [f for f in dict.fromkeys(forms) if len(f) >= 4 and any(c.isdigit() for c in f)]


def _name_entry(designation_id: int, full: str, name_type: str, kind: str) -> dict | None:
    folded = fold_name(full, kind)
    if not folded:
        return None
    return {"designation_id": designation_id, "field": NAME, "kind": name_type, "text": folded, "label": full}


def _identifier_entry(designation_id: int, id_type: str, value: str, normalized: str | None) -> dict | None:
    compact = (normalized or compact_identifier(value)).lower()
    if not compact:
        return None
    return {"designation_id": designation_id, "field": IDENTIFIER, "kind": id_type, "text": compact,
            "label": value}


def _link_entries(designation_id: int, linked_to: Iterable[str]) -> Iterable[dict]:
    # The publishers' own relations ("Linked To: HIZBALLAH"), published as a name only:
    # indexed folded, so a target page can resolve them both ways by equality.
    for linked in linked_to:
        folded = fold_name(linked, "organization")
        if folded:
            yield {"designation_id": designation_id, "field": LINK, "kind": "linked-to", "text": folded,
                   "label": linked}


def _entries(conn: Connection, ids: list[int]) -> list[dict]:
    """The index entries of some designations, from their stored names and identifiers."""
    params = {"ids": ids}
    names = conn.execute(text(
        "SELECT n.designation_id, n.full, n.type, d.kind FROM designation_name n "
        "JOIN designation d ON d.id = n.designation_id WHERE n.designation_id IN :ids"
    ).bindparams(_expanding("ids")), params)
    rows = [entry for entry in (_name_entry(*row) for row in names) if entry]
    idents = conn.execute(text(
        "SELECT designation_id, type, value, normalized FROM designation_identifier WHERE designation_id IN :ids"
    ).bindparams(_expanding("ids")), params)
    rows += [entry for entry in (_identifier_entry(*row) for row in idents) if entry]
    contents = conn.execute(text("SELECT id, content FROM designation WHERE id IN :ids")
                            .bindparams(_expanding("ids")), params)
    for designation_id, content in contents:
        if isinstance(content, str):
            content = json.loads(content)
        rows += _link_entries(designation_id, (content or {}).get("linked_to") or [])
    return rows


def index_new(conn: Connection, designations: list[tuple[int, Record]]) -> None:
    """Index designations just inserted in this transaction, from the records written.

    The import calls this for the designations it adds: their names and
    identifiers are in memory already, so reading them back (and the content
    JSON, for the relations) is saved; the entries are the ones ``reindex``
    would write from the stored rows.  The triggers queued these ids as the
    names went in; they leave the queue here, so the commit hook does not index
    them again.  A new designation has no entries yet, so nothing is deleted.
    """
    if not designations or not _has_index(conn):
        return
    with _trigrams_added_at_the_end(conn):
        # A generator, so that on PostgreSQL names are folded while the server indexes
        # the entries already sent (its GIN trigram index is most of the write).
        bulk.insert(conn, _ENTRY, _new_entries(designations))
    ids = sorted(designation_id for designation_id, _ in designations)
    for i in range(0, len(ids), CHUNK):
        conn.execute(text("DELETE FROM search_pending WHERE designation_id IN :ids")
                     .bindparams(_expanding("ids")), {"ids": ids[i : i + CHUNK]})


@contextmanager
def _trigrams_added_at_the_end(conn: Connection) -> Iterator[None]:
    """On SQLite, entries inserted inside reach the FTS5 trigram index in one statement at the end.

    The trigger that adds each entry as it is inserted runs the FTS5 insert once
    per row: the 59,000 entries of a first OFAC SDN import took 1.05 to 1.15 s
    to write that way, 0.83 s with the trigger dropped for the load and the new
    entries added in one INSERT ... SELECT.  The trigger is put back from its
    own stored definition.  Only inserts may run inside (entries deleted there
    could free ids below the new ones), and only in an open transaction, so that
    the schema change is undone with everything else if the caller rolls back
    (and the trigger is put back when the load fails, whatever the caller does next);
    readers keep their snapshot meanwhile (WAL).  On PostgreSQL the GIN index
    is kept by the server as rows arrive: nothing to do.
    """
    trigger = None
    if bulk.sqlite_transaction_open(conn):
        trigger = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                    "AND name = 'search_entry_ai'")).scalar()
    if trigger is None:
        yield
        return
    last = conn.execute(text("SELECT coalesce(max(id), 0) FROM search_entry")).scalar()
    conn.execute(text("DROP TRIGGER search_entry_ai"))
    try:
        yield
    finally:
        # Also when the load failed: a caller that carried on and committed must not lose the
        # trigger.  A transaction SQLite itself rolled back has restored the trigger already.
        if bulk.sqlite_transaction_open(conn):
            conn.execute(text("INSERT INTO search_fts(rowid, text) SELECT id, text FROM search_entry "
                              "WHERE id > :last"), {"last": last})
            conn.exec_driver_sql(trigger)  # as stored: not parsed for bind parameters


def _new_entries(designations: list[tuple[int, Record]]) -> Iterator[dict]:
    # Names, then identifiers, then relations: the order reindex writes them in.
    for designation_id, record in designations:
        for name in record.names:
            entry = _name_entry(designation_id, name.full, name.type, record.kind)
            if entry:
                yield entry
    for designation_id, record in designations:
        for ident in record.identifiers:
            entry = _identifier_entry(designation_id, ident.type, ident.value, ident.normalized)
            if entry:
                yield entry
    for designation_id, record in designations:
        yield from _link_entries(designation_id, record.linked_to)


def _expanding(name: str):
    return bindparam(name, expanding=True)


def reindex(conn: Connection, ids: Iterable[int]) -> int:
    """Replace the entries of these designations (gone ones just lose theirs); returns entries written."""
    ids = sorted(set(ids))
    written = 0
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        conn.execute(text("DELETE FROM search_entry WHERE designation_id IN :ids")
                     .bindparams(_expanding("ids")), {"ids": chunk})
        rows = _entries(conn, chunk)
        # Through the bulk writer: on SQLite a row-by-row executemany made the FTS5 trigger
        # flush its terms once per entry (four times slower); on PostgreSQL it is a COPY.
        bulk.insert(conn, _ENTRY, rows)
        conn.execute(text("DELETE FROM search_pending WHERE designation_id IN :ids")
                     .bindparams(_expanding("ids")), {"ids": chunk})
        written += len(rows)
    return written


def drain(conn: Connection) -> int:
    """Index every queued designation; returns how many were queued."""
    ids = list(conn.execute(text("SELECT designation_id FROM search_pending")).scalars())
    if ids:
        reindex(conn, ids)
    return len(ids)


def rebuild(conn: Connection) -> int:
    """Index every stored designation (used by the migration that creates the index)."""
    conn.execute(text("DELETE FROM search_entry"))
    conn.execute(text("DELETE FROM search_pending"))
    return reindex(conn, conn.execute(text("SELECT id FROM designation")).scalars())


@event.listens_for(Session, "before_commit")
def _index_before_commit(session: Session) -> None:
    """Fold what this transaction queued before it commits, so the index is never behind the names."""
    conn = session.connection()
    if not _has_index(conn):
        return
    if conn.execute(text("SELECT 1 FROM search_pending LIMIT 1")).first():
        drain(conn)


def _has_index(conn: Connection) -> bool:
    """False on a database not yet migrated to the search index (e.g. during earlier migrations)."""
    if not conn.info.get("search_index_present"):
        conn.info["search_index_present"] = inspect(conn).has_table("search_pending")
    return conn.info["search_index_present"]
