"""Data values in and out of every exchange format: DHIS2 JSON, CSV, XML (DXF2), ADX, the XLSX template.

Here are the dispatch (:func:`read`, :func:`write`, :func:`detect_format`) and DHIS2 JSON and
CSV; ADX is in :mod:`~jiaowei.indicators.values.formats.adx`, DXF2 XML in
:mod:`~jiaowei.indicators.values.formats.dxf2`, the XLSX template in
:mod:`~jiaowei.indicators.values.formats.xlsx`, and what they all share in
:mod:`~jiaowei.indicators.values.formats.common`. Their public names are importable from here too.
DHIS2 JSON and CSV read as they stream from a large file are in
:mod:`~jiaowei.indicators.values.formats.streaming` (same rows, same problems).

Pure: bytes in, :class:`~jiaowei.indicators.model.ValueRow` out, and back; no database.
Identifiers stay as the file writes them (the service resolves them) and ``row`` is the place
of each value in its file: JSON array index + 1, CSV data record after the header, ADX
``dataValue`` in document order, XLSX sheet row. A file with problems raises one
:class:`~jiaowei.errors.ValidationError` listing them (the first :data:`MAX_PROBLEMS`), each
with its row, field, value and what would be accepted.

What each format carries of a ValueRow (a field it does not carry reads back as its default):

| field                  | json, csv | dxf2 | adx                         | xlsx                   |
|------------------------|-----------|------|-----------------------------|------------------------|
| element, period, unit  | yes       | yes  | yes                         | yes (one period, unit) |
| category option combo  | yes       | yes  | category attributes [1]     | yes                    |
| attribute option combo | yes       | yes  | group attributes [2]        | no                     |
| value, comment         | yes       | yes  | value or annotation [3]     | yes                    |
| stored by, followup    | yes       | yes  | read, not written           | no                     |
| deleted                | yes       | yes  | read; rows left out written | no (rows left out)     |

[1] No combo, or ``default``, is written without attributes and read back as ``default``.
[2] ``default`` is not written (DHIS2 would read it as a category) and reads back as None.
[3] A value that is not a number is in ``<annotation>`` (with ``value="0"``), as DHIS2 writes it;
the comment is the ``comment`` attribute: see :mod:`~jiaowei.indicators.values.formats.adx`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from itertools import chain, islice
from typing import Any, BinaryIO, NoReturn

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values.formats.adx import ADX_NAMESPACE as ADX_NAMESPACE
from jiaowei.indicators.values.formats.adx import ComboAttributes as ComboAttributes
from jiaowei.indicators.values.formats.adx import ComboCode as ComboCode
from jiaowei.indicators.values.formats.adx import read_adx, write_adx
from jiaowei.indicators.values.formats.common import MAX_PROBLEMS as MAX_PROBLEMS
from jiaowei.indicators.values.formats.common import (
    Completion,
    add_problem,
    decode,
    gc_paused,
    json_value,
    lone_surrogate,
    raise_any,
    unreadable,
)
from jiaowei.indicators.values.formats.dxf2 import read_dxf2, write_dxf2, xml_format
from jiaowei.indicators.values.formats.xlsx import DEFINED_NAMES as DEFINED_NAMES
from jiaowei.indicators.values.formats.xlsx import SHEET as SHEET
from jiaowei.indicators.values.formats.xlsx import TEMPLATE_COLUMNS as TEMPLATE_COLUMNS
from jiaowei.indicators.values.formats.xlsx import TemplateForm as TemplateForm
from jiaowei.indicators.values.formats.xlsx import TemplateRow as TemplateRow
from jiaowei.indicators.values.formats.xlsx import read_template, write_xlsx
from jiaowei.indicators.values.formats.xlsx import write_template as write_template
from jiaowei.text import csv_cell, csv_uncell, text_problem
from jiaowei.workbooks import FIRST_ROW, numbered

FORMATS = ("dhis2-json", "dhis2-csv", "adx", "xlsx", "dxf2")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {"dhis2-json": "application/json", "dhis2-csv": "text/csv", "adx": "application/adx+xml",
               "xlsx": XLSX_TYPE, "dxf2": "application/xml"}
EXTENSIONS = {".json": "dhis2-json", ".csv": "dhis2-csv", ".adx": "adx", ".xlsx": "xlsx"}
_CONTENT_TYPES = {**{media: name for name, media in MEDIA_TYPES.items() if name != "dxf2"},
                  "text/json": "dhis2-json", "application/csv": "dhis2-csv"}
_XML = frozenset({".xml", "application/xml", "text/xml"})  # ADX or DXF2: told by the root element


def read(format: str, data: bytes, **extra: Any) -> list[ValueRow]:
    """The data values of a file in ``format``; ``extra`` goes to that format's reader."""
    readers: dict[str, Callable[..., list[ValueRow]]] = {
        "dhis2-json": read_json, "dhis2-csv": read_csv, "adx": read_adx, "xlsx": read_template,
        "dxf2": read_dxf2}
    rows = readers[_known(format)](data, **extra)
    if b"\x00" in data or b"\\u0000" in data:  # XML cannot hold NUL; CSV and JSON can
        _refuse_nul(rows, format)
    return rows


