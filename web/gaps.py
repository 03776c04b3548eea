"""The workspace's gap pages: the prioritised list, one gap with officer actions, its printable dossier.

Signed-in users only (viewer and up); decisions need the officer role.  Every
read goes through ``sanctions.gap_reads``, every decision through
``sanctions.review`` (the CLI's own functions), audited with the user as actor.
"""
from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from sanctions import gap_queries, gap_reads, gaps, pipeline, review
from sanctions.schema import JURISDICTIONS, KINDS
from sanctions.reports import GAP_COLUMNS, PRIORITY_COLUMNS, gap_row
from web import auth, database
from web.errors import UserError, bad_request, not_found
from web.params import _choice, _choices, _date, _integer, regime_codes

bp = Blueprint("gaps", __name__)
STATUSES = ("open", "closed", *gaps.DISPOSITIONS[1:], "all")
DEFAULT_LIMIT = 25
MAX_LIMIT = 500


def gap_query(args: MultiDict) -> tuple[gap_queries.GapQuery, dict]:
    """The filters of ``sanctions gaps`` from query parameters; a bad value is a 400 naming it."""
    designated_by = _choice(args, "designated_by", JURISDICTIONS, "us")
    not_by = list(_choices(args, "not_by", (*JURISDICTIONS, "any"))) or ["gb"]
    if "any" in not_by:
        not_by = ["any"]
    if designated_by in not_by:
        raise bad_request(f"not_by={designated_by!r} is the jurisdiction that designates; choose another.")
    query = gap_queries.GapQuery(designated_by=designated_by, not_by=not_by,
                                 regime=_choice(args, "regime", regime_codes()), kind=_choice(args, "kind", KINDS),
                                 since=_date(args, "since"), status=_choice(args, "status", STATUSES, "open"),
                                 gap_kind=_choice(args, "gap_kind", ("missing", "delisted"), "missing"))
    extra = {"sort": _choice(args, "sort", gap_reads.SORTS, "priority"),
             "rereview": _choice(args, "rereview", ("1", "0"), "0") == "1",
             "limit": _integer(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
             "offset": _integer(args, "offset", 0, 0, 10**9)}
    return query, extra


def _list(args: MultiDict, evidence: bool = False) -> tuple[gap_queries.GapQuery, dict, dict]:
    query, extra = gap_query(args)
    result = gap_reads.list_gaps(database.session(), query, sort=extra["sort"], needs_review=extra["rereview"],
                                 limit=extra["limit"], offset=extra["offset"], evidence=evidence)
    if extra["offset"] and extra["offset"] >= result["total"]:
        raise bad_request(f"offset={extra['offset']} is past the end: there are {result['total']} gaps.",
                          "offset_out_of_range")
    return query, extra, result


@bp.get("/gaps")
@auth.require("viewer")
def page():
    query, extra, result = _list(request.args)
    return render_template("gaps.html", q=query, extra=extra, result=result, jurisdictions=JURISDICTIONS,
                           kinds=KINDS, regimes=regime_codes(), statuses=STATUSES, sorts=gap_reads.SORTS,
                           args=request.args)


@bp.get("/api/gaps")
@auth.require("viewer")
def list_api():
    fmt = _choice(request.args, "format", ("json", "csv"), "json")
    _query, extra, result = _list(request.args, evidence=fmt == "json")
    if fmt == "json":
        return jsonify(result)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=GAP_COLUMNS + PRIORITY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(gap_row(g) for g in result["results"])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="sanctions-gaps.csv"'})


def load(gap_id: str) -> dict:
    if len(gap_id) > 250:
        raise not_found("No gap has an id that long.")
    detail = gap_reads.gap_detail(database.session(), gap_id)
    if detail is None:
        raise not_found(f"No gap has the id {gap_id!r}.")
    return detail


def _renamed(gap_id: str, endpoint: str):
    """A gap id of before gap ids named targets: redirect to the gap's current id (links keep working)."""
    if len(gap_id) <= 250:
        current = gap_reads.resolve_gap_id(database.session(), gap_id)
        if current and current != gap_id:
            return redirect(url_for(endpoint, gap_id=current), 301)
    return None


@bp.get("/gaps/<path:gap_id>/dossier")
@auth.require("viewer")
def dossier(gap_id: str):
    moved = _renamed(gap_id, "gaps.dossier")
    if moved:
        return moved
    return render_template("gap_dossier.html", gap=load(gap_id), printed_by=auth.actor(),
                           printed_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None))


