"""Coordination page: who designates what the others do not, per regime family, and who led."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from sanctions import coordination
from web import database, params
from web.errors import bad_request

bp = Blueprint("coordination", __name__)
DEFAULT_REGIME = "russia"


def regime_param() -> str:
    regime = (request.args.get("regime") or DEFAULT_REGIME).strip()
    if regime not in params.regime_codes():
        raise bad_request(f"regime={regime!r} is not one of: {', '.join(params.regime_codes())}.")
    return regime


@bp.get("/coordination")
def page():
    data = coordination.coordination(database.session(), regime_param())
    peak = max([n for row in data["matrix"].values() for n in row.values()] or [0]) or 1
    year_peak = max([n for y in data["timeline"] for n in y["listed"].values()] or [0]) or 1
    return render_template("coordination.html", c=data, regimes=params.regime_codes(), peak=peak,
                           year_peak=year_peak)
