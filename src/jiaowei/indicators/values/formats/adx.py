"""ADX (IHE's Aggregate Data Exchange) in and out: data values as ``<group>``s of ``<dataValue>``s.

Periods are written and read in ADX's ``start/duration`` form and become DHIS2 identifiers.
A combo is written as category attributes when ``combo_attributes`` knows them (none, for
``default``); a group's attribute combo as ``attributeOptionCombo``, except ``default``, which
DHIS2 would read as a category. Deleted rows are left out: ADX cannot say a value was deleted.

Divergence from DHIS2: ``<annotation>`` is read as the comment. DHIS2 writes a *text* data
element's value there (with ``value="0"``), which this reader cannot tell apart without the
element's value type.

Reading takes two steps, so that an upload is parsed before its transaction begins:
:func:`parse_adx` parses and checks the XML without the database; :func:`adx_rows` then names
each value's combo by its categories with the catalog, inside the transaction. :func:`read_adx`
does both.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators import periods
from jiaowei.indicators.model import DEFAULT, ValueRow
from jiaowei.indicators.values.formats.common import MAX_PROBLEMS, add_problem, decode, raise_any, unreadable

ComboCode = Callable[[str, dict[str, str]], str | None]
"""``combo_code(element code, {category code: option code})``: the combo code, None if unknown."""
ComboAttributes = Callable[[str, str], dict[str, str] | None]
"""``combo_attributes(element code, combo code)``: the combo's ``{category code: option code}``."""

ADX_NAMESPACE = "urn:ihe:qrph:adx:2015"
_ADX = "ADX"
_ADX_SHAPE = (f'<adx xmlns="{ADX_NAMESPACE}"><group orgUnit="..." period="2020-01-01/P1Y" dataSet="...">'
              '<dataValue dataElement="..." value="..."/></group></adx>')
_GROUP_OWN = frozenset({"orgUnit", "period", "dataSet", "completeDate", "attributeOptionCombo"})
_NO_COMBO = "the data element is unknown or has no combo of these category options"
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_Report = Callable[[Problem], None]


@dataclass(frozen=True, slots=True)
class AdxGroup:
    org_unit: str
    period: str
    attribute_option_combo: str | None


@dataclass(frozen=True, slots=True)
class AdxValue:
    """A ``<dataValue>`` read and checked, before the catalog names the combo of its categories."""

    row: int
    group: AdxGroup
    data_element: str
    value: str | None
    categories: tuple[tuple[str, str], ...]  # (category code, option code), in the order written
    option_combo: str | None  # an explicit categoryOptionCombo attribute
    comment: str | None


@dataclass(frozen=True)
class ParsedAdx:
    """An ADX document parsed without the database: its values and its problems, in the order read.

    The problems of a value's combo are found later, by :func:`adx_rows`, in their places among
    these: the problems of a file are then those, in that order, that one pass would have found.
    :func:`adx_rows` reads it once, freeing each entry as it goes.
    """

    entries: list[AdxValue | Problem]


class _Full(Exception):
    """:data:`MAX_PROBLEMS` problems found: reading stops, :func:`adx_rows` will refuse the file."""


class _Found:
    """What :func:`parse_adx` found so far, values and problems in the order found."""

    def __init__(self) -> None:
        self.entries: list[AdxValue | Problem] = []
        self.values = 0
        self.problems = 0

    def value(self, value: AdxValue) -> None:
        self.entries.append(value)
        self.values += 1

    def problem(self, problem: Problem) -> None:
        self.entries.append(problem)
        self.problems += 1
        if self.problems >= MAX_PROBLEMS:  # the file has at least as many with the combos' own
            raise _Full


def read_adx(data: bytes, *, combo_code: ComboCode | None = None) -> list[ValueRow]:
    """The data values of an ADX document; periods become DHIS2 identifiers.

    A ``dataValue``'s attributes other than ``dataElement`` and ``value`` are its categories;
    ``combo_code`` turns them into a combo code (default: the option codes in the order
    written, joined by ``_``, or ``default`` without any). An explicit ``categoryOptionCombo``
    attribute wins. A group's attributes beyond its own are attribute categories, joined the
    same way. ``<annotation>`` is the comment. The same as :func:`adx_rows` of :func:`parse_adx`.
    """
    return adx_rows(parse_adx(data), combo_code=combo_code)


def parse_adx(data: bytes) -> ParsedAdx:
    """Parse and check an ADX document without the catalog (so outside any transaction).

    Raises when the document is no readable ADX; its other problems wait in the result for
    :func:`adx_rows`, which adds those of the combos and refuses the file.
    """
    root = _parse_xml(data)
    found = _Found()
    try:
        for element in root:
            if _local(element, "group", found.values + 1, found.problem):
                _adx_group_values(element, found)
    except _Full:
        pass
    return ParsedAdx(found.entries)


def adx_rows(parsed: ParsedAdx, *, combo_code: ComboCode | None = None) -> list[ValueRow]:
    """The rows of a parsed ADX document, its categories named as combos by ``combo_code`` (see
    :func:`read_adx`); raises all the problems of the document when it has any.

    ``parsed`` is emptied as it is read: the peak is the rows, not the rows and the entries.
    """
    rows: list[ValueRow] = []
    problems: list[Problem] = []
    entries = parsed.entries
    entries.reverse()
    while entries:
        entry = entries.pop()
        if isinstance(entry, AdxValue):
            rows.append(_adx_row(entry, combo_code, problems))
        else:
            add_problem(problems, entry, _ADX)
    raise_any(problems, _ADX)
    return rows


