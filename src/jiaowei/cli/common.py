"""What every command shares: the database, the transaction, progress bars, error output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.prompt import Confirm
from rich.table import Table
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from jiaowei.db.engine import Database, make_engine
from jiaowei.errors import JiaoweiError, Problem, ValidationError
from jiaowei.settings import get_settings

out = Console()
err = Console(stderr=True)


def database() -> Database:
    return Database(make_engine(get_settings().effective_database_url))


@contextmanager
def transaction(*, write: bool = True) -> Iterator[Connection]:
    """The command's one unit of work: committed at the end, rolled back on any error.

    Commands take SQLite's write lock at the start, so they wait for a running server's writes.
    """
    db = database()
    try:
        with db.transaction(write=write) as conn:
            yield conn
    finally:
        db.engine.dispose()


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def progress_bar(title: str) -> Iterator[Any]:
    """A Rich progress bar fed with ``report(stage, done, total)``; silent when not a terminal."""
    if not out.is_terminal:
        yield lambda stage, done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task(title, total=None)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=f"{title}: {stage}", completed=done, total=total or None)

        yield report


def problem_table(problems: list[Problem]) -> Table:
    table = Table("row", "column", "value", "problem", "expected", title="Problems", show_lines=False)
    for p in problems:
        table.add_row("" if p.row is None else str(p.row), p.field or "",
                      "" if p.value is None else str(p.value), p.message, p.expected or "")
    return table


def report_error(error: JiaoweiError) -> int:
    """Print an expected error to stderr; returns the exit code."""
    err.print(f"[bold red]Error:[/] {error.detail or error.title}", markup=True, highlight=False)
    if error.problems:
        err.print(problem_table(error.problems))
    return error.exit_code


def confirm_or_refuse(question: str, *, yes: bool, flag: str) -> None:
    """Ask on a terminal; without one, ``flag`` must have been given."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ValidationError(f"{question} Refusing without a terminal to ask; add {flag}.")
    if not Confirm.ask(question, console=err, default=False):
        raise ValidationError("Cancelled; nothing was changed.")
