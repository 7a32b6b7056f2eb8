"""ADX (IHE's Aggregate Data Exchange) in and out: data values as ``<group>``s of ``<dataValue>``s.

Periods are written and read in ADX's ``start/duration`` form and become DHIS2 identifiers.
A combo is written as category attributes when ``combo_attributes`` knows them (none, for
``default``); a group's attribute combo as ``attributeOptionCombo``, except ``default``, which
DHIS2 would read as a category. Deleted rows are left out: ADX cannot say a value was deleted.

DHIS2's rules, followed both ways (its ``AdxDataValueSetReader`` and ``DefaultAdxDataService``):
a value of a type that is not a number (text, boolean, dates, ...:
:func:`jiaowei.indicators.model.carried_in_annotation`) is written ``value="0"`` with the real
value in ``<annotation>``, and read from there; a numeric value is in ``value``. The comment is
the ``comment`` attribute. Attributes DHIS2 reserves (``comment``, ``storedBy``, ``followup``,
``dataSetComplete``, ``completeDate``, ...) are never read as categories. A group's
``dataSetComplete`` (``true`` or a date) or ``completeDate`` is a
:class:`~jiaowei.indicators.values.formats.common.Completion`.

Divergence from DHIS2: the ``<annotation>`` of a *numeric* value is read as its comment when
it has no ``comment`` attribute (jiaowei's ADX before issue 13 wrote comments there; DHIS2
ignores it). A group's ``comment`` attribute is ignored, as DHIS2 does.

Reading takes two steps, so that an upload is parsed before its transaction begins:
:func:`parse_adx` parses and checks the XML without the database; :func:`adx_read` then names
each value's combo by its categories and takes each value from ``value`` or ``<annotation>`` by
its element's type (an :class:`AdxCatalog`), inside the transaction. :func:`read_adx` does both.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import BinaryIO
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators import periods
from jiaowei.indicators.model import DEFAULT, ValueRow
from jiaowei.indicators.values.formats.common import (
    MAX_PROBLEMS,
    Completion,
    add_problem,
    decode,
    raise_any,
    unreadable,
)

ComboCode = Callable[[str, dict[str, str]], str | None]
"""``combo_code(element code, {category code: option code})``: the combo code, None if unknown."""
ComboAttributes = Callable[[str, str], dict[str, str] | None]
"""``combo_attributes(element code, combo code)``: the combo's ``{category code: option code}``."""
InAnnotation = Callable[[str], bool | None]
"""``in_annotation(element)``: whether its values go in ``<annotation>`` (None: an unknown element)."""
InDataSet = Callable[[str, str], bool | None]
"""``in_data_set(data set, element)``: whether the data set holds the element (None: no such data set)."""


@dataclass(frozen=True)
class AdxCatalog:
    """What reading ADX needs to know of the metadata; each part optional (None: not checked)."""

    combo_code: ComboCode | None = None
    in_annotation: InAnnotation | None = None
    in_data_set: InDataSet | None = None


@dataclass
class XmlRead:
    """An XML file read: its rows, the forms it says are complete, and the rows it refuses.

    ``refused`` are rows that are whole but break a rule of the file (a group's unknown data
    set, an element that is not in it, a text value without ``<annotation>``): the import
    reports them as conflicts of their rows, like the rows the service refuses.
    """

    rows: list[ValueRow]
    completions: list[Completion]
    refused: list[Problem]
    data_set: str | None = None  # DXF2: the document's dataSet

    def __len__(self) -> int:
        return len(self.rows)

ADX_NAMESPACE = "urn:ihe:qrph:adx:2015"
_ADX = "ADX"
_ADX_SHAPE = (f'<adx xmlns="{ADX_NAMESPACE}"><group orgUnit="..." period="2020-01-01/P1Y" dataSet="...">'
              '<dataValue dataElement="..." value="..."/></group></adx>')
_ID_SCHEMES = frozenset({"idScheme", "dataSetIdScheme", "dataElementIdScheme", "orgUnitIdScheme",
                         "categoryOptionComboIdScheme", "attributeOptionComboIdScheme", "categoryIdScheme",
                         "categoryOptionIdScheme"})
_GROUP_OWN = frozenset({"orgUnit", "period", "dataSet", "completeDate", "dataSetComplete",
                        "attributeOptionCombo", "comment", "exported", *_ID_SCHEMES})
