"""One target as the public sees it: every jurisdiction's designation side by side.

What the target page and ``/api/targets/<id>`` show: the members' records,
the regimes they share, the matcher's evidence for each pair, the target's
links to other targets (from the publishers' own relations) and each
designation's history.  Gaps, dispositions and officers' decisions are
internal and deliberately absent here.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanctions import queries
from sanctions.models import Designation, MatchPair, SearchEntry
from sanctions.schema import JURISDICTIONS
from sanctions.search_index import LINK, NAME

# Where a publisher has a public page per designation, how to reach it from the source id.
PUBLISHER_PAGES = {
    "us-sdn": "https://sanctionssearch.ofac.treas.gov/Details.aspx?id={source_id}",
    "us-cons": "https://sanctionssearch.ofac.treas.gov/Details.aspx?id={source_id}",
}
PUBLISHER_LIST_PAGES = {
    "eu": "https://data.europa.eu/data/datasets/consolidated-list-of-persons-groups-and-entities-subject-to-eu-financial-sanctions",
    "gb": "https://www.gov.uk/government/publications/the-uk-sanctions-list",
    "ca": "https://www.international.gc.ca/world-monde/international_relations-relations_internationales/sanctions/consolidated-consolide.aspx",
    "un": "https://main.un.org/securitycouncil/en/content/un-sc-consolidated-list",
}


def publisher_link(source: str, source_id: str) -> dict[str, str] | None:
    if source in PUBLISHER_PAGES:
        return {"url": PUBLISHER_PAGES[source].format(source_id=source_id), "label": "record on the publisher's site"}
    if source in PUBLISHER_LIST_PAGES:
        return {"url": PUBLISHER_LIST_PAGES[source], "label": "publisher's list page"}
    return None


def _common_regimes(members: list[dict[str, Any]]) -> list[str]:
    """Regimes every designating jurisdiction uses for this target."""
    by_jurisdiction: dict[str, set[str]] = defaultdict(set)
    for m in members:
        if m["status"] == "active":
            by_jurisdiction[m["jurisdiction"]].update(m.get("regimes") or [])
    if len(by_jurisdiction) < 2:
        return []
    return sorted(set.intersection(*by_jurisdiction.values()))


def _evidence(session: Session, keys: list[str]) -> list[dict[str, Any]]:
    pairs = session.scalars(select(MatchPair).where(MatchPair.key_a.in_(keys), MatchPair.key_b.in_(keys))
                            .order_by(MatchPair.score.desc(), MatchPair.key_a, MatchPair.key_b))
    return [{"key_a": p.key_a, "key_b": p.key_b, "score": p.score, "band": p.band, "explanation": p.explanation}
            for p in pairs]


def _target_summaries(session: Session, keys: set[str]) -> dict[str, dict[str, Any]]:
    """Target id -> name and jurisdictions, for the targets holding some designation keys."""
    target_of = queries.target_ids(session, keys)
    rows = session.execute(select(Designation.key, Designation.name, Designation.jurisdiction, Designation.status,
                                  Designation.kind).where(Designation.key.in_(sorted(keys))))
    out: dict[str, dict[str, Any]] = {}
    for key, name, jurisdiction, status, kind in rows:
        if key not in target_of:
            continue  # not placed by the matcher yet: no target page to link to
        target = out.setdefault(target_of[key], {"target_id": target_of[key], "name": name, "kind": kind,
                                                 "jurisdictions": {}})
        if target["jurisdictions"].get(jurisdiction) != "active":
            target["jurisdictions"][jurisdiction] = status
    for target in out.values():
        target["jurisdictions"] = [{"jurisdiction": j, "status": s} for j, s in sorted(target["jurisdictions"].items())]
    return out


def _links(session: Session, target_id: str, members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Relations the publishers state, resolved by name to targets, in both directions.

    ``to``: this target's designation says it is linked to that one (OFAC's
    ``Linked To:``); ``from``: that target's designation names this one.
    A name that resolves to no stored designation is still shown, unresolved.
    """
    ids = [m["id"] for m in members]
    out: list[dict[str, Any]] = []
    outgoing = session.execute(select(SearchEntry.designation_id, SearchEntry.text, SearchEntry.label)
                               .where(SearchEntry.designation_id.in_(ids), SearchEntry.field == LINK)).all()
    if outgoing:
        texts = sorted({t for _, t, _ in outgoing})
        named = session.execute(select(SearchEntry.text, Designation.key)
                                .join(Designation, Designation.id == SearchEntry.designation_id)
                                .where(SearchEntry.field == NAME, SearchEntry.text.in_(texts))).all()
        keys_by_text: dict[str, set[str]] = defaultdict(set)
        for text_, key in named:
            keys_by_text[text_].add(key)
        summaries = _target_summaries(session, {k for ks in keys_by_text.values() for k in ks})
        target_of = queries.target_ids(session, {k for ks in keys_by_text.values() for k in ks})
        key_of = {m["id"]: m["key"] for m in members}
        for designation_id, text_, label in outgoing:
            targets = sorted({target_of[k] for k in keys_by_text.get(text_, ()) if k in target_of} - {target_id})
            out.append({"direction": "to", "relation": "linked to", "stated_by": key_of[designation_id],
                        "name": label, "targets": [summaries[t] for t in targets]})
    own_names = sorted({t for t in session.scalars(select(SearchEntry.text).where(
        SearchEntry.designation_id.in_(ids), SearchEntry.field == NAME))})
    if own_names:
        incoming = session.execute(select(Designation.key, SearchEntry.label)
                                   .join(Designation, Designation.id == SearchEntry.designation_id)
                                   .where(SearchEntry.field == LINK, SearchEntry.text.in_(own_names))).all()
        summaries = _target_summaries(session, {k for k, _ in incoming})
        target_of = queries.target_ids(session, {k for k, _ in incoming})
        grouped: dict[str, list[str]] = defaultdict(list)
        for key, label in incoming:
            if target_of.get(key, target_id) != target_id:
                grouped[target_of[key]].append(key)
        for other, keys in sorted(grouped.items(), key=lambda kv: summaries[kv[0]]["name"].casefold()):
            out.append({"direction": "from", "relation": "linked to this target", "stated_by": sorted(keys)[0],
                        "name": summaries[other]["name"], "targets": [summaries[other]]})
    return out


