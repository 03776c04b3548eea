"""Persistent target ids: the cluster stage, and the lineage of merges and splits.

A target id is given once (``T`` + 12 hex characters) and is never recomputed
from the members, so gaps, decisions and ``/targets/<id>`` links that name a
target keep naming it when a record joins, leaves or is delisted.

After every clustering the new clusters are mapped onto the stored ids:

- each stored target's *heir* is the new cluster holding most of its members
  (ties: the one holding its smallest key);
- a new cluster that is heir to one stored target keeps that id; heir to
  several (a merge), it keeps the oldest and the others are retired with a
  ``merged`` event;
- a new cluster heir to none gets a new id; if it took members from stored
  targets (a split), each gets a ``split`` event naming the new id.

``assign`` is the pure rule; ``recluster`` applies it to the whole store (the
match pipeline) or to a few targets (an officer's pair decision).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import islice
from typing import Iterable, Iterator

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from matchers.cluster import cluster
from sanctions import bulk
from sanctions.models import Designation, MatchPair, PairDecision, Target, TargetEvent, TargetMember

CHUNK = 900


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _id_choices(seed: str) -> Iterator[str]:
    """The ids a target whose smallest member key is ``seed`` may take, in order of preference."""
    yield "T" + hashlib.sha1(seed.encode()).hexdigest()[:12]
    n = 1
    while True:
        yield "T" + hashlib.sha1(f"{seed}#{n}".encode()).hexdigest()[:12]
        n += 1


def new_target_id(members: Iterable[str], taken: set[str]) -> str:
    """``T`` + 12 hex of the smallest member key: the same on every database, never one already used."""
    return next(c for c in _id_choices(min(members)) if c not in taken)


@dataclass
class Event:
    target_id: str        # the id that stays (merged: the one absorbing; split: the one losing members)
    other_target_id: str  # merged: the id retired; split: the id that took the members
    event: str            # merged, split
    keys: list[str]


@dataclass
class Assignment:
    target_of: dict[str, str]                       # designation key -> target id
    created: set[str] = field(default_factory=set)  # ids given out now
    retired: set[str] = field(default_factory=set)  # ids no cluster carries any more
    events: list[Event] = field(default_factory=list)


def assign(groups: list[set[str]], previous: dict[str, str], age: dict[str, tuple],
           taken: set[str]) -> Assignment:
    """Map new clusters (covering every key, singletons included) onto stored target ids.

    ``previous`` is key -> stored target id, ``age`` orders stored ids (oldest first),
    ``taken`` holds every id ever given, so a new id never reuses a retired one.
    """
    taken = set(taken)
    old_members: dict[str, set[str]] = defaultdict(set)
    for key, target in previous.items():
        old_members[target].add(key)
    group_of = {key: i for i, members in enumerate(groups) for key in members}
    heir: dict[str, int] = {}
    for target, members in old_members.items():
        overlap: dict[int, int] = defaultdict(int)
        for key in members:
            if key in group_of:
                overlap[group_of[key]] += 1
        if overlap:
            smallest = group_of.get(min(k for k in members if k in group_of))
            heir[target] = max(overlap, key=lambda g: (overlap[g], g == smallest, -g))
    claims: dict[int, list[str]] = defaultdict(list)
    for target, g in heir.items():
        claims[g].append(target)

    result = Assignment(target_of={})
    for g, members in enumerate(groups):
        sources = {previous[k] for k in members if k in previous}
        if claims[g]:
            keep = min(claims[g], key=lambda t: (age.get(t, ()), t))
            for other in sorted(set(claims[g]) - {keep}):
                moved = sorted(k for k in members if previous.get(k) == other)
                result.events.append(Event(keep, other, "merged", moved))
        else:
            keep = new_target_id(members, taken)
            taken.add(keep)
            result.created.add(keep)
        for source in sorted(sources - set(claims[g])):
            # Members of a target whose heir is another cluster: they split away to here.
            moved = sorted(k for k in members if previous.get(k) == source)
            result.events.append(Event(source, keep, "split", moved))
        for key in members:
            result.target_of[key] = keep
    carried = set(result.target_of.values())
    result.retired = {t for t in old_members if t not in carried}
    return result


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _decisions(session: Session, keys: set[str] | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    same, different = [], []
    stmt = select(PairDecision.key_a, PairDecision.key_b, PairDecision.decision).where(PairDecision.current.is_(True))
    for a, b, decision in session.execute(stmt):
        if keys is not None and not (a in keys and b in keys):
            continue
        if decision == "same":
            same.append((a, b))
        elif decision == "different":
            different.append((a, b))
    return same, different


def unapplied_decisions(session: Session, since: dt.datetime | None = None) -> set[str]:
    """Keys of pair decisions the targets may not reflect (one recorded outside
    ``pipeline.decide_pair``): current ``same`` pairs apart, current ``different`` pairs
    together, and every pair decided (or withdrawn) at or after ``since``.

    A ``same`` pair left apart because a ``different`` decision forbids the merge
    is listed too; re-clustering it again is harmless.
    """
    out: set[str] = set()
    if since is not None:
        for a, b in session.execute(select(PairDecision.key_a, PairDecision.key_b)
                                    .where(PairDecision.decided_at >= since)):
            out |= {a, b}
    same, different = _decisions(session, None)
    target_of = _target_of(session, {k for pair in same + different for k in pair})
    for pairs, together in ((same, False), (different, True)):
        for a, b in pairs:
            if (target_of.get(a) is not None and target_of.get(a) == target_of.get(b)) == together:
                out |= {a, b}
    return out


def without_target(session: Session) -> set[str]:
    """Designations no target holds yet (imported since the last clustering)."""
    return set(session.scalars(select(Designation.key).outerjoin(
        TargetMember, TargetMember.designation_key == Designation.key).where(TargetMember.target_id.is_(None))))


def _target_of(session: Session, keys: Iterable[str]) -> dict[str, str]:
    """Designation key -> the target holding it now (a designation not yet clustered is absent)."""
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(keys)):
        out.update(session.execute(select(TargetMember.designation_key, TargetMember.target_id)
                                   .where(TargetMember.designation_key.in_(chunk))).all())
    return out


def _scope(session: Session, keys: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Sources of these designations, and the targets they belong to now (a new one has none)."""
    sources: dict[str, str] = {}
    for chunk in _chunks(sorted(keys)):
        sources.update(session.execute(select(Designation.key, Designation.source)
                                       .where(Designation.key.in_(chunk))).all())
    return sources, _target_of(session, keys)