_TEXT_FIELDS = ("data_element", "period", "org_unit", "category_option_combo", "attribute_option_combo",
                "value", "stored_by", "comment")


def _refuse_nul(rows: list[ValueRow], format: str) -> None:
    """Refuse a NUL character in any text of a value: PostgreSQL cannot store or even look it up."""
    problems: list[Problem] = []
    for row in rows:
        for name in _TEXT_FIELDS:
            text = getattr(row, name)
            has_nul = isinstance(text, str) and "\x00" in text
            found = text_problem(text, field=name, multiline=True, row=row.row) if has_nul else None
            if found is not None:
                add_problem(problems, found, format)
    raise_any(problems, format)


def write(format: str, rows: Iterable[ValueRow], out: BinaryIO, **extra: Any) -> None:
    """Write ``rows`` to ``out`` in ``format``; ``extra`` goes to that format's writer."""
    writers: dict[str, Callable[..., None]] = {
        "dhis2-json": write_json, "dhis2-csv": write_csv, "adx": write_adx, "xlsx": write_xlsx,
        "dxf2": write_dxf2}
    writers[_known(format)](rows, out, **extra)


def detect_format(filename: str, content_type: str | None, data: bytes) -> str:
    """The format of an upload: by its file extension, else its content type, else its first bytes."""
    extension = os.path.splitext(filename.lower())[1]
    media = (content_type or "").split(";")[0].strip().lower()
    xml = xml_format(data) if extension in _XML or media in _XML else None
    found = EXTENSIONS.get(extension) or xml or _CONTENT_TYPES.get(media) or _sniff(data)
    if found is None:
        raise ValidationError(M_("Cannot tell the format of {filename}.", filename=filename or 'the file'), [
            Problem(N_("unknown file format"), field="format", value=filename or media or None,
                    expected=_FORMATS_EXPECTED)])
    return found


_FORMATS_EXPECTED = ("one of dhis2-json (.json), dhis2-csv (.csv), adx (.adx or .xml), dxf2 (.xml), "
                     "xlsx (.xlsx, a template from jiaowei)")


def _sniff(data: bytes) -> str | None:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.lower().startswith(b"dataelement"):
        return "dhis2-csv"
    return "dhis2-json" if head[:1] == b"{" else xml_format(data) if head[:1] == b"<" else None


def _known(format: str) -> str:
    if format not in FORMATS:
        raise ValidationError(M_("Unknown data value format {format!r}.", format=format), [
            Problem(N_("unknown format"), field="format", value=format, expected=_FORMATS_EXPECTED)])
    return format


# ---------------------------------------------------------------- plumbing of JSON and CSV


def _flag(raw: Any) -> bool | None:
    """A true/false field: a JSON boolean or the text true/false (any case); empty is None."""
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", ""):
        return {"true": True, "false": False}.get(raw.strip().lower())
    raise ValueError("not true or false")


_FIELDS = ("data_element", "period", "org_unit", "category_option_combo", "attribute_option_combo", "value",
           "stored_by", "comment", "followup", "deleted", "row", "created", "last_updated")
