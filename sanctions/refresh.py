"""The nightly refresh: fetch every list, import what changed, re-match, report what changed.

For each configured source, in turn and independently:

1. download the publication (``sanctions.fetch``: timeouts, retries with
   backoff, a conditional request with the ETag / Last-Modified of the last
   good download, a size limit) into the content-addressed archive;
2. check the content before anything is imported: a complete file, in a
   format this registry reads, that belongs to the source;
3. import it through the pipeline (one transaction; an identical file is
   recognised by its hash; the shrink guard refuses a list that would lose
   more than 10% of its designations, and a first import far below the
   source's ``[expected_minimum]`` is refused as partial).

One source failing is recorded with its reason and the others go on.  Then,
if anything was imported, the pipeline's match runs once (incremental), gaps
open and close, and the change report is stored on the ``refresh`` row and
written as JSON, text and HTML (and mailed when SMTP is configured).

The whole refresh holds the ``refresh`` lock, so two never overlap.  A refresh
killed half-way leaves no partial import (each import is one transaction);
the next one marks the dead run ``interrupted`` and proceeds as usual.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update

import importers
from importers.common import ImportFailure
from sanctions import changes, fetch, imports, locks, mail, pipeline, queries, store
from sanctions import config
from sanctions.config import Settings
from sanctions.db import session_factory
from sanctions.eventlog import EventLog
from sanctions.models import Download, ImportRun, MatchRun, Refresh

# Exit codes of ``sanctions refresh`` (documented in the README).
EXIT_OK = 0          # every source fetched and imported, or unchanged
EXIT_PARTIAL = 3     # some sources failed (or the report could not be mailed); the others were imported
EXIT_FAILED = 4      # every source failed, the match failed, or the refresh could not run (lock busy, configuration)

GOOD_OUTCOMES = ("imported", "unchanged", "not-modified")


class RefreshError(Exception):
    """The refresh could not run at all (another one holds the lock, a source without a URL)."""


@dataclass
class SourceOutcome:
    source: str
    url: str
    outcome: str  # imported, unchanged, not-modified, failed, refused
    reason: str | None = None
    sha256: str | None = None
    size: int | None = None
    http_status: int | None = None
    attempts: int = 0
    import_run_id: int | None = None
    archive_path: str | None = None
    counts: dict[str, int] | None = None
    headers: dict[str, str] | None = None


@dataclass
class RefreshResult:
    refresh_id: int
    status: str
    exit_code: int
    outcomes: list[SourceOutcome] = field(default_factory=list)
    match_run_id: int | None = None
    error: str | None = None
    report: dict[str, Any] | None = None
    report_files: list[str] = field(default_factory=list)
    mail_error: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


# --- content checks -----------------------------------------------------------------------------

def check_content(source: str, path: Path) -> None:
    """Refuse a file before it reaches the importer: wrong publisher, unknown format, cut-off XML.

    The importer would refuse most of these too, inside its transaction;
    checking first gives the operator a reason in publisher terms ("this is
    the Canada list", "the XML stops before </CONSOLIDATED_LIST>") and keeps
    a broken download from costing a parse.
    """
    files = importers.open_location(str(path), source)
    module, variant = importers.detect(files)
    if source not in module.SOURCES:
        raise ImportFailure(str(path), f"this is the {importers.publisher(module)}, which does not belong to "
                            f"source {source!r} (it feeds {', '.join(module.SOURCES)})")
    if variant == "xml":
        _, data = files.single()
        root = importers._xml_root(data.lstrip(b"\xef\xbb\xbf \t\r\n"))
        tail = data[-1024:].rstrip()
        if not re.search(rb"</(?:[\w.-]+:)?" + re.escape(root.encode()) + rb"\s*>$", tail):
            raise ImportFailure(str(path), f"the XML is incomplete: it does not end with </{root}> "
                                f"(a truncated publication?)")


# --- one source ---------------------------------------------------------------------------------

def _limits(settings: Settings, source: str) -> fetch.Limits:
    return fetch.Limits(timeout=float(settings.source(source, "timeout")),
                        retries=int(settings.source(source, "retries")),
                        backoff=float(settings[("refresh", "backoff")]),
                        max_bytes=int(settings.source(source, "max_bytes")),
                        user_agent=str(settings[("refresh", "user_agent")]))


def _last_good_download(session, source: str, url: str) -> Download | None:
    """The newest download of this URL whose file is the source's current data (validators to send back)."""
    return session.scalars(select(Download).where(Download.source == source, Download.url == url,
                                                  Download.outcome.in_(GOOD_OUTCOMES),
                                                  Download.sha256.is_not(None))
                           .order_by(Download.id.desc()).limit(1)).first()


def _record_run(engine: Engine, **values: Any) -> int:
    """An import run for what never reached the importer (a failed download, a 304)."""
    Session = session_factory(engine)
    with Session.begin() as session:
        run = ImportRun(warnings=[], **values)
        session.add(run)
        session.flush()
        return run.id


def _not_modified_run(engine: Engine, source: str, url: str, started: dt.datetime) -> int | None:
    """Record a 304 as an ``unchanged`` run, like an identical file, so ``sources`` and ``check`` see it."""
    Session = session_factory(engine)
    with Session.begin() as session:
        last = queries.last_good_run(session, source)
        if last is None:
            return None
        run = ImportRun(source=source, format=last.format, location=url, sha256=last.sha256, size=last.size,
                        published_on=last.published_on, started_at=started, finished_at=_now(),
                        status="unchanged", parsed=last.parsed, unchanged=store.active_count(session, source),
                        warnings=[])
        session.add(run)
        session.flush()
        return run.id


def refresh_source(engine: Engine, settings: Settings, source: str, log: EventLog) -> SourceOutcome:
    """Fetch, check and import one source; never raises for a problem of that source."""
    url = settings.source(source, "url")
    started = _now()
    Session = session_factory(engine)
    with Session() as session:
        previous = _last_good_download(session, source, url)
        stored = queries.last_good_run(session, source)
    # Send the validators back only if the store still holds the file they describe: after a
    # restore (``sanctions import SOURCE <sha256>``) or a manual import, fetch the publication again.
    current = previous is not None and stored is not None and stored.location in (previous.url,
                                                                                  previous.archive_path)
    etag = previous.etag if current else None
    last_modified = previous.last_modified if current else None
    log.event("fetch.start", source=source, url=url, conditional=bool(etag or last_modified))

    def on_retry(attempt: int, problem: str, delay: float) -> None:
        log.event("fetch.retry", "warning", source=source, attempt=attempt, problem=problem, wait_s=delay)

    try:
        fetched = fetch.fetch(url, settings[("archive", "dir")], _limits(settings, source), etag=etag,
                              last_modified=last_modified, on_retry=on_retry)
    except fetch.FetchError as exc:
        run_id = _record_run(engine, source=source, location=url, started_at=started, finished_at=_now(),
                             status="failed", error=str(exc))
        log.event("fetch.failed", "error", source=source, attempts=exc.attempts, http_status=exc.http_status,
                  problem=exc.problem)
        return SourceOutcome(source, url, "failed", str(exc), http_status=exc.http_status, attempts=exc.attempts,
                             import_run_id=run_id)
    outcome = SourceOutcome(source, url, "imported", sha256=fetched.sha256, size=fetched.size,
                            http_status=fetched.status, attempts=fetched.attempts,
                            archive_path=str(fetched.path) if fetched.path else None, headers=fetched.headers)
    if fetched.status == 304:
        outcome.outcome, outcome.sha256, outcome.size = "not-modified", previous.sha256, previous.size
        outcome.archive_path = previous.archive_path
        outcome.import_run_id = _not_modified_run(engine, source, url, started)
        log.event("fetch.not-modified", source=source, attempts=fetched.attempts)
        return outcome
    log.event("fetch.done", source=source, http_status=fetched.status, bytes=fetched.size, sha256=fetched.sha256,
              attempts=fetched.attempts, archive=fetched.path)
    try:
        check_content(source, fetched.path)
    except ImportFailure as exc:
        reason = f"{url}: content check failed: {exc}"
        outcome.outcome, outcome.reason = "failed", reason
        outcome.import_run_id = _record_run(engine, source=source, location=str(fetched.path),
                                            sha256=fetched.sha256, size=fetched.size, started_at=started,
                                            finished_at=_now(), status="failed", error=reason)
        log.event("check.failed", "error", source=source, problem=str(exc))
        return outcome
    log.event("import.start", source=source, file=fetched.path)
    try:
        # A first import far below the source's expected size is refused (a partial publication would
        # open thousands of false gaps); later ones are guarded by the shrink check.
        run = pipeline.import_source(engine, source, str(fetched.path),
                                     expected_minimum=settings[("expected_minimum", source)])
    except (store.ShrinkRefused, imports.PartialRefused) as exc:
        outcome.outcome, outcome.reason = "refused", f"{url}: {exc}"
    except ImportFailure as exc:
        outcome.outcome, outcome.reason = "failed", f"{url}: import failed: {exc}"
    except locks.LockTimeout as exc:
        outcome.outcome, outcome.reason = "failed", f"{url}: {exc}"
    except Exception as exc:  # a database error: this source fails, the others still run
        outcome.outcome, outcome.reason = "failed", f"{url}: import failed: {type(exc).__name__}: {exc}"
    else:
        outcome.import_run_id = run.id
        outcome.outcome = "unchanged" if run.status == "unchanged" else "imported"
        outcome.counts = {k: getattr(run, k) for k in ("parsed", "added", "amended", "removed", "relisted",
                                                       "unchanged")}
        log.event("import.done", source=source, outcome=outcome.outcome, run=run.id, **outcome.counts)
        return outcome
    if outcome.import_run_id is None:
        with Session() as session:
            outcome.import_run_id = session.scalar(select(func.max(ImportRun.id)).where(
                ImportRun.source == source, ImportRun.status.in_(("failed", "refused")),
                ImportRun.started_at >= started))
    log.event("import.failed", "error", source=source, outcome=outcome.outcome, problem=outcome.reason)
    return outcome


def _save_download(engine: Engine, refresh_id: int, outcome: SourceOutcome, started: dt.datetime) -> None:
    """The download row: what was fetched, from where, its headers and the validators to send back next time."""
    Session = session_factory(engine)
    with Session.begin() as session:
        headers = outcome.headers or {}
        etag, last_modified = headers.get("etag"), headers.get("last-modified")
        if outcome.outcome == "not-modified":
            # A 304 need not repeat the validators; keep the ones that still describe our file.
            previous = _last_good_download(session, outcome.source, outcome.url)
            if previous:
                etag, last_modified = etag or previous.etag, last_modified or previous.last_modified
        session.add(Download(refresh_id=refresh_id, source=outcome.source, url=outcome.url, started_at=started,
                             finished_at=_now(), outcome=outcome.outcome, http_status=outcome.http_status,
                             attempts=outcome.attempts, sha256=outcome.sha256, size=outcome.size, etag=etag,
                             last_modified=last_modified, headers=headers or None,
                             archive_path=outcome.archive_path, import_run_id=outcome.import_run_id,
                             error=outcome.reason))


# --- the whole refresh --------------------------------------------------------------------------

def _needs_match(session) -> bool:
    """True when an import landed after the last good match (e.g. the previous refresh's match failed)."""
    last_import = session.scalar(select(func.max(ImportRun.finished_at)).where(ImportRun.status == "succeeded"))
    last_match = session.scalar(select(func.max(MatchRun.finished_at)).where(MatchRun.status == "succeeded"))
    return last_import is not None and (last_match is None or last_import > last_match)


def _write_reports(settings: Settings, refresh_id: int, started: dt.datetime, report: dict[str, Any]) -> list[str]:
    """JSON, text and HTML beside each other in the reports folder, written whole or not at all."""
    folder = Path(settings[("reports", "dir")])
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{started:%Y-%m-%dT%H%M%SZ}-refresh-{refresh_id}"
    written = []
    for fmt, suffix in (("json", "json"), ("text", "txt"), ("html", "html")):
        path = folder / f"{stem}.{suffix}"
        temp = folder / f".{stem}.{suffix}.tmp"
        temp.write_text(changes.RENDERERS[fmt](report), encoding="utf-8")
        os.replace(temp, path)
        written.append(str(path))
    return written


def run(engine: Engine, settings: Settings, sources: list[str] | None = None, log: EventLog | None = None,
        lock_timeout: float | None = None) -> RefreshResult:
    """One refresh of ``sources`` (default: every configured one); raises RefreshError if it cannot run."""
    log = log or EventLog()
    configured = settings.sources()
    if sources:
        missing = [s for s in sources if not settings.source(s, "url")]
        if missing:
            raise RefreshError(f"no URL configured for {', '.join(missing)}: set [sources.{missing[0]}] url "
                               f"in the configuration file (or ${config.source_env(missing[0])})")
    else:
        sources = configured
    if not sources:
        raise RefreshError("no source to refresh: every source is disabled or has no URL")
    timeout = float(settings[("refresh", "lock_timeout")] if lock_timeout is None else lock_timeout)
    try:
        with locks.hold(engine, "refresh", timeout=timeout, what="refresh"):
            return _run_locked(engine, settings, sources, log)
    except locks.LockTimeout as exc:
        log.event("refresh.busy", "error", problem=str(exc))
        raise RefreshError(str(exc)) from None


def _run_locked(engine: Engine, settings: Settings, sources: list[str], log: EventLog) -> RefreshResult:
    Session = session_factory(engine)
    started = _now()
    with Session.begin() as session:
        # We hold the lock, so a refresh still "running" was killed: say so, then carry on.
        interrupted = session.execute(update(Refresh).where(Refresh.status == "running")
                                      .values(status="interrupted", exit_code=EXIT_FAILED,
                                              error="the refresh process died before finishing")).rowcount
        row = Refresh(started_at=started, status="running")
        session.add(row)
        session.flush()
        refresh_id = row.id
        before = changes.gap_snapshot(session)
    if interrupted:
        log.event("refresh.interrupted-found", "warning", count=interrupted)
    log.event("refresh.start", refresh=refresh_id, sources=",".join(sources))

    outcomes = []
    for source in sources:
        source_started = _now()
        outcome = refresh_source(engine, settings, source, log)
        _save_download(engine, refresh_id, outcome, source_started)
        outcomes.append(outcome)

    result = RefreshResult(refresh_id, "running", EXIT_OK, outcomes)
    good = [o for o in outcomes if o.outcome in GOOD_OUTCOMES]
    with Session() as session:
        needs_match = _needs_match(session)
    if needs_match:
        log.event("match.start", refresh=refresh_id)
        try:
            match_run = pipeline.match(engine)
            result.match_run_id = match_run.id
            log.event("match.done", run=match_run.id, mode=match_run.mode, changed=match_run.changed,
                      links=match_run.linked)
        except Exception as exc:  # the imports stay; the next refresh matches them
            result.error = (f"the match failed, imports kept (the next refresh matches them): "
                            f"{type(exc).__name__}: {exc}")
            log.event("match.failed", "error", problem=result.error)

    if result.error or not good:
        result.status, result.exit_code = "failed", EXIT_FAILED
    elif len(good) < len(outcomes):
        result.status, result.exit_code = "partial", EXIT_PARTIAL
    else:
        result.status = "succeeded"

    finished = _now()
    with Session.begin() as session:
        events = changes.gap_events(session, before)
        info = {"id": refresh_id, "status": result.status, "started_at": _iso(started), "finished_at": _iso(finished),
                "match_run_id": result.match_run_id, "error": result.error}
        report = changes.build(session, info, [{k: v for k, v in asdict(o).items() if k != "headers"}
                                               for o in outcomes], events)
        session.execute(update(Refresh).where(Refresh.id == refresh_id).values(
            status=result.status, exit_code=result.exit_code, finished_at=finished, match_run_id=result.match_run_id,
            error=result.error, report=report))
    result.report = report
    try:
        result.report_files = _write_reports(settings, refresh_id, started, report)
    except OSError as exc:
        result.mail_error = f"cannot write the report files: {exc}"
        log.event("report.failed", "error", problem=result.mail_error)
    if mail.enabled(settings):
        try:
            mail.send(settings, changes.subject(report), changes.render_text(report), changes.render_html(report))
            log.event("mail.sent", to=",".join(settings[("smtp", "to")]))
        except mail.MailError as exc:
            result.mail_error = str(exc)
            log.event("mail.failed", "error", problem=str(exc))
    if result.mail_error and result.exit_code == EXIT_OK:
        result.exit_code = EXIT_PARTIAL
        with Session.begin() as session:
            session.execute(update(Refresh).where(Refresh.id == refresh_id).values(exit_code=EXIT_PARTIAL))
    totals = report["summary"]["totals"]
    log.event("refresh.done", refresh=refresh_id, status=result.status, exit_code=result.exit_code,
              failed=",".join(o.source for o in outcomes if o.outcome not in GOOD_OUTCOMES) or None,
              new=totals["new"], amended=totals["amended"], delisted=totals["delisted"],
              gaps_opened=totals["gaps_opened"], gaps_closed=totals["gaps_closed"])
    return result
