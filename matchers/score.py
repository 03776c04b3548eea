"""Scoring a pair of designations, with an explanation of every feature's contribution.

The score starts from the best name similarity over all names and aliases
(weak aliases count less) and is moved by the other evidence:

- kind: a person never matches a vessel (score 0);
- identifiers: the same IMO (or other vessel and aircraft number) is
  decisive, also across a rename; for persons and organisations the same
  passport, national id, registration or tax number, or UN reference
  number, is decisive only when names, dates of birth and gender do not
  conflict, and sends the pair to the review band, naming the conflict,
  when they do.  Values are compared only between types that can hold the
  same number.  A different number of a type issued once per target (IMO,
  MMSI, LEI, aircraft serial) is strong evidence against;
- organisations with country offices: two records naming different
  countries in the name ("(KENYA)", "PAKISTAN BRANCH"), or one naming a
  country the other's addresses do not include, are different offices;
- duplicates: two records of one jurisdiction are scored only as
  duplicates (the same OFAC entry number, an equal identifier without
  conflict, or the same full name with the same day of birth);
- dates of birth: the same day raises the score, compatible precisions
  (``1965`` vs ``1965-04-29``) raise it a little, conflicting dates lower
  it a lot;
- nationalities: agreement raises it a little, conflict lowers it;
- gender: a conflict lowers it a lot.

The explanation is a dict of feature -> {"value": …, "contribution": …} so
an officer can see why two records were, or were not, linked.
"""
from __future__ import annotations

import datetime as dt
import functools
from typing import Any, Callable

from rapidfuzz.distance import JaroWinkler
from rapidfuzz.fuzz import ratio

from matchers.candidates import DEFAULT, TokenStats
from matchers.features import SINGLE_ID_TYPES, MatchRecord, NameFeature
from matchers.identifiers import compatible_types
from matchers.normalize import is_patronymic
from sanctions.config import MatchingConfig

jaro_winkler = JaroWinkler.normalized_similarity

# Kinds whose identifier (IMO, MMSI, serial, tail number) is the target itself, whatever it is called.
ID_IS_TARGET_KINDS = frozenset({"vessel", "aircraft"})


