"""Text and CSV renderings of gap reports, shared by the CLI and the demo."""
from __future__ import annotations

import csv
import json
import sys

import click

GAP_COLUMNS = ("gap", "designated_by", "not_by", "keys", "name", "kind", "regimes", "listed_on", "age_days",
               "comparable_regime", "near_miss", "near_miss_score", "state", "disposition", "needs_review")

# Added after the columns above when the list is sorted by priority (``gaps --sort priority``).
PRIORITY_COLUMNS = ("priority", "priority_reasons")


def gap_row(g: dict) -> dict:
    """One gap report entry as a flat CSV row (the best near miss only)."""
    best = max((m for ms in g["near_misses"].values() for m in ms), key=lambda m: m["score"], default=None)
    return {
        "gap": "; ".join(g["gaps"]), "designated_by": g["designated_by"], "not_by": "; ".join(g["not_by"]),
        "keys": "; ".join(d["key"] for d in g["designations"]), "name": g["designations"][0]["name"],
        "kind": g["designations"][0]["kind"], "regimes": "; ".join(g["regimes"]), "listed_on": g["listed_on"] or "",
        "age_days": g["age_days"],
        "comparable_regime": "; ".join(f"{b}:{'yes' if v else 'no'}" for b, v in g["comparable_regime"].items()),
        "near_miss": best["key"] if best else "", "near_miss_score": best["score"] if best else "",
        "state": g["state"], "disposition": "; ".join(sorted(set(g["disposition"].values()))),
        "needs_review": "yes" if g["needs_review"] else "",
        **({"priority": g["priority"], "priority_reasons": "; ".join(
            f"{r['reason']} (+{r['points']})" for r in g["priority_reasons"])} if "priority" in g else {}),
    }


def format_gaps(found: list[dict]) -> str:
    """The table view: two lines per target, then its near misses."""
    if not found:
        return "no gaps"
    lines = [f"{len(found)} targets"]
    for g in found:
        row = gap_row(g)
        age = (f"listed {row['listed_on']}, {row['age_days']} days ago" if row["listed_on"]
               else f"no listing date published; gap seen for {row['age_days']} days")
        lines.append(f"{row['gap']}  {row['name']} ({row['kind']}; {row['regimes'] or 'no regime'}; {age})")
        lines.append(f"    comparable regime: {row['comparable_regime']}; gap {row['state']}, "
                     f"disposition {row['disposition']}" + (" - NEEDS RE-REVIEW" if g["needs_review"] else ""))
        if "priority" in g:
            lines.append(f"    priority {g['priority']}: {row['priority_reasons'] or 'no signal'}")
        for b, misses in g["near_misses"].items():
            for m in misses:
                lines.append(f"    near miss in {b}: {m['key']} {m['name']} (score {m['score']}, {m['band']})")
    return "\n".join(lines)


def format_matrix(counts: dict[str, dict[str, int]], regime: str | None) -> str:
    columns = list(counts)
    title = f"Open gaps{' for regime ' + regime if regime else ''} (row designates, column does not)"
    lines = [title, "designated by \\ not by " + "".join(f"{c:>8}" for c in columns)]
    for a, row in counts.items():
        lines.append(f"{a:<24}" + "".join(f"{row[b]:>8}" if b in row else f"{'-':>8}" for b in columns))
    return "\n".join(lines)


def emit_rows(rows: list[dict], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no data")
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    click.echo(format_table(rows))


def _decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if "e" in text else min(3, len(text.split(".")[1].rstrip("0")))


def format_table(rows: list[dict]) -> str:
    """Aligned columns: numbers right-aligned with one number of decimals per column, text left-aligned."""
    header = list(rows[0])
    cells: dict[str, list[str]] = {}
    numeric: dict[str, bool] = {}
    for h in header:
        values = [r[h] for r in rows]
        present = [v for v in values if v is not None]
        numeric[h] = bool(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
        if numeric[h] and any(isinstance(v, float) for v in present):
            places = max(1, max(_decimals(v) for v in present))
            cells[h] = ["-" if v is None else f"{v:.{places}f}" for v in values]
        else:
            cells[h] = ["-" if v is None else str(v) for v in values]
    widths = {h: max(len(h), *(len(c) for c in cells[h])) for h in header}

    def line(values: dict[str, str]) -> str:
        return "  ".join(values[h].rjust(widths[h]) if numeric[h] else values[h].ljust(widths[h])
                         for h in header).rstrip()

    lines = [line({h: h for h in header})]
    lines += [line({h: cells[h][i] for h in header}) for i in range(len(rows))]
    return "\n".join(lines)


def stream_json(items, out) -> None:
    """A JSON array written item by item, one compact item per line.

    Compact because ``json.dumps`` with ``indent`` runs the pure-Python
    encoder: on the 80 MB US-not-UK evidence pack that triples the time.
    """
    out.write("[")
    first = True
    for item in items:
        out.write(("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False, default=str))
        first = False
    out.write("\n]\n" if not first else "]\n")
