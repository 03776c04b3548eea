"""Read-side queries shared by the CLI and the web app.

Each function takes a Session and returns plain data (dicts and lists), so
that the CLI prints it and the web app renders or serialises it the same way.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable, Iterator

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sanctions.models import Designation, DesignationChange, ImportRun, MatchPair, Target, TargetEvent, TargetMember
from sanctions.schema import SOURCES


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    return value.isoformat()


def run_summary(run: ImportRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "source": run.source,
        "status": run.status,
        "format": run.format,
        "location": run.location,
        "sha256": run.sha256,
        "published_on": _iso(run.published_on),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "counts": {k: getattr(run, k) for k in ("parsed", "added", "amended", "removed", "relisted", "unchanged")},
        "warning_count": run.warning_count,
        "error": run.error,
    }


def last_good_run(session: Session, source: str) -> ImportRun | None:
    """The source's newest run that left good data: a successful import or an identical file."""
    return session.scalars(select(ImportRun).where(ImportRun.source == source,
                                                   ImportRun.status.in_(("succeeded", "unchanged")))
                           .order_by(ImportRun.id.desc()).limit(1)).first()


def sources_summary(session: Session) -> list[dict[str, Any]]:
    """Per source: the last run, the last good publication, active and removed counts."""
    counts: dict[tuple[str, str], int] = {
        (source, status): n
        for source, status, n in session.execute(
            select(Designation.source, Designation.status, func.count()).group_by(Designation.source,
                                                                                  Designation.status))
    }
    out = []
    for source in SOURCES:
        last = session.scalars(select(ImportRun).where(ImportRun.source == source)
                               .order_by(ImportRun.id.desc()).limit(1)).first()
        good = last_good_run(session, source)
        out.append({
            "source": source,
            "jurisdiction": SOURCES[source],
            "active": counts.get((source, "active"), 0),
            "removed": counts.get((source, "removed"), 0),
            "published_on": _iso(good.published_on) if good else None,
            "last_run": run_summary(last),
            "last_good_run": run_summary(good),
        })
    return out


def designation_detail(session: Session, key: str) -> dict[str, Any] | None:
    """One designation with all its parts, its status and its change history."""
    row = session.scalars(select(Designation).where(Designation.key == key)).first()
    if row is None:
        return None
    changes = session.scalars(select(DesignationChange).where(DesignationChange.designation_id == row.id)
                              .order_by(DesignationChange.id)).all()
    runs = {r.id: r for r in session.scalars(select(ImportRun).where(
        ImportRun.id.in_({c.run_id for c in changes} | {row.first_run_id, row.changed_run_id})))}
    return {
        **row.content,
        "status": row.status,
        "removed_on": _iso(row.removed_on),
        "removed_run": row.removed_run_id,
        "first_run": run_summary(runs.get(row.first_run_id)),
        "last_changed_run": run_summary(runs.get(row.changed_run_id)),
        "warnings": row.warnings,
        "history": [
            {"run": c.run_id, "published_on": _iso(runs[c.run_id].published_on), "change": c.change,
             "fields": c.fields, "before": c.before, "after": c.after}
            for c in changes
        ],
        "raw": row.raw,
    }


EXPORT_COLUMNS = ("key", "source", "jurisdiction", "source_id", "kind", "name", "status", "listed_on",
                  "updated_on", "removed_on", "programmes", "regimes", "aliases", "weak_aliases",
                  "birth_dates", "nationalities", "identifiers", "gender")