def token_alignment(a: tuple[str, ...], b: tuple[str, ...], stats: TokenStats, person: bool = True,
                    config: MatchingConfig = DEFAULT, need: float = 0.0,
                    totals: tuple[float, float] | None = None) -> float:
    """How much of both names is matched, weighting tokens by rarity.

    The shorter name must be covered well.  For persons, tokens missing from
    the longer name (a patronymic, a second given name) cost less than for
    organisations, where an extra word ("Pakistan") often names another
    branch.  A match on little information (one common word such as
    ``jihad``) is scaled down by its summed rarity.

    Each word of the shorter name takes the most similar free word of the
    longer one (the first, on a tie).  Two words are similar when equal, or,
    neither being a number, by Jaro-Winkler, which rewards a shared beginning
    as surnames often have ("Kolbin", "Kozin"), provided they are also close
    in edits (``token_edits``): most pairs fail that test, so it comes first.
    This is the innermost loop of matching (six million word pairs on the
    real lists), hence the local names.

    ``need``: the caller only cares whether the result reaches this much.  Once
    the words still to align could no longer lift it that high, even matching
    perfectly, a bound below ``need`` is returned instead of the exact value
    (``prune_level`` says how the scorer chooses it).

    ``totals``: the summed rarity of ``a`` and of ``b``, where the caller has them already.
    """
    idf = stats.weight_of
    if len(a) <= len(b):
        short, long_ = a, b
        total_short = totals[0] if totals else None
    else:
        short, long_ = b, a
        total_short = totals[1] if totals else None
    edits = config.token_edits
    used: set[int] = set()
    matched_short = 0.0
    matched_long = 0.0
    threshold = config.token_match if len(short) > 1 else 0.95
    short_weight = 0.6 if person else 0.5
    if total_short is None:
        total_short = sum(map(idf, short))
    if need > 0.0:
        # Every word matched at most once and at similarity at most 1: the shorter name's
        # rarity left unmatched caps both its cover and the name's mass.
        left = total_short
        if min(1.0, total_short / config.min_name_mass) < need:
            return 0.0
    for token in short:
        best, best_j = 0.0, -1
        number = token.isdigit()
        for j, other in enumerate(long_):
            if j in used:
                continue
            if other == token:
                sim = 1.0
            elif number or other.isdigit() or ratio(token, other) / 100.0 < edits:
                continue  # similarity 0: never better than the best so far
            else:
                sim = jaro_winkler(token, other)
            if sim > best:
                best, best_j = sim, j
                if sim == 1.0:
                    break  # nothing can beat an equal word
        if need > 0.0:
            left -= idf(token)
        # A one-word name must match almost exactly: "Yenergy" is not "AA Energy".
        if best >= threshold:
            used.add(best_j)
            matched_short += idf(token) * best
            matched_long += idf(long_[best_j]) * best
        elif need > 0.0:
            # This word's rarity is lost for good: at best every word still to come matches.
            reachable = matched_short + left
            bound = ((short_weight * reachable / total_short + 1 - short_weight)
                     * min(1.0, reachable / config.min_name_mass)) if total_short else 0.0
            if bound < need:
                return bound
    if not used:
        return 0.0  # nothing matched: the cover below would be 0 too
    if not total_short:
        return 0.0
    # An unmatched patronymic in the longer name costs little; any other missing word costs in full.
    unmatched = [t for j, t in enumerate(long_) if j not in used]
    patronymic = [person and is_patronymic(t) for t in unmatched]
    total_long = matched_long + sum(idf(t) * (0.25 if p else 1.0) for t, p in zip(unmatched, patronymic))
    cover_short = matched_short / total_short
    cover_long = matched_long / total_long if total_long else 0.0
    mass = min(1.0, matched_short / config.min_name_mass)
    score = (short_weight * cover_short + (1 - short_weight) * cover_long) * mass
    # Both names carrying a word the other lacks ("Yasir" / "Omar" before the same family
    # name) is a mismatch, not an omission: brothers share everything else.
    if cover_short < 0.999 and not all(patronymic):
        score *= config.mismatch_factor
    return score


def name_similarity(a: NameFeature, b: NameFeature, stats: TokenStats, person: bool = True,
                    config: MatchingConfig = DEFAULT, joined: float | None = None, need: float = 0.0,
                    totals: tuple[float, float] | None = None) -> float:
    """Similarity of two names: their words aligned, or their joined spellings.

    ``joined`` is ``joined_similarity`` of the two, and ``totals`` their words' summed
    rarity, where the caller has them already.
    ``need``: a result below it may be a bound instead of the exact value (``token_alignment``).
    """
    aligned = token_alignment(a.tokens, b.tokens, stats, person, config, need, totals)
    if joined is None:
        joined = joined_similarity(spellings(a), spellings(b))
    if joined < 0.92:
        return aligned
    if totals is None:
        idf = stats.weight_of
        totals = sum(map(idf, a.tokens)), sum(map(idf, b.tokens))
    mass = min(1.0, totals[0] / config.min_name_mass, totals[1] / config.min_name_mass)
    return max(aligned, 0.97 * joined * mass)


def spellings(name: NameFeature) -> tuple[str, str]:
    """A name's words joined as written and joined in sorted order."""
    return "".join(name.tokens), "".join(sorted(name.tokens))


def joined_similarity(a: tuple[str, str], b: tuple[str, str], as_written: float | None = None) -> float:
    """Joined spellings catch split or merged tokens ("Abdulhai" vs "Abdul Hai"): the
    better of the ``spellings`` joined as written and in sorted order (0..1).

    ``as_written`` is ``ratio`` of the first two, where the caller has it already.
    """
    if as_written is None:
        as_written = ratio(a[0], b[0])
    return max(as_written, ratio(a[1], b[1])) / 100.0


