"""The import job: LOCATION -> parsed publication -> one transaction in the store.

Every attempt is recorded as an ``ImportRun``, failed ones included (for any
reason: a bad file, a refusal, a lock timeout, a database error), so the
operator of the nightly job can see what happened and why.  An identical
publication (the same bytes: the same SHA-256 as the source's last good
run, whatever the file is called) short-circuits before parsing.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine, select, text

import importers
from importers import ofac_lists
from importers.common import ImportFailure
from sanctions import locks, queries, search_index, store
from sanctions.db import DatabaseUnavailable, session_factory, writer
from sanctions.locks import LockTimeout
from sanctions.models import Designation, ImportRun
from sanctions.regimes import regimes_for
from sanctions.schema import SOURCES, ParsedList

Progress = Callable[[str, int, int], None]  # phase, done, total
log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _location(location: str) -> str:
    return location if "://" in location else os.path.abspath(location)


def apply_crosswalk(parsed: ParsedList) -> list[str]:
    """Fill each record's regime codes; report programme values the crosswalk lacks."""
    unknown: Counter[str] = Counter()
    for record in parsed.designations:
        codes: list[str] = []
        for programme in record.programmes:
            mapped = regimes_for(record.jurisdiction, programme)
            if mapped is None:
                unknown[programme] += 1
            else:
                codes.extend(c for c in mapped if c not in codes)
        record.regimes = codes
    return [f"programme {p!r} is not in the regime crosswalk ({n} designations); add it to "
            f"sanctions/data/regimes.csv" for p, n in unknown.most_common()]


def _check_keys(parsed: ParsedList, location: str) -> None:
    """Keys are unique, and a key whose prefix names a source names the record's own jurisdiction.

    ``matching.multi_jurisdiction_targets`` reads a designation's jurisdiction
    from its key's prefix (``us-sdn:12345``); an importer that broke this would
    be caught here, before anything is stored.
    """
    seen: set[str] = set()
    for record in parsed.designations:
        if record.key in seen:
            raise ImportFailure(location, "the same key appears twice in the publication", record=record.key)
        seen.add(record.key)
        prefix = record.key.partition(":")[0]
        if prefix in SOURCES and SOURCES[prefix] != record.jurisdiction:
            raise ImportFailure(location, f"the key names the source {prefix!r} (jurisdiction "
                                f"{SOURCES[prefix]}), but the record is {record.source!r}'s (jurisdiction "
                                f"{record.jurisdiction})", record=record.key)


class PartialRefused(Exception):
    """The publication looks incomplete (a CSV set missing files, or far below the expected size)."""


@dataclass
class _Attempt:
    """What is known of one import attempt so far, for the run recorded if it fails."""

    source: str
    where: str
    started: dt.datetime
    files: importers.SourceFiles | None = None


def _record_failure(engine: Engine, attempt: _Attempt, status: str, error: str) -> ImportRun | None:
    """Record a failed or refused run in its own short transaction.

    If even that fails (the database is gone or busy), the original error
    still reaches the caller; this one is logged, not raised over it.
    """
    files = attempt.files
    try:
        with session_factory(engine).begin() as session:
            run = ImportRun(source=attempt.source, location=attempt.where, started_at=attempt.started,
                            finished_at=_now(), status=status, error=error[:4000],
                            sha256=files.sha256() if files else None, size=files.size if files else None,
                            file_hashes=files.file_hashes() if files else None, warnings=[])
            session.add(run)
        return run
    except Exception:
        log.exception("could not record the failed %s import run", attempt.source)
        return None


def _describe(exc: BaseException) -> str:
    """One line for an unexpected failure, with the exception type when the message needs it."""
    if isinstance(exc, (LockTimeout, DatabaseUnavailable)):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@store.gc_paused
def run_import(engine: Engine, source: str, location: str, *, force: bool = False, allow_shrink: bool = False,
               allow_partial: bool = False, expected_minimum: int | None = None, progress: Progress | None = None,
               lock_timeout: float | None = None) -> ImportRun:
    """Import one publication; returns the finished run or raises ImportFailure/ShrinkRefused/PartialRefused.

    The whole attempt holds the ``import:<source>`` lock, so two imports of
    one source run one after the other and the second diffs against what the
    first stored: nothing is lost or half applied.  Any failure, whatever its
    cause (bad file, refusal, lock timeout, database error, a bug), is
    recorded as a failed run with its message before the error is raised.

    ``expected_minimum``: refuse a first import with fewer designations
    (``expectations.expected_minimum(source)``; None skips the check).
    ``allow_partial`` accepts an incomplete OFAC CSV set or a first import
    below that minimum, and marks the run as partial.
    """
    attempt = _Attempt(source, _location(location), _now())
    try:
        with locks.hold(engine, f"import:{source}", lock_timeout, what=f"the import of {source}"):
            return _import_locked(engine, attempt, location, force=force, allow_shrink=allow_shrink,
                                  allow_partial=allow_partial, expected_minimum=expected_minimum,
                                  progress=progress)
    except (store.ShrinkRefused, PartialRefused) as exc:
        _record_failure(engine, attempt, "refused", str(exc))
        raise
    except ImportFailure as exc:
        _record_failure(engine, attempt, "failed", str(exc))
        raise
    except BaseException as exc:
        _record_failure(engine, attempt, "failed", _describe(exc))
        raise


