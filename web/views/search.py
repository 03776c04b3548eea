"""Search page: one box, results grouped by target, filters, pagination, CSV/JSON downloads."""
from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("search", __name__)


@bp.get("/")
def page():
    return render_template("search.html", result=None, params={})
