"""The workspace's reads of gaps: the list (filtered, prioritised, sorted, paginated) and one gap.

The one place the web workspace (and ``sanctions gaps --sort``) goes through
to read gaps: today on top of ``gaps.find_gaps``; when gap reads move into
the read layer with filters and pagination in SQL, only this module changes.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sanctions import gaps, priority, queries
from sanctions.models import AuditEntry, Designation, Gap, ImportRun, MatchPair, MatchRun, PairDecision

SORTS = ("priority", "age", "regime")

# Sorted, prioritised gap lists by query, per state of the data: ``find_gaps`` reads the whole
# store (seconds on the full lists), while officers page, filter and come back many times between
# two changes.  Every change that can alter a list moves one of the ids in ``data_version``.
_CACHE: dict[tuple, dict[str, list[dict[str, Any]]]] = {}
_CACHE_SIZE = 16


def data_version(session: Session) -> tuple:
    """The last import, match (and whether one is running), pair decision and audit entry.

    Dispositions and re-review flags always append to the audit log, so its last id covers them.
    """
    return (session.scalar(select(func.max(ImportRun.id))), session.scalar(select(func.max(MatchRun.id))),
            session.scalar(select(func.count()).select_from(MatchRun).where(MatchRun.finished_at.is_(None))),
            session.scalar(select(func.max(PairDecision.id))), session.scalar(select(func.max(AuditEntry.id))))


def _sorted_entries(session: Session, query: gaps.GapQuery, sort: str, needs_review: bool) -> list[dict[str, Any]]:
    key = (str(session.get_bind().url), repr(query), needs_review, data_version(session))
    if key not in _CACHE:
        entries = gaps.find_gaps(session, query, evidence=False)
        if needs_review:
            entries = [e for e in entries if e["needs_review"]]
        priority.annotate(session, entries)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = {"age": entries}
    by_sort = _CACHE[key]
    if sort not in by_sort:  # re-sorting the cached list costs milliseconds
        by_sort[sort] = sort_entries(by_sort["age"], sort)
    return by_sort[sort]


def sort_entries(entries: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    if sort == "priority":
        return priority.sort_by_priority(entries)
    if sort == "regime":
        return sorted(entries, key=lambda e: (e["regimes"][0] if e["regimes"] else "~", e["listed_on"] or
                                              e["opened_on"], e["gaps"][0]))
    return entries  # find_gaps answers oldest first


def list_gaps(session: Session, query: gaps.GapQuery, sort: str = "priority", needs_review: bool = False,
              limit: int | None = None, offset: int = 0, evidence: bool = False) -> dict[str, Any]:
    """One page of gap report entries (one per target), each with its priority and reasons, and the total.

    ``needs_review``: only gaps whose disposition was flagged for re-review.
    """
    entries = _sorted_entries(session, query, sort, needs_review)
    page = [dict(e) for e in (entries[offset : offset + limit] if limit is not None else entries[offset:])]
    if evidence and page:
        # The evidence pack only for the page asked for, not for every gap of the pair of jurisdictions.
        runs = {r.id: r for r in session.scalars(select(ImportRun))}
        members = queries.targets_members(session, [e["target"] for e in page])
        for entry in page:
            target = _target(session, members.get(entry["target"], []), entry["target"])
            side_a = [m for m in target.members if m.jurisdiction == entry["designated_by"]]
            entry["evidence"] = gaps._evidence(session, side_a, entry["near_misses"], runs)
    return {"total": len(entries), "offset": offset, "limit": limit, "results": page}


def _target(session: Session, keys: list[str], target_id: str) -> gaps.Target:
    target = gaps.Target(target_id)
    for row in session.execute(select(
            Designation.key, Designation.jurisdiction, Designation.status, Designation.kind, Designation.name,
            Designation.listed_on, Designation.regimes, Designation.first_run_id, Designation.changed_run_id,
            Designation.removed_run_id).where(Designation.key.in_(keys)).order_by(Designation.key)):
        target.members.append(gaps.Member(*row))
    return target


def current_pair_decisions(session: Session, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """(key_a, key_b) sorted -> the current decision on it (id, decision, by, at, note, needs_review)."""
    out: dict[tuple[str, str], dict] = {}
    keys = sorted({k for p in pairs for k in p})
    if not keys:
        return out
    wanted = {tuple(sorted(p)) for p in pairs}
    for d in session.scalars(select(PairDecision).where(PairDecision.current.is_(True),
                                                        PairDecision.key_a.in_(keys))):
        if (d.key_a, d.key_b) in wanted:
            out[(d.key_a, d.key_b)] = {"id": d.id, "decision": d.decision, "by": d.decided_by, "note": d.note,
                                       "at": d.decided_at.replace(microsecond=0), "needs_review": d.needs_review}
    return out


def _scored_pairs(session: Session, own: list[str], others: list[str]) -> dict[str, tuple[str, str]]:
    """Near-miss key -> the best-scored stored pair between it and the target (what a decision is recorded on)."""
    if not others:
        return {}
    best: dict[str, tuple[float, tuple[str, str]]] = {}
    for a, b, score in session.execute(select(MatchPair.key_a, MatchPair.key_b, MatchPair.score).where(
            or_(MatchPair.key_a.in_(own) & MatchPair.key_b.in_(others),
                MatchPair.key_b.in_(own) & MatchPair.key_a.in_(others)))):
        other = b if a in own else a
        if other not in best or score > best[other][0]:
            best[other] = (score, (a, b))
    return {k: v[1] for k, v in best.items()}


def gap_detail(session: Session, gap_id: str) -> dict[str, Any] | None:
    """Everything the gap page and its dossier show: the gap, both sides' records with their imports,
    near misses with explanations and current decisions, priority, and every decision on it."""
    gap = session.get(Gap, gap_id)
    if gap is None:
        return None
    target_id = queries.target_ids(session, [gap.anchor_key]).get(gap.anchor_key, gap.anchor_key)
    keys = queries.target_member_keys(session, target_id) or [gap.anchor_key]
    target = _target(session, keys, target_id)
    side_a = [m for m in target.members if m.jurisdiction == gap.designated_by]
    misses = gaps.near_misses(session, [target], limit=5).get(target_id, {}).get(gap.not_by, [])
    runs = {r.id: r for r in session.scalars(select(ImportRun))}
    evidence = gaps._evidence(session, side_a, {gap.not_by: misses}, runs)
    for record in evidence["designated"] + evidence["near_misses"][gap.not_by]:
        # The common-schema record with its key and status, as the designation pages show one.
        record["d"] = {**(record["record"] or {}), "key": record["key"], "status": record["status"]}
    pairs = _scored_pairs(session, keys, [m["key"] for m in misses])
    decisions = current_pair_decisions(session, list(pairs.values()))
    for miss in evidence["near_misses"][gap.not_by]:
        miss["pair"] = pairs.get(miss["key"])
        miss["decision"] = decisions.get(miss["pair"]) if miss["pair"] else None
        miss["name"] = next((m["name"] for m in misses if m["key"] == miss["key"]), "")
    regimes = sorted({r for m in side_a for r in m.regimes})
    codes = gaps.comparable_regimes()
    listed = min((m.listed_on for m in side_a if m.listed_on), default=None)
    started = listed or gap.opened_on
    entry = {"gaps": [gap.id], "target": target_id, "designated_by": gap.designated_by, "not_by": [gap.not_by],
             "listed_on": listed.isoformat() if listed else None, "opened_on": gap.opened_on.isoformat(),
             "age_days": (dt.date.today() - started).days,
             "comparable_regime": {gap.not_by: bool(set(regimes) & codes.get(gap.not_by, set()))}}
    priority.annotate(session, [entry], keys)
    comparable = sorted(set(regimes) & codes.get(gap.not_by, set()))
    history = [{"at": e.at.replace(microsecond=0), "actor": e.actor, "action": e.action, "before": e.before,
                "after": e.after, "note": e.note, "subject": e.subject}
               for e in session.scalars(select(AuditEntry).where(or_(
                   AuditEntry.subject == gap.id,
                   *[AuditEntry.subject.like(f"%{k}%") for k in keys])).order_by(AuditEntry.id))
               if e.subject == gap.id or any(k in e.subject.split(" ") for k in keys)]
    closed_run = runs.get(gap.closed_run_id) if gap.closed_run_id else None
    return {
        "id": gap.id, "kind": gap.kind, "designated_by": gap.designated_by, "not_by": gap.not_by,
        "anchor_key": gap.anchor_key, "target_id": target_id, "state": gap.state,
        "opened_on": gap.opened_on, "closed_on": gap.closed_on, "closed_reason": gap.closed_reason,
        "closed_run": gaps._run_info(runs, closed_run.id) if closed_run else None,
        "disposition": gap.disposition, "reason": gap.reason, "needs_review": gap.needs_review,
        "version": gap.version, "name": side_a[0].name if side_a else gap.anchor_key,
        "kind_of_target": side_a[0].kind if side_a else None,
        "regimes": regimes, "comparable_regimes": comparable, "listed_on": entry["listed_on"],
        "age_days": entry["age_days"], "priority": entry["priority"], "priority_reasons": entry["priority_reasons"],
        "members": [{"key": m.key, "jurisdiction": m.jurisdiction, "status": m.status, "name": m.name}
                    for m in target.members],
        "designated": evidence["designated"], "near_misses": evidence["near_misses"][gap.not_by],
        "history": history,
    }


def review_queue(session: Session, offset: int = 0) -> dict[str, Any] | None:
    """The ``offset``-th pair in the review band that has no current decision, best score first, with both records."""
    decided = set(session.execute(select(PairDecision.key_a, PairDecision.key_b)
                                  .where(PairDecision.current.is_(True))).all())
    pending = [p for p in session.execute(select(MatchPair.key_a, MatchPair.key_b, MatchPair.score,
                                                 MatchPair.explanation)
                                          .where(MatchPair.band == "review")
                                          .order_by(MatchPair.score.desc(), MatchPair.key_a, MatchPair.key_b))
               if (p.key_a, p.key_b) not in decided]
    if offset >= len(pending):
        return {"total": len(pending), "offset": offset, "pair": None}
    p = pending[offset]
    records = {}
    for key in (p.key_a, p.key_b):
        detail = queries.designation_detail(session, key)
        detail.pop("raw", None)
        records[key] = detail
    return {"total": len(pending), "offset": offset,
            "pair": {"key_a": p.key_a, "key_b": p.key_b, "score": p.score, "explanation": p.explanation,
                     "a": records[p.key_a], "b": records[p.key_b], "current": 0}}
