"""Screening: score a proposed name (and what else is known) against every designation.

For an officer checking a proposed target or a bank checking a customer.
The probe is turned into a common-schema record and scored by the
registry's own matcher (``matchers.features`` and ``matchers.score``, with
the store's token statistics), so a screening score means what a match score
means elsewhere.  Candidates come from the search index (names and
identifiers), never from a scan of every name.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from importers.common import normalize_id
from matchers.features import content_features, features
from matchers.score import score_pair
from sanctions import matching, queries, search
from sanctions.config import matching_config
from sanctions.models import Designation
from sanctions.schema import BirthDate, CountryLink, Designation as Record, Identifier, Name

SCREEN_CANDIDATES = 200
_YEAR, _DAY, _MONTH = re.compile(r"^\d{4}$"), re.compile(r"^\d{4}-\d{2}-\d{2}$"), re.compile(r"^\d{4}-\d{2}$")


class ProbeError(ValueError):
    """A screening request that cannot be scored, with the field at fault."""


@dataclass
class Probe:
    name: str
    kind: str = "person"
    birth_date: str | None = None
    nationality: str | None = None
    identifiers: list[dict[str, str]] = field(default_factory=list)


def _birth_date(text: str) -> BirthDate:
    """``1961``, ``1961-06`` or ``1961-06-01`` as the interval the matcher compares."""
    try:
        if _YEAR.match(text):
            return BirthDate(text, f"{text}-01-01", f"{text}-12-31", "year")
        if _MONTH.match(text):
            first = dt.date.fromisoformat(text + "-01")
            last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
            return BirthDate(text, first.isoformat(), last.isoformat(), "month")
        if _DAY.match(text):
            dt.date.fromisoformat(text)
            return BirthDate(text, text, text, "day")
    except ValueError:
        pass
    raise ProbeError(f"birth_date {text!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)")


def probe_record(probe: Probe) -> Record:
    """The probe as a designation of nobody, so the matcher can score it like any record."""
    identifiers = []
    for item in probe.identifiers:
        normalized = normalize_id(item["value"])
        if item.get("type") == "imo":
            normalized = normalized.removeprefix("IMO")
        if normalized:
            identifiers.append(Identifier(type=item.get("type") or "other", value=item["value"], normalized=normalized))
    return Record(
        source="screening", jurisdiction="screening", source_id="probe", key="screening:probe", kind=probe.kind,
        name=probe.name, names=[Name(probe.name)],
        birth_dates=[_birth_date(probe.birth_date)] if probe.birth_date else [],
        countries=[CountryLink(probe.nationality.upper(), "nationality")] if probe.nationality else [],
        identifiers=identifiers,
    )


def screen(session: Session, probe: Probe, limit: int = 10) -> dict[str, Any]:
    """Best-matching designations (score, band, explanation) and the targets they belong to."""
    record = features(probe_record(probe))
    query = " ".join([probe.name] + [i["value"] for i in probe.identifiers])
    found = search.hits(session, probe.name)
    for ident in probe.identifiers:
        found.update(search.hits(session, ident["value"]))
    ids = sorted(found, key=lambda i: -found[i].score)[:SCREEN_CANDIDATES]
    rows = session.execute(select(Designation.key, Designation.status, Designation.content)
                           .where(Designation.id.in_(ids))).all() if ids else []
    config = matching_config()
    stats = matching.store_stats(session, {t for n in record.names for t in n.tokens}, config)
    scored = []
    for key, status, content in rows:
        other = content_features(content)
        score, explanation = score_pair(record, other, stats, config)
        band = config.band(score)
        if band is None:
            continue
        scored.append({"key": key, "name": content["name"], "jurisdiction": content["jurisdiction"],
                       "kind": content["kind"], "status": status, "score": score, "band": band,
                       "explanation": explanation})
    scored.sort(key=lambda s: (-s["score"], s["key"]))
    scored = scored[:limit]
    target_of = queries.target_ids(session, [s["key"] for s in scored])
    targets: dict[str, dict[str, Any]] = {}
    for s in scored:
        s["target_id"] = target_of.get(s["key"])
        target = targets.setdefault(s["target_id"], {"target_id": s["target_id"], "score": s["score"],
                                                     "name": s["name"], "designations": []})
        target["designations"].append(s["key"])
    return {"query": query, "thresholds": {"link": config.high, "review": config.low, "near": config.near},
            "designations": scored, "targets": list(targets.values())}
