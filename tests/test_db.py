"""Schema migrations: any command brings an empty or older database to the newest revision."""
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

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
    run = imports.run_import(engine, "un", str(SAMPLES / "un" / "consolidated.xml"))
    assert run.added == 30

    upgraded = db.connect(db_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert revision(upgraded) == head
    assert {"gap", "audit_log", "match_pair"} <= set(inspect(upgraded).get_table_names())
    assert imports.run_import(upgraded, "un", str(SAMPLES / "un" / "consolidated.xml")).status == "unchanged"
    engine.dispose()
    upgraded.dispose()
