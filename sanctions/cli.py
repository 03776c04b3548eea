"""The ``sanctions`` command line.

Output formats named here (``export`` columns, ``show`` JSON) are read by
other tools: change them only with care.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import threading
import time

import click
from sqlalchemy.orm import Session

from importers.common import ImportFailure
from sanctions import (audit, config, db, errors, expectations, gap_queries, gap_reads, gaps, imports, locks, matching,
                       pipeline, queries, reports, review, store, users)
from sanctions.schema import JURISDICTIONS, KINDS, SOURCES


class Context:
    """Lazily connected database, so that ``--help`` never touches it."""

    def __init__(self, url: str | None):
        self.explicit_url = url
        self.url = config.database_url(url)
        self._engine = None

    @property
    def engine(self):
        if self._engine is None:
            self._engine = db.connect(self.url)
        return self._engine

    def session(self) -> Session:
        return db.session_factory(self.engine)()


pass_context = click.make_pass_decorator(Context)


class Registry(click.Group):
    """The command group that lets no traceback reach the user (see ``sanctions.errors``)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            raise click.ClickException("interrupted; nothing was changed by the unfinished step") from None
        except Exception as exc:
            raise click.ClickException(errors.describe(exc)) from None


@click.group(cls=Registry)
@click.option("--db", "db_url", metavar="URL", help="Database URL (default: $SANCTIONS_DB, the configuration "
              "file's [database] url, or sqlite:///sanctions.db).")
@click.option("--config", "config_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Configuration file (default: $SANCTIONS_CONFIG, or ./sanctions.toml if present).")
@click.pass_context
def main(ctx: click.Context, db_url: str | None, config_file: str | None) -> None:
    """Coordinated sanctions designation registry: import, compare and review sanctions lists."""
    if config_file:
        os.environ["SANCTIONS_CONFIG"] = config_file  # so every stage (the matcher too) reads the same file
    try:
        ctx.obj = Context(db_url)
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


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


MATCH_STAGES = 3  # scoring, clustering, gaps


def _stage_printer():
    """The match's progress bar: one step per stage, the stage and its seconds redrawn twice a second.

    Scoring gives no finer count than "started" and "done", so a heartbeat
    keeps the line alive during the long full match.  Nothing off a terminal.
    """
    if not sys.stderr.isatty():
        return None, lambda: None
    state = {"phase": "", "since": time.perf_counter(), "done": set()}
    stop = threading.Event()
    bar = click.progressbar(length=MATCH_STAGES, label="match", file=sys.stderr, show_eta=False,
                            item_show_func=lambda _item: f"{state['phase']} {time.perf_counter() - state['since']:.0f} s")
    bar.__enter__()
    lock = threading.Lock()

    def beat() -> None:
        while not stop.wait(0.5):
            with lock:
                bar.render_progress()

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()

    def update(phase: str, done: int, total: int) -> None:
        with lock:
            if phase != state["phase"]:
                state["phase"], state["since"] = phase, time.perf_counter()
            if done >= total and phase not in state["done"]:
                state["done"].add(phase)
                bar.update(1)
            bar.render_progress()

    def close() -> None:
        stop.set()
        thread.join()
        bar.__exit__(None, None, None)

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


