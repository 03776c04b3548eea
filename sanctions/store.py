"""The store: write one parsed publication as one transaction, with its diff and history.

``save(session, run, parsed)`` compares the parsed records with what is
stored for the source and applies the difference:

- a new key is *added*;
- a stored key whose content changed is *amended* (the changed fields and
  their old and new values go to ``designation_change``);
- a removed designation that reappears is *relisted*;
- an active key missing from the publication is *removed*: marked, with
  the date and the run, never deleted.

Callers own the transaction (``sanctions.imports`` wraps the whole import
in one), so a failure anywhere leaves the previous good data in place.
Writes are bulk statements, not ORM objects, because a first OFAC import
is ~15,000 designations and ~100,000 child rows: new rows go through
``sanctions.bulk`` (COPY on PostgreSQL, the driver's executemany on SQLite),
with the diff computed in full before anything is written.
"""
from __future__ import annotations

import datetime as dt
import functools
import gc
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from sanctions import bulk
from sanctions.models import CHILD_MODELS, Designation, DesignationChange, ImportRun
from sanctions.schema import Designation as Record

SHRINK_LIMIT = 0.10
SHRINK_PARTS = ("names", "identifiers", "addresses")  # child tables the shrink guard also counts
# A part count must also fall by more than this many rows: the guard is for a missing file of a
# set (thousands of aliases or addresses gone), not for one delisted record's identifiers in a small list.
SHRINK_PARTS_MIN_LOSS = 25
CHUNK = 500
# New designations go to the database in large streams; each holds its rows' children in memory.
ADD_CHUNK = 5000


class ShrinkRefused(Exception):
    """The publication would remove more than SHRINK_LIMIT of the source's active designations."""


@dataclass
class Diff:
    added: list["Prepared"] = field(default_factory=list)
    amended: list[tuple["Prepared", int, dict[str, Any]]] = field(default_factory=list)
    relisted: list[tuple["Prepared", int, dict[str, Any]]] = field(default_factory=list)
    removed: list[tuple[int, str]] = field(default_factory=list)
    unchanged: int = 0
    # Same content and raw record, different stored hash (stored under an older hash
    # rule): the hash is brought up to date, and nothing is reported as changed.
    rehashed: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Prepared:
    """A parsed record with its content, its JSON text and its content hash, computed once.

    The JSON texts are what the hash is taken over and also what is stored,
    so each record is encoded once per import rather than once for the hash
    and again for the database.
    """

    record: Record
    content: dict[str, Any]
    digest: str
    content_json: str = ""
    raw_json: str = ""

    @property
    def key(self) -> str:
        return self.record.key


_content_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_raw_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str, sort_keys=True)


def _canonical(value: Any) -> str:
    # Object keys sorted: a publisher that reorders its columns reorders the keys
    # of the raw rows (DictReader) but changes nothing, so the hash must not move.
    return _raw_encoder.encode(value)


def prepare(record: Record) -> Prepared:
    content = record.content()
    # The content's key order is the schema's field order and the importers' own
    # fixed order, never the publisher's, so it is hashed as it is stored; the raw
    # record follows the publisher's columns and is hashed (and stored) with sorted keys.
    content_json = _content_encoder.encode(content)
    raw_json = _canonical(record.raw)
    digest = hashlib.sha256(f"{content_json}\n{raw_json}".encode()).hexdigest()
    return Prepared(record, content, digest, content_json, raw_json)


def content_hash(record: Record) -> str:
    return prepare(record).digest


