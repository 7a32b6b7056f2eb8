"""DHIS2 JSON and CSV read as they stream from a file: memory holds one data value at a time.

:func:`stream_json` and :func:`stream_csv` give the same rows, in the same order, with the same
problems as ``read_json`` and ``read_csv`` give for the whole file, but one at a time, so that
``exchange.import_path`` checks and writes a ten-million-value file in batches. A file with
problems raises them together at its end (or at ``MAX_PROBLEMS``), as the whole-file readers do;
no row is given after the first problem (the import of that file will write nothing anyway).

The JSON document is scanned by hand: its top-level members one by one, and each item of its
``dataValues`` array decoded on its own (``json.JSONDecoder.raw_decode``). Its own ``period``,
``orgUnit``, ``attributeOptionCombo`` and ``completeDate`` must come before ``dataValues``
(DHIS2 writes them first); one that comes after is a problem, not silently ignored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any, TextIO

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import formats as whole
from jiaowei.indicators.values.formats.common import add_problem, lone_surrogate, raise_any, unreadable
from jiaowei.text import text_problem
from jiaowei.workbooks import numbered

CHUNK = 1 << 20  # characters read at a time
MAX_VALUE = 64 << 20  # a value that does not end within this many characters is not JSON
_HEAD_AFTER = ("period", "orgUnit", "attributeOptionCombo", "completeDate")


class JsonStream:
    """A DHIS2 ``dataValueSets`` JSON file: :attr:`head` (the members before ``dataValues``) once
    opened, then its rows from :meth:`rows`."""

    def __init__(self, path: Path) -> None:
        self._file: TextIO = path.open(encoding="utf-8-sig")
        self._buffer, self._at, self._eof = "", 0, False
        self.escapes = False  # whether a \u escape was read: only then is text checked for NUL or surrogates
        self._decoder = json.JSONDecoder(parse_constant=whole._no_constant)
        self.head: dict[str, Any] = {}
        self._in_values = self._read_head()

    def close(self) -> None:
        self._file.close()

    # ---------------------------------------------------------------- the scanner

    def _more(self) -> bool:
        """Read the next chunk into the buffer (dropping what was consumed); False at the end."""
        if self._eof:
            return False
        try:
            chunk = self._file.read(CHUNK)
        except UnicodeDecodeError:
            raise unreadable(whole._JSON, "not UTF-8 text", whole._JSON_SHAPE) from None
        kept = len(self._buffer) - self._at
        self._buffer, self._at = self._buffer[self._at :] + chunk, 0
        self._eof = not chunk
        # NUL and lone surrogates can only come as \u escapes (raw control characters are not JSON)
        self.escapes = self.escapes or "\\u" in self._buffer[max(kept - 1, 0) :]
        return bool(chunk)

    def _skip(self) -> str:
        """The next character that is not white space (not consumed); empty at the end."""
        while True:
            buffer, at = self._buffer, self._at
            while at < len(buffer) and buffer[at] in " \t\r\n":
                at += 1
            self._at = at
            if at < len(buffer):
                return buffer[at]
            if not self._more():
                return ""

    def _expect(self, characters: str) -> str:
        found = self._skip()
        if not found or found not in characters:
            self._fail(f"expected {' or '.join(repr(c) for c in characters)}")
        self._at += 1
        return found

    def _value(self) -> Any:
        """The next JSON value, decoded whole (reading more until it is complete)."""
        self._skip()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._at)
            except json.JSONDecodeError as exc:
                if len(self._buffer) - self._at < MAX_VALUE and self._more():
                    continue  # the value goes on in the next chunk
                self._fail(f"{exc.msg}")
            except (ValueError, RecursionError) as exc:
                raise unreadable(whole._JSON, f"not JSON: {exc}", whole._JSON_SHAPE) from None
            if end == len(self._buffer) and not self._eof and self._more():
                continue  # a number may go on in the next chunk
            self._at = end
            return value

    def _fail(self, message: str) -> Any:
        raise unreadable(whole._JSON, f"not JSON: {message}", whole._JSON_SHAPE)

    # ---------------------------------------------------------------- the document

    def _read_head(self) -> bool:
        """Read the members before ``dataValues``; True when it was found (its ``[`` consumed)."""
        if self._skip() != "{":
            found = self._value() if self._skip() else None
            raise ValidationError(N_("The file is not a DHIS2 data value set."), [
                Problem(M_("the document is {found}", found=whole._kind(found)), field="dataValues",
                        expected=whole._JSON_SHAPE)])
        self._at += 1
        return self._members(self.head, first=True)

    def _members(self, into: dict[str, Any], *, first: bool) -> bool:
        """Members up to ``dataValues`` (True) or the end of the object (False)."""
        if first and self._skip() == "}":
            self._at += 1
            return False
        while True:
            name = self._value()
            if not isinstance(name, str):
                self._fail("expected a member name")
            self._expect(":")
            if name == "dataValues" and self._skip() == "[":
                self._at += 1
                return True
            into[name] = self._value()
            if self._expect(",}") == "}":
                return False

    def _items(self) -> Iterator[Any]:
        if self._skip() == "]":
            self._at += 1
            return
        decode, blank = self._decoder.raw_decode, " \t\r\n"
        while True:
            buffer, at = self._buffer, self._at
            while at < len(buffer) and buffer[at] in blank:
                at += 1
            if buffer[at : at + 1] == "{":  # the common case: an object and the comma after it, at once
                try:
                    value, end = decode(buffer, at)
                except json.JSONDecodeError:
                    value, end = None, len(buffer)
                while end < len(buffer) and buffer[end] in blank:
                    end += 1
                if buffer[end : end + 1] == ",":
                    self._at = end + 1
                    yield value
                    continue
            self._at = at
            yield self._value()
            if self._expect(",]") == "]":
                return

    def rows(self) -> Iterator[ValueRow]:
        """The rows of ``dataValues``, checked as ``read_json`` checks them; problems raised at the end."""
        if not self._in_values:
            whole._json_document(self.head)  # raises: no dataValues list
        _items, defaults = whole._json_document({**self.head, "dataValues": []})
        period, unit, attribute = defaults
        problems: list[Problem] = []
        for index, item in enumerate(self._items(), 1):
            row = (whole._plain_json_row(item, index, period, unit, attribute)
                   or whole._checked_json_row(item, index, defaults, problems))
            if row is not None and self.escapes:
                _refuse_bad_text(row, item, problems)
            if row is not None and not problems:
                yield row
        self._tail(problems)
        raise_any(problems, whole._JSON)

    def _tail(self, problems: list[Problem]) -> None:
        """The members after ``dataValues``: the ones that had to come before it are problems."""
        after: dict[str, Any] = {}
        if self._expect(",}") == ",":
            self._members(after, first=False)
        if self._skip():
            self._fail("text after the document")
        for name in _HEAD_AFTER:
            if after.get(name) not in (None, ""):
                add_problem(problems, Problem(
                    M_("{name} must come before dataValues in a file read as it streams", name=name),
                    field=name, value=str(after[name]), expected=whole._JSON_SHAPE), whole._JSON)


def _refuse_bad_text(row: ValueRow, item: Any, problems: list[Problem]) -> None:
    """A lone surrogate or a NUL character in any text of the data value (see ``formats.read``)."""
    for name in whole._TEXT_FIELDS:
        text = getattr(row, name)
        if isinstance(text, str) and ("\x00" in text or not text.isascii()):
            found = (lone_surrogate(text, field=_json_name(name, item), row=row.row)
                     or ("\x00" in text and text_problem(text, field=name, multiline=True, row=row.row))
                     or None)
            if found is not None:
                add_problem(problems, found, whole._JSON)


def _json_name(name: str, item: Any) -> str:
    """The JSON member a ValueRow field came from, as ``read_json`` names a lone surrogate's field."""
    parts = name.split("_")
    member = parts[0] + "".join(p.title() for p in parts[1:])
    return member if isinstance(item, dict) and member in item else name


def stream_csv(path: Path) -> Iterator[ValueRow]:
    """The rows of a DHIS2 CSV file as ``read_csv`` reads them, one at a time."""
    with path.open(encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text, strict=True)
        try:
            yield from _csv_rows(reader)
        except csv.Error as exc:
            raise unreadable(whole._CSV, f"malformed CSV at line {reader.line_num}: {exc}",
                             whole._CSV_CELLS) from None
        except UnicodeDecodeError:
            raise unreadable(whole._CSV, f"not UTF-8 text (line {reader.line_num + 1})",
                             N_("a file saved as UTF-8")) from None


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[ValueRow]:
    lines = numbered(reader)
    first = next(lines, None)
    if first is None:
        return
    columns = whole._csv_header(first[1])
    records = lines if columns is not None else chain([first], lines)
    columns = columns or whole._POSITIONAL
    problems: list[Problem] = []
    for number, record in records:
        if any(record):
            row = whole._csv_row(record, number, columns, problems)
            if row is not None and "\x00" in "".join(record):
                _refuse_bad_text(row, None, problems)
            if row is not None and not problems:
                yield row
    raise_any(problems, whole._CSV)