"""A group's attributes DHIS2 reserves: never read as (attribute) categories."""
_VALUE_OWN = frozenset({"dataElement", "value", "comment", "followup", "followUp", "deleted", "storedBy",
                        "created", "lastUpdated", "categoryOptionCombo", "attributeOptionCombo", "period",
                        "orgUnit"})
"""A dataValue's attributes DHIS2 reserves: never read as categories."""
_IGNORED_CHILDREN = frozenset({"created", "lastUpdated"})  # DHIS2 writes them, and ignores them on import
_NO_COMBO = "the data element is unknown or has no combo of these category options"
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_Report = Callable[[Problem], None]


@dataclass(frozen=True, slots=True)
class AdxGroup:
    org_unit: str
    period: str
    attribute_option_combo: str | None
    data_set: str | None = None


@dataclass(frozen=True, slots=True)
class AdxValue:
    """A ``<dataValue>`` read and checked, before the catalog names the combo of its categories."""

    row: int
    group: AdxGroup
    data_element: str
    value: str | None
    categories: tuple[tuple[str, str], ...]  # (category code, option code), in the order written
    option_combo: str | None  # an explicit categoryOptionCombo attribute
    comment: str | None  # the comment attribute
    annotation: str | None = None  # the text of <annotation>, None without one
    stored_by: str | None = None
    followup: bool | None = None
    deleted: bool = False


@dataclass(frozen=True)
class ParsedAdx:
    """An ADX document parsed without the database: its values and its problems, in the order read.

    The problems of a value's combo are found later, by :func:`adx_read`, in their places among
    these: the problems of a file are then those, in that order, that one pass would have found.
    :func:`adx_read` reads it once, freeing each entry as it goes. ``completions``: the forms its
    groups say are complete.
    """

    entries: list[AdxValue | Problem]
    completions: list[Completion] = field(default_factory=list)
    refused: list[Problem] = field(default_factory=list)  # completions that name no form

    def __len__(self) -> int:
        return len(self.entries)


class _Full(Exception):
    """:data:`MAX_PROBLEMS` problems found: reading stops, :func:`adx_read` will refuse the file."""


class _Found:
    """What :func:`parse_adx` found so far, values and problems in the order found."""

    def __init__(self) -> None:
        self.entries: list[AdxValue | Problem] = []
        self.completions: list[Completion] = []
        self.refused: list[Problem] = []
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

    A ``dataValue``'s attributes other than those DHIS2 reserves are its categories;
    ``combo_code`` turns them into a combo code (default: the option codes in the order
    written, joined by ``_``, or ``default`` without any). An explicit ``categoryOptionCombo``
    attribute wins. A group's attributes beyond its own are attribute categories, joined the
    same way. Without the catalog, ``value`` is the value and ``<annotation>`` the comment
    (when there is no ``comment``): :func:`adx_read` with an :class:`AdxCatalog` reads as DHIS2.
    """
    return adx_rows(parse_adx(data), combo_code=combo_code)


def parse_adx(data: bytes) -> ParsedAdx:
    """Parse and check an ADX document without the catalog (so outside any transaction).

    Raises when the document is no readable ADX; its other problems wait in the result for
    :func:`adx_read`, which adds those of the combos and refuses the file.
    """
    root = _parse_xml(data)
    found = _Found()
    try:
        for element in root:
            if _local(element, "group", found.values + 1, found.problem):
                _adx_group_values(element, found)
    except _Full:
        pass
    return ParsedAdx(found.entries, found.completions, found.refused)


def adx_rows(parsed: ParsedAdx, *, combo_code: ComboCode | None = None) -> list[ValueRow]:
    """The rows of a parsed ADX document, its categories named as combos by ``combo_code`` (see
    :func:`read_adx`); raises all the problems of the document when it has any."""
    return adx_read(parsed, AdxCatalog(combo_code=combo_code)).rows


def adx_read(parsed: ParsedAdx, catalog: AdxCatalog) -> XmlRead:
    """The rows, completions and refused rows of a parsed ADX document, read with ``catalog``;
    raises all the problems of the document when it has any.

    ``parsed`` is emptied as it is read: the peak is the rows, not the rows and the entries.
    """
    read = XmlRead([], parsed.completions, parsed.refused)
    problems: list[Problem] = []
    entries = parsed.entries
    entries.reverse()
    while entries:
        entry = entries.pop()
        if isinstance(entry, AdxValue):
            read.rows.append(_adx_row(entry, catalog, problems, read.refused))
        else:
            add_problem(problems, entry, _ADX)
    raise_any(problems, _ADX)
    return read


def _adx_group_values(element: ET.Element, found: _Found) -> None:
    row = found.values + 1
    group = _adx_group(element, row, found.problem)
    _completion(element.attrib, group, row, found)
    for number, child in enumerate(_values(element, row, found.problem)):
        _read_value(child, row + number, group, found)


def _completion(attributes: dict[str, str], group: AdxGroup, row: int, found: _Found) -> None:
    """The group's ``dataSetComplete`` (true, false or a day) or ``completeDate``: a Completion."""
    flag, date = attributes.get("dataSetComplete"), attributes.get("completeDate")
    if flag is None and not date:
        return
    if flag is not None and flag.strip().lower() in ("false", ""):
        return
    field_name = "dataSetComplete" if flag is not None else "completeDate"
    day = date if flag is None or flag.strip().lower() == "true" else flag
    if day is not None and not is_day(day):
        found.problem(Problem(N_("not true or a date"), row=row, field=field_name, value=day,
                              expected=N_("true, or the day the form was completed, e.g. 2020-02-03")))
    elif not group.data_set:
        found.refused.append(Problem(N_("a form is complete only in a data set"), row=row,
                                     field=field_name, value=flag or date,
                                     expected=N_("a dataSet attribute on the same <group>")))
    elif group.org_unit and group.period:
        found.completions.append(Completion(group.data_set, group.period, group.org_unit,
                                            group.attribute_option_combo, day[:10] if day else None, row))


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$")


