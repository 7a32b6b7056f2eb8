"""Data values in and out of every exchange format: DHIS2 JSON and CSV, ADX, the XLSX template.

Pure: bytes in, :class:`~jiaowei.indicators.model.ValueRow` out, and back; no database.
Identifiers stay as the file writes them (the service resolves them) and ``row`` is the place
of each value in its file: JSON array index + 1, CSV data record after the header, ADX
``dataValue`` in document order, XLSX sheet row. A file with problems raises one
:class:`~jiaowei.errors.ValidationError` listing them (the first :data:`MAX_PROBLEMS`), each
with its row, field, value and what would be accepted.

What each format carries of a ValueRow (a field it does not carry reads back as its default):

| field                  | dhis2-json | dhis2-csv | adx                     | xlsx                   |
|------------------------|------------|-----------|-------------------------|------------------------|
| element, period, unit  | yes        | yes       | yes                     | yes (one period, unit) |
| category option combo  | yes        | yes       | category attributes [1] | yes                    |
| attribute option combo | yes        | yes       | group attributes [2]    | no                     |
| value, comment         | yes        | yes       | value, ``<annotation>`` | yes                    |
| stored by, followup    | yes        | yes       | no                      | no                     |
| deleted                | yes        | yes       | no (rows left out)      | no (rows left out)     |

[1] No combo, or ``default``, is written without attributes and read back as ``default``.
[2] ``default`` is not written (DHIS2 would read it as a category) and reads back as None.

ADX divergence from DHIS2: ``<annotation>`` is read as the comment. DHIS2 writes a *text*
data element's value there (with ``value="0"``), which this reader cannot tell apart
without the element's value type.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import json
import math
import os
import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from itertools import chain, islice
from typing import Any, BinaryIO, NoReturn
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from jiaowei.errors import Problem, ValidationError
from jiaowei.indicators.model import DEFAULT, ValueRow, ValueType

FORMATS = ("dhis2-json", "dhis2-csv", "adx", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {"dhis2-json": "application/json", "dhis2-csv": "text/csv", "adx": "application/adx+xml",
               "xlsx": XLSX_TYPE}
EXTENSIONS = {".json": "dhis2-json", ".csv": "dhis2-csv", ".xml": "adx", ".adx": "adx", ".xlsx": "xlsx"}
_CONTENT_TYPES = {**{media: name for name, media in MEDIA_TYPES.items()}, "text/json": "dhis2-json",
                  "application/csv": "dhis2-csv", "application/xml": "adx", "text/xml": "adx"}
MAX_PROBLEMS = 1000

ComboCode = Callable[[str, dict[str, str]], str | None]
"""``combo_code(element code, {category code: option code})``: the combo code, None if unknown."""
ComboAttributes = Callable[[str, str], dict[str, str] | None]
"""``combo_attributes(element code, combo code)``: the combo's ``{category code: option code}``."""


def read(format: str, data: bytes, **extra: Any) -> list[ValueRow]:
    """The data values of a file in ``format``; ``extra`` goes to that format's reader."""
    readers: dict[str, Callable[..., list[ValueRow]]] = {
        "dhis2-json": read_json, "dhis2-csv": read_csv, "adx": read_adx, "xlsx": read_template}
    return readers[_known(format)](data, **extra)


def write(format: str, rows: Iterable[ValueRow], out: BinaryIO, **extra: Any) -> None:
    """Write ``rows`` to ``out`` in ``format``; ``extra`` goes to that format's writer."""
    writers: dict[str, Callable[..., None]] = {
        "dhis2-json": write_json, "dhis2-csv": write_csv, "adx": write_adx, "xlsx": write_xlsx}
    writers[_known(format)](rows, out, **extra)


def detect_format(filename: str, content_type: str | None, data: bytes) -> str:
    """The format of an upload: by its file extension, else its content type, else its first bytes."""
    extension = os.path.splitext(filename.lower())[1]
    media = (content_type or "").split(";")[0].strip().lower()
    found = EXTENSIONS.get(extension) or _CONTENT_TYPES.get(media) or _sniff(data)
    if found is None:
        raise ValidationError(f"Cannot tell the format of {filename or 'the file'}.", [
            Problem("unknown file format", field="format", value=filename or media or None,
                    expected=_FORMATS_EXPECTED)])
    return found


