"""Country names as the publishers write them -> ISO 3166-1 alpha-2.

The ISO list comes from the ``iso3166`` package; ``data/country_aliases.csv``
adds what publishers write instead (``Burma``, ``Korea, North``,
``Russia / Russie``, ``Palestinian``, ``IRAN (ISLAMIC REPUBLIC OF)``).
Lookup keys are folded (accents, case, punctuation) so that spelling noise
does not need its own alias row.
"""
from __future__ import annotations

import csv
import functools
import re
import unicodedata
from pathlib import Path

import iso3166

ALIASES_FILE = Path(__file__).parent / "data" / "country_aliases.csv"


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@functools.cache
def _table() -> dict[str, str]:
    table: dict[str, str] = {}
    for country in iso3166.countries:
        for name in (country.name, country.apolitical_name):
            table[fold(name)] = country.alpha2
        table[country.alpha2.lower()] = country.alpha2
        table[country.alpha3.lower()] = country.alpha2
    with ALIASES_FILE.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            table[fold(row["name"])] = row["code"]
    return table


def country_code(text: str | None) -> str | None:
    """ISO alpha-2 for a publisher's country text, or None if unknown.

    Bilingual Canadian values (``Russia / Russie``) and OFAC pseudo-regions
    (``Region: Gaza``) are reduced to their English country part first.
    """
    if not text:
        return None
    return _country_code(text)


# A list names the same few hundred countries tens of thousands of times; folding
# each one again was a tenth of an OFSI import.
@functools.lru_cache(maxsize=8192)
def _country_code(text: str) -> str | None:
    table = _table()
    key = fold(text)
    if key in table:
        return table[key]
    for candidate in (text.split(" / ")[0], re.sub(r"^Region:\s*", "", text), re.sub(r"\(.*?\)", "", text)):
        key = fold(candidate)
        if key in table:
            return table[key]
    return None


def country_codes(text: str | None) -> list[str]:
    """Codes for a field that may list several countries (``Germany. Russia``).

    Returns [] unless every piece is a known country, so that a country name
    containing a comma is never split into nonsense.
    """
    code = country_code(text)
    if code or not text:
        return [code] if code else []
    pieces = [p for p in re.split(r"[.,;/]|\band\b", text) if p.strip()]
    codes = [country_code(p.strip()) for p in pieces]
    return codes if len(codes) > 1 and all(codes) else []
