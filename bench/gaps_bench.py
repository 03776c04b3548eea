"""Benchmark: gap reports over the full real lists (issue 9, "Gaps").

Runs ``sanctions gaps --designated-by us --not-by gb`` as a user would (a
fresh process each time) in table, CSV and JSON (the evidence pack) format
and prints wall time, CPU time, peak memory and output size; then the same
report read a page of 50 at a time, as the web does.  Needs a store holding
the real lists: ``--db URL`` of one, or it builds one in a temporary SQLite
file from ``../shared/data/lists`` (imports and the full pipeline, a few
minutes).  Prints figures, asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sanctions import db, gap_queries, imports, pipeline  # noqa: E402

LISTS = Path(os.environ.get("SANCTIONS_SHARED_DATA", REPO.parent / "shared" / "data")) / "lists"
REAL = (("us-sdn", "us"), ("us-cons", "us"), ("un", "un/consolidated.xml"), ("gb", "uk/ConList.xlsx"),
        ("ca", "ca/sema-lmes.xml"))


def build(url: str) -> None:
    engine = db.connect(url)
    for source, rel in REAL:
        imports.run_import(engine, source, str(LISTS / rel), allow_partial=True)
    pipeline.match(engine, full=True)
    engine.dispose()


def run(url: str, *args: str) -> tuple[float, float, int, int]:
    """Wall s, CPU s, peak RSS MB and bytes written by one ``sanctions`` command (its own rusage)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen([sys.executable, "-m", "sanctions.cli", "--db", url, *args], stdout=out,
                                 stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise SystemExit(f"sanctions {' '.join(args)} failed with exit code {child.returncode}")
        size = out.tell()
    wall = time.perf_counter() - started
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a store holding the real lists (default: build one in a temporary file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/gaps.db"
        if not args.db:
            print("building a store of the real lists (imports and a full match) ...", flush=True)
            build(url)
        report = ("gaps", "--designated-by", "us", "--not-by", "gb")
        run(url, "sources")  # warm the file cache; not reported
        baseline = run(url, "sources")
        print(f"{'command':<58} {'wall s':>7} {'CPU s':>7} {'peak MB':>8} {'output MB':>10}")
        print(f"{'sanctions sources (start-up and a small read)':<58} {baseline[0]:7.2f} {baseline[1]:7.2f} "
              f"{baseline[2]:8d} {baseline[3] / 1e6:10.2f}")
        for fmt in ("table", "csv", "json"):
            wall, cpu, peak, size = run(url, *report, "--format", fmt)
            print(f"{' '.join(('sanctions',) + report + ('--format', fmt)):<58} {wall:7.2f} {cpu:7.2f} "
                  f"{peak:8d} {size / 1e6:10.2f}")
        engine = db.connect(url)
        with db.session_factory(engine)() as session:
            query = gap_queries.GapQuery("us", ["gb"])
            started = time.process_time()
            page, total = gap_queries.gap_page(session, query, limit=50, offset=0)
            first = time.process_time() - started
            started = time.process_time()
            gap_queries.gap_page(session, query, limit=50, offset=(total // 50) * 50)
            last = time.process_time() - started
        print(f"web page of 50 (of {total} targets): first page {first * 1000:.0f} ms CPU, "
              f"last page {last * 1000:.0f} ms CPU")
        engine.dispose()


if __name__ == "__main__":
    main()
