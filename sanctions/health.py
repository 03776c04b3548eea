"""``sanctions check``: is every source's data current?  A Nagios-style check.

Exit codes follow the monitoring plugin convention: 0 OK, 1 WARNING,
2 CRITICAL, with one line of text.  A source is CRITICAL when its last run
failed (or was refused by the shrink guard) or it never had a good import;
WARNING when its last good import (a successful one, an identical file or an
HTTP 304) is older than ``--max-age`` hours; a source disabled in the
configuration is not checked.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanctions import queries
from sanctions.config import Settings
from sanctions.models import ImportRun
from sanctions.schema import SOURCES

OK, WARNING, CRITICAL = 0, 1, 2
LABELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL"}


@dataclass
class SourceHealth:
    source: str
    state: int
    text: str


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.0f} h"


def check_sources(session: Session, settings: Settings, max_age_hours: float,
                  now: dt.datetime | None = None) -> list[SourceHealth]:
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with_runs = set(session.scalars(select(ImportRun.source).group_by(ImportRun.source)))
    wanted = [s for s in SOURCES if settings[(f"sources.{s}", "enabled")]
              and (s in with_runs or s in settings.sources())]
    limit = dt.timedelta(hours=max_age_hours)
    result = []
    for source in wanted:
        last = session.scalars(select(ImportRun).where(ImportRun.source == source, ImportRun.status != "running")
                               .order_by(ImportRun.id.desc()).limit(1)).first()
        good = queries.last_good_run(session, source)
        if last is None or good is None:
            why = f": {last.error}" if last is not None and last.error else ""
            result.append(SourceHealth(source, CRITICAL, f"{source} never imported{why}"))
        elif last.status in ("failed", "refused"):
            result.append(SourceHealth(source, CRITICAL, f"{source} last run {last.status} at "
                                       f"{last.started_at:%Y-%m-%d %H:%M}: {(last.error or '').splitlines()[0][:200]}"))
        elif now - (good.finished_at or good.started_at) > limit:
            result.append(SourceHealth(source, WARNING, f"{source} no good import for "
                                       f"{_hours(now - (good.finished_at or good.started_at))} "
                                       f"(limit {max_age_hours:g} h)"))
        else:
            result.append(SourceHealth(source, OK, f"{source} ok"))
    return result


def summary(results: list[SourceHealth]) -> tuple[int, str]:
    """(exit code, one line) for the monitoring system."""
    if not results:
        return CRITICAL, "SANCTIONS CRITICAL - no source configured or imported"
    state = max(r.state for r in results)
    bad = [r.text for r in sorted(results, key=lambda r: -r.state) if r.state != OK]
    good = sum(1 for r in results if r.state == OK)
    text = "; ".join(bad) if bad else f"all {good} sources current ({', '.join(r.source for r in results)})"
    tail = f" | ok={good} warning={sum(r.state == WARNING for r in results)} critical=" \
           f"{sum(r.state == CRITICAL for r in results)}"
    return state, f"SANCTIONS {LABELS[state]} - {text}{tail}"
