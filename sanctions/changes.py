"""The change report of a refresh: what the night's publications changed, for officers.

Built from the stored history, never from the downloads: the
``designation_change`` rows of the refresh's import runs (new designations,
amendments with the changed fields, delistings, relistings) and the gaps the
match opened and closed.  The report is stored on the ``refresh`` row as
JSON and rendered as JSON, plain text (what is mailed) and HTML; ``merge``
joins several refreshes' reports for ``sanctions changes --since``.

The JSON lists every change; the text and HTML summaries list at most
``SHOWN`` per jurisdiction and regime and say how many more there are, so
the first import of a whole list stays readable.
"""
from __future__ import annotations

import datetime as dt
import html
import json
from collections import defaultdict
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanctions.models import Designation, DesignationChange, Gap

SHOWN = 25
# The designation_change vocabulary, in the words an officer uses.
CHANGE_WORDS = {"added": "new", "amended": "amended", "removed": "delisted", "relisted": "relisted"}
ORDER = ("new", "amended", "delisted", "relisted")


def gap_snapshot(session: Session) -> dict[str, dict[str, Any]]:
    """Every gap's id and state, to compare before and after a refresh's match.

    Reads only columns that stay whatever the gap table is keyed by (``id``,
    ``state``, ``designated_by``, ``not_by``), plus the anchor designation
    where the table has one, for the report's names.
    """
    columns = [Gap.id, Gap.state, Gap.designated_by, Gap.not_by]
    anchor = getattr(Gap, "anchor_key", None)
    if anchor is not None:
        columns.append(anchor)
    snapshot = {}
    for row in session.execute(select(*columns)):
        snapshot[row[0]] = {"id": row[0], "state": row[1], "designated_by": row[2], "not_by": row[3],
                            "anchor": row[4] if anchor is not None else None}
    return snapshot


