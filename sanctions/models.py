"""SQLAlchemy models: the stored form of designations, their history and import runs.

A designation row keeps the full common-schema record as JSON (``content``,
what ``sanctions show`` prints) and the publisher's record (``raw``, the
evidence).  The child tables repeat the parts that are searched and matched
on (names, birth dates, countries, identifiers, addresses) so that queries
need no JSON functions and work the same on SQLite and PostgreSQL.

Schema changes go through Alembic migrations in ``sanctions/migrations``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ImportRun(Base):
    """One attempt to import one publication of one source."""

    __tablename__ = "import_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16), index=True)
    format: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None]
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # running, succeeded, unchanged (identical file), failed, refused (shrink guard)
    status: Mapped[str] = mapped_column(String(16))
    parsed: Mapped[int] = mapped_column(default=0)
    added: Mapped[int] = mapped_column(default=0)
    amended: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    relisted: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    warning_count: Mapped[int] = mapped_column(default=0)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    # The SHA-256 of each file as published (checkable with ``sha256sum``), by file name.
    file_hashes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The operator accepted a publication that looks incomplete (--allow-partial).
    partial: Mapped[bool] = mapped_column(default=False)


class Designation(Base):
    __tablename__ = "designation"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(16), index=True)
    jurisdiction: Mapped[str] = mapped_column(String(4), index=True)
    source_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    listed_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_on: Mapped[dt.date | None] = mapped_column(Date)
    programmes: Mapped[list[Any]] = mapped_column(default=list)
    regimes: Mapped[list[Any]] = mapped_column(default=list)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    remarks: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    position: Mapped[str | None] = mapped_column(Text)
    gender: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8), default="active")
    removed_on: Mapped[dt.date | None] = mapped_column(Date)
    removed_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"))
    first_run_id: Mapped[int] = mapped_column(ForeignKey("import_run.id"))
    changed_run_id: Mapped[int] = mapped_column(ForeignKey("import_run.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]]
    raw: Mapped[dict[str, Any]]
    warnings: Mapped[list[Any]] = mapped_column(default=list)

    names: Mapped[list["NameRow"]] = relationship(lazy="raise", cascade="all, delete-orphan", passive_deletes=True)
    birth_dates: Mapped[list["BirthDateRow"]] = relationship(lazy="raise", cascade="all, delete-orphan",
                                                             passive_deletes=True)
    countries: Mapped[list["CountryRow"]] = relationship(lazy="raise", cascade="all, delete-orphan",
                                                         passive_deletes=True)
    identifiers: Mapped[list["IdentifierRow"]] = relationship(lazy="raise", cascade="all, delete-orphan",
                                                              passive_deletes=True)
    addresses: Mapped[list["AddressRow"]] = relationship(lazy="raise", cascade="all, delete-orphan",
                                                         passive_deletes=True)

    __table_args__ = (Index("ix_designation_source_status", "source", "status"),)


class NameRow(Base):
    __tablename__ = "designation_name"

    id: Mapped[int] = mapped_column(primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id", ondelete="CASCADE"), index=True)
    full: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(8))
    script: Mapped[str] = mapped_column(String(4))
    language: Mapped[str | None] = mapped_column(String(32))
    parts: Mapped[dict[str, Any]] = mapped_column(default=dict)


class BirthDateRow(Base):
    __tablename__ = "designation_birth_date"

    id: Mapped[int] = mapped_column(primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    earliest: Mapped[dt.date | None] = mapped_column(Date)
    latest: Mapped[dt.date | None] = mapped_column(Date)
    precision: Mapped[str] = mapped_column(String(8))
    circa: Mapped[bool] = mapped_column(default=False)


class CountryRow(Base):
    __tablename__ = "designation_country"

    id: Mapped[int] = mapped_column(primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(2))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)


class IdentifierRow(Base):
    __tablename__ = "designation_identifier"

    id: Mapped[int] = mapped_column(primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str] = mapped_column(String(200), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    label: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class AddressRow(Base):
    __tablename__ = "designation_address"

    id: Mapped[int] = mapped_column(primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(String(2))


class DesignationChange(Base):
    """What one import run changed in one designation (the history)."""

    __tablename__ = "designation_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_run.id"), index=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), index=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    change: Mapped[str] = mapped_column(String(8))  # added, amended, removed, relisted
    fields: Mapped[list[Any]] = mapped_column(default=list)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


CHILD_MODELS = {
    "names": NameRow,
    "birth_dates": BirthDateRow,
    "countries": CountryRow,
    "identifiers": IdentifierRow,
    "addresses": AddressRow,
}


class MatchRun(Base):
    """One run of the matcher (full or incremental)."""

    __tablename__ = "match_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[str] = mapped_column(String(12))  # full, incremental
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12))
    designations: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    candidates: Mapped[int] = mapped_column(default=0)
    linked: Mapped[int] = mapped_column(default=0)
    review: Mapped[int] = mapped_column(default=0)
    clusters: Mapped[int] = mapped_column(default=0)
    high: Mapped[float] = mapped_column(default=0.0)
    low: Mapped[float] = mapped_column(default=0.0)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # every matcher setting the run used
    config_hash: Mapped[str | None] = mapped_column(String(64))
    # What this run's gap refresh covered: import runs up to this id, against these jurisdictions.
    # The next incremental run refreshes only targets changed since (see pipeline.gap_scope).
    gaps_import_run_id: Mapped[int | None]
    gaps_jurisdictions: Mapped[list[Any] | None] = mapped_column(JSON)


class MatchState(Base):
    """What the matcher last saw of a designation: its content hash and blocking keys."""

    __tablename__ = "match_state"

    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id", ondelete="CASCADE"), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    candidates: Mapped[str | None] = mapped_column(Text)  # its own best candidates: "id:weight ..." by rank


class MatchKey(Base):
    """A blocking key of a designation (name token, signature, identifier, UN ref)."""

    __tablename__ = "match_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(300), index=True)


class MatchPair(Base):
    """A scored pair of designations from two jurisdictions (kept at or above the near-miss floor)."""

    __tablename__ = "match_pair"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_a: Mapped[str] = mapped_column(String(200), index=True)
    key_b: Mapped[str] = mapped_column(String(200), index=True)
    score: Mapped[float]
    strength: Mapped[float]
    band: Mapped[str] = mapped_column(String(8))  # link, review, near
    explanation: Mapped[dict[str, Any]]
    run_id: Mapped[int] = mapped_column(ForeignKey("match_run.id"))

    __table_args__ = (Index("ux_match_pair_keys", "key_a", "key_b", unique=True),)


class Target(Base):
    """A real-world person, organisation, vessel or aircraft behind one or more designations.

    The id (``T`` + 12 hex) is given once and never recomputed from the members,
    so gaps, decisions and web links that name it survive records joining and
    leaving.  A target merged into an older one is retired, not deleted.
    """

    __tablename__ = "target"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    match_run_id: Mapped[int | None] = mapped_column(ForeignKey("match_run.id"))
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class TargetMember(Base):
    """Which target a designation belongs to: every designation has exactly one (singletons too)."""

    __tablename__ = "target_member"

    designation_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("target.id"), index=True)


class TargetEvent(Base):
    """Lineage: ``merged`` (other_target_id was absorbed into target_id) or ``split`` (other_target_id
    took designations away from target_id)."""

    __tablename__ = "target_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[str] = mapped_column(String(16), index=True)
    other_target_id: Mapped[str] = mapped_column(String(16), index=True)
    event: Mapped[str] = mapped_column(String(8))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    match_run_id: Mapped[int | None] = mapped_column(ForeignKey("match_run.id"))
    keys: Mapped[list[Any]] = mapped_column(default=list)  # the designations that moved


class PairDecision(Base):
    """An officer's decision on a pair of designations; overrides the matcher."""

    __tablename__ = "pair_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_a: Mapped[str] = mapped_column(String(200), index=True)
    key_b: Mapped[str] = mapped_column(String(200), index=True)
    decision: Mapped[str] = mapped_column(String(12))  # same, different, unsure
    decided_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # Content hashes of both designations when decided: a change flags the decision for re-review.
    hash_a: Mapped[str | None] = mapped_column(String(64))
    hash_b: Mapped[str | None] = mapped_column(String(64))
    current: Mapped[bool] = mapped_column(default=True)
    needs_review: Mapped[bool] = mapped_column(default=False)
    # Version check (issue 11): the id of the decision this one replaced (0: the first on the pair).
    # Unique per pair (ux_pair_decision_supersedes), so two officers replacing the same decision
    # at once cannot both win: the second gets a conflict, not a silent overwrite.
    supersedes: Mapped[int] = mapped_column(default=0)

    __table_args__ = (Index("ux_pair_decision_supersedes", "key_a", "key_b", "supersedes", unique=True),)