# Name similarity at which a name pair counts as one more agreeing name (``best_names``).
AGREEING = 0.9


def _scaled(prune: float, factor: float) -> float:
    """What a name similarity must reach for ``similarity * factor`` to reach ``prune``."""
    return prune / factor if prune and factor > 0 else 0.0


# What ``best_names`` reads of one name in every pair its record is in: the name, its words
# as a set, its ``spellings`` and its words' summed rarity (a plain tuple: made for
# every record a match scores, it is built faster and read as fast as anything else).
_PreparedName = tuple[NameFeature, frozenset[str], tuple[str, str], float]

# Each record's prepared names, by ``id`` (the entry holds the record, so no other object
# can take its id while it is here), with the statistics the rarities come from.  Pairs
# come sorted by their first record, which is so prepared once for all its candidates.
# Bounded: emptied when full, so the memory stays small whatever the store's size.  A
# record's names are never changed once its features are built (``features``), which is
# what makes an entry stay true; under threads (the web's screening) each look-up and
# store is one dict operation, and a stale answer is impossible for the same reasons.
_PREPARED: dict[int, tuple[MatchRecord, TokenStats, list[_PreparedName]]] = {}
_PREPARED_LIMIT = 8192


def forget_prepared() -> None:
    """Empty the cache of prepared names (a match calls it when done: its records need not stay alive)."""
    _PREPARED.clear()


def _prepared(record: MatchRecord, stats: TokenStats) -> list[_PreparedName]:
    entry = _PREPARED.get(id(record))
    if entry is not None and entry[0] is record and entry[1] is stats:
        return entry[2]
    idf = stats.weight_of
    names = [(n, frozenset(n.tokens), spellings(n), sum(map(idf, n.tokens))) for n in record.names]
    if len(_PREPARED) >= _PREPARED_LIMIT:
        _PREPARED.clear()
    _PREPARED[id(record)] = (record, stats, names)
    return names


def best_names(a: MatchRecord, b: MatchRecord, stats: TokenStats, config: MatchingConfig = DEFAULT,
               need: float = 0.0) -> tuple[float, int, NameFeature | None, NameFeature | None]:
    """Best name similarity over all name pairs, and how many distinct names agree (>= 0.9).

    ``need``: the caller discards the result unless the best similarity reaches this
    much.  Name pairs that provably stay below ``prune_level(need)`` are then not
    aligned word by word: none of them could be the best, or agree.
    """
    person = a.kind == "person"
    prune = prune_level(need)
    best: tuple[float, NameFeature | None, NameFeature | None] = (0.0, None, None)
    agreeing: set[tuple[str, ...]] = set()
    prepared_b = _prepared(b, stats)
    for na, a_words, a_spelled, a_total in _prepared(a, stats):
        for nb, b_words, b_spelled, b_total in prepared_b:
            # Arabic-script skeletons are compared with Latin names' skeletons below, not with their words.
            if na.skeleton != nb.skeleton:
                continue
            as_written = ratio(a_spelled[0], b_spelled[0])
            # Cheap screen: no common token and unlike spellings cannot reach a useful score.
            if as_written < 60 and a_words.isdisjoint(b_words):
                continue
            joined = joined_similarity(a_spelled, b_spelled, as_written)
            factor = config.weak_name_factor if min(na.weight, nb.weight) < 1.0 else 1.0
            sim = name_similarity(na, nb, stats, person, config, joined, _scaled(prune, factor),
                                  (a_total, b_total)) * factor
            if sim >= AGREEING:
                agreeing.add(na.tokens)
            if sim > best[0]:
                best = (sim, na, nb)
    flat = None
    for x, y, flip in ((a, b, False), (b, a, True)):
        arabic = [n for n in x.names if n.skeleton]
        if not arabic:
            continue
        flat = flat or stats.flat()
        for na in arabic:
            for nb in y.latin_skeletons():
                factor = config.skeleton_factor * (config.weak_name_factor if min(na.weight, nb.weight) < 1.0
                                                   else 1.0)
                sim = name_similarity(na, nb, flat, person, config, need=_scaled(prune, factor)) * factor
                if sim > best[0]:
                    best = (sim, nb, na) if flip else (sim, na, nb)
    return best[0], len(agreeing), best[1], best[2]