_FORMATS_EXPECTED = ("one of dhis2-json (.json), dhis2-csv (.csv), adx (.xml or .adx), "
                     "xlsx (.xlsx, a template from jiaowei)")


def _sniff(data: bytes) -> str | None:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.lower().startswith(b"dataelement"):
        return "dhis2-csv"
    return {b"{": "dhis2-json", b"<": "adx"}.get(head[:1])


def _known(format: str) -> str:
    if format not in FORMATS:
        raise ValidationError(f"Unknown data value format {format!r}.", [
            Problem("unknown format", field="format", value=format, expected=_FORMATS_EXPECTED)])
    return format


# ---------------------------------------------------------------- problems and plumbing


def _add(problems: list[Problem], problem: Problem, what: str) -> None:
    """Collect ``problem``; at :data:`MAX_PROBLEMS` stop reading and raise them all."""
    problems.append(problem)
    if len(problems) >= MAX_PROBLEMS:
        _fail(problems, what)


def _raise_any(problems: list[Problem], what: str) -> None:
    if problems:
        _fail(problems, what)


def _fail(problems: list[Problem], what: str) -> NoReturn:
    count = f"at least {MAX_PROBLEMS}" if len(problems) >= MAX_PROBLEMS else str(len(problems))
    detail = f"The {what} file has {count} problem(s); nothing was read."
    raise ValidationError(detail, problems[:MAX_PROBLEMS])


