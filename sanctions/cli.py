"""The ``sanctions`` command line.

Output formats named here (``export`` columns, ``show`` JSON) are read by
other tools: change them only with care.
"""
from __future__ import annotations

import csv
import json
import sys
import time

import click
from sqlalchemy.orm import Session

from importers.common import ImportFailure
from sanctions import audit, db, gap_reads, gaps, imports, matching, queries, reports, review, store, users
from sanctions.schema import JURISDICTIONS, KINDS, SOURCES


class Context:
    """Lazily connected database, so that ``--help`` never touches it."""

    def __init__(self, url: str | None):
        self.explicit_url = url
        self.url = db.database_url(url)
        self._engine = None

    @property
    def engine(self):
        if self._engine is None:
            self._engine = db.connect(self.url)
        return self._engine

    def session(self) -> Session:
        return db.session_factory(self.engine)()


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.option("--db", "db_url", metavar="URL", help="Database URL (default: $SANCTIONS_DB or sqlite:///sanctions.db).")
@click.pass_context
def main(ctx: click.Context, db_url: str | None) -> None:
    """Coordinated sanctions designation registry: import, compare and review sanctions lists."""
    ctx.obj = Context(db_url)


def _progress_printer():
    """A progress bar on an interactive terminal, nothing otherwise."""
    if not sys.stderr.isatty():
        return None, lambda: None
    state: dict = {}

    def update(phase: str, done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None and total:
            bar = state["bar"] = click.progressbar(length=total, label=phase, file=sys.stderr)
            bar.__enter__()
        if bar is not None:
            bar.update(done - bar.pos)

    def close() -> None:
        if state.get("bar") is not None:
            state["bar"].__exit__(None, None, None)

    return update, close


def format_run(run, elapsed: float) -> str:
    summary = queries.run_summary(run)
    counts = "  ".join(f"{k} {v}" for k, v in summary["counts"].items())
    lines = [
        f"{run.source}: {run.status} - {run.location}",
        f"  format {run.format or '?'}, published {summary['published_on'] or 'unknown'}, "
        f"sha256 {(run.sha256 or '')[:12]}",
        f"  {counts}",
    ]
    if run.status == "unchanged":
        lines.append("  identical to the last good import; nothing to do (use --force to re-import)")
    if run.warning_count:
        lines.append(f"  {run.warning_count} warnings, e.g.:")
        lines += [f"    {w}" for w in run.warnings[:5]]
    lines.append(f"  run {run.id} in {elapsed:.1f} s")
    return "\n".join(lines)


@main.command("import")
@click.argument("source", type=click.Choice(list(SOURCES)))
@click.argument("location")
@click.option("--force", is_flag=True, help="Re-import even if the file is identical to the last good import.")
@click.option("--allow-shrink", is_flag=True,
              help=f"Accept a publication that removes more than {store.SHRINK_LIMIT:.0%} of active designations.")
@pass_context
def import_command(obj: Context, source: str, location: str, force: bool, allow_shrink: bool) -> None:
    """Import a published list: a file, a directory (OFAC CSV set) or an http(s) URL."""
    started = time.perf_counter()
    progress, close = _progress_printer()
    try:
        run = imports.run_import(obj.engine, source, location, force=force, allow_shrink=allow_shrink,
                                 progress=progress)
    except (ImportFailure, store.ShrinkRefused) as exc:
        close()
        raise click.ClickException(f"import failed, previous data kept: {exc}") from None
    close()
    click.echo(format_run(run, time.perf_counter() - started))


@main.command("sources")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_context
def sources_command(obj: Context, fmt: str) -> None:
    """Per source: last run, publication date, active and removed counts."""
    with obj.session() as session:
        rows = queries.sources_summary(session)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo(f"{'source':<8} {'active':>7} {'removed':>7}  {'published':<10}  {'last run':<26} status")
    for row in rows:
        last = row["last_run"]
        when = last["finished_at"] or last["started_at"] if last else "never"
        status = last["status"] if last else "-"
        if last and last["error"]:
            status += f": {last['error'][:100]}"
        click.echo(f"{row['source']:<8} {row['active']:>7} {row['removed']:>7}  "
                   f"{row['published_on'] or '-':<10}  {when:<26} {status}")


@main.command("show")
@click.argument("key")
@pass_context
def show_command(obj: Context, key: str) -> None:
    """One designation with all its parts, as JSON."""
    with obj.session() as session:
        detail = queries.designation_detail(session, key)
    if detail is None:
        raise click.ClickException(f"no designation with key {key!r}")
    click.echo(json.dumps(detail, indent=2, ensure_ascii=False))


@main.command("match")
@click.option("--full", is_flag=True, help="Recompute every pair, not only those of changed designations.")
@pass_context
def match_command(obj: Context, full: bool) -> None:
    """Find the same target across jurisdictions (incremental by default)."""
    started = time.perf_counter()
    try:
        run = matching.run_match(obj.engine, full=full)
    except ValueError as exc:  # a bad configuration file
        raise click.ClickException(str(exc)) from None
    with obj.session() as session:
        targets = matching.multi_jurisdiction_targets(session)
    click.echo(f"match run {run.id} ({run.mode}): {run.designations} designations, {run.changed} new or changed, "
               f"{run.candidates} candidate pairs scored")
    click.echo(f"  {run.linked} links (score >= {run.high}), {run.review} pairs for review "
               f"(score >= {run.low}), {run.clusters} targets with two or more designations")
    click.echo("  targets listed by several jurisdictions: "
               + (", ".join(f"{n} jurisdictions: {c}" for n, c in targets.items()) or "none"))
    click.echo(f"  in {time.perf_counter() - started:.1f} s")


@main.command("explain")
@click.argument("key1")
@click.argument("key2")
@pass_context
def explain_command(obj: Context, key1: str, key2: str) -> None:
    """The feature breakdown of the match score for one pair, as JSON."""
    with obj.session() as session:
        try:
            result = matching.explain(session, key1, key2)
        except KeyError as exc:
            raise click.ClickException(f"no designation with key {exc.args[0]}") from None
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))


