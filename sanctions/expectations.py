"""How large each source's publication is expected to be, to catch a partial file before it skews every gap.

A 17-record EU file imported into an empty store yields 15,370 "US not EU"
gaps with no warning.  Each source has an expected minimum number of
designations, near (below) today's sizes; a *first* import far below it is
refused unless the operator passes ``--allow-partial``, and a store whose
active count is below it is marked as partial by ``sanctions sources``,
``sanctions gaps`` and the web (``queries.partial_sources``).  Later
imports are guarded by the shrink check instead.

The minimums are set in the configuration file (``sanctions.toml`` or
``$SANCTIONS_CONFIG``)::

    [expected_minimum]
    us-sdn = 10000   # 14,965 in May 2024
    eu = 0           # 0 turns the check off for a source
"""
from __future__ import annotations

from sanctions.schema import SOURCES

# Today's sizes: us-sdn 14,965 (2024-05), us-cons 443 (2025-03), OFSI 4,688 targets (2025-04),
# Canada 4,759 (2025-03), UN 1,003 (2025); the EU consolidated list holds about 5,500 entries.
DEFAULT_MINIMUMS = {"us-sdn": 10_000, "us-cons": 300, "eu": 4_000, "gb": 3_500, "ca": 3_500, "un": 800}


def expected_minimums() -> dict[str, int]:
    """Per source, the expected minimum (defaults overridden by the configuration file's [expected_minimum],
    which ``config.load`` checks for every reader: the import command and the refresh alike)."""
    from sanctions.config import load  # one reader of the configuration file for every setting

    settings = load()
    return {source: settings[("expected_minimum", source)] for source in SOURCES}


def expected_minimum(source: str) -> int:
    return expected_minimums().get(source, 0)
