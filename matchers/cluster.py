"""Clustering: join designations into targets, honouring officers' decisions.

Links are taken strongest first (union-find).  A link is refused when the
merged cluster would contain a pair an officer marked ``different``, or two
designations of the same source (one publisher lists a target once; two of
its records in one cluster means a chain of weaker links went astray).
Pairs an officer marked ``same`` are joined first, whatever their score.

The exception is a publisher listing one target twice (OFAC under two
entry numbers, the UK once per regime).  The scorer links two records of
one source only on strong evidence (an equal identifier without conflict,
the same full name with the same day of birth); such links are joined
before all others and the two records then count as one for the rule
above, so a weaker link still cannot bring in a third record of that source.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable


class _Clusters:
    def __init__(self, keys: Iterable[str], source_of: dict[str, str]):
        self.parent = {k: k for k in keys}
        self.members: dict[str, set[str]] = {k: {k} for k in self.parent}
        self.sources: dict[str, dict[str, int]] = {k: {source_of[k]: 1} for k in self.parent}

    def find(self, key: str) -> str:
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str, duplicate: bool = False) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] |= self.members.pop(rb)
        merged = self.sources[ra]
        for source, n in self.sources.pop(rb).items():
            # Records one publisher lists twice hold one place of that source.
            merged[source] = max(merged.get(source, 0), n) if duplicate else merged.get(source, 0) + n


def cluster(
    keys: Iterable[str],
    source_of: dict[str, str],
    links: Iterable[tuple[str, str, float]],
    same: Iterable[tuple[str, str]] = (),
    different: Iterable[tuple[str, str]] = (),
) -> list[set[str]]:
    """Clusters of two or more keys, from scored links and pair decisions."""
    clusters = _Clusters(keys, source_of)
    blocked: dict[str, set[str]] = defaultdict(set)
    for a, b in different:
        blocked[a].add(b)
        blocked[b].add(a)

    def allowed(a: str, b: str, forced: bool) -> bool:
        ra, rb = clusters.find(a), clusters.find(b)
        if ra == rb:
            return False
        small, big = sorted((ra, rb), key=lambda r: len(clusters.members[r]))
        if any(blocked[k] & clusters.members[big] for k in clusters.members[small]):
            return False
        if forced:
            return True
        return not (set(clusters.sources[ra]) & set(clusters.sources[rb]))

    for a, b in same:
        if a in clusters.parent and b in clusters.parent and allowed(a, b, forced=True):
            clusters.union(a, b)
    # Strongest first; equal strengths in key order, so that every database gives the same targets.
    ordered = sorted(links, key=lambda link: (-link[2], link[0], link[1]))
    for a, b, _score in ordered:
        if source_of[a] == source_of[b] and allowed(a, b, forced=True):
            clusters.union(a, b, duplicate=True)
    for a, b, _score in ordered:
        if source_of[a] != source_of[b] and allowed(a, b, forced=False):
            clusters.union(a, b)
    return [members for members in clusters.members.values() if len(members) > 1]
