"""``sanctions demo``: import the bundled sample lists and show what was stored.

The samples (``sanctions/samples``) are excerpts of the real published
files; ``make_samples.py`` there says how they were cut.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select

from sanctions import db, gap_queries as gaps, imports, matching, pipeline, queries
from sanctions.reports import format_gaps, format_matrix
from sanctions.models import Designation, IdentifierRow, NameRow, TargetMember

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_FILES = (
    ("us-sdn", SAMPLES / "us"),
    ("eu", SAMPLES / "eu" / "fsf.xml"),
    ("gb", SAMPLES / "gb" / "ConList.csv"),
    ("ca", SAMPLES / "ca" / "sema-lmes.xml"),
    ("un", SAMPLES / "un" / "consolidated.xml"),
)


def run(url: str, echo: Callable[[str], None]) -> None:
    engine = db.connect(url)
    echo(f"Importing the bundled sample lists into {url}\n")
    for source, path in SAMPLE_FILES:
        result = imports.run_import(engine, source, str(path))
        counts = queries.run_summary(result)["counts"]
        echo(f"  {source:<7} {result.status:<9} {counts['parsed']:>4} designations "
             f"(added {counts['added']}, amended {counts['amended']}, removed {counts['removed']}, "
             f"unchanged {counts['unchanged']}) from {path.relative_to(SAMPLES.parent)}")
    Session = db.session_factory(engine)
    with Session() as session:
        kinds = Counter({(j, k): n for j, k, n in session.execute(
            select(Designation.jurisdiction, Designation.kind, func.count())
            .where(Designation.status == "active").group_by(Designation.jurisdiction, Designation.kind))})
        names = session.scalar(select(func.count()).select_from(NameRow))
        idents = session.scalar(select(func.count()).select_from(IdentifierRow))
        echo("\nStored (active designations by jurisdiction and kind):")
        for jurisdiction in ("us", "eu", "gb", "ca", "un"):
            row = ", ".join(f"{k} {kinds[(jurisdiction, k)]}" for k in ("person", "organization", "vessel", "aircraft")
                            if kinds[(jurisdiction, k)])
            echo(f"  {jurisdiction}: {row}")
        echo(f"  {names} names and aliases, {idents} identifiers\n")
        example = session.scalars(select(Designation).where(Designation.kind == "vessel")
                                  .order_by(Designation.key).limit(1)).first()
        if example:
            detail = queries.designation_detail(session, example.key)
            echo(f"Example: {detail['key']} {detail['name']} ({detail['kind']}, {', '.join(detail['regimes'])})")
            for ident in detail["identifiers"]:
                echo(f"  {ident['type']}: {ident['value']}")
    run = pipeline.match(engine)
    with Session() as session:
        targets = matching.multi_jurisdiction_targets(session)
        example_cluster = session.execute(
            select(TargetMember.target_id, func.count()).group_by(TargetMember.target_id)
            .order_by(func.count().desc(), TargetMember.target_id).limit(1)).first()
        members = session.execute(
            select(Designation.key, Designation.name).join(TargetMember, TargetMember.designation_key == Designation.key)
            .where(TargetMember.target_id == example_cluster[0]).order_by(Designation.key)).all() \
            if example_cluster else []
    echo(f"\nMatched ({run.mode}): {run.linked} links, {run.review} pairs for review, {run.clusters} targets "
         "with two or more designations.")
    echo("Targets listed by several jurisdictions: "
         + (", ".join(f"{c} by {n}" for n, c in targets.items()) or "none"))
    if members:
        echo(f"Example target {example_cluster[0]}:")
        for key, name in members:
            echo(f"  {key:<28} {name}")
    with Session() as session:
        counts = gaps.matrix(session)
        examples = [g for a, b in (("us", "gb"), ("gb", "ca"), ("ca", "us"))
                    for g in gaps.find_gaps(session, gaps.GapQuery(a, [b], regime="russia"))[:1]]
    echo("\n" + format_matrix(counts, None))
    echo("\nThree example gaps (Russia regime):")
    echo(format_gaps(examples))
    echo("\nTry: sanctions --db " + url + " sources | show KEY | explain KEY1 KEY2 | export clusters | "
         "gaps --designated-by us --not-by gb")
    echo("\nBrowse it on the web: sanctions --db " + url + " serve")
    echo("then open http://127.0.0.1:5000/")
