"""Migration 0004 on a registry of before: officers' decisions survive the re-keying (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import JSON, bindparam, select, text

from sanctions import db, pipeline
from sanctions.db import session_factory
from sanctions.models import AuditEntry, Designation, Gap, GapFormerId, MatchPair, PairDecision, TargetMember

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


def test_upgrade_rekeys_targets_and_gaps_without_losing_decisions(db_url):
    engine = db.create(db_url)
    config = db._alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
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

    db.upgrade(engine)
    with session_factory(engine)() as session:
        keys = dict(session.execute(select(Designation.key, Designation.content)).all())
        members = dict(session.execute(select(TargetMember.designation_key, TargetMember.target_id)).all())
        gaps = {g.id: g for g in session.scalars(select(Gap))}
        former = dict(session.execute(select(GapFormerId.former_id, GapFormerId.gap_id)).all())
        pair = session.execute(select(MatchPair.key_a, MatchPair.key_b)).one()
        decision = session.execute(select(PairDecision.key_a, PairDecision.key_b)).one()
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert set(keys) == {NEW_CA, "us-sdn:1", "us-cons:5", "gb:A"} and keys[NEW_CA]["key"] == NEW_CA
    assert tuple(pair) == (NEW_CA, "us-sdn:1") and tuple(decision) == (NEW_CA, "us-sdn:1")
    # The cluster keeps its id; a designation on its own gets a target too.
    assert members[NEW_CA] == members["us-sdn:1"] == members["us-cons:5"] == CLUSTER
    alone = members["gb:A"]
    assert alone.startswith("T") and len(alone) == 13 and alone != CLUSTER
    # One gap per target and pair; the decision left on the closed one is carried and flagged.
    assert set(gaps) == {f"us-gb:{CLUSTER}", f"ca-gb:{CLUSTER}", f"gb-ca:{alone}"}
    folded = gaps[f"us-gb:{CLUSTER}"]
    assert folded.state == "open" and folded.disposition == "dismissed" and folded.reason == "policy-divergence"
    assert folded.needs_review and folded.carried_from == "us-gb:us-cons:5" and folded.target_id == CLUSTER
    assert gaps[f"ca-gb:{CLUSTER}"].disposition == "under-review" and not gaps[f"ca-gb:{CLUSTER}"].needs_review
    assert gaps[f"gb-ca:{alone}"].disposition == "confirmed"
    assert former == {"us-gb:us-cons:5": f"us-gb:{CLUSTER}", "us-gb:us-sdn:1": f"us-gb:{CLUSTER}",
                      f"ca-gb:{OLD_CA}": f"ca-gb:{CLUSTER}", "gb-ca:gb:A": f"gb-ca:{alone}"}
    # The append-only log keeps the old key as written; the carry is logged beside it.
    assert audit[0].subject == f"{OLD_CA} us-sdn:1"
    assert [(e.action, e.subject) for e in audit[1:]] == [("gap-carried", f"us-gb:{CLUSTER}")]
    # An officer can still act on a gap by the id they knew.
    result = pipeline.set_gap_status(engine, f"ca-gb:{OLD_CA}", "confirmed", "officer")
    assert result["gap"] == f"ca-gb:{CLUSTER}"
    engine.dispose()
