"""The ``jiaowei`` command line: the administration commands, then each domain's groups.

Every command has ``--help``; see docs/operators.md. A command of one group (``jiaowei user list``)
imports that group only: each group pulls in its domain's services, and importing all of them took
about half of every command's start-up time. ``jiaowei --help``, a mistyped command and the
``app`` of this module (which tests drive) have every group.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from sqlalchemy.exc import OperationalError

from jiaowei import domains
from jiaowei.cli import admin
from jiaowei.cli.common import err, report_error
from jiaowei.errors import JiaoweiError


def build(argv: Sequence[str] | None = None) -> typer.Typer:
    """The command line. Given the arguments, only the group they name is loaded (no group for an
    administration command); without them, or when they name nothing known, every group."""
    app = typer.Typer(
        name="jiaowei",
        help="jiaowei 教委: the platform of a city's education-and-health commission.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    admin.register(app)
    groups = domains.cli_groups()
    named = _named(argv or ())
    administration = {command.name or getattr(command.callback, "__name__", "")
                      for command in app.registered_commands}
    if named in administration:
        groups = []
    elif named in {group.name for group in groups}:
        groups = [group for group in groups if group.name == named]
    for group in groups:
        app.add_typer(domains.load(group.app), name=group.name)
    return app


def _named(argv: Sequence[str]) -> str | None:
    """The command the arguments name: the first that is not an option (no top-level option takes a
    value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def __getattr__(name: str) -> Any:
    """``app``: every group, built when first asked for (``python -m jiaowei`` builds its own)."""
    if name == "app":
        built = globals()["app"] = build()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Run a command; expected errors become a message on stderr and an exit code."""
    try:
        build(sys.argv[1:])()
    except JiaoweiError as error:
        sys.exit(report_error(error))
    except OperationalError as error:
        err.print(f"[bold red]Error:[/] the database cannot be used: {error.orig}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
