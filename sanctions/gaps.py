"""Gaps: targets that one jurisdiction designates and another does not.

A *target* is a cluster of designations (``cluster_member``) or a designation
no cluster holds.  For every target and every ordered pair of jurisdictions
(A, B) whose lists are in the store:

- a ``missing`` gap: A has an active designation in the target, B has none;
- a ``delisted`` gap (the other direction of drift): A has only removed
  designations in the target, B still lists it.

``refresh`` keeps the ``gap`` table in step after every match: gaps open when
first seen and close by themselves when B designates the target or A
delists it, with the date and the import run that did it.  Officers'
dispositions live on the gap row and survive every refresh; a material
change to A's records under a disposition flags it for re-review.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sanctions import audit
from sanctions.models import ClusterMember, Designation, Gap, ImportRun, MatchPair, PairDecision
from sanctions.regimes import table as regime_table
from sanctions.schema import JURISDICTIONS, material_fingerprint

DISPOSITIONS = ("open", "under-review", "confirmed", "dismissed")
DISMISS_REASONS = ("out-of-scope", "policy-divergence", "insufficient-evidence", "not-same-target")


@dataclass
class Member:
    key: str
    jurisdiction: str
    status: str
    kind: str
    name: str
    listed_on: dt.date | None
    regimes: list[str]
    first_run_id: int
    changed_run_id: int
    removed_run_id: int | None


@dataclass
class Target:
    id: str
    members: list[Member] = field(default_factory=list)

    def active(self, jurisdiction: str) -> list[Member]:
        return [m for m in self.members if m.jurisdiction == jurisdiction and m.status == "active"]

    def removed(self, jurisdiction: str) -> list[Member]:
        return [m for m in self.members if m.jurisdiction == jurisdiction and m.status == "removed"]


def load_targets(session: Session, details: bool = True) -> dict[str, Target]:
    """Targets by id (cluster id, or the key of a designation on its own).

    ``details=False`` skips names, dates and regimes, which the lifecycle refresh does not need.
    """
    cluster_of = dict(session.execute(select(ClusterMember.designation_key, ClusterMember.cluster_id)).all())
    targets: dict[str, Target] = {}
    columns = [Designation.key, Designation.jurisdiction, Designation.status, Designation.kind]
    columns += [Designation.name, Designation.listed_on, Designation.regimes] if details else []
    columns += [Designation.first_run_id, Designation.changed_run_id, Designation.removed_run_id]
    for row in session.execute(select(*columns)):
        if details:
            member = Member(*row)
        else:
            key, jurisdiction, status, kind, first, changed, removed = row
            member = Member(key, jurisdiction, status, kind, "", None, [], first, changed, removed)
        target_id = cluster_of.get(member.key, member.key)
        targets.setdefault(target_id, Target(target_id)).members.append(member)
    return targets


def covered_jurisdictions(session: Session) -> set[str]:
    """Jurisdictions whose lists are in the store: a gap against an unimported list means nothing."""
    return set(session.scalars(select(Designation.jurisdiction).where(Designation.status == "active").distinct()))


def gap_id(kind: str, a: str, b: str, anchor: str) -> str:
    return f"{a}-{b}:{anchor}" if kind == "missing" else f"{a}-{b}:delisted:{anchor}"


def current_gaps(targets: Iterable[Target], covered: set[str]) -> dict[str, tuple[str, str, str, str, Target]]:
    """gap id -> (kind, A, B, anchor key, target) for the store as it is now."""
    gaps = {}
    for target in targets:
        jurisdictions = {m.jurisdiction for m in target.members}
        for a in jurisdictions & covered:
            active_a, removed_a = target.active(a), target.removed(a)
            for b in covered - {a}:
                active_b = target.active(b)
                if active_a and not active_b:
                    anchor = min(m.key for m in active_a)
                    gaps[gap_id("missing", a, b, anchor)] = ("missing", a, b, anchor, target)
                elif removed_a and not active_a and active_b:
                    anchor = min(m.key for m in removed_a)
                    gaps[gap_id("delisted", a, b, anchor)] = ("delisted", a, b, anchor, target)
    return gaps


def _contents(session: Session, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    keys = sorted(set(keys))
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(keys), 500):
        out.update(session.execute(select(Designation.key, Designation.content)
                                   .where(Designation.key.in_(keys[i : i + 500]))).all())
    return out


def gap_material_hash(session: Session, gap: Gap) -> str:
    """A fingerprint of what identifies jurisdiction A's side of a gap.

    Recorded with a disposition; when it changes, the disposition needs re-review.
    """
    keys = target_keys(session, gap.anchor_key)
    contents = _contents(session, keys)
    digest = hashlib.sha256()
    for key in sorted(contents):
        if contents[key].get("jurisdiction") == gap.designated_by:
            digest.update(f"{key}:{material_fingerprint(contents[key])};".encode())
    return digest.hexdigest()


def refresh(session: Session, today: dt.date | None = None) -> dict[str, int]:
    """Open new gaps, close resolved ones, reopen returning ones; flag decisions whose records changed.

    Reads the stored gaps as plain rows and writes only what changed: a store
    holds tens of thousands of gaps and a nightly run changes a few.
    """
    today = today or dt.date.today()
    targets = load_targets(session, details=False)
    current = current_gaps(targets.values(), covered_jurisdictions(session))
    stored = {row.id: row for row in session.execute(
        select(Gap.id, Gap.kind, Gap.designated_by, Gap.not_by, Gap.anchor_key, Gap.state, Gap.disposition,
               Gap.material_hash, Gap.needs_review))}
    member_of = {m.key: (t, m) for t in targets.values() for m in t.members}
    counts = {"opened": 0, "closed": 0, "reopened": 0, "flagged": 0}

    new_rows = [{"id": gid, "kind": kind, "designated_by": a, "not_by": b, "anchor_key": anchor, "state": "open",
                 "opened_on": today, "disposition": "open", "needs_review": False}
                for gid, (kind, a, b, anchor, _t) in current.items() if gid not in stored]
    for i in range(0, len(new_rows), 5000):
        session.execute(Gap.__table__.insert(), new_rows[i : i + 5000])
    counts["opened"] = len(new_rows)

    changes = []
    for gid, gap in stored.items():
        if gap.state == "open" and gid not in current:
            reason, run_id = _why_closed(gap, member_of)
            changes.append({"id": gid, "state": "closed", "closed_on": today, "closed_reason": reason,
                            "closed_run_id": run_id})
            counts["closed"] += 1
        elif gap.state == "closed" and gid in current:
            changes.append({"id": gid, "state": "open", "closed_on": None, "closed_reason": None,
                            "closed_run_id": None, "needs_review": gap.needs_review or gap.disposition != "open"})
            counts["reopened"] += 1
        elif gap.disposition != "open" and gap.material_hash and gid in current and not gap.needs_review:
            if gap_material_hash(session, gap) != gap.material_hash:
                changes.append({"id": gid, "needs_review": True})
                counts["flagged"] += 1
                audit.append(session, "system", "gap-flagged", gid, {"needs_review": False}, {"needs_review": True},
                       "the designations under this disposition changed materially")
    for row in changes:
        session.execute(update(Gap).where(Gap.id == row["id"]).values(**{k: v for k, v in row.items() if k != "id"}))
    counts["flagged"] += _flag_pair_decisions(session)
    return counts


def _why_closed(gap: Gap, member_of: dict[str, tuple[Target, Member]]) -> tuple[str, int | None]:
    target, anchor = member_of.get(gap.anchor_key, (None, None))
    if anchor is None:
        return "target-changed", None
    if gap.kind == "missing":
        if anchor.status != "active":
            return "delisted", anchor.removed_run_id
        added = [m for m in target.active(gap.not_by)]
        if added:
            newest = max(added, key=lambda m: m.changed_run_id)
            return "aligned", newest.changed_run_id
        return "target-changed", None
    if anchor.status == "active":
        return "relisted", anchor.changed_run_id
    if not target.active(gap.not_by):
        return "aligned", None
    return "target-changed", None


def _flag_pair_decisions(session: Session) -> int:
    decisions = session.scalars(select(PairDecision).where(PairDecision.current.is_(True),
                                                           PairDecision.needs_review.is_(False))).all()
    if not decisions:
        return 0
    contents = _contents(session, [k for d in decisions for k in (d.key_a, d.key_b)])
    flagged = 0
    for d in decisions:
        now = (material_fingerprint(contents[d.key_a]) if d.key_a in contents else None,
               material_fingerprint(contents[d.key_b]) if d.key_b in contents else None)
        if now != (d.hash_a, d.hash_b):
            d.needs_review = True
            flagged += 1
            audit.append(session, "system", "pair-flagged", f"{d.key_a} {d.key_b}", {"needs_review": False}, {"needs_review": True},
                   "a designation under this decision changed materially")
    return flagged


# --- reading ---------------------------------------------------------------------

def comparable_regimes() -> dict[str, set[str]]:
    """Regime codes each jurisdiction has programmes for, from the crosswalk."""
    codes: dict[str, set[str]] = defaultdict(set)
    for (jurisdiction, _programme), regimes in regime_table().items():
        codes[jurisdiction].update(regimes)
    return codes


def _run_info(runs: dict[int, ImportRun], run_id: int | None) -> dict[str, Any] | None:
    run = runs.get(run_id) if run_id else None
    if run is None:
        return None
    return {"run": run.id, "location": run.location, "sha256": run.sha256,
            "published_on": run.published_on.isoformat() if run.published_on else None}


def near_misses(session: Session, targets: list[Target], limit: int = 3) -> dict[str, dict[str, list[dict]]]:
    """Per target id and jurisdiction: the closest designations outside the target.

    These are pairs the matcher scored below the link threshold (or links that
    an officer's decision or a clustering rule kept apart).  One pass over the
    scored pairs of all the targets at hand, not a query per gap.
    """
    member_of = {m.key: t.id for t in targets for m in t.members}
    keys = sorted(member_of)
    touching: dict[str, list[tuple[str, float, str, dict]]] = defaultdict(list)
    for i in range(0, len(keys), 450):
        chunk = keys[i : i + 450]
        for a, b, score, band, explanation in session.execute(
                select(MatchPair.key_a, MatchPair.key_b, MatchPair.score, MatchPair.band, MatchPair.explanation)
                .where(MatchPair.key_a.in_(chunk) | MatchPair.key_b.in_(chunk))):
            for own, other in ((a, b), (b, a)):
                if own in member_of and member_of.get(other) != member_of[own]:
                    touching[member_of[own]].append((other, score, band, explanation))
    others = sorted({o for rows in touching.values() for o, *_ in rows})
    info: dict[str, tuple[str, str]] = {}
    for i in range(0, len(others), 900):
        info.update({k: (j, n) for k, j, n in session.execute(
            select(Designation.key, Designation.jurisdiction, Designation.name)
            .where(Designation.key.in_(others[i : i + 900])))})
    out: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for target_id, rows in touching.items():
        seen: set[str] = set()
        for other, score, band, explanation in sorted(rows, key=lambda r: -r[1]):
            jurisdiction, name = info.get(other, ("", ""))
            if other in seen or len(out[target_id][jurisdiction]) >= limit:
                continue
            seen.add(other)
            out[target_id][jurisdiction].append({"key": other, "name": name, "score": score, "band": band,
                                                 "explanation": explanation})
    return out


@dataclass
class GapQuery:
    designated_by: str
    not_by: list[str]          # one or more jurisdictions, or ["any"]
    regime: str | None = None
    kind: str | None = None
    since: dt.date | None = None
    status: str = "open"       # open, closed, under-review, confirmed, dismissed, all
    gap_kind: str = "missing"  # missing, delisted


def find_gaps(session: Session, q: GapQuery, evidence: bool = False) -> list[dict[str, Any]]:
    """Gaps matching the query, one entry per target, oldest listing first."""
    stmt = select(Gap).where(Gap.designated_by == q.designated_by, Gap.kind == q.gap_kind)
    if q.not_by != ["any"]:
        stmt = stmt.where(Gap.not_by.in_(q.not_by))
    if q.status in ("open", "closed"):
        stmt = stmt.where(Gap.state == q.status)
    elif q.status != "all":
        stmt = stmt.where(Gap.disposition == q.status, Gap.state == "open")
    by_anchor: dict[str, list[Gap]] = defaultdict(list)
    for gap in session.scalars(stmt):
        by_anchor[gap.anchor_key].append(gap)
    if q.not_by != ["any"] and len(q.not_by) > 1:
        by_anchor = {k: v for k, v in by_anchor.items() if {g.not_by for g in v} >= set(q.not_by)}
    if not by_anchor:
        return []
    targets = load_targets(session)
    target_of = {m.key: t for t in targets.values() for m in t.members}
    codes = comparable_regimes()
    runs = {r.id: r for r in session.scalars(select(ImportRun))} if evidence else {}
    today = dt.date.today()
    out = []
    for anchor, gaps in by_anchor.items():
        target = target_of.get(anchor)
        if target is None:
            continue
        side_a = [m for m in target.members if m.jurisdiction == q.designated_by]
        regimes = sorted({r for m in side_a for r in m.regimes})
        if q.regime and q.regime not in regimes:
            continue
        if q.kind and side_a[0].kind != q.kind:
            continue
        listed = min((m.listed_on for m in side_a if m.listed_on), default=None)
        started = listed or min(g.opened_on for g in gaps)
        if q.since and started < q.since:
            continue
        entry: dict[str, Any] = {
            "gaps": [g.id for g in sorted(gaps, key=lambda g: g.not_by)],
            "kind": q.gap_kind,
            "target": target.id,
            "designated_by": q.designated_by,
            "not_by": sorted(g.not_by for g in gaps),
            "designations": [{"key": m.key, "name": m.name, "kind": m.kind, "status": m.status,
                              "listed_on": m.listed_on.isoformat() if m.listed_on else None,
                              "regimes": m.regimes} for m in side_a],
            "regimes": regimes,
            "listed_on": listed.isoformat() if listed else None,
            "age_days": (today - started).days,
            "comparable_regime": {g.not_by: bool(set(regimes) & codes.get(g.not_by, set())) for g in gaps},
            "state": gaps[0].state,
            "opened_on": min(g.opened_on for g in gaps).isoformat(),
            "closed_on": max((g.closed_on for g in gaps if g.closed_on), default=None),
            "closed_reason": gaps[0].closed_reason,
            "disposition": {g.id: g.disposition for g in gaps},
            "reason": {g.id: g.reason for g in gaps if g.reason},
            "needs_review": any(g.needs_review for g in gaps),
            "near_misses": {g.not_by: [] for g in gaps},
        }
        if entry["closed_on"]:
            entry["closed_on"] = entry["closed_on"].isoformat()
        out.append((entry, target, side_a))
    misses = near_misses(session, [target for _, target, _ in out])
    for entry, target, side_a in out:
        for b in entry["near_misses"]:
            entry["near_misses"][b] = misses.get(target.id, {}).get(b, [])
        if evidence:
            entry["evidence"] = _evidence(session, side_a, entry["near_misses"], runs)
    entries = [entry for entry, _, _ in out]
    entries.sort(key=lambda e: (e["listed_on"] or e["opened_on"], e["gaps"][0]))
    return entries


def _evidence(session: Session, side_a: list[Member], misses: dict[str, list[dict]],
              runs: dict[int, ImportRun]) -> dict[str, Any]:
    """Both sides' source records with the import that carried each, for the evidence pack."""
    other_keys = [m["key"] for ms in misses.values() for m in ms]
    rows = {r.key: r for r in session.scalars(select(Designation).where(
        Designation.key.in_([m.key for m in side_a] + other_keys)))}

    def record(key: str) -> dict[str, Any]:
        row = rows[key]
        return {"key": key, "status": row.status, "record": row.content, "source_record": row.raw,
                "import": _run_info(runs, row.changed_run_id)}

    return {"designated": [record(m.key) for m in side_a],
            "near_misses": {b: [{**record(m["key"]), "score": m["score"], "explanation": m["explanation"]}
                                for m in ms] for b, ms in misses.items()}}


def matrix(session: Session, regime: str | None = None) -> dict[str, dict[str, int]]:
    """Open ``missing`` gaps for every ordered pair (A designates, B does not)."""
    covered = sorted(covered_jurisdictions(session), key=JURISDICTIONS.index)
    counts: dict[str, dict[str, int]] = {a: {b: 0 for b in covered if b != a} for a in covered}
    if regime is None:
        for a, b, n in session.execute(select(Gap.designated_by, Gap.not_by, func.count())
                                       .where(Gap.state == "open", Gap.kind == "missing")
                                       .group_by(Gap.designated_by, Gap.not_by)):
            if a in counts and b in counts[a]:
                counts[a][b] = n
        return counts
    regimes_of = defaultdict(set)
    for key, regimes in session.execute(select(Designation.key, Designation.regimes)):
        regimes_of[key].update(regimes or [])
    for a, b, anchor in session.execute(select(Gap.designated_by, Gap.not_by, Gap.anchor_key)
                                        .where(Gap.state == "open", Gap.kind == "missing")):
        if regime in regimes_of[anchor] and a in counts and b in counts[a]:
            counts[a][b] += 1
    return counts


def alignment_stats(session: Session) -> list[dict[str, Any]]:
    """Per jurisdiction pair and regime: targets aligned, open gaps, median days from A's listing to B's."""
    targets = load_targets(session)
    covered = covered_jurisdictions(session)
    cells: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(lambda: {"aligned": 0, "open": 0, "delays": []})
    for target in targets.values():
        for a in covered:
            side_a = target.active(a)
            if not side_a:
                continue
            regimes = {r for m in side_a for r in m.regimes} or {"(none)"}
            for b in covered - {a}:
                side_b = target.active(b)
                for regime in regimes:
                    cell = cells[(a, b, regime)]
                    if not side_b:
                        cell["open"] += 1
                        continue
                    cell["aligned"] += 1
                    listed_a = min((m.listed_on for m in side_a if m.listed_on), default=None)
                    listed_b = min((m.listed_on for m in side_b if m.listed_on), default=None)
                    if listed_a and listed_b and listed_b >= listed_a:
                        cell["delays"].append((listed_b - listed_a).days)
    out = []
    for (a, b, regime), cell in sorted(cells.items()):
        total = cell["aligned"] + cell["open"]
        out.append({"designated_by": a, "other": b, "regime": regime, "targets": total,
                    "aligned": cell["aligned"], "open_gaps": cell["open"],
                    "share_aligned": round(cell["aligned"] / total, 3) if total else None,
                    "median_days_to_align": statistics.median(cell["delays"]) if cell["delays"] else None,
                    "timed": len(cell["delays"])})
    return out


def target_keys(session: Session, key: str) -> list[str]:
    """Keys of every designation in the target that holds ``key``."""
    cluster = session.scalar(select(ClusterMember.cluster_id).where(ClusterMember.designation_key == key))
    if cluster is None:
        return [key]
    return list(session.scalars(select(ClusterMember.designation_key).where(ClusterMember.cluster_id == cluster)))
