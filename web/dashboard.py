"""The officers' dashboard: source freshness, last imports' changes, gap flow, queues (signed-in users)."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from sanctions import dashboard as figures
from web import auth, database

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
@auth.require("viewer")
def page():
    return render_template("dashboard.html", d=figures.dashboard(database.session()))


@bp.get("/api/dashboard")
@auth.require("viewer")
def api():
    return jsonify(figures.dashboard(database.session()))
