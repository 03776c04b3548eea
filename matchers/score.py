"""Scoring a pair of designations, with an explanation of every feature's contribution.

The score starts from the best name similarity over all names and aliases
(weak aliases count less) and is moved by the other evidence:

- kind: a person never matches a vessel (score 0);
- identifiers: the same passport, national id, IMO, registration or tax
  number, or the same UN reference number, is decisive; a different number
  of a type issued once per target (IMO, MMSI, LEI, aircraft serial) is
  strong evidence against;
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
from dataclasses import dataclass

from rapidfuzz.distance import JaroWinkler
from rapidfuzz.fuzz import ratio

from matchers.candidates import TokenStats
from matchers.features import SINGLE_ID_TYPES, MatchRecord, NameFeature
from matchers.normalize import is_patronymic

TOKEN_MATCH = 0.88  # similarity at which two folded tokens count as the same
TOKEN_EDITS = 0.80  # ... provided their edit-based similarity reaches this too


@dataclass(frozen=True)
class Weights:
    dob_same_day: float = 0.12
    dob_compatible: float = 0.04
    dob_near: float = -0.08
    dob_conflict: float = -0.40
    nationality_agree: float = 0.03
    nationality_conflict: float = -0.08
    gender_conflict: float = -0.40
    id_conflict: float = -0.30
    weak_name_factor: float = 0.85
    name_support: float = 0.01
    primary_bonus: float = 0.01


WEIGHTS = Weights()


def _token_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit():
        return 0.0
    # Jaro-Winkler rewards a shared beginning, which surnames often have ("Kolbin",
    # "Kozin"); two tokens must also be close in edits to count as one spelling.
    if ratio(a, b) / 100.0 < TOKEN_EDITS:
        return 0.0
    return JaroWinkler.normalized_similarity(a, b)


MIN_NAME_MASS = 9.0  # rarity (summed idf) a name match needs to count fully
MISMATCH_FACTOR = 0.9


def token_alignment(a: tuple[str, ...], b: tuple[str, ...], stats: TokenStats, person: bool = True) -> float:
    """How much of both names is matched, weighting tokens by rarity.

    The shorter name must be covered well.  For persons, tokens missing from
    the longer name (a patronymic, a second given name) cost less than for
    organisations, where an extra word ("Pakistan") often names another
    branch.  A match on little information (one common word such as
    ``jihad``) is scaled down by its summed rarity.
    """
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    used: set[int] = set()
    matched_short = 0.0
    matched_long = 0.0
    for token in short:
        best, best_j = 0.0, -1
        for j, other in enumerate(long_):
            if j in used:
                continue
            sim = _token_similarity(token, other)
            if sim > best:
                best, best_j = sim, j
        # A one-word name must match almost exactly: "Yenergy" is not "AA Energy".
        if best >= (TOKEN_MATCH if len(short) > 1 else 0.95):
            used.add(best_j)
            matched_short += stats.idf(token) * best
            matched_long += stats.idf(long_[best_j]) * best
    total_short = sum(stats.idf(t) for t in short)
    # An unmatched patronymic in the longer name costs little; any other missing word costs in full.
    total_long = matched_long + sum(stats.idf(t) * (0.25 if person and is_patronymic(t) else 1.0)
                                    for j, t in enumerate(long_) if j not in used)
    if not total_short:
        return 0.0
    cover_short = matched_short / total_short
    cover_long = matched_long / total_long if total_long else 0.0
    short_weight = 0.6 if person else 0.5
    mass = min(1.0, matched_short / MIN_NAME_MASS)
    score = (short_weight * cover_short + (1 - short_weight) * cover_long) * mass
    # Both names carrying a word the other lacks ("Yasir" / "Omar" before the same family
    # name) is a mismatch, not an omission: brothers share everything else.
    unmatched_long = [t for j, t in enumerate(long_) if j not in used and not (person and is_patronymic(t))]
    if cover_short < 0.999 and unmatched_long:
        score *= MISMATCH_FACTOR
    return score


def name_similarity(a: NameFeature, b: NameFeature, stats: TokenStats, person: bool = True) -> float:
    aligned = token_alignment(a.tokens, b.tokens, stats, person)
    # Joined spellings catch split or merged tokens ("Abdulhai" vs "Abdul Hai").
    joined = ratio("".join(a.tokens), "".join(b.tokens)) / 100.0
    joined_sorted = ratio("".join(sorted(a.tokens)), "".join(sorted(b.tokens))) / 100.0
    joined = max(joined, joined_sorted)
    if joined < 0.92:
        return aligned
    mass = min(1.0, sum(stats.idf(t) for t in a.tokens) / MIN_NAME_MASS,
               sum(stats.idf(t) for t in b.tokens) / MIN_NAME_MASS)
    return max(aligned, 0.97 * joined * mass)


def best_names(a: MatchRecord, b: MatchRecord, stats: TokenStats) -> tuple[float, int, NameFeature | None,
                                                                            NameFeature | None]:
    """Best name similarity over all name pairs, and how many distinct names agree (>= 0.9)."""
    person = a.kind == "person"
    best: tuple[float, NameFeature | None, NameFeature | None] = (0.0, None, None)
    agreeing: set[tuple[str, ...]] = set()
    b_tokens = [(nb, set(nb.tokens), "".join(nb.tokens)) for nb in b.names]
    for na in a.names:
        a_set, a_joined = set(na.tokens), "".join(na.tokens)
        for nb, b_set, b_joined in b_tokens:
            # Cheap screen: no common token and unlike spellings cannot reach a useful score.
            if not (a_set & b_set) and ratio(a_joined, b_joined) < 60:
                continue
            factor = WEIGHTS.weak_name_factor if min(na.weight, nb.weight) < 1.0 else 1.0
            sim = name_similarity(na, nb, stats, person) * factor
            if sim >= 0.9:
                agreeing.add(na.tokens)
            if sim > best[0]:
                best = (sim, na, nb)
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
    """same-day, compatible, near (a typo or a year apart), conflict or unknown."""
    if not a.birth_dates or not b.birth_dates:
        return "unknown"
    relation = "conflict"
    for a0, a1, ac in a.birth_dates:
        for b0, b1, bc in b.birth_dates:
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


def score_pair(a: MatchRecord, b: MatchRecord, stats: TokenStats) -> tuple[float, dict]:
    """(score in 0..1, explanation) for two designations."""
    explanation: dict[str, dict] = {}
    if a.kind != b.kind:
        explanation["kind"] = {"value": f"{a.kind} vs {b.kind}", "contribution": "never the same target"}
        return 0.0, explanation

    name_score, agreeing, na, nb = best_names(a, b, stats)
    explanation["name"] = {"value": f"{na.text if na else '-'} ~ {nb.text if nb else '-'}",
                           "types": [na.type if na else None, nb.type if nb else None],
                           "agreeing_names": agreeing,
                           "contribution": round(name_score, 3)}
    # Several different names agreeing is more than one: a small bonus that also
    # ranks an all-round match above a single shared alias.
    score = name_score + WEIGHTS.name_support * min(max(agreeing - 1, 0), 5)
    # Primary names agreeing outrank a shared alias when links compete for the same record.
    score += WEIGHTS.primary_bonus * sum(n is not None and n.type == "primary" for n in (na, nb))

    shared_ids = sorted(f"{t}:{v}" for t, values in a.identifiers.items()
                        for v in values & b.identifiers.get(t, frozenset()))
    # An identifier may be filed under different types by different publishers
    # (a company IMO as "registration"), so compare values across types too.
    if not shared_ids:
        a_values = {v for vs in a.identifiers.values() for v in vs}
        shared_ids = sorted(f"any:{v}" for vs in b.identifiers.values() for v in vs if v in a_values)
    shared_refs = sorted(a.un_refs & b.un_refs)
    decisive = None
    if shared_ids or shared_refs:
        evidence = shared_ids + [f"un-ref:{r}" for r in shared_refs]
        explanation["identifiers"] = {"value": evidence, "contribution": "decisive"}
        # A shared number with unrelated names is more likely a data error than the same target.
        decisive = 0.99 if name_score >= 0.3 or shared_refs else 0.9
    else:
        conflicts = sorted(t for t in SINGLE_ID_TYPES if a.identifiers.get(t) and b.identifiers.get(t))
        if conflicts:
            explanation["identifiers"] = {"value": f"different {', '.join(conflicts)}",
                                          "contribution": WEIGHTS.id_conflict}
            score += WEIGHTS.id_conflict
        if a.un_refs and b.un_refs:
            explanation["un_reference"] = {"value": f"{sorted(a.un_refs)} vs {sorted(b.un_refs)}",
                                           "contribution": WEIGHTS.id_conflict}
            score += WEIGHTS.id_conflict

    dob = _dob_relation(a, b)
    dob_effect = {"same-day": WEIGHTS.dob_same_day, "compatible": WEIGHTS.dob_compatible,
                  "near": WEIGHTS.dob_near, "conflict": WEIGHTS.dob_conflict, "unknown": 0.0}[dob]
    explanation["birth_date"] = {"value": dob, "contribution": dob_effect}
    score += dob_effect

    if a.nationalities and b.nationalities:
        agree = bool(a.nationalities & b.nationalities)
        effect = WEIGHTS.nationality_agree if agree else WEIGHTS.nationality_conflict
        explanation["nationality"] = {"value": "agree" if agree else
                                      f"{sorted(a.nationalities)} vs {sorted(b.nationalities)}",
                                      "contribution": effect}
        score += effect
    else:
        explanation["nationality"] = {"value": "unknown", "contribution": 0.0}

    if a.gender and b.gender and a.gender != b.gender:
        explanation["gender"] = {"value": f"{a.gender} vs {b.gender}", "contribution": WEIGHTS.gender_conflict}
        score += WEIGHTS.gender_conflict

    if decisive is not None:
        score = max(score, decisive + 0.05)
    # The unclamped total orders competing links; the score shown is clamped to 0..1.
    explanation["strength"] = round(score, 4)
    return round(min(1.0, max(0.0, score)), 4), explanation