def _near_dates(a: int, b: int) -> bool:
    """Two exact dates one slip apart, as seen between the real lists: a digit of the day or
    month, day and month swapped, or the same day and month with one digit of the year
    different (``1952-09-05`` / ``1962-09-05``) or a year off."""
    da, db = dt.date.fromordinal(a), dt.date.fromordinal(b)
    if da.year == db.year:
        sa, sb = da.strftime("%m%d"), db.strftime("%m%d")
        return sum(x != y for x, y in zip(sa, sb)) == 1 or (da.month == db.day and da.day == db.month)
    if (da.month, da.day) != (db.month, db.day):
        return False
    return abs(da.year - db.year) == 1 or sum(x != y for x, y in zip(str(da.year), str(db.year))) == 1


def _dob_relation(a: MatchRecord, b: MatchRecord) -> str:
    return birth_date_relation(a.birth_dates, b.birth_dates)


def birth_date_relation(dates_a: list[tuple[int, int, bool]], dates_b: list[tuple[int, int, bool]]) -> str:
    """same-day, compatible, near (a typo or a year apart), conflict or unknown.

    The one rule for comparing dates of birth: intervals of day ordinals
    (``matchers.features.birth_interval``), a circa date widened by a year.
    """
    if not dates_a or not dates_b:
        return "unknown"
    relation = "conflict"
    for a0, a1, ac in dates_a:
        for b0, b1, bc in dates_b:
            slack = 366 if (ac or bc) else 0
            if a0 - slack <= b1 and b0 - slack <= a1:
                if a0 == a1 == b0 == b1:
                    return "same-day"
                relation = "compatible"
            elif relation == "conflict":
                exact = a0 == a1 and b0 == b1
                if (exact and _near_dates(a0, b0)) or (not exact and a0 - 366 <= b1 and b0 - 366 <= a1):
                    relation = "near"
    return relation


def _shared_identifiers(a: MatchRecord, b: MatchRecord) -> list[str]:
    """Equal values of compatible identifier types, as ``type:value`` (``a-type/b-type:value`` across types)."""
    shared = []
    for ta, values_a in a.identifiers.items():
        for tb, values_b in b.identifiers.items():
            if not compatible_types(ta, tb):
                continue
            for value in sorted(values_a & values_b):
                shared.append(f"{ta}:{value}" if ta == tb else f"{ta}/{tb}:{value}")
    return sorted(set(shared))


def _branch(a: MatchRecord, b: MatchRecord) -> tuple[str, str] | None:
    """(relation, detail) for organisations whose names or addresses place them in countries."""
    if a.kind != "organization" or not (a.name_countries or b.name_countries):
        return None
    if a.name_countries and b.name_countries:
        agree = bool(a.name_countries & b.name_countries)
        detail = f"named {sorted(a.name_countries)} vs {sorted(b.name_countries)}"
    else:
        named, other = (a, b) if a.name_countries else (b, a)
        if not other.address_countries:
            return None
        agree = bool(named.name_countries & other.address_countries)
        detail = f"named {sorted(named.name_countries)} vs addresses in {sorted(other.address_countries)}"
    return ("same office" if agree else "another office"), detail


def _duplicate_evidence(a: MatchRecord, b: MatchRecord, shared_ids: list[str], conflicts: list[str],
                        dob: str, name_score: float, config: MatchingConfig) -> str | None:
    """Why two records of one jurisdiction are one target, or None if the evidence is not strong.

    A publisher that lists two records usually means two targets (a company and
    its branch share a tax number), so an equal identifier counts only with
    close names, except for vessels and aircraft, whose number is the target.
    """
    if a.ofac_entry and a.ofac_entry == b.ofac_entry:
        return f"same OFAC entry number {a.ofac_entry}"
    names_close = a.kind in ID_IS_TARGET_KINDS or name_score >= config.duplicate_name_min
    if shared_ids and not conflicts and names_close:
        return f"equal identifier {shared_ids[0]}"
    same_name = a.full_name_signatures() & b.full_name_signatures()
    if same_name and dob == "same-day" and not conflicts:
        return f"same full name ({sorted(same_name)[0]}) and day of birth"
    return None


