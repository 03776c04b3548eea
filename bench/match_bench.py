"""Matching benchmark: full match of the real lists and of synthetic lists N times their size.

    python bench/match_bench.py [--factor N ...] [--lists ../shared/data/lists] [--synth DIR] [--db URL]
                                [--stages]

``--factor 1`` (the default) is the real lists.  ``--factor N`` (N > 1) is the
synthetic lists of ``../shared/tools/synth_lists.py --factor N --seed 1``,
generated into ``--synth`` on first use and reused (factor 16: 30 s, 800 MB);
the generator's Canada keys are first put in the registry's form in copies
(``fix_canada``).  For each factor every list is imported into one database
(a fresh SQLite file unless ``--db`` names one; with ``{factor}`` in it, one
per factor, kept for later runs), then:

- ``sanctions match --full`` runs as a child process: matching, clustering and
  the gap refresh.  Printed: wall and CPU time (children included: scoring
  forks one worker per CPU; on a shared machine the CPU time is the comparable
  figure), peak memory (the PSS of the whole process tree, so forked workers
  count what they do not share), pairs scored, and the precision and recall of
  the links against ``groundtruth/dev_clusters.csv`` (real lists) or the
  generator's truth clusters;
- a nightly run: the UN list re-imported with 50 records amended, then
  ``sanctions match`` (incremental, with clustering and the gap refresh).

With several factors it prints the growth of the CPU time between consecutive
factors (time f16 / time f4 should stay at or under 5).  ``--stages`` then runs
a second full match in a fresh process, with a timer on each stage (loading
and features; the candidate search, keys and best lists, and scoring, which
overlap, as one stage and each part of it; clustering; gap refresh), for the
README's account of where the time goes.  It runs after the nightly step, on a
store that already holds targets and gaps, as a full match run by hand would.
"""
from __future__ import annotations

import argparse
import csv
import inspect
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lxml import etree  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from matchers import parallel  # noqa: E402
from sanctions import db, gaps, imports, matching, pipeline, targets  # noqa: E402

SHARED = REPO.parent / "shared"
REAL_FILES = [
    ("us-sdn", "us"),
    ("us-cons", "us/consolidated.xml"),
    ("eu", "eu/fixture-Babystep-Technologies-active_sanction-fsf.xml"),
    ("gb", "uk/ConList.xlsx"),
    ("ca", "ca/sema-lmes.xml"),
    ("un", "un/consolidated.xml"),
]
SYNTH_FILES = [("us-sdn", "us"), ("gb", "uk/ConList.csv"), ("ca", "ca/sema-lmes.keys-fixed.xml"),
               ("un", "un/consolidated.xml")]


CPU = {}  # CPU seconds (user + system) of the last command: on a shared machine the wall time says little


