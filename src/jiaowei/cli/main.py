"""The ``jiaowei`` command line. Every command has ``--help``; see docs/operators.md."""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import OperationalError

from jiaowei.cli import accounts, admin, data, lottery, metadata, units
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
app.add_typer(accounts.users, name="user")
app.add_typer(accounts.tokens, name="token")
app.add_typer(accounts.audit, name="audit")
app.add_typer(units.app, name="units")
app.add_typer(lottery.app, name="lottery")
app.add_typer(data.app, name="data")
app.add_typer(metadata.app, name="metadata")


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
