"""Search: designations found by name (any script, any transliteration) or identifier, grouped by target.

The database finds candidates with its own trigram text search over the
index that ``sanctions.search_index`` keeps (SQLite FTS5, PostgreSQL
pg_trgm); Python only re-scores that bounded candidate set (rapidfuzz on the
folded forms), groups it by target and applies the filters.  The search page,
``/api/search`` and its CSV download all call ``search()``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from sanctions import queries, search_index
from sanctions.models import Designation

NAME_CANDIDATES = 400      # name entries fetched from the text index per query
FUZZY_BELOW = 100          # look for misspellings only when fewer exact-token hits than this
ID_CANDIDATES = 100        # identifier entries per query
MIN_NAME_SCORE = 72        # folded-name similarity (0-100) below which a name is not a hit
STATUSES = ("all", "active", "removed")
CSV_COLUMNS = ("target_id", "score", "name", "kind", "jurisdictions", "removed_in", "regimes", "matched",
               "matched_field", "matched_key", "designations")


@dataclass(frozen=True)
class SearchQuery:
    q: str
    designated_by: tuple[str, ...] = ()
    not_designated_by: tuple[str, ...] = ()
    kind: str | None = None
    regime: str | None = None
    status: str = "all"
    listed_since: dt.date | None = None
    limit: int = 25
    offset: int = 0


@dataclass
class Hit:
    """The best reason one designation matched the query."""

    designation_id: int
    score: float
    field: str          # name or identifier
    kind: str           # name type or identifier type
    label: str          # as published


@dataclass
class Member:
    key: str
    jurisdiction: str
    kind: str
    name: str
    status: str
    regimes: list[str]
    listed_on: dt.date | None


@dataclass
class TargetHit:
    target_id: str | None       # None for a designation the matcher has not placed yet
    score: float
    best: Hit
    best_key: str
    members: list[Member] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        best_member = next(m for m in self.members if m.key == self.best_key)
        jurisdictions: dict[str, str] = {}
        for m in self.members:
            # A jurisdiction is "active" if any of its designations is; "removed" only if all are.
            if jurisdictions.get(m.jurisdiction) != "active":
                jurisdictions[m.jurisdiction] = m.status
        return {
            "target_id": self.target_id,
            "score": round(self.score, 1),
            "name": best_member.name,
            "kind": best_member.kind,
            "status": "active" if any(m.status == "active" for m in self.members) else "removed",
            "jurisdictions": [{"jurisdiction": j, "status": s} for j, s in sorted(jurisdictions.items())],
            "regimes": sorted({r for m in self.members for r in m.regimes}),
            "listed_on": _iso(min((m.listed_on for m in self.members if m.listed_on), default=None)),
            "matched": {"field": self.best.field, "type": self.best.kind, "text": self.best.label,
                        "designation": self.best_key, "score": round(self.best.score, 1)},
            "designations": [{"key": m.key, "jurisdiction": m.jurisdiction, "status": m.status, "name": m.name}
                             for m in self.members],
        }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


# --- candidates from the database's text search ------------------------------------

def _trigrams(folded: str) -> list[str]:
    grams = []
    for token in folded.split():
        grams.extend(token[i : i + 3] for i in range(len(token) - 2))
    return list(dict.fromkeys(grams))


def _fts_phrase(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _sqlite_candidates(session: Session, folded: str, id_forms: list[str]) -> list[tuple]:
    rows: list[tuple] = []
    tokens = [t for t in folded.split() if len(t) >= 3]
    if tokens:
        # Every typed token found as written (after folding): precise and fast, enough for common names.
        rows += session.execute(text(
            "SELECT e.designation_id, e.field, e.kind, e.text, e.label FROM search_fts "
            "JOIN search_entry e ON e.id = search_fts.rowid "
            "WHERE search_fts MATCH :match AND e.field = 'name' ORDER BY search_fts.rank LIMIT :n"),
            {"match": " AND ".join(_fts_phrase(t) for t in tokens), "n": NAME_CANDIDATES}).all()
    grams = _trigrams(folded)
    if grams and len(rows) < FUZZY_BELOW:
        # Misspellings: any shared trigram is a candidate; bm25 puts those sharing the most, and the rarest, first.
        rows += session.execute(text(
            "SELECT e.designation_id, e.field, e.kind, e.text, e.label FROM search_fts "
            "JOIN search_entry e ON e.id = search_fts.rowid "
            "WHERE search_fts MATCH :match AND e.field = 'name' ORDER BY search_fts.rank LIMIT :n"),
            {"match": " OR ".join(_fts_phrase(g) for g in grams), "n": NAME_CANDIDATES}).all()
    for form in id_forms:
        rows += session.execute(text(
            "SELECT e.designation_id, e.field, e.kind, e.text, e.label FROM search_fts "
            "JOIN search_entry e ON e.id = search_fts.rowid "
            "WHERE search_fts MATCH :match AND e.field = 'identifier' LIMIT :n"),
            {"match": _fts_phrase(form), "n": ID_CANDIDATES}).all()
    return rows


_TRGM_SCHEMA: dict[str, str] = {}


def _trgm_schema(session: Session) -> str:
    """Where pg_trgm lives: its operators are called schema-qualified, whatever the search_path."""
    url = str(session.get_bind().url)
    if url not in _TRGM_SCHEMA:
        _TRGM_SCHEMA[url] = session.execute(text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'")).scalar_one()
    return _TRGM_SCHEMA[url]


def _postgresql_candidates(session: Session, folded: str, id_forms: list[str]) -> list[tuple]:
    s = _trgm_schema(session)
    rows: list[tuple] = []
    if len(folded) >= 3:
        rows += session.execute(text(
            f"SELECT designation_id, field, kind, text, label FROM search_entry "
            f"WHERE field = 'name' AND (text OPERATOR({s}.%) :q OR :q OPERATOR({s}.<%) text) "
            f"ORDER BY greatest({s}.similarity(text, :q), {s}.word_similarity(:q, text)) DESC LIMIT :n"),
            {"q": folded, "n": NAME_CANDIDATES}).all()
    for form in id_forms:
        rows += session.execute(text(
            "SELECT designation_id, field, kind, text, label FROM search_entry "
            "WHERE field = 'identifier' AND text LIKE :pattern LIMIT :n"),
            {"pattern": "%" + form + "%", "n": ID_CANDIDATES}).all()
    return rows


def name_overlap(query_tokens: list[str], name_tokens: list[str]) -> float:
    """How well every typed token is found in the name (0-100), each token by its closest spelling.

    Weighted by token length, so a misspelt surname (``Prigozin``) still
    counts, and a name that lacks a typed token scores low.
    """
    if not query_tokens or not name_tokens:
        return 0.0
    total = sum(len(t) for t in query_tokens)
    found = sum(len(t) * max(fuzz.ratio(t, n) for n in name_tokens) for t in query_tokens)
    return found / total


def hits(session: Session, query: str) -> dict[int, Hit]:
    """Best hit per designation: names re-scored on their folded forms, identifiers by equality."""
    folded = search_index.fold_query(query)
    id_forms = search_index.identifier_queries(query)
    fetch = _sqlite_candidates if session.get_bind().dialect.name == "sqlite" else _postgresql_candidates
    query_tokens = folded.split()
    best: dict[int, Hit] = {}
    for designation_id, field_, kind, indexed, label in fetch(session, folded, id_forms):
        if field_ == "identifier":
            score = 100.0 if indexed in id_forms else 90.0
        else:
            overlap = name_overlap(query_tokens, indexed.split())
            if overlap < MIN_NAME_SCORE:
                continue
            # Mostly overlap (a query may be part of a longer name), then closeness of the whole,
            # then word order ("Mohammed Ali" before "Ali Mohammed").
            score = 0.8 * overlap + 0.1 * fuzz.token_sort_ratio(folded, indexed) + 0.1 * fuzz.ratio(folded, indexed)
            if kind == "weak":
                score *= 0.9
        hit = best.get(designation_id)
        if hit is None or score > hit.score:
            best[designation_id] = Hit(designation_id, score, field_, kind, label)
    return best


# --- grouping by target and filters ------------------------------------------------

def _members(session: Session, where) -> list[Member]:
    rows = session.execute(select(Designation.key, Designation.jurisdiction, Designation.kind, Designation.name,
                                  Designation.status, Designation.regimes, Designation.listed_on).where(where))
    return [Member(*row) for row in rows]


def _chunked_members(session: Session, column, values: list) -> list[Member]:
    out: list[Member] = []
    for i in range(0, len(values), 900):
        out += _members(session, column.in_(values[i : i + 900]))
    return out


def _keep(target: TargetHit, q: SearchQuery) -> bool:
    active = {m.jurisdiction for m in target.members if m.status == "active"}
    if q.status == "active" and not active:
        return False
    if q.status == "removed" and active:
        return False
    if any(j not in active for j in q.designated_by):
        return False
    if any(j in active for j in q.not_designated_by):
        return False
    if q.kind and all(m.kind != q.kind for m in target.members):
        return False
    if q.regime and all(q.regime not in m.regimes for m in target.members):
        return False
    if q.listed_since and not any(m.listed_on and m.listed_on >= q.listed_since for m in target.members):
        return False
    return True


def search(session: Session, q: SearchQuery) -> dict[str, Any]:
    """Targets matching ``q``, best first: ``{"total", "limit", "offset", "results": [...]}``."""
    hits_ = hits(session, q.q)
    by_id = {m_id: key for m_id, key in session.execute(
        select(Designation.id, Designation.key).where(Designation.id.in_(list(hits_))))} if hits_ else {}
    target_of = queries.target_ids(session, by_id.values())
    targets: dict[str, TargetHit] = {}
    for designation_id, hit in hits_.items():
        key = by_id.get(designation_id)
        if key is None:
            continue
        # A designation imported since the last match has no target yet: it stands alone, unlinked.
        target_id = target_of.get(key)
        group = target_id or f"designation:{key}"
        current = targets.get(group)
        if current is None or (hit.score, -len(key)) > (current.score, -len(current.best_key)):
            targets[group] = TargetHit(target_id, hit.score, hit, key)
    member_keys = queries.targets_members(session, [t.target_id for t in targets.values() if t.target_id])
    wanted = {k for ks in member_keys.values() for k in ks} | {t.best_key for t in targets.values()}
    members = {m.key: m for m in _chunked_members(session, Designation.key, sorted(wanted))}
    for target in targets.values():
        keys = member_keys.get(target.target_id) or [target.best_key]
        target.members = [members[k] for k in keys if k in members]
    kept = [t for t in targets.values() if t.members and _keep(t, q)]
    # Best score first; among equals, targets still designated somewhere, then more jurisdictions, then name.
    kept.sort(key=lambda t: (-round(t.score, 1), not any(m.status == "active" for m in t.members),
                             -len({m.jurisdiction for m in t.members}), t.best.label.casefold(), t.best_key))
    page = kept[q.offset : q.offset + q.limit]
    return {"query": q.q, "total": len(kept), "limit": q.limit, "offset": q.offset,
            "results": [t.as_dict() for t in page]}


def csv_row(result: dict[str, Any]) -> dict[str, Any]:
    """One search result as a flat CSV row (multi-valued fields joined with ``; ``)."""
    return {
        "target_id": result["target_id"] or "",
        "score": result["score"],
        "name": result["name"],
        "kind": result["kind"],
        "jurisdictions": "; ".join(j["jurisdiction"] for j in result["jurisdictions"] if j["status"] == "active"),
        "removed_in": "; ".join(j["jurisdiction"] for j in result["jurisdictions"] if j["status"] == "removed"),
        "regimes": "; ".join(result["regimes"]),
        "matched": result["matched"]["text"],
        "matched_field": f"{result['matched']['field']}:{result['matched']['type']}",
        "matched_key": result["matched"]["designation"],
        "designations": "; ".join(d["key"] for d in result["designations"]),
    }
