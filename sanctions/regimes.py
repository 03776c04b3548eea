"""The regime crosswalk: publishers' programme names -> common regime codes.

``data/regimes.csv`` maps every programme value found in the publishers'
files (``RUSSIA-EO14024``, ``Russia / Russie``, ``The Russia (Sanctions)
(EU Exit) Regulations 2019``, ``UKR``) to codes such as ``russia``, so that
"US Russia designations the UK lacks" can be asked across jurisdictions.
A programme missing from the table is reported by the import, never dropped.
"""
from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

REGIMES_FILE = Path(__file__).parent / "data" / "regimes.csv"

# UK regulation titles wrap the regime name: "The Russia (Sanctions) (EU Exit) Regulations 2019".
_UK_TITLE = re.compile(
    r"^(?:the\s+)?(?P<name>.+?)(?:\s+\((?:sanctions|united nations sanctions)\))*(?:\s+\(eu exit\))?"
    r"(?:\s+sanctions)?\s+regulations(?:\s+\d{4})?$",
    re.I,
)


def _key(programme: str) -> str:
    return " ".join(programme.split()).casefold()


@functools.cache
def table() -> dict[tuple[str, str], tuple[str, ...]]:
    with REGIMES_FILE.open(encoding="utf-8", newline="") as f:
        return {(row["jurisdiction"], _key(row["programme"])): tuple(row["regimes"].split(";"))
                for row in csv.DictReader(f)}


def regimes_for(jurisdiction: str, programme: str) -> tuple[str, ...] | None:
    """Regime codes for one programme value, or None when the crosswalk lacks it."""
    crosswalk = table()
    candidates = [programme, programme.split(" / ")[0]]
    m = _UK_TITLE.match(programme.strip())
    if m:
        candidates.append(m["name"])
    for candidate in candidates:
        codes = crosswalk.get((jurisdiction, _key(candidate)))
        if codes:
            return codes
    return None
