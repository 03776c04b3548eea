"""Candidate generation: which pairs of designations are worth scoring.

An inverted index maps blocking keys to designations: folded name tokens
(weighted by rarity, so ``muhammad`` alone never makes a pair while
``prigoin`` does), whole-name signatures, identifier values and UN
reference numbers.  Each designation is paired only with designations of
other jurisdictions that share keys, best first, so the work grows with
the number of designations times a small constant, never all pairs.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from matchers.features import MatchRecord

MAX_TOKEN_SHARE = 0.02   # a token on more than 2% of designations is too common to block on
MIN_TOKEN_DF = 300       # ... unless it is on fewer designations than this
PRIOR_TOTAL = 5000       # corpus size assumed for rarity weights in small stores
MAX_PER_RECORD = 10      # candidates kept per designation by name evidence


@dataclass
class TokenStats:
    """Document frequency of folded name tokens, for rarity weights."""

    df: dict[str, int]
    total: int

    def idf(self, token: str) -> float:
        # A small store (the demo, a test) is treated as a sample of a list-sized corpus,
        # so that a token seen once is rare rather than "in every record".
        total = max(self.total, PRIOR_TOTAL)
        return math.log((total + 1) / (self.df.get(token, 0) + 1)) + 1.0

    @classmethod
    def build(cls, records: Iterable[MatchRecord]) -> "TokenStats":
        df: dict[str, int] = defaultdict(int)
        total = 0
        for record in records:
            total += 1
            for token in {t for n in record.names for t in n.tokens}:
                df[token] += 1
        return cls(dict(df), total)


def _compatible_kinds(a: str, b: str) -> bool:
    return a == b


def blocking_keys(record: MatchRecord) -> tuple[set[str], set[str]]:
    """(rarity-weighted token keys, exact keys) under which a designation is indexed."""
    tokens = {f"t:{t}" for n in record.names for t in n.tokens if len(t) > 2 or t.isdigit()}
    exact = {f"s:{record.kind}:{signature}" for signature in record.name_signature()}
    exact |= {f"i:{value}" for values in record.identifiers.values() for value in values}
    exact |= {f"u:{ref}" for ref in record.un_refs}
    return tokens, exact


MAX_EXACT_POSTINGS = 50  # a placeholder number shared by many records blocks nothing


def candidate_pairs(records: list[MatchRecord], stats: TokenStats,
                    only: set[int] | None = None) -> set[tuple[int, int]]:
    """Index pairs (i < j) from different jurisdictions worth scoring.

    ``only`` restricts the pairs to those touching these record indices
    (incremental matching).  ``records`` may then be a subset of the store,
    provided it holds every record sharing a key with those; ``stats`` must
    describe the whole store.
    """
    limit = max(MIN_TOKEN_DF, int(MAX_TOKEN_SHARE * max(stats.total, 1)))
    token_index: dict[str, list[int]] = defaultdict(list)
    exact_index: dict[str, list[int]] = defaultdict(list)
    keys_of = []
    for i, record in enumerate(records):
        tokens, exact = blocking_keys(record)
        keys_of.append((tokens, exact))
        for key in tokens:
            if stats.df.get(key[2:], 0) <= limit:
                token_index[key].append(i)
        for key in exact:
            exact_index[key].append(i)

    pairs: set[tuple[int, int]] = set()
    for members in exact_index.values():
        if len(members) > MAX_EXACT_POSTINGS:
            continue
        for a in members:
            for b in members:
                if a < b and _pairable(records, a, b, only):
                    pairs.add((a, b))

    targets = range(len(records)) if only is None else sorted(only)
    for i in targets:
        record = records[i]
        shared: dict[int, float] = defaultdict(float)
        for key in keys_of[i][0]:
            postings = token_index.get(key)
            if not postings:
                continue
            weight = stats.idf(key[2:])
            for j in postings:
                if j != i:
                    shared[j] += weight
        # Best shared weight first; ties in key order, whatever order the records came in.
        best = sorted(((w, j) for j, w in shared.items()
                       if records[j].jurisdiction != record.jurisdiction
                       and _compatible_kinds(records[j].kind, record.kind)),
                      key=lambda wj: (-wj[0], records[wj[1]].key))
        for _, j in best[:MAX_PER_RECORD]:
            pairs.add((min(i, j), max(i, j)))
    return pairs


def _pairable(records: list[MatchRecord], a: int, b: int, only: set[int] | None) -> bool:
    if records[a].jurisdiction == records[b].jurisdiction:
        return False
    if not _compatible_kinds(records[a].kind, records[b].kind):
        return False
    return only is None or a in only or b in only