def iter_designations(session: Session, source: str | None = None, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every stored designation (removed ones too), with status, in key order."""
    stmt = select(Designation.content, Designation.status, Designation.removed_on).order_by(Designation.key)
    if source:
        stmt = stmt.where(Designation.source == source)
    for content, status, removed_on in session.execute(stmt.execution_options(yield_per=batch)):
        yield {**content, "status": status, "removed_on": _iso(removed_on)}


def flat_row(item: dict[str, Any]) -> dict[str, str]:
    """A designation as one CSV row: multi-valued fields joined with ``; ``."""
    names = item.get("names") or []
    return {
        "key": item["key"],
        "source": item["source"],
        "jurisdiction": item["jurisdiction"],
        "source_id": item["source_id"],
        "kind": item["kind"],
        "name": item["name"],
        "status": item["status"],
        "listed_on": item.get("listed_on") or "",
        "updated_on": item.get("updated_on") or "",
        "removed_on": item.get("removed_on") or "",
        "programmes": "; ".join(item.get("programmes") or []),
        "regimes": "; ".join(item.get("regimes") or []),
        "aliases": "; ".join(n["full"] for n in names if n["type"] in ("alias", "fka")),
        "weak_aliases": "; ".join(n["full"] for n in names if n["type"] == "weak"),
        "birth_dates": "; ".join(d["text"] for d in item.get("birth_dates") or []),
        "nationalities": "; ".join(c["code"] for c in item.get("countries") or []
                                   if c["role"] in ("nationality", "citizenship")),
        "identifiers": "; ".join(f"{i['type']}:{i['value']}" for i in item.get("identifiers") or []),
        "gender": item.get("gender") or "",
    }


def cluster_rows(session: Session) -> Iterator[tuple[str, str]]:
    """(target id, key) for every designation in a target of two or more, by target."""
    multi = (select(TargetMember.target_id).group_by(TargetMember.target_id)
             .having(func.count() > 1).subquery())
    yield from session.execute(select(TargetMember.target_id, TargetMember.designation_key)
                               .where(TargetMember.target_id.in_(select(multi.c.target_id)))
                               .order_by(TargetMember.target_id, TargetMember.designation_key)).all()


CANDIDATE_COLUMNS = ("key_a", "key_b", "score", "name_a", "name_b", "explanation")


def candidate_rows(session: Session, band: str = "review") -> Iterator[dict[str, Any]]:
    """Scored pairs of one band (review by default), best first, with both names."""
    names = dict(session.execute(select(Designation.key, Designation.name)).all())
    for pair in session.scalars(select(MatchPair).where(MatchPair.band == band)
                                .order_by(MatchPair.score.desc(), MatchPair.key_a, MatchPair.key_b)):
        yield {"key_a": pair.key_a, "key_b": pair.key_b, "score": pair.score,
               "name_a": names.get(pair.key_a, ""), "name_b": names.get(pair.key_b, ""),
               "explanation": json.dumps(pair.explanation, ensure_ascii=False, sort_keys=True)}


# --- targets -----------------------------------------------------------------------
# The interface every reader (web, reports, refresh) uses to go from designations to
# targets and back.  Every designation belongs to exactly one stored target (singletons
# too), whose id (T + 12 hex) survives records joining, leaving, merges and splits.

def target_ids(session: Session, keys: Iterable[str]) -> dict[str, str]:
    """Designation key -> id of the target it belongs to, for the keys that exist."""
    keys = sorted(set(keys))
    out: dict[str, str] = {}
    for i in range(0, len(keys), 900):
        out.update(session.execute(select(TargetMember.designation_key, TargetMember.target_id)
                                   .where(TargetMember.designation_key.in_(keys[i : i + 900]))).all())
    return out


def target_member_keys(session: Session, target_id: str) -> list[str]:
    """The designation keys of one target, in key order; empty when there is no such target
    (or it was merged into another: see ``target_lineage``)."""
    return list(session.scalars(select(TargetMember.designation_key).where(TargetMember.target_id == target_id)
                                .order_by(TargetMember.designation_key)))


def target_lineage(session: Session, target_id: str) -> dict[str, Any] | None:
    """When a target was created and retired, and its merges and splits, oldest first.

    Each event reads from this target's side: ``merged-into`` / ``absorbed`` /
    ``split-off`` (members left to ``other``) / ``split-from`` (this target took
    members of ``other``), with the designation keys that moved.
    """
    target = session.get(Target, target_id)
    if target is None:
        return None
    events = []
    for e in session.scalars(select(TargetEvent).where(or_(TargetEvent.target_id == target_id,
                                                           TargetEvent.other_target_id == target_id))
                             .order_by(TargetEvent.id)):
        mine = e.target_id == target_id
        what = {("merged", True): "absorbed", ("merged", False): "merged-into",
                ("split", True): "split-off", ("split", False): "split-from"}[(e.event, mine)]
        events.append({"event": what, "other": e.other_target_id if mine else e.target_id,
                       "keys": e.keys, "at": _iso(e.at), "match_run": e.match_run_id})
    successor = next((e["other"] for e in events if e["event"] == "merged-into"), None)
    return {"id": target.id, "created_at": _iso(target.created_at), "match_run": target.match_run_id,
            "retired_at": _iso(target.retired_at), "merged_into": successor, "events": events}


def partial_sources(session: Session, minimums: dict[str, int] | None = None) -> dict[str, str]:
    """Sources whose stored data looks partial, with the reason: for ``sources``, ``gaps`` and the web.

    A source is partial when its active designations are fewer than its
    expected minimum (``sanctions.expectations``), or when its last good
    import was accepted as partial (``--allow-partial``).  A source never
    imported is not listed: it has no data to mistake for a whole list.
    """
    from sanctions.expectations import expected_minimums  # reads the configuration file

    minimums = expected_minimums() if minimums is None else minimums
    active = dict(session.execute(select(Designation.source, func.count()).where(Designation.status == "active")
                                  .group_by(Designation.source)).all())
    out: dict[str, str] = {}
    for source in SOURCES:
        count = active.get(source, 0)
        if not count:
            continue
        minimum = minimums.get(source, 0)
        if count < minimum:
            out[source] = f"{count} active designations, below the expected minimum of {minimum}"
            continue
        good = last_good_run(session, source)
        if good is not None and good.partial:
            out[source] = f"import run {good.id} was accepted as partial"
    return out


def targets_members(session: Session, target_ids: Iterable[str]) -> dict[str, list[str]]:
    """Target id -> its designation keys in key order, for many targets in one go (search, coordination).

    The bulk form of ``target_member_keys``; targets without members (retired) are absent.
    """
    ids = sorted(set(target_ids))
    out: dict[str, list[str]] = {}
    for i in range(0, len(ids), 900):
        for target_id, key in session.execute(select(TargetMember.target_id, TargetMember.designation_key)
                                              .where(TargetMember.target_id.in_(ids[i : i + 900]))
                                              .order_by(TargetMember.designation_key)):
            out.setdefault(target_id, []).append(key)
    return out
