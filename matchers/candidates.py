"""Candidate generation: which pairs of designations are worth scoring.

An inverted index maps blocking keys to designations: folded name tokens
(weighted by rarity, so ``muhammad`` alone never makes a pair while
``prigoin`` does), whole-name signatures, identifier values and UN
reference numbers.  Each designation is paired only with designations of
other jurisdictions that share keys, best first, so the work grows with
the number of designations times a small constant, never all pairs.

Every bound is absolute (``token_postings_cap``, ``exact_postings_cap``,
``candidates_per_record`` in the configuration), never a share of the
store: a share lets the work per record grow with the store, which made
matching four times the real lists cost seven times as long.

Rarity is counted in geometric steps (``rarity_step``) of the document
frequency and of the store size.  One more record carrying ``muhammad``
then leaves every weight as it was, which is what lets an incremental
match touch only the records whose weights really changed and still
give exactly the result of a full match.
"""
from __future__ import annotations

import heapq
import math
import sys
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from operator import add
from typing import Callable, Iterable, Iterator

from matchers.features import MatchRecord
from sanctions.config import MatchingConfig

DEFAULT = MatchingConfig()
# Exact keys that may pair two records of one jurisdiction: evidence that a publisher
# lists one target twice (an equal identifier, the same OFAC entry number, the same
# full name with the same day of birth).
SAME_JURISDICTION_KEYS = ("i:", "o:", "d:")


def rarity_class(count: int, step: float) -> int:
    """The geometric step a count falls in: counts in one step weigh the same."""
    return -1 if count <= 0 else int(math.log(count) / math.log(step) + 1e-9)


@dataclass
class TokenStats:
    """Document frequency of folded name tokens, for rarity weights."""

    df: dict[str, int]
    total: int
    prior_total: int = DEFAULT.prior_total
    step: float = DEFAULT.rarity_step
    _idf: "_Weights" = field(init=False, repr=False, compare=False)
    _flat: "TokenStats | None" = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A function of the counts, not a bound method: the statistics would otherwise
        # hold themselves through their cache, and be freed only by the cyclic collector.
        self._idf = _Weights(partial(_rarity_weight, self.df, self.total, self.prior_total, self.step))

    @classmethod
    def for_config(cls, df: dict[str, int], total: int, config: MatchingConfig) -> "TokenStats":
        return cls(df, total, config.prior_total, config.rarity_step)

    def idf(self, token: str) -> float:
        return self._idf[token]

    @property
    def weight_of(self) -> Callable[[str], float]:
        """``idf`` as a bare dict look-up, for the scoring loops (a method call costs several times more)."""
        return self._idf.__getitem__

    def flat(self) -> "TokenStats":
        """Every token as rare as an unseen one: for consonant skeletons, whose frequencies
        over Latin names nobody counts (and which an incremental match could not follow).
        One per statistics, so that its weights are computed once, not once per pair."""
        if self._flat is None:
            self._flat = TokenStats({}, self.total, self.prior_total, self.step)
        return self._flat

    @classmethod
    def build(cls, records: Iterable[MatchRecord], config: MatchingConfig = DEFAULT) -> "TokenStats":
        df: dict[str, int] = defaultdict(int)
        total = 0
        for record in records:
            total += 1
            for token in record_tokens(record):
                df[token] += 1
        return cls.for_config(dict(df), total, config)


def _rarity_weight(df: dict[str, int], total: int, prior_total: int, step: float, token: str) -> float:
    # A small store (the demo, a test) is treated as a sample of a list-sized corpus,
    # so that a token seen once is rare rather than "in every record".
    size = step ** rarity_class(max(total, prior_total), step)
    k = rarity_class(df.get(token, 0), step)
    frequency = 0.0 if k < 0 else step ** k
    return math.log((size + 1) / (frequency + 1)) + 1.0


class _Weights(dict):
    """Rarity weights by token, each computed on its first look-up."""

    def __init__(self, compute: Callable[[str], float]):
        super().__init__()
        self.compute = compute

    def __missing__(self, token: str) -> float:
        value = self[token] = self.compute(token)
        return value


def record_tokens(record: MatchRecord) -> set[str]:
    return {t for n in record.names for t in n.tokens}