def _links(session: Session, keys: set[str] | None) -> list[tuple[str, str, float]]:
    stmt = select(MatchPair.key_a, MatchPair.key_b, MatchPair.strength).where(MatchPair.band == "link")
    if keys is None:
        return [tuple(row) for row in session.execute(stmt)]
    out = []
    for chunk in _chunks(sorted(keys), 450):
        out += [tuple(row) for row in session.execute(stmt.where(MatchPair.key_a.in_(chunk)))
                if row.key_b in keys]
    return out


@dataclass
class ClusterResult:
    clusters: int                 # targets of two or more designations (in scope)
    touched: set[str]             # target ids whose membership changed (old and new), for the gap refresh
    events: list[Event]


def recluster(session: Session, match_run_id: int | None = None,
              target_ids: Iterable[str] | None = None, seed_keys: Iterable[str] | None = None) -> ClusterResult:
    """The cluster stage: bring ``target_member`` in line with the links and the officers' decisions.

    Without ``target_ids`` or ``seed_keys`` the whole store is re-clustered
    (after a full match); with them only those targets and designations are
    (after a pair decision, or an incremental match), with everything links
    reach from them (``_closure``), so an officer's decision does not wait on
    every target in the store.  Only rows that changed are written.
    """
    if target_ids is None and seed_keys is None:
        sources = dict(session.execute(select(Designation.key, Designation.source)).all())
        previous = dict(session.execute(select(TargetMember.designation_key, TargetMember.target_id)).all())
        scope = None
    else:
        sources, previous = _scope(session, _closure(session, set(target_ids or ()), set(seed_keys or ())))
        scope = set(sources)
    same, different = _decisions(session, scope)
    linked = cluster(sources, sources, _links(session, scope), same=same, different=different)
    in_cluster = {k for members in linked for k in members}
    groups = [set(members) for members in linked] + [{k} for k in sorted(sources) if k not in in_cluster]
    groups.sort(key=min)  # the same order on every database, so ids and ties come out the same

    olds = set(previous.values())
    age = {t: (created or dt.datetime.min,) for t, created in session.execute(
        select(Target.id, Target.created_at).where(Target.id.in_(sorted(olds))))} if len(olds) < CHUNK else \
        {t: (created or dt.datetime.min,) for t, created in session.execute(select(Target.id, Target.created_at))}
    taken = _taken(session, groups)
    result = assign(groups, previous, age, taken)
    _write(session, result, previous, match_run_id)
    touched = result.created | result.retired
    touched |= {t for k, t in result.target_of.items() if previous.get(k) != t}
    touched |= {previous[k] for k, t in result.target_of.items() if k in previous and previous[k] != t}
    if scope is None:
        clusters = sum(1 for g in groups if len(g) > 1)
    else:  # the store's count, not the scope's
        session.flush()
        clusters = session.scalar(select(func.count()).select_from(
            select(TargetMember.target_id).group_by(TargetMember.target_id)
            .having(func.count() > 1).subquery())) or 0
    return ClusterResult(clusters=clusters, touched=touched, events=result.events)


