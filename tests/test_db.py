"""Schema migrations: any command brings an empty or older database to the newest revision."""

import subprocess
import sys

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, select, text

from sanctions import db, imports
from sanctions.models import Base
from tests.conftest import SAMPLES


def revision(engine):
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# The tables revision 0001 created, in an order that respects their foreign keys.
OLD_TABLES = ("import_run", "designation", "designation_name", "designation_birth_date", "designation_country",
              "designation_identifier", "designation_address", "designation_change")


def _copy_old_rows(source, target) -> None:
    """Copy what revision 0001's tables hold, column by column as 0001 has them."""
    old = MetaData()
    old.reflect(target, only=list(OLD_TABLES))
    with source.connect() as read, target.begin() as write:
        for name in OLD_TABLES:
            columns = [c.name for c in old.tables[name].columns]
            typed = Base.metadata.tables[name]  # today's column types read the values back as Python objects
            rows = [dict(zip(columns, row)) for row in read.execute(select(*[typed.c[c] for c in columns]))]
            if rows:
                write.execute(old.tables[name].insert(), rows)
            if target.dialect.name == "postgresql":  # ids were given explicitly: move the sequence past them
                write.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                   f"(SELECT max(id) FROM {name}))"))


def test_older_database_is_upgraded_with_its_data(db_url, tmp_path):
    """A store written by revision 0001 (real rows of the UN sample) upgrades to the head and keeps its data.

    The old store's rows are produced by today's importer in a scratch database
    and copied column by column into a database left at 0001, so the test does
    not depend on today's code writing yesterday's schema.
    """
    scratch = db.connect(f"sqlite:///{tmp_path / 'scratch.db'}")
    imports.run_import(scratch, "un", str(SAMPLES / "un" / "consolidated.xml"))

    engine = db.create(db_url)
    config = db._alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    assert revision(engine) == "0001" and "gap" not in inspect(engine).get_table_names()
    _copy_old_rows(scratch, engine)

    upgraded = db.connect(db_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert revision(upgraded) == head
    assert {"gap", "audit_log", "match_pair", "target_member", "search_entry"} <= set(inspect(upgraded).get_table_names())
    with upgraded.connect() as connection:
        keys = set(connection.scalars(text("SELECT key FROM designation")))
    assert len(keys) == 30 and all(k.startswith("un:") for k in keys)
    # The same publication again changes nothing stored: the upgrade kept every record whole.
    again = imports.run_import(upgraded, "un", str(SAMPLES / "un" / "consolidated.xml"), force=True)
    assert (again.added, again.amended, again.removed) == (0, 0, 0)
    for e in (scratch, engine, upgraded):
        e.dispose()


def test_head_revision_from_file_names_is_alembics_head(db_url):
    """``db.head_revision()`` lets a command skip Alembic on a current database: it must be
    the head Alembic finds in the scripts, and a new database ends at it."""
    assert db.head_revision() == ScriptDirectory.from_config(db._alembic_config()).get_current_head()
    fresh = db.create(db_url)
    assert db._stored_revision(fresh) is None  # nothing there yet: the upgrade must run
    fresh.dispose()
    engine = db.connect(db_url)
    assert revision(engine) == db.head_revision() == db._stored_revision(engine)
    engine.dispose()


def test_a_current_database_is_opened_without_alembic(tmp_path):
    """The point of the fast path: a command on a current database never imports Alembic."""
    url = f"sqlite:///{tmp_path / 'current.db'}"
    db.connect(url).dispose()  # created and upgraded here
    code = ("import sys; from sanctions import db; db.connect(sys.argv[1]).dispose(); "
            "print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