if tuple(f.name for f in fields(ValueRow)) != _FIELDS:
    raise ImportError("ValueRow's fields changed: update formats._quick_row")
_NEW = object.__new__
(_DATA_ELEMENT, _PERIOD, _ORG_UNIT, _COMBO, _ATTRIBUTE, _VALUE, _STORED_BY, _COMMENT, _FOLLOWUP, _DELETED,
 _ROW, _CREATED, _LAST_UPDATED) = (ValueRow.__dict__[name].__set__ for name in _FIELDS)


def _quick_row(data_element: str, period: str, org_unit: str, combo: str | None, attribute: str | None,
               value: str | None, stored_by: str | None, comment: str | None, followup: bool | None,
               deleted: bool, row: int) -> ValueRow:
    """``ValueRow(...)`` in a third of the time, for the million-row JSON loop.

    A frozen dataclass's ``__init__`` makes 11 ``object.__setattr__`` calls (3 µs a row, 3 s a
    million); this sets each slot through its descriptor. Every field is set, so the row is
    the same as one ValueRow() makes.
    """
    new = _NEW(ValueRow)
    _DATA_ELEMENT(new, data_element)
    _PERIOD(new, period)
    _ORG_UNIT(new, org_unit)
    _COMBO(new, combo)
    _ATTRIBUTE(new, attribute)
    _VALUE(new, value)
    _STORED_BY(new, stored_by)
    _COMMENT(new, comment)
    _FOLLOWUP(new, followup)
    _DELETED(new, deleted)
    _ROW(new, row)
    _CREATED(new, None)
    _LAST_UPDATED(new, None)
    return new


# ---------------------------------------------------------------- DHIS2 JSON

_JSON = "DHIS2 JSON"
_JSON_SHAPE = '{"dataValues": [{"dataElement": "...", "period": "...", "orgUnit": "...", "value": "..."}]}'
_VALUE_EXPECTED = "text, a number or true/false"


def read_json(data: bytes) -> list[ValueRow]:
    """The data values of a DHIS2 ``dataValueSets`` JSON document.

    The document's own ``period``, ``orgUnit`` and ``attributeOptionCombo`` stand for values
    that omit (or leave empty) theirs. Numbers become their text (``12.0`` reads ``"12"``),
    booleans ``"true"``/``"false"``; ``followup`` and ``deleted`` may be booleans or text.
    """
    with gc_paused():
        document = _load_json(data)
        if _SURROGATE_ESCAPE.search(data):
            _refuse_lone_surrogates(document)
        items, defaults = _json_document(document)
        return _json_rows(items, defaults)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def read_json_completions(data: bytes) -> list[Completion]:
    """The form a DHIS2 JSON ``dataValueSet`` says is complete: a ``completeDate`` (an ISO date or
    date and time) beside ``dataSet``, ``period`` and ``orgUnit`` at the top of the document."""
    if b'"completeDate"' not in data:
        return []
    return json_completions(_load_json(data))


def json_completions(document: Any) -> list[Completion]:
    """:func:`read_json_completions` of a document read already (or its members before ``dataValues``)."""
    if not isinstance(document, dict) or document.get("completeDate") in (None, ""):
        return []
    date = document["completeDate"]
    problems = [Problem(M_("{name} is missing", name=name), field=name,
                        expected=N_("completeDate needs dataSet, period and orgUnit at the top"))
                for name in ("dataSet", "period", "orgUnit") if not isinstance(document.get(name), str)
                or not document[name]]
    if not isinstance(date, str) or not _COMPLETE_DATE.fullmatch(date):
        problems.append(Problem(N_("not a date"), field="completeDate", value=_shown(date),
                                expected=N_("a date such as 2020-01-31, or a date and time")))
    raise_any(problems, _JSON)
    return [Completion(data_set=document["dataSet"], period=document["period"], org_unit=document["orgUnit"],
                       attribute_option_combo=document.get("attributeOptionCombo") or None, date=date[:10])]


_COMPLETE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?")


