"""PostgreSQL: the application runs under a role that owns no tables (the README's setup, tried for real).

Migrations run as the owner; the application role gets only the rights the
README grants.  It can import, match and append to the audit log, but it
cannot lift the triggers, truncate the log or rewrite an entry: tampering
then needs the owner's credentials, and the chain still shows it.
"""
from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, exc as sa_exc, text

from sanctions import db
from sanctions.cli import main
from tests.conftest import SAMPLES, _postgres_url

# The grants of the README's "Running under a role that owns no tables", for one schema.
GRANTS = """
GRANT USAGE ON SCHEMA {schema} TO {app};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app};
REVOKE UPDATE, DELETE ON {schema}.audit_log FROM {app};
REVOKE DELETE ON {schema}.audit_head FROM {app};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app};
"""


@pytest.fixture
def app_url():
    base = db.create(_postgres_url()).url
    schema, app = f"test_{uuid.uuid4().hex[:12]}", f"app_{uuid.uuid4().hex[:8]}"
    owner = create_engine(base)
    with owner.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(text(f"CREATE ROLE {app} LOGIN"))
    owner_url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    db.connect(owner_url.render_as_string(hide_password=False)).dispose()  # migrations, as the owner
    with owner.begin() as conn:
        for statement in GRANTS.format(schema=schema, app=app).strip().splitlines():
            conn.execute(text(statement))
    yield base.set(username=app).update_query_dict({"options": f"-csearch_path={schema}"}) \
        .render_as_string(hide_password=False)
    with owner.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        conn.execute(text(f"DROP OWNED BY {app}"))
        conn.execute(text(f"DROP ROLE {app}"))
    owner.dispose()


def test_app_role_works_but_cannot_tamper(app_url):
    def run(*args):
        result = CliRunner().invoke(main, ["--db", app_url, *args])
        assert result.exit_code == 0, result.output
        return result.output

    run("import", "us-sdn", str(SAMPLES / "us"), "--allow-partial")
    run("import", "gb", str(SAMPLES / "gb" / "ConList.csv"), "--allow-partial")
    run("match")
    run("review", "pair", "gb:DPR0096", "us-sdn:11311", "different", "--by", "officer")
    assert "audit log intact: 1 entries" in run("audit", "verify")

    engine = db.create(app_url)
    for statement in ("ALTER TABLE audit_log DISABLE TRIGGER ALL", "DROP TRIGGER audit_log_append_only ON audit_log",
                      "TRUNCATE audit_log", "UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log",
                      "DELETE FROM audit_head"):
        with pytest.raises(sa_exc.DatabaseError, match="must be owner|permission denied|append-only|may not"):
            with engine.begin() as conn:
                conn.execute(text(statement))
    engine.dispose()
    assert "audit log intact: 1 entries" in run("audit", "verify")
