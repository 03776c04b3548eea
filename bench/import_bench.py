"""Import benchmark: the full import of every real list, against a bare parse of the same files.

    python bench/import_bench.py [--lists ../shared/data/lists] [--pg URL] [--repeat N] [--profile]

For each database (a fresh SQLite file, and a fresh PostgreSQL schema when
``--pg`` or ``SANCTIONS_TEST_DB`` names a server) the lists are imported in
turn into one empty database, as a first import would be: both OFAC sets,
then the UN, Canada, the UK (OFSI's ConList.xlsx) and the EU.  Each source's
import time is set against a *bare parse* of the same files: lxml reading
every element (XML), the csv module reading every row (CSV), openpyxl
reading every cell (XLSX).  Re-importing the identical files shows the
short-circuit.

Figures are the best of ``--repeat`` runs (this machine is shared, so the
minimum is the least disturbed figure); the load average is printed with
them.  The last lines give the machine's limits: the bare parse rate (MB/s)
and the bulk-write rate (rows/s of plain 4-column rows through the same bulk
writer the store uses).  ``--profile`` prints where the time goes (cProfile
of one SQLite run, grouped by stage; the search index, written in the import's
transaction, is a stage of its own: it was the third of the time the stages
did not account for).

The import's own modules are imported from the checkout this script sits in
(not from wherever ``pip install -e`` points), so a worktree times its own code.
"""
from __future__ import annotations

import argparse
import cProfile
import csv
import io
import os
import pstats
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from lxml import etree
from sqlalchemy import Column, Integer, JSON, MetaData, Table, Text, create_engine, text

REPO = Path(__file__).resolve().parents[1]
# The code beside this script, not whatever checkout ``pip install -e`` points at: run from
# a worktree, ``python bench/import_bench.py`` had put bench/ first on the path and timed
# the installed copy of the package.
sys.path.insert(0, str(REPO))

from importers.inputs import open_location  # noqa: E402
from sanctions import bulk, db, imports  # noqa: E402
FILES = [
    ("us-sdn", "us"),
    ("us-cons", "us/consolidated.xml"),
    ("un", "un/consolidated.xml"),
    ("ca", "ca/sema-lmes.xml"),
    ("gb", "uk/ConList.xlsx"),
    ("eu", "eu/fixture-Babystep-Technologies-active_sanction-fsf.xml"),
]


def bare_parse(files) -> int:
    """Read every element, row or cell with the plain library; returns how many were seen."""
    n = 0
    for name, data in files.contents.items():
        if name.endswith(".xml"):
            n += sum(1 for _ in etree.fromstring(data, etree.XMLParser(huge_tree=True)).iter())
        elif name.endswith(".xlsx"):
            import openpyxl

            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
            n += sum(len(row) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))
            book.close()
        else:
            n += sum(1 for _ in csv.reader(io.StringIO(data.decode("cp1252").rstrip("\x1a"), newline="")))
    return n


def best_of(repeat: int, fn) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds of fn over repeat runs."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


