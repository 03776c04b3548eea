"""Sources page: each source's last import, publication date, counts, and the last failure."""
from __future__ import annotations

from flask import Blueprint, render_template

from sanctions import queries
from web import database

bp = Blueprint("sources", __name__)


@bp.get("/sources")
def page():
    return render_template("sources.html", sources=queries.sources_summary(database.session()))