def target_detail(session: Session, target_id: str) -> dict[str, Any] | None:
    """Everything the public target page shows; None when there is no such target."""
    keys = queries.target_member_keys(session, target_id)
    if not keys:
        return None
    ids = dict(session.execute(select(Designation.key, Designation.id).where(Designation.key.in_(keys))).all())
    members = []
    for key in keys:
        detail = queries.designation_detail(session, key)
        detail.pop("raw", None)
        detail["id"] = ids[key]
        detail["publisher_link"] = publisher_link(detail["source"], detail["source_id"])
        members.append(detail)
    order = {j: i for i, j in enumerate(JURISDICTIONS)}
    members.sort(key=lambda m: (order.get(m["jurisdiction"], 99), m["status"] != "active", m["key"]))
    lead = next((m for m in members if m["status"] == "active"), members[0])
    jurisdictions: dict[str, str] = {}
    for m in members:
        if jurisdictions.get(m["jurisdiction"]) != "active":
            jurisdictions[m["jurisdiction"]] = m["status"]
    links = _links(session, target_id, members)
    for m in members:
        m.pop("id")
    return {
        "target_id": target_id,
        "name": lead["name"],
        "kind": lead["kind"],
        "status": "active" if "active" in jurisdictions.values() else "removed",
        "jurisdictions": [{"jurisdiction": j, "status": s} for j, s in
                          sorted(jurisdictions.items(), key=lambda kv: order.get(kv[0], 99))],
        "regimes": sorted({r for m in members for r in m.get("regimes") or []}),
        "common_regimes": _common_regimes(members),
        "designations": members,
        "evidence": _evidence(session, keys),
        "links": links,
    }
