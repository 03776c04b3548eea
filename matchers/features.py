"""What the matcher compares: a compact view of one designation.

``features(designation)`` reduces a common-schema record to normalised
name token lists, birth-date intervals, nationalities and identifiers;
``content_features(content)`` does the same from the record's stored JSON
(what a match reads from the store).
Everything later (candidates, scoring) works on these, never on raw text.
"""
from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Mapping, Set as AbstractSet
from dataclasses import dataclass, field, fields
from typing import Any

from importers.countries import country_code
from matchers.identifiers import comparable_value
from matchers.normalize import base_tokens, name_tokens
from matchers.scripts import arabic_tokens, drop_han, has_arabic, has_hangul, has_kana, hangul_romanisations, \
    latin_skeleton
from sanctions.schema import SOURCES, Designation

# Weight of a name by its type: a weak alias is too vague to carry a match alone.
NAME_WEIGHTS = {"primary": 1.0, "alias": 1.0, "fka": 0.95, "weak": 0.8}
_WEIGHTS = {w: w for w in NAME_WEIGHTS.values()}  # the weight objects, shared by unpickled names too
# Identifier types whose equality means the same target (and whose difference is evidence against).
STRONG_ID_TYPES = frozenset({"passport", "national-id", "tax-id", "registration", "imo", "lei", "swift-bic",
                             "aircraft-serial", "aircraft-tail", "mmsi", "crypto-wallet", "isin", "duns", "bik"})
# Identifier types that are issued one per target (so two different values conflict).
SINGLE_ID_TYPES = frozenset({"imo", "mmsi", "lei", "aircraft-serial"})


@dataclass(frozen=True, slots=True)
class NameFeature:
    text: str
    type: str
    tokens: tuple[str, ...]
    weight: float
    skeleton: bool = False  # tokens are Arabic consonant skeletons (compared with Latin names' skeletons)

    def __reduce__(self):
        # Unpickled with its words interned, as built: a full match's features built on a
        # worker come back pickled, and a copy of each word per chunk would cost memory.
        return _name_feature, (self.text, self.type, self.tokens, self.weight, self.skeleton)


def _name_feature(text: str, name_type: str, tokens: tuple[str, ...], weight: float, skeleton: bool) -> NameFeature:
    return NameFeature(text, sys.intern(name_type), tuple(map(sys.intern, tokens)), _WEIGHTS.get(weight, weight),
                       skeleton)


# Slots and interned tokens: a full match holds every record's features at once
# (400,000 designations at factor 16), and the same few thousand words recur.
@dataclass(slots=True)
class MatchRecord:
    key: str
    source: str
    jurisdiction: str
    kind: str
    names: list[NameFeature]
    birth_dates: list[tuple[int, int, bool]] = field(default_factory=list)  # ordinal bounds, circa
    nationalities: frozenset[str] = frozenset()
    identifiers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    un_refs: frozenset[str] = frozenset()
    gender: str | None = None
    ofac_entry: str | None = None  # OFAC ent_num, shared by an entry's SDN and non-SDN records
    address_countries: frozenset[str] = frozenset()
    name_countries: frozenset[str] = frozenset()  # an organisation's branch qualifier: "(KENYA)", "KENYA BRANCH"
    _skeletons: list[NameFeature] | None = field(default=None, repr=False, compare=False)

    def __reduce__(self):
        # Unpickled sharing what records built here share (interned words, one set per
        # distinct set of countries: see ``content_features``); the skeletons are made again.
        return _match_record, ({f.name: getattr(self, f.name) for f in fields(self) if f.name != "_skeletons"},)

    def latin_skeletons(self) -> list[NameFeature]:
        """Consonant skeletons of the Latin-script names, made when an Arabic-script name needs them."""
        if self._skeletons is None:
            out, seen = [], set()
            for n in self.names:
                if n.skeleton:
                    continue
                tokens = tuple(s for s in (latin_skeleton(t) for t in base_tokens(n.text, self.kind)) if s)
                if tokens and tokens not in seen:
                    seen.add(tokens)
                    out.append(NameFeature(n.text, n.type, tokens, n.weight, skeleton=True))
            self._skeletons = out
        return self._skeletons

    def name_signature(self) -> set[str]:
        return {" ".join(sorted(n.tokens)) for n in self.names}

    def full_name_signatures(self) -> set[str]:
        """Whole names of two or more words, not weak aliases: with an equal day of birth, one person."""
        return {" ".join(n.tokens) for n in self.names if n.type != "weak" and len(n.tokens) >= 2}


