"""What the audit chain costs: appends per second and a full 'audit verify', on SQLite (and PostgreSQL).

    python bench/audit_bench.py [--entries 10000] [--db URL]

Appends the entries in batches of 100 per transaction (as a gap refresh
flagging many decisions would: each transaction verifies the whole chain
once, then checks the tail per entry), then times ``audit.verify``.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sanctions import audit, db


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'audit.db'}"
        engine = db.connect(url)
        Session = db.session_factory(engine)
        started = time.perf_counter()
        first_batch = None
        for start in range(0, args.entries, 100):
            batch_started = time.perf_counter()
            with Session.begin() as session:
                for i in range(start, min(start + 100, args.entries)):
                    audit.append(session, "bench officer", "gap-disposition", f"us-gb:T{i:012d}",
                                 {"disposition": "open"}, {"disposition": "under-review"}, f"entry {i}")
            if first_batch is None:
                first_batch = time.perf_counter() - batch_started
            last_batch = time.perf_counter() - batch_started
        appended = time.perf_counter() - started
        with Session() as session:
            started = time.perf_counter()
            result = audit.verify(session)
            verified = time.perf_counter() - started
        engine.dispose()
    print(f"database: {engine.dialect.name}")
    print(f"appended {args.entries:,} entries in {appended:.1f} s ({args.entries / appended:,.0f}/s); "
          f"a batch of 100: {first_batch * 1000:.0f} ms on an empty log, {last_batch * 1000:.0f} ms at the end "
          f"(includes verifying the whole chain once)")
    print(f"audit verify: {result.entries:,} entries in {verified:.2f} s "
          f"({result.entries / verified:,.0f}/s), intact={result.ok}")


if __name__ == "__main__":
    main()