def restore_location(location: str) -> str:
    """A SHA-256 (or a 12+ digit prefix) names a file in the download archive; anything else is as given."""
    from sanctions import archive

    if not archive.looks_like_sha(location):
        return location
    try:
        return str(archive.resolve(config.load()[("archive", "dir")], location))
    except (archive.ArchiveError, config.ConfigError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command("import")
@click.argument("source", type=click.Choice(list(SOURCES)))
@click.argument("location")
@click.option("--force", is_flag=True, help="Re-import even if the file is identical to the last good import.")
@click.option("--allow-shrink", is_flag=True,
              help=f"Accept a publication that removes more than {store.SHRINK_LIMIT:.0%} of active designations "
                   "(or of their names, identifiers or addresses).")
@click.option("--allow-partial", is_flag=True,
              help="Accept a publication that looks incomplete: an OFAC CSV set missing its companion files, or a "
                   "first import below the source's expected minimum. The source is then marked as partial.")
@pass_context
def import_command(obj: Context, source: str, location: str, force: bool, allow_shrink: bool,
                   allow_partial: bool) -> None:
    """Import a published list: a file, a directory (OFAC CSV set), an http(s) URL, or the SHA-256 of an
    archived download (to restore an earlier publication)."""
    location = restore_location(location)
    started = time.perf_counter()
    progress, close = _progress_printer()
    try:
        minimum = expectations.expected_minimum(source)
        run = pipeline.import_source(obj.engine, source, location, force=force, allow_shrink=allow_shrink,
                                     allow_partial=allow_partial, expected_minimum=minimum, progress=progress)
    except (ImportFailure, store.ShrinkRefused, imports.PartialRefused) as exc:
        close()
        raise click.ClickException(f"import failed, previous data kept: {exc}") from None
    except Exception as exc:
        close()
        raise click.ClickException(f"import failed, previous data kept: {errors.describe(exc)}") from None
    close()
    click.echo(format_run(run, time.perf_counter() - started))


@main.command("sources")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_context
def sources_command(obj: Context, fmt: str) -> None:
    """Per source: last run, publication date, active and removed counts."""
    with obj.session() as session:
        rows = queries.sources_summary(session)
        partial = queries.partial_sources(session)
    for row in rows:
        row["partial"] = partial.get(row["source"])
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
    for source, reason in partial.items():
        click.echo(f"warning: {source} looks partial ({reason}); its gaps are not to be trusted")


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
    progress, close = _stage_printer()
    try:
        run = pipeline.match(obj.engine, full=full, progress=progress)
    except (ValueError, locks.LockTimeout) as exc:  # a bad configuration file, another writer
        raise click.ClickException(str(exc)) from None
    finally:
        close()
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


def _regime_code(_ctx, _param, value: str | None) -> str | None:
    """Refuse a regime code the crosswalk does not know (``Russia`` is not ``russia``), listing the codes."""
    if value is None:
        return None
    from sanctions.regimes import table as regime_table

    codes = sorted({code for mapped in regime_table().values() for code in mapped})
    if value in codes:
        return value
    hint = f" (codes are lower case: did you mean '{value.lower()}'?)" if value.lower() in codes else ""
    raise click.BadParameter(f"unknown regime {value!r}{hint}; one of {', '.join(codes)}")


def _warn_partial(session, jurisdictions) -> None:
    """Say on stderr (stdout may be CSV or JSON) when a compared source's store looks partial."""
    for source, reason in queries.partial_sources(session).items():
        if jurisdictions is None or SOURCES[source] in jurisdictions:
            click.echo(f"warning: {source} looks partial ({reason}); gaps against it are not to be trusted",
                       err=True)


@main.command("gaps")
@click.option("--designated-by", type=JURISDICTION_CHOICE, help="Jurisdiction A, which designates the target.")
@click.option("--not-by", multiple=True, type=click.Choice(list(JURISDICTIONS) + ["any"]),
              help="Jurisdiction B, which does not (repeat for gaps against all of them, or 'any').")
@click.option("--regime", callback=_regime_code,
              help="Only targets A designates under this regime code (e.g. russia).")
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
    if matrix and stats:
        raise click.UsageError("--matrix and --stats are two different reports: give one of them")
    if "any" in not_by and len(not_by) > 1:
        raise click.UsageError(f"--not-by any already means every other jurisdiction; give either 'any' or "
                               f"jurisdictions from {', '.join(JURISDICTIONS)}, not both")
    with obj.session() as session:
        _warn_partial(session, None if matrix or stats or "any" in not_by else {designated_by, *not_by})
        if matrix:
            counts = gap_queries.matrix(session, regime)
            if fmt == "json":
                click.echo(json.dumps(counts, indent=2))
            else:
                click.echo(reports.format_matrix(counts, regime))
            return
        if stats:
            rows = gap_queries.alignment_stats(session)
            if regime:
                rows = [r for r in rows if r["regime"] == regime]
            reports.emit_rows(rows, fmt)
            return
        if not designated_by or not not_by:
            raise click.UsageError("give --designated-by and --not-by (or --matrix, or --stats)")
        query = gap_queries.GapQuery(designated_by=designated_by,
                                     not_by=list(not_by) if "any" not in not_by else ["any"], regime=regime,
                                     kind=kind, since=since.date() if since else None, status=status,
                                     gap_kind="delisted" if delisted else "missing")
        # Entries arrive a batch of targets at a time and are written as they come: the JSON
        # evidence pack of a large report is never held whole in memory.
        if sort == "age":
            found = gap_queries.iter_gaps(session, query, evidence=fmt == "json")
        else:  # the web's order: every target ranked first, then entries loaded in that order
            found = gap_reads.iter_sorted(session, query, sort=sort, evidence=fmt == "json")
        if fmt == "json":
            reports.stream_json(found, sys.stdout)
        elif fmt == "csv":
            columns = reports.GAP_COLUMNS + (reports.PRIORITY_COLUMNS if sort != "age" else ())
            writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(reports.gap_row(g) for g in found)
        else:
            click.echo(reports.format_gaps(list(found)))


def _officer(name: str) -> str:
    """Check ``--by`` before anything is written: PostgreSQL refuses a name longer than the log's column."""
    try:
        audit.check_actor(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--by") from None
    return name


@main.group("review")
def review_group() -> None:
    """Officers' decisions on pairs and gaps (recorded in the audit log)."""


@review_group.command("pair")
@click.argument("key1")
@click.argument("key2")
@click.argument("decision", type=click.Choice(review.PAIR_DECISIONS))
@click.option("--by", required=True, callback=lambda _c, _p, v: _officer(v), help="The officer deciding.")
@click.option("--note", help="Why.")
@pass_context
def review_pair(obj: Context, key1, key2, decision, by, note):
    """Decide whether two designations are the same target; clustering follows at once."""
    try:
        result = pipeline.decide_pair(obj.engine, key1, key2, decision, by, note)
    except (review.ReviewError, locks.LockTimeout) as exc:
        raise click.ClickException(str(exc)) from None
    gap_counts = result["gaps"]
    click.echo(f"{result['pair'][0]} {result['pair'][1]}: {decision} (by {by}); "
               f"target{'s' if len(result['targets']) > 1 else ''} {', '.join(result['targets'])}; "
               f"gaps opened {gap_counts['opened']}, closed {gap_counts['closed']}, "
               f"carried {gap_counts['carried']}")


@review_group.command("gap")
@click.argument("gap_id")
@click.argument("status", type=click.Choice(gaps.DISPOSITIONS))
@click.option("--by", required=True, callback=lambda _c, _p, v: _officer(v), help="The officer deciding.")
@click.option("--reason", type=click.Choice(gaps.DISMISS_REASONS), help="Required when dismissing.")
@click.option("--note", help="Why.")
@pass_context
def review_gap(obj: Context, gap_id, status, by, reason, note):
    """Move a gap through open -> under-review -> confirmed | dismissed."""
    try:
        result = pipeline.set_gap_status(obj.engine, gap_id, status, by, reason, note)
    except (review.ReviewError, locks.LockTimeout) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{result['gap']}: {result['disposition']}" + (f" ({reason})" if reason else "") + f" by {by}")


@main.group("audit", invoke_without_command=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.pass_context
def audit_command(ctx: click.Context, since, fmt):
    """Export the audit log of decisions (append-only); 'audit verify' checks its hash chain."""
    if ctx.invoked_subcommand is not None:
        return
    obj = ctx.find_object(Context)
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


@audit_command.command("verify")
@pass_context
def audit_verify(obj: Context) -> None:
    """Recompute the audit log's hash chain; exit 1 naming the first altered, missing or inserted entry."""
    with obj.session() as session:
        result = audit.verify(session)
    if not result.ok:
        raise click.ClickException(f"audit log BROKEN after {result.entries} good entries: {result.problem}")
    click.echo(f"audit log intact: {result.entries} entries, chain head {result.head_hash}")


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
    """Targets: one row `cluster,key` (persistent target id, designation) per target of two or more."""
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
@click.option("--host", help="Address to listen on (default: the configuration's [web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535),
              help="Port to listen on (default: the configuration's [web] port, 5000).")
@pass_context
def serve_command(obj: Context, host: str | None, port: int | None) -> None:
    """Serve the web pages and the JSON API for local use (production: gunicorn, see the README)."""
    from web import create_app

    settings = config.load()
    host = host or settings[("web", "host")]
    port = port or settings[("web", "port")]
    app = create_app({"SANCTIONS_DB": obj.url})
    click.echo(f"Serving {obj.url} on http://{host}:{port}/ (Ctrl-C to stop)")
    app.run(host=host, port=port, debug=False, use_reloader=False)


from sanctions import cli_refresh  # noqa: E402  (refresh, changes, check, config)

cli_refresh.register(main)


if __name__ == "__main__":
    main()