def is_day(text: str) -> bool:
    """Whether ``text`` is a calendar day, alone or with a time (``2020-02-03``, ``2020-02-03T10:00Z``)."""
    try:
        return bool(_DAY.match(text)) and bool(dt.date.fromisoformat(text[:10]))
    except ValueError:
        return False


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
    return AdxGroup(attributes.get("orgUnit", ""), period, attribute, attributes.get("dataSet") or None)


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
    own: dict[str, str] = {}
    categories: list[tuple[str, str]] = []
    for name, value in element.attrib.items():  # one pass: this runs for every value of the file
        if name in _VALUE_OWN:
            own[name] = value
        elif "{" not in name:
            categories.append((name, value))
    annotation_problems: list[Problem] = []
    annotation = _annotation(element, row, annotation_problems.append) if len(element) else None
    followup = _flag(own.get("followup", own.get("followUp")), "followup", row, annotation_problems.append)
    deleted = _flag(own.get("deleted"), "deleted", row, annotation_problems.append)
    found.value(AdxValue(row, group, own.get("dataElement", ""), own.get("value") or None,
                         tuple(categories), own.get("categoryOptionCombo") or None,
                         own.get("comment") or None, annotation, own.get("storedBy") or None, followup,
                         bool(deleted)))
    for problem in annotation_problems:
        found.problem(problem)


def _flag(text: str | None, name: str, row: int, problem: _Report) -> bool | None:
    if text is None or text.strip() == "":
        return None
    if text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    problem(Problem(N_("not true or false"), row=row, field=name, value=text, expected="true or false"))
    return None


def _adx_row(value: AdxValue, catalog: AdxCatalog, problems: list[Problem],
             refused: list[Problem]) -> ValueRow:
    categories = dict(value.categories)
    combo = value.option_combo or _combo(value.data_element, categories, catalog.combo_code)
    if not value.data_element:
        expected = N_("a dataElement attribute with the data element code")
        add_problem(problems, Problem(N_("the dataValue has no dataElement"), row=value.row,
                                      field="dataElement", expected=expected), _ADX)
    elif combo is None:
        shown = ", ".join(f"{name}={option}" for name, option in categories.items())
        add_problem(problems, Problem(_NO_COMBO, row=value.row, field="categoryOptionCombo",
                                      value=shown or None,
                                      expected=N_("one option of each category of the data element")), _ADX)
    check = catalog.in_annotation
    in_annotation = check(value.data_element) if check is not None and value.data_element else None
    text, comment = value.value, value.comment
    if in_annotation:
        text = value.annotation or None
        if value.annotation is None and not value.deleted:
            refused.append(Problem(N_("the value of this data element is not in <annotation>"), row=value.row,
                                   field="annotation", value=value.value,
                                   expected=N_('value="0" and the value in <annotation>, as DHIS2 writes '
                                               "every value that is not a number")))
    elif comment is None:
        comment = value.annotation or None
    group = value.group
    _check_data_set(value, catalog, refused)
    return ValueRow(value.data_element, group.period, group.org_unit, combo, group.attribute_option_combo,
                    text, value.stored_by, comment, value.followup, value.deleted, value.row)


