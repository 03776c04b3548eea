"""One engine per app and one session per request, closed when the request ends.

The schema is brought to the newest revision when the app starts (as every
CLI command does), so a fresh database serves empty pages, not errors.
"""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from sanctions import db


def init_app(app: Flask) -> None:
    engine = db.connect(app.config["SANCTIONS_DB"])
    app.extensions["sanctions_engine"] = engine
    app.extensions["sanctions_sessions"] = db.session_factory(engine)

    @app.teardown_appcontext
    def close_session(_exc) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def session() -> Session:
    """The request's session (read-only use: views never write)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["sanctions_sessions"]()
    return g.db_session


def engine():
    return current_app.extensions["sanctions_engine"]
