"""Admin pages: the append-only audit log with filters, pagination and a CSV download."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

from flask import Blueprint, Response, jsonify, render_template, request

from sanctions import audit_query
from web import auth, database
from web.errors import bad_request
from web.params import _integer

bp = Blueprint("admin", __name__)
CSV_COLUMNS = ("id", "at", "actor", "action", "subject", "before", "after", "note")


def _date(name: str) -> dt.date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"{name}={raw!r} is not a date (YYYY-MM-DD).") from None


def _filter() -> audit_query.AuditFilter:
    def text(name: str) -> str | None:
        value = (request.args.get(name) or "").strip()
        if len(value) > 200:
            raise bad_request(f"{name} is {len(value)} characters long; at most 200.")
        return value or None

    return audit_query.AuditFilter(actor=text("actor"), action=text("action"), subject=text("subject"),
                                   since=_date("since"), until=_date("until"))


@bp.get("/audit")
@auth.require("admin")
def audit_page():
    f = _filter()
    limit = _integer(request.args, "limit", 50, 1, 1000)
    offset = _integer(request.args, "offset", 0, 0, 10**9)
    session = database.session()
    result = audit_query.find(session, f, limit, offset)
    return render_template("audit.html", f=f, result=result, facets=audit_query.facets(session), args=request.args)


@bp.get("/api/audit")
@auth.require("admin")
def audit_api():
    f = _filter()
    fmt = (request.args.get("format") or "json").strip()
    if fmt not in ("json", "csv"):
        raise bad_request(f"format={fmt!r} is not one of: json, csv.")
    if fmt == "json":
        return jsonify(audit_query.find(database.session(), f, _integer(request.args, "limit", 50, 1, 1000),
                                        _integer(request.args, "offset", 0, 0, 10**9)))
    entries = audit_query.find(database.session(), f, limit=None)["entries"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for e in reversed(entries):  # oldest first, as ``sanctions audit`` writes it
        writer.writerow({**e, "before": json.dumps(e["before"]) if e["before"] is not None else "",
                         "after": json.dumps(e["after"]) if e["after"] is not None else ""})
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="sanctions-audit.csv"'})