def _unreadable(what: str, message: str, expected: str) -> ValidationError:
    return ValidationError(f"The file is not readable as {what}.", [Problem(message, expected=expected)])


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cycle collector while a million acyclic objects are made (it nearly doubles the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _unreadable(what, f"not UTF-8 text (line {line})", "a file saved as UTF-8") from None


def _flag(raw: Any) -> bool | None:
    """A true/false field: a JSON boolean or the text true/false (any case); empty is None."""
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", ""):
        return {"true": True, "false": False}.get(raw.strip().lower())
    raise ValueError("not true or false")


_FIELDS = ("data_element", "period", "org_unit", "category_option_combo", "attribute_option_combo", "value",
           "stored_by", "comment", "followup", "deleted", "row")
if tuple(f.name for f in fields(ValueRow)) != _FIELDS:
    raise ImportError("ValueRow's fields changed: update formats._quick_row")
_NEW = object.__new__
(_DATA_ELEMENT, _PERIOD, _ORG_UNIT, _COMBO, _ATTRIBUTE, _VALUE, _STORED_BY, _COMMENT, _FOLLOWUP, _DELETED,
 _ROW) = (ValueRow.__dict__[name].__set__ for name in _FIELDS)


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
    with _gc_paused():
        items, defaults = _json_document(_load_json(data))
        return _json_rows(items, defaults)


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        message = f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise _unreadable(_JSON, message, _JSON_SHAPE) from None
    except (ValueError, RecursionError) as exc:  # undecodable bytes, NaN, huge integers, deep nesting
        raise _unreadable(_JSON, f"not JSON: {exc}", _JSON_SHAPE) from None


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _json_document(document: Any) -> tuple[list[Any], tuple[str | None, str | None, str | None]]:
    if not isinstance(document, dict) or not isinstance(document.get("dataValues"), list):
        found = "an object without a dataValues list" if isinstance(document, dict) else _kind(document)
        raise ValidationError("The file is not a DHIS2 data value set.", [
            Problem(f"the document is {found}", field="dataValues", expected=_JSON_SHAPE)])
    problems: list[Problem] = []
    defaults = tuple(_json_text(document, name, None, 0, problems) for name in _JSON_DEFAULTS)
    _raise_any(problems, _JSON)
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
    _raise_any(problems, _JSON)
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
        _add(problems, Problem("a data value is not an object", row=index, field="dataValues",
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
    value = _json_field(item, "value", _json_value, _VALUE_EXPECTED, index, found)
    followup = _json_field(item, "followup", _flag, "true or false", index, found)
    deleted = _json_field(item, "deleted", _flag, "true or false", index, found)
    for problem in found:
        _add(problems, problem, _JSON)
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
                         expected=f'text in quotes, e.g. "{name}": "CODE"'))
    return default


def _json_required(item: dict[str, Any], name: str, default: str | None, index: int,
                   found: list[Problem]) -> str:
    text = _json_text(item, name, default, index, found)
    if text is None and not any(p.field == name for p in found):
        where = " (or once at the top of the document)" if name in _JSON_DEFAULTS else ""
        found.append(Problem(f"{name} is missing", row=index, field=name,
                             expected=f"the {name} code on each data value{where}"))
    return text or ""


def _json_field(item: dict[str, Any], name: str, convert: Callable[[Any], Any], expected: str, index: int,
                found: list[Problem]) -> Any:
    try:
        return convert(item.get(name))
    except ValueError as exc:
        shown = _shown(item.get(name))
        found.append(Problem(str(exc), row=index, field=name, value=shown, expected=expected))
        return None


def _json_value(raw: Any) -> str | None:
    """The text of a JSON value: text as is, ``12`` and ``12.0`` as ``"12"``, booleans true/false."""
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float) and math.isfinite(raw):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    raise ValueError("not a value" if not isinstance(raw, float) else "not a finite number")


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
              "storedBy", "comment", "followup", "deleted")


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

    The header is optional: without one the columns are in DHIS2's order (:data:`CSV_HEADER`).
    Header names may be DHIS2's or the JSON ones, in any case; ``lastupdated``/``created``
    are ignored. Empty cells are None.
    """
    reader = csv.reader(io.StringIO(_decode(data, _CSV), newline=""), strict=True)
    try:
        with _gc_paused():
            return _csv_rows(reader)
    except csv.Error as exc:
        raise _unreadable(_CSV, f"malformed CSV at line {reader.line_num}: {exc}", _CSV_CELLS) from None


def _csv_rows(reader: Iterator[list[str]]) -> list[ValueRow]:
    first = next(reader, None)
    if first is None:
        return []
    columns = _csv_header(first)
    records = reader if columns is not None else chain([first], reader)
    columns = columns or CSV_HEADER
    rows: list[ValueRow] = []
    problems: list[Problem] = []
    for number, record in enumerate(records, 1):
        if any(record):
            row = _csv_row(record, number, columns, problems)
            if row is not None:
                rows.append(row)
    _raise_any(problems, _CSV)
    return rows


def _csv_header(first: list[str]) -> tuple[str | None, ...] | None:
    """The column of each header cell (None: ignored), or None when the first row is data."""
    names = [cell.strip().lower() for cell in first]
    if "dataelement" not in names:
        return None
    problems = [Problem("unknown column", row=0, field=cell, value=cell, expected=_CSV_EXPECTED)
                for cell, name in zip(first, names, strict=True) if name not in _CSV_NAMES]
    columns = tuple(_CSV_NAMES.get(name) for name in names)
    problems += [Problem("the column appears twice", row=0, field=name, value=name, expected="once")
                 for index, name in enumerate(columns) if name and name in columns[:index]]
    problems += [Problem("the column is missing", row=0, field=name, expected=_CSV_EXPECTED)
                 for name in _CSV_REQUIRED if name not in columns]
    _raise_any(problems, _CSV)
    return columns


def _csv_row(record: list[str], number: int, columns: tuple[str | None, ...],
             problems: list[Problem]) -> ValueRow | None:
    cells = {name: cell for name, cell in zip(columns, record, strict=False) if name and cell != ""}
    found = [Problem("the column is empty", row=number, field=name, expected=f"the {name} code")
             for name in _CSV_REQUIRED if name not in cells]
    if len(record) > len(columns):
        found.append(Problem(f"{len(record)} cells, more than the {len(columns)} columns", row=number,
                             value=record[len(columns)], expected=_CSV_EXPECTED))
    followup = _csv_flag(cells, "followup", number, found)
    deleted = _csv_flag(cells, "deleted", number, found)
    for problem in found:
        _add(problems, problem, _CSV)
    get = cells.get
    return None if found else ValueRow(
        get("dataelement", ""), get("period", ""), get("orgunit", ""), get("catoptcombo"),
        get("attroptcombo"), get("value"), get("storedby"), get("comment"), followup, bool(deleted), number)


def _csv_flag(cells: dict[str, str], name: str, number: int, found: list[Problem]) -> bool | None:
    try:
        return _flag(cells.get(name))
    except ValueError as exc:
        found.append(Problem(str(exc), row=number, field=name, value=cells[name], expected="true or false"))
        return None


def write_csv(rows: Iterable[ValueRow], out: BinaryIO, *, bom: bool = False) -> None:
    """Write DHIS2's CSV with its header; ``bom`` adds the UTF-8 mark Excel needs to show Chinese."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig" if bom else "utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_record(row) for row in rows)
    text.flush()
    text.detach()