def _tree_pss_kb(root: int) -> int:
    """Proportional set size of a process and all its descendants (forked scoring workers
    share the parent's pages, so PSS counts each page once across the tree)."""
    pids, total = [root], 0
    while pids:
        pid = pids.pop()
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def sanctions(url: str, *args: str) -> tuple[float, int, str]:
    """(wall seconds, peak memory in MB of the command and its workers, output) of one CLI command.

    The peak is the highest PSS of the whole process tree, sampled every 0.2 s
    (where /proc has it), else the largest single process's RSS.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", sys.executable, "-m", "sanctions.cli", "--db", url,
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    peak_pss = 0
    out: dict[str, str] = {}
    reader = threading.Thread(target=lambda: out.update(zip(("stdout", "stderr"), proc.communicate())))
    reader.start()
    while reader.is_alive():
        peak_pss = max(peak_pss, _tree_pss_kb(proc.pid))
        reader.join(0.2)
    took = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"sanctions {' '.join(args)} failed:\n{out['stderr'][-2000:]}")
    peak_kb, user, system = out["stderr"].strip().splitlines()[-1].split()
    CPU["last"] = float(user) + float(system)
    return took, max(int(peak_kb), peak_pss) // 1024, out["stdout"]


def quality(url: str, truth: Path, tmp: str) -> str:
    _, _, exported = sanctions(url, "export", "clusters", "--format", "csv")
    predicted = Path(tmp) / "clusters.csv"
    predicted.write_text(exported)
    out = subprocess.run([sys.executable, str(SHARED / "tools" / "score_links.py"), str(predicted),
                          "--clusters", str(truth)], capture_output=True, text=True, check=True).stdout
    overall = re.search(r"overall\s+P=([\d.]+) R=([\d.]+)", out)
    return f"P {overall[1]} / R {overall[2]}"


def synth_dir(root: Path, factor: int, lists: Path) -> Path:
    out = root / f"f{factor}"
    if not (out / "truth_clusters.csv").exists():
        print(f"generating factor {factor} into {out} ...", flush=True)
        subprocess.run([sys.executable, str(SHARED / "tools" / "synth_lists.py"), str(lists), str(out),
                        "--factor", str(factor), "--seed", "1"], check=True)
    if not (out / CANADA_FIXED).exists():
        fix_canada(out)
    return out


CANADA_FIXED = "ca/sema-lmes.keys-fixed.xml"
TRUTH_FIXED = "truth_clusters.keys-fixed.csv"


def fix_canada(out: Path) -> None:
    """Make the generator's Canada keys agree with the registry's, in copies of its files.

    The generator numbers new items per schedule *as spelled*, but Canada spells
    one schedule two ways ("1, Part 3" and "1,Part 3") and the registry keys both
    as ``1-part-3`` (``importers.ca_sema``): a new "1,Part 3" item 3 then repeats
    the real "1, Part 3" item 3, and the importer rightly refuses a list with a
    duplicate key.  Such a synthetic record gets the next free item number, and
    the truth file's Canada keys are rewritten in the registry's form.
    """
    from importers.ca_sema import regime_key, schedule_key

    tree = etree.parse(str(out / "ca" / "sema-lmes.xml"))
    groups: dict[tuple[str, str], set[str]] = {}
    records = tree.getroot().findall("record")
    for record in records:
        group = (regime_key(record.findtext("Country") or ""), schedule_key(record.findtext("Schedule")))
        groups.setdefault(group, set()).add((record.findtext("Item") or "").strip())
    seen: set[tuple[str, str, str]] = set()
    renamed: dict[str, str] = {}
    for record in records:
        country, schedule = record.findtext("Country") or "", record.findtext("Schedule")
        group = (regime_key(country), schedule_key(schedule))
        item = record.find("Item")
        if (*group, item.text.strip()) in seen:
            taken = groups[group]
            new = str(max(int(i) for i in taken if i.isdigit()) + 1)
            taken.add(new)
            renamed[generator_key(country, schedule, item.text)] = f"ca:{group[0]}/{group[1]}/{new}"
            item.text = new
        seen.add((*group, item.text.strip()))
    tree.write(str(out / CANADA_FIXED), encoding="utf-8", xml_declaration=True)
    with open(out / "truth_clusters.csv", newline="", encoding="utf-8") as src, \
            open(out / TRUTH_FIXED, "w", newline="", encoding="utf-8") as dst:
        rows = csv.reader(src)
        writer = csv.writer(dst)
        writer.writerow(next(rows))
        for cluster, schema, key, caption in rows:
            if key.startswith("ca:"):
                regime, schedule, item = key[3:].split("/", 2)
                key = renamed.get(key) or f"ca:{regime_key(regime)}/{schedule_key(schedule)}/{item}"
            writer.writerow([cluster, schema, key, caption])
    print(f"  {len(renamed)} synthetic Canada items renumbered (duplicate keys); truth keys in registry form",
          flush=True)


def generator_key(country: str, schedule: str | None, item: str) -> str:
    """The key ``synth_lists.py`` writes to its truth file for a Canada record."""
    regime = country.split(" / ")[0].strip().lower().replace(" ", "-")
    spelled = (schedule or "").strip().lower().replace(", ", "-").replace(" ", "-")
    return f"ca:{regime}/{spelled}/{item.strip()}"


def incremental(url: str, engine, un_file: Path, tmp: str) -> None:
    """A typical day: 50 UN records amended, imported, then the incremental match with
    clustering and the gap refresh (``sanctions match``, a child process)."""
    text = un_file.read_text(encoding="utf-8")
    count = iter(range(10**6))
    edited = re.sub(r"<FIRST_NAME>([^<]*)</FIRST_NAME>",
                    lambda m: f"<FIRST_NAME>{m[1]}X</FIRST_NAME>" if next(count) < 50 else m[0], text)
    changed = Path(tmp) / "consolidated.xml"
    changed.write_text(edited, encoding="utf-8")
    # The full match just wrote the whole store (2.4 GB at factor 16); the first commit to
    # wait for the disk would otherwise also wait for the kernel to write all of that
    # back, which a nightly run, hours after, never does.
    if hasattr(os, "sync"):  # Unix
        os.sync()
    start, cpu = time.perf_counter(), time.process_time()
    run = imports.run_import(engine, "un", str(changed))
    imported, import_cpu = time.perf_counter() - start, time.process_time() - cpu
    took, peak, out = sanctions(url, "match")
    inner = float(re.search(r"in ([\d.]+) s", out)[1])
    # The command ends with a count of targets by number of jurisdictions, a query over the
    # whole store that is not a stage of the nightly work (``sanctions refresh`` does not
    # run it): timed again here, on the page cache the command left, to say what it costs.
    start = time.perf_counter()
    with engine.connect() as connection:
        matching.multi_jurisdiction_targets(Session(connection))
    summary = time.perf_counter() - start
    print(f"  nightly: import of the UN list with {run.amended} records amended {imported:.2f} s "
          f"({import_cpu:.2f} s CPU); incremental match with clustering and gap refresh {inner:.2f} s in the "
          f"command ({took:.2f} s wall with Python start-up, {CPU['last']:.2f} s CPU, peak {peak} MB), of which "
          f"about {summary:.2f} s its closing count of targets by jurisdictions; together {imported + inner:.2f} s; "
          f"{out.splitlines()[0].split(': ', 1)[-1]}", flush=True)


# (module, function, what it does): the stages of a full match, in the order they run.
# Candidate search, keys and scoring overlap (``matching._index_and_score``): the search
# and the keys are timed as this process spends them, and the third line is the wait for
# (and this process's share of) the scoring still to do once the search is over.
STAGES = [
    (matching, "_load", "load the stored records and build their features"),
    (matching, "_index_and_score", "candidates, keys and scoring (wall time, overlapped)"),
    (matching, "search_candidates", "  of which candidate search, in this process"),
    (matching, "_write_keys", "  of which keys and best lists, handed to the writer"),
    (parallel.ForkedWorkers, "results", "  of which scoring here, and waiting for the workers"),
    (targets, "recluster", "clustering"),
    (gaps, "refresh", "gap refresh"),
]


def stage_times(url: str) -> None:
    """A full match in this process with a timer on each stage (the functions are wrapped, then restored).

    A generator (the candidate search, the scorers' results) is timed while it runs
    its own code, not while its caller works between two of its items.
    """
    seconds: dict[str, float] = {}
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in STAGES]

    def count(label: str, start: float) -> None:
        seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - start

    def timed(function, label):
        if inspect.isgeneratorfunction(function):
            def run_generator(*args, **kwargs):
                items, start = function(*args, **kwargs), time.perf_counter()
                for item in items:
                    count(label, start)
                    yield item
                    start = time.perf_counter()
                count(label, start)
            return run_generator

        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                count(label, start)
        return run

    engine = db.connect(url)
    for (owner, name, label), (_, _, function) in zip(STAGES, originals):
        setattr(owner, name, timed(function, label))
    try:
        start = time.perf_counter()
        pipeline.match(engine, full=True)
        total = time.perf_counter() - start
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)
        engine.dispose()
    print("  stages of a second full match, in a fresh process:", flush=True)
    for _, _, label in STAGES:
        print(f"    {label:<52} {seconds.get(label, 0.0):6.2f} s")
    # Indented labels are parts of the stage above them: counted once, in it.
    top = sum(value for label, value in seconds.items() if not label.startswith(" "))
    # Token statistics, the commits, the decisions carried.
    print(f"    {'the rest (statistics, commits)':<52} {total - top:6.2f} s")
    print(f"    {'in all':<52} {total:6.2f} s", flush=True)


def bench(factor: int, args, tmp: str) -> float:
    lists = Path(args.lists)
    url = args.db.format(factor=factor) if args.db else f"sqlite:///{tmp}/bench-f{factor}.db"
    engine = db.connect(url)
    if factor == 1:
        files, base, truth = REAL_FILES, lists, SHARED / "data" / "groundtruth" / "dev_clusters.csv"
    else:
        base = synth_dir(Path(args.synth), factor, lists)
        files, truth = SYNTH_FILES, base / TRUTH_FIXED
    start = time.perf_counter()
    for source, rel in files:
        imports.run_import(engine, source, str(base / rel))
    print(f"factor {factor}: imported in {time.perf_counter() - start:.1f} s", flush=True)
    took, peak, out = sanctions(url, "match", "--full")
    first = out.splitlines()[0]
    designations = int(re.search(r"(\d+) designations", first)[1])
    candidates = int(re.search(r"(\d+) candidate pairs", first)[1])
    cpu = CPU["last"]
    print(f"  full match: {designations:,} designations, {took:.1f} s wall, {cpu:.1f} s CPU, peak {peak} MB, "
          f"{candidates:,} pairs scored, {quality(url, truth, tmp)}", flush=True)
    incremental(url, engine, base / "un" / "consolidated.xml", tmp)
    engine.dispose()
    if args.stages:
        # In a fresh process, as ``sanctions match --full`` runs: this one has imported every
        # list and still holds what that left behind (its allocator, caches and garbage).
        subprocess.run([sys.executable, __file__, "--stages-of", url], check=True)
    return cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--factor", type=int, action="append", help="1 = the real lists (repeatable; default 1)")
    ap.add_argument("--lists", default=str(SHARED / "data" / "lists"))
    ap.add_argument("--synth", default=str(REPO.parent / "synth"), help="where synthetic lists are kept")
    ap.add_argument("--db", help="database URL, with {factor} for one per factor (default: a fresh SQLite file per factor)")
    ap.add_argument("--stages", action="store_true",
                    help="then time each stage of a second full match, run in a fresh process")
    ap.add_argument("--stages-of", help=argparse.SUPPRESS)  # the child process --stages starts
    args = ap.parse_args()
    if args.stages_of:
        return stage_times(args.stages_of)
    factors = args.factor or [1]
    times: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for factor in factors:
            times[factor] = bench(factor, args, tmp)
    for small, big in zip(factors, factors[1:]):
        print(f"growth: CPU time f{big} / CPU time f{small} = {times[big] / times[small]:.2f} "
              f"for {big / small:.0f}x the synthetic factor")


if __name__ == "__main__":
    main()