def _compatible_kinds(a: str, b: str) -> bool:
    return a == b


def blocking_keys(record: MatchRecord) -> tuple[set[str], set[str]]:
    """(token keys, exact keys) under which a designation is indexed.

    Every name token is a key (``t:``), so that the stored index also gives the
    document frequencies scoring uses; only tokens of three or more characters
    (or digits) are used for blocking.
    """
    return token_keys(record), exact_keys(record)


def token_keys(record: MatchRecord) -> set[str]:
    """A designation's name tokens as keys (``blocking_keys``)."""
    # Interned: a full match holds every record's keys at once, and the words recur.
    return {sys.intern(f"t:{t}") for t in record_tokens(record)}


def exact_keys(record: MatchRecord) -> set[str]:
    """A designation's exact keys: whole-name signatures, identifiers, UN references,
    OFAC entry number, full name with day of birth (``blocking_keys``)."""
    exact = {f"s:{record.kind}:{signature}" for signature in record.name_signature()}
    exact |= {f"i:{value}" for values in record.identifiers.values() for value in values}
    exact |= {f"u:{ref}" for ref in record.un_refs}
    if record.ofac_entry:
        exact.add(f"o:{record.ofac_entry}")
    days = [lo for lo, hi, circa in record.birth_dates if lo == hi and not circa]
    for signature in record.full_name_signatures():
        for day in days:
            exact.add(f"d:{record.kind}:{signature}:{day}")
    # The stored index holds keys of up to 300 characters; a longer whole name is cut alike everywhere.
    return {k[:KEY_LENGTH] for k in exact}


KEY_LENGTH = 300


def blocks(token_key: str) -> bool:
    token = token_key[2:]
    return len(token) > 2 or token.isdigit()


@dataclass
class Candidates:
    """Pairs to score, and each record's own best candidates (persisted for incremental runs)."""

    # Each pair (i, j), i < j, as the one int ``i * stride + j``: at factor 16 a set of
    # 3 million tuples costs 300 MB more than a set of ints, and sorted codes are
    # sorted pairs.
    codes: set[int]
    stride: int
    best: dict[int, list[int]]
    # The shared weight of each best candidate, in the same order: an incremental
    # match updates a record's list from these without walking its postings again.
    weights: dict[int, array] = field(default_factory=dict)

    @property
    def pairs(self) -> set[tuple[int, int]]:
        """The pairs as tuples (for a few records: tests, explanations)."""
        return {divmod(code, self.stride) for code in self.codes}


def candidate_pairs(records: list[MatchRecord], stats: TokenStats, config: MatchingConfig = DEFAULT) -> Candidates:
    """Index pairs (i < j) worth scoring, over all ``records``, all at once (a full match
    finds them step by step: ``search_candidates``).

    Pairs join records of different jurisdictions, or of one jurisdiction on
    duplicate evidence (``SAME_JURISDICTION_KEYS``).  The incremental match
    (``sanctions.incremental``) reaches the same pairs from the stored index.
    """
    found = Candidates(set(), len(records), {}, {})
    for _ in search_candidates(records, stats, config, found):
        pass
    return found


# Records whose best candidates are searched between two looks at the scorers (``search_candidates``).
SEARCH_CHUNK = 1000


