"""Web benchmark: search and target-page latency over all real lists, and requests per second under gunicorn.

    python bench/web_bench.py [--lists ../shared/data/lists] [--sqlite URL] [--postgres URL] [--no-load]

For SQLite (a fresh file unless --sqlite names one) and PostgreSQL (the
server in --postgres or $SANCTIONS_TEST_DB, in a throw-away schema; skipped
when neither is given) it imports every real list, matches, then prints:

- search latency through the app (Flask test client, so routing, the read
  layer and JSON included): median and p95 over a mix of queries (names in
  Latin, Cyrillic and Arabic script, misspellings, identifiers), each run 5 times,
  in wall time and in CPU time of this process (the database's own CPU too on
  SQLite, not on PostgreSQL), because wall time on a shared machine measures the
  neighbours as much as the code;
- target page latency (the HTML page) over the targets those searches found;
- requests per second of /api/search under gunicorn (2 workers) on loopback,
  from 8 client threads for 10 seconds (clients share the machine's 2 cores);
- the officers' workspace (issue 11): the gap list (first request, then a
  cached page), the gap page, and the latency of a recorded decision through
  the JSON API with an officer's token: pair decisions on pairs of the review
  queue (same / different / unsure in turn; each re-clusters the targets it
  touches and refreshes their gaps) and gap dispositions, median and p95.
  These write to the database (a bench officer's decisions, in the audit log).

``--no-load`` reuses databases that already hold the lists.  Figures only,
no assertions: the README quotes them.
"""
from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from sanctions import db, imports, pipeline

REPO = Path(__file__).resolve().parents[1]
FILES = [
    ("us-sdn", "us"),
    ("us-cons", "us/cons_advanced.xml"),
    ("gb", "uk/ConList.xlsx"),
    ("ca", "ca/sema-lmes.xml"),
    ("un", "un/consolidated.xml"),
    ("eu", "eu/fixture-Babystep-Technologies-active_sanction-fsf.xml"),
]
QUERIES = [
    "Evgeny Prigozhin", "Yevgeniy Prigozhin", "Евгений Пригожин", "Prigozin", "Vladimir Putin", "Путин",
    "Sergei Lavrov", "Roman Abramovich", "Alisher Usmanov", "Oleg Deripaska", "Kim Jong Un", "Bashar al-Assad",
    "بشار الأسد", "Saddam Hussein", "Osama bin Laden", "Hezbollah", "Hamas", "Islamic Revolutionary Guard Corps",
    "Rosneft", "Sovcomflot", "Gazprombank", "Wagner Group", "Internet Research Agency", "Mohammed Ali",
    "Abdul Rahman", "Ali Khamenei", "Min Aung Hlaing", "NS Consul", "IMO 9341093", "1027739028712",
    "40 07 136936", "Banco Central de Venezuela", "Tornado Cash", "Lazarus Group", "Alexander Lukashenko",
]
REPEAT = 5


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def load(url: str, lists: Path) -> None:
    engine = db.connect(url)
    start = time.perf_counter()
    for source, rel in FILES:
        imports.run_import(engine, source, str(lists / rel))
    imported = time.perf_counter() - start
    pipeline.match(engine)
    print(f"  loaded: imports with search index {imported:.1f} s, match {time.perf_counter() - start - imported:.1f} s")
    engine.dispose()


def latencies(url: str) -> None:
    from web import create_app

    app = create_app({"SANCTIONS_DB": url})
    client = app.test_client()
    search_ms: list[float] = []
    search_cpu_ms: list[float] = []
    targets: list[str] = []
    for query in QUERIES:
        client.get("/api/search", query_string={"q": query})  # warm the caches once
        for _ in range(REPEAT):
            start, cpu = time.perf_counter(), time.process_time()
            response = client.get("/api/search", query_string={"q": query})
            search_ms.append((time.perf_counter() - start) * 1000)
            search_cpu_ms.append((time.process_time() - cpu) * 1000)
            assert response.status_code == 200
        targets += [r["target_id"] for r in response.get_json()["results"][:2]]
    target_ms: list[float] = []
    for target in dict.fromkeys(targets):
        start = time.perf_counter()
        assert client.get(f"/targets/{target}").status_code == 200
        target_ms.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    client.get("/coordination", query_string={"regime": "russia"})
    first_coordination = (time.perf_counter() - start) * 1000
    print(f"  search      ({len(search_ms)} requests): median {statistics.median(search_ms):.1f} ms, "
          f"p95 {pct(search_ms, 95):.1f} ms, max {max(search_ms):.1f} ms; CPU of this process per search: "
          f"median {statistics.median(search_cpu_ms):.1f} ms, p95 {pct(search_cpu_ms, 95):.1f} ms")
    print(f"  target page ({len(target_ms)} targets):  median {statistics.median(target_ms):.1f} ms, "
          f"p95 {pct(target_ms, 95):.1f} ms")
    print(f"  coordination page (russia), first request: {first_coordination:.0f} ms (then cached until the data change)")
    app.extensions["sanctions_engine"].dispose()


DECISIONS = 30


