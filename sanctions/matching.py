"""The matching job: feed stored designations to ``matchers`` and save pairs and their index.

A full match (``_full``) builds every record's features, generates the
candidate pairs, scores them and stores the pairs of the near-miss band and
above, every record's keys (``match_key``) and its own best candidates with
their weights (``match_state``); features and scores are computed on one
process per CPU when there are many records.  An incremental match (the
default) gives the same result from that stored index: ``sanctions.incremental``.

A change of the configuration, or of the store's size step, changes every
weight: the incremental run then does a full match.  Officers' pair
decisions apply at clustering.

This is the match stage only: clustering into targets
(``sanctions.targets``) and the gap refresh (``sanctions.gaps``) are the
next stages, run in order by ``sanctions.pipeline``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterable

from sqlalchemy import Engine, Text, bindparam, cast, delete, func, select, update
from sqlalchemy.orm import Session

from matchers import score
from matchers.candidates import (Candidates, TokenStats, blocking_keys, blocks, rarity_class, record_tokens,
                                 search_candidates)
from matchers.features import MatchRecord, content_features
from matchers.parallel import forked_map, forked_workers
from matchers.score import score_pair
from sanctions import bulk
from sanctions.config import MatchingConfig, matching_config
from sanctions.db import session_factory
from sanctions.models import Designation, MatchKey, MatchPair, MatchRun, MatchState, TargetMember
from sanctions.schema import SOURCES
from sanctions.store import gc_paused

CHUNK = 500


@dataclass(slots=True)
class Loaded:
    id: int
    content_hash: str
    record: MatchRecord

    # The record's own strings, not copies (400,000 records at factor 16).
    @property
    def key(self) -> str:
        return self.record.key

    @property
    def source(self) -> str:
        return self.record.source


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _chunks(items: list[Any], size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _load(session: Session, where=None, workers: int = 1) -> list[Loaded]:
    """The stored records (all, or those ``where`` selects) with their features, in key order.

    ``workers``: a full match builds the features of many records on that many
    processes.  The JSON is then read as text and sent to a worker, which decodes
    it and sends the features back (``_features_of``); this process builds those
    of every chunk no worker has room for, as it reads.  Each chunk's text is so
    freed once its features are built: holding every record's text at once
    cost a full match at factor 16 600 MB more at its peak.
    """
    # Cast to text: PostgreSQL's driver would otherwise decode the JSON as it fetches,
    # in this process; decoding is a quarter of the time features take.
    stmt = select(Designation.id, Designation.content_hash, cast(Designation.content, Text))
    if where is not None:
        stmt = stmt.where(where)
    stmt = stmt.order_by(Designation.key)
    connection = session.connection()
    if workers > 1:
        counted = select(func.count()).select_from(Designation)
        if connection.scalar(counted if where is None else counted.where(where)) < PARALLEL_MIN_RECORDS:
            workers = 1  # forking costs more than it saves
    # Through the session's connection (Core rows): the ORM's result layer cost a tenth
    # of a full match's loading, for plain columns it has nothing to add to.
    rows = connection.execute(stmt.execution_options(yield_per=2000))
    if workers == 1:
        return _features_of(None, rows)
    loaded: list[Loaded] = []
    with forked_workers(_features_of, None, workers) as builders:
        for chunk in rows.partitions(FEATURES_CHUNK):
            builders.submit([tuple(row) for row in chunk])
            for built in builders.results(backlog=0):
                loaded += built
        for built in builders.results(wait=True):
            loaded += built
    return loaded


# Records per chunk when features are built on several processes.  Chunks of 500 waited
# in their send for the worker to read them (3 s of an 18 s load at factor 16, with the
# worker taking chunks off its pipe on a thread); chunks of 100 (about 140 kB of JSON) did
# not (0.3 s).  A worker's chunk comes back pickled, which costs this process about a
# fifth of building it.
FEATURES_CHUNK = 100


def _features_of(_state: None, rows: Iterable[tuple[int, str, str]]) -> list[Loaded]:
    """The records of ``(id, content hash, content JSON)`` rows, with their features."""
    return [Loaded(i, h, content_features(json.loads(c))) for i, h, c in rows]


def _load_ids(session: Session, ids: Iterable[int]) -> list[Loaded]:
    out: list[Loaded] = []
    for chunk in _chunks(sorted(set(ids))):
        out += _load(session, Designation.id.in_(chunk))
    return out


def _pair_rows(loaded: list[Loaded], codes: Iterable[int], stats: TokenStats,
               config: MatchingConfig, run_id: int) -> list[dict[str, Any]]:
    """Rows to store for pairs given as codes ``i * len(loaded) + j`` (``Candidates``)."""
    rows = []
    stride = len(loaded)
    for code in codes:
        i, j = divmod(code, stride)
        # In key order: a full and an incremental match hold the records in different orders,
        # and name alignment is not symmetric in every tie.
        a, b = (loaded[i], loaded[j]) if loaded[i].key < loaded[j].key else (loaded[j], loaded[i])
        score, explanation = score_pair(a.record, b.record, stats, config, floor=config.near)
        band = config.band(score)
        if band is None:
            continue
        rows.append({"key_a": a.key, "key_b": b.key, "score": score, "strength": explanation["strength"],
                     "band": band, "explanation": explanation, "run_id": run_id})
    return rows


# An incremental match with fewer pairs than this scores them in this process: forking
# costs more than it saves.
PARALLEL_MIN = 20_000
# The same for a full match, which forks before it knows its pairs: about six per record.
PARALLEL_MIN_RECORDS = 3_000
# Pairs per chunk handed to a worker: small enough that neither process waits long for
# the other at the end, large enough that sending them costs nothing to speak of.
SCORE_BATCH = 2_000


def _score_batch(state: tuple, batch: array) -> list[dict[str, Any]]:
    loaded, stats, config, run_id = state
    return _pair_rows(loaded, batch, stats, config, run_id)


def _scored_rows(loaded: list[Loaded], ordered: array, stats: TokenStats,
                 config: MatchingConfig, run_id: int, workers: int):
    """Batches of pair rows to store, scored on ``workers`` processes when there are many.

    Scoring is pure CPU over records already in memory (``matchers.parallel``):
    the store sees the same rows in the same order whatever the number of
    workers.  Rows are yielded in batches so that the explanations of every
    pair never sit in memory at once.
    """
    batches = [ordered[k:k + SCORE_BATCH] for k in range(0, len(ordered), SCORE_BATCH)]
    yield from forked_map(_score_batch, (loaded, stats, config, run_id), batches,
                          workers if len(ordered) >= PARALLEL_MIN else 1)


def match_workers() -> int:
    """Processes of a large match, for features and scoring: ``[performance] match_workers``
    (0, the default, means one per CPU)."""
    from sanctions import config as settings
    workers = settings.load()[("performance", "match_workers")] or 0
    return workers if workers > 0 else (os.cpu_count() or 1)


def _store_pairs(session: Session, loaded: list[Loaded], pairs: Iterable[tuple[int, int]],
                 stats: TokenStats, config: MatchingConfig, run_id: int, workers: int = 1) -> None:
    """Score and store pairs of ``loaded``, given as index pairs (an incremental match)."""
    stride = len(loaded)
    ordered = array("q", sorted(i * stride + j for i, j in pairs))
    connection = session.connection()
    try:
        for rows in _scored_rows(loaded, ordered, stats, config, run_id, workers):
            bulk.insert(connection, MatchPair.__table__, rows)
    finally:
        score.forget_prepared()


def _write_keys(session: Session, loaded: list[Loaded], found: Candidates | None = None,
                start: int = 0, stop: int | None = None) -> None:
    """The keys and match states of ``loaded[start:stop]``, through the bulk writer (10 million keys at factor 16).

    A full match passes its candidates: each state is then written with the
    record's best list at once, not updated with it row by row afterwards.
    """
    connection = session.connection()
    indexes = range(start, len(loaded) if stop is None else stop)
    bulk.insert(connection, MatchKey.__table__,
                ({"designation_id": loaded[i].id, "key": k} for i in indexes
                 for k in sorted(set().union(*blocking_keys(loaded[i].record)))))
    bulk.insert(connection, MatchState.__table__,
                ({"designation_id": loaded[i].id, "content_hash": loaded[i].content_hash,
                  "candidates": None if found is None else format_best(
                      [(loaded[j].id, w) for j, w in zip(found.best[i], found.weights[i])])}
                 for i in indexes))


def _index_and_score(session: Session, loaded: list[Loaded], stats: TokenStats, config: MatchingConfig,
                     run_id: int, workers: int) -> int:
    """A full match's candidates, keys, states and pairs, in place of every stored one; the number of pairs scored.

    The candidate search is single-threaded Python, so it runs here while forked
    workers score the pairs it has found so far (``matchers.parallel``); each
    step's keys and states are written meanwhile (on SQLite from a writer thread,
    ``bulk.sqlite_background_writes``; on PostgreSQL by COPY).  Once the search is
    done this process scores what is left alongside the workers, while SQLite's
    writer thread builds the keys' indexes (``bulk.emptied_for_load``).  The pairs are
    handed over, and their rows stored, in the order the search finds them,
    whoever scores them.
    """
    connection = session.connection()
    connection.execute(delete(MatchPair))
    connection.execute(delete(MatchState))
    found = Candidates(set(), len(loaded), {}, {})
    records = [item.record for item in loaded]
    # The workers are forked first: the writer thread must not exist at the fork.  The keys
    # are loaded without their indexes on SQLite (``bulk.emptied_for_load``).
    try:
        with forked_workers(_score_batch, (loaded, stats, config, run_id),
                            workers if len(loaded) >= PARALLEL_MIN_RECORDS else 1) as scorers, \
                bulk.emptied_for_load(connection, MatchKey.__table__) as build_key_indexes, \
                bulk.sqlite_background_writes(connection):
            for start, stop, codes in search_candidates(records, stats, config, found):
                _write_keys(session, loaded, found, start, stop)
                for k in range(0, len(codes), SCORE_BATCH):
                    scorers.submit(array("q", codes[k:k + SCORE_BATCH]))
                for rows in scorers.results():
                    bulk.insert(connection, MatchPair.__table__, rows)
            scored = len(found.codes)
            del found  # the pairs found, best lists and weights are written or handed over by now
            build_key_indexes()  # on SQLite's writer thread, while the workers and this process score
            for rows in scorers.results(wait=True):
                bulk.insert(connection, MatchPair.__table__, rows)
    finally:
        score.forget_prepared()
    return scored


def format_best(best: list[tuple[int, float]]) -> str:
    """A record's best candidates as stored: ``id:weight`` by rank (``repr`` keeps each float exact)."""
    return " ".join(f"{j}:{w!r}" for j, w in best)


