"""The import job: LOCATION -> parsed publication -> one transaction in the store.

Every attempt is recorded as an ``ImportRun``, failed ones included, so the
operator of the nightly job can see what happened and why.  An identical
publication (same SHA-256 as the source's last good run) short-circuits
before parsing.
"""
from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from typing import Callable

from sqlalchemy import Engine

import importers
from importers.common import ImportFailure
from sanctions import queries, store
from sanctions.db import session_factory
from sanctions.models import ImportRun
from sanctions.regimes import regimes_for
from sanctions.schema import ParsedList

Progress = Callable[[str, int, int], None]  # phase, done, total


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
    seen: set[str] = set()
    for record in parsed.designations:
        if record.key in seen:
            raise ImportFailure(location, "the same key appears twice in the publication", record=record.key)
        seen.add(record.key)


def _record_failure(engine: Engine, source: str, location: str, started: dt.datetime, status: str,
                    error: str, files: importers.SourceFiles | None) -> ImportRun:
    Session = session_factory(engine)
    with Session.begin() as session:
        run = ImportRun(source=source, location=location, started_at=started, finished_at=_now(), status=status,
                        error=error, sha256=files.sha256() if files else None, size=files.size if files else None,
                        warnings=[])
        session.add(run)
    return run


@store.gc_paused
def run_import(engine: Engine, source: str, location: str, *, force: bool = False, allow_shrink: bool = False,
               progress: Progress | None = None) -> ImportRun:
    """Import one publication; returns the finished run or raises ImportFailure/ShrinkRefused."""
    started = _now()
    where = _location(location)
    files = None
    Session = session_factory(engine)
    try:
        files = importers.open_location(location, source)
        sha = files.sha256()
        with Session.begin() as session:
            last = queries.last_good_run(session, source)
            if not force and last is not None and last.sha256 == sha:
                active = store.active_count(session, source)
                run = ImportRun(source=source, format=last.format, location=where, sha256=sha, size=files.size,
                                published_on=last.published_on, started_at=started, finished_at=_now(),
                                status="unchanged", parsed=last.parsed, unchanged=active, warnings=[])
                session.add(run)
                return run
        parsed = importers.parse(source, files)
        _check_keys(parsed, where)
    except ImportFailure as exc:
        _record_failure(engine, source, where, started, "failed", str(exc), files)
        raise
    warnings = list(parsed.warnings) + apply_crosswalk(parsed)
    record_warnings = [f"{r.key}: {w}" for r in parsed.designations for w in r.warnings]
    items = [store.prepare(r) for r in parsed.designations]
    try:
        with Session.begin() as session:
            run = ImportRun(source=source, format=parsed.format, location=where, sha256=sha, size=files.size,
                            published_on=store.to_date(parsed.published_on), started_at=started, status="running",
                            parsed=len(parsed.designations), warnings=[])
            session.add(run)
            session.flush()
            diff = store.compute_diff(session, source, items)
            if not allow_shrink:
                store.check_shrink(session, source, diff)
            total = len(diff.added) + len(diff.amended) + len(diff.relisted)
            done = 0

            def step(n: int) -> None:
                nonlocal done
                done += n
                if progress:
                    progress("storing", done, total)

            removed_on = store.to_date(parsed.published_on) or started.date()
            store.apply_diff(session, run, diff, removed_on, step)
            run.added, run.amended = len(diff.added), len(diff.amended)
            run.relisted, run.removed, run.unchanged = len(diff.relisted), len(diff.removed), diff.unchanged
            run.warnings = warnings + record_warnings[:1000]
            run.warning_count = len(warnings) + len(record_warnings)
            run.status = "succeeded"
            run.finished_at = _now()
        return run
    except store.ShrinkRefused as exc:
        _record_failure(engine, source, where, started, "refused", str(exc), files)
        raise
    except Exception as exc:
        _record_failure(engine, source, where, started, "failed", f"{type(exc).__name__}: {exc}", files)
        raise
