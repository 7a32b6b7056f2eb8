"""``jiaowei report``: the annual report, a district report or an indicator bulletin, as a file.

    jiaowei report annual --year 2020 --lang zh --format pdf --out 2020.pdf
    jiaowei report district --unit 310101 --year 2020 --format docx --out huangpu.docx --user huangpu
    jiaowei report bulletin --year 2020 --lang en --format html --out bulletin.html
    jiaowei report templates

A report is rendered as the ``--user`` would see it (default: the system, every unit), from the stored
template of its kind (``--template`` names another, e.g. a custom one). Messages follow ``--lang``.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Connection

from jiaowei import clock
from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.cli.common import out, transaction
from jiaowei.domains import N_
from jiaowei.errors import M_, JiaoweiError, Problem, ValidationError
from jiaowei.i18n import translate

app = typer.Typer(help="Reports generated from the data: annual, district, bulletin.", no_args_is_help=True)

LANGS = {"zh": "zh_CN", "zh_CN": "zh_CN", "en": "en"}
FORMATS = ("html", "docx", "pdf")

Year = Annotated[int, typer.Option("--year", min=1900, max=2100, help="the report's year")]
Lang = Annotated[str, typer.Option("--lang", help="zh or en")]
Format = Annotated[str, typer.Option("--format", help="html, docx or pdf")]
Out = Annotated[Path, typer.Option("--out", dir_okay=False, help="the file to write")]
Unit = Annotated[str, typer.Option("--unit", help="the unit's code (default: the template's own)")]
User = Annotated[str, typer.Option("--user", help="render as this user sees it (default: all units)")]
Template = Annotated[str, typer.Option("--template", help="another template's code, e.g. a custom one")]
Date = Annotated[str, typer.Option("--date", help="the day task statuses are told on (default: today)")]


@app.command("annual")
def annual(year: Year, out_file: Out, lang: Lang = "zh", format: Format = "html",  # noqa: A002
           unit: Unit = "", user: User = "", template: Template = "annual", date: Date = "") -> None:
    """The annual work report (年度工作情况报告) of the registry's root unit."""
    _report(template, year, out_file, lang, format, unit, user, date)


@app.command("district")
def district(year: Year, out_file: Out, lang: Lang = "zh", format: Format = "html",  # noqa: A002
             unit: Unit = "", user: User = "", template: Template = "district", date: Date = "") -> None:
    """A district's report: its indicators against targets and the tasks it leads (--unit, or the
    --user's own district)."""
    _report(template, year, out_file, lang, format, unit, user, date)


@app.command("bulletin")
def bulletin(year: Year, out_file: Out, lang: Lang = "zh", format: Format = "html",  # noqa: A002
             unit: Unit = "", user: User = "", template: Template = "bulletin", date: Date = "") -> None:
    """An indicator bulletin (统计公报): every indicator of the year and its change on the year before."""
    _report(template, year, out_file, lang, format, unit, user, date)


@app.command("templates")
def templates(lang: Lang = "zh") -> None:
    """List the report templates: code, kind, name, and whether someone edited it."""
    from jiaowei.reports import queries  # noqa: PLC0415 (keeps `jiaowei --help` fast)

    language = _language(lang)
    with _translated(language), transaction(write=False) as conn:
        found = queries.list_templates(conn)
    table = Table(*(translate(language, h) for h in (N_("Code"), N_("Kind"), N_("Name"), N_("Edited"))))
    for t in found:
        edited = M_("by {user} on {day}", user=t.updated_by, day=t.updated_at.date().isoformat()) \
            if t.updated_at else ""
        table.add_row(t.code, t.kind, t.name("en" if language == "en" else "zh"), translate(language, edited))
    out.print(table)


def _report(template: str, year: int, out_file: Path, lang: str, format: str, unit: str, user: str,  # noqa: A002
            date: str) -> None:
    """Render the template and write it in the format, with a progress bar on a terminal."""
    from jiaowei.cli.common import progress_bar  # noqa: PLC0415 (keeps `jiaowei --help` fast)
    from jiaowei.reports import outputs, service  # noqa: PLC0415 (keeps `jiaowei --help` fast)

    language = _language(lang)
    with _translated(language):
        kind = _format(format)
        today = _date(date)
        with progress_bar(translate(language, N_("Generating the report"))) as bar:
            def report(stage: str, done: int, total: int) -> None:
                bar(translate(language, stage), done, total)

            with transaction(write=False) as conn:
                document = service.render(conn, principal=_principal(conn, user), template=template,
                                          year=year, unit=unit or None, today=today, progress=report,
                                          language="en" if language == "en" else "zh")
            written = outputs.output(document, format=outputs.Format(kind), progress=report)
        out_file.write_bytes(written.data)
    wrote = M_("Wrote {file} ({size} bytes).", file=str(out_file), size=len(written.data))
    out.print(translate(language, wrote), highlight=False, soft_wrap=True)


def _language(given: str) -> str:
    if given not in LANGS:
        raise ValidationError(M_("Unknown language {language!r}.", language=given), [
            Problem(N_("no such language"), field="--lang", value=given, expected="zh, en")])
    return LANGS[given]


def _format(given: str) -> str:
    if given not in FORMATS:
        raise ValidationError(M_("Unknown format {format!r}.", format=given), [
            Problem(N_("no such format"), field="--format", value=given, expected=", ".join(FORMATS))])
    return given


def _date(text: str) -> dt.date:
    if not text:
        return clock.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(M_("Invalid date {date!r}.", date=text), [
            Problem(N_("not a date"), field="--date", value=text,
                    expected="YYYY-MM-DD, e.g. 2020-12-31")]) from None


def _principal(conn: Connection, username: str) -> Principal:
    if not username:
        return SYSTEM
    return auth.principal_for(conn, user_id=auth.user_id_for(conn, username=username))


@contextmanager
def _translated(language: str) -> Iterator[None]:
    """Re-raise an expected error with its message and problems in the language (the house exit code and
    output stay those of ``jiaowei.cli.main``)."""
    try:
        yield
    except JiaoweiError as error:
        if language == "en":
            raise
        raise _in_language(error, language) from error


def _in_language(error: JiaoweiError, language: str) -> JiaoweiError:
    shown = copy.copy(error)
    shown.detail = translate(language, error.detail or error.title)
    shown.problems = [replace(p, message=translate(language, p.message),
                              expected=translate(language, p.expected) if p.expected else p.expected)
                      for p in error.problems]
    return shown
