"""Migration 0004 on a registry of before: officers' decisions survive the re-keying (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import json


from alembic import command
from sqlalchemy import JSON, bindparam, text

from sanctions import db, pipeline

OLD_CA = "ca:belarus/1,part-3/2"
NEW_CA = "ca:belarus/1-part-3/2"
CLUSTER = "Tfeedfeedfeed"


def _designation(conn, row_id: int, key: str, source: str, jurisdiction: str, status: str = "active") -> None:
    content = {"key": key, "source": source, "name": key, "kind": "person", "names": [], "identifiers": []}
    conn.execute(text(
        "INSERT INTO designation (id, key, source, jurisdiction, source_id, kind, name, programmes, regimes, "
        "status, first_run_id, changed_run_id, content_hash, content, raw, warnings) VALUES "
        "(:id, :key, :source, :jurisdiction, :sid, 'person', :name, '[]', '[]', :status, 1, 1, 'old', :content, "
        "'{}', '[]')").bindparams(bindparam("content", type_=JSON)),
        {"id": row_id, "key": key, "sid": key, "name": key, "source": source, "jurisdiction": jurisdiction,
         "status": status, "content": content})


def _gap(conn, gap_id: str, anchor: str, state: str, disposition: str, reason: str | None = None) -> None:
    a, b = gap_id.split(":")[0].split("-")
    conn.execute(text(
        "INSERT INTO gap (id, kind, designated_by, not_by, anchor_key, state, opened_on, disposition, reason, "
        "needs_review, closed_reason) VALUES (:id, 'missing', :a, :b, :anchor, :state, :opened, :disposition, "
        ":reason, :no, :closed)"),
        {"id": gap_id, "a": a, "b": b, "anchor": anchor, "state": state, "opened": dt.date(2026, 1, 1),
         "disposition": disposition, "reason": reason, "no": False,
         "closed": "target-changed" if state == "closed" else None})


def _registry_of_before(db_url):
    """A database at revision 0003 holding targets, gaps and decisions the old way."""
    engine = db.create(db_url)
    _upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO import_run (id, source, location, started_at, status, parsed, added, "
                          "amended, removed, relisted, unchanged, warning_count, warnings) VALUES "
                          "(1, 'ca', 'x', :at, 'succeeded', 0, 0, 0, 0, 0, 0, 0, '[]')"),
                     {"at": dt.datetime(2026, 1, 1)})
        _designation(conn, 1, OLD_CA, "ca", "ca")
        _designation(conn, 2, "us-sdn:1", "us-sdn", "us")
        _designation(conn, 3, "us-cons:5", "us-cons", "us", status="removed")
        _designation(conn, 4, "gb:A", "gb", "gb")
        for key in (OLD_CA, "us-sdn:1", "us-cons:5"):
            conn.execute(text("INSERT INTO cluster_member (designation_key, cluster_id) VALUES (:k, :c)"),
                         {"k": key, "c": CLUSTER})
        conn.execute(text("INSERT INTO match_run (id, mode, started_at, status, designations, changed, candidates, "
                          "linked, review, clusters, high, low) VALUES (1, 'full', :at, 'succeeded', 4, 4, 1, 1, "
                          "0, 1, 0.88, 0.7)"), {"at": dt.datetime(2026, 1, 1)})
        conn.execute(text("INSERT INTO match_pair (key_a, key_b, score, strength, band, explanation, run_id) "
                          "VALUES (:a, 'us-sdn:1', 0.9, 0.9, 'link', '{}', 1)"), {"a": OLD_CA})
        conn.execute(text("INSERT INTO pair_decision (key_a, key_b, decision, decided_by, decided_at, \"current\", "
                          "needs_review) VALUES (:a, 'us-sdn:1', 'same', 'officer', :at, :yes, :no)"),
                     {"a": OLD_CA, "at": dt.datetime(2026, 1, 1), "yes": True, "no": False})
        conn.execute(text("INSERT INTO audit_log (at, actor, action, subject) VALUES (:at, 'officer', "
                          "'pair-decision', :s)"), {"at": dt.datetime(2026, 1, 1), "s": f"{OLD_CA} us-sdn:1"})
        # The bug of before: the anchor us-cons:5 was delisted, its gap closed with the officer's decision
        # on it, and the same gap reopened under us-sdn:1 with none.
        _gap(conn, "us-gb:us-cons:5", "us-cons:5", "closed", "dismissed", "policy-divergence")
        _gap(conn, "us-gb:us-sdn:1", "us-sdn:1", "open", "open")
        _gap(conn, f"ca-gb:{OLD_CA}", OLD_CA, "open", "under-review")
        _gap(conn, "gb-ca:gb:A", "gb:A", "open", "confirmed")

    return engine


def _upgrade(engine, revision: str) -> None:
    config = db._alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _rows(engine, sql: str) -> list:
    # Plain SQL: the models describe the newest schema, this database stops at 0004.
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_upgrade_rekeys_targets_and_gaps_without_losing_decisions(db_url):
    engine = _registry_of_before(db_url)
    _upgrade(engine, "0004")
    keys = {k: c for k, c in _rows(engine, "SELECT key, content FROM designation")}
    members = dict(_rows(engine, "SELECT designation_key, target_id FROM target_member"))
    columns = "id, state, disposition, reason, needs_review, carried_from, target_id"
    gaps = {r[0]: r for r in _rows(engine, f"SELECT {columns} FROM gap")}
    former = dict(_rows(engine, "SELECT former_id, gap_id FROM gap_former_id"))
    assert _rows(engine, "SELECT key_a, key_b FROM match_pair") == [(NEW_CA, "us-sdn:1")]
    assert _rows(engine, "SELECT key_a, key_b FROM pair_decision") == [(NEW_CA, "us-sdn:1")]
    audit = _rows(engine, "SELECT action, subject FROM audit_log ORDER BY id")
    assert set(keys) == {NEW_CA, "us-sdn:1", "us-cons:5", "gb:A"}
    content = keys[NEW_CA] if isinstance(keys[NEW_CA], dict) else json.loads(keys[NEW_CA])
    assert content["key"] == NEW_CA
    # The cluster keeps its id; a designation on its own gets a target too.
    assert members[NEW_CA] == members["us-sdn:1"] == members["us-cons:5"] == CLUSTER
    alone = members["gb:A"]
    assert alone.startswith("T") and len(alone) == 13 and alone != CLUSTER
    # One gap per target and pair; the decision left on the closed one is carried and flagged.
    assert set(gaps) == {f"us-gb:{CLUSTER}", f"ca-gb:{CLUSTER}", f"gb-ca:{alone}"}
    assert gaps[f"us-gb:{CLUSTER}"][1:] == ("open", "dismissed", "policy-divergence", True, "us-gb:us-cons:5",
                                            CLUSTER)
    assert gaps[f"ca-gb:{CLUSTER}"][2] == "under-review" and not gaps[f"ca-gb:{CLUSTER}"][4]
    assert gaps[f"gb-ca:{alone}"][2] == "confirmed"
    assert former == {"us-gb:us-cons:5": f"us-gb:{CLUSTER}", "us-gb:us-sdn:1": f"us-gb:{CLUSTER}",
                      f"ca-gb:{OLD_CA}": f"ca-gb:{CLUSTER}", "gb-ca:gb:A": f"gb-ca:{alone}"}
    # The append-only log keeps the old key as written; the carry is logged beside it.
    assert audit == [("pair-decision", f"{OLD_CA} us-sdn:1"), ("gap-carried", f"us-gb:{CLUSTER}")]
    engine.dispose()


def test_old_gap_id_works_after_upgrading_to_the_newest_schema(db_url):
    # Also guards migration 0005 on SQLite: it once rebuilt import_run, which SQLite's foreign
    # keys (designation -> import_run) refused on any registry that holds data.
    engine = _registry_of_before(db_url)
    db.upgrade(engine)
    result = pipeline.set_gap_status(engine, f"ca-gb:{OLD_CA}", "confirmed", "officer")
    assert result["gap"] == f"ca-gb:{CLUSTER}"
    engine.dispose()