def _csv_record(row: ValueRow) -> tuple[str, ...]:
    followup = "" if row.followup is None else str(row.followup).lower()
    return (row.data_element, row.period, row.org_unit, row.category_option_combo or "",
            row.attribute_option_combo or "", row.value or "", row.stored_by or "", "", row.comment or "",
            followup, str(row.deleted).lower())


# ---------------------------------------------------------------- ADX

ADX_NAMESPACE = "urn:ihe:qrph:adx:2015"
_ADX = "ADX"
_ADX_SHAPE = (f'<adx xmlns="{ADX_NAMESPACE}"><group orgUnit="..." period="2020-01-01/P1Y" dataSet="...">'
              '<dataValue dataElement="..." value="..."/></group></adx>')
_GROUP_OWN = frozenset({"orgUnit", "period", "dataSet", "completeDate", "attributeOptionCombo"})
_NO_COMBO = "the data element is unknown or has no combo of these category options"
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class _Group:
    org_unit: str
    period: str
    attribute_option_combo: str | None


def read_adx(data: bytes, *, combo_code: ComboCode | None = None) -> list[ValueRow]:
    """The data values of an ADX document; periods become DHIS2 identifiers.

    A ``dataValue``'s attributes other than ``dataElement`` and ``value`` are its categories;
    ``combo_code`` turns them into a combo code (default: the option codes in the order
    written, joined by ``_``, or ``default`` without any). An explicit ``categoryOptionCombo``
    attribute wins. A group's attributes beyond its own are attribute categories, joined the
    same way. ``<annotation>`` is the comment.
    """
    root = _parse_xml(data)
    rows: list[ValueRow] = []
    problems: list[Problem] = []
    for element in root:
        if _local(element, "group", len(rows) + 1, problems):
            group = _adx_group(element, len(rows) + 1, problems)
            rows += [_adx_row(value, len(rows) + n, group, combo_code, problems)
                     for n, value in enumerate(_values(element, len(rows) + 1, problems), 1)]
    _raise_any(problems, _ADX)
    return rows


def _parse_xml(data: bytes) -> ET.Element:
    _decode(data, _ADX)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _unreadable(_ADX, "the document declares a DOCTYPE or entities, which are refused for safety",
                          "plain ADX XML without <!DOCTYPE> or <!ENTITY>")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        message = f"not well-formed XML at line {line}, column {column + 1}: {expat.ErrorString(exc.code)}"
        raise _unreadable(_ADX, message, _ADX_SHAPE) from None
    if root.tag not in (f"{{{ADX_NAMESPACE}}}adx", "adx"):
        raise _unreadable(_ADX, f"the document is <{root.tag}>, not <adx>", _ADX_SHAPE)
    return root


def _local(element: ET.Element, name: str, row: int, problems: list[Problem]) -> bool:
    """Whether ``element`` is the ADX element ``name``; if not, a problem (at the next value's row)."""
    if element.tag in (f"{{{ADX_NAMESPACE}}}{name}", name):
        return True
    _add(problems, Problem("unknown element", row=row, field=str(element.tag), expected=f"<{name}>"), _ADX)
    return False


def _values(group: ET.Element, row: int, problems: list[Problem]) -> list[ET.Element]:
    return [value for value in group if _local(value, "dataValue", row, problems)]


