"""Operating commands: init, demo, serve, backup, restore."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from jiaowei.cli.common import confirm_or_refuse, database, out, progress_bar, safe_url
from jiaowei.db import backup as backups
from jiaowei.db.migrate import upgrade
from jiaowei.errors import ConfigurationError, Conflict
from jiaowei.registry.queries import unit_count
from jiaowei.settings import get_settings


def register(app: typer.Typer) -> None:
    for command in (init, demo, serve, backup, restore):
        app.command()(command)


def init() -> None:
    """Create the database, or upgrade it to the newest schema."""
    db = database()
    revision = upgrade(db.engine)
    db.engine.dispose()
    out.print(f"Database {safe_url(str(db.engine.url))} is at revision {revision}.", highlight=False)


def demo(
    reset: Annotated[bool, typer.Option("--reset", help="remove every unit, user and entry first")] = False,
    keep: Annotated[bool, typer.Option("--keep", help="if units exist already, keep them and stop")] = False,
    force: Annotated[bool, typer.Option("--force", help="allow it with JIAOWEI_ENVIRONMENT=production")]
    = False,
) -> None:
    """Load the Shanghai 2020 demo (into a new database) and print the demo logins."""
    # Imported here: the demo data and loaders would slow every other command's start.
    from jiaowei.admissions import demo as admissions_demo
    from jiaowei.demo import shanghai2020
    from jiaowei.indicators import demo as indicators_demo
    from jiaowei.plans import demo as plans_demo

    settings = get_settings()
    if settings.environment == "production" and not force:
        raise ConfigurationError("This is a production installation; the demo is refused (add --force).")
    db = database()
    if reset:
        backups.reset(db.engine)
    upgrade(db.engine)
    with db.transaction() as conn:
        count = unit_count(conn)
        if count and keep:
            out.print(f"The database already has {count} units; keeping them.", highlight=False)
        elif count:
            raise Conflict(f"The database already has {count} units; add --reset to replace everything "
                           "with the demo, or --keep to keep them.")
        else:
            with progress_bar("Loading the demo") as report:
                loaded = shanghai2020.load(conn, progress=report)
                admissions_demo.load(conn, home=settings.home, progress=report)
                data = indicators_demo.load(conn, progress=report)
                plans = plans_demo.load(conn, progress=report)
            out.print(f"Loaded the Shanghai 2020 demo: {loaded.get('units', '?')} units, "
                      f"{data['values']:,} data values ({data['daily_values']:,} daily), "
                      f"{data['facts']} facts of the 2020 report, {data['targets']} targets, "
                      f"{plans.get('tasks', {}).get('tasks', 0)} key tasks of 2020.", highlight=False,
                      soft_wrap=not out.is_terminal)
            for part, why in plans["skipped"].items():
                out.print(f"Plans demo: {part} not loaded ({why}).", highlight=False)
    if not count:  # loaded and committed: statistics and the visibility map for PostgreSQL's plans
        backups.vacuum_analyze(db.engine)
    db.engine.dispose()
    users = shanghai2020.DEMO_USERS + plans_demo.DEMO_USERS
    if out.is_terminal:
        out.print(_logins(users))
    else:  # a log or a pipe: whole lines, nothing cut to a terminal's width
        out.print("Demo logins (username, password, role, scope, who):", highlight=False, soft_wrap=True)
        for line in _login_lines(users):
            out.print(line, highlight=False, soft_wrap=True, markup=False)


def _login_fields(user: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (user["username"], user["password"], user["role"], user.get("scope") or "all",
            user.get("description", ""))


def _logins(users: list[dict[str, Any]]) -> Table:
    table = Table("username", "password", "role", "scope", "who", title="Demo logins")
    for user in users:
        table.add_row(*_login_fields(user))
    return table


def _login_lines(users: list[dict[str, Any]]) -> list[str]:
    return ["  " + "  ".join(_login_fields(user)) for user in users]


def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="processes serving requests")] = 1,
) -> None:
    """Serve the web pages and the API (uvicorn); refuses a database whose schema is not at head."""
    import uvicorn  # imported here: only this command needs the server, and it slows every start

    from jiaowei.web.metrics import multiprocess_folder  # imported here, as uvicorn
    from jiaowei.web.server import check_schema, uvicorn_options

    settings = get_settings()
    settings.check_production()
    check_schema(settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    docs = "API docs at /docs" if settings.api_docs_served else "API docs off (JIAOWEI_API_DOCS)"
    out.print(f"jiaowei at http://{shown}:{port}/  ({docs}; readiness at /api/health/ready; Ctrl+C stops)",
              highlight=False, soft_wrap=not out.is_terminal)
    with multiprocess_folder(workers):  # several workers: their metrics are summed (docs/operators.md)
        uvicorn.run(**uvicorn_options(settings, host=host, port=port, workers=workers))


def backup(out_file: Annotated[Path, typer.Option("--out", help="backup file to write (.tar.gz)")]) -> None:
    """Back up the database and every file under JIAOWEI_HOME into one archive (0600) with a manifest."""
    from jiaowei.db import archive  # imported here: it loads the audit domain, which other commands skip

    settings = get_settings()
    made = archive.back_up(settings, out_file)
    out.print(f"Backed up {safe_url(settings.effective_database_url)} and {len(made.members) - 1} files to "
              f"{out_file} (manifest SHA-256 {made.digest}).", highlight=False, soft_wrap=True)


def restore(
    file: Annotated[Path, typer.Argument(help="a file written by jiaowei backup (archive or older dump)")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Replace the whole database and the files under JIAOWEI_HOME with a backup (checked first)."""
    from jiaowei.db import archive  # imported here, as in backup

    settings = get_settings()
    url = settings.effective_database_url
    confirm_or_refuse(f"Replace everything in {safe_url(url)} with {file}?", yes=yes, flag="--yes")
    restored, upgraded = archive.restore_and_record(settings, file)
    if restored.manifest is None:
        out.print(f"Restored {safe_url(url)} from {file}, an older backup of the database only: the files "
                  f"under {settings.home} were left as they are.", highlight=False, soft_wrap=True)
    else:
        out.print(f"Restored {safe_url(url)} and {restored.files} files from {file} (made "
                  f"{restored.manifest.created}, manifest SHA-256 {restored.digest}).", highlight=False,
                  soft_wrap=True)
    if upgraded is not None:
        out.print(f"The backup's schema (revision {upgraded or 'none'}) was upgraded to this jiaowei's.",
                  highlight=False)
