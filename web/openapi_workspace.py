"""The workspace's part of the OpenAPI document: gap, review, dashboard and audit endpoints.

Every one needs a signed-in session or ``Authorization: Bearer <token>``
(``sanctions user token NAME``); writes need the officer role, the audit log
the admin role.  Kept apart from ``web.openapi`` (the public read side).
"""
from __future__ import annotations

from typing import Any

from sanctions import gap_reads, gaps, review
from sanctions.schema import JURISDICTIONS, KINDS
from web import params

SECURITY = [{"bearer": []}, {"session": []}]


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


def _q(name: str, schema: dict[str, Any], description: str, where: str = "query", required: bool = False):
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema}


DENIED = {"401": _error("Not signed in, or a wrong, revoked or disabled user's token"),
          "403": _error("Signed in without the role this needs")}
WRITE_ERRORS = {**DENIED, "400": _error("Bad parameter or a missing CSRF token (session requests)"),
                "404": _error("No such gap or designation"),
                "409": _error("Someone decided first: nothing changed; the body's `current` is what is recorded")}


def paths() -> dict[str, Any]:
    jurisdictions = {"type": "string", "enum": list(JURISDICTIONS)}
    gap_id = _q("gap_id", {"type": "string"}, "Gap id, e.g. us-gb:us-sdn:16714.", "path", True)
    limit = _q("limit", {"type": "integer", "minimum": 1, "default": 25}, "Entries per page.")
    offset = _q("offset", {"type": "integer", "minimum": 0, "default": 0}, "Entries to skip.")
    return {
        "/api/gaps": {"get": {
            "summary": "Gaps (one entry per target) with the filters of `sanctions gaps`, priority and its reasons.",
            "security": SECURITY,
            "parameters": [
                _q("designated_by", jurisdictions, "Jurisdiction A, which designates (default us)."),
                _q("not_by", {"type": "string", "enum": [*JURISDICTIONS, "any"]},
                   "Jurisdiction B, which does not (repeatable; default gb)."),
                _q("regime", {"type": "string", "enum": list(params.regime_codes())}, "Common regime code."),
                _q("kind", {"type": "string", "enum": list(KINDS)}, "Kind of target."),
                _q("since", {"type": "string", "format": "date"}, "A's listing (or the gap's opening) on or after."),
                _q("status", {"type": "string", "enum": ["open", "closed", *gaps.DISPOSITIONS[1:], "all"],
                              "default": "open"}, "Gap state or disposition."),
                _q("gap_kind", {"type": "string", "enum": ["missing", "delisted"], "default": "missing"},
                   "missing: A designates, B does not; delisted: A delisted, B still lists."),
                _q("rereview", {"type": "string", "enum": ["0", "1"], "default": "0"},
                   "1: only gaps whose disposition is flagged for re-review."),
                _q("sort", {"type": "string", "enum": list(gap_reads.SORTS), "default": "priority"}, "Order."),
                limit, offset,
                _q("format", {"type": "string", "enum": ["json", "csv"], "default": "json"},
                   "json carries the evidence pack of each gap of the page."),
            ],
            "responses": {"200": _ok("A page of gaps with the total"), "400": _error("Bad parameter"), **DENIED}}},
        "/api/gaps/{gap_id}": {"get": {
            "summary": "One gap's evidence pack: records, near misses with explanations, decisions, history.",
            "security": SECURITY, "parameters": [gap_id],
            "responses": {"200": _ok("The gap"), "404": _error("No such gap"), **DENIED}}},
        "/api/gaps/{gap_id}/disposition": {"post": {
            "summary": "Move a gap: open -> under-review -> confirmed | dismissed (officer).",
            "security": SECURITY, "parameters": [gap_id],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["status", "version"], "properties": {
                    "status": {"type": "string", "enum": list(gaps.DISPOSITIONS)},
                    "reason": {"type": "string", "enum": list(gaps.DISMISS_REASONS)},
                    "note": {"type": "string"},
                    "version": {"type": "integer", "description": "The gap's version you decided on."}}}}}},
            "responses": {"200": _ok("The new disposition and version"), **WRITE_ERRORS}}},
        "/api/review": {"get": {
            "summary": "The review queue: the offset-th undecided pair in the review band, both records.",
            "security": SECURITY, "parameters": [offset],
            "responses": {"200": _ok("One pair and the queue's length"), "400": _error("Bad parameter"), **DENIED}}},
        "/api/pairs/decision": {"post": {
            "summary": "Record a pair decision (officer); re-clusters and refreshes gaps at once.",
            "security": SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["key_a", "key_b", "decision", "current"], "properties": {
                    "key_a": {"type": "string"}, "key_b": {"type": "string"},
                    "decision": {"type": "string", "enum": list(review.PAIR_DECISIONS)},
                    "note": {"type": "string"},
                    "current": {"type": "integer",
                                "description": "Id of the pair's current decision you saw (0: none)."}}}}}},
            "responses": {"200": _ok("The decision, target count and gaps opened and closed"), **WRITE_ERRORS}}},
        "/api/dashboard": {"get": {
            "summary": "Source freshness, last imports' changes, gaps opened and closed in 7 days, queues.",
            "security": SECURITY, "responses": {"200": _ok("The dashboard figures"), **DENIED}}},
        "/api/audit": {"get": {
            "summary": "The audit log, newest first, with filters (admin); CSV oldest first.",
            "security": SECURITY,
            "parameters": [_q("actor", {"type": "string"}, "Exact actor."),
                           _q("action", {"type": "string"}, "Exact action."),
                           _q("subject", {"type": "string"}, "Subject contains."),
                           _q("since", {"type": "string", "format": "date"}, "On or after."),
                           _q("until", {"type": "string", "format": "date"}, "On or before."),
                           limit, offset,
                           _q("format", {"type": "string", "enum": ["json", "csv"], "default": "json"}, "Format.")],
            "responses": {"200": _ok("Entries and the total"), "400": _error("Bad parameter"), **DENIED}}},
    }


def security_schemes() -> dict[str, Any]:
    return {"bearer": {"type": "http", "scheme": "bearer", "description": "sanctions user token NAME"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "A signed-in browser session (writes also need the CSRF token)"}}
