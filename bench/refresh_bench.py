"""Refresh benchmark: three nightly refreshes of the real lists from a local HTTP publisher.

    python bench/refresh_bench.py [--lists ../shared/data/lists] [--db URL]

1. the first refresh downloads, archives and imports every list, matches in
   full and writes the change report;
2. the second gets HTTP 304 for every list (conditional requests) and
   imports nothing;
3. the third follows a new UN publication (one individual delisted, one
   renamed): only the UN list is downloaded and imported, the match is
   incremental.

Prints the wall time of each refresh and of its stages (from the structured
log), and the size of the change report.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sanctions import config, db, refresh  # noqa: E402
from sanctions.eventlog import EventLog  # noqa: E402
from tests.publisher import Publisher  # noqa: E402
from tests.refresh_helpers import un_edition  # noqa: E402

FILES = {
    "us-sdn": str(REPO / "tests" / "data" / "sdn_advanced_excerpt.xml"),  # the real SDN one is ~120 MB
    "us-cons": "us/cons_advanced.xml",
    "eu": "eu/fixture-Babystep-Technologies-active_sanction-fsf.xml",
    "gb": "uk/fixture-Babystep-Technologies-active_sanction-uk-sanctions-list.xml",
    "ca": "ca/sema-lmes.xml",
    "un": "un/consolidated.xml",
}


def stage_times(log_text: str) -> dict[str, float]:
    """Seconds spent downloading, importing and matching, from the refresh's log lines."""
    import datetime as dt

    events = []
    for line in log_text.splitlines():
        record = json.loads(line)
        events.append((dt.datetime.fromisoformat(record["ts"].replace("Z", "+00:00")), record))
    totals = {"fetch": 0.0, "import": 0.0, "match": 0.0}
    starts: dict[tuple[str, str | None], dt.datetime] = {}
    for at, record in events:
        stage, _, step = record["event"].partition(".")
        key = (stage, record.get("source"))
        if step == "start" and stage in totals:
            starts[key] = at
        elif key in starts and step in ("done", "not-modified", "failed"):
            totals[stage] += (at - starts.pop(key)).total_seconds()
    return totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lists", default=str(REPO.parent / "shared" / "data" / "lists"))
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    lists = Path(args.lists)
    with tempfile.TemporaryDirectory() as tmp, Publisher() as publisher:
        tmp_path = Path(tmp)
        lines = [f'[archive]\ndir = "{tmp_path / "archive"}"', f'[reports]\ndir = "{tmp_path / "reports"}"']
        for source, name in FILES.items():
            publisher.publish(f"/{source}", (lists / name).read_bytes())
            lines.append(f'[sources.{source}]\nurl = "{publisher.url("/" + source)}"')
        (tmp_path / "sanctions.toml").write_text("\n\n".join(lines) + "\n")
        settings = config.load(tmp_path / "sanctions.toml", environ={})
        engine = db.connect(args.db or f"sqlite:///{tmp_path / 'bench.db'}")
        print(f"database: {engine.url.render_as_string(hide_password=True)}")
        print(f"{'refresh':<40} {'wall s':>7} {'fetch s':>7} {'import s':>8} {'match s':>7}  outcomes")
        for label in ("1 first: every list new", "2 nothing new (HTTP 304 for all)", "3 new UN publication"):
            if label.startswith("3"):
                publisher.publish("/un", un_edition(publisher.files["/un"], drop=1, rename="CHANGED"))
            log = io.StringIO()
            started = time.perf_counter()
            result = refresh.run(engine, settings, log=EventLog("json", stream=log))
            wall = time.perf_counter() - started
            t = stage_times(log.getvalue())
            outcomes = ", ".join(f"{o.source} {o.outcome}" for o in result.outcomes)
            print(f"{label:<40} {wall:>7.1f} {t['fetch']:>7.2f} {t['import']:>8.1f} {t['match']:>7.1f}  {outcomes}")
            totals = result.report["summary"]["totals"]
            report_bytes = len(json.dumps(result.report))
            print(f"{'':<40} report: {totals['new']} new, {totals['amended']} amended, {totals['delisted']} "
                  f"delisted, gaps {totals['gaps_opened']} opened / {totals['gaps_closed']} closed; "
                  f"JSON {report_bytes / 1e6:.1f} MB")
        engine.dispose()


if __name__ == "__main__":
    main()
