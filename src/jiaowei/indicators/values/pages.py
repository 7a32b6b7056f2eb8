"""The data entry page: one unit, data set and period as a keyboard-friendly grid.

Each cell saves itself through ``POST /api/dataValues`` as it is left (``static/entry.js``);
validation problems appear at once from ``/api/validation/dataSet/…``. Without JavaScript
the page still shows the form's values and takes a filled-in XLSX template or any data file.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.errors import M_, Conflict, JiaoweiError, NotFound, Problem, ValidationError
from jiaowei.indicators import defaults
from jiaowei.indicators.approval.worklist import rule_cells
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, load_catalog
from jiaowei.indicators.values import exchange, formats, uploads
from jiaowei.indicators.values import service as values
from jiaowei.indicators.values.uploads import FormFile, UploadedFile
from jiaowei.jobs.model import Outcome
from jiaowei.jobs.pages import start_job
from jiaowei.jobs.runner import JobContext, Work
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.forms import N_
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)


def _sections(catalog: Catalog, ds: DataSet, zh: bool) -> list[dict[str, Any]]:
    """The form's elements grouped by their disaggregation, in data set order (DHIS2's default form)."""
    sections: dict[int, dict[str, Any]] = {}
    for element_id in ds.element_ids:
        element = catalog.elements[element_id]
        section = sections.setdefault(
            element.combo_id,
            {
                "combo": catalog.combos.get(element.combo_id, ""),
                "cocs": [
                    {"code": c.code, "name": c.name_zh if zh else c.name_en}
                    for c in catalog.cocs_of(element.combo_id)
                ],
                "elements": [],
            },
        )
        section["elements"].append(
            {
                "code": element.code,
                "name": element.name_zh if zh else element.name_en,
                "value_type": element.value_type.value,
            }
        )
    return list(sections.values())


def _form(
    conn: Connection, user: Principal, ds_code: str, period: str, unit: str, zh: bool
) -> dict[str, Any]:
    form = values.open_form(conn, principal=user, data_set=ds_code, period=period, unit=unit)
    ds = form.data_set
    cells = {
        f"{de}.{co}": {"value": r.value, "comment": r.comment or "", "followup": bool(r.followup)}
        for (de, co), r in form.values.items()
    }
    return {
        "ds": ds,
        "ds_name": ds.name_zh if zh else ds.name_en,
        "period": form.period,
        "unit": unit,
        "unit_name": values.unit_name(conn, form.unit_id, zh),
        "sections": _sections(form.catalog, ds, zh),
        "cells": cells,
        "state": form.state,
        "due": form.due,
        "synthetic": form.synthetic,
        "rule_cells": rule_cells(conn, form.catalog, ds),  # a validation problem's link focuses its cell
    }


def _choices(conn: Connection, zh: bool) -> list[dict[str, str]]:
    catalog = load_catalog(conn)
    return [
        {"code": ds.code, "name": ds.name_zh if zh else ds.name_en, "period_type": ds.period_type}
        for ds in sorted({d.id: d for d in catalog.data_sets.values()}.values(), key=lambda d: d.code)
    ]


@router.get("/data/entry", response_class=HTMLResponse)
def entry_page(
    request: Request,
    conn: Conn,
    user: User,
    ds: Annotated[str, Query(max_length=50)] = "",
    pe_: Annotated[str, Query(alias="pe", max_length=16)] = "",
    ou: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Choose a data set, period and unit and open the form; with nothing chosen, a reporter with one
    unit is sent to that unit's current form, and anyone else finds the current period filled in."""
    if not (ds or pe_ or ou):
        mine = defaults.entry_form(conn, principal=user, today=clock.today())
        if mine is not None:
            return RedirectResponse("/data/entry?" + urlencode({"ds": mine.data_set, "pe": mine.period,
                                                                "ou": mine.unit}), status_code=303)
    zh = _zh(request)
    choices = _choices(conn, zh)
    pe_ = pe_ or defaults.current_period(conn, ds or (choices[0]["code"] if choices else ""), clock.today())
    context: dict[str, Any] = {"active": "data", "choices": choices, "query": {"ds": ds, "pe": pe_, "ou": ou}}
    if ds and pe_ and ou:
        try:
            context["form"] = _form(conn, user, ds, pe_, ou, zh)
        except ValidationError as error:
            context["error"] = error
    return page(request, "indicators/entry.html", context)


