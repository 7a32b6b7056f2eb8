"""Uploaded data value files, read before the request's transaction begins (issue 9, item 1).

A route names :data:`ApiFile` or :data:`FormFile` after ``User`` and before ``Conn``: FastAPI then
receives the file while no lock is held. The API parses it there too (in a worker thread, so the
event loop stays free), and the transaction only writes; the data entry page's upload is a job
(``jobs/``) whose worker thread parses the file with :func:`read` before its own transaction. ADX
names option combos by their categories, which takes the catalog from the database: an ADX file is
parsed and checked here too (``formats.adx.parse_adx``), and only its categories are named as combos
inside the transaction (``formats.adx.adx_rows``). A large API upload (``exchange.STREAM_ABOVE`` bytes or
more, DHIS2 JSON, CSV, DXF2 or ADX, no id scheme asked) is not turned into rows: it is written to a
temporary file and read through once here (its problems refused before the transaction, as a whole
file's are), then imported as it streams (``exchange.Spooled``); the file is deleted after the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from jiaowei.domains import N_
from jiaowei.errors import Problem, ValidationError
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import formats
from jiaowei.indicators.values.exchange import Spooled, spool
from jiaowei.indicators.values.formats.adx import ParsedAdx, XmlRead, parse_adx
from jiaowei.indicators.values.formats.dxf2 import parse_dxf2


@dataclass(frozen=True)
class UploadedFile:
    data: bytes
    filename: str
    content_type: str | None
    # ADX: parsed, its combos still to name with the catalog. None: a file import_file refuses.
    rows: list[ValueRow] | ParsedAdx | XmlRead | Spooled | None


def read(data: bytes, filename: str, content_type: str | None, format: str | None,
         streams: bool = False) -> UploadedFile:
    """The file with its rows, read without the database (an ADX file parsed, its combos unnamed);
    ``streams``: a large file is spooled to be imported as it streams instead (see the module)."""
    chosen = format or (formats.detect_format(filename, content_type, data) if data else None)
    rows: list[ValueRow] | ParsedAdx | XmlRead | Spooled | None = None
    if streams and (spooled := spool(data, chosen)) is not None:
        rows = spooled
    elif data and chosen == "adx":
        rows = parse_adx(data)
    elif data and chosen == "dxf2":  # with the form its completeDate says is complete
        rows = parse_dxf2(data)
    elif data and chosen and chosen in formats.FORMATS:
        rows = formats.read(chosen, data)
    return UploadedFile(data, filename, content_type, rows)


async def api_file(request: Request) -> AsyncIterator[UploadedFile]:
    """A multipart ``file`` field or the raw request body (``?filename=``, ``?format=``), parsed (a large
    one spooled, unless an id scheme is asked; its file deleted once the request is answered)."""
    content_type = request.headers.get("content-type", "")
    filename = request.query_params.get("filename", "")
    if content_type.startswith("multipart/form-data"):
        upload = (await request.form()).get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationError(N_("No file was uploaded."), [
                Problem(N_("file missing"), field="file", expected=N_("a file in the form field file"))])
        data, filename, content_type = await upload.read(), upload.filename or "", upload.content_type or ""
    else:
        data = await request.body()
    streams = not any(name.lower().endswith("idscheme") for name in request.query_params)
    uploaded = await run_in_threadpool(read, data, filename, content_type, request.query_params.get("format"),
                                       streams)
    try:
        yield uploaded
    finally:
        if isinstance(uploaded.rows, Spooled):
            uploaded.rows.path.unlink(missing_ok=True)


async def form_file(request: Request) -> UploadedFile | None:
    """The ``file`` field of a posted form, unread: the page's import job reads it (:func:`read`) in its
    worker thread, before its transaction. None when the form has none."""
    upload = (await request.form()).get("file")
    if upload is None or isinstance(upload, str):
        return None
    data, filename = await upload.read(), upload.filename or ""
    await upload.seek(0)
    return UploadedFile(data, filename, upload.content_type, None)


ApiFile = Annotated[UploadedFile, Depends(api_file)]
FormFile = Annotated[UploadedFile | None, Depends(form_file)]