def _adx_group_values(element: ET.Element, found: _Found) -> None:
    row = found.values + 1
    group = _adx_group(element, row, found.problem)
    for number, child in enumerate(_values(element, row, found.problem)):
        _read_value(child, row + number, group, found)


def _parse_xml(data: bytes) -> ET.Element:
    """The root of ``data``, parsed by defusedxml, which refuses any DTD in any encoding.

    A byte search for ``<!DOCTYPE`` misses UTF-16 without a BOM, so the parser itself refuses
    the DTD (and with it entities and external references) before it expands anything.
    """
    try:
        root = safe_xml.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise unreadable(_ADX,
                         N_("the document declares a DOCTYPE or entities, which are refused for safety"),
                         "plain ADX XML without <!DOCTYPE> or <!ENTITY>") from None
    except ET.ParseError as exc:
        decode(data, _ADX)
        line, column = exc.position
        message = f"not well-formed XML at line {line}, column {column + 1}: {expat.ErrorString(exc.code)}"
        raise unreadable(_ADX, message, _ADX_SHAPE) from None
    decode(data, _ADX)
    if root.tag not in (f"{{{ADX_NAMESPACE}}}adx", "adx"):
        raise unreadable(_ADX, f"the document is <{root.tag}>, not <adx>", _ADX_SHAPE)
    return root


def _local(element: ET.Element, name: str, row: int, problem: _Report) -> bool:
    """Whether ``element`` is the ADX element ``name``; if not, a problem (at the next value's row)."""
    if element.tag in (f"{{{ADX_NAMESPACE}}}{name}", name):
        return True
    problem(Problem(N_("unknown element"), row=row, field=str(element.tag), expected=M_("<{name}>",
                                                                                        name=name)))
    return False


def _values(group: ET.Element, row: int, problem: _Report) -> list[ET.Element]:
    return [value for value in group if _local(value, "dataValue", row, problem)]


def _adx_group(group: ET.Element, row: int, problem: _Report) -> AdxGroup:
    attributes = dict(group.attrib)
    for name in ("orgUnit", "period"):
        if not attributes.get(name):
            problem(Problem(M_("the group has no {name}", name=name), row=row, field=name,
                            expected=M_("a {name} attribute on <group>", name=name)))
    extra = [value for name, value in attributes.items() if name not in _GROUP_OWN and "{" not in name]
    attribute = attributes.get("attributeOptionCombo") or ("_".join(extra) if extra else None)
    period = _adx_period(attributes.get("period"), row, problem)
    return AdxGroup(attributes.get("orgUnit", ""), period, attribute)


def _adx_period(text: str | None, row: int, report: _Report) -> str:
    if not text:
        return ""
    try:
        return periods.from_adx(text).id
    except ValidationError as exc:
        cause = exc.problems[0] if exc.problems else Problem(exc.detail)
        report(Problem(cause.message, row=row, field="period", value=text, expected=cause.expected))
        return ""


def _read_value(element: ET.Element, row: int, group: AdxGroup, found: _Found) -> None:
    """Read a ``<dataValue>``: the value, then the problems of its annotations."""
    attributes = {name: value for name, value in element.attrib.items() if "{" not in name}
    data_element, value = attributes.pop("dataElement", ""), attributes.pop("value", "") or None
    combo = attributes.pop("categoryOptionCombo", None) or None
    annotation_problems: list[Problem] = []
    comment = _annotation(element, row, annotation_problems.append)
    found.value(AdxValue(row, group, data_element, value, tuple(attributes.items()), combo, comment))
    for problem in annotation_problems:
        found.problem(problem)


def _adx_row(value: AdxValue, combo_code: ComboCode | None, problems: list[Problem]) -> ValueRow:
    categories = dict(value.categories)
    combo = value.option_combo or _combo(value.data_element, categories, combo_code)
    if not value.data_element:
        expected = N_("a dataElement attribute with the data element code")
        add_problem(problems, Problem(N_("the dataValue has no dataElement"), row=value.row,
                                      field="dataElement", expected=expected), _ADX)
    elif combo is None:
        shown = ", ".join(f"{name}={option}" for name, option in categories.items())
        add_problem(problems, Problem(_NO_COMBO, row=value.row, field="categoryOptionCombo",
                                      value=shown or None,
                                      expected=N_("one option of each category of the data element")), _ADX)
    group = value.group
    return ValueRow(value.data_element, group.period, group.org_unit, combo, group.attribute_option_combo,
                    value.value, comment=value.comment, row=value.row)


def _combo(data_element: str, categories: dict[str, str], combo_code: ComboCode | None) -> str | None:
    if combo_code is not None:
        return combo_code(data_element, categories)
    return "_".join(categories.values()) or DEFAULT


def _annotation(element: ET.Element, row: int, problem: _Report) -> str | None:
    texts = [child.text or "" for child in element if _local(child, "annotation", row, problem)]
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
            raise ValidationError(N_("A category code cannot be written as an ADX attribute."), [
                Problem(N_("not an XML attribute name"), row=row.row or None, field="category", value=name,
                        expected=N_("a category code that begins with a letter or '_'"))])
    return dict(options)
