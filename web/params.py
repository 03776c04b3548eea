"""Query parameters of the search page and ``/api/search``, checked once for both.

An unknown value of any parameter is a 400 with a message naming the
parameter and the values it accepts, never a 500 or a silent default.
"""
from __future__ import annotations

import datetime as dt
import functools

from werkzeug.datastructures import MultiDict

from sanctions import regimes
from sanctions.schema import JURISDICTIONS, KINDS
from sanctions.search import STATUSES, SearchQuery
from web.errors import bad_request

MAX_QUERY_LENGTH = 200
MAX_LIMIT = 1000
DEFAULT_LIMIT = 25
SEARCH_PARAMS = ("q", "designated_by", "not_designated_by", "kind", "regime", "status", "listed_since", "limit",
                 "offset")


@functools.cache
def regime_codes() -> tuple[str, ...]:
    """Every common regime code the crosswalk can assign."""
    return tuple(sorted({code for codes in regimes.table().values() for code in codes}))


def _choices(args: MultiDict, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A multi-valued filter (repeatable, or comma-separated); empty values are ignored."""
    values = [v.strip() for raw in args.getlist(name) for v in raw.split(",") if v.strip()]
    for value in values:
        if value not in allowed:
            raise bad_request(f"{name}={value!r} is not one of: {', '.join(allowed)}.")
    return tuple(dict.fromkeys(values))


def _choice(args: MultiDict, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    value = (args.get(name) or "").strip()
    if not value:
        return default
    if value not in allowed:
        raise bad_request(f"{name}={value!r} is not one of: {', '.join(allowed)}.")
    return value


def _integer(args: MultiDict, name: str, default: int, low: int, high: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name}={raw!r} is not a whole number.") from None
    if not low <= value <= high:
        raise bad_request(f"{name}={value} is out of range ({low} to {high}).")
    return value


def _date(args: MultiDict, name: str) -> dt.date | None:
    """An optional YYYY-MM-DD parameter; anything else is a 400 naming it."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"{name}={raw!r} is not a date (YYYY-MM-DD).") from None


def search_query(args: MultiDict, require_q: bool = True) -> SearchQuery | None:
    """The SearchQuery the parameters ask for; None when no query was typed and none is required."""
    q = " ".join((args.get("q") or "").split())
    if len(q) > MAX_QUERY_LENGTH:
        raise bad_request(f"q is {len(q)} characters long; a search takes at most {MAX_QUERY_LENGTH}.",
                          "query_too_long")
    listed_since = _date(args, "listed_since")
    query = SearchQuery(
        q=q,
        designated_by=_choices(args, "designated_by", JURISDICTIONS),
        not_designated_by=_choices(args, "not_designated_by", JURISDICTIONS),
        kind=_choice(args, "kind", KINDS),
        regime=_choice(args, "regime", regime_codes()),
        status=_choice(args, "status", STATUSES, "all"),
        listed_since=listed_since,
        limit=_integer(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=_integer(args, "offset", 0, 0, 10**9),
    )
    if not q:
        if require_q:
            raise bad_request("q is required: a name or an identifier to search for.", "missing_query")
        return None
    if not any(ch.isalnum() for ch in q):
        raise bad_request(f"q={q!r} has no letters or digits to search for.", "empty_query")
    return query


def check_page(result: dict, query: SearchQuery) -> None:
    """An offset past the last result is a mistake in the request, not an empty page."""
    if query.offset and query.offset >= result["total"]:
        raise bad_request(f"offset={query.offset} is past the end: there are {result['total']} results.",
                          "offset_out_of_range")
