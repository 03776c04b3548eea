"""The audit log's hash chain: tampering around the triggers is caught by 'audit verify' and stops appends.

Each test writes a few entries through ``audit.append``, then plays the
attacker with raw SQL the way issue 8 describes (drop or disable the
triggers, then forge, delete, truncate or back-date), on SQLite and
PostgreSQL, and checks that ``sanctions audit verify`` names the entry and
that the next append is refused.
"""
from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text

from sanctions import audit, imports
from sanctions.cli import main
from sanctions.db import session_factory
from sanctions.models import AuditEntry, AuditHead
from tests.conftest import SAMPLES


def write_entries(engine, n=4):
    for i in range(n):
        with session_factory(engine).begin() as session:
            audit.append(session, f"officer{i}", "gap-status", f"gap-{i}", {"disposition": "open"},
                         {"disposition": "under-review"}, f"note {i}")


def verify(db_url):
    return CliRunner().invoke(main, ["--db", db_url, "audit", "verify"])


def lift_triggers(engine):
    """What an attacker with the owner's rights does first."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER ALL"))
            conn.execute(text("ALTER TABLE audit_head DISABLE TRIGGER ALL"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def assert_append_refused(engine):
    with pytest.raises(audit.AuditChainBroken):
        with session_factory(engine).begin() as session:
            audit.append(session, "officer9", "gap-status", "gap-9", None, None)


def test_intact_chain_verifies_and_survives_both_databases(engine, db_url):
    write_entries(engine)
    result = verify(db_url)
    assert result.exit_code == 0, result.output
    with session_factory(engine)() as session:
        head = session.get(AuditHead, 1)
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [r.id for r in rows] == [1, 2, 3, 4] and head.entries == 4
    assert rows[0].prev_hash == audit.GENESIS and all(b.prev_hash == a.entry_hash for a, b in zip(rows, rows[1:]))
    assert f"4 entries, chain head {head.last_hash}" in result.output


def test_triggers_still_refuse_update_and_delete(engine):
    write_entries(engine, 1)
    for statement in ("UPDATE audit_log SET note = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sa_exc.DatabaseError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(statement))


def test_forged_entry(engine, db_url):
    write_entries(engine)
    lift_triggers(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE id = 2"))
    result = verify(db_url)
    assert result.exit_code == 1
    assert "entry 2 was altered" in result.output and "after 1 good entries" in result.output
    assert_append_refused(engine)


def test_forged_last_entry_is_caught_by_the_next_append(engine):
    write_entries(engine)
    lift_triggers(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET note = 'rewritten' WHERE id = 4"))
    assert_append_refused(engine)


def test_deleted_entry(engine, db_url):
    write_entries(engine)
    lift_triggers(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 3"))
    result = verify(db_url)
    assert result.exit_code == 1 and "entry 3 is missing (deleted)" in result.output, result.output
    assert_append_refused(engine)


def test_deleted_tail(engine, db_url):
    write_entries(engine)
    lift_triggers(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id >= 3"))
    result = verify(db_url)
    assert result.exit_code == 1 and "the chain head records 4" in result.output, result.output
    assert_append_refused(engine)


def test_truncated_log(engine, db_url):
    write_entries(engine)
    if engine.dialect.name == "postgresql":
        # Refused by the trigger of migration 0005 ...
        with pytest.raises(sa_exc.DatabaseError, match="may not be truncated"):
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE audit_log"))
        lift_triggers(engine)  # ... so the attacker disables it first
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
    else:
        lift_triggers(engine)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log"))
    result = verify(db_url)
    assert result.exit_code == 1
    assert "ends after 0 entries but the chain head records 4" in result.output and "truncated" in result.output
    assert_append_refused(engine)


def test_back_dated_insert_without_a_hash(engine, db_url):
    write_entries(engine)
    with engine.begin() as conn:  # inserts are allowed; the chain is what catches them
        conn.execute(text("INSERT INTO audit_log (id, at, actor, action, subject) "
                          "VALUES (5, :at, 'ghost', 'gap-status', 'gap-x')"), {"at": dt.datetime(2020, 1, 1)})
    result = verify(db_url)
    assert result.exit_code == 1 and "entry 5 has no chain hash" in result.output
    assert_append_refused(engine)


def test_back_dated_insert_with_a_recomputed_chain(engine, db_url):
    """The attacker knows the hash recipe and moves the head too: the date order still betrays the entry."""
    write_entries(engine)
    lift_triggers(engine)
    with session_factory(engine).begin() as session:
        head = session.get(AuditHead, 1)
        at = dt.datetime(2020, 1, 1, 12, 0)
        digest = audit.entry_hash(5, at, "ghost", "gap-status", "gap-x", None, None, None, head.last_hash)
        session.add(AuditEntry(id=5, at=at, actor="ghost", action="gap-status", subject="gap-x",
                               prev_hash=head.last_hash, entry_hash=digest))
        head.entries, head.last_id, head.last_hash = 5, 5, digest
    result = verify(db_url)
    assert result.exit_code == 1 and "entry 5 is back-dated" in result.output, result.output


def test_inserted_entry_in_the_middle(engine, db_url):
    write_entries(engine)
    lift_triggers(engine)
    with engine.begin() as conn:  # replace entry 2 by another with a fresh, self-consistent hash
        conn.execute(text("DELETE FROM audit_log WHERE id = 2"))
    with session_factory(engine).begin() as session:
        first = session.get(AuditEntry, 1)
        at = first.at
        digest = audit.entry_hash(2, at, "ghost", "gap-status", "gap-1", None, None, None, "f" * 64)
        session.add(AuditEntry(id=2, at=at, actor="ghost", action="gap-status", subject="gap-1",
                               prev_hash="f" * 64, entry_hash=digest))
    result = verify(db_url)
    assert result.exit_code == 1 and "entry 2 was inserted or replaced" in result.output, result.output


def test_review_command_refuses_to_append_to_a_broken_chain(engine, db_url):
    imports.run_import(engine, "us-sdn", str(SAMPLES / "us"))
    imports.run_import(engine, "gb", str(SAMPLES / "gb" / "ConList.csv"))
    write_entries(engine, 2)
    lift_triggers(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET note = 'forged' WHERE id = 1"))
    with session_factory(engine)() as session:
        keys = session.execute(text("SELECT key FROM designation ORDER BY key LIMIT 2")).scalars().all()
    result = CliRunner().invoke(main, ["--db", db_url, "review", "pair", keys[0], keys[1], "unsure",
                                       "--by", "officer"])
    assert result.exit_code == 1 and "nothing appended" in result.output, result.output
    assert "Traceback" not in result.output
    with session_factory(engine)() as session:
        assert session.scalar(select(AuditHead.entries)) == 2
        assert session.execute(text("SELECT count(*) FROM pair_decision")).scalar() == 0
