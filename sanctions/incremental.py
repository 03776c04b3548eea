"""Incremental matching: re-match only what the day's changes can reach, with exactly a full match's result.

A full match (``sanctions.matching``) ranks, for every designation, the
designations of its kind in other jurisdictions by the summed weight of the
usable name tokens they share, keeps the best ``candidates_per_record``, and
scores those pairs and every pair sharing a usable exact key (an identifier,
a whole-name signature, a UN reference).  Given the records whose content
changed, this module works out from the stored index alone (``match_key``:
every record's keys; ``match_state``: its best candidates with their weights)
which of those facts can have changed, and

- rescores every candidate pair of a *dirty* record: a changed one, or one
  carrying a name token whose rarity step changed (its scores may differ);
- scores every pair that became a candidate, and deletes the stored pairs
  that stopped being one.

Best candidates are worked out again only where they can move:

- *recomputed* from their postings: dirty records, and the members of a key
  whose usability (within its postings cap) changed;
- *updated* from their stored list: every other record sharing a usable token
  with a changed record.  Its weights to everyone else are as they were, so
  its new list is the best of its stored list and the changed records.  If a
  changed record it had chosen fell back in a full list, the next record in
  its ranking (which is not stored) could enter: it is recomputed instead.

Features, the costly part of loading a record, are computed only for the
records of the pairs scored.  ``tests/test_incremental.py`` checks, after
random edits to the real lists, that the stored pairs equal a full match's.
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Iterable

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from matchers.candidates import SAME_JURISDICTION_KEYS, blocking_keys, blocks, rarity_class
from sanctions import matching
from sanctions.config import MatchingConfig
from sanctions.models import Designation, MatchKey, MatchPair, MatchRun, MatchState

Pair = tuple[int, int]


@dataclass(frozen=True)
class Meta:
    key: str
    kind: str
    jurisdiction: str


def _meta(session: Session, ids: Iterable[int]) -> dict[int, Meta]:
    out = {}
    for chunk in matching._chunks(sorted(set(ids)), 900):
        for i, key, kind, jurisdiction in session.execute(
                select(Designation.id, Designation.key, Designation.kind, Designation.jurisdiction)
                .where(Designation.id.in_(chunk))):
            out[i] = Meta(key, kind, jurisdiction)
    return out


def _postings(session: Session, keys: Iterable[str]) -> dict[str, list[int]]:
    """Each key's designations, in id order."""
    out: dict[str, list[int]] = {k: [] for k in keys}
    for chunk in matching._chunks(sorted(out), 900):
        for key, designation_id in session.execute(select(MatchKey.key, MatchKey.designation_id)
                                                   .where(MatchKey.key.in_(chunk))):
            out[key].append(designation_id)
    for members in out.values():
        members.sort()
    return out


def _stored_best(session: Session, ids: Iterable[int]) -> dict[int, list[tuple[int, float | None]]]:
    out = {}
    for chunk in matching._chunks(sorted(set(ids)), 900):
        for designation_id, text in session.execute(select(MatchState.designation_id, MatchState.candidates)
                                                    .where(MatchState.designation_id.in_(chunk))):
            out[designation_id] = matching.parse_best(text)
    return out


def _ordered(a: int, b: int) -> Pair:
    return (a, b) if a < b else (b, a)