def _adx_group(group: ET.Element, row: int, problems: list[Problem]) -> _Group:
    attributes = dict(group.attrib)
    for name in ("orgUnit", "period"):
        if not attributes.get(name):
            _add(problems, Problem(f"the group has no {name}", row=row, field=name,
                                   expected=f"a {name} attribute on <group>"), _ADX)
    extra = [value for name, value in attributes.items() if name not in _GROUP_OWN and "{" not in name]
    attribute = attributes.get("attributeOptionCombo") or ("_".join(extra) if extra else None)
    period = _adx_period(attributes.get("period"), row, problems)
    return _Group(attributes.get("orgUnit", ""), period, attribute)


def _adx_period(text: str | None, row: int, problems: list[Problem]) -> str:
    from jiaowei.indicators import periods

    if not text:
        return ""
    try:
        return periods.from_adx(text).id
    except ValidationError as exc:
        cause = exc.problems[0] if exc.problems else Problem(exc.detail)
        problem = Problem(cause.message, row=row, field="period", value=text, expected=cause.expected)
        _add(problems, problem, _ADX)
        return ""


def _adx_row(element: ET.Element, row: int, group: _Group, combo_code: ComboCode | None,
             problems: list[Problem]) -> ValueRow:
    attributes = {name: value for name, value in element.attrib.items() if "{" not in name}
    data_element, value = attributes.pop("dataElement", ""), attributes.pop("value", "") or None
    combo = attributes.pop("categoryOptionCombo", None) or _combo(data_element, attributes, combo_code)
    if not data_element:
        _add(problems, Problem("the dataValue has no dataElement", row=row, field="dataElement",
                               expected="a dataElement attribute with the data element code"), _ADX)
    elif combo is None:
        shown = ", ".join(f"{name}={option}" for name, option in attributes.items())
        _add(problems, Problem(_NO_COMBO, row=row, field="categoryOptionCombo", value=shown or None,
                               expected="one option of each category of the data element"), _ADX)
    return ValueRow(data_element, group.period, group.org_unit, combo, group.attribute_option_combo, value,
                    comment=_annotation(element, row, problems), row=row)


def _combo(data_element: str, categories: dict[str, str], combo_code: ComboCode | None) -> str | None:
    if combo_code is not None:
        return combo_code(data_element, categories)
    return "_".join(categories.values()) or DEFAULT


def _annotation(element: ET.Element, row: int, problems: list[Problem]) -> str | None:
    texts = [child.text or "" for child in element if _local(child, "annotation", row, problems)]
    return "\n".join(texts) or None


def write_adx(rows: Iterable[ValueRow], out: BinaryIO, *, data_set: str | None = None,
              combo_attributes: ComboAttributes | None = None, exported: str | None = None) -> None:
    """Write an ADX document: one ``<group>`` for each unit, period and attribute combo.

    ``combo_attributes`` gives each combo's category attributes; without it, or when it
    returns None, a combo other than ``default`` is written as a ``categoryOptionCombo``
    attribute. ADX (and DHIS2) want the ``dataSet`` of each group: give ``data_set``.
    Deleted rows are left out: ADX cannot say that a value was deleted.
    """
    stamp = exported or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<adx xmlns="{ADX_NAMESPACE}" exported='
              f'{quoteattr(stamp)}>\n'.encode())
    for key, group in _adx_groups(rows).items():
        out.write(_adx_group_tag(*key, data_set).encode())
        out.write("".join(_adx_value(row, combo_attributes) for row in group).encode())
        out.write(b"  </group>\n")
    out.write(b"</adx>\n")


def _adx_groups(rows: Iterable[ValueRow]) -> dict[tuple[str, str, str | None], list[ValueRow]]:
    groups: dict[tuple[str, str, str | None], list[ValueRow]] = {}
    for row in rows:
        if not row.deleted:
            groups.setdefault((row.org_unit, row.period, row.attribute_option_combo), []).append(row)
    return groups


def _adx_group_tag(unit: str, period: str, attribute: str | None, data_set: str | None) -> str:
    from jiaowei.indicators import periods

    adx_period = periods.to_adx(periods.parse(period))
    attributes = {"orgUnit": unit, "period": adx_period, "dataSet": data_set,
                  "attributeOptionCombo": attribute if attribute != DEFAULT else None}
    return f"  <group {_xml_attributes(attributes)}>\n"


