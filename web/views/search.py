"""Search page: one box, results grouped by target, filters, pagination, CSV/JSON downloads."""
from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from sanctions import search
from sanctions.schema import JURISDICTIONS, KINDS
from web import database, params

bp = Blueprint("search", __name__)


def page_url(offset: int) -> str:
    args = request.args.to_dict(flat=False)
    args["offset"] = [str(offset)]
    return url_for("search.page", **args)


def download_url(fmt: str) -> str:
    args = {k: v for k, v in request.args.to_dict(flat=False).items() if k not in ("offset", "limit")}
    return url_for("api.search_api", **args, format=fmt, limit=params.MAX_LIMIT)


@bp.get("/")
def page():
    query = params.search_query(request.args, require_q=False)
    result = None
    if query is not None:
        result = search.search(database.session(), query)
        params.check_page(result, query)
    return render_template("search.html", result=result, query=query, args=request.args,
                           jurisdictions=JURISDICTIONS, kinds=KINDS, regimes=params.regime_codes(),
                           statuses=search.STATUSES, page_url=page_url, download_url=download_url)
