"""Uploaded data value files, read before the request's transaction begins (issue 9, item 1).

A route names :data:`ApiFile` or :data:`FormFile` after ``User`` and before ``Conn``: FastAPI then
reads and parses the file (in a worker thread, so the event loop stays free) while no lock is held,
and the transaction only writes. ADX names option combos by their categories, which takes the
catalog from the database: an ADX file is parsed inside the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from jiaowei.errors import Problem, ValidationError
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import formats


@dataclass(frozen=True)
class UploadedFile:
    data: bytes
    filename: str
    content_type: str | None
    rows: list[ValueRow] | None  # None: read inside the transaction (ADX, or a file import_file refuses)


def read(data: bytes, filename: str, content_type: str | None, format: str | None) -> UploadedFile:
    """The file with its rows when they can be read without the database."""
    chosen = format or (formats.detect_format(filename, content_type, data) if data else None)
    readable = data and chosen in formats.FORMATS and chosen != "adx"
    rows = formats.read(chosen, data) if readable and chosen else None
    return UploadedFile(data, filename, content_type, rows)


async def api_file(request: Request) -> UploadedFile:
    """A multipart ``file`` field or the raw request body (``?filename=``, ``?format=``), parsed."""
    content_type = request.headers.get("content-type", "")
    filename = request.query_params.get("filename", "")
    if content_type.startswith("multipart/form-data"):
        upload = (await request.form()).get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationError("No file was uploaded.", [
                Problem("file missing", field="file", expected="a file in the form field file")])
        data, filename, content_type = await upload.read(), upload.filename or "", upload.content_type or ""
    else:
        data = await request.body()
    return await run_in_threadpool(read, data, filename, content_type, request.query_params.get("format"))


async def form_file(request: Request) -> UploadedFile | None:
    """The ``file`` field of a posted form, parsed; None when the form has none. A file that cannot
    be read is left unparsed: the page's import reads it again and shows why, with the form."""
    upload = (await request.form()).get("file")
    if upload is None or isinstance(upload, str):
        return None
    data, filename = await upload.read(), upload.filename or ""
    await upload.seek(0)
    try:
        return await run_in_threadpool(read, data, filename, upload.content_type, None)
    except ValidationError:
        return UploadedFile(data, filename, upload.content_type, None)


ApiFile = Annotated[UploadedFile, Depends(api_file)]
FormFile = Annotated[UploadedFile | None, Depends(form_file)]
