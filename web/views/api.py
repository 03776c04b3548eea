"""The JSON API under /api/: the same read-layer functions as the pages, one error shape."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, jsonify, redirect, request, url_for

from sanctions import coordination, queries, screening, search
from sanctions.schema import KINDS
from web import database, params
from web.errors import bad_request
from web.openapi import openapi_document
from web.views import coordination as coordination_view
from web.views import designations as designations_view
from web.views import targets as targets_view

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_SCREEN_RESULTS = 50


@bp.get("/search")
def search_api():
    query = params.search_query(request.args)
    fmt = (request.args.get("format") or "json").strip()
    if fmt not in ("json", "csv"):
        raise bad_request(f"format={fmt!r} is not one of: json, csv.")
    result = search.search(database.session(), query)
    params.check_page(result, query)
    if fmt == "json":
        return jsonify(result)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=search.CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(search.csv_row(r) for r in result["results"])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="sanctions-search.csv"'})


@bp.get("/targets/<path:target_id>")
def target_api(target_id: str):
    try:
        return jsonify(targets_view.load(target_id))
    except targets_view.Moved as moved:
        return redirect(url_for("api.target_api", target_id=moved.target_id), 301)


@bp.get("/designations/<path:key>")
def designation_api(key: str):
    return jsonify(designations_view.load(key))


@bp.get("/coordination")
def coordination_api():
    return jsonify(coordination.coordination(database.session(), coordination_view.regime_param()))


@bp.get("/sources")
def sources_api():
    return jsonify({"sources": queries.sources_summary(database.session())})


def _probe(body) -> tuple[screening.Probe, int]:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object with at least a \"name\".", "bad_body")
    unknown = sorted(set(body) - {"name", "kind", "birth_date", "nationality", "identifiers", "limit"})
    if unknown:
        raise bad_request(f"Unknown field(s): {', '.join(unknown)}.", "bad_body")
    name = body.get("name")
    if not isinstance(name, str) or not any(ch.isalnum() for ch in name):
        raise bad_request("\"name\" is required: the name to screen, as text.", "bad_body")
    if len(name) > params.MAX_QUERY_LENGTH:
        raise bad_request(f"\"name\" is {len(name)} characters long; at most {params.MAX_QUERY_LENGTH}.",
                          "query_too_long")
    kind = body.get("kind") or "person"
    if kind not in KINDS:
        raise bad_request(f"kind={kind!r} is not one of: {', '.join(KINDS)}.")
    nationality = body.get("nationality")
    if nationality is not None and not (isinstance(nationality, str) and len(nationality) == 2
                                        and nationality.isalpha()):
        raise bad_request("\"nationality\" must be a two-letter ISO 3166 country code, e.g. \"RU\".")
    birth_date = body.get("birth_date")
    if birth_date is not None and not isinstance(birth_date, str):
        raise bad_request("\"birth_date\" must be text: YYYY, YYYY-MM or YYYY-MM-DD.")
    identifiers = body.get("identifiers") or []
    if not isinstance(identifiers, list) or len(identifiers) > 20:
        raise bad_request("\"identifiers\" must be a list (at most 20) of {\"type\", \"value\"} objects.")
    clean = []
    for item in identifiers:
        if isinstance(item, str):
            item = {"type": "other", "value": item}
        if not (isinstance(item, dict) and isinstance(item.get("value"), str) and item["value"].strip()
                and len(item["value"]) <= 100):
            raise bad_request("Each identifier must be {\"type\": ..., \"value\": \"...\"} with a value.")
        clean.append({"type": str(item.get("type") or "other"), "value": item["value"]})
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_SCREEN_RESULTS:
        raise bad_request(f"\"limit\" must be a whole number from 1 to {MAX_SCREEN_RESULTS}.")
    probe = screening.Probe(name=name, kind=kind, birth_date=birth_date, nationality=nationality, identifiers=clean)
    try:
        screening.probe_record(probe)
    except screening.ProbeError as exc:
        raise bad_request(str(exc)) from None
    return probe, limit


@bp.post("/match")
def match_api():
    body = request.get_json(silent=True)
    if body is None:
        raise bad_request("Send a JSON object (Content-Type: application/json) with at least a \"name\".", "bad_body")
    probe, limit = _probe(body)
    return jsonify(screening.screen(database.session(), probe, limit))


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
