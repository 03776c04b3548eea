"""Import benchmark: per source, records/s, MB/s and full import time / bare parse time.

    python bench/import_bench.py [--lists ../shared/data/lists] [--db URL] [--repeat N]

"Bare parse" is what lxml (XML), the csv module (CSV) or the xlsx row reader
(XLSX) need just to read every record of the same file; the ratio says how
much our pipeline (parsing into the schema, diffing, storing in one
transaction) costs on top.  Each import runs into a fresh database.  The
re-import line times the identical-file short-circuit.
"""
from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from pathlib import Path

from lxml import etree

from importers.inputs import open_location
from importers.xlsx import read_rows
from sanctions import db, imports

REPO = Path(__file__).resolve().parents[1]
FILES = [
    ("us-sdn", "us"),
    ("us-cons", "us/consolidated.xml"),
    ("un", "un/consolidated.xml"),
    ("ca", "ca/sema-lmes.xml"),
    ("gb", "uk/ConList.xlsx"),
    ("gb", "uk/fixture-Babystep-Technologies-active_sanction-uk-sanctions-list.xml"),
    ("eu", "eu/fixture-Babystep-Technologies-active_sanction-fsf.xml"),
]


def bare_parse(files) -> int:
    """Read every record with the plain library; returns the number of rows/elements seen."""
    n = 0
    for name, data in files.contents.items():
        if name.endswith(".xml"):
            n += sum(1 for _ in etree.fromstring(data, etree.XMLParser(huge_tree=True)).iter())
        elif name.endswith(".xlsx"):
            n += sum(1 for _ in read_rows(name, data))
        else:
            n += sum(1 for _ in csv.reader(io.StringIO(data.decode("cp1252").rstrip("\x1a"), newline="")))
    return n


def best_of(repeat: int, fn):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lists", default=str(REPO.parent / "shared" / "data" / "lists"))
    ap.add_argument("--db", help="database URL template; default a fresh SQLite file per run")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{'source':<8} {'file':<34} {'records':>8} {'MB':>6} {'import s':>9} {'rec/s':>8} {'MB/s':>6} "
          f"{'bare s':>7} {'ratio':>6} {'re-import s':>11}")
    for source, rel in FILES:
        path = Path(args.lists) / rel
        if not path.exists():
            print(f"{source:<8} {rel:<34} missing, skipped")
            continue
        files = open_location(str(path), source)
        mb = files.size / 1e6
        bare, _ = best_of(args.repeat, lambda: bare_parse(files))

        def full_import():
            with tempfile.TemporaryDirectory() as tmp:
                engine = db.connect(args.db or f"sqlite:///{tmp}/bench.db")
                start = time.perf_counter()
                run = imports.run_import(engine, source, str(path))
                took = time.perf_counter() - start
                start = time.perf_counter()
                imports.run_import(engine, source, str(path))
                again = time.perf_counter() - start
                engine.dispose()
                return took, again, run.parsed

        results = [full_import() for _ in range(args.repeat)]
        took = min(r[0] for r in results)
        again = min(r[1] for r in results)
        records = results[0][2]
        print(f"{source:<8} {rel[-34:]:<34} {records:>8} {mb:>6.2f} {took:>9.2f} {records / took:>8.0f} "
              f"{mb / took:>6.2f} {bare:>7.3f} {took / bare:>6.1f} {again:>11.3f}")


if __name__ == "__main__":
    main()