JURISDICTION_CHOICE = click.Choice(list(JURISDICTIONS))


@main.command("gaps")
@click.option("--designated-by", type=JURISDICTION_CHOICE, help="Jurisdiction A, which designates the target.")
@click.option("--not-by", multiple=True, type=click.Choice(list(JURISDICTIONS) + ["any"]),
              help="Jurisdiction B, which does not (repeat for gaps against all of them, or 'any').")
@click.option("--regime", help="Only targets A designates under this regime code (e.g. russia).")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only gaps whose A listing (or opening) is this "
              "date or later.")
@click.option("--status", default="open", show_default=True,
              type=click.Choice(["open", "closed", *gaps.DISPOSITIONS[1:], "all"]))
@click.option("--delisted", is_flag=True, help="The other direction: delisted by A, still listed by B.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--matrix", is_flag=True, help="Counts of open gaps for every ordered pair of jurisdictions.")
@click.option("--stats", is_flag=True, help="Time to alignment per jurisdiction pair and regime.")
@click.option("--sort", type=click.Choice(gap_reads.SORTS), default="age", show_default=True,
              help="priority: most pressing first, each with its reasons (as the web's gap list).")
@pass_context
def gaps_command(obj: Context, designated_by, not_by, regime, kind, since, status, delisted, fmt, matrix, stats,
                 sort):
    """Targets one jurisdiction designates and another does not."""
    with obj.session() as session:
        if matrix:
            counts = gaps.matrix(session, regime)
            if fmt == "json":
                click.echo(json.dumps(counts, indent=2))
            else:
                click.echo(reports.format_matrix(counts, regime))
            return
        if stats:
            rows = gaps.alignment_stats(session)
            if regime:
                rows = [r for r in rows if r["regime"] == regime]
            reports.emit_rows(rows, fmt)
            return
        if not designated_by or not not_by:
            raise click.UsageError("give --designated-by and --not-by (or --matrix, or --stats)")
        query = gaps.GapQuery(designated_by=designated_by, not_by=list(not_by) if "any" not in not_by else ["any"],
                              regime=regime, kind=kind, since=since.date() if since else None, status=status,
                              gap_kind="delisted" if delisted else "missing")
        if sort == "age":
            found = gaps.find_gaps(session, query, evidence=fmt == "json")
        else:
            found = gap_reads.list_gaps(session, query, sort=sort, evidence=fmt == "json")["results"]
    if fmt == "json":
        click.echo(json.dumps(found, indent=2, ensure_ascii=False, default=str))
    elif fmt == "csv":
        columns = reports.GAP_COLUMNS + (reports.PRIORITY_COLUMNS if sort != "age" else ())
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(reports.gap_row(g) for g in found)
    else:
        click.echo(reports.format_gaps(found))


@main.group("review")
def review_group() -> None:
    """Officers' decisions on pairs and gaps (recorded in the audit log)."""


@review_group.command("pair")
@click.argument("key1")
@click.argument("key2")
@click.argument("decision", type=click.Choice(review.PAIR_DECISIONS))
@click.option("--by", required=True, help="The officer deciding.")
@click.option("--note", help="Why.")
@pass_context
def review_pair(obj: Context, key1, key2, decision, by, note):
    """Decide whether two designations are the same target; clustering follows at once."""
    try:
        result = review.decide_pair(obj.engine, key1, key2, decision, by, note)
    except review.ReviewError as exc:
        raise click.ClickException(str(exc)) from None
    gap_counts = result["gaps"]
    click.echo(f"{result['pair'][0]} {result['pair'][1]}: {decision} (by {by}); {result['clusters']} targets; "
               f"gaps opened {gap_counts['opened']}, closed {gap_counts['closed']}")