def parse_best(text: str | None) -> list[tuple[int, float | None]]:
    """The stored best candidates; a weight is None where a list was stored without them (by older versions)."""
    out: list[tuple[int, float | None]] = []
    for item in (text or "").split():
        j, _, w = item.partition(":")
        out.append((int(j), float(w) if w else None))
    return out


def _write_best_lists(session: Session, best: Iterable[tuple[int, list[tuple[int, float]]]]) -> None:
    """Update records' stored best candidates (an incremental match; a full one writes them with the states).

    ``best`` yields (designation id, its list of (designation id, weight)); written 5,000
    rows at a time, so a run that changes many lists never holds every row at once.
    """
    table = MatchState.__table__
    stmt = update(table).where(table.c.designation_id == bindparam("b_id")) \
        .values(candidates=bindparam("b_candidates"))
    connection = session.connection()
    items = iter(best)
    while chunk := [{"b_id": i, "b_candidates": format_best(js)} for i, js in islice(items, 5000)]:
        connection.execute(stmt, chunk)


def _record_config(run: MatchRun, config: MatchingConfig) -> None:
    run.config, run.config_hash = config.as_dict(), config.digest()


def _full(session: Session, run: MatchRun, config: MatchingConfig, workers: int = 1) -> None:
    _record_config(run, config)
    run.mode = "full"
    loaded = _load(session, workers=workers)
    stats = TokenStats.build((item.record for item in loaded), config)
    scored = _index_and_score(session, loaded, stats, config, run.id, workers)
    run.designations, run.changed, run.candidates = len(loaded), len(loaded), scored


