"""The workspace's reads of gaps: the list (filtered, prioritised, sorted, paginated) and one gap.

The one place the web workspace (and ``sanctions gaps --sort``) goes through
to read gaps, on top of ``sanctions.gap_queries`` (filters in SQL on the gap
rows).  Sorting by age is the read layer's own SQL order, one page at a time.
Sorting by priority or regime ranks every selected target first from the gap
rows alone (no near misses, no records), then loads full entries for the page
only; the ranking is kept per state of the data, as officers page and come
back many times between two changes.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Iterator

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sanctions import gap_queries, priority, queries, review
from sanctions.models import AuditEntry, Designation, Gap, ImportRun, MatchPair, MatchRun, PairDecision, TargetMember

SORTS = ("priority", "age", "regime")
_CACHE: dict[tuple, dict[str, Any]] = {}
_CACHE_SIZE = 16


def data_version(session: Session) -> tuple:
    """The last import, match (and whether one is running), pair decision and audit entry.

    Dispositions and re-review flags always append to the audit log, so its last id covers them.
    """
    return (session.scalar(select(func.max(ImportRun.id))), session.scalar(select(func.max(MatchRun.id))),
            session.scalar(select(func.count()).select_from(MatchRun).where(MatchRun.finished_at.is_(None))),
            session.scalar(select(func.max(PairDecision.id))), session.scalar(select(func.max(AuditEntry.id))))


def _ranking(session: Session, query: gap_queries.GapQuery, sort: str, needs_review: bool) -> dict[str, Any]:
    """Every selected target in ``sort`` order, with its priority and reasons: from the gap rows only."""
    key = (str(session.get_bind().url), repr(query), sort, needs_review, data_version(session))
    if key in _CACHE:
        return _CACHE[key]
    rows = session.execute(gap_queries.filtered_gaps(query).with_only_columns(
        Gap.id, Gap.target_id, Gap.not_by, Gap.regimes, Gap.listed_on, Gap.opened_on, Gap.needs_review)).all()
    by_target: dict[str, list] = defaultdict(list)
    for row in rows:
        by_target[row.target_id].append(row)
    wanted = set(query.not_by) if query.not_by != ["any"] else None
    if wanted and len(wanted) > 1:
        by_target = {t: rs for t, rs in by_target.items() if {r.not_by for r in rs} >= wanted}
    if needs_review:
        by_target = {t: rs for t, rs in by_target.items() if any(r.needs_review for r in rs)}
    codes = gap_queries.comparable_regimes()
    today = dt.date.today()
    facts = {}
    for target_id, rs in by_target.items():
        regimes = {c for r in rs for c in (r.regimes or "").strip("|").split("|") if c}
        started = min(r.listed_on or r.opened_on for r in rs)
        facts[target_id] = {"started": started, "first": min(r.id for r in rs), "regimes": sorted(regimes),
                            "not_by": sorted({r.not_by for r in rs}), "age_days": (today - started).days,
                            "comparable": {r.not_by: bool(regimes & codes.get(r.not_by, set())) for r in rs}}
    scores = priority.score_targets(session, query.designated_by, facts)
    age_order = sorted(facts, key=lambda t: (facts[t]["started"], facts[t]["first"]))
    if sort == "priority":
        order = sorted(age_order, key=lambda t: -scores[t][0])  # stable: ties stay oldest first
    elif sort == "regime":
        order = sorted(age_order, key=lambda t: facts[t]["regimes"][0] if facts[t]["regimes"] else "~")
    else:
        order = age_order
    ranking = {"order": order, "scores": scores}
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = ranking
    return ranking


def _with_priority(entries: list[dict[str, Any]], scores: dict[str, tuple[int, list]]) -> list[dict[str, Any]]:
    for entry in entries:
        points, reasons = scores.get(entry["target"], (0, []))
        entry["priority"], entry["priority_reasons"] = points, reasons
    return entries


def list_gaps(session: Session, query: gap_queries.GapQuery, sort: str = "priority", needs_review: bool = False,
              limit: int = gap_queries.PAGE, offset: int = 0, evidence: bool = False) -> dict[str, Any]:
    """One page of gap report entries (one per target), each with its priority and reasons, and the total.

    ``needs_review``: only targets with a gap whose disposition is flagged for re-review.
    """
    ranking = _ranking(session, query, sort, needs_review)
    page_ids = ranking["order"][offset : offset + limit]
    entries = gap_queries.report_entries(session, query, page_ids, evidence)
    return {"total": len(ranking["order"]), "offset": offset, "limit": limit,
            "results": _with_priority(entries, ranking["scores"])}


def iter_sorted(session: Session, query: gap_queries.GapQuery, sort: str = "priority", evidence: bool = False,
                batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every entry in ``sort`` order, ``batch`` targets at a time (``sanctions gaps --sort``)."""
    ranking = _ranking(session, query, sort, False)
    for i in range(0, len(ranking["order"]), batch):
        entries = gap_queries.report_entries(session, query, ranking["order"][i : i + batch], evidence)
        yield from _with_priority(entries, ranking["scores"])