def workspace(url: str, decisions: int = DECISIONS) -> None:
    """Gap list and gap page latency, and recorded decisions (pair, disposition) through the API."""
    from sanctions import users
    from web import create_app

    engine = db.connect(url)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    users.add_user(engine, name, "officer", uuid.uuid4().hex, "web_bench")
    token = users.issue_token(engine, name, "web_bench")
    engine.dispose()
    app = create_app({"SANCTIONS_DB": url})
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}

    def timed(method: str, path: str, **kw) -> tuple[float, object]:
        start = time.perf_counter()
        response = client.open(path, method=method, headers=auth, **kw)
        took = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
        return took, response.get_json()

    first, listing = timed("GET", "/api/gaps", query_string={"designated_by": "us", "not_by": "gb", "limit": 25})
    cached, _ = timed("GET", "/api/gaps", query_string={"designated_by": "us", "not_by": "gb", "limit": 25,
                                                        "offset": 25})
    print(f"  gap list us-not-gb ({listing['total']} targets, by priority): first request {first:.0f} ms, "
          f"next page {cached:.0f} ms")
    gap_ms = [timed("GET", f"/gaps/{entry['gaps'][0]}")[0] for entry in listing["results"]]
    print(f"  gap page ({len(gap_ms)} gaps): median {statistics.median(gap_ms):.0f} ms, p95 {pct(gap_ms, 95):.0f} ms")

    pair_ms: list[float] = []
    choices = ("unsure", "different", "same")
    for i in range(decisions):
        _, queue = timed("GET", "/api/review", query_string={"offset": i})
        pair = queue["pair"]
        if pair is None:
            break
        took, _ = timed("POST", "/api/pairs/decision", json={"key_a": pair["key_a"], "key_b": pair["key_b"],
                                                             "decision": choices[i % 3], "current": 0})
        pair_ms.append(took)
    gap_ids = [entry["gaps"][0] for entry in listing["results"]][:decisions]
    disposition_ms: list[float] = []
    for gap_id in gap_ids:
        _, gap = timed("GET", f"/api/gaps/{gap_id}")
        if gap["id"] != gap_id or gap["disposition"] != "open":
            continue  # a pair decision above moved or closed it
        took, _ = timed("POST", f"/api/gaps/{gap_id}/disposition", json={"status": "under-review",
                                                                         "version": gap["version"]})
        disposition_ms.append(took)
    if pair_ms:
        print(f"  pair decision ({len(pair_ms)} recorded): median {statistics.median(pair_ms):.0f} ms, "
              f"p95 {pct(pair_ms, 95):.0f} ms, max {max(pair_ms):.0f} ms")
    if disposition_ms:
        print(f"  gap disposition ({len(disposition_ms)} recorded): median {statistics.median(disposition_ms):.0f} ms, "
              f"p95 {pct(disposition_ms, 95):.0f} ms")
    app.extensions["sanctions_engine"].dispose()


def throughput(url: str, seconds: float = 10.0, clients: int = 8) -> None:
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "SANCTIONS_DB": url, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                               "web:create_app()"], env=env, cwd=REPO)
    try:
        for _ in range(200):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/sources")
                conn.getresponse().read()
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(f"gunicorn exited with status {server.returncode}")
                time.sleep(0.3)
        else:
            raise SystemExit("gunicorn did not answer within a minute")
        done = [0] * clients
        errors = [0] * clients
        stop = time.perf_counter() + seconds

        def worker(n: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            i = n
            while time.perf_counter() < stop:
                query = urllib.parse.urlencode({"q": QUERIES[i % len(QUERIES)]})
                conn.request("GET", f"/api/search?{query}")
                response = conn.getresponse()
                response.read()
                done[n] += response.status == 200
                errors[n] += response.status != 200
                i += clients

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.perf_counter() - start
        print(f"  gunicorn (2 workers), /api/search from {clients} clients: {sum(done) / took:.0f} requests/s "
              f"({sum(done)} in {took:.1f} s, {sum(errors)} errors)")
    finally:
        server.terminate()
        server.wait(10)


def postgres_schema(server: str):
    base = db.create(server).url
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    return url, drop


def holds_lists(url: str) -> bool:
    """Whether the database holds any designation (``--no-load`` on an empty one timed nothing)."""
    engine = db.connect(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM designation")).scalar_one() > 0
    finally:
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lists", default=str(REPO.parent / "shared" / "data" / "lists"))
    ap.add_argument("--sqlite", help="SQLite URL (default: a fresh file)")
    ap.add_argument("--postgres", default=os.environ.get("SANCTIONS_TEST_DB"),
                    help="PostgreSQL server URL (default: $SANCTIONS_TEST_DB); a throw-away schema is used "
                         "unless --no-load")
    ap.add_argument("--no-load", action="store_true", help="the databases already hold the lists")
    ap.add_argument("--workspace-only", action="store_true",
                    help="only the officers' workspace figures (with --no-load: on databases already loaded)")
    args = ap.parse_args()
    lists = Path(args.lists)
    # Wall times depend on what else the machine runs: say how busy it was.
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("SQLite", args.sqlite or f"sqlite:///{tmp}/bench.db", None)]
        if args.postgres:
            if args.no_load:
                runs.append(("PostgreSQL", args.postgres, None))
            else:
                url, drop = postgres_schema(args.postgres)
                runs.append(("PostgreSQL", url, drop))
        else:
            print("PostgreSQL: skipped (give --postgres or set SANCTIONS_TEST_DB)")
        for label, url, drop in runs:
            print(f"{label}:")
            try:
                if not args.no_load:
                    load(url, lists)
                elif not holds_lists(url):
                    print(f"  skipped: --no-load, but {db.safe_url(url)} holds no designations (load it first, or drop "
                          f"--no-load)")
                    continue
                if not args.workspace_only:
                    latencies(url)
                    throughput(url)
                workspace(url)
            finally:
                if drop:
                    drop()


if __name__ == "__main__":
    main()