def _ordinal(iso: str) -> int:
    return dt.date.fromisoformat(iso).toordinal()


def birth_interval(earliest: str, latest: str, circa: bool) -> tuple[int, int, bool]:
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


# Where publishers write which country office of an organisation a record is.
_QUALIFIERS = (
    re.compile(r"\(([^()]{3,40})\)"),                                   # AL-HARAMAIN (KENYA)
    re.compile(r"(?:^|[:,\-]\s*|\s)((?:[A-Za-z]+\s){0,2}[A-Za-z]+)\s+(?:BRANCH|OFFICE)\b", re.I),  # KENYA BRANCH
    re.compile(r"\b(?:BRANCH|OFFICE)\s+(?:IN|OF)\s+((?:[A-Za-z]+\s?){1,3})$", re.I),   # OFFICE IN KENYA
    re.compile(r"\s[-:]\s+((?:[A-Za-z]+\s?){1,3})$"),                  # AL-HARAMAIN - KENYA
)


# What each qualifier pattern needs in a name before it can match: most names have none
# of these, and one literal search is cheaper than trying every pattern at every position.
_QUALIFIER_SIGNS = re.compile(r"[(:\-]|BRANCH|OFFICE", re.I)


def name_countries(text: str) -> set[str]:
    """Countries an organisation's name qualifies it by (a branch or country office)."""
    found: set[str] = set()
    if not _QUALIFIER_SIGNS.search(text):
        return found
    for pattern in _QUALIFIERS:
        for m in pattern.finditer(text):
            words = m[1].split()
            # "ISLAMIC FOUNDATION KENYA BRANCH": try the last one, two, three words.
            for n in range(1, len(words) + 1):
                code = country_code(" ".join(words[-n:]))
                if code:
                    found.add(code)
                    break
    return found


_OFAC_SOURCES = ("us-sdn", "us-cons")


def _texts(full: str) -> list[str]:
    """The forms of one published name to compare: Hangul in both Koreas' romanisations."""
    if has_hangul(full):
        return [v for r in hangul_romanisations(full) for v in name_variants(r)]
    return name_variants(full)


def features(d: Designation) -> MatchRecord:
    """The features of one record in the common schema (a probe, a test's record)."""
    return content_features(d.content())