# Below ``floor`` by this much at least before a pair is set aside unscored: the score is
# rounded to four places before it is banded, and the bound is summed in another order.
FLOOR_MARGIN = 0.001


def prune_level(need: float) -> float:
    """Name pairs provably below this similarity can be skipped when the best must reach
    ``need``: never above ``AGREEING``, so the count of agreeing names stays exact."""
    return min(need, AGREEING) - 1e-9 if need > 0.0 else 0.0


def _bounds_hold(config: MatchingConfig) -> bool:
    """Whether a name similarity is at most 1 under this configuration (the bounds assume it)."""
    return _factors_at_most_one(config.weak_name_factor, config.skeleton_factor, config.mismatch_factor)


@functools.cache
def _factors_at_most_one(*factors: float) -> bool:
    # Cached: asked for nearly every pair, and a configuration has one answer.
    return all(0.0 < f <= 1.0 for f in factors)


def score_pair(a: MatchRecord, b: MatchRecord, stats: TokenStats,
               config: MatchingConfig = DEFAULT, floor: float | None = None) -> tuple[float, dict]:
    """(score in 0..1, explanation) for two designations.

    ``floor``: the caller keeps only pairs scoring at least this much (a match
    stores pairs from the ``near`` band up), and nine candidate pairs in ten
    score less on the real lists.  The evidence besides names is then weighed
    first, which bounds what the names must reach: a pair that cannot reach
    the floor returns ``(0.0, {})`` at once, names that cannot lift it there
    are not aligned word by word, and a pair that falls short returns its score
    (or a bound of it, still below the floor) without an explanation.  Every
    pair that reaches the floor gets exactly the score and explanation it
    would without one.  A floor of 0 (a ``near`` band from 0) bounds nothing:
    scores are clamped at 0, so every pair reaches it.
    """
    explanation: dict[str, dict] = {}
    if a.kind != b.kind:
        explanation["kind"] = {"value": f"{a.kind} vs {b.kind}", "contribution": "never the same target"}
        return 0.0, explanation

    both_identified = bool(a.identifiers and b.identifiers)  # most records of persons carry none
    shared_ids = _shared_identifiers(a, b) if both_identified else []
    shared_refs = sorted(a.un_refs & b.un_refs)
    # The evidence besides names, in the order it is added to the score and explained:
    # (feature, contribution, its explanation's value, made only for a pair that is kept).
    evidence: list[tuple[str, float, Callable[[], Any]]] = []
    if not (shared_ids or shared_refs):
        conflicts_ids = []
        if both_identified:
            conflicts_ids = sorted(t for t in SINGLE_ID_TYPES if a.identifiers.get(t) and b.identifiers.get(t))
        if conflicts_ids:
            evidence.append(("identifiers", config.id_conflict, lambda: f"different {', '.join(conflicts_ids)}"))
        if a.un_refs and b.un_refs:
            evidence.append(("un_reference", config.id_conflict,
                             lambda: f"{sorted(a.un_refs)} vs {sorted(b.un_refs)}"))
    dob = _dob_relation(a, b)
    dob_effect = {"same-day": config.dob_same_day, "compatible": config.dob_compatible,
                  "near": config.dob_near, "conflict": config.dob_conflict, "unknown": 0.0}[dob]
    evidence.append(("birth_date", dob_effect, lambda: dob))
    if a.nationalities and b.nationalities:
        agree = bool(a.nationalities & b.nationalities)
        evidence.append(("nationality", config.nationality_agree if agree else config.nationality_conflict,
                         lambda: "agree" if agree else f"{sorted(a.nationalities)} vs {sorted(b.nationalities)}"))
    else:
        evidence.append(("nationality", 0.0, lambda: "unknown"))
    gender_conflict = bool(a.gender and b.gender and a.gender != b.gender)
    if gender_conflict:
        evidence.append(("gender", config.gender_conflict, lambda: f"{a.gender} vs {b.gender}"))
    branch = _branch(a, b)
    if branch:
        evidence.append(("branch", config.branch_agree if branch[0] == "same office" else config.branch_conflict,
                         lambda: f"{branch[0]}: {branch[1]}"))

    need = 0.0
    # An equal identifier sets the score whatever the names, and so does duplicate evidence
    # within one jurisdiction: only other pairs are bounded.  A floor of 0 keeps every pair
    # (scores are clamped at 0), so nothing may then be cut short.
    bounded = (floor is not None and floor > 0.0 and not (shared_ids or shared_refs)
               and a.jurisdiction != b.jurisdiction and _bounds_hold(config))
    if bounded:
        most_besides_names = (max(0.0, config.name_support * 5) + max(0.0, config.primary_bonus * 2)
                              + sum(contribution for _, contribution, _ in evidence))
        need = floor - FLOOR_MARGIN - most_besides_names
        if need > 1.0:
            return 0.0, {}

    name_score, agreeing, na, nb = best_names(a, b, stats, config, need)
    # Several different names agreeing is more than one: a small bonus that also
    # ranks an all-round match above a single shared alias.
    score = name_score + config.name_support * min(max(agreeing - 1, 0), 5)
    # Primary names agreeing outrank a shared alias when links compete for the same record.
    score += config.primary_bonus * sum(n is not None and n.type == "primary" for n in (na, nb))
    for _, contribution, _ in evidence:
        score += contribution
    if bounded:
        # Nothing below changes a bounded pair's score (no equal identifier, two
        # jurisdictions): one that falls short of the floor needs no explanation.
        final = round(min(1.0, max(0.0, score)), 4)
        if final < floor:
            return final, {}

    explanation["name"] = {"value": f"{na.text if na else '-'} ~ {nb.text if nb else '-'}",
                           "types": [na.type if na else None, nb.type if nb else None],
                           "agreeing_names": agreeing,
                           "contribution": round(name_score, 3)}
    for feature, contribution, value in evidence:
        explanation[feature] = {"value": value(), "contribution": contribution}

    # What an equal identifier cannot outweigh for a person or an organisation.
    conflicts = []
    if a.kind not in ID_IS_TARGET_KINDS:
        if name_score < config.id_name_floor:
            conflicts.append(f"names differ ({round(name_score, 3)})")
        if dob == "conflict":
            conflicts.append("dates of birth conflict")
        if gender_conflict:
            conflicts.append("genders differ")
        if branch and branch[0] == "another office":
            conflicts.append(f"another office ({branch[1]})")
    if shared_ids or shared_refs:
        equal = shared_ids + [f"un-ref:{r}" for r in shared_refs]
        if conflicts:
            explanation["identifiers"] = {"value": equal, "contribution": "review: equal identifier, but "
                                          + "; ".join(conflicts), "conflicts": conflicts}
            score = config.id_conflict_score
        else:
            explanation["identifiers"] = {"value": equal, "contribution": "decisive"}
            score = max(score, config.id_decisive + 0.05)

    if a.jurisdiction == b.jurisdiction:
        duplicate = _duplicate_evidence(a, b, shared_ids, conflicts, dob, name_score, config)
        if duplicate is None:
            explanation["duplicate"] = {"value": "same jurisdiction without strong evidence",
                                        "contribution": "not the same target"}
            explanation["strength"] = 0.0
            return 0.0, explanation
        explanation["duplicate"] = {"value": duplicate, "contribution": "one target listed twice"}
        score = max(score, 1.05)
    # The unclamped total orders competing links; the score shown is clamped to 0..1.
    explanation["strength"] = round(score, 4)
    return round(min(1.0, max(0.0, score)), 4), explanation
