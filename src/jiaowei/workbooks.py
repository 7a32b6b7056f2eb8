"""Tables people upload and download: reading XLSX workbooks safely, numbering rows, writing workbooks.

Reading: :func:`open_workbook`, in one place that turns every failure into bad input (below).
Rows: every importer numbers rows as a spreadsheet shows them, the first line of the table (the
header, when there is one) being row 1 (:func:`numbered`). Columns: a :class:`Column` has a code
and a label; a downloaded table's header shows the labels in the reader's language, and an upload's
header may give the code or the label in any language (:func:`column_codes`). Writing:
:func:`write_tables` is the one writer of downloaded tables (bold header row, frozen, columns as
wide as their cells); sheets laid out by hand use :func:`style_header` and :func:`fit_widths`.


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
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException

from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.i18n import LANGUAGES, translate
from jiaowei.settings import get_settings
from jiaowei.text import xlsx_row

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
    return ValidationError(M_("{what} is not a readable XLSX workbook.", what=what), [
        Problem(M_("not a readable XLSX workbook: {message}",
                   message=message), field="file", value=part or filename or None,
                expected=expected)])


def _reason(exc: BaseException) -> str:
    """What went wrong: the first cause openpyxl wraps (e.g. defusedxml's refusal of entities)."""
    inner = exc.__cause__ or exc.__context__
    exc = inner if inner is not None else exc
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:199] + "…"


# ---------------------------------------------------------------- row numbers

FIRST_ROW = 1
"""The number of a table's first line, the header when it has one: the first data row below it is 2."""

Line = TypeVar("Line")


def numbered(lines: Iterable[Line]) -> Iterator[tuple[int, Line]]:
    """Each line of a table with its row number as a spreadsheet shows it (the first line is row 1).

    A CSV record that holds a line break in a quoted cell is one row, as in a spreadsheet.
    """
    return enumerate(lines, FIRST_ROW)


# ---------------------------------------------------------------- columns and their labels


@dataclass(frozen=True)
class Column:
    """A column of a downloaded or uploaded table: its code, its label (an English msgid, translated
    where it is shown) and its width in characters (None: as wide as its widest cell)."""

    code: str
    label: str
    width: int | None = None


def header_labels(columns: Sequence[Column], language: str) -> list[str]:
    """The header of a downloaded table: each column's label in ``language``."""
    return [translate(language, c.label) for c in columns]


def column_codes(header: Sequence[str], columns: Sequence[Column]) -> list[str]:
    """The column code of each header cell: the code itself, or its label in English or Chinese
    (English in any case). A cell that names no column stays as given, for the caller to report."""
    known = {key: c.code for c in columns for key in _spellings(c.code, c.label)}
    return [known.get(_key(cell), cell.strip()) for cell in header]


def choice_codes(labels: Mapping[Any, str]) -> dict[str, str]:
    """Every way to write each code of ``labels`` (code → English msgid): the code, and its label in
    English (any case) or Chinese. Keys are folded as :func:`choice_code` looks them up."""
    return {key: str(code) for code, label in labels.items() for key in _spellings(str(code), label)}


def choice_code(text: str, choices: Mapping[str, str]) -> str:
    """The code that ``text`` names in ``choices`` (from :func:`choice_codes`), or ``text`` unchanged."""
    return choices.get(_key(text), text)


def _spellings(code: str, label: str) -> set[str]:
    return {_key(code), _key(label), *(_key(translate(language, label)) for language in LANGUAGES)}


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class Table:
    """One sheet of a downloaded workbook: its title, its columns and its rows (values in column order)."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]


HEADER_FILL = "E4E7EB"
MAX_WIDTH = 60
"""The widest a column is made, in characters."""
MIN_WIDTH = 8


def write_tables(tables: Sequence[Table], *, language: str) -> bytes:
    """An XLSX workbook of one sheet per table: the header row in ``language``, bold on grey and frozen,
    each column as wide as its widest cell (CJK characters count two) or as its column says, numbers
    as numbers and text as text (never a formula, :func:`jiaowei.text.xlsx_row`)."""
    from openpyxl import Workbook  # imported here: slow to import, and only XLSX files need it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    for table in tables:
        sheet = book.create_sheet(table.title[:31])
        header = header_labels(table.columns, language)
        fit_widths(sheet, [header, *table.rows])
        for index, column in enumerate(table.columns, 1):
            if column.width:
                sheet.column_dimensions[get_column_letter(index)].width = column.width
        sheet.freeze_panes = "A2"
        cells = []
        for label in header:
            cell = WriteOnlyCell(sheet, value=label)
            cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor=HEADER_FILL)
            cells.append(cell)
        sheet.append(cells)
        for row in table.rows:
            sheet.append(xlsx_row(sheet, row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def style_header(cells: Iterable[Any]) -> None:
    """Make cells of a hand-laid sheet look like :func:`write_tables`' header: bold on grey."""
    from openpyxl.styles import Font, PatternFill

    for cell in cells:
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor=HEADER_FILL)


def fit_widths(sheet: Any, lines: Sequence[Sequence[Any]], *, first_column: int = 1) -> None:
    """Make each column of ``lines`` (starting at ``first_column``) as wide as its widest cell."""
    from openpyxl.utils import get_column_letter

    for c in range(max((len(line) for line in lines), default=0)):
        widest = max((cell_width(line[c]) for line in lines if c < len(line)), default=MIN_WIDTH)
        sheet.column_dimensions[get_column_letter(first_column + c)].width = _clamped(widest)


def cell_width(value: Any) -> int:
    """How many character widths a value takes: CJK characters count two; numbers with separators."""
    text = "" if value is None else f"{value:,}" if isinstance(value, int | float) else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clamped(width: int) -> int:
    return min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