@bp.get("/gaps/<path:gap_id>")
@auth.require("viewer")
def detail(gap_id: str):
    moved = _renamed(gap_id, "gaps.detail")
    if moved:
        return moved
    return render_template("gap.html", gap=load(gap_id), reasons=gaps.DISMISS_REASONS,
                           transitions=review.TRANSITIONS)


@bp.get("/api/gaps/<path:gap_id>")
@auth.require("viewer")
def detail_api(gap_id: str):
    return jsonify(load(gap_id))


def _payload():
    """The form of a browser's POST, or the JSON object of a script's."""
    if not request.is_json:
        return request.form
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "bad_body")
    return body


def _form(name: str, limit: int = 2000) -> str | None:
    value = _payload().get(name)
    if value is None:
        return None
    value = str(value).strip()
    if len(value) > limit:
        raise bad_request(f"{name} is {len(value)} characters long; at most {limit}.")
    return value or None


def _version(name: str) -> int:
    raw = _form(name, 20)
    if raw is None:
        raise bad_request(f"{name} is required: the version of what you decided on, so that nobody's decision "
                          "is overwritten unseen.", "missing_version")
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"{name}={raw!r} is not a whole number.") from None


def _conflict(exc: review.Conflict) -> UserError:
    error = UserError(409, "conflict", f"{exc} Nothing was changed; here is what is recorded now.")
    error.current = exc.current
    return error


def set_disposition(gap_id: str) -> dict:
    status = _form("status", 20)
    if status not in gaps.DISPOSITIONS:
        raise bad_request(f"status={status!r} is not one of: {', '.join(gaps.DISPOSITIONS)}.")
    version = _version("version")
    try:
        return pipeline.set_gap_status(database.engine(), gap_id, status, auth.actor(), _form("reason", 40),
                                       _form("note"), expected_version=version)
    except review.Conflict as exc:
        raise _conflict(exc) from None
    except review.ReviewError as exc:
        message = str(exc)
        if message.startswith("no gap"):
            raise not_found(message[0].upper() + message[1:] + ".") from None
        raise bad_request(message[0].upper() + message[1:].replace("--reason", "a reason") + ".",
                          "refused") from None


@bp.post("/gaps/<path:gap_id>/disposition")
@auth.require("officer")
def disposition(gap_id: str):
    try:
        result = set_disposition(gap_id)
    except UserError as exc:
        if exc.status != 409:
            raise
        # The page as it is now, with the first officer's decision, and the conflict said plainly.
        return render_template("gap.html", gap=load(gap_id), reasons=gaps.DISMISS_REASONS,
                               transitions=review.TRANSITIONS, conflict=exc.message), 409
    flash(f"Gap {gap_id} is now {result['disposition']}"
          + (f" ({result['reason']})" if result.get("reason") else "") + ".", "ok")
    return redirect(url_for("gaps.detail", gap_id=gap_id), 303)


@bp.post("/api/gaps/<path:gap_id>/disposition")
@auth.require("officer")
def disposition_api(gap_id: str):
    try:
        return jsonify(set_disposition(gap_id))
    except UserError as exc:
        if exc.status != 409:
            raise
        return conflict_response(exc)


def conflict_response(exc: UserError):
    """409 in the API's error shape, plus what is recorded now."""
    return jsonify({"error": {"code": exc.code, "message": exc.message}, "current": exc.current}), 409
