"""The page importing key tasks and findings, the template and the export (:mod:`jiaowei.plans.workbook`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from jiaowei.errors import Problem, ValidationError
from jiaowei.plans import clock, workbook, workbook_export
from jiaowei.plans.tasks import queries as task_queries
from jiaowei.plans.workbook_api import download
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User
from jiaowei.web.forms import Form
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
    request: Request, user: User, upload: Annotated[Posted, Depends(posted_file)], conn: Conn, form: Form
) -> HTMLResponse:
    """Import the workbook: a summary when every row is good, else every problem and nothing saved."""
    dry_run = form.get("dry_run") == "on"
    context: dict[str, Any] = {"dry_run": dry_run, "filename": upload.filename}
    try:
        if not upload.data:
            raise ValidationError(
                "Choose a file to import.",
                [Problem("no file chosen", field="file", expected=workbook.EXPECTED)],
            )
        with conn.begin_nested():
            summary = workbook.import_workbook(
                conn,
                principal=user,
                data=upload.data,
                filename=upload.filename,
                today=clock.today(),
                dry_run=dry_run,
            )
    except ValidationError as error:
        return _render(request, conn, {**context, "error": error}, status=error.status)
    return _render(request, conn, {**context, "summary": summary})


@router.get("/plans/import/template.xlsx")
def template(user: User) -> Response:
    return download(workbook_export.template_workbook(), "plans-template.xlsx")


@router.get("/plans/export.xlsx")
def export(conn: Conn, user: User, year: Annotated[int, Query(ge=1900, le=2100)], as_of: AsOf) -> Response:
    data = workbook_export.export_workbook(conn, principal=user, year=year, today=as_of or clock.today())
    return download(data, f"plans-{year}.xlsx")