@contextmanager
def fresh_database(kind: str, pg_url: str | None):
    """A URL to an empty database: a SQLite file, or a new schema on the PostgreSQL server."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    base = db.create(pg_url).url
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def import_all(url: str, paths: list[tuple[str, Path]]):
    """Import every list into the (empty) database, then again unchanged: seconds per source.

    Returns wall seconds, CPU seconds of this process, re-import wall seconds and record counts.
    """
    engine = db.connect(url)
    first, cpu, again, records = {}, {}, {}, {}
    for source, path in paths:
        start, start_cpu = time.perf_counter(), time.process_time()
        run = imports.run_import(engine, source, str(path))
        first[source] = time.perf_counter() - start
        cpu[source] = time.process_time() - start_cpu
        records[source] = run.parsed
    for source, path in paths:
        start = time.perf_counter()
        run = imports.run_import(engine, source, str(path))
        again[source] = time.perf_counter() - start
        assert run.status == "unchanged", run.status
    engine.dispose()
    return first, cpu, again, records


def bulk_write_rate(url: str, rows: int = 200_000) -> float:
    """Rows per second of plain rows (int, two short texts, a small JSON) through ``sanctions.bulk``."""
    engine = db.create(url)
    table = Table("bench_rows", MetaData(), Column("id", Integer, primary_key=True), Column("a", Text),
                  Column("b", Text), Column("c", JSON))
    values = [{"id": i, "a": f"name {i}", "b": "alias", "c": {"n": i}} for i in range(rows)]
    table.create(engine)
    try:
        with engine.begin() as conn:
            start = time.perf_counter()
            bulk.insert(conn, table, values)
        took = time.perf_counter() - start
    finally:
        table.drop(engine)
        engine.dispose()
    return rows / took


def profile_summary(url: str, paths: list[tuple[str, Path]]) -> None:
    """Where one full SQLite import spends its time, by stage (cumulative seconds under cProfile)."""
    profiler = cProfile.Profile()
    engine = db.connect(url)
    profiler.enable()
    for source, path in paths:
        imports.run_import(engine, source, str(path))
    profiler.disable()
    engine.dispose()
    stats = pstats.Stats(profiler).stats
    total = sum(tt for _, _, tt, _, _ in stats.values())

    def cumulative(filename_part: str, function: str) -> float:
        return sum(ct for (f, _, name), (_, _, _, ct, _) in stats.items() if filename_part in f and name == function)

    stages = [
        ("parse (importers, all lists)", cumulative("importers/__init__", "parse")),
        ("  of which the xlsx cell reader", cumulative("importers/xlsx", "read_rows")),
        ("prepare (content, JSON, hash)", cumulative("sanctions/store", "prepare")),
        ("diff against the store", cumulative("sanctions/store", "compute_diff")),
        ("write (designations and parts)", cumulative("sanctions/store", "apply_diff")),
        ("search index (fold names, write)", cumulative("sanctions/search_index", "index_new")
         + cumulative("sanctions/search_index", "drain")),
        ("  of which folding names", cumulative("sanctions/search_index", "fold_name")),
        ("database driver, all bulk inserts", cumulative("sanctions/bulk", "insert")
         - cumulative("sanctions/bulk", "_tuples")),
        ("commit (SQLite)", sum(ct for (_, _, name), (_, _, _, ct, _) in stats.items()
                                if "method 'commit' of 'sqlite3" in name)),
    ]
    print(f"\nprofile of one full SQLite import (cProfile, {total:.1f} s with its overhead):")
    for label, seconds in stages:
        print(f"  {label:<34} {seconds:>6.2f} s  {seconds / total:>4.0%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lists", default=str(REPO.parent / "shared" / "data" / "lists"))
    ap.add_argument("--pg", default=os.environ.get("SANCTIONS_TEST_DB"),
                    help="PostgreSQL server URL (default $SANCTIONS_TEST_DB); without it only SQLite runs")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="also print where the time goes")
    args = ap.parse_args()

    paths = [(source, Path(args.lists) / rel) for source, rel in FILES if (Path(args.lists) / rel).exists()]
    missing = [rel for _, rel in FILES if not (Path(args.lists) / rel).exists()]
    if missing:
        print(f"missing, skipped: {', '.join(missing)}")
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")

    bare, bare_cpu, sizes = {}, {}, {}
    for source, path in paths:
        files = open_location(str(path), source)
        sizes[source] = files.size / 1e6
        bare[source], bare_cpu[source] = best_of(args.repeat, lambda: bare_parse(files))

    backends = ["sqlite"] + (["postgresql"] if args.pg else [])
    for kind in backends:
        best: dict[str, dict[str, float]] = {"wall": {}, "cpu": {}, "again": {}}
        totals = {"wall": float("inf"), "cpu": float("inf")}
        records: dict[str, int] = {}
        for _ in range(args.repeat):
            with fresh_database(kind, args.pg) as url:
                first, cpu, again, records = import_all(url, paths)
            totals["wall"] = min(totals["wall"], sum(first.values()))
            totals["cpu"] = min(totals["cpu"], sum(cpu.values()))
            for name, figures in (("wall", first), ("cpu", cpu), ("again", again)):
                for source, seconds in figures.items():
                    best[name][source] = min(best[name].get(source, float("inf")), seconds)
        print(f"\n{kind}: first import of every list into an empty database (best of {args.repeat})")
        # On a busy machine the CPU columns are the steadier figure; on PostgreSQL they
        # leave out the server's own work, so the wall-clock ratio is the one that counts there.
        print(f"{'source':<8} {'records':>8} {'MB':>6} {'bare s':>7} {'import s':>9} {'ratio':>6} "
              f"{'bare cpu':>8} {'import cpu':>10} {'cpu ratio':>9} {'rec/s':>7} {'re-import ms':>12}")

        def line(label, n, mb, bare_s, wall, bare_c, cpu_s, again_s):
            print(f"{label:<8} {n:>8} {mb:>6.2f} {bare_s:>7.3f} {wall:>9.2f} {wall / bare_s:>6.1f} "
                  f"{bare_c:>8.3f} {cpu_s:>10.2f} {cpu_s / max(bare_c, 1e-3):>9.1f} {n / wall:>7.0f} "
                  f"{again_s * 1000:>12.0f}")

        for source, _ in paths:
            line(source, records[source], sizes[source], bare[source], best["wall"][source], bare_cpu[source],
                 best["cpu"][source], best["again"][source])
        line("total", sum(records.values()), sum(sizes.values()), sum(bare.values()), totals["wall"],
             sum(bare_cpu.values()), totals["cpu"], sum(best["again"].values()))

    print("\nmachine limits")
    print(f"  bare parse rate: {sum(sizes.values()) / sum(bare.values()):.1f} MB/s "
          f"({sum(sizes.values()):.1f} MB in {sum(bare.values()):.2f} s)")
    for kind in backends:
        with fresh_database(kind, args.pg) as url:
            print(f"  bulk-write rate, {kind}: {bulk_write_rate(url):,.0f} rows/s (4 columns, one of them JSON)")
    if args.profile:
        with fresh_database("sqlite", None) as url:
            profile_summary(url, paths)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