def incremental(session: Session, run: MatchRun, config: MatchingConfig, workers: int = 1) -> None:
    """Re-match the designations whose content changed since the last match (see the module text).

    The phases, in order: the index before and after the change; which records are
    *dirty* (rescored), *recomputed* and *updated*; their new best candidates; the
    candidate pairs that changed; then the writes.  Sets ``run.rescored_keys`` (not
    stored): where the cluster stage must look again.
    """
    changed = matching._load(session, Designation.id.in_(
        select(Designation.id).outerjoin(MatchState, MatchState.designation_id == Designation.id)
        .where(or_(MatchState.content_hash.is_(None), MatchState.content_hash != Designation.content_hash))))
    run.changed = len(changed)
    run.rescored_keys = set()
    if not changed:
        return
    step, cap = config.rarity_step, config.candidates_per_record
    changed_ids = {c.id for c in changed}

    # The index before and after the changed records' new keys.
    old_keys = matching._keys_of(session, changed_ids)
    old_best = _stored_best(session, changed_ids)
    new_keys = {}
    for item in changed:
        tokens, exact = blocking_keys(item.record)
        new_keys[item.id] = tokens | exact
    touched = {k for keys in old_keys.values() for k in keys} | {k for keys in new_keys.values() for k in keys}
    before = matching._key_counts(session, touched)
    connection = session.connection()
    for chunk in matching._chunks(sorted(changed_ids)):
        connection.execute(delete(MatchKey).where(MatchKey.designation_id.in_(chunk)))
        connection.execute(delete(MatchState).where(MatchState.designation_id.in_(chunk)))
    matching._write_keys(session, changed)
    after = matching._key_counts(session, touched)

    def usable(key: str, count: int) -> bool:
        return matching._usable(key, count, config)

    rarity_changed = {k for k in touched if k.startswith("t:")
                      and rarity_class(before[k], step) != rarity_class(after[k], step)}
    usability_changed = {k for k in touched if usable(k, before[k]) != usable(k, after[k])}
    # Name tokens along which a changed record's weights to others moved.
    weight_tokens = {k for k in touched if k.startswith("t:") and blocks(k)
                     and (usable(k, before[k]) or usable(k, after[k]))}
    postings = _postings(session, rarity_changed | usability_changed | weight_tokens)
    # Dirty: rescored, with lists recomputed.  Recomputed: lists from their postings.
    # Updated: lists from the stored list and the changed records' new weights.
    dirty = changed_ids | {i for k in rarity_changed for i in postings[k]}
    recompute = dirty | {i for k in usability_changed for i in postings[k]}
    updated = {i for k in weight_tokens for i in postings[k]} - recompute

    stored = _stored_best(session, updated)
    stored.update(old_best)
    meta = _meta(session, updated | recompute | {j for best in stored.values() for j, _ in best})
    # Rarity weights from the counts already read (after the change): no second look-up.
    total = session.scalar(select(func.count()).select_from(MatchState)) or 0
    stats = matching.stats_from_counts({k: after[k] for k in weight_tokens}, total, config)

    # Updated lists: the stored list, with the changed records' new weights.
    new_weight: dict[int, dict[int, float]] = defaultdict(dict)
    for c in sorted(changed_ids):
        shared: dict[int, float] = defaultdict(float)
        for k in sorted(new_keys[c]):
            if k in weight_tokens and usable(k, after[k]):
                for r in postings[k]:
                    shared[r] += stats.idf(k[2:])
        mc = meta[c]
        for r, w in shared.items():
            mr = meta.get(r)
            if mr and mr.kind == mc.kind and mr.jurisdiction != mc.jurisdiction:
                new_weight[r][c] = w
    best: dict[int, list[tuple[int, float]]] = {}
    for r in sorted(updated):
        listed = stored.get(r, [])
        if any(w is None for _, w in listed):
            recompute.add(r)  # stored before weights were: work it out again
            continue
        fallen = [c for c, w in listed if c in changed_ids and new_weight[r].get(c, 0.0) < w]
        if fallen and len(listed) >= cap:
            recompute.add(r)
            continue
        pool = {j: w for j, w in listed if j not in changed_ids}
        pool.update(new_weight[r])
        best[r] = _top(pool, meta, cap)
    updated -= recompute

    # Recomputed lists: from the postings of each record's usable tokens.
    keys_of = matching._keys_of(session, recompute - changed_ids)
    keys_of.update((c, new_keys[c]) for c in changed_ids)
    tokens = {k for r in recompute for k in keys_of[r] if k.startswith("t:") and blocks(k)}
    counts = matching._key_counts(session, tokens)
    usable_tokens = {k for k in tokens if usable(k, counts[k])}
    postings.update(_postings(session, usable_tokens - postings.keys()))
    meta.update(_meta(session, {i for k in usable_tokens for i in postings[k]} - meta.keys()))
    stats = matching.stats_from_counts({k: counts[k] for k in usable_tokens}, total, config)
    for r in sorted(recompute):
        mr = meta[r]
        shared = defaultdict(float)
        for k in sorted(keys_of[r] & usable_tokens):
            weight = stats.idf(k[2:])
            for j in postings[k]:
                mj = meta[j]
                if mj.kind == mr.kind and mj.jurisdiction != mr.jurisdiction:
                    shared[j] += weight
        best[r] = _top(shared, meta, cap)

    # Which pairs are candidates now, and which were.
    stored.update(_stored_best(session, recompute - stored.keys()))

    def chose(x: int, y: int, lists) -> bool:
        return any(j == y for j, _ in lists.get(x, ()))

    now = {**stored, **best}
    pairs_now: set[Pair] = set()
    for d in sorted(dirty):
        pairs_now |= {_ordered(d, j) for j, _ in best[d]}
    # Records choosing a dirty one share a usable token with it: they are in its postings.
    choosers = {j for r in dirty for k in keys_of[r] & usable_tokens for j in postings[k]} - now.keys()
    now.update(_stored_best(session, choosers))
    for d in sorted(dirty):
        for k in keys_of[d] & usable_tokens:
            for j in postings[k]:
                if chose(j, d, now):
                    pairs_now.add(_ordered(d, j))
    # Exact keys: of dirty records, and keys whose usability changed.
    exact_postings = _postings(session, {k for d in dirty for k in keys_of[d] if not k.startswith("t:")}
                               | {k for k in usability_changed if not k.startswith("t:")})
    meta.update(_meta(session, {i for members in exact_postings.values() for i in members} - meta.keys()))
    exact_counts = matching._key_counts(session, exact_postings)

    def exact_pairs(key: str, members: list[int], count: int) -> set[Pair]:
        if len(members) < 2 or not usable(key, count):
            return set()
        same_ok = key.startswith(SAME_JURISDICTION_KEYS)
        return {_ordered(a, b) for a, b in combinations(members, 2)
                if meta[a].kind == meta[b].kind and (same_ok or meta[a].jurisdiction != meta[b].jurisdiction)}

    clean_pairs: set[Pair] = set()
    for key, members in exact_postings.items():
        for pair in exact_pairs(key, members, exact_counts[key]):
            (pairs_now.add if pair[0] in dirty or pair[1] in dirty else clean_pairs.add)(pair)
        if key in usability_changed:
            clean_pairs |= {p for p in exact_pairs(key, members, before[key]) if not (p[0] in dirty or p[1] in dirty)}
    for x in updated | (recompute - dirty):
        was = {j for j, _ in stored.get(x, ())}
        is_ = {j for j, _ in best[x]}
        clean_pairs |= {_ordered(x, y) for y in was ^ is_ if y not in dirty}

    # A pair of two clean records keeps its stored score: only its membership can change.
    ends = {i for p in clean_pairs for i in p}
    now.update(_stored_best(session, ends - now.keys()))
    ends_keys = matching._keys_of(session, ends)
    shared_exact = {p: {k for k in ends_keys[p[0]] & ends_keys[p[1]] if not k.startswith("t:")} for p in clean_pairs}
    exact_now = matching._key_counts(session, {k for ks in shared_exact.values() for k in ks})
    meta.update(_meta(session, ends - meta.keys()))

    def exact_pair(p: Pair, counts_of) -> bool:
        a, b = meta[p[0]], meta[p[1]]
        return a.kind == b.kind and any(
            usable(k, counts_of(k)) and (k.startswith(SAME_JURISDICTION_KEYS) or a.jurisdiction != b.jurisdiction)
            for k in shared_exact[p])

    old_lists = {**now, **stored}
    entering, leaving = set(), set()
    for p in clean_pairs:
        is_now = chose(p[0], p[1], now) or chose(p[1], p[0], now) or exact_pair(p, lambda k: exact_now[k])
        was = chose(p[0], p[1], old_lists) or chose(p[1], p[0], old_lists) \
            or exact_pair(p, lambda k: before.get(k, exact_now[k]))
        if is_now and not was:
            entering.add(p)
        elif was and not is_now:
            leaving.add(p)

    # Write: every stored pair of a dirty record, and the pairs that left, go; the new ones are scored.
    dirty_keys = sorted(meta[d].key for d in dirty)
    for chunk in matching._chunks(dirty_keys):
        connection.execute(delete(MatchPair).where(or_(MatchPair.key_a.in_(chunk), MatchPair.key_b.in_(chunk))))
    for a, b in leaving:
        key_a, key_b = sorted((meta[a].key, meta[b].key))
        connection.execute(delete(MatchPair).where(MatchPair.key_a == key_a, MatchPair.key_b == key_b))
    to_score = pairs_now | entering
    needed = {i for p in to_score for i in p}
    loaded = [c for c in changed if c.id in needed] + matching._load_ids(session, needed - changed_ids)
    index_of = {item.id: n for n, item in enumerate(loaded)}
    score_stats = matching.store_stats(session, {t for item in loaded for n in item.record.names
                                                 for t in n.tokens}, config)
    matching._store_pairs(session, loaded, ((index_of[a], index_of[b]) for a, b in to_score),
                          score_stats, config, run.id, workers)
    matching._write_best_lists(session, best.items())
    run.candidates = len(to_score)
    # Where clustering can change: the records whose pairs were rewritten (a transient
    # attribute, read by ``pipeline.match`` for the cluster stage).
    run.rescored_keys = set(dirty_keys) | {meta[i].key for p in entering | leaving for i in p}


def _top(shared: dict[int, float], meta: dict[int, Meta], cap: int) -> list[tuple[int, float]]:
    """The best candidates by shared weight, ties in key order (as ``candidate_pairs`` ranks them)."""
    best = heapq.nsmallest(cap, ((-w, meta[j].key, j) for j, w in shared.items()))
    return [(j, -w) for w, _, j in best]
