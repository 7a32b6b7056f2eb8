"""The ``jiaowei`` command line: the administration commands, then each domain's groups.

Every command has ``--help``; see docs/operators.md.
"""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import OperationalError

from jiaowei import domains
from jiaowei.cli import admin
from jiaowei.cli.common import err, report_error
from jiaowei.errors import JiaoweiError

app = typer.Typer(
    name="jiaowei",
    help="jiaowei 教委: the platform of a city's education-and-health commission.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
admin.register(app)
for group in domains.cli_groups():
    app.add_typer(domains.load(group.app), name=group.name)


def main() -> None:
    """Run a command; expected errors become a message on stderr and an exit code."""
    try:
        app()
    except JiaoweiError as error:
        sys.exit(report_error(error))
    except OperationalError as error:
        err.print(f"[bold red]Error:[/] the database cannot be used: {error.orig}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