@router.post("/data/entry/upload", response_class=HTMLResponse, dependencies=[TAKES_FILES])
def entry_upload(
    request: Request,
    user: User,
    posted: FormFile,
    conn: Conn,
    background: BackgroundTasks,
    file: Annotated[UploadFile, File()],
    ds: Annotated[str, Form(max_length=50)] = "",
    pe_: Annotated[str, Form(alias="pe", max_length=16)] = "",
    ou: Annotated[str, Form(max_length=64)] = "",
    dry_run: Annotated[str, Form()] = "",
    valid_only: Annotated[str, Form()] = "",
) -> Response:
    """Start importing a filled-in template (or any data file) as a job; its page shows the progress,
    then the import summary, with a link back to the form."""
    require_action(user, Action.DATA_CAPTURE)
    if posted is None or posted.empty:
        return _refused_upload(request, conn, user, ds, pe_, ou, ValidationError(
            N_("The file is empty."), [Problem("empty file", field="file",
                                               expected=", ".join(formats.FORMATS))]))
    query = {"ds": ds, "pe": pe_, "ou": ou}
    back = "/data/entry?" + urlencode(query) if ds and pe_ and ou else "/data/entry"
    started = start_job(request, conn, background, principal=user, kind="data.import",
                        title=N_("Import data values"), back=back, filename=posted.filename,
                        dry_run=bool(dry_run),
                        work=_import_values(user, posted, dry_run=bool(dry_run), valid_only=bool(valid_only)))
    if posted.disk is not None:
        posted.disk.taken = True  # a large upload's file: the job deletes it once it has run
    return started


def _refused_upload(request: Request, conn: Connection, user: Principal, ds: str, pe_: str, ou: str,
                    error: JiaoweiError) -> HTMLResponse:
    """The entry page again, with why the upload was refused before any job began."""
    zh = _zh(request)
    context: dict[str, Any] = {"active": "data", "choices": _choices(conn, zh), "upload_error": error,
                               "query": {"ds": ds, "pe": pe_, "ou": ou}}
    if ds and pe_ and ou:
        try:
            context["form"] = _form(conn, user, ds, pe_, ou, zh)
        except (ValidationError, NotFound) as form_error:
            context["error"] = form_error
    return page(request, "indicators/entry.html", context, status=error.status)


def _import_values(user: Principal, posted: UploadedFile, *, dry_run: bool, valid_only: bool) -> Work:
    """The data values import as a job: read the file, then check and write every row or none (a large
    file as it streams from disk, then deleted)."""

    def work(job: JobContext) -> Outcome:
        try:
            return _imported(job)
        finally:
            if posted.disk is not None:
                posted.disk.path.unlink(missing_ok=True)

    def _imported(job: JobContext) -> Outcome:
        read = uploads.read(posted.data, posted.filename, posted.content_type, None,
                            posted.disk.path if posted.disk else None)  # a large file: read through
        total = len(read.rows) if read.rows is not None else 0  # 0: a large file, counted as it streams
        job.report("reading the file", total, total)
        with job.transaction() as conn:
            summary = exchange.import_file(
                conn, principal=user, data=read.data, filename=posted.filename,
                content_type=posted.content_type, dry_run=dry_run, valid_only=valid_only, rows=read.rows,
                progress=lambda done: job.report("checking rows", done, total))
            conflicts = tuple(c.as_problem() for c in summary.conflicts)
            if summary.status == "ERROR":  # nothing is written: the conflicts are the answer, as in the API
                raise Conflict(M_("{n} rows have conflicts; nothing was imported.", n=len(conflicts)),
                               list(conflicts))
        return Outcome(((N_("Imported"), summary.imported), (N_("Updated"), summary.updated),
                        (N_("Deleted"), summary.deleted), (N_("Ignored"), summary.ignored)), conflicts)

    return work


def _zh(request: Request) -> bool:
    return language(request) == "zh_CN"
