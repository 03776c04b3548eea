"""The unattended-operation commands: ``refresh``, ``changes``, ``check`` and ``config``.

Kept out of ``cli.py`` so that the nightly job's command line reads as one
piece; ``register`` adds them to the ``sanctions`` group.  ``obj`` is the
group's ``cli.Context`` (lazily connected database, ``--db`` as given).
"""
from __future__ import annotations

import datetime as dt
import json
import sys

import click

from sanctions import changes, config, health, refresh
from sanctions.eventlog import EventLog
from sanctions.schema import SOURCES


def _settings(obj) -> config.Settings:
    try:
        return config.load(options={("database", "url"): (obj.explicit_url, "--db")})
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("refresh")
@click.option("--source", "sources", multiple=True, type=click.Choice(list(SOURCES)),
              help="Only this source (repeat for several; default: every configured source).")
@click.option("--lock-timeout", type=float, metavar="SECONDS",
              help="How long to wait for a refresh already running (default: [refresh] lock_timeout).")
@click.pass_obj
def refresh_command(obj, sources: tuple[str, ...], lock_timeout: float | None) -> None:
    """Fetch every configured list, import what changed, re-match and report what changed.

    Exit codes: 0 all good (including nothing new), 3 some sources failed (or the report could not be
    mailed), 4 every source failed, the match failed, or the refresh could not run (another one holds
    the lock, a bad configuration, no database).
    """
    settings = _settings(obj)
    try:
        log = EventLog(settings[("log", "format")], settings[("log", "level")])
    except ValueError as exc:
        raise click.ClickException(f"configuration: {exc}") from None
    try:
        result = refresh.run(obj.engine, settings, list(sources) or None, log=log, lock_timeout=lock_timeout)
    except refresh.RefreshError as exc:
        click.echo(f"Error: refresh not run: {exc}", err=True)
        sys.exit(refresh.EXIT_FAILED)
    except Exception as exc:  # the database is unreachable, the archive is not writable …
        click.echo(f"Error: refresh not run: {type(exc).__name__}: {exc}", err=True)
        log.event("refresh.error", "error", problem=f"{type(exc).__name__}: {exc}")
        sys.exit(refresh.EXIT_FAILED)
    click.echo(changes.render_text(result.report), nl=False)
    if result.report_files:
        click.echo(f"\nReports: {', '.join(result.report_files)}")
    if result.mail_error:
        click.echo(f"Error: {result.mail_error}", err=True)
    sys.exit(result.exit_code)


@click.command("changes")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
              help="Every refresh started on or after this date, as one report (default: the latest refresh).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.pass_obj
def changes_command(obj, since, fmt: str) -> None:
    """Print the change report of the latest refresh (or of every refresh since a date)."""
    with obj.session() as session:
        reports = changes.stored_reports(session, since.date() if since else None)
    if not reports and since is None:
        raise click.ClickException("no refresh has finished yet: run 'sanctions refresh'")
    report = reports[0] if len(reports) == 1 and since is None else changes.merge(reports)
    click.echo(changes.RENDERERS[fmt](report), nl=False)


@click.command("check")
@click.option("--max-age", type=float, default=36.0, show_default=True, metavar="HOURS",
              help="A source whose last good import is older than this is WARNING.")
@click.pass_obj
def check_command(obj, max_age: float) -> None:
    """Monitoring check (Nagios-style): exit 0 OK, 1 WARNING (stale), 2 CRITICAL (failed or never imported)."""
    try:
        settings = config.load()
        with obj.session() as session:
            results = health.check_sources(session, settings, max_age)
    except config.ConfigError as exc:
        click.echo(f"SANCTIONS CRITICAL - {exc}")
        sys.exit(health.CRITICAL)
    except Exception as exc:  # a monitoring check must answer, whatever broke
        click.echo(f"SANCTIONS CRITICAL - cannot read the registry: {type(exc).__name__}: {exc}".splitlines()[0])
        sys.exit(health.CRITICAL)
    code, line = health.summary(results)
    click.echo(line)
    sys.exit(code)


@click.command("config")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def config_command(obj, fmt: str) -> None:
    """The effective configuration, with where each value came from (default, file, environment, option)."""
    settings = _settings(obj)
    rows = settings.rows()
    if fmt == "json":
        click.echo(json.dumps([{"setting": f"{s}.{k}", "value": v, "from": o} for s, k, v, o in rows],
                              indent=2, ensure_ascii=False))
        return
    click.echo(f"# configuration file: {settings.path or 'none (no $SANCTIONS_CONFIG, no ./sanctions.toml)'}")
    width = max(len(f"{s}.{k}") for s, k, _, _ in rows)
    for section, key, value, origin in rows:
        shown = "(not set)" if value is None else json.dumps(value, ensure_ascii=False)
        if value is None and section.startswith("sources.") and key in ("timeout", "retries", "max_bytes"):
            shown = f"(as refresh.{key})"
        click.echo(f"{section + '.' + key:<{width}}  {shown:<40}  {origin}")


def register(group: click.Group) -> None:
    for command in (refresh_command, changes_command, check_command, config_command):
        group.add_command(command)
