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

from sqlalchemy import Engine, select

from sanctions import gaps, imports, locks, matching, review, targets
from sanctions.db import session_factory
from sanctions.models import ImportRun, MatchRun, TargetMember

Progress = Callable[[str, int, int], None]
LOCK_TIMEOUT = 600.0  # a full match of the real lists takes tens of seconds; wait for one, not forever


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
          timeout: float = LOCK_TIMEOUT) -> MatchRun:
    """Stages 2-4: score what changed, re-cluster into targets, open and close gaps.

    Scoring is one transaction; clustering and the gap refresh are a second
    one, so a reader sees targets and their gaps change together.
    """
    with locks.hold(engine, "match", timeout=timeout, what="matching"):
        run = matching.run_match(engine, full=full, progress=progress)
        counts = cluster_and_refresh(engine, run, progress)
    run.clusters = counts.clusters
    return run


def cluster_and_refresh(engine: Engine, run: MatchRun | None = None, progress: Progress | None = None,
                        target_ids: set[str] | None = None) -> StageCounts:
    """Stages 3-4 (the caller holds the ``match`` lock): targets, then their gaps and decisions."""
    Session = session_factory(engine)
    with Session.begin() as session:
        if progress:
            progress("clustering", 0, 1)
        clustered = targets.recluster(session, run.id if run else None, target_ids)
        if run is not None:
            session.get(MatchRun, run.id).clusters = clustered.clusters
        if progress:
            progress("clustering", 1, 1)
            progress("gaps", 0, 1)
        scope = None if target_ids is None else set(target_ids) | clustered.touched
        refreshed = gaps.refresh(session, target_ids=scope, lineage=clustered.events)
        flagged = review.carry_dispositions(session, refreshed.carries)
        flagged += review.flag_material_changes(session, scope)
        if progress:
            progress("gaps", 1, 1)
    return StageCounts(clustered.clusters, len(clustered.touched), refreshed.counts(), flagged)


def decide_pair(engine: Engine, key1: str, key2: str, decision: str, by: str, note: str | None = None,
                timeout: float = LOCK_TIMEOUT, expected: int | None = None) -> dict:
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
                   note: str | None = None, timeout: float = LOCK_TIMEOUT,
                   expected_version: int | None = None) -> dict:
    """An officer's disposition on a gap (under the ``match`` lock, so no refresh runs beside it)."""
    with locks.hold(engine, "match", timeout=timeout, what="a review decision"):
        Session = session_factory(engine)
        with Session.begin() as session:
            return review.record_gap_status(session, gap_id, status, by, reason, note,
                                            expected_version=expected_version)
