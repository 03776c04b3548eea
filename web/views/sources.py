"""Sources page: each source's last import, publication date, counts, and the last failure."""
from __future__ import annotations

from flask import Blueprint, render_template

from sanctions import queries
from web import database

bp = Blueprint("sources", __name__)


def summary() -> list[dict]:
    """Each source's summary, with why its stored data looks partial (None when it does not)."""
    session = database.session()
    partial = queries.partial_sources(session)
    return [{**s, "partial": partial.get(s["source"])} for s in queries.sources_summary(session)]


@bp.get("/sources")
def page():
    return render_template("sources.html", sources=summary())
