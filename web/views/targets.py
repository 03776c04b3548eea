"""Target page: every jurisdiction's designation of one target side by side (public: no gaps, no decisions)."""
from __future__ import annotations

from flask import Blueprint, render_template

from sanctions import target_view
from web import database
from web.errors import not_found

bp = Blueprint("targets", __name__)


def load(target_id: str) -> dict:
    if len(target_id) > 250:
        raise not_found("No target has an id that long.")
    detail = target_view.target_detail(database.session(), target_id)
    if detail is None:
        raise not_found(f"No target has the id {target_id!r}.")
    return detail


@bp.get("/targets/<path:target_id>")
def page(target_id: str):
    return render_template("target.html", t=load(target_id))
