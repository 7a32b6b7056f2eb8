"""Files imported as they stream (``exchange.import_path``): an upload spooled to disk, read through
before the transaction, and a streamed file's identifiers read in its id schemes a batch at a time.

:class:`Spooled` is an upload written to a temporary file (``values/uploads.py``) and read through
once by :func:`read_through` before any transaction (decision 0011), so that an unreadable file is
refused as the whole file would be. :class:`Resolving` turns a streamed file's identifiers into codes
as ``schemes.resolve_rows`` does for a whole file (a unit by code, else by DHIS2 uid; or each kind in
the id scheme asked), and shows them again as the file wrote them in the conflicts, as
``exchange.as_written`` does; it remembers the spellings of identifiers, not of rows, so memory
stays flat.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from jiaowei.errors import ValidationError
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.model import ImportConflict, ValueRow
from jiaowei.indicators.values import formats
from jiaowei.indicators.values.formats.adx import AdxCatalog
from jiaowei.indicators.values.formats.adxstream import AdxStream
from jiaowei.indicators.values.formats.dxf2 import Dxf2Stream
from jiaowei.indicators.values.formats.streaming import JsonStream, stream_csv
from jiaowei.indicators.values.schemes import IdSchemes, resolve_rows

STREAMED = ("dhis2-json", "dhis2-csv", "dxf2", "adx")
"""The formats read as they stream."""
HEAD = 64 << 10
"""How much of a file tells its format."""

ROW_FIELDS = {
    "dataElement": "data_element", "orgUnit": "org_unit",
    "categoryOptionCombo": "category_option_combo", "attributeOptionCombo": "attribute_option_combo",
}
"""A conflict's field, and the row's attribute it names."""


@dataclass(frozen=True)
class Spooled:
    """An uploaded file written to a temporary file and read through once (:func:`read_through`),
    before the request's transaction: ``exchange.import_file`` imports it as it streams. The upload's
    owner deletes ``path``."""

    path: Path
    format: str

    def __len__(self) -> int:
        return 0  # its rows are counted only as they are imported


def head_of(path: Path) -> bytes:
    """The first bytes of a file: enough to tell its format."""
    with path.open("rb") as file:
        return file.read(HEAD)


def streamed_format(filename: str, format: str | None, head: bytes) -> str | None:
    """The file's format if it is one read as it streams (DHIS2 JSON, CSV, DXF2 or ADX), else None."""
    if not head or filename.lower().endswith(".xlsx"):
        return None
    try:
        chosen = format or formats.detect_format(filename, None, head)
    except ValidationError:
        return None  # import_file says why
    return chosen if chosen in STREAMED else None


def read_through(path: Path, format: str) -> None:
    """Read every row of a file to stream, raising its problems (an ADX file read without the catalog,
    as ``parse_adx`` reads an upload)."""
    stream: JsonStream | Dxf2Stream | AdxStream | None = None
    try:
        if format == "dhis2-csv":
            rows = stream_csv(path)
        elif format == "dhis2-json":
            stream = JsonStream(path)
            rows = stream.rows()
        elif format == "dxf2":
            stream = Dxf2Stream(path)
            rows = stream.rows()
        else:
            stream = AdxStream(path, AdxCatalog())
            rows = stream.rows()
        for _ in rows:
            pass
        if isinstance(stream, JsonStream):
            formats.json_completions(stream.head)  # as import_file reads them, after the rows
    finally:
        if stream is not None:
            stream.close()


class Resolving:
    """A streamed file's identifiers as codes, a batch at a time; the rows whose identifiers name
    nothing in their scheme join ``refused`` (the list the import reports with its own conflicts).

    For the conflicts, the rows where a spelling differs from its code are kept as bits, each
    identifier's first spelling by its code, and a row's spelling only when it differs from that."""

    def __init__(self, conn: Connection, schemes: IdSchemes, refused: list[ImportConflict]) -> None:
        self._conn, self._schemes, self._refused = conn, schemes, refused
        self._catalog = load_catalog(conn)
        fields = ROW_FIELDS if not schemes.default else {"orgUnit": "org_unit"}  # the default: units only
        self._fields = tuple(fields.items())
        self._first: dict[str, dict[str | None, str | None]] = {field: {} for field in fields}
        self._other: dict[tuple[str, int], str | None] = {}
        self._marks = bytearray()

    def as_codes(self, rows: Iterator[ValueRow], size: int) -> Iterator[ValueRow]:
        while batch := list(itertools.islice(rows, size)):
            found, refused = resolve_rows(self._conn, self._catalog, batch, self._schemes)
            self._refused.extend(refused)
            if len(found) != len(batch) or any(a is not b for a, b in zip(found, batch, strict=True)):
                self._note(batch, found)
            yield from found

    def _note(self, batch: Sequence[ValueRow], found: Sequence[ValueRow]) -> None:
        by_row = {row.row: row for row in batch}
        for after in found:
            before = by_row[after.row]
            spelled = [(field, getattr(before, name), getattr(after, name)) for field, name in self._fields]
            if all(written == code for _, written, code in spelled):
                continue
            self._mark(after.row)
            for field, written, code in spelled:
                first = self._first[field].setdefault(code, written)
                if first != written:
                    self._other[(field, after.row)] = written

    def _mark(self, row: int) -> None:
        byte = row >> 3
        if byte >= len(self._marks):
            self._marks.extend(bytes(byte + 1 - len(self._marks)))
        self._marks[byte] |= 1 << (row & 7)

    def _marked(self, row: int) -> bool:
        byte = row >> 3
        return byte < len(self._marks) and bool(self._marks[byte] & (1 << (row & 7)))

    def as_written(self, conflicts: list[ImportConflict],
                   *kept: Sequence[ImportConflict]) -> list[ImportConflict]:
        """The conflicts with each identifier as the file wrote it; those in ``kept`` (the file's own
        refusals, the registrations') show what the file wrote already."""
        if not self._marks:
            return conflicts
        own = {id(c) for c in itertools.chain(*kept)}
        out = []
        for c in conflicts:
            if c.field in self._first and id(c) not in own and self._marked(c.row):
                written = self._other.get((c.field, c.row), self._first[c.field].get(c.value, c.value))
                c = dataclasses.replace(c, value=written)
            out.append(c)
        return out
