"""Shared fixtures: databases (SQLite and PostgreSQL) and the real list files.

Every test that takes ``engine`` runs twice: on a fresh SQLite file and on
a fresh PostgreSQL schema of the server named by ``SANCTIONS_TEST_DB``
(``.ci/run`` sets it).  Without that variable the PostgreSQL half skips and
says why.  Real-data tests read ``../shared/data`` beside the repository
(or the ``data`` folder that ``SANCTIONS_SHARED_DATA`` names) and skip with
the path they looked for; a ``SANCTIONS_SHARED_DATA`` that holds no ``lists``
folder fails them instead, since a CI run that skips every real-data test by
mistake would look green.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from typing import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sanctions import db

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA_SETTING = os.environ.get("SANCTIONS_SHARED_DATA")
SHARED_DATA = Path(SHARED_DATA_SETTING or REPO.parent / "shared" / "data")
LISTS = SHARED_DATA / "lists"
SAMPLES = REPO / "sanctions" / "samples"


def real_file(*parts: str) -> Path:
    """A file under ../shared/data/lists, or skip the test naming what is missing.

    An explicit SANCTIONS_SHARED_DATA is a promise that the data is there, so
    a value without a ``lists`` folder (say, the lists folder itself) fails.
    """
    if SHARED_DATA_SETTING and not LISTS.is_dir():
        pytest.fail(f"SANCTIONS_SHARED_DATA={SHARED_DATA_SETTING} has no 'lists' folder: it must name the data "
                    f"folder that holds lists/ (e.g. ../shared/data), not {LISTS}", pytrace=False)
    path = LISTS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real list file {path} is absent (tests with full files need ../shared/data)")
    return path


def _postgres_url() -> str:
    url = os.environ.get("SANCTIONS_TEST_DB")
    if not url:
        pytest.skip("SANCTIONS_TEST_DB is not set: PostgreSQL tests skipped (.ci/run sets it)")
    return url


@contextlib.contextmanager
def throwaway_database(dialect: str, folder: Path, name: str = "test.db") -> Iterator[str]:
    """A URL to an empty database of this dialect: a SQLite file in ``folder``, or a PostgreSQL
    schema of its own on the server of ``SANCTIONS_TEST_DB``, dropped afterwards."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / name}"
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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A URL to an empty database: a SQLite file, or a throw-away PostgreSQL schema."""
    with throwaway_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url):
    engine = db.connect(db_url)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True, scope="session")
def _error_log_outside_the_repository(tmp_path_factory):
    """Internal errors are logged to $SANCTIONS_LOG: keep the tests' log out of the working tree."""
    path = tmp_path_factory.mktemp("log") / "sanctions-errors.log"
    previous = os.environ.get("SANCTIONS_LOG")
    os.environ["SANCTIONS_LOG"] = str(path)
    yield
    if previous is None:
        os.environ.pop("SANCTIONS_LOG", None)
    else:
        os.environ["SANCTIONS_LOG"] = previous
