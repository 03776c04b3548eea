"""Designation page: one publisher's record as stored, with its history and raw record."""
from __future__ import annotations

import json

from flask import Blueprint, render_template

from sanctions import queries, target_view
from web import database
from web.errors import not_found

bp = Blueprint("designations", __name__)


def load(key: str) -> dict:
    detail = queries.designation_detail(database.session(), key)
    if detail is None:
        raise not_found(f"No designation has the key {key!r}.")
    return detail


@bp.get("/designations/<path:key>")
def page(key: str):
    detail = load(key)
    detail["publisher_link"] = target_view.publisher_link(detail["source"], detail["source_id"])
    target = queries.target_ids(database.session(), [key]).get(key)
    raw = json.dumps(detail["raw"], ensure_ascii=False, indent=2, sort_keys=True)
    return render_template("designation.html", d=detail, target_id=target, raw=raw)
