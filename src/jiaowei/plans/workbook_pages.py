"""The page importing key tasks and findings, the template and the export (:mod:`jiaowei.plans.workbook`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.errors import Problem, ValidationError
from jiaowei.jobs.model import Outcome
from jiaowei.jobs.pages import start_job
from jiaowei.jobs.runner import JobContext, Work
from jiaowei.plans import clock, workbook, workbook_export
from jiaowei.plans.tasks import queries as task_queries
from jiaowei.plans.workbook_api import download
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User, language
from jiaowei.web.forms import N_, Form
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)


def _render(request: Request, conn: Conn, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    years = task_queries.years(conn)
    return page(
        request,
        "plans_import.html",
        {
            "years": years,
            "year": years[0] if years else clock.today().year,
            "tasks_columns": workbook.TASK_COLUMNS,
            "findings_columns": workbook.FINDING_COLUMNS,
            "dry_run": True,
            **context,
        },
        status,
    )


@router.get("/plans/import", response_class=HTMLResponse)
def import_form(request: Request, conn: Conn, user: User) -> HTMLResponse:
    return _render(request, conn, {})


@dataclass(frozen=True)
class Posted:
    data: bytes
    filename: str


async def posted_file(file: Annotated[UploadFile | None, File()] = None) -> Posted:
    """The form's ``file``, read before the request's transaction begins."""
    if file is None:
        return Posted(b"", "")
    return Posted(await file.read(), file.filename or "")


@router.post("/plans/import", dependencies=[TAKES_FILES])
def import_file(
    request: Request, user: User, upload: Annotated[Posted, Depends(posted_file)], conn: Conn, form: Form,
    background: BackgroundTasks,
) -> Response:
    """Start importing the workbook as a job; its page shows the progress, then the summary or every
    problem (and nothing saved)."""
    dry_run = form.get("dry_run") == "on"
    require_action(user, Action.PLANS_MANAGE)
    if not upload.data:
        error = ValidationError(N_("Choose a file to import."),
                                [Problem("no file chosen", field="file", expected=workbook.EXPECTED)])
        return _render(request, conn, {"dry_run": dry_run, "error": error}, status=error.status)
    return start_job(request, conn, background, principal=user, kind="plans.import",
                     title=N_("Import key tasks and findings"), back="/plans/import",
                     filename=upload.filename, dry_run=dry_run,
                     work=_import_workbook(user, upload, dry_run, clock.today()))


def _import_workbook(user: Principal, upload: Posted, dry_run: bool, today: dt.date) -> Work:
    """The workbook import as a job: every row of both sheets in the job's one transaction, or none."""

    def work(job: JobContext) -> Outcome:
        with job.transaction() as conn:
            summary = workbook.import_workbook(conn, principal=user, data=upload.data,
                                               filename=upload.filename, today=today, dry_run=dry_run,
                                               progress=job.report)
        return Outcome(((N_("Plans created"), summary.plans_created),
                        (N_("Items created"), summary.items_created),
                        (N_("Items updated"), summary.items_updated),
                        (N_("Items unchanged"), summary.items_unchanged),
                        (N_("Findings recorded"), summary.findings_created),
                        (N_("Findings already recorded"), summary.findings_unchanged),
                        (N_("Measures"), summary.measures_created)))

    return work


@router.get("/plans/import/template.xlsx")
def template(request: Request, user: User) -> Response:
    return download(workbook_export.template_workbook(language=language(request)), "plans-template.xlsx")


@router.get("/plans/export.xlsx")
def export(request: Request, conn: Conn, user: User, year: Annotated[int, Query(ge=1900, le=2100)],
           as_of: AsOf) -> Response:
    data = workbook_export.export_workbook(conn, principal=user, year=year, today=as_of or clock.today(),
                                           language=language(request))
    return download(data, f"plans-{year}.xlsx")
