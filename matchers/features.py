"""What the matcher compares: a compact view of one designation.

``features(designation)`` reduces a common-schema record to normalised
name token lists, birth-date intervals, nationalities and identifiers.
Everything later (candidates, scoring) works on these, never on raw text.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from matchers.normalize import name_tokens
from sanctions.schema import Designation

# Weight of a name by its type: a weak alias is too vague to carry a match alone.
NAME_WEIGHTS = {"primary": 1.0, "alias": 1.0, "fka": 0.95, "weak": 0.8}
# Identifier types whose equality means the same target (and whose difference is evidence against).
STRONG_ID_TYPES = frozenset({"passport", "national-id", "tax-id", "registration", "imo", "lei", "swift-bic",
                             "aircraft-serial", "aircraft-tail", "mmsi", "crypto-wallet", "isin", "duns", "bik"})
# Identifier types that are issued one per target (so two different values conflict).
SINGLE_ID_TYPES = frozenset({"imo", "mmsi", "lei", "aircraft-serial"})


@dataclass(frozen=True)
class NameFeature:
    text: str
    type: str
    tokens: tuple[str, ...]
    weight: float


@dataclass
class MatchRecord:
    key: str
    source: str
    jurisdiction: str
    kind: str
    names: list[NameFeature]
    birth_dates: list[tuple[int, int, bool]] = field(default_factory=list)  # ordinal bounds, circa
    nationalities: frozenset[str] = frozenset()
    identifiers: dict[str, frozenset[str]] = field(default_factory=dict)
    un_refs: frozenset[str] = frozenset()
    gender: str | None = None

    def name_signature(self) -> set[str]:
        return {" ".join(sorted(n.tokens)) for n in self.names}


def _ordinal(iso: str) -> int:
    return dt.date.fromisoformat(iso).toordinal()


def _birth_interval(earliest: str, latest: str, circa: bool) -> tuple[int, int, bool]:
    """Ordinal bounds; a bare 1 January stands for "year only" (OFAC writes ``01 Jan 1969`` so)."""
    if earliest == latest and earliest.endswith("-01-01"):
        return _ordinal(earliest), _ordinal(earliest[:4] + "-12-31"), circa
    return _ordinal(earliest), _ordinal(latest), circa


_ACRONYM = re.compile(r"\s*\(([A-Z0-9-]{2,6})\)\s*$")


def name_variants(text: str) -> list[str]:
    """The name, plus the forms publishers glue together.

    ``HAQQANI NETWORK (HQN)`` is also ``HAQQANI NETWORK`` and ``HQN``;
    ``HARAKAT UL-MUJAHIDIN / HUM`` is two names.
    """
    variants = [text]
    parts = [p.strip() for p in text.split(" / ") if p.strip()]
    if len(parts) > 1:
        variants += parts
    for part in list(variants):
        m = _ACRONYM.search(part)
        if m:
            variants += [part[: m.start()].strip(), m[1]]
    return variants


def features(d: Designation) -> MatchRecord:
    names = []
    seen: set[tuple[str, ...]] = set()
    for n in sorted(d.names, key=lambda n: (n.type != "primary", -NAME_WEIGHTS.get(n.type, 1.0))):
        for text in name_variants(n.full):
            tokens = name_tokens(text, d.kind)
            if tokens and tokens not in seen:
                seen.add(tokens)
                names.append(NameFeature(text, n.type, tokens, NAME_WEIGHTS.get(n.type, 1.0)))
    ids: dict[str, set[str]] = {}
    for ident in d.identifiers:
        if ident.type in STRONG_ID_TYPES and len(ident.normalized) >= 4:
            ids.setdefault(ident.type, set()).add(ident.normalized)
    un_refs = {a.value.upper() for a in d.attributes if a.label == "UN reference number" and a.value}
    return MatchRecord(
        key=d.key,
        source=d.source,
        jurisdiction=d.jurisdiction,
        kind=d.kind,
        names=names,
        birth_dates=[_birth_interval(b.earliest, b.latest, b.circa) for b in d.birth_dates
                     if b.earliest and b.latest],
        nationalities=frozenset(c.code for c in d.countries if c.role in ("nationality", "citizenship")),
        identifiers={k: frozenset(v) for k, v in ids.items()},
        un_refs=frozenset(un_refs),
        gender=d.gender if d.gender in ("male", "female") else None,
    )
