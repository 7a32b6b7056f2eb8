"""Key tasks and findings as one XLSX workbook over the API (see :mod:`jiaowei.plans.workbook`).

- ``POST /api/plans/import``: a multipart form (``file``, ``dry_run``) or the raw workbook with
  ``?filename=&dry_run=``; all or nothing, each problem naming its sheet and column, row and value.
- ``GET /api/plans/export?year=``: the year's tasks (with their status) and findings.
- ``GET /api/plans/import/template``: the empty workbook to fill in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from jiaowei.domains import N_
from jiaowei.errors import Problem, ValidationError
from jiaowei.plans import clock, workbook, workbook_export
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User, language

router = APIRouter(prefix="/api/plans", tags=["plans"])
XLSX: dict[int | str, dict[str, Any]] = {
    200: {"content": {workbook.XLSX_TYPE: {}}, "description": "An XLSX workbook"}
}


def download(data: bytes, filename: str) -> Response:
    return Response(
        data,
        media_type=workbook.XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@dataclass
class Upload:
    data: bytes
    filename: str
    dry_run: bool


async def read_upload(request: Request) -> Upload:
    """A multipart form (``file``, ``dry_run``) or a raw body with ``?filename=&dry_run=``."""
    query = request.query_params
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationError(
                N_("No file was uploaded."),
                [Problem(N_("file missing"), field="file",
                         expected=N_("an .xlsx file in the form field file"))],
            )
        data, filename = await upload.read(), upload.filename or ""
        flag = str(form.get("dry_run", query.get("dry_run", "")))
    else:
        data, filename, flag = await request.body(), query.get("filename", ""), query.get("dry_run", "")
    if not data:
        raise ValidationError(
            N_("The upload is empty."), [Problem("empty file", field="file", expected=workbook.EXPECTED)]
        )
    return Upload(data, filename, flag.lower() in ("1", "true", "on", "yes"))


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            workbook.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "dry_run": {"type": "boolean"},
                    },
                }
            },
        },
    }
}


@router.post("/import", openapi_extra=_BODY, dependencies=[TAKES_FILES])
def import_workbook(
    user: User, upload: Annotated[Upload, Depends(read_upload)], conn: Conn, as_of: AsOf
) -> dict[str, Any]:
    """Import tasks and findings from an XLSX workbook (``plans.manage``); a dry run writes nothing."""
    summary = workbook.import_workbook(
        conn,
        principal=user,
        data=upload.data,
        filename=upload.filename,
        today=as_of or clock.today(),
        dry_run=upload.dry_run,
    )
    return summary.as_dict()


@router.get("/export", responses=XLSX, response_class=Response)
def export_workbook(
    request: Request, conn: Conn, user: User, year: Annotated[int, Query(ge=1900, le=2100)], as_of: AsOf
) -> Response:
    """The year's tasks with their status on ``as_of``, and the findings found in the year."""
    data = workbook_export.export_workbook(conn, principal=user, year=year, today=as_of or clock.today(),
                                           language=language(request))
    return download(data, f"plans-{year}.xlsx")


@router.get("/import/template", responses=XLSX, response_class=Response)
def template(request: Request, user: User) -> Response:
    """The workbook to fill in: the columns of both sheets, and a sheet describing them."""
    return download(workbook_export.template_workbook(language=language(request)), "plans-template.xlsx")
