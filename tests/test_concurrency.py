"""Two writers at once, as separate processes running the real CLI, on SQLite and PostgreSQL.

Each scenario starts two ``sanctions`` commands that write the same store
and checks that both succeed and that the store ends exactly as one of the
two serial orders would leave it, never a mix:

- two imports of one source (issue 8: on PostgreSQL they lost updates; on
  SQLite the second died with ``database is locked``);
- an import during a ``match --full``;
- a review decision during a ``match --full``.

The serial references are built on fresh databases from the same start.
The real UN list makes each import and match last long enough to overlap.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Date, DateTime, MetaData, create_engine, select, text

import importers
from sanctions import db, imports, store
from sanctions.cli import main
from tests.conftest import REPO, SAMPLES, _postgres_url, real_file

# Tables that record when and by which run something happened, not what the store holds.
RUN_TABLES = {"alembic_version", "import_run", "match_run", "audit_log", "audit_head", "designation_change",
              "refresh", "download"}
# SQLite's full-text index keeps its own binary segments, whose layout follows the order of writes.
DERIVED_PREFIXES = ("search_fts",)


def start(db_url: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "SANCTIONS_LOCK_TIMEOUT": "600"}
    return subprocess.Popen([sys.executable, "-m", "sanctions.cli", "--db", db_url, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, f"{process.args[3:]} failed:\n{out}\n{err}"
    assert "Traceback" not in err
    return out


def _value(value):
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, Decimal):
        return round(float(value), 6)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def store_state(url: str) -> dict[str, list[tuple]]:
    """What the store holds, table by table, without surrogate ids, run ids and timestamps."""
    engine = db.create(url)
    metadata = MetaData()
    metadata.reflect(engine)
    state = {}
    with engine.connect() as conn:
        for name, table in sorted(metadata.tables.items()):
            if name in RUN_TABLES or name.startswith(DERIVED_PREFIXES):
                continue
            columns = [c for c in table.columns if not (c.name == "id" or c.name.endswith("_id")
                                                        or isinstance(c.type, (Date, DateTime)))]
            if not columns:
                continue
            rows = conn.execute(select(*columns)).all()
            state[name] = sorted((tuple(_value(v) for v in row) for row in rows), key=repr)
    engine.dispose()
    return state


def assert_one_of(state, references: dict[str, dict]):
    for order, reference in references.items():
        if state == reference:
            return order
    differing = {order: sorted(t for t in reference if reference[t] != state.get(t))
                 for order, reference in references.items()}
    pytest.fail(f"the store is a mix of the serial orders; tables differing from each: {differing}")


@pytest.fixture
def fresh_url(db_url, tmp_path):
    """A factory of further empty databases of the same kind as ``db_url``, for the serial references."""
    made = []

    def make() -> str:
        if db_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'reference-{uuid.uuid4().hex[:8]}.db'}"
        base = db.create(_postgres_url()).url
        schema = f"test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        made.append((base, schema))
        return base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)

    yield make
    for base, schema in made:
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def un_variant(tmp_path: Path, name: str, drop_every: int, rename_every: int, tag: str) -> Path:
    """The real UN list with every n-th individual dropped and every m-th renamed: a later publication."""
    text_ = real_file("un", "consolidated.xml").read_text(encoding="utf-8")
    head, _, rest = text_.partition("<INDIVIDUAL>")
    parts = rest.split("<INDIVIDUAL>")
    kept = []
    for i, part in enumerate(parts):
        if drop_every and i % drop_every == 1 and "</INDIVIDUALS>" not in part:
            continue
        if rename_every and i % rename_every == 0:
            part = part.replace("<FIRST_NAME>", f"<FIRST_NAME>{tag}", 1)
        kept.append(part)
    path = tmp_path / name
    path.write_text(head + "<INDIVIDUAL>" + "<INDIVIDUAL>".join(kept), encoding="utf-8")
    return path


def expected_store(source: str, path: Path) -> dict[str, str]:
    """key -> content hash of a publication, as an import would store it."""
    _, parsed = importers.load(source, str(path))
    imports.apply_crosswalk(parsed)
    return {r.key: store.prepare(r).digest for r in parsed.designations}


def active_hashes(url: str, source: str) -> dict[str, str]:
    engine = db.create(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT key, content_hash FROM designation "
                                 "WHERE source = :source AND status = 'active'"), {"source": source}).all()
    engine.dispose()
    return dict(rows)


def load_start(url: str, un: Path) -> None:
    """The common start: the bundled excerpts and a UN publication."""
    engine = db.connect(url)
    for source, path in (("us-sdn", SAMPLES / "us"), ("gb", SAMPLES / "gb" / "ConList.csv"),
                         ("un", un)):
        imports.run_import(engine, source, str(path), allow_shrink=True)
    engine.dispose()


def run_cli(url: str, *args: str) -> None:
    result = CliRunner().invoke(main, ["--db", url, *args])
    assert result.exit_code == 0, result.output


def test_two_imports_of_one_source(db_url, tmp_path):
    """Issue 8's case: the 2021 and the 2024 OFAC SDN sets imported at once."""
    old_set = real_file("us", "sdn_csv_2021-04", "sdn.csv").parent  # has no sdn_comments.csv: partial
    new_set = real_file("us", "sdn.csv").parent
    db.connect(db_url).dispose()  # the schema exists (concurrent first connections: test below)
    first = start(db_url, "import", "us-sdn", str(old_set), "--allow-shrink", "--allow-partial")
    second = start(db_url, "import", "us-sdn", str(new_set), "--allow-shrink", "--allow-partial")
    finish(first), finish(second)

    engine = db.create(db_url)
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT location, status, added, removed FROM import_run "
                                 "WHERE source = 'us-sdn' ORDER BY finished_at, id")).all()
    engine.dispose()
    assert [r.status for r in runs] == ["succeeded", "succeeded"], runs
    first_done, last_done = (expected_store("us-sdn", Path(r.location)) for r in runs)
    # The store holds exactly the publication imported last, which was diffed against the first's.
    assert active_hashes(db_url, "us-sdn") == last_done
    assert runs[0].added == len(first_done)
    assert runs[1].removed == len(set(first_done) - set(last_done))
    assert runs[1].added == len(set(last_done) - set(first_done))


