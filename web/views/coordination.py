"""Coordination page: who designates what the others do not, per regime family, and who led."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("coordination", __name__)


@bp.get("/coordination")
def page():
    return "coordination", 200