# --- one gap ---------------------------------------------------------------------------

def _scored_pairs(session: Session, own: list[str], others: list[str]) -> dict[str, list[tuple[float, tuple]]]:
    """Near-miss key -> its stored pairs with the target's designations, best score first."""
    if not others:
        return {}
    out: dict[str, list[tuple[float, tuple[str, str]]]] = defaultdict(list)
    for a, b, score in session.execute(select(MatchPair.key_a, MatchPair.key_b, MatchPair.score).where(
            or_(MatchPair.key_a.in_(own) & MatchPair.key_b.in_(others),
                MatchPair.key_b.in_(own) & MatchPair.key_a.in_(others)))):
        out[b if a in own else a].append((score, (a, b)))
    return {k: sorted(v, key=lambda sp: (-sp[0], sp[1])) for k, v in out.items()}


def current_pair_decisions(session: Session, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """(key_a, key_b) sorted -> the current decision on it (id, decision, by, at, note, needs_review)."""
    out: dict[tuple[str, str], dict] = {}
    wanted = {tuple(sorted(p)) for p in pairs}
    firsts = sorted({p[0] for p in wanted})
    if not firsts:
        return out
    for d in session.scalars(select(PairDecision).where(PairDecision.current.is_(True),
                                                        PairDecision.key_a.in_(firsts))):
        if (d.key_a, d.key_b) in wanted:
            out[(d.key_a, d.key_b)] = {"id": d.id, "decision": d.decision, "by": d.decided_by, "note": d.note,
                                       "at": d.decided_at.replace(microsecond=0), "needs_review": d.needs_review}
    return out


def resolve_gap_id(session: Session, gap_id: str) -> str | None:
    """The current id of a gap, also from an id it had before gap ids named targets."""
    gap = review.resolve_gap(session, gap_id)
    return gap.id if gap is not None else None


def gap_detail(session: Session, gap_id: str) -> dict[str, Any] | None:
    """Everything the gap page and its dossier show: the gap, both sides' records with their imports,
    near misses with explanations and current decisions, priority, and every decision on it."""
    gap = session.get(Gap, gap_id)
    if gap is None:
        return None
    target_id = gap.target_id
    keys = queries.target_member_keys(session, target_id) if target_id else [gap.anchor_key]
    members = {k: (j, s, n, kind) for k, j, s, n, kind in session.execute(
        select(Designation.key, Designation.jurisdiction, Designation.status, Designation.name, Designation.kind)
        .where(Designation.key.in_(keys)).order_by(Designation.key))}
    query = gap_queries.GapQuery(designated_by=gap.designated_by, not_by=[gap.not_by], status="all",
                                 gap_kind=gap.kind)
    side_a = gap_queries.designated_side(session, [TargetMember.target_id == target_id],
                                         gap.designated_by).get(target_id, [])
    misses = gap_queries.near_misses(session, {target_id: keys}, limit=5) \
        .get(target_id, {}).get(gap.not_by, [])
    records = gap_queries.evidence_records(session, {target_id: side_a}, {target_id: {gap.not_by: misses}})
    evidence = gap_queries.evidence_pack(records, side_a, {gap.not_by: misses})
    for record in evidence["designated"] + evidence["near_misses"][gap.not_by]:
        # The common-schema record with its key and status, as the designation pages show one.
        record["d"] = {**(record["record"] or {}), "key": record["key"], "status": record["status"]}
    scored = _scored_pairs(session, keys, [m["key"] for m in misses])
    decisions = current_pair_decisions(session, [p for ps in scored.values() for _, p in ps])
    names = {m["key"]: m["name"] for m in misses}
    for miss in evidence["near_misses"][gap.not_by]:
        # The pair an officer decides on: the one already decided if any (so the page shows that
        # decision and a new one replaces it), else the best-scored.
        candidates = [p for _, p in scored.get(miss["key"], [])]
        miss["pair"] = next((p for p in candidates if p in decisions), candidates[0] if candidates else None)
        miss["decision"] = decisions.get(miss["pair"]) if miss["pair"] else None
        miss["name"] = names.get(miss["key"], "")
    regimes = sorted({r for m in side_a for r in m["regimes"]})
    codes = gap_queries.comparable_regimes()
    comparable = sorted(set(regimes) & codes.get(gap.not_by, set()))
    listed = min((m["listed_on"] for m in side_a if m["listed_on"]), default=None)
    started = gap.listed_on or gap.opened_on
    age_days = (dt.date.today() - started).days
    points, reasons = priority.score_targets(session, gap.designated_by, {target_id: {
        "not_by": [gap.not_by], "age_days": age_days, "comparable": {gap.not_by: bool(comparable)}}},
        keys=keys)[target_id]
    history = [{"at": e.at.replace(microsecond=0), "actor": e.actor, "action": e.action, "before": e.before,
                "after": e.after, "note": e.note, "subject": e.subject}
               for e in session.scalars(select(AuditEntry).where(or_(
                   AuditEntry.subject == gap.id, *[AuditEntry.subject.like(f"%{k}%") for k in keys]))
                   .order_by(AuditEntry.id))
               if e.subject == gap.id or any(k in e.subject.split(" ") for k in keys)]
    closed_run = session.get(ImportRun, gap.closed_run_id) if gap.closed_run_id else None
    lead = side_a[0] if side_a else None
    return {
        "id": gap.id, "kind": gap.kind, "designated_by": gap.designated_by, "not_by": gap.not_by,
        "target_id": target_id, "state": gap.state, "query": query,
        "opened_on": gap.opened_on, "closed_on": gap.closed_on, "closed_reason": gap.closed_reason,
        "closed_run": gap_queries.run_info(closed_run), "successor_id": gap.successor_id,
        "carried_from": gap.carried_from,
        "disposition": gap.disposition, "reason": gap.reason, "needs_review": gap.needs_review,
        "version": gap.version, "name": lead["name"] if lead else gap.anchor_key,
        "kind_of_target": lead["kind"] if lead else gap.target_kind,
        "regimes": regimes, "comparable_regimes": comparable, "listed_on": listed,
        "age_days": age_days, "priority": points, "priority_reasons": reasons,
        "members": [{"key": k, "jurisdiction": j, "status": s, "name": n} for k, (j, s, n, _) in members.items()],
        "designated": evidence["designated"], "near_misses": evidence["near_misses"][gap.not_by],
        "history": history,
    }


def review_queue(session: Session, offset: int = 0) -> dict[str, Any]:
    """The ``offset``-th pair in the review band without a current decision, best score first, both records."""
    undecided = ~select(PairDecision.id).where(PairDecision.current.is_(True), PairDecision.key_a == MatchPair.key_a,
                                               PairDecision.key_b == MatchPair.key_b).exists()
    base = select(MatchPair).where(MatchPair.band == "review", undecided)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    pair = session.scalars(base.order_by(MatchPair.score.desc(), MatchPair.key_a, MatchPair.key_b)
                           .offset(offset).limit(1)).first()
    if pair is None:
        return {"total": total, "offset": offset, "pair": None}
    records = {}
    for key in (pair.key_a, pair.key_b):
        detail = queries.designation_detail(session, key)
        detail.pop("raw", None)
        records[key] = detail
    return {"total": total, "offset": offset,
            "pair": {"key_a": pair.key_a, "key_b": pair.key_b, "score": pair.score, "explanation": pair.explanation,
                     "a": records[pair.key_a], "b": records[pair.key_b], "current": 0}}