def _closure(session: Session, target_ids: set[str], seed_keys: set[str]) -> set[str]:
    """The designations of these targets and keys, and of every target a link or a ``same``
    decision reaches from them, repeatedly.

    Clustering takes links strongest first under rules that look only at the
    two clusters being joined, so each connected part of the link graph
    clusters on its own.  Re-clustering a few targets gives what a full run
    would only when the scope holds whole parts: a split can free a record
    to join a target that a link from it reaches.
    """
    keys: set[str] = set()
    # A seed's own target too: a record whose only link went must leave the target it held.
    seen_targets = set(target_ids) | set(_target_of(session, seed_keys).values())
    pending_targets, pending_keys = set(seen_targets), set(seed_keys)
    while pending_targets or pending_keys:
        new = set(pending_keys)
        for chunk in _chunks(sorted(pending_targets)):
            new.update(session.scalars(select(TargetMember.designation_key)
                                       .where(TargetMember.target_id.in_(chunk))))
        new -= keys
        keys |= new
        reached: set[str] = set()
        for chunk in _chunks(sorted(new), 450):
            for a, b in session.execute(select(MatchPair.key_a, MatchPair.key_b).where(
                    MatchPair.band == "link", or_(MatchPair.key_a.in_(chunk), MatchPair.key_b.in_(chunk)))):
                reached.update((a, b))
            for a, b in session.execute(select(PairDecision.key_a, PairDecision.key_b).where(
                    PairDecision.current.is_(True), PairDecision.decision == "same",
                    or_(PairDecision.key_a.in_(chunk), PairDecision.key_b.in_(chunk)))):
                reached.update((a, b))
        pending_keys = reached - keys
        pending_targets = set(_target_of(session, pending_keys).values()) - seen_targets
        seen_targets |= pending_targets
    return keys


ID_CHOICES_CHECKED = 4  # a group's first choices looked up in one query; a longer chain is all but impossible


def _taken(session: Session, groups: list[set[str]]) -> set[str]:
    """Stored ids among the first choices of these groups' new ids.

    A group that keeps its target usually finds its own first choice taken
    (by itself), so the next few choices are looked up too rather than every
    stored id: an officer's decision re-clusters two targets, not the store.
    """
    if len(groups) > 1000:  # the whole store (a match): one read of every id is cheaper than look-ups
        return set(session.scalars(select(Target.id)))
    choices = {min(g): list(islice(_id_choices(min(g)), ID_CHOICES_CHECKED)) for g in groups}
    taken: set[str] = set()
    for chunk in _chunks(sorted({c for cs in choices.values() for c in cs})):
        taken.update(session.scalars(select(Target.id).where(Target.id.in_(chunk))))
    if any(all(c in taken for c in cs) for cs in choices.values()):  # a chain runs further: check every id
        taken = set(session.scalars(select(Target.id)))
    return taken


def _write(session: Session, result: Assignment, previous: dict[str, str], match_run_id: int | None) -> None:
    now = _now()
    connection = session.connection()
    # Through the bulk writer (a first match creates a target for every designation), a
    # slice at a time: the writer holds a slice's rows twice, as dicts and as driver tuples.
    for chunk in _chunks(sorted(result.created), 5000):
        bulk.insert(connection, Target.__table__, [{"id": t, "created_at": now, "match_run_id": match_run_id}
                                                   for t in chunk])
    moved = [(k, t) for k, t in result.target_of.items() if previous.get(k) != t]
    fresh = [{"designation_key": k, "target_id": t} for k, t in moved if k not in previous]
    stale = [(k, t) for k, t in moved if k in previous]
    by_target: dict[str, list[str]] = defaultdict(list)
    for key, target in stale:
        by_target[target].append(key)
    for target, keys in by_target.items():
        for chunk in _chunks(sorted(keys)):
            connection.execute(update(TargetMember).where(TargetMember.designation_key.in_(chunk))
                               .values(target_id=target))
    for chunk in _chunks(fresh, 5000):
        bulk.insert(connection, TargetMember.__table__, chunk)
    for chunk in _chunks(sorted(result.retired)):
        connection.execute(update(Target).where(Target.id.in_(chunk)).values(retired_at=now))
    bulk.insert(connection, TargetEvent.__table__, (
        {"target_id": e.target_id, "other_target_id": e.other_target_id, "event": e.event, "at": now,
         "match_run_id": match_run_id, "keys": e.keys} for e in result.events))

