"""Uploaded data value files, read before the request's transaction begins (issue 9, item 1).

A route names :data:`ApiFile` or :data:`FormFile` after ``User`` and before ``Conn``: FastAPI then
receives the file while no lock is held. The API parses it there too (in a worker thread, so the
event loop stays free), and the transaction only writes; the data entry page's upload is a job
(``jobs/``) whose worker thread parses the file with :func:`read` before its own transaction. ADX
names option combos by their categories, which takes the catalog from the database: an ADX file is
parsed and checked here too (``formats.adx.parse_adx``), and only its categories are named as combos
inside the transaction (``formats.adx.adx_rows``).

A large upload (``exchange.STREAM_ABOVE`` bytes or more) is never held whole: a raw body is written to
a temporary file as it arrives (``request.stream()``), a multipart file (which Starlette spools to
disk above 1 MB) is copied to one from Starlette's file. A DHIS2 JSON, CSV, DXF2 or ADX file there is
not turned into rows: it is read through once before the transaction (its problems refused then, as a
whole file's are), then imported as it streams (``streams.Spooled``), whatever its id schemes. The
API deletes the file once the request is answered; the page's job deletes it once it has run (or
the request, if no job took it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from jiaowei.domains import N_
from jiaowei.errors import Problem, ValidationError
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import exchange, formats
from jiaowei.indicators.values.formats.adx import ParsedAdx, XmlRead, parse_adx
from jiaowei.indicators.values.formats.dxf2 import parse_dxf2
from jiaowei.indicators.values.streams import Spooled, head_of, read_through, streamed_format

CHUNK = 1 << 20
"""Bytes written to the temporary file at a time."""


@dataclass(eq=False)
class OnDisk:
    """A large upload in a temporary file; deleted when its request ends unless a job ``taken`` it."""

    path: Path
    taken: bool = False


@dataclass(frozen=True)
class UploadedFile:
    data: bytes
    filename: str
    content_type: str | None
    # ADX: parsed, its combos still to name with the catalog. None: a file import_file refuses.
    rows: list[ValueRow] | ParsedAdx | XmlRead | Spooled | None
    disk: OnDisk | None = field(default=None)  # a large upload: on disk, ``data`` empty

    @property
    def empty(self) -> bool:
        return not self.data and self.disk is None


def read(data: bytes, filename: str, content_type: str | None, format: str | None,
         path: Path | None = None) -> UploadedFile:
    """The file with its rows, read without the database (an ADX file parsed, its combos unnamed).
    ``path``: a large upload on disk (``data`` is empty): one in a format read as it streams is read
    through and :class:`Spooled`, to be imported as it streams; any other is read whole."""
    if path is not None:
        head = head_of(path)
        chosen_stream = streamed_format(filename, format or _detected(filename, content_type, head), head)
        if chosen_stream is not None:
            read_through(path, chosen_stream)
            return UploadedFile(b"", filename, content_type, Spooled(path, chosen_stream))
        data = path.read_bytes()
    chosen = format or (formats.detect_format(filename, content_type, data) if data else None)
    rows: list[ValueRow] | ParsedAdx | XmlRead | None = None
    if data and chosen == "adx":
        rows = parse_adx(data)
    elif data and chosen == "dxf2":  # with the form its completeDate says is complete
        rows = parse_dxf2(data)
    elif data and chosen and chosen in formats.FORMATS:
        rows = formats.read(chosen, data)
    return UploadedFile(data, filename, content_type, rows)


def _detected(filename: str, content_type: str | None, head: bytes) -> str | None:
    """The format the name, type or first bytes say (None: :func:`read` reads the file whole to say why)."""
    try:
        return formats.detect_format(filename, content_type, head) if head else None
    except ValidationError:
        return None


async def api_file(request: Request) -> AsyncIterator[UploadedFile]:
    """A multipart ``file`` field or the raw request body (``?filename=``, ``?format=``), parsed (a large
    one on disk, read through; the file deleted once the request is answered)."""
    content_type = request.headers.get("content-type", "")
    filename = request.query_params.get("filename", "")
    if content_type.startswith("multipart/form-data"):
        upload = (await request.form()).get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationError(N_("No file was uploaded."), [
                Problem(N_("file missing"), field="file", expected=N_("a file in the form field file"))])
        filename, content_type = upload.filename or "", upload.content_type or ""
        data, path = await _received(upload)
    else:
        data, path = await _body(request)
    try:
        yield await run_in_threadpool(read, data, filename, content_type, request.query_params.get("format"),
                                      path)
    finally:
        if path is not None:
            path.unlink(missing_ok=True)


async def form_file(request: Request) -> AsyncIterator[UploadedFile | None]:
    """The ``file`` field of a posted form, unread: the page's import job reads it (:func:`read`) in its
    worker thread, before its transaction. None when the form has none. A large one is copied to a
    temporary file, which the job deletes once it has run (the request deletes it if no job took it)."""
    upload = (await request.form()).get("file")
    if upload is None or isinstance(upload, str):
        yield None
        return
    data, path = await _received(upload)
    disk = OnDisk(path) if path is not None else None
    try:
        yield UploadedFile(data, upload.filename or "", upload.content_type, None, disk)
    finally:
        if disk is not None and not disk.taken:
            disk.path.unlink(missing_ok=True)


async def _received(upload: UploadFile) -> tuple[bytes, Path | None]:
    """A multipart file: its bytes, or (a large one) a temporary file copied from Starlette's."""
    if not upload.size or upload.size < max(exchange.STREAM_ABOVE, 1):
        return await upload.read(), None
    await upload.seek(0)
    return b"", await run_in_threadpool(_copied, upload.file)


def _copied(source: IO[bytes]) -> Path:
    path, out = _temporary()
    with out:
        shutil.copyfileobj(source, out, CHUNK)
    return path


async def _body(request: Request) -> tuple[bytes, Path | None]:
    """The raw body: its bytes, or (a large one) a temporary file written as the body arrives."""
    chunks: list[bytes] = []
    held = total = 0
    path, out = None, None
    try:
        async for chunk in request.stream():
            chunks.append(chunk)
            held, total = held + len(chunk), total + len(chunk)
            if out is None and total >= max(exchange.STREAM_ABOVE, 1):
                path, out = _temporary()
            if out is not None and held >= CHUNK:
                await run_in_threadpool(out.writelines, chunks)
                chunks, held = [], 0
        if out is not None:
            await run_in_threadpool(out.writelines, chunks)
            chunks = []
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    finally:
        if out is not None:
            out.close()
    return b"".join(chunks), path


def _temporary() -> tuple[Path, IO[bytes]]:
    handle, name = tempfile.mkstemp(prefix="jiaowei-upload-")
    return Path(name), os.fdopen(handle, "wb")


ApiFile = Annotated[UploadedFile, Depends(api_file)]
FormFile = Annotated[UploadedFile | None, Depends(form_file)]