def search_candidates(records: list[MatchRecord], stats: TokenStats, config: MatchingConfig,
                      found: Candidates, chunk: int = SEARCH_CHUNK) -> Iterator[tuple[int, int, list[int]]]:
    """``candidate_pairs`` in steps, filling ``found`` as it goes.

    ``found``: empty, with the stride ``len(records)``.  Yields ``(start, stop,
    codes)``: the records ``start:stop`` now have their best candidates in
    ``found``, and ``codes`` are the pairs first found in this step, sorted.
    The first step is the pairs of exact keys (an empty range of records).  A
    full match scores each step's pairs on other processes while this one
    searches the next records: the search is single-threaded Python.
    """
    if found.codes or found.stride != len(records):
        raise ValueError("search_candidates needs an empty Candidates with the stride len(records)")
    # Exact keys (identifiers, whole-name signatures) are millions of mostly unique strings
    # at scale: they are indexed by a 128-bit hash (two independent 64-bit ones), with a
    # lone member held as a bare int until a second arrives (400,000 records: about 500 MB
    # less at the peak).  Two keys would have to agree on both hashes to share a list.
    # Their pairs come first, before the token index is built: scoring can start on them.
    exact_index: dict[int, int | list[int]] = {}
    exact_key: dict[int, str] = {}
    for i, record in enumerate(records):
        for key in exact_keys(record):
            h = (hash(key) << 64) ^ hash(key[::-1])
            held = exact_index.get(h)
            if held is None:
                exact_index[h] = i
            elif isinstance(held, int):
                exact_index[h] = [held, i]
                exact_key[h] = key
            elif held[-1] != i:
                held.append(i)

    stride = len(records)
    pairs = found.codes
    for h, key in exact_key.items():
        members = exact_index[h]
        if len(members) > config.exact_postings_cap:
            continue
        same_ok = key.startswith(SAME_JURISDICTION_KEYS)
        for a in members:
            for b in members:
                if a < b and _pairable(records[a], records[b], same_ok):
                    pairs.add(a * stride + b)
    del exact_index, exact_key  # freed before the token index is built
    yield 0, 0, sorted(pairs)

    token_index: dict[str, list[int]] = defaultdict(list)
    keys_of = []
    for i, record in enumerate(records):
        # Sorted: a record's shared weights are sums of floats, and summing in one
        # fixed order keeps ties (and so the best candidates) the same in every process.
        tokens = sorted(k for k in token_keys(record) if blocks(k))
        keys_of.append(tokens)
        for key in tokens:
            token_index[key].append(i)

    # Each usable token's weight once, and its postings split by (kind, jurisdiction):
    # a record only ever pairs with its own kind in another jurisdiction, so the
    # rest of a posting list need not be walked at all.
    split_postings: dict[str, tuple[float, dict[tuple[str, str], list[int]]]] = {}
    for key, postings in token_index.items():
        if len(postings) > config.token_postings_cap:
            continue
        split: dict[tuple[str, str], list[int]] = defaultdict(list)
        for j in postings:
            split[(records[j].kind, records[j].jurisdiction)].append(j)
        split_postings[key] = (stats.idf(key[2:]), split)
    del token_index

    best_of, weights_of = found.best, found.weights
    keys = [r.key for r in records]
    limit = config.candidates_per_record
    for start in range(0, len(records), chunk):
        stop = min(start + chunk, len(records))
        new: list[int] = []
        for i in range(start, stop):
            shared: dict[int, float] = {}
            kind, jurisdiction = records[i].kind, records[i].jurisdiction
            record_keys, keys_of[i] = keys_of[i], None  # not needed again: freed as the search goes
            for key in record_keys:
                entry = split_postings.get(key)
                if entry is None:
                    continue
                weight, split = entry
                for (other_kind, other_jurisdiction), members in split.items():
                    if other_kind == kind and other_jurisdiction != jurisdiction:
                        # shared[j] += weight for every member, in C: a record is in a
                        # posting list once, and the sums still run in key order.
                        shared.update(zip(members, map(add, map(shared.get, members, repeat(0.0)), repeat(weight))))
            # Best shared weight first; ties in key order, whatever order the records came in.
            # Only weights up to the limit-th best can be among the best: the others are not
            # made into tuples at all (a common word pairs a record with hundreds).
            floor = sorted(shared.values(), reverse=True)[limit - 1] if len(shared) > limit else -math.inf
            best = heapq.nsmallest(limit, [(-w, keys[j], j) for j, w in shared.items() if w >= floor])
            best_of[i] = [j for _, _, j in best]
            weights_of[i] = array("d", [-w for w, _, _ in best])  # a float object each would cost 24 bytes
            for j in best_of[i]:
                code = i * stride + j if i < j else j * stride + i
                if code not in pairs:
                    pairs.add(code)
                    new.append(code)
        new.sort()
        yield start, stop, new


def _pairable(a: MatchRecord, b: MatchRecord, same_jurisdiction_ok: bool) -> bool:
    if not _compatible_kinds(a.kind, b.kind):
        return False
    return same_jurisdiction_ok or a.jurisdiction != b.jurisdiction