def _key_counts(session: Session, keys: Iterable[str]) -> dict[str, int]:
    """How many designations carry each key, store-wide (0 for absent keys)."""
    counts = dict.fromkeys(keys, 0)
    for chunk in _chunks(sorted(counts), 900):
        counts.update(session.execute(select(MatchKey.key, func.count()).where(MatchKey.key.in_(chunk))
                                      .group_by(MatchKey.key)).all())
    return counts


def _keys_of(session: Session, ids: Iterable[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    for chunk in _chunks(sorted(set(ids))):
        for designation_id, key in session.execute(select(MatchKey.designation_id, MatchKey.key)
                                                   .where(MatchKey.designation_id.in_(chunk))):
            out[designation_id].add(key)
    return out


def _cap(key: str, config: MatchingConfig) -> int:
    return config.token_postings_cap if key.startswith("t:") else config.exact_postings_cap


def _usable(key: str, count: int, config: MatchingConfig) -> bool:
    """Whether a key's postings make pairs: within its cap (a name token also long enough to block)."""
    return count <= _cap(key, config) and (not key.startswith("t:") or blocks(key))


def store_stats(session: Session, tokens: set[str], config: MatchingConfig) -> TokenStats:
    """Token document frequencies over the whole store, for the tokens at hand."""
    counts = _key_counts(session, (f"t:{t}" for t in tokens))
    total = session.scalar(select(func.count()).select_from(MatchState)) or 0
    return stats_from_counts(counts, total, config)


def stats_from_counts(counts: dict[str, int], total: int, config: MatchingConfig) -> TokenStats:
    """Rarity weights from store-wide counts of ``t:`` keys already read, and the store's size."""
    return TokenStats.for_config({k[2:]: n for k, n in counts.items() if n}, total, config)


def _last_config_hash(session: Session, run: MatchRun) -> str | None:
    return session.scalar(select(MatchRun.config_hash).where(MatchRun.status == "succeeded", MatchRun.id != run.id)
                          .order_by(MatchRun.id.desc()).limit(1))


def _incremental(session: Session, run: MatchRun, config: MatchingConfig, workers: int = 1) -> None:
    if _last_config_hash(session, run) != config.digest():
        return _full(session, run, config, workers)
    total_before = session.scalar(select(func.count()).select_from(MatchState)) or 0
    total_after = session.scalar(select(func.count()).select_from(Designation)) or 0
    step = config.rarity_step
    if rarity_class(max(total_before, config.prior_total), step) != \
            rarity_class(max(total_after, config.prior_total), step):
        return _full(session, run, config, workers)
    _record_config(run, config)
    run.designations = total_after
    from sanctions.incremental import incremental  # it builds on this module's helpers
    incremental(session, run, config, workers)


Progress = Callable[[str, int, int], None]


@gc_paused
def run_match(engine: Engine, full: bool = False, config: MatchingConfig | None = None,
              progress: Progress | None = None) -> MatchRun:
    """The match stage: score what changed (or everything); one transaction, so readers never see half a match.

    It does not cluster or refresh gaps: ``pipeline.match`` runs those stages next.
    """
    config = config or matching_config()
    workers = match_workers()  # a bad setting is refused before anything is written
    Session = session_factory(engine)
    with Session.begin() as session:
        first = session.scalar(select(func.count()).select_from(MatchState)) == 0
        mode = "full" if full or first else "incremental"
        run = MatchRun(mode=mode, started_at=_now(), status="running", high=config.high, low=config.low)
        session.add(run)
        session.flush()
        if progress:
            progress(f"scoring ({mode})", 0, 1)
        (_full if mode == "full" else _incremental)(session, run, config, workers)
        bands = dict(session.execute(select(MatchPair.band, func.count()).group_by(MatchPair.band)).all())
        run.linked, run.review = bands.get("link", 0), bands.get("review", 0)
        run.status = "succeeded"
        run.finished_at = _now()
        if progress:
            progress(f"scoring ({mode})", 1, 1)
    return run


def explain(session: Session, key_a: str, key_b: str) -> dict[str, Any]:
    """The feature breakdown for one pair, computed from the stored records now."""
    loaded = {item.key: item for item in _load(session, Designation.key.in_([key_a, key_b]))}
    missing = [k for k in (key_a, key_b) if k not in loaded]
    if missing:
        raise KeyError(", ".join(missing))
    a, b = (loaded[k].record for k in sorted((key_a, key_b)))
    config = matching_config()
    stats = store_stats(session, record_tokens(a) | record_tokens(b), config)
    if not stats.total:
        stats = TokenStats.build([a, b], config)
    score, explanation = score_pair(a, b, stats, config)
    return {"pair": [key_a, key_b], "score": score, "band": config.band(score) or "below near-miss floor",
            "thresholds": {"high": config.high, "low": config.low, "near": config.near},
            "features": explanation}


def multi_jurisdiction_targets(session: Session) -> dict[int, int]:
    """How many targets are listed by 2, 3, … jurisdictions.

    Read from the members of targets with several members alone: a key begins
    with the name of its source (``us-sdn:12345``), which gives the
    jurisdiction (``imports`` refuses a key whose prefix names the source of
    another jurisdiction).  Joining every such member to its designation row
    instead, as this did before, took 1.6 to 2.4 s of a nightly match at
    factor 16.  Other prefixes (``gb-ofsi:`` for an OFSI row without an FCDO
    reference) are looked up.  Every member has a designation row:
    clustering makes members only of stored designations, which are never
    deleted (a delisted one is kept, as ``removed``).
    """
    shared = select(TargetMember.target_id).group_by(TargetMember.target_id).having(func.count() > 1)
    members = session.execute(select(TargetMember.target_id, TargetMember.designation_key)
                              .where(TargetMember.target_id.in_(shared))).all()
    jurisdiction_of = {key: SOURCES[prefix] for _, key in members
                       if (prefix := key.partition(":")[0]) in SOURCES}
    for chunk in _chunks(sorted({key for _, key in members} - jurisdiction_of.keys())):
        jurisdiction_of.update(session.execute(select(Designation.key, Designation.jurisdiction)
                                               .where(Designation.key.in_(chunk))).all())
    jurisdictions: dict[str, set[str]] = defaultdict(set)
    for target_id, key in members:
        if key in jurisdiction_of:  # a looked-up key without a row (none should be) counts for nothing
            jurisdictions[target_id].add(jurisdiction_of[key])
    counts = Counter(len(found) for found in jurisdictions.values() if len(found) > 1)
    return dict(sorted(counts.items()))
