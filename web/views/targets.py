"""Target page: every jurisdiction's designation of one target side by side."""
from __future__ import annotations

from flask import Blueprint, render_template

from sanctions import queries
from web import database
from web.errors import not_found

bp = Blueprint("targets", __name__)


@bp.get("/targets/<target_id>")
def page(target_id: str):
    session = database.session()
    keys = queries.target_member_keys(session, target_id)
    if not keys:
        raise not_found(f"No target has the id {target_id!r}.")
    members = [queries.designation_detail(session, k) for k in keys]
    return render_template("target.html", target_id=target_id, members=members)