def gap_events(session: Session, before: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Gaps opened and closed since the ``before`` snapshot, with their anchor's name and regimes."""
    after = gap_snapshot(session)
    opened = [g for gid, g in after.items() if g["state"] == "open" and before.get(gid, {}).get("state") != "open"]
    closed = [g for gid, g in after.items() if g["state"] != "open" and before.get(gid, {}).get("state") == "open"]
    if closed:
        reasons = dict(session.execute(select(Gap.id, Gap.closed_reason)
                                       .where(Gap.id.in_([g["id"] for g in closed][:30000]))).all())
        for gap in closed:
            gap["reason"] = reasons.get(gap["id"])
    anchors = {g["anchor"] for g in opened + closed if g["anchor"]}
    names = {}
    for chunk in _chunks(sorted(anchors)):
        for key, name, regimes in session.execute(select(Designation.key, Designation.name, Designation.regimes)
                                                  .where(Designation.key.in_(chunk))):
            names[key] = (name, regimes or [])
    for gap in opened + closed:
        name, regimes = names.get(gap["anchor"], (None, []))
        gap["name"], gap["regimes"] = name, regimes
    key = lambda g: (g["designated_by"], g["not_by"], g["id"])  # noqa: E731
    return {"opened": sorted(opened, key=key), "closed": sorted(closed, key=key)}


def _chunks(items: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def designation_changes(session: Session, run_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Every change the given import runs made, with the designation's name, jurisdiction and regimes."""
    run_ids = sorted(set(run_ids))
    if not run_ids:
        return []
    rows = session.execute(
        select(DesignationChange.run_id, DesignationChange.key, DesignationChange.change, DesignationChange.fields,
               Designation.source, Designation.jurisdiction, Designation.name, Designation.kind,
               Designation.regimes)
        .join(Designation, Designation.id == DesignationChange.designation_id)
        .where(DesignationChange.run_id.in_(run_ids))
        .order_by(Designation.jurisdiction, DesignationChange.key, DesignationChange.id))
    return [{"change": CHANGE_WORDS.get(r.change, r.change), "key": r.key, "source": r.source,
             "jurisdiction": r.jurisdiction, "name": r.name, "kind": r.kind, "regimes": list(r.regimes or []),
             "fields": list(r.fields or []) if r.change == "amended" else [], "run_id": r.run_id}
            for r in rows]


def build(session: Session, refresh: dict[str, Any], sources: list[dict[str, Any]],
          gaps: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The report of one refresh: its sources' outcomes, the designation changes and the gap events."""
    run_ids = [s["import_run_id"] for s in sources if s.get("import_run_id") and s["outcome"] == "imported"]
    changes = designation_changes(session, run_ids)
    return {"refreshes": [refresh], "sources": sources, "designations": changes, "gaps": gaps,
            "summary": summarise(changes, gaps)}


def summarise(changes: list[dict[str, Any]], gaps: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Counts per jurisdiction and regime, and of gaps opened and closed."""
    by: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: dict.fromkeys(ORDER, 0)))
    for change in changes:
        for regime in change["regimes"] or ["(no regime)"]:
            by[change["jurisdiction"]][regime][change["change"]] += 1
    totals = dict.fromkeys(ORDER, 0)
    for change in changes:
        totals[change["change"]] += 1
    return {"totals": {**totals, "gaps_opened": len(gaps["opened"]), "gaps_closed": len(gaps["closed"])},
            "by_jurisdiction": {j: {r: dict(c) for r, c in sorted(regimes.items())} for j, regimes in sorted(by.items())}}


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report for several refreshes (oldest first), e.g. everything since Monday."""
    merged: dict[str, Any] = {"refreshes": [], "sources": [], "designations": [], "gaps": {"opened": [], "closed": []}}
    for report in reports:
        merged["refreshes"] += report["refreshes"]
        merged["sources"] += [{**s, "refresh_id": report["refreshes"][0]["id"]} for s in report["sources"]]
        merged["designations"] += report["designations"]
        merged["gaps"]["opened"] += report["gaps"]["opened"]
        merged["gaps"]["closed"] += report["gaps"]["closed"]
    merged["summary"] = summarise(merged["designations"], merged["gaps"])
    return merged


# --- renderings ----------------------------------------------------------------------------------

def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str)


def _title(report: dict[str, Any]) -> str:
    refreshes = report["refreshes"]
    if not refreshes:
        return "Sanctions registry: no refresh in this period"
    first, last = refreshes[0], refreshes[-1]
    if len(refreshes) == 1:
        return (f"Sanctions refresh {first['id']} ({first['status']}), {first['started_at']} to "
                f"{first.get('finished_at') or '?'}")
    return (f"Sanctions refreshes {first['id']}-{last['id']} ({len(refreshes)} runs), {first['started_at']} to "
            f"{last.get('finished_at') or '?'}")


def subject(report: dict[str, Any]) -> str:
    """A one-line mail subject: the counts, and the failed sources if any."""
    t = report["summary"]["totals"]
    failed = sorted({s["source"] for s in report["sources"] if s["outcome"] in ("failed", "refused")})
    ids = ",".join(str(r["id"]) for r in report["refreshes"])
    text = (f"Sanctions refresh {ids}: {t['new']} new, {t['amended']} amended, {t['delisted']} delisted; "
            f"gaps {t['gaps_opened']} opened, {t['gaps_closed']} closed")
    return text + (f"; FAILED: {', '.join(failed)}" if failed else "")


def _grouped(report: dict[str, Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for change in report["designations"]:
        for regime in change["regimes"] or ["(no regime)"]:
            groups[change["jurisdiction"]][regime].append(change)
    return groups


def _source_line(s: dict[str, Any]) -> str:
    detail = s.get("reason") or ""
    if s["outcome"] == "imported" and s.get("counts"):
        c = s["counts"]
        detail = (f"added {c['added']}, amended {c['amended']}, removed {c['removed']}, relisted {c['relisted']}"
                  f" (sha256 {(s.get('sha256') or '')[:12]})")
    elif s["outcome"] == "not-modified":
        detail = "HTTP 304: the publisher has nothing new"
    elif s["outcome"] == "unchanged":
        detail = f"same file as the last import (sha256 {(s.get('sha256') or '')[:12]})"
    return f"{s['source']:<8} {s['outcome'].upper() if s['outcome'] in ('failed', 'refused') else s['outcome']:<13} {detail}"


def render_text(report: dict[str, Any]) -> str:
    t = report["summary"]["totals"]
    lines = [_title(report), "",
             f"{t['new']} new, {t['amended']} amended, {t['delisted']} delisted, {t['relisted']} relisted; "
             f"gaps {t['gaps_opened']} opened, {t['gaps_closed']} closed", "", "Sources:"]
    lines += [f"  {_source_line(s)}" for s in report["sources"]] or ["  (none)"]
    groups = _grouped(report)
    if groups:
        lines += ["", "Designations by jurisdiction and regime:"]
    for jurisdiction in sorted(groups):
        for regime in sorted(groups[jurisdiction]):
            items = groups[jurisdiction][regime]
            counts = report["summary"]["by_jurisdiction"][jurisdiction][regime]
            lines.append(f"  {jurisdiction} / {regime}: " + ", ".join(f"{counts[w]} {w}" for w in ORDER if counts[w]))
            for change in items[:SHOWN]:
                fields = f"  [{', '.join(change['fields'])}]" if change["fields"] else ""
                lines.append(f"    {change['change']:<9} {change['key']:<28} {change['name']}{fields}")
            if len(items) > SHOWN:
                lines.append(f"    ... and {len(items) - SHOWN} more (all are in the JSON report)")
    for event in ("opened", "closed"):
        gaps = report["gaps"][event]
        if not gaps:
            continue
        lines += ["", f"Gaps {event}: {len(gaps)}"]
        for gap in gaps[:SHOWN * 2]:
            why = f" ({gap['reason']})" if gap.get("reason") else ""
            lines.append(f"  {gap['id']:<40} {gap['designated_by']} designates, {gap['not_by']} does not"
                         f"{': ' + gap['name'] if gap.get('name') else ''}{why}")
        if len(gaps) > SHOWN * 2:
            lines.append(f"  ... and {len(gaps) - SHOWN * 2} more (all are in the JSON report)")
    return "\n".join(lines) + "\n"


def render_html(report: dict[str, Any]) -> str:
    e = html.escape
    t = report["summary"]["totals"]
    out = ["<!doctype html>", "<html lang=en><head><meta charset=utf-8>", f"<title>{e(_title(report))}</title>",
           "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
           "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}.failed{color:#b00;font-weight:bold}"
           "</style></head><body>", f"<h1>{e(_title(report))}</h1>",
           f"<p>{t['new']} new, {t['amended']} amended, {t['delisted']} delisted, {t['relisted']} relisted; "
           f"gaps {t['gaps_opened']} opened, {t['gaps_closed']} closed.</p>",
           "<h2>Sources</h2><table><tr><th>source</th><th>outcome</th><th>detail</th></tr>"]
    for s in report["sources"]:
        css = " class=failed" if s["outcome"] in ("failed", "refused") else ""
        detail = _source_line(s).split(None, 2)[2] if len(_source_line(s).split(None, 2)) > 2 else ""
        out.append(f"<tr><td>{e(s['source'])}</td><td{css}>{e(s['outcome'])}</td><td>{e(detail)}</td></tr>")
    out.append("</table>")
    groups = _grouped(report)
    if groups:
        out.append("<h2>Designations by jurisdiction and regime</h2>")
    for jurisdiction in sorted(groups):
        for regime in sorted(groups[jurisdiction]):
            items = groups[jurisdiction][regime]
            counts = report["summary"]["by_jurisdiction"][jurisdiction][regime]
            out.append(f"<h3>{e(jurisdiction)} / {e(regime)}: "
                       + e(", ".join(f"{counts[w]} {w}" for w in ORDER if counts[w])) + "</h3>")
            out.append("<table><tr><th>change</th><th>key</th><th>name</th><th>fields</th></tr>")
            for change in items[:SHOWN]:
                out.append(f"<tr><td>{e(change['change'])}</td><td>{e(change['key'])}</td><td>{e(change['name'])}"
                           f"</td><td>{e(', '.join(change['fields']))}</td></tr>")
            out.append("</table>")
            if len(items) > SHOWN:
                out.append(f"<p>... and {len(items) - SHOWN} more (all are in the JSON report)</p>")
    for event in ("opened", "closed"):
        gaps = report["gaps"][event]
        if not gaps:
            continue
        out.append(f"<h2>Gaps {event}: {len(gaps)}</h2><table><tr><th>gap</th><th>designated by</th>"
                   "<th>not by</th><th>name</th><th>reason</th></tr>")
        for gap in gaps[:SHOWN * 2]:
            out.append(f"<tr><td>{e(gap['id'])}</td><td>{e(gap['designated_by'])}</td><td>{e(gap['not_by'])}</td>"
                       f"<td>{e(gap.get('name') or '')}</td><td>{e(gap.get('reason') or '')}</td></tr>")
        out.append("</table>")
        if len(gaps) > SHOWN * 2:
            out.append(f"<p>... and {len(gaps) - SHOWN * 2} more (all are in the JSON report)</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


RENDERERS = {"json": render_json, "text": render_text, "html": render_html}


def stored_reports(session: Session, since: dt.date | None = None) -> list[dict[str, Any]]:
    """The stored reports, oldest first: since a date, or only the newest refresh's."""
    from sanctions.models import Refresh

    # A killed refresh has no report; JSON null and SQL NULL are both "none", so filter here.
    query = select(Refresh.report).where(Refresh.status.in_(("succeeded", "partial", "failed")))
    if since is not None:
        rows = session.scalars(query.where(Refresh.started_at >= dt.datetime.combine(since, dt.time()))
                               .order_by(Refresh.id)).all()
        return [r for r in rows if r]
    for report in session.scalars(query.order_by(Refresh.id.desc()).limit(5)):
        if report:
            return [report]
    return []
