"""Schema migrations: any command brings an empty or older database to the newest revision."""
import datetime as dt
import hashlib

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from sanctions import db, imports
from tests.conftest import SAMPLES


def revision(engine):
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_older_database_is_upgraded_with_its_data(db_url):
    engine = db.create(db_url)
    config = db._alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    assert revision(engine) == "0001" and "gap" not in inspect(engine).get_table_names()
    # Plain SQL: the models describe the newest schema, this database stops at 0001.
    sample = SAMPLES / "un" / "consolidated.xml"
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO import_run (source, location, sha256, started_at, status, parsed, "
                                "added, amended, removed, relisted, unchanged, warning_count, warnings) VALUES "
                                "('un', 'x', :sha, :at, 'succeeded', 30, 30, 0, 0, 0, 0, 0, '[]')"),
                           {"sha": hashlib.sha256(sample.read_bytes()).hexdigest(), "at": dt.datetime(2026, 1, 1)})

    upgraded = db.connect(db_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert revision(upgraded) == head
    assert {"gap", "audit_log", "match_pair"} <= set(inspect(upgraded).get_table_names())
    assert imports.run_import(upgraded, "un", str(SAMPLES / "un" / "consolidated.xml")).status == "unchanged"
    engine.dispose()
    upgraded.dispose()
