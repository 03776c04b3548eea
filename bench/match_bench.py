"""Matching benchmark: full match over all real lists, then an incremental one.

    python bench/match_bench.py [--lists ../shared/data/lists] [--db URL]

Imports every real list into a fresh database (SQLite by default), then
prints the wall time and peak memory of ``sanctions match --full`` (run as
a child process so its memory is its own), the number of candidate pairs
scored, and the time of an incremental ``sanctions match`` after
re-importing the UN list with 50 records changed.
"""
from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sanctions import db, imports

REPO = Path(__file__).resolve().parents[1]
FILES = [
    ("us-sdn", "us"),
    ("us-cons", "us/consolidated.xml"),
    ("eu", "eu/fixture-Babystep-Technologies-active_sanction-fsf.xml"),
    ("gb", "uk/ConList.xlsx"),
    ("ca", "ca/sema-lmes.xml"),
    ("un", "un/consolidated.xml"),
]


def sanctions(url: str, *args: str) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB of the child, output) of one CLI command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "sanctions.cli", "--db", url, *args],
                         capture_output=True, text=True, check=True).stdout
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, max(peak, before) // 1024, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lists", default=str(REPO.parent / "shared" / "data" / "lists"))
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    lists = Path(args.lists)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/bench.db"
        engine = db.connect(url)
        for source, rel in FILES:
            imports.run_import(engine, source, str(lists / rel))
        took, peak, out = sanctions(url, "match", "--full")
        first = out.splitlines()[0]
        designations = re.search(r"(\d+) designations", first)[1]
        candidates = re.search(r"(\d+) candidate pairs", first)[1]
        print(f"full match:        {took:6.2f} s wall (incl. ~0.5 s start-up), peak {peak} MB, "
              f"{designations} designations, {candidates} candidate pairs scored")
        print("                   " + out.splitlines()[1].strip())

        text = (lists / "un" / "consolidated.xml").read_text(encoding="utf-8")
        count = iter(range(10**6))
        edited = re.sub(r"<FIRST_NAME>([^<]*)</FIRST_NAME>",
                        lambda m: f"<FIRST_NAME>{m[1]}X</FIRST_NAME>" if next(count) < 50 else m[0], text)
        changed = Path(tmp) / "consolidated.xml"
        changed.write_text(edited, encoding="utf-8")
        run = imports.run_import(engine, "un", str(changed))
        took, peak, out = sanctions(url, "match")
        inner = re.search(r"in ([\d.]+) s", out)[1]
        print(f"incremental match: {took:6.2f} s wall ({inner} s in the command), after re-importing the UN list "
              f"with {run.amended} changed records; {out.splitlines()[0].split(': ', 1)[1]}")


if __name__ == "__main__":
    main()
