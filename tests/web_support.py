"""Module-scoped databases for the web tests: import once per database, then many requests.

The conftest ``db_url`` fixture is per test; the web tests read the same
imported data in many tests, so they build one database per module and per
dialect here (same SQLite file / throw-away PostgreSQL schema scheme).
"""
from __future__ import annotations

import contextlib
import uuid

import pytest
from sqlalchemy import create_engine, text

from sanctions import db
from tests.conftest import _postgres_url


@contextlib.contextmanager
def module_database(dialect: str, tmp_dir):
    """A URL to an empty database of this dialect, dropped afterwards."""
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_dir / 'web.db'}"
        return
    base = db.create(_postgres_url()).url
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


DIALECTS = pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
