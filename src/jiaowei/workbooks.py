"""Reading XLSX workbooks that people upload, in one place that turns every failure into bad input.

An uploaded workbook can be broken in many ways: not a zip, a truncated zip, an encrypted entry, a
compression method zip cannot read, parts that unpack
too far (``JIAOWEI_MAX_XLSX_UNPACKED_BYTES`` in all, and at most :data:`MAX_RATIO` times their packed
size), broken XML inside, a DTD or entities (defusedxml, which
openpyxl uses, refuses them), a part openpyxl's readers do not expect. :func:`open_workbook` opens
one read-only and answers each of these with a :class:`~jiaowei.errors.ValidationError` naming the
file, the part when it is known, and what would be accepted; errors raised while the caller reads
cells inside its block are answered the same way (openpyxl's read-only sheets parse lazily).
"""

from __future__ import annotations

import io
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException

from jiaowei.errors import Problem, ValidationError
from jiaowei.settings import get_settings

MAX_RATIO = 100  # how many times its packed size a part may unpack to (Excel's XML: 5 to 30 times)
_RATIO_FROM = 1024 * 1024  # parts smaller than this unpack to little whatever their ratio
# zip's methods that Python reads: stored, deflated, bzip2, lzma (Excel writes only the first two).
_READABLE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
_UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, ExpatError, ParseError, DefusedXmlException,
               NotImplementedError, RuntimeError, zlib.error, EOFError, KeyError, IndexError, ValueError,
               TypeError, AttributeError, OSError, UnicodeError, RecursionError)


@contextmanager
def open_workbook(data: bytes, *, filename: str, expected: str) -> Iterator[Any]:
    """The openpyxl read-only workbook of ``data``, closed at the end of the block.

    Any failure to open or read it (in the block too) raises a ValidationError naming ``filename``
    and ``expected``; the caller's own ValidationErrors pass unchanged.
    """
    from openpyxl import load_workbook  # imported here: slow to import, and only XLSX files need it

    _check_entries(data, filename, expected)
    book = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            yield book
    except _UNREADABLE as exc:
        raise _unreadable(filename, f"broken or unexpected content ({_reason(exc)})",
                          expected) from None
    finally:
        if book is not None:
            book.close()


def _check_entries(data: bytes, filename: str, expected: str) -> None:
    """Refuse a file that is not a zip, or has an encrypted entry or one zip cannot decompress."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        message = f"not a zip archive, or a truncated one ({_reason(exc)})"
        raise _unreadable(filename, message, expected) from None
    _check_sizes(entries, filename, expected)
    for entry in entries:
        if entry.flag_bits & 0x1:
            message = f"the part {entry.filename} is encrypted"
            raise _unreadable(filename, message, expected, part=entry.filename)
        if entry.compress_type not in _READABLE_METHODS:
            raise _unreadable(filename, f"the part {entry.filename} uses the unsupported compression method "
                              f"{entry.compress_type}", expected, part=entry.filename)


def _check_sizes(entries: list[zipfile.ZipInfo], filename: str, expected: str) -> None:
    """Refuse a workbook whose parts unpack too far (zip checks each part against its declared size)."""
    limit = get_settings().max_xlsx_unpacked_bytes
    total = 0
    for entry in entries:
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > _RATIO_FROM and ratio > MAX_RATIO:
            raise _unreadable(filename, f"the part {entry.filename} unpacks to {entry.file_size} bytes, "
                              f"{ratio:.0f} times its packed size (at most {MAX_RATIO} times)", expected,
                              part=entry.filename)
        if total > limit:
            raise _unreadable(filename, f"its parts unpack to more than {limit} bytes "
                              "(JIAOWEI_MAX_XLSX_UNPACKED_BYTES)", expected, part=entry.filename)


def _unreadable(filename: str, message: str, expected: str, *, part: str | None = None) -> ValidationError:
    what = f"The file {filename}" if filename else "The uploaded file"
    return ValidationError(f"{what} is not a readable XLSX workbook.", [
        Problem(f"not a readable XLSX workbook: {message}", field="file", value=part or filename or None,
                expected=expected)])


def _reason(exc: BaseException) -> str:
    """What went wrong: the first cause openpyxl wraps (e.g. defusedxml's refusal of entities)."""
    inner = exc.__cause__ or exc.__context__
    exc = inner if inner is not None else exc
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:199] + "…"