class Gap(Base):
    """A target that jurisdiction A designates and B does not (or A delisted and B still lists).

    The id is stable across imports, matches and target merges and splits:
    ``<A>-<B>:<target id>`` (``<A>-<B>:delisted:<target id>`` for the other direction of
    drift).  ``anchor_key``, ``target_kind``, ``regimes`` and ``listed_on`` describe A's side
    now, so that reports filter and paginate in SQL.
    """

    __tablename__ = "gap"

    id: Mapped[str] = mapped_column(String(250), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # missing, delisted
    designated_by: Mapped[str] = mapped_column(String(4), index=True)
    not_by: Mapped[str] = mapped_column(String(4), index=True)
    anchor_key: Mapped[str] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(8), index=True)  # open, closed
    opened_on: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_reason: Mapped[str | None] = mapped_column(String(32))
    closed_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"))
    disposition: Mapped[str] = mapped_column(String(16), default="open")  # open, under-review, confirmed, dismissed
    reason: Mapped[str | None] = mapped_column(String(32))
    material_hash: Mapped[str | None] = mapped_column(String(64))
    needs_review: Mapped[bool] = mapped_column(default=False)
    target_id: Mapped[str | None] = mapped_column(String(16), index=True)
    target_kind: Mapped[str | None] = mapped_column(String(16))
    regimes: Mapped[str | None] = mapped_column(Text)  # "|russia|iran|", for a portable LIKE filter
    listed_on: Mapped[dt.date | None] = mapped_column(Date)
    # A disposition carried over from another gap when targets merged or split, and where it went.
    carried_from: Mapped[str | None] = mapped_column(String(250))
    successor_id: Mapped[str | None] = mapped_column(String(250))
    # Version check (issue 11): bumped by every disposition; a change must name the version it saw.
    version: Mapped[int] = mapped_column(default=1, server_default="1")