@review_group.command("gap")
@click.argument("gap_id")
@click.argument("status", type=click.Choice(gaps.DISPOSITIONS))
@click.option("--by", required=True, help="The officer deciding.")
@click.option("--reason", type=click.Choice(gaps.DISMISS_REASONS), help="Required when dismissing.")
@click.option("--note", help="Why.")
@pass_context
def review_gap(obj: Context, gap_id, status, by, reason, note):
    """Move a gap through open -> under-review -> confirmed | dismissed."""
    try:
        result = review.set_gap_status(obj.engine, gap_id, status, by, reason, note)
    except review.ReviewError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{gap_id}: {result['disposition']}" + (f" ({reason})" if reason else "") + f" by {by}")


@main.command("audit")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@pass_context
def audit_command(obj: Context, since, fmt):
    """Export the audit log of decisions (append-only)."""
    with obj.session() as session:
        entries = list(audit.entries(session, since.date() if since else None))
    if fmt == "json":
        click.echo(json.dumps(entries, indent=2, ensure_ascii=False))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=["id", "at", "actor", "action", "subject", "before", "after",
                                                    "note"], lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow({**e, "before": json.dumps(e["before"]) if e["before"] is not None else "",
                         "after": json.dumps(e["after"]) if e["after"] is not None else ""})


@main.group("user")
def user_group() -> None:
    """Users of the web workspace: viewer, officer, admin (passwords never on the command line)."""


def _cli_actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _read_password() -> str:
    """From the terminal (asked twice, not echoed) or, when piped, the first line of stdin."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise click.ClickException("the two passwords differ; nothing was stored")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(users.ROLES))
@pass_context
def user_add(obj: Context, name: str, role: str) -> None:
    """Add a user; the password is read from the terminal or from stdin."""
    try:
        account = users.add_user(obj.engine, name, role, _read_password(), _cli_actor())
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {account.name} added ({account.role})")


@user_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_context
def user_list(obj: Context, fmt: str) -> None:
    """Every user with role, state and whether an API token is active."""
    with obj.session() as session:
        rows = users.list_users(session)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    click.echo(f"{'name':<20} {'role':<8} {'state':<9} {'token':<6} created")
    for r in rows:
        click.echo(f"{r['name']:<20} {r['role']:<8} {'disabled' if r['disabled'] else 'active':<9} "
                   f"{'yes' if r['has_token'] else 'no':<6} {r['created_at']}")


@user_group.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(users.ROLES))
@pass_context
def user_set_role(obj: Context, name: str, role: str) -> None:
    """Change a user's role."""
    try:
        users.set_role(obj.engine, name, role, _cli_actor())
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} is now {role}")


@user_group.command("disable")
@click.argument("name")
@pass_context
def user_disable(obj: Context, name: str) -> None:
    """Disable a user: sessions and API tokens stop working at once."""
    try:
        users.disable(obj.engine, name, _cli_actor())
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} disabled; their API token is revoked")


@user_group.command("token")
@click.argument("name")
@pass_context
def user_token(obj: Context, name: str) -> None:
    """Issue a new API token for a user (replaces the old one); printed once, stored only as a hash."""
    try:
        token = users.issue_token(obj.engine, name, _cli_actor())
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(token)


@main.group("export")
def export_group() -> None:
    """Export stored data."""


@export_group.command("designations")
@click.option("--source", type=click.Choice(list(SOURCES)), help="Only this source.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="File (default stdout).")
@pass_context
def export_designations(obj: Context, source: str | None, fmt: str, output) -> None:
    """All designations (removed ones too, with their status)."""
    with obj.session() as session:
        items = queries.iter_designations(session, source)
        if fmt == "jsonl":
            for item in items:
                output.write(json.dumps(item, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(output, fieldnames=queries.EXPORT_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for item in items:
                writer.writerow(queries.flat_row(item))


DEMO_URL = "sqlite:///sanctions-demo.db"


@export_group.command("clusters")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="File (default stdout).")
@pass_context
def export_clusters(obj: Context, fmt: str, output) -> None:
    """Targets: one row `cluster,key` per designation in a cluster of two or more."""
    with obj.session() as session:
        writer = csv.writer(output, lineterminator="\n")
        writer.writerow(["cluster", "key"])
        writer.writerows(queries.cluster_rows(session))


@export_group.command("candidates")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="File (default stdout).")
@pass_context
def export_candidates(obj: Context, fmt: str, output) -> None:
    """Pairs in the review band, with score and explanation."""
    with obj.session() as session:
        writer = csv.DictWriter(output, fieldnames=queries.CANDIDATE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(queries.candidate_rows(session))


@main.command("demo")
@pass_context
def demo_command(obj: Context) -> None:
    """Import the bundled sample lists into a local database and print what was stored.

    The demo writes to sanctions-demo.db in the working directory unless --db
    is given: never to $SANCTIONS_DB, which may be a production database.
    """
    from sanctions import demo

    demo.run(obj.explicit_url or DEMO_URL, click.echo)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@pass_context
def serve_command(obj: Context, host: str, port: int) -> None:
    """Serve the web pages and the JSON API for local use (production: gunicorn, see the README)."""
    from web import create_app

    app = create_app({"SANCTIONS_DB": obj.url})
    click.echo(f"Serving {obj.url} on http://{host}:{port}/ (Ctrl-C to stop)")
    app.run(host=host, port=port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