def _check_partial(parsed: ParsedList, attempt: _Attempt, allow_partial: bool, expected_minimum: int | None,
                   active: int, missing: list[str]) -> list[str]:
    """Refuse (or, when allowed, warn about) a publication that looks incomplete."""
    warnings = []
    if missing:
        problem = (f"the OFAC CSV set lacks {', '.join(missing)}: without them every alias and address "
                   f"would be dropped")
        if not allow_partial:
            raise PartialRefused(f"{attempt.where}: {problem}; put the whole set in the folder, or re-run with "
                                 f"--allow-partial if a partial set is intended")
        warnings.append(f"accepted as partial (--allow-partial): {problem}")
    count = len(parsed.designations)
    if expected_minimum and not active and count < expected_minimum:
        problem = (f"a first import of {count} {attempt.source} designations, far below the expected minimum of "
                   f"{expected_minimum} (a partial file would report every other list's targets as gaps)")
        if not allow_partial:
            raise PartialRefused(f"{attempt.where}: {problem}; re-run with --allow-partial if that is right, or "
                                 f"set [expected_minimum] {attempt.source} in the configuration")
        warnings.append(f"accepted as partial (--allow-partial): {problem}")
    return warnings


def _fast_compression(session) -> None:
    """PostgreSQL: compress this transaction's long values (contents, raw records) with lz4, not pglz.

    The values read back the same, whichever compressor stored them (each value
    records its own); pglz took a quarter of the time PostgreSQL spent writing
    a first import's designations.  ``SET LOCAL`` ends with the transaction.
    Servers before 14, or built without lz4, keep their default.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    if session.execute(text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                            "WHERE name = 'default_toast_compression'")).scalar():
        session.execute(text("SET LOCAL default_toast_compression = lz4"))


def _index_added(session, run: ImportRun, diff: store.Diff) -> None:
    """Write the search entries of the designations this run added, from the records in memory.

    A first import adds every designation; the commit hook would otherwise
    read all their names, identifiers and contents back to fold them (a third
    of a first import's time).  Amended and relisted designations are left to
    the hook, which also replaces their old entries.
    """
    if not diff.added:
        return
    records = {item.key: item.record for item in diff.added}
    added = session.execute(select(Designation.id, Designation.key)
                            .where(Designation.source == run.source, Designation.first_run_id == run.id))
    search_index.index_new(session.connection(), [(row_id, records[key]) for row_id, key in added])


def _import_locked(engine: Engine, attempt: _Attempt, location: str, *, force: bool, allow_shrink: bool,
                   allow_partial: bool, expected_minimum: int | None, progress: Progress | None) -> ImportRun:
    source, where, started = attempt.source, attempt.where, attempt.started
    files = attempt.files = importers.open_location(location, source)
    sha = files.sha256()
    # Short transactions and the write lock taken up front (SQLite BEGIN IMMEDIATE): a concurrent
    # writer of another kind (a match) makes this one wait, never fail half-way.
    Session = session_factory(writer(engine))
    with Session.begin() as session:
        last = queries.last_good_run(session, source)
        if not force and last is not None and last.sha256 == sha:
            active = store.active_count(session, source)
            run = ImportRun(source=source, format=last.format, location=where, sha256=sha, size=files.size,
                            file_hashes=files.file_hashes(), published_on=last.published_on, started_at=started,
                            finished_at=_now(), status="unchanged", parsed=last.parsed, unchanged=active,
                            partial=last.partial, warnings=[])
            session.add(run)
            return run
    missing = ofac_lists.missing_companions(files, source)
    parsed = importers.parse(source, files)
    _check_keys(parsed, where)
    warnings = list(parsed.warnings) + apply_crosswalk(parsed)
    no_continuations = ofac_lists.missing_remark_continuations(files, source)
    if no_continuations:
        warnings.append(f"the OFAC CSV set has no {no_continuations}: remarks longer than the main file's "
                        f"column are kept as cut there")
    record_warnings = [f"{r.key}: {w}" for r in parsed.designations for w in r.warnings]
    items = [store.prepare(r) for r in parsed.designations]
    # The diff is computed inside the transaction that writes it, under the source's lock, and the
    # 'match' lock keeps a running match or review decision from interleaving with these writes.
    with locks.hold(engine, "match", what=f"the import of {source} (waiting for a match or review decision)"), \
            Session.begin() as session:
        active = store.active_count(session, source)
        warnings = _check_partial(parsed, attempt, allow_partial, expected_minimum, active, missing) + warnings
        run = ImportRun(source=source, format=parsed.format, location=where, sha256=sha, size=files.size,
                        file_hashes=files.file_hashes(), published_on=store.to_date(parsed.published_on),
                        started_at=started, status="running", parsed=len(parsed.designations), warnings=[],
                        partial=any(w.startswith("accepted as partial") for w in warnings))
        session.add(run)
        session.flush()
        diff = store.compute_diff(session, source, items)
        if not allow_shrink:
            store.check_shrink(session, source, diff, items)
        total = len(diff.added) + len(diff.amended) + len(diff.relisted)
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("storing", done, total)

        removed_on = store.to_date(parsed.published_on) or started.date()
        if total:
            _fast_compression(session)
        store.apply_diff(session, run, diff, removed_on, step)
        _index_added(session, run, diff)
        run.added, run.amended = len(diff.added), len(diff.amended)
        run.relisted, run.removed, run.unchanged = len(diff.relisted), len(diff.removed), diff.unchanged
        run.warnings = warnings + record_warnings[:1000]
        run.warning_count = len(warnings) + len(record_warnings)
        run.status = "succeeded"
        run.finished_at = _now()
    return run