def gc_paused(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run function with the cyclic garbage collector off.

    Parsing and storing a list allocates millions of small objects that live
    until the import ends; the collector would walk them again and again
    (a third of a first OFAC import) and find nothing, since records hold no
    reference cycles.  Reference counting still frees everything as usual.
    The match stages (``matching.run_match``, ``pipeline.cluster_and_refresh``)
    hold every record's features likewise: a real-list full match left only
    58 objects in cycles (README, "Latest changes to matching", for the time saved).
    """
    @functools.wraps(function)
    def paused(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        try:
            gc.disable()
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()
    return paused


def to_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    fields = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return fields, {k: old.get(k) for k in fields}, {k: new.get(k) for k in fields}


def compute_diff(session: Session, source: str, items: list[Prepared]) -> Diff:
    stored = {
        row.key: row
        for row in session.execute(
            select(Designation.key, Designation.id, Designation.content_hash, Designation.status).where(
                Designation.source == source
            )
        )
    }
    diff = Diff()
    changed: list[tuple[Prepared, int, str]] = []
    for item in items:
        row = stored.get(item.key)
        if row is None:
            diff.added.append(item)
        elif row.content_hash != item.digest or row.status != "active":
            changed.append((item, row.id, row.status))
        else:
            diff.unchanged += 1
    seen = {item.key for item in items}
    diff.removed = [(row.id, key) for key, row in stored.items() if key not in seen and row.status == "active"]
    old_content, old_raw = {}, {}
    for chunk in _chunks([c[1] for c in changed]):
        result = session.execute(select(Designation.id, Designation.content, Designation.raw)
                                 .where(Designation.id.in_(chunk)))
        for row_id, content, raw in result:
            old_content[row_id], old_raw[row_id] = content, raw
    for item, row_id, status in changed:
        fields, before, after = changed_fields(old_content[row_id], item.content)
        if status == "active" and not fields and _canonical(old_raw[row_id]) == item.raw_json:
            diff.rehashed.append((row_id, item.digest))
            diff.unchanged += 1
            continue
        entry = (item, row_id, {"fields": fields or ["raw"], "before": before, "after": after})
        (diff.relisted if status != "active" else diff.amended).append(entry)
    return diff


def active_count(session: Session, source: str) -> int:
    return session.scalar(select(func.count()).select_from(Designation)
                          .where(Designation.source == source, Designation.status == "active")) or 0


def _stored_part_counts(session: Session, source: str) -> dict[str, int]:
    """Names, identifiers and addresses of the source's active designations, one query each."""
    counts = {}
    for part in SHRINK_PARTS:
        model = CHILD_MODELS[part]
        counts[part] = session.scalar(
            select(func.count()).select_from(model).join(Designation, Designation.id == model.designation_id)
            .where(Designation.source == source, Designation.status == "active")) or 0
    return counts


def check_shrink(session: Session, source: str, diff: Diff, items: list[Prepared] | None = None) -> None:
    """Refuse a publication that loses more than SHRINK_LIMIT of the designations, or of their parts.

    The parts count too: an OFAC ``sdn.csv`` without its ``alt.csv`` and
    ``add.csv`` keeps every designation but drops every alias and address.
    """
    active = active_count(session, source)
    if active and len(diff.removed) > SHRINK_LIMIT * active:
        raise ShrinkRefused(
            f"this publication would remove {len(diff.removed)} of {active} active {source} designations "
            f"({len(diff.removed) / active:.0%}, more than {SHRINK_LIMIT:.0%}); "
            f"re-run with --allow-shrink if that is right"
        )
    if not active or items is None:
        return
    stored = _stored_part_counts(session, source)
    for part in SHRINK_PARTS:
        new = sum(len(getattr(item.record, part)) for item in items)
        lost = stored[part] - new
        if stored[part] and lost > SHRINK_LIMIT * stored[part] and lost > SHRINK_PARTS_MIN_LOSS:
            raise ShrinkRefused(
                f"this publication has {new} {part} where the {active} active {source} designations have "
                f"{stored[part]} ({(stored[part] - new) / stored[part]:.0%} fewer, more than {SHRINK_LIMIT:.0%}); "
                f"is a file of the set missing? re-run with --allow-shrink if that is right"
            )


def _designation_values(item: Prepared) -> dict[str, Any]:
    record = item.record
    return {
        "key": record.key,
        "source": record.source,
        "jurisdiction": record.jurisdiction,
        "source_id": record.source_id,
        "kind": record.kind,
        "name": record.name,
        "listed_on": to_date(record.listed_on),
        "updated_on": to_date(record.updated_on),
        "programmes": record.programmes,
        "regimes": record.regimes,
        "legal_basis": record.legal_basis,
        "remarks": record.remarks,
        "reasons": record.reasons,
        "title": record.title,
        "position": record.position,
        "gender": record.gender,
        "content_hash": item.digest,
        "content": item.content,
        "raw": record.raw,
        "warnings": record.warnings,
    }


def _child_rows(designation_id: int, record: Record) -> Iterable[tuple[str, dict[str, Any]]]:
    for name in record.names:
        yield "names", {"designation_id": designation_id, "full": name.full, "type": name.type,
                        "script": name.script, "language": name.language, "parts": name.parts}
    for dob in record.birth_dates:
        # ISO text, which both databases take for a date column as it is.
        yield "birth_dates", {"designation_id": designation_id, "text": dob.text, "earliest": dob.earliest,
                              "latest": dob.latest, "precision": dob.precision, "circa": dob.circa}
    for country in record.countries:
        yield "countries", {"designation_id": designation_id, "code": country.code, "role": country.role,
                            "text": country.text}
    for ident in record.identifiers:
        yield "identifiers", {"designation_id": designation_id, "type": ident.type, "value": ident.value,
                              "normalized": ident.normalized, "country": ident.country, "label": ident.label,
                              "note": ident.note}
    for address in record.addresses:
        yield "addresses", {"designation_id": designation_id, "text": address.text, "city": address.city,
                            "country": address.country}


def _insert_children(session: Session, pairs: list[tuple[int, Prepared]]) -> None:
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in CHILD_MODELS}
    for designation_id, item in pairs:
        for table, values in _child_rows(designation_id, item.record):
            rows[table].append(values)
    connection = session.connection()
    for table, values in rows.items():
        bulk.insert(connection, CHILD_MODELS[table].__table__, values)