def _check_data_set(value: AdxValue, catalog: AdxCatalog, refused: list[Problem]) -> None:
    """A group's dataSet must exist, and hold each of its values' data elements."""
    data_set = value.group.data_set
    if data_set is None or catalog.in_data_set is None or not value.data_element:
        return
    holds = catalog.in_data_set(data_set, value.data_element)
    if holds is None:
        refused.append(Problem(N_("no data set has this code or uid"), row=value.row, field="dataSet",
                               value=data_set, expected=N_("the code or uid of a data set")))
    elif not holds:
        refused.append(Problem(M_("the data element is not in data set {data_set}", data_set=data_set),
                               row=value.row, field="dataElement", value=value.data_element,
                               expected=M_("a data element of data set {data_set}", data_set=data_set)))


def _combo(data_element: str, categories: dict[str, str], combo_code: ComboCode | None) -> str | None:
    if combo_code is not None:
        return combo_code(data_element, categories)
    return "_".join(categories.values()) or DEFAULT


def _annotation(element: ET.Element, row: int, problem: _Report) -> str | None:
    """The text of ``<annotation>`` (None without one); DHIS2's ``<created>``, ``<lastUpdated>`` skipped."""
    texts = [child.text or "" for child in element
             if not _ignored(child) and _local(child, "annotation", row, problem)]
    return "\n".join(texts) if texts else None


def _ignored(child: ET.Element) -> bool:
    return child.tag.rpartition("}")[2] in _IGNORED_CHILDREN and child.tag in (
        child.tag.rpartition("}")[2], f"{{{ADX_NAMESPACE}}}{child.tag.rpartition('}')[2]}")


def write_adx(rows: Iterable[ValueRow], out: BinaryIO, *, data_set: str | None = None,
              combo_attributes: ComboAttributes | None = None, exported: str | None = None,
              in_annotation: InAnnotation | None = None) -> None:
    """Write an ADX document: one ``<group>`` for each unit, period and attribute combo.

    ``combo_attributes`` gives each combo's category attributes; without it, or when it
    returns None, a combo other than ``default`` is written as a ``categoryOptionCombo``
    attribute. ADX (and DHIS2) want the ``dataSet`` of each group: give ``data_set``.
    ``in_annotation`` says which elements' values are written ``value="0"`` with the value in
    ``<annotation>`` (DHIS2's rule for every type that is not a number); the comment is the
    ``comment`` attribute. Deleted rows are left out: ADX cannot say that a value was deleted.
    """
    stamp = exported or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<adx xmlns="{ADX_NAMESPACE}" exported='
              f'{quoteattr(stamp)}>\n'.encode())
    for key, group in _adx_groups(rows).items():
        out.write(_adx_group_tag(*key, data_set).encode())
        out.write("".join(_adx_value(row, combo_attributes, in_annotation) for row in group).encode())
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


def _adx_value(row: ValueRow, combo_attributes: ComboAttributes | None,
               in_annotation: InAnnotation | None) -> str:
    categories = _adx_categories(row, combo_attributes)
    annotated = bool(in_annotation and in_annotation(row.data_element))
    attributes = {"dataElement": row.data_element, **categories, "value": "0" if annotated else row.value,
                  "comment": row.comment}
    if not annotated or row.value is None:
        return f"    <dataValue {_xml_attributes(attributes)}/>\n"
    return (f"    <dataValue {_xml_attributes(attributes)}><annotation>{escape(row.value)}</annotation>"
            "</dataValue>\n")


def _adx_categories(row: ValueRow, combo_attributes: ComboAttributes | None) -> dict[str, str | None]:
    combo = row.category_option_combo or DEFAULT
    options = combo_attributes(row.data_element, combo) if combo_attributes is not None else None
    if options is None:
        return {} if combo == DEFAULT else {"categoryOptionCombo": combo}
    for name in options:
        if not _XML_NAME.match(name) or name in _VALUE_OWN:
            raise ValidationError(N_("A category code cannot be written as an ADX attribute."), [
                Problem(N_("not an XML attribute name"), row=row.row or None, field="category", value=name,
                        expected=N_("a category code that begins with a letter or '_'"))])
    return dict(options)
