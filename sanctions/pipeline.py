"""The one pipeline: import -> match -> cluster -> gaps, in that order.

The CLI, the nightly refresh and the web all run the stages through here;
no stage calls the next one itself.  Each stage is a plain function in its
own module (``imports``, ``matching``, ``targets``, ``gaps``, with ``review``
carrying and flagging decisions); this module only orders them, takes the
``match`` writer lock around everything after the import, and keeps an
officer's decision to the targets it touches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sanctions import gaps, imports, locks, matching, review, targets
from sanctions.config import MatchingConfig
from sanctions.db import session_factory
from sanctions.models import DesignationChange, ImportRun, MatchRun, TargetMember
from sanctions.store import gc_paused

Progress = Callable[[str, int, int], None]
LOCK_TIMEOUT = None  # locks.default_timeout(): $SANCTIONS_LOCK_TIMEOUT, else its default


def import_source(engine: Engine, source: str, location: str, **options) -> ImportRun:
    """Stage 1: one publication into the store (see ``imports.run_import`` for the options)."""
    return imports.run_import(engine, source, location, **options)


@dataclass
class StageCounts:
    clusters: int
    touched: int
    gaps: dict[str, int]
    flagged: int


def match(engine: Engine, full: bool = False, progress: Progress | None = None,
          timeout: float | None = LOCK_TIMEOUT, config: MatchingConfig | None = None) -> MatchRun:
    """Stages 2-4: score what changed, re-cluster into targets, open and close gaps.

    Scoring is one transaction; clustering and the gap refresh are a second
    one, so a reader sees targets and their gaps change together.
    """
    with locks.hold(engine, "match", timeout=timeout, what="matching"):
        run = matching.run_match(engine, full=full, config=config, progress=progress)
        counts = cluster_and_refresh(engine, run, progress)
    run.clusters = counts.clusters
    return run


@gc_paused
def cluster_and_refresh(engine: Engine, run: MatchRun | None = None, progress: Progress | None = None,
                        target_ids: set[str] | None = None) -> StageCounts:
    """Stages 3-4 (the caller holds the ``match`` lock): targets, then their gaps and decisions."""
    Session = session_factory(engine)
    with Session.begin() as session:
        if progress:
            progress("clustering", 0, 1)
        # An incremental match re-clusters only where its rewritten pairs reach.
        seeds = getattr(run, "rescored_keys", None) if target_ids is None else None
        previous = _previous_run(session, run.id) if run is not None else None
        if seeds is not None and previous is not None and previous.gaps_import_run_id is None:
            seeds = None  # the last scoring was never clustered (stopped between stages): all of it
        if seeds is not None:
            seeds = seeds | targets.unapplied_decisions(session, previous.started_at if previous else None) \
                | targets.without_target(session)
        clustered = targets.recluster(session, run.id if run else None, target_ids, seeds)
        if run is not None:
            session.get(MatchRun, run.id).clusters = clustered.clusters
        if progress:
            progress("clustering", 1, 1)
            progress("gaps", 0, 1)
        covered = sorted(gaps.covered_jurisdictions(session))
        newest_import = session.scalar(select(func.max(ImportRun.id)))
        if target_ids is not None:
            scope = set(target_ids) | clustered.touched
        elif run is not None and run.mode == "incremental":
            scope = gap_scope(session, run.id, covered, clustered.touched)
        else:
            scope = None
        refreshed = gaps.refresh(session, target_ids=scope, lineage=clustered.events)
        flagged = review.carry_dispositions(session, refreshed.carries)
        flagged += review.flag_material_changes(session, scope)
        if run is not None:
            stored = session.get(MatchRun, run.id)
            stored.gaps_import_run_id, stored.gaps_jurisdictions = newest_import, covered
        if progress:
            progress("gaps", 1, 1)
    return StageCounts(clustered.clusters, len(clustered.touched), refreshed.counts(), flagged)


def _previous_run(session: Session, run_id: int):
    """The last successful match run before this one (its start, and whether it was clustered)."""
    return session.execute(select(MatchRun.started_at, MatchRun.gaps_import_run_id)
                           .where(MatchRun.id < run_id, MatchRun.status == "succeeded")
                           .order_by(MatchRun.id.desc()).limit(1)).first()


def gap_scope(session: Session, run_id: int, covered: list[str], touched: set[str]) -> set[str] | None:
    """The targets whose gaps can have changed since the last refresh; None when all can.

    A gap depends on its target's members (``touched`` by this clustering) and
    on their status and content, which only imports change: the designations
    an import changed since the last refresh are in ``designation_change``.
    A newly covered (or no longer covered) jurisdiction changes every target.
    """
    last = session.execute(select(MatchRun.gaps_import_run_id, MatchRun.gaps_jurisdictions)
                           .where(MatchRun.id != run_id, MatchRun.gaps_import_run_id.is_not(None))
                           .order_by(MatchRun.id.desc()).limit(1)).first()
    if last is None or sorted(last.gaps_jurisdictions or []) != covered:
        return None
    keys = set(session.scalars(select(DesignationChange.key).where(DesignationChange.run_id > last.gaps_import_run_id)))
    changed = set()
    chunked = sorted(keys)
    for i in range(0, len(chunked), 900):
        changed.update(session.scalars(select(TargetMember.target_id)
                                       .where(TargetMember.designation_key.in_(chunked[i : i + 900]))))
    return changed | touched


def decide_pair(engine: Engine, key1: str, key2: str, decision: str, by: str, note: str | None = None,
                timeout: float | None = LOCK_TIMEOUT, expected: int | None = None) -> dict:
    """An officer's pair decision: stored, then only the targets of the two designations re-clustered
    and only their gaps refreshed, in one short transaction."""
    with locks.hold(engine, "match", timeout=timeout, what="a review decision"):
        Session = session_factory(engine)
        with Session.begin() as session:
            key_a, key_b = review.record_pair_decision(session, key1, key2, decision, by, note,
                                                       expected=expected)
            scope = set(session.scalars(select(TargetMember.target_id)
                                        .where(TargetMember.designation_key.in_([key_a, key_b]))))
            clustered = targets.recluster(session, None, scope)
            scope |= clustered.touched
            refreshed = gaps.refresh(session, target_ids=scope, lineage=clustered.events)
            review.carry_dispositions(session, refreshed.carries)
            review.flag_material_changes(session, scope)
            after = dict(session.execute(select(TargetMember.designation_key, TargetMember.target_id)
                                         .where(TargetMember.designation_key.in_([key_a, key_b]))).all())
    return {"pair": [key_a, key_b], "decision": decision, "targets": sorted(set(after.values())),
            "clusters": clustered.clusters, "gaps": refreshed.counts()}


def set_gap_status(engine: Engine, gap_id: str, status: str, by: str, reason: str | None = None,
                   note: str | None = None, timeout: float | None = LOCK_TIMEOUT,
                   expected_version: int | None = None) -> dict:
    """An officer's disposition on a gap (under the ``match`` lock, so no refresh runs beside it)."""
    with locks.hold(engine, "match", timeout=timeout, what="a review decision"):
        Session = session_factory(engine)
        with Session.begin() as session:
            return review.record_gap_status(session, gap_id, status, by, reason, note,
                                            expected_version=expected_version)
