"""The OpenAPI 3.1 document served at /api/openapi.json (a test checks it against the app's routes)."""
from __future__ import annotations

from typing import Any

from sanctions.schema import JURISDICTIONS, KINDS
from sanctions.search import STATUSES
from web import params

ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad parameter", 404: "Not found", 405: "Method not allowed"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


def _param(name: str, schema: dict[str, Any], description: str, where: str = "query",
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema or {"type": "object"}}}}


def openapi_document() -> dict[str, Any]:
    doc = _read_side_document()
    # The officers' workspace adds its own endpoints (issue 11).
    from web import openapi_workspace

    doc["paths"].update(openapi_workspace.paths())
    doc["components"]["securitySchemes"] = openapi_workspace.security_schemes()
    return doc


def _read_side_document() -> dict[str, Any]:
    jurisdictions = {"type": "string", "enum": list(JURISDICTIONS)}
    search_params = [
        _param("q", {"type": "string", "maxLength": params.MAX_QUERY_LENGTH},
               "A name in any script or an identifier.", required=True),
        _param("designated_by", jurisdictions, "Only targets this jurisdiction designates (repeatable)."),
        _param("not_designated_by", jurisdictions, "Only targets this jurisdiction does not designate (repeatable)."),
        _param("kind", {"type": "string", "enum": list(KINDS)}, "Kind of target."),
        _param("regime", {"type": "string", "enum": list(params.regime_codes())}, "Common regime code."),
        _param("status", {"type": "string", "enum": list(STATUSES), "default": "all"},
               "active: still designated somewhere; removed: no longer designated anywhere."),
        _param("listed_since", {"type": "string", "format": "date"}, "Listed on or after this date somewhere."),
        _param("limit", {"type": "integer", "minimum": 1, "maximum": params.MAX_LIMIT,
                         "default": params.DEFAULT_LIMIT}, "Results per page."),
        _param("offset", {"type": "integer", "minimum": 0, "default": 0}, "Results to skip."),
        _param("format", {"type": "string", "enum": ["json", "csv"], "default": "json"}, "Response format."),
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sanctions registry API", "version": "1",
                 "description": "Read-only search and comparison of sanctions designations across jurisdictions. "
                                "Every error is {\"error\": {\"code\", \"message\"}} with a 4xx status."},
        "paths": {
            "/api/search": {"get": {
                "summary": "Search designations by name or identifier; results grouped by target.",
                "parameters": search_params,
                "responses": {"200": {"description": "A page of targets, best first, with the total",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchResult"}},
                                                  "text/csv": {"schema": {"type": "string"}}}},
                              **_errors(400)}}},
            "/api/targets/{target_id}": {"get": {
                "summary": "One target: every jurisdiction's designation, match evidence, links, history.",
                "parameters": [_param("target_id", {"type": "string"}, "Target id.", "path", True)],
                "responses": {"200": _json("The target"), **_errors(404)}}},
            "/api/designations/{key}": {"get": {
                "summary": "One designation as stored, with its history and the publisher's raw record.",
                "parameters": [_param("key", {"type": "string"}, "Designation key, e.g. us-sdn:21171.", "path", True)],
                "responses": {"200": _json("The designation"), **_errors(404)}}},
            "/api/coordination": {"get": {
                "summary": "For one regime family: designated-by-A-not-by-B matrix, lead/follow and timeline.",
                "parameters": [_param("regime", {"type": "string", "enum": list(params.regime_codes()),
                                                 "default": "russia"}, "Common regime code.")],
                "responses": {"200": _json("The coordination figures"), **_errors(400)}}},
            "/api/sources": {"get": {
                "summary": "Each source's last import, publication date, counts and last failure.",
                "responses": {"200": _json("The sources")}}},
            "/api/match": {"post": {
                "summary": "Screen a name (with optional birth date, nationality, kind, identifiers) with the "
                           "registry's matcher.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ScreeningRequest"}}}},
                "responses": {"200": _json("Best-matching designations and their targets, with scores and "
                                           "explanations"), **_errors(400)}}},
            "/api/openapi.json": {"get": {"summary": "This document.", "responses": {"200": _json("OpenAPI")}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
            "SearchResult": {"type": "object", "required": ["query", "total", "limit", "offset", "results"],
                             "properties": {"query": {"type": "string"}, "total": {"type": "integer"},
                                            "limit": {"type": "integer"}, "offset": {"type": "integer"},
                                            "results": {"type": "array", "items": {"type": "object"}}}},
            "ScreeningRequest": {"type": "object", "required": ["name"], "additionalProperties": False,
                                 "properties": {
                                     "name": {"type": "string"},
                                     "kind": {"type": "string", "enum": list(KINDS), "default": "person"},
                                     "birth_date": {"type": "string", "description": "YYYY, YYYY-MM or YYYY-MM-DD"},
                                     "nationality": {"type": "string", "minLength": 2, "maxLength": 2},
                                     "identifiers": {"type": "array", "maxItems": 20, "items": {
                                         "type": "object", "required": ["value"],
                                         "properties": {"type": {"type": "string"}, "value": {"type": "string"}}}},
                                     "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}}},
        }},
    }
