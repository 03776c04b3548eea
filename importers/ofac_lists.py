"""Which OFAC list a publication is, and whether an OFAC CSV set is complete.

OFAC publishes two lists in the same formats: the SDN list (``sdn.csv``,
``SDN.XML``) and the non-SDN consolidated list (``cons_prim.csv``,
``consolidated.xml``).  The CSV sets are told apart by their file names, but
the legacy XML of both has the same root, header and entries, so the list is
recognised from its content: nearly every non-SDN entry belongs to a non-SDN
programme (NS-PLC, CMIC, FSE, 561, ...) or carries a sectoral (SSI) directive
determination; on the SDN list such entries are rare (62 of 14,965 in the
2024 sdn.csv, against 434 of 443 in the 2025 consolidated.xml).
"""
from __future__ import annotations

from importers.common import ImportFailure
from importers.inputs import SourceFiles
from sanctions.schema import ParsedList

NON_SDN_PROGRAMMES = {"NS-PLC", "CMIC-EO13959", "561-Related", "FSE-IR", "FSE-SY", "FSE-SDGT", "NS-MBS", "NS-ISA",
                      "CAPTA", "SSI"}
SECTORAL_MARKS = ("Directive Determination", "Sectoral Sanctions")
NON_SDN_SHARE = 0.5  # more than half the entries marked: the non-SDN list

COMPANIONS = {
    "us-sdn": ("sdn.csv", ("add.csv", "alt.csv", "sdn_comments.csv")),
    "us-cons": ("cons_prim.csv", ("cons_add.csv", "cons_alt.csv", "cons_comments.csv")),
}


def _non_sdn_mark(record) -> bool:
    if NON_SDN_PROGRAMMES.intersection(record.programmes):
        return True
    texts = [record.remarks or ""] + [f"{a.label} {a.value}" for a in record.attributes]
    texts += [f"{i.label or ''} {i.type}" for i in record.identifiers]
    return any(mark in text for text in texts for mark in SECTORAL_MARKS)


def non_sdn_share(parsed: ParsedList) -> float:
    if not parsed.designations:
        return 0.0
    return sum(_non_sdn_mark(r) for r in parsed.designations) / len(parsed.designations)


def check_list(parsed: ParsedList, source: str, location: str) -> None:
    """Refuse OFAC's non-SDN list offered as ``us-sdn`` (its CSV set is refused by file name already)."""
    if source != "us-sdn" or parsed.format == "ofac-csv":
        return
    share = non_sdn_share(parsed)
    if share > NON_SDN_SHARE:
        raise ImportFailure(location, f"this is OFAC's non-SDN consolidated list ({share:.0%} of its "
                            f"{len(parsed.designations)} entries are under non-SDN programmes or sectoral "
                            f"directives), which belongs to source 'us-cons', not 'us-sdn'")


def missing_companions(files: SourceFiles, source: str) -> list[str]:
    """The companion files an OFAC CSV set lacks (aliases, addresses, remark continuations)."""
    if source not in COMPANIONS:
        return []
    main, companions = COMPANIONS[source]
    if main not in files.contents:
        return []
    return [name for name in companions if name not in files.contents]