def _refuse_lone_surrogates(document: Any) -> None:
    """Refuse text with a lone surrogate (``"\\ud800"``) in the document's defaults or a data value."""
    if not isinstance(document, dict):
        return
    found = [lone_surrogate(document.get(name), field=name, row=None) for name in _JSON_DEFAULTS]
    items = document.get("dataValues")
    for index, item in enumerate(items if isinstance(items, list) else [], 1):
        if isinstance(item, dict):
            found += [lone_surrogate(raw, field=str(name), row=index) for name, raw in item.items()]
    raise_any([problem for problem in found if problem is not None], _JSON)


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        message = f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise unreadable(_JSON, message, _JSON_SHAPE) from None
    except (ValueError, RecursionError) as exc:  # undecodable bytes, NaN, huge integers, deep nesting
        raise unreadable(_JSON, f"not JSON: {exc}", _JSON_SHAPE) from None


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _json_document(document: Any) -> tuple[list[Any], tuple[str | None, str | None, str | None]]:
    if not isinstance(document, dict) or not isinstance(document.get("dataValues"), list):
        found = "an object without a dataValues list" if isinstance(document, dict) else _kind(document)
        raise ValidationError(N_("The file is not a DHIS2 data value set."), [
            Problem(M_("the document is {found}", found=found), field="dataValues", expected=_JSON_SHAPE)])
    problems: list[Problem] = []
    defaults = tuple(_json_text(document, name, None, 0, problems) for name in _JSON_DEFAULTS)
    raise_any(problems, _JSON)
    return document["dataValues"], (defaults[0], defaults[1], defaults[2])


_JSON_DEFAULTS = ("period", "orgUnit", "attributeOptionCombo")


def _json_rows(items: list[Any], defaults: tuple[str | None, str | None, str | None]) -> list[ValueRow]:
    period, unit, attribute = defaults
    rows: list[ValueRow] = []
    problems: list[Problem] = []
    append = rows.append
    for position, item in enumerate(items):
        items[position] = None  # each object freed once read: the peak is the rows, not rows + objects
        row = (_plain_json_row(item, position + 1, period, unit, attribute)
               or _checked_json_row(item, position + 1, defaults, problems))
        append(row)  # type: ignore[arg-type]  # None only with problems, raised below
    raise_any(problems, _JSON)
    return rows


def _plain_json_row(item: Any, index: int, period: str | None, unit: str | None,
                    attribute: str | None) -> ValueRow | None:
    """The fast path: a data value whose fields are all plain, else None (then checked one by one)."""
    if type(item) is not dict:
        return None
    get = item.get
    element, own_period, own_unit, combo, own_attribute, value, stored_by, comment, followup, deleted = (
        get("dataElement"), get("period"), get("orgUnit"), get("categoryOptionCombo"),
        get("attributeOptionCombo"), get("value"), get("storedBy"), get("comment"), get("followup"),
        get("deleted"))
    text, flag = _TEXT_OR_NONE, _BOOL_OR_NONE
    if not (type(element) is str and element and type(own_period) in text and type(own_unit) in text
            and type(combo) in text and type(own_attribute) in text and type(value) in text
            and type(stored_by) in text and type(comment) in text and type(followup) in flag
            and type(deleted) in flag):
        return None
    period, unit = own_period or period, own_unit or unit
    if not (period and unit):
        return None
    return _quick_row(element, period, unit, combo or None, own_attribute or attribute, value,
                      stored_by or None, comment or None, followup, deleted is True, index)


_TEXT_OR_NONE = frozenset({str, type(None)})
_BOOL_OR_NONE = frozenset({bool, type(None)})