def _xml_attributes(attributes: dict[str, str | None]) -> str:
    return " ".join(f"{name}={quoteattr(value)}" for name, value in attributes.items() if value is not None)


def _adx_value(row: ValueRow, combo_attributes: ComboAttributes | None) -> str:
    categories = _adx_categories(row, combo_attributes)
    attributes = {"dataElement": row.data_element, **categories, "value": row.value}
    if row.comment is None:
        return f"    <dataValue {_xml_attributes(attributes)}/>\n"
    return (f"    <dataValue {_xml_attributes(attributes)}><annotation>{escape(row.comment)}</annotation>"
            "</dataValue>\n")


def _adx_categories(row: ValueRow, combo_attributes: ComboAttributes | None) -> dict[str, str | None]:
    combo = row.category_option_combo or DEFAULT
    options = combo_attributes(row.data_element, combo) if combo_attributes is not None else None
    if options is None:
        return {} if combo == DEFAULT else {"categoryOptionCombo": combo}
    for name in options:
        if not _XML_NAME.match(name) or name in ("dataElement", "value", "categoryOptionCombo"):
            raise ValidationError("A category code cannot be written as an ADX attribute.", [
                Problem("not an XML attribute name", row=row.row or None, field="category", value=name,
                        expected="a category code that begins with a letter or '_'")])
    return dict(options)


# ---------------------------------------------------------------- XLSX template

SHEET = "data"
DEFINED_NAMES = {"JW_DATASET": "$B$2", "JW_UNIT": "$B$3", "JW_PERIOD": "$B$4", "JW_TABLE": "$A$7"}
"""Named cells of the template: data set, unit and period codes, and the header of the value table."""
TEMPLATE_COLUMNS = ("element", "combo", "element_name", "combo_name", "value", "comment")
_XLSX = "XLSX template"
_GREY = "D9D9D9"
_LABELS = {
    "zh_CN": {"title": "数据填报表", "data_set": "数据集", "unit": "填报单位", "period": "报告期",
              "note": "只填写“数值”和“备注”两列；请勿修改灰色单元格。",
              "columns": ("数据元代码", "分类组合代码", "数据元", "分类组合", "数值", "备注"),
              "invalid": "数值不符合该数据元的类型"},
    "en": {"title": "Data entry form", "data_set": "Data set", "unit": "Unit", "period": "Period",
           "note": "Fill in only the value and comment columns; do not change the grey cells.",
           "columns": ("Element code", "Combo code", "Data element", "Category combo", "Value", "Comment"),
           "invalid": "The value does not fit the data element's type"},
}


@dataclass
class TemplateRow:
    """One line of the template: a data element in one category option combo."""

    element_code: str
    element_name: str
    combo_code: str = DEFAULT
    combo_name: str = ""
    value_type: str = ValueType.TEXT
    value: str | None = None
    comment: str | None = None


@dataclass
class TemplateForm:
    """What a template is pre-filled with: one data set's values for one unit and one period."""

    data_set: str
    data_set_name: str
    period: str
    unit: str
    unit_name: str
    language: str = "zh_CN"
    rows: list[TemplateRow] = field(default_factory=list)
    period_name: str = ""


def write_template(path_or_buffer: str | os.PathLike[str] | BinaryIO, *, form: TemplateForm) -> None:
    """Write the XLSX data entry template of ``form`` (sheet :data:`SHEET`, cells :data:`DEFINED_NAMES`).

    Grey columns hold the codes read back; only value and comment are for filling in. The value
    column checks whole numbers, numbers, percentages and true/false as the value type asks.
    """
    from openpyxl import Workbook
    from openpyxl.workbook.defined_name import DefinedName

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    labels = _LABELS.get(form.language, _LABELS["zh_CN"])
    _template_head(sheet, form, labels)
    _template_table(sheet, form.rows, labels)
    for name, cell in DEFINED_NAMES.items():
        book.defined_names[name] = DefinedName(name, attr_text=f"'{SHEET}'!{cell}")
    book.save(path_or_buffer)  # type: ignore[arg-type]  # openpyxl takes paths and binary buffers


