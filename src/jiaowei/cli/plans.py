"""``jiaowei plans``: the daily digest, and import and export of tasks and findings.

Messages follow ``--lang``, else the language of ``LC_ALL``, ``LC_MESSAGES`` or ``LANG`` (Chinese for
``zh_*``, English otherwise).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from jiaowei.auth.model import SYSTEM
from jiaowei.cli.common import out, transaction
from jiaowei.errors import Problem, ValidationError
from jiaowei.i18n import LANGUAGES, negotiate, translate
from jiaowei.settings import get_settings

if TYPE_CHECKING:
    from jiaowei.plans.tasks.digest import Digest

app = typer.Typer(
    help="Key tasks, appraisals, the rectification ledger and the risk register.", no_args_is_help=True
)


def _language(given: str | None) -> str:
    if given:
        if given not in LANGUAGES:
            raise ValidationError(
                "Unknown language.",
                [Problem("no such language", field="--lang", value=given, expected=", ".join(LANGUAGES))],
            )
        return given
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return negotiate(value.replace("_", "-")) or "en"
    return "en"


def _date(text: str | None) -> dt.date:
    from jiaowei.plans import clock  # noqa: PLC0415 (here, so that `jiaowei --help` stays fast)

    if not text:
        return clock.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            "Invalid date.",
            [Problem("not a date", field="--date", value=text, expected="YYYY-MM-DD, e.g. 2020-07-01")],
        ) from None


@app.command("digest")
def digest(
    date: Annotated[str | None, typer.Option("--date", help="the day to count from (default: today)")] = None,
    within: Annotated[
        int, typer.Option("--within", min=0, max=366, help="days ahead that count as due soon")
    ] = 14,
    email: Annotated[
        bool, typer.Option("--email", help="also send it to JIAOWEI_DIGEST_TO (JIAOWEI_SMTP_*)")
    ] = False,
    lang: Annotated[str | None, typer.Option("--lang", help="zh_CN or en (default: from the locale)")] = None,
) -> None:
    """What is overdue or due soon on the key tasks, by lead unit."""
    from jiaowei.plans.tasks import digest as digests  # noqa: PLC0415 (keeps `jiaowei --help` fast)

    language = _language(lang)

    def gettext(message: str) -> str:
        return translate(language, message)

    today = _date(date)
    with transaction(write=False) as conn:
        found = digests.build(conn, principal=SYSTEM, today=today, within_days=within)
    out.print(_table(found, gettext, language))
    if email:
        sent = digests.send(found, settings=get_settings(), gettext=gettext, language=language)
        out.print(gettext("Sent to {addresses}.").format(addresses=", ".join(sent)), highlight=False)


def _table(found: Digest, gettext: Callable[[str], str], language: str) -> Table:
    from jiaowei.plans.tasks import digest as digests  # noqa: PLC0415 (keeps `jiaowei --help` fast)

    table = Table(
        gettext("Lead unit"),
        gettext("Task"),
        gettext("What"),
        gettext("Due"),
        gettext("When"),
        title=digests.subject(found, gettext),
    )
    if not found.units:
        table.caption = gettext(digests.NOTHING).format(days=found.within_days)
    for group in found.units:
        for r in group.reminders:
            table.add_row(
                digests.unit_name(group.unit, gettext, language),
                digests.task_title(r, language),
                digests.what(r, gettext),
                r.due.isoformat(),
                digests.when(r, gettext),
            )
    return table


# ---------------------------------------------------------------- import and export (jiaowei.plans.workbook)


@app.command("import")
def import_workbook(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="an .xlsx file")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check the workbook, save nothing")] = False,
    date: Annotated[str | None, typer.Option("--date", help="the day it counts as (default: today)")] = None,
) -> None:
    """Import key tasks (sheet tasks) and rectification findings (sheet findings), all or nothing."""
    from jiaowei.cli.common import progress_bar  # noqa: PLC0415 (keeps `jiaowei --help` fast)
    from jiaowei.plans import workbook  # noqa: PLC0415 (keeps `jiaowei --help` fast)

    today = _date(date)
    with progress_bar("Importing") as report, transaction() as conn:
        summary = workbook.import_workbook(conn, principal=SYSTEM, data=file.read_bytes(), filename=file.name,
                                           today=today, dry_run=dry_run, progress=report)
    head = "Dry run, nothing saved" if dry_run else "Imported"
    counts = ", ".join(f"{k} {v}" for k, v in summary.as_dict().items() if k != "dryRun")
    out.print(f"{head}: {counts}.", highlight=False)


@app.command("export")
def export_workbook(
    year: Annotated[int, typer.Option("--year", min=1900, max=2100, help="the plan's year")],
    out_file: Annotated[Path, typer.Option("--out", dir_okay=False, help="the .xlsx file to write")],
    date: Annotated[str | None, typer.Option("--date", help="the day statuses are computed on")] = None,
) -> None:
    """Write the year's tasks (with their status) and the findings found in the year to an XLSX file."""
    from jiaowei.cli.common import progress_bar  # noqa: PLC0415 (keeps `jiaowei --help` fast)
    from jiaowei.plans import workbook_export  # noqa: PLC0415 (keeps `jiaowei --help` fast)

    today = _date(date)
    with progress_bar("Exporting") as report, transaction(write=False) as conn:
        report("tasks and findings", 0, 1)
        data = workbook_export.export_workbook(conn, principal=SYSTEM, year=year, today=today)
        report("tasks and findings", 1, 1)
    out_file.write_bytes(data)
    out.print(f"Wrote {out_file} ({len(data)} bytes).", highlight=False)
