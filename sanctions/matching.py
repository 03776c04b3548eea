"""The matching job: feed stored designations to ``matchers`` and save pairs and clusters.

Full mode recomputes everything.  Incremental mode (the default) rescores
only designations whose content changed since the last match: it looks up
the designations sharing a blocking key with them in ``match_key`` (an
inverted index kept in the database), loads just those, scores the new
pairs.  This is the match stage only: clustering into targets
(``sanctions.targets``) and the gap refresh (``sanctions.gaps``) are the
next stages, run in order by ``sanctions.pipeline``.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import Engine, delete, func, or_, select
from sqlalchemy.orm import Session

from matchers.candidates import MAX_EXACT_POSTINGS, MAX_TOKEN_SHARE, MIN_TOKEN_DF, TokenStats, blocking_keys, \
    candidate_pairs
from matchers.features import MatchRecord, features
from matchers.score import score_pair
from sanctions.config import MatchingConfig, matching_config
from sanctions.db import session_factory
from sanctions.models import Designation, MatchKey, MatchPair, MatchRun, MatchState, TargetMember
from sanctions.schema import designation_from_content

CHUNK = 500


@dataclass
class Loaded:
    id: int
    key: str
    source: str
    content_hash: str
    record: MatchRecord


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _chunks(items: list[Any], size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _load(session: Session, where=None) -> list[Loaded]:
    stmt = select(Designation.id, Designation.key, Designation.source, Designation.content_hash, Designation.content)
    if where is not None:
        stmt = stmt.where(where)
    stmt = stmt.order_by(Designation.key)
    return [Loaded(i, k, s, h, features(designation_from_content(c)))
            for i, k, s, h, c in session.execute(stmt.execution_options(yield_per=2000))]


def _load_ids(session: Session, ids: Iterable[int]) -> list[Loaded]:
    out: list[Loaded] = []
    for chunk in _chunks(sorted(set(ids))):
        out += _load(session, Designation.id.in_(chunk))
    return out


def _pair_rows(loaded: list[Loaded], pairs: set[tuple[int, int]], stats: TokenStats,
               config: MatchingConfig, run_id: int) -> list[dict[str, Any]]:
    rows = []
    for i, j in pairs:
        a, b = loaded[i], loaded[j]
        score, explanation = score_pair(a.record, b.record, stats)
        band = config.band(score)
        if band is None:
            continue
        key_a, key_b = sorted((a.key, b.key))
        rows.append({"key_a": key_a, "key_b": key_b, "score": score, "strength": explanation["strength"],
                     "band": band, "explanation": explanation, "run_id": run_id})
    return rows


def _write_keys(session: Session, loaded: list[Loaded]) -> None:
    connection = session.connection()
    rows = []
    for item in loaded:
        tokens, exact = blocking_keys(item.record)
        rows += [{"designation_id": item.id, "key": k} for k in tokens | exact]
    for chunk in _chunks(rows, 5000):
        connection.execute(MatchKey.__table__.insert(), chunk)
    states = [{"designation_id": item.id, "content_hash": item.content_hash} for item in loaded]
    for chunk in _chunks(states, 5000):
        connection.execute(MatchState.__table__.insert(), chunk)


def _full(session: Session, run: MatchRun, config: MatchingConfig) -> None:
    loaded = _load(session)
    records = [item.record for item in loaded]
    stats = TokenStats.build(records)
    pairs = candidate_pairs(records, stats)
    connection = session.connection()
    for table in (MatchPair, MatchKey, MatchState):
        connection.execute(delete(table))
    rows = _pair_rows(loaded, pairs, stats, config, run.id)
    for chunk in _chunks(rows, 2000):
        connection.execute(MatchPair.__table__.insert(), chunk)
    _write_keys(session, loaded)
    run.designations, run.changed, run.candidates = len(loaded), len(loaded), len(pairs)


def _store_stats(session: Session, tokens: set[str]) -> TokenStats:
    """Token document frequencies over the whole store, for the tokens at hand."""
    df: dict[str, int] = {}
    for chunk in _chunks(sorted(f"t:{t}" for t in tokens), 900):
        for key, n in session.execute(select(MatchKey.key, func.count()).where(MatchKey.key.in_(chunk))
                                      .group_by(MatchKey.key)):
            df[key[2:]] = n
    total = session.scalar(select(func.count()).select_from(MatchState)) or 0
    return TokenStats(df, total)


def _incremental(session: Session, run: MatchRun, config: MatchingConfig) -> None:
    changed = _load(session, Designation.id.in_(
        select(Designation.id).outerjoin(MatchState, MatchState.designation_id == Designation.id)
        .where(or_(MatchState.content_hash.is_(None), MatchState.content_hash != Designation.content_hash))))
    run.designations = session.scalar(select(func.count()).select_from(Designation)) or 0
    run.changed = len(changed)
    if not changed:
        return
    changed_ids = [c.id for c in changed]
    connection = session.connection()
    for chunk in _chunks(changed_ids):
        connection.execute(delete(MatchKey).where(MatchKey.designation_id.in_(chunk)))
        connection.execute(delete(MatchState).where(MatchState.designation_id.in_(chunk)))
    _write_keys(session, changed)

    # Everything sharing a usable key with a changed designation.
    keys = set()
    for item in changed:
        tokens, exact = blocking_keys(item.record)
        keys |= tokens | exact
    counts: dict[str, int] = {}
    for chunk in _chunks(sorted(keys), 900):
        counts.update(session.execute(select(MatchKey.key, func.count()).where(MatchKey.key.in_(chunk))
                                      .group_by(MatchKey.key)).all())
    total = session.scalar(select(func.count()).select_from(MatchState)) or 0
    token_limit = max(MIN_TOKEN_DF, int(MAX_TOKEN_SHARE * max(total, 1)))
    usable = [k for k, n in counts.items() if n <= (token_limit if k.startswith("t:") else MAX_EXACT_POSTINGS)]
    neighbour_ids: set[int] = set()
    for chunk in _chunks(sorted(usable), 900):
        neighbour_ids.update(session.scalars(select(MatchKey.designation_id).where(MatchKey.key.in_(chunk))))
    neighbours = _load_ids(session, neighbour_ids - set(changed_ids))
    loaded = changed + neighbours
    records = [item.record for item in loaded]
    stats = _store_stats(session, {t for r in records for n in r.names for t in n.tokens})
    pairs = candidate_pairs(records, stats, only=set(range(len(changed))))

    changed_keys = [c.key for c in changed]
    for chunk in _chunks(changed_keys):
        connection.execute(delete(MatchPair).where(or_(MatchPair.key_a.in_(chunk), MatchPair.key_b.in_(chunk))))
    rows = _pair_rows(loaded, pairs, stats, config, run.id)
    for chunk in _chunks(rows, 2000):
        connection.execute(MatchPair.__table__.insert(), chunk)
    run.candidates = len(pairs)


Progress = Callable[[str, int, int], None]


def run_match(engine: Engine, full: bool = False, config: MatchingConfig | None = None,
              progress: Progress | None = None) -> MatchRun:
    """The match stage: score what changed (or everything); one transaction, so readers never see half a match.

    It does not cluster or refresh gaps: ``pipeline.match`` runs those stages next.
    """
    config = config or matching_config()
    Session = session_factory(engine)
    with Session.begin() as session:
        first = session.scalar(select(func.count()).select_from(MatchState)) == 0
        mode = "full" if full or first else "incremental"
        run = MatchRun(mode=mode, started_at=_now(), status="running", high=config.high, low=config.low)
        session.add(run)
        session.flush()
        if progress:
            progress(f"scoring ({mode})", 0, 1)
        (_full if mode == "full" else _incremental)(session, run, config)
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
    a, b = loaded[key_a].record, loaded[key_b].record
    stats = _store_stats(session, {t for r in (a, b) for n in r.names for t in n.tokens})
    if not stats.total:
        stats = TokenStats.build([a, b])
    score, explanation = score_pair(a, b, stats)
    config = matching_config()
    return {"pair": [key_a, key_b], "score": score, "band": config.band(score) or "below near-miss floor",
            "thresholds": {"high": config.high, "low": config.low, "near": config.near},
            "features": explanation}


def multi_jurisdiction_targets(session: Session) -> dict[int, int]:
    """How many targets are listed by 2, 3, … jurisdictions."""
    members = defaultdict(set)
    for cluster_key, jurisdiction in session.execute(
            select(TargetMember.target_id, Designation.jurisdiction)
            .join(Designation, Designation.key == TargetMember.designation_key)):
        members[cluster_key].add(jurisdiction)
    counts: dict[int, int] = defaultdict(int)
    for jurisdictions in members.values():
        if len(jurisdictions) > 1:
            counts[len(jurisdictions)] += 1
    return dict(sorted(counts.items()))