def _checked_json_row(item: Any, index: int, defaults: tuple[str | None, str | None, str | None],
                      problems: list[Problem]) -> ValueRow | None:
    """The slow path: every field checked, every problem of the value collected."""
    if not isinstance(item, dict):
        add_problem(problems, Problem(N_("a data value is not an object"), row=index, field="dataValues",
                                      value=_shown(item), expected=_JSON_SHAPE), _JSON)
        return None
    found: list[Problem] = []
    period, unit, attribute = defaults
    element = _json_required(item, "dataElement", None, index, found)
    period = _json_required(item, "period", period, index, found)
    unit = _json_required(item, "orgUnit", unit, index, found)
    combo, attribute = (_json_text(item, "categoryOptionCombo", None, index, found),
                        _json_text(item, "attributeOptionCombo", attribute, index, found))
    stored_by, comment = (_json_text(item, "storedBy", None, index, found),
                          _json_text(item, "comment", None, index, found))
    value = _json_field(item, "value", json_value, _VALUE_EXPECTED, index, found)
    followup = _json_field(item, "followup", _flag, "true or false", index, found)
    deleted = _json_field(item, "deleted", _flag, "true or false", index, found)
    for problem in found:
        add_problem(problems, problem, _JSON)
    return None if found else ValueRow(element, period, unit, combo, attribute, value, stored_by, comment,
                                       followup, bool(deleted), index)


def _json_text(item: dict[str, Any], name: str, default: str | None, index: int,
               found: list[Problem]) -> str | None:
    raw = item.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, str):
        return raw
    found.append(Problem("not text", row=index or None, field=name, value=_shown(raw),
                         expected=M_("text in quotes, e.g. \"{name}\": \"CODE\"", name=name)))
    return default


def _json_required(item: dict[str, Any], name: str, default: str | None, index: int,
                   found: list[Problem]) -> str:
    text = _json_text(item, name, default, index, found)
    if text is None and not any(p.field == name for p in found):
        where = M_(" (or once at the top of the document)") if name in _JSON_DEFAULTS else ""
        found.append(Problem(M_("{name} is missing", name=name), row=index, field=name,
                             expected=M_("the {name} code on each data value{where}",
                                         name=name, where=where)))
    return text or ""


def _json_field(item: dict[str, Any], name: str, convert: Callable[[Any], Any], expected: str, index: int,
                found: list[Problem]) -> Any:
    try:
        return convert(item.get(name))
    except ValueError as exc:
        shown = _shown(item.get(name))
        found.append(Problem(str(exc), row=index, field=name, value=shown, expected=expected))
        return None


def _kind(raw: Any) -> str:
    return {list: "a list", str: "text", int: "a number", float: "a number", bool: "true/false"}.get(
        type(raw), "empty")


def _shown(raw: Any) -> Any:
    """A value as a problem shows it: containers abbreviated to their JSON's first 100 characters."""
    if isinstance(raw, float) and not math.isfinite(raw):
        return str(raw)  # JSON cannot carry inf
    if isinstance(raw, dict | list):
        text = json.dumps(raw, ensure_ascii=False)
        return text if len(text) <= 100 else text[:99] + "…"
    return raw


def write_json(rows: Iterable[ValueRow], out: BinaryIO, *, data_set: str | None = None) -> None:
    """Write DHIS2's ``{"dataSet": ..., "dataValues": [...]}``, leaving out empty fields.

    ``deleted`` is written only when true. Written in batches, so a million rows never sit in
    memory as dictionaries.
    """
    head = json.dumps({"dataSet": data_set}, ensure_ascii=False)[1:-1] + "," if data_set else ""
    out.write(("{" + head + '"dataValues":[').encode())
    separator = b""
    for batch in _batches(rows, 10_000):
        text = json.dumps([_json_item(row) for row in batch], ensure_ascii=False, separators=(",", ":"))
        out.write(separator + text[1:-1].encode())
        separator = b","
    out.write(b"]}")


_JSON_KEYS = ("dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo", "value",
              "storedBy", "created", "lastUpdated", "comment", "followup", "deleted")


def _json_item(row: ValueRow) -> dict[str, Any]:
    """One data value as DHIS2 writes it (plain ifs: twice as fast as a filtered comprehension)."""
    item: dict[str, Any] = {"dataElement": row.data_element, "period": row.period, "orgUnit": row.org_unit}
    if row.category_option_combo is not None:
        item["categoryOptionCombo"] = row.category_option_combo
    if row.attribute_option_combo is not None:
        item["attributeOptionCombo"] = row.attribute_option_combo
    if row.value is not None:
        item["value"] = row.value
    if row.stored_by is not None:
        item["storedBy"] = row.stored_by
    if row.created is not None:
        item["created"] = row.created
    if row.last_updated is not None:
        item["lastUpdated"] = row.last_updated
    if row.comment is not None:
        item["comment"] = row.comment
    if row.followup is not None:
        item["followup"] = row.followup
    if row.deleted:
        item["deleted"] = True
    return item