def content_features(d: Mapping[str, Any]) -> MatchRecord:
    """The features of a record in its stored JSON form (``Designation.content()``).

    A full match reads every stored record: building the schema's dataclasses
    of each first (addresses, contacts, every nested part) cost as much as the
    features themselves, so the features are read from the JSON as it is.
    Fields the schema gives a default may be absent (content stored by an
    older version): ``.get`` reads them as the dataclasses' defaults would.
    Keys the matcher does not use are not checked: the store wrote this JSON
    from a ``Designation`` (``store.prepare``), so it is well-formed already.
    """
    kind = d["kind"]
    names_in = d.get("names") or ()
    nationalities = {c["code"] for c in d.get("countries") or () if c["role"] in ("nationality", "citizenship")}
    # Kanji in a Japanese name are not its Chinese readings: leave them out.
    japanese = "JP" in nationalities or any(has_kana(n["full"]) or (n.get("language") or "").lower() in ("ja", "jpn")
                                            for n in names_in)
    names = []
    seen: set[tuple[str, ...]] = set()
    for n in sorted(names_in, key=lambda n: (n.get("type", "primary") != "primary",
                                             -NAME_WEIGHTS.get(n.get("type", "primary"), 1.0))):
        name_type = n.get("type", "primary")
        for text in _texts(n["full"]):
            skeleton = has_arabic(text)
            if skeleton:
                tokens = arabic_tokens(text)
            else:
                tokens = name_tokens(drop_han(text) if japanese else text, kind)
            if tokens and (skeleton, tokens) not in seen:
                tokens = tuple(sys.intern(t) for t in tokens)
                seen.add((skeleton, tokens))
                names.append(NameFeature(text, sys.intern(name_type), tokens, NAME_WEIGHTS.get(name_type, 1.0),
                                         skeleton))
    ids: dict[str, set[str]] = {}
    for ident in d.get("identifiers") or ():
        if ident["type"] in STRONG_ID_TYPES:
            value = comparable_value(ident["type"], ident["normalized"], ident.get("country"))
            if value and len(value) >= 4:
                ids.setdefault(ident["type"], set()).add(value)
    qualifiers: set[str] = set()
    if kind == "organization":
        for n in names_in:
            if n.get("type") != "weak":
                qualifiers |= name_countries(n["full"])
    un_refs = {a["value"].upper() for a in d.get("attributes") or ()
               if a["label"] == "UN reference number" and a["value"]}
    gender = d.get("gender")
    return MatchRecord(
        key=d["key"],
        source=sys.intern(d["source"]),
        jurisdiction=sys.intern(d.get("jurisdiction") or SOURCES[d["source"]]),
        kind=sys.intern(kind),
        names=names,
        birth_dates=[birth_interval(b["earliest"], b["latest"], b.get("circa", False))
                     for b in d.get("birth_dates") or () if b["earliest"] and b["latest"]],
        nationalities=_shared(nationalities),
        identifiers={k: frozenset(v) for k, v in ids.items()} if ids else _NO_IDENTIFIERS,
        un_refs=_frozen(un_refs),
        gender=sys.intern(gender) if gender in ("male", "female") else None,
        ofac_entry=d["source_id"] if d["source"] in _OFAC_SOURCES else None,
        address_countries=_shared({a["country"] for a in d.get("addresses") or () if a.get("country")}),
        name_countries=_shared(qualifiers),
    )


# Memory: a full match holds every record's features at once (400,000 at factor 16), and
# an empty set or dict costs 60 to 200 bytes.  Empty values are one shared object each;
# what is shared is immutable (a frozenset, a read-only mapping).
_EMPTY: frozenset[str] = frozenset()


class _NoIdentifiers(Mapping):
    """The identifiers of a record that has none: read-only, one object, and picklable
    (unlike a ``MappingProxyType``), so records can still be copied between processes."""

    __slots__ = ()

    def __getitem__(self, key: str) -> frozenset[str]:
        raise KeyError(key)

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0

    def __reduce__(self) -> str:
        return "_NO_IDENTIFIERS"


_NO_IDENTIFIERS: Mapping[str, frozenset[str]] = _NoIdentifiers()
# Sets of country codes take a few thousand distinct values over any number of records:
# equal sets are one shared object.  Bounded: a long-running web process also makes
# features of what users type, and must not keep every new value for its lifetime.
_COUNTRY_SETS: dict[frozenset[str], frozenset[str]] = {}
_COUNTRY_SETS_LIMIT = 50_000


def _frozen(values: AbstractSet[str]) -> frozenset[str]:
    return frozenset(values) if values else _EMPTY


def _shared(codes: AbstractSet[str]) -> frozenset[str]:
    """The one shared frozenset equal to a set of country codes."""
    if not codes:
        return _EMPTY
    frozen = frozenset(codes)
    if len(_COUNTRY_SETS) >= _COUNTRY_SETS_LIMIT:
        return _COUNTRY_SETS.get(frozen, frozen)
    return _COUNTRY_SETS.setdefault(frozen, frozen)


def _match_record(values: dict[str, Any]) -> MatchRecord:
    """A record unpickled (``MatchRecord.__reduce__``)."""
    for name in ("source", "jurisdiction", "kind", "gender"):
        if values[name] is not None:
            values[name] = sys.intern(values[name])
    for name in ("nationalities", "address_countries", "name_countries"):
        values[name] = _shared(values[name])
    values["un_refs"] = _frozen(values["un_refs"])
    if not values["identifiers"]:
        values["identifiers"] = _NO_IDENTIFIERS
    return MatchRecord(**values)
