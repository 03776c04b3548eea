"""Pair decisions on the web: the review queue (one pair at a time, keyboard shortcuts) and the decision endpoint.

The decision goes through ``pipeline.decide_pair``, the CLI's own function, which
re-clusters and refreshes gaps; the form carries the id of the pair's current
decision (0: none), so a second officer deciding the same pair gets a conflict.
"""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from sanctions import gap_reads, pipeline, review
from web import auth, database
from web.errors import UserError, bad_request, not_found
from web.gaps import _conflict, _form, _version, conflict_response
from web.params import _integer

bp = Blueprint("review", __name__)


@bp.get("/review")
@auth.require("viewer")
def queue():
    offset = _integer(request.args, "offset", 0, 0, 10**9)
    item = gap_reads.review_queue(database.session(), offset)
    return render_template("review.html", item=item, offset=offset)


@bp.get("/api/review")
@auth.require("viewer")
def queue_api():
    return jsonify(gap_reads.review_queue(database.session(), _integer(request.args, "offset", 0, 0, 10**9)))


def decide() -> dict:
    key_a, key_b = _form("key_a", 200), _form("key_b", 200)
    if not key_a or not key_b:
        raise bad_request("key_a and key_b are required: the two designations of the pair.")
    decision = _form("decision", 20)
    if decision not in review.PAIR_DECISIONS:
        raise bad_request(f"decision={decision!r} is not one of: {', '.join(review.PAIR_DECISIONS)}.")
    current = _version("current")
    try:
        return pipeline.decide_pair(database.engine(), key_a, key_b, decision, auth.actor(), _form("note"),
                                    expected=current)
    except review.Conflict as exc:
        raise _conflict(exc) from None
    except review.ReviewError as exc:
        message = str(exc)
        if message.startswith("no designation"):
            raise not_found(message[0].upper() + message[1:] + ".") from None
        raise bad_request(message[0].upper() + message[1:] + ".", "refused") from None


@bp.post("/review/decide")
@auth.require("officer")
def decide_form():
    back = request.form.get("back") or ""
    back = back if back.startswith("/") and not back.startswith("//") else url_for("review.queue")
    try:
        result = decide()
    except UserError as exc:
        if exc.status != 409:
            raise
        current = getattr(exc, "current", None) or {}
        who = f" {current.get('by')} decided “{current.get('decision')}”." if current.get("decision") else ""
        flash(exc.message + who, "error")
        return redirect(back, 303)
    counts = result["gaps"]
    flash(f"{result['pair'][0]} / {result['pair'][1]}: {result['decision']}. Gaps opened {counts['opened']}, "
          f"closed {counts['closed']}.", "ok")
    return redirect(back, 303)


@bp.post("/api/pairs/decision")
@auth.require("officer")
def decide_api():
    try:
        return jsonify(decide())
    except UserError as exc:
        if exc.status != 409:
            raise
        return conflict_response(exc)