def _batches(rows: Iterable[ValueRow], size: int) -> Iterator[list[ValueRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


# ---------------------------------------------------------------- DHIS2 CSV

_CSV = "DHIS2 CSV"
CSV_HEADER = ("dataelement", "period", "orgunit", "catoptcombo", "attroptcombo", "value", "storedby",
              "lastupdated", "comment", "followup", "deleted")
_CSV_NAMES = {**{name: name for name in CSV_HEADER}, "categoryoptioncombo": "catoptcombo",
              "attributeoptioncombo": "attroptcombo", "lastupdated": None, "created": None}
_CSV_REQUIRED = ("dataelement", "period", "orgunit")
_CSV_CELLS = 'comma-separated cells, in double quotes where they hold commas, quotes or line breaks'
_CSV_EXPECTED = ("DHIS2's columns dataelement, period, orgunit, catoptcombo, attroptcombo, value, storedby, "
                 "lastupdated, comment, followup, deleted (or the JSON names, e.g. dataElement, in any case)")


def read_csv(data: bytes) -> list[ValueRow]:
    """The data values of a DHIS2 CSV file, UTF-8 with or without BOM.

    Columns are read by position in DHIS2's order (:data:`CSV_HEADER`), as DHIS2 does; the
    header is optional and recognised by content (:func:`_is_header`), whatever its words
    (DHIS2's own files say ``dataelelement``, ``strby``, ``timestamp``...). Only a header whose
    known names (DHIS2's or the JSON ones, in any case) put a column elsewhere than DHIS2 does
    is read by name; ``lastupdated``/``created`` are ignored. Empty cells are None. ``row`` is
    the row as a spreadsheet shows it: the header is row 1 and the first value row 2 (without a
    header, the first value row is 1), as every importer numbers rows
    (:func:`jiaowei.workbooks.numbered`).
    """
    reader = csv.reader(io.StringIO(decode(data, _CSV), newline=""), strict=True)
    try:
        with gc_paused():
            return _csv_rows(reader)
    except csv.Error as exc:
        raise unreadable(_CSV, f"malformed CSV at line {reader.line_num}: {exc}", _CSV_CELLS) from None


def _csv_rows(reader: Iterator[list[str]]) -> list[ValueRow]:
    lines = numbered(reader)
    first = next(lines, None)
    if first is None:
        return []
    columns = _csv_header(first[1])
    records = lines if columns is not None else chain([first], lines)
    columns = columns or _POSITIONAL
    rows: list[ValueRow] = []
    problems: list[Problem] = []
    for number, record in records:
        if any(record):
            row = _csv_row(record, number, columns, problems)
            if row is not None:
                rows.append(row)
    raise_any(problems, _CSV)
    return rows


_POSITIONAL = tuple(_CSV_NAMES[name] for name in CSV_HEADER)  # lastupdated: ignored
_PERIOD_CELL, _VALUE_CELL = CSV_HEADER.index("period"), CSV_HEADER.index("value")


def _is_header(names: list[str]) -> bool:
    """Whether the first row is a header: it names ``dataelement``, or its period cell is filled
    but does not start with a digit (every DHIS2 period starts with its year) and its value cell
    is missing or not a number. A data row with a mistyped period but a numeric value stays data,
    so its problem is reported rather than skipped."""
    if "dataelement" in names:
        return True
    period = names[_PERIOD_CELL] if len(names) > _PERIOD_CELL else ""
    value = names[_VALUE_CELL] if len(names) > _VALUE_CELL else ""
    return period[:1] not in ("", *"0123456789") and not _NUMBER.fullmatch(value.lstrip("+"))


def _csv_header(first: list[str]) -> tuple[str | None, ...] | None:
    """The column of each header cell (None: ignored), or None when the first row is data.

    DHIS2's position of each column, unless a known name sits at another position: then the
    header is read by name, as jiaowei always read it."""
    names = [cell.strip().lower() for cell in first]
    if not _is_header(names):
        return None
    placed = [_CSV_NAMES.get(name) for name in names]
    if all(name is None or index < len(_POSITIONAL) and name == _POSITIONAL[index]
           for index, name in enumerate(placed)):
        return _POSITIONAL + (None,) * (len(names) - len(_POSITIONAL))
    problems = [Problem("unknown column", row=FIRST_ROW, field=cell, value=cell, expected=_CSV_EXPECTED)
                for cell, name in zip(first, names, strict=True) if name not in _CSV_NAMES]
    columns = tuple(_CSV_NAMES.get(name) for name in names)
    problems += [Problem(N_("the column appears twice"), row=FIRST_ROW, field=name, value=name,
                         expected=N_("once"))
                 for index, name in enumerate(columns) if name and name in columns[:index]]
    problems += [Problem(N_("the column is missing"), row=FIRST_ROW, field=name, expected=_CSV_EXPECTED)
                 for name in _CSV_REQUIRED if name not in columns]
    raise_any(problems, _CSV)
    return columns


def _csv_row(record: list[str], number: int, columns: tuple[str | None, ...],
             problems: list[Problem]) -> ValueRow | None:
    cells = {name: cell for name, cell in zip(columns, record, strict=False) if name and cell != ""}
    found = [Problem(N_("the column is empty"), row=number, field=name, expected=M_("the {name} code",
                                                                                    name=name))
             for name in _CSV_REQUIRED if name not in cells]
    if len(record) > len(columns):
        found.append(Problem(M_("{count} cells, more than the {count2} columns",
                                count=len(record), count2=len(columns)), row=number,
                             value=record[len(columns)], expected=_CSV_EXPECTED))
    followup = _csv_flag(cells, "followup", number, found)
    deleted = _csv_flag(cells, "deleted", number, found)
    for problem in found:
        add_problem(problems, problem, _CSV)
    get = cells.get
    value, stored_by, comment = (_unguarded(get(name)) for name in ("value", "storedby", "comment"))
    return None if found else ValueRow(
        get("dataelement", ""), get("period", ""), get("orgunit", ""), get("catoptcombo"),
        get("attroptcombo"), value, stored_by, comment, followup, bool(deleted), number)


def _unguarded(cell: str | None) -> str | None:
    """A text cell as :func:`write_csv` had it before guarding it (see :func:`jiaowei.text.csv_cell`)."""
    return csv_uncell(cell) if cell is not None and cell[:1] == "'" else cell


def _csv_flag(cells: dict[str, str], name: str, number: int, found: list[Problem]) -> bool | None:
    try:
        return _flag(cells.get(name))
    except ValueError as exc:
        found.append(Problem(str(exc), row=number, field=name, value=cells[name], expected="true or false"))
        return None


def write_csv(rows: Iterable[ValueRow], out: BinaryIO, *, bom: bool = False) -> None:
    """Write DHIS2's CSV with its header; ``bom`` adds the UTF-8 mark Excel needs to show Chinese.

    Text a spreadsheet would compute (a comment, author or non-numeric value starting with ``=``,
    ``+``, ``-``, ``@``, tab or CR) gets a leading ``'`` that :func:`read_csv` removes again;
    numbers such as ``-3`` and codes are written as they are.
    """
    text = io.TextIOWrapper(out, encoding="utf-8-sig" if bom else "utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_record(row) for row in rows)
    text.flush()
    text.detach()


def _csv_record(row: ValueRow) -> tuple[str, ...]:
    followup = "" if row.followup is None else str(row.followup).lower()
    value = row.value or ""
    if value[:1] in _GUARDED and not _NUMBER.fullmatch(value):
        value = csv_cell(value)
    return (row.data_element, row.period, row.org_unit, row.category_option_combo or "",
            row.attribute_option_combo or "", value, _guarded(row.stored_by), row.last_updated or "",
            _guarded(row.comment),
            followup, str(row.deleted).lower())


_GUARDED = frozenset("=+-@\t\r'")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _guarded(text: str | None) -> str:
    return csv_cell(text) if text and text[0] in _GUARDED else text or ""