class GapFormerId(Base):
    """Gap ids of before issue 7 (keyed by a designation), so old links and audit entries still resolve."""

    __tablename__ = "gap_former_id"

    former_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    gap_id: Mapped[str] = mapped_column(String(250), index=True)


class AuditEntry(Base):
    """Append-only, hash-chained log of every decision (see ``sanctions.audit``).

    Database triggers refuse updates and deletes; the chain makes any change
    made around them (triggers dropped, rows forged, deleted or back-dated)
    visible to ``sanctions audit verify``.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's tail (one row): entry count and last hash, so a truncated or cut log shows.

    Appenders lock this row, which also serialises concurrent appends.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    entries: Mapped[int] = mapped_column(default=0)
    last_id: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class Refresh(Base):
    """One run of ``sanctions refresh``: what it fetched, what it imported and its change report."""

    __tablename__ = "refresh"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # running, succeeded, partial (some sources failed), failed, interrupted (killed; found by the next run)
    status: Mapped[str] = mapped_column(String(12))
    exit_code: Mapped[int | None]
    match_run_id: Mapped[int | None] = mapped_column(ForeignKey("match_run.id"))
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Download(Base):
    """One source's fetch in one refresh, and what became of it.

    The file itself is in the archive, content-addressed by ``sha256``; the
    row keeps its URL, the response headers and the time, and the validators
    (ETag, Last-Modified) the next refresh sends back.
    """

    __tablename__ = "download"

    id: Mapped[int] = mapped_column(primary_key=True)
    refresh_id: Mapped[int | None] = mapped_column(ForeignKey("refresh.id"), index=True)
    source: Mapped[str] = mapped_column(String(16), index=True)
    url: Mapped[str] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # imported, unchanged (same bytes), not-modified (HTTP 304), failed, refused (shrink guard)
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    archive_path: Mapped[str | None] = mapped_column(Text)
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"))
    error: Mapped[str | None] = mapped_column(Text)


class User(Base):
    """A person who signs in to the officers' workspace (issue 11): viewer, officer or admin."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(10))  # viewer, officer, admin
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id, never the password
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # Failed sign-ins since the last good one, and when the last failed: the next attempt waits.
    failed_signins: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ApiToken(Base):
    """A per-user API token, stored as its SHA-256 (the token itself is shown once, when issued)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(default=False)


class SearchEntry(Base):
    """One folded name or compact identifier of a designation, as the text search sees it.

    Filled by ``sanctions.search_index`` (imported below so that every session
    keeps the index current on commit); the trigram indexes over ``text`` are
    created by migration 0006 (FTS5 on SQLite, pg_trgm GIN on PostgreSQL).
    """

    __tablename__ = "search_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, index=True)
    label: Mapped[str] = mapped_column(Text)


from sanctions import search_index as _search_index  # noqa: E402,F401  (registers the commit hook)
