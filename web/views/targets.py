"""Target page: every jurisdiction's designation of one target side by side (public: no gaps, no decisions)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from sanctions import queries, target_view
from web import database
from web.errors import not_found

bp = Blueprint("targets", __name__)


class Moved(Exception):
    """The target was merged into another: its old URL redirects to the one that absorbed it."""

    def __init__(self, target_id: str):
        self.target_id = target_id


def load(target_id: str) -> dict:
    if len(target_id) > 250:
        raise not_found("No target has an id that long.")
    session = database.session()
    detail = target_view.target_detail(session, target_id)
    if detail is None:
        lineage = queries.target_lineage(session, target_id)
        if lineage and lineage["merged_into"]:
            raise Moved(lineage["merged_into"])
        raise not_found(f"No target has the id {target_id!r}.")
    return detail


@bp.get("/targets/<path:target_id>")
def page(target_id: str):
    try:
        return render_template("target.html", t=load(target_id))
    except Moved as moved:
        return redirect(url_for("targets.page", target_id=moved.target_id), 301)