def test_first_commands_on_a_new_database(db_url):
    """Two commands on an empty database at once: one creates the schema, the other waits for it."""
    processes = [start(db_url, "sources") for _ in range(3)]
    for process in processes:
        assert "us-sdn" in finish(process)


def test_import_during_a_match(db_url, fresh_url, tmp_path):
    original = real_file("un", "consolidated.xml")
    later = un_variant(tmp_path, "later.xml", drop_every=9, rename_every=5, tag="Q")
    load_start(db_url, original)
    match = start(db_url, "match", "--full")
    time.sleep(3)  # the match is reading and scoring
    importing = start(db_url, "import", "un", str(later), "--allow-shrink")
    finish(match), finish(importing)

    references = {}
    for name, steps in (("match, then import", [("match", "--full"), ("import", "un", str(later),
                                                                        "--allow-shrink")]),
                        ("import, then match", [("import", "un", str(later), "--allow-shrink"),
                                                ("match", "--full")])):
        url = fresh_url()
        load_start(url, original)
        for step in steps:
            run_cli(url, *step)
        references[name] = store_state(url)
    assert_one_of(store_state(db_url), references)


def test_review_decision_during_a_match(db_url, fresh_url, tmp_path):
    original = real_file("un", "consolidated.xml")
    load_start(db_url, original)
    engine = db.create(db_url)
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT key FROM designation WHERE source = 'gb' ORDER BY key LIMIT 1")).scalars() \
            .all() + conn.execute(text("SELECT key FROM designation WHERE source = 'us-sdn' ORDER BY key LIMIT 1")) \
            .scalars().all()
    engine.dispose()
    decision = ("review", "pair", keys[0], keys[1], "different", "--by", "officer", "--note", "checked")
    match = start(db_url, "match", "--full")
    time.sleep(3)
    deciding = start(db_url, *decision)
    finish(match), finish(deciding)

    references = {}
    for name, steps in (("match, then decision", [("match", "--full"), decision]),
                        ("decision, then match", [decision, ("match", "--full")])):
        url = fresh_url()
        load_start(url, original)
        for step in steps:
            run_cli(url, *step)
        references[name] = store_state(url)
    assert_one_of(store_state(db_url), references)