def _template_head(sheet: Any, form: TemplateForm, labels: dict[str, Any]) -> None:
    from openpyxl.styles import Font

    sheet["A1"] = f"{labels['title']}: {form.data_set_name}"
    sheet["A1"].font = Font(bold=True, size=14)
    for row, (label, code, name) in enumerate([(labels["data_set"], form.data_set, form.data_set_name),
                                                (labels["unit"], form.unit, form.unit_name),
                                                (labels["period"], form.period, form.period_name)], 2):
        sheet.cell(row, 1, label).font = Font(bold=True)
        _grey(sheet.cell(row, 2, code))
        sheet.cell(row, 3, name)
    sheet["A5"] = labels["note"]
    sheet["A5"].font = Font(italic=True, color="C00000")


def _template_table(sheet: Any, rows: list[TemplateRow], labels: dict[str, Any]) -> None:
    from openpyxl.styles import Font

    header = _table_row()
    for column, title in enumerate(labels["columns"], 1):
        sheet.cell(header, column, title).font = Font(bold=True)
    validations = _validations(labels)
    for number, line in enumerate(rows, header + 1):
        _template_line(sheet, number, line, validations)
    for validation in validations.values():
        if validation.sqref:
            sheet.add_data_validation(validation)
    for letter, width in zip("ABCDEF", (16, 16, 36, 24, 14, 30), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = sheet.cell(header + 1, 1)


def _template_line(sheet: Any, number: int, line: TemplateRow, validations: dict[str, Any]) -> None:
    from openpyxl.styles import Protection

    grey = (line.element_code, line.combo_code, line.element_name, line.combo_name)
    for column, text in enumerate(grey, 1):
        _grey(sheet.cell(number, column, text))
    value = sheet.cell(number, 5, _cell_value(line.value_type, line.value))
    comment = sheet.cell(number, 6, line.comment)
    for cell in (value, comment):
        cell.protection = Protection(locked=False)
    if line.value_type in validations:
        validations[line.value_type].add(value)
    else:
        value.number_format = "@"


def _table_row() -> int:
    return int(DEFINED_NAMES["JW_TABLE"].rsplit("$", 1)[1])


def _grey(cell: Any) -> None:
    from openpyxl.styles import PatternFill

    cell.fill = PatternFill("solid", fgColor=_GREY)
    cell.number_format = "@"


def _validations(labels: dict[str, Any]) -> dict[str, Any]:
    from openpyxl.worksheet.datavalidation import DataValidation

    def check(kind: str, low: str | None, high: str) -> DataValidation:
        if low is None:
            return DataValidation(type=kind, formula1=high, allow_blank=True, showErrorMessage=True,
                                  error=labels["invalid"])
        return DataValidation(type=kind, operator="between", formula1=low, formula2=high, allow_blank=True,
                              showErrorMessage=True, error=labels["invalid"])

    return {ValueType.INTEGER: check("whole", "-999999999999999", "999999999999999"),
            ValueType.NUMBER: check("decimal", "-999999999999999", "999999999999999"),
            ValueType.PERCENTAGE: check("decimal", "0", "100"),
            ValueType.BOOLEAN: check("list", None, '"true,false"')}


def _cell_value(value_type: str, value: str | None) -> Any:
    """A current value as the cell holds it: numbers as numbers (so Excel does not flag them)."""
    if value is None or value_type not in (ValueType.INTEGER, ValueType.NUMBER, ValueType.PERCENTAGE):
        return value
    try:
        return int(value) if value_type == ValueType.INTEGER else float(value)
    except ValueError:
        return value


def read_template(data: bytes) -> list[ValueRow]:
    """The values of a filled-in template, one row for each table line with an element code.

    An empty value cell reads as ``value=None`` ("no value"): the caller decides what that
    means (the service deletes a stored value). ``row`` is the sheet row.
    """
    book = _load_book(data)
    try:
        cells = _named_cells(book)
        head = {name: _cell_text(sheet.cell(row, column).value)
                for name, (sheet, row, column) in cells.items() if name != "JW_TABLE"}
        _require_head(head)
        sheet, header, _ = cells["JW_TABLE"]
        return _template_rows(sheet, header, head["JW_UNIT"] or "", head["JW_PERIOD"] or "")
    finally:
        book.close()


def _load_book(data: bytes) -> Any:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _unreadable(_XLSX, f"not a readable XLSX workbook: {exc}", _TEMPLATE_EXPECTED) from None


_GREY_EXPECTED = "the code the template was downloaded with"
_TEMPLATE_EXPECTED = "a data entry template downloaded from jiaowei, saved as .xlsx"


def _named_cells(book: Any) -> dict[str, tuple[Any, int, int]]:
    """Each of :data:`DEFINED_NAMES` as (sheet, row, column); a workbook without them is refused."""
    from openpyxl.utils.cell import coordinate_to_tuple

    cells = {}
    for name in DEFINED_NAMES:
        defined = book.defined_names.get(name)
        destination = next(iter(defined.destinations), None) if defined is not None else None
        if destination is None or destination[0] not in book.sheetnames:
            raise ValidationError("The workbook is not a jiaowei data entry template.", [
                Problem(f"the named cell {name} is missing", field=name, expected=_TEMPLATE_EXPECTED)])
        cells[name] = (book[destination[0]], *coordinate_to_tuple(destination[1].replace("$", "")))
    return cells


def _require_head(head: dict[str, str | None]) -> None:
    problems = [Problem("the grey cell is empty", field=name, expected=_GREY_EXPECTED)
                for name, text in head.items() if not text]
    if problems:
        raise ValidationError("The template's grey cells were changed.", problems)


def _template_rows(sheet: Any, header: int, unit: str, period: str) -> list[ValueRow]:
    rows: list[ValueRow] = []
    problems: list[Problem] = []
    lines = sheet.iter_rows(min_row=header + 1, max_col=len(TEMPLATE_COLUMNS), values_only=True)
    for number, line in enumerate(lines, header + 1):
        element, combo, _, _, value, comment = (_cell_text(v) for v in (*line, *[None] * 6)[:6])
        if element is None and combo is None:
            continue
        if element is None:
            _add(problems, Problem("the element code is empty", row=number, field="element",
                                   expected=_GREY_EXPECTED), _XLSX)
        rows.append(ValueRow(element or "", period, unit, combo, None, value, comment=comment, row=number))
    _raise_any(problems, _XLSX)
    return rows


def _cell_text(value: Any) -> str | None:
    """A cell as text: numbers without a trailing ``.0``, booleans true/false, empty as None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _json_value(value) if isinstance(value, int) or math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value).strip() if value is not None else ""
    return text or None


def write_xlsx(rows: Iterable[ValueRow], out: BinaryIO, *, form: TemplateForm | None = None,
               data_set: str = "", language: str = "zh_CN") -> None:
    """Write ``rows`` as a template: into ``form``'s lines when given, else a plain one of their own.

    Without a form the rows must share one unit and one period; names are the codes and every
    value is text.
    """
    rows = [row for row in rows if not row.deleted]
    form = _with_values(form, rows) if form is not None else _form_of(rows, data_set, language)
    write_template(out, form=form)


def _with_values(form: TemplateForm, rows: list[ValueRow]) -> TemplateForm:
    given = {(row.data_element, row.category_option_combo or DEFAULT): row for row in rows}
    lines = [replace(line, value=given[key].value, comment=given[key].comment)
             if (key := (line.element_code, line.combo_code)) in given else line for line in form.rows]
    return replace(form, rows=lines)


def _form_of(rows: list[ValueRow], data_set: str, language: str) -> TemplateForm:
    places = {(row.org_unit, row.period) for row in rows}
    if len(places) != 1:
        raise ValidationError("An XLSX template holds the values of one unit in one period.", [
            Problem(f"the values are for {len(places)} unit-period pairs", field="xlsx",
                    expected="values of one unit and one period, or another format")])
    ((unit, period),) = places
    lines = [TemplateRow(row.data_element, row.data_element, row.category_option_combo or DEFAULT,
                         row.category_option_combo or DEFAULT, ValueType.TEXT, row.value, row.comment)
             for row in rows]
    return TemplateForm(data_set, data_set, period, unit, unit, language, lines)