def apply_diff(session: Session, run: ImportRun, diff: Diff, removed_on: dt.date,
               progress: Callable[[int], None] | None = None) -> None:
    """Write a computed diff: bulk inserts for new rows, executemany updates for changed ones.

    The run must already be flushed (it is referenced by every row), which on
    SQLite also means this transaction holds the write lock that
    ``bulk.reserve_ids`` relies on.
    """
    changes: list[dict[str, Any]] = []
    table = Designation.__table__
    connection = session.connection()
    # On SQLite the inserts run on a writer thread while the next chunk's rows are built.
    with bulk.sqlite_background_writes(connection):
        # Ids are reserved up front so that designations, their children and their
        # history go in as three streams with no read-back of the new ids.
        ids = bulk.reserve_ids(connection, table, len(diff.added))
        for start, chunk in zip(range(0, len(diff.added), ADD_CHUNK), _chunks(diff.added, ADD_CHUNK)):
            chunk_ids = ids[start:start + len(chunk)]
            bulk.insert(connection, table, [
                {**_designation_values(r), "content": bulk.Encoded(r.content_json), "raw": bulk.Encoded(r.raw_json),
                 "id": row_id, "status": "active", "first_run_id": run.id, "changed_run_id": run.id,
                 "removed_on": None, "removed_run_id": None}
                for row_id, r in zip(chunk_ids, chunk)])
            _insert_children(session, list(zip(chunk_ids, chunk)))
            changes += [{"run_id": run.id, "designation_id": row_id, "key": r.key, "change": "added",
                         "fields": [], "before": None, "after": None} for row_id, r in zip(chunk_ids, chunk)]
            if progress:
                progress(len(chunk))
        for kind, entries in (("amended", diff.amended), ("relisted", diff.relisted)):
            for chunk in _chunks(entries):
                chunk_ids = [row_id for _, row_id, _ in chunk]
                for model in CHILD_MODELS.values():
                    session.execute(delete(model).where(model.designation_id.in_(chunk_ids)))
                session.execute(update(Designation), [
                    {**_designation_values(r), "id": row_id, "status": "active", "removed_on": None,
                     "removed_run_id": None, "changed_run_id": run.id} for r, row_id, _ in chunk])
                _insert_children(session, [(row_id, r) for r, row_id, _ in chunk])
                changes += [{"run_id": run.id, "designation_id": row_id, "key": r.key, "change": kind, **delta}
                            for r, row_id, delta in chunk]
                if progress:
                    progress(len(chunk))
        for chunk in _chunks(diff.removed):
            session.execute(update(Designation), [
                {"id": row_id, "status": "removed", "removed_on": removed_on, "removed_run_id": run.id,
                 "changed_run_id": run.id} for row_id, _ in chunk])
            changes += [{"run_id": run.id, "designation_id": row_id, "key": key, "change": "removed",
                         "fields": [], "before": None, "after": None} for row_id, key in chunk]
        for chunk in _chunks(diff.rehashed):
            session.execute(update(Designation), [{"id": row_id, "content_hash": digest} for row_id, digest in chunk])
        bulk.insert(connection, DesignationChange.__table__, changes)
