"""DXF2 XML, DHIS2's default XML for data values: ``<dataValueSet>`` of ``<dataValue>``s, in and out.

    <dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0" dataSet="..." completeDate="2012-01-09"
                  period="201201" orgUnit="..." attributeOptionCombo="...">
      <dataValue dataElement="..." period="..." orgUnit="..." categoryOptionCombo="..."
                 attributeOptionCombo="..." value="..." storedBy="..." created="..." lastUpdated="..."
                 comment="..." followUp="false" deleted="false"/>
    </dataValueSet>

As DHIS2 reads it (its ``DataEntryInput.fromDxf2Xml``): the document's ``period``, ``orgUnit`` and
``attributeOptionCombo`` stand for values that omit theirs; ``completeDate`` with ``dataSet``,
``period`` and ``orgUnit`` says the form is complete (a
:class:`~jiaowei.indicators.values.formats.common.Completion`). ``followUp`` may be written
``followup``; ``timestamp``, ``created`` and ``lastUpdated`` are not imported (DHIS2 ignores them
too). ``idScheme`` attributes of the document may say ``UID`` or ``CODE``, which jiaowei's own rule
(a code, else a uid) reads; others are refused, naming the attribute.

The reader streams: defusedxml's ``iterparse`` (no DTD, no entities), each ``<dataValue>`` cleared
once read, so a big file never becomes a whole tree. Every problem names its row (the place of
the ``<dataValue>`` in the document, from 1), field and value. Pure: no database.
"""

from __future__ import annotations

import codecs
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import BinaryIO
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values.formats.adx import XmlRead, is_day
from jiaowei.indicators.values.formats.common import Completion, add_problem, decode, raise_any, unreadable

DXF2_NAMESPACE = "http://dhis2.org/schema/dxf/2.0"
_DXF2 = "DXF2 XML"
_SHAPE = (f'<dataValueSet xmlns="{DXF2_NAMESPACE}"><dataValue dataElement="..." period="..." '
          'orgUnit="..." value="..."/></dataValueSet>')
_ROOT, _VALUE = (f"{{{DXF2_NAMESPACE}}}dataValueSet", "dataValueSet"), (f"{{{DXF2_NAMESPACE}}}dataValue",
                                                                        "dataValue")
_PLAIN = "plain DXF2 XML without <!DOCTYPE> or <!ENTITY>"
_DEFAULTS = ("period", "orgUnit", "attributeOptionCombo")
_ID_SCHEMES = ("idScheme", "dataSetIdScheme", "dataElementIdScheme", "orgUnitIdScheme",
               "categoryOptionComboIdScheme", "attributeOptionComboIdScheme")
_READ_SCHEMES = frozenset({"uid", "code"})


_ROOT_TAG = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_PROLOG = re.compile(rb"\A(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*", re.S)


def xml_format(data: bytes) -> str:
    """``dxf2`` when an XML document's root is ``<dataValueSet>``, else ``adx`` (its reader names
    any other root). Read from the first 4 KB (UTF-8 or UTF-16: NUL bytes dropped)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf\xff\xfe").replace(b"\x00", b"")
    found = _ROOT_TAG.match(head, _PROLOG.match(head).end())  # type: ignore[union-attr]  # \A(...)* always matches
    return "dxf2" if found and found.group(1) == b"dataValueSet" else "adx"


def read_dxf2(data: bytes) -> list[ValueRow]:
    """The data values of a DXF2 ``<dataValueSet>`` (see the module); raises all its problems."""
    return parse_dxf2(data).rows


def parse_dxf2(data: bytes) -> XmlRead:
    """The rows of a DXF2 document and the form its ``completeDate`` says is complete."""
    _utf8(data)
    problems: list[Problem] = []
    events = xml_events(io.BytesIO(data), _DXF2, _SHAPE, _PLAIN)
    defaults = _header(events, problems)
    read = XmlRead([], [], [], defaults.get("dataSet") or None)
    read.rows.extend(row for row in _rows(events, defaults, problems) if row is not None)
    _complete(defaults, read)
    raise_any(problems, _DXF2)
    return read


class Dxf2Stream:
    """A DXF2 document on disk read as it streams (``exchange.import_path``): :attr:`read` (its
    ``dataSet``, completion and refused ``completeDate``, no rows) once opened, then its rows from
    :meth:`rows`, the same as :func:`parse_dxf2` gives, with the same problems raised at the end;
    no row is given after the first problem (the import of that file writes nothing anyway)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")
        self._problems: list[Problem] = []
        self._events = xml_events(Utf8Checked(self._file, _DXF2), _DXF2, _SHAPE, _PLAIN)
        try:
            self._defaults = _header(self._events, self._problems)
        except BaseException:
            self._file.close()
            raise
        self.read = XmlRead([], [], [], self._defaults.get("dataSet") or None)
        _complete(self._defaults, self.read)

    def close(self) -> None:
        self._file.close()

    def rows(self) -> Iterator[ValueRow]:
        for row in _rows(self._events, self._defaults, self._problems):
            if row is not None and not self._problems:
                yield row
        raise_any(self._problems, _DXF2)


class Utf8Checked:
    """A binary file whose bytes are checked as UTF-8 as they are read (as :func:`_utf8` checks);
    ``what``: the format named when they are not."""

    def __init__(self, file: BinaryIO, what: str) -> None:
        self._file, self._lines, self._what = file, 0, what
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        pending = self._decoder.getstate()[0]
        try:
            self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = self._lines + (pending + chunk)[: exc.start].count(b"\n") + 1
            expected = N_("a file saved as UTF-8")
            raise unreadable(self._what, f"not UTF-8 text (line {line})", expected) from None
        self._lines += chunk.count(b"\n")
        return chunk


def _rows(events: Iterator[ET.Element], defaults: dict[str, str],
          problems: list[Problem]) -> Iterator[ValueRow | None]:
    """Each ``<dataValue>`` read (None where it has a problem), cleared once read."""
    for row, element in enumerate(events, 1):
        if element.tag in _VALUE:
            yield _value(element.attrib, row, defaults, problems)
        else:
            add_problem(problems, Problem(N_("unknown element"), row=row, field=str(element.tag),
                                          expected="<dataValue>"), _DXF2)
        element.clear()


def _utf8(data: bytes) -> None:
    """Refuse text that is not UTF-8 (as :func:`decode` says), a megabyte at a time: no copy of the file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), 1 << 20):
            decoder.decode(data[start:start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        decode(data, _DXF2)


def xml_events(source: BinaryIO | Utf8Checked, what: str, shape: str, plain: str) -> Iterator[ET.Element]:
    """The root first, then each child of the root once it is read whole; what was read is freed.
    ``what``, ``shape`` and ``plain``: the format named, and the document expected, when the document
    is not well-formed or declares a DTD."""
    parser = safe_xml.iterparse(source, events=("start", "end"), forbid_dtd=True,
                                forbid_entities=True, forbid_external=True)
    depth, root = 0, None
    try:
        for event, element in parser:
            depth += 1 if event == "start" else -1
            if root is None:
                root = element
                yield element
            elif event == "end" and depth == 1:
                yield element
                root.clear()  # the root's attributes were read already; its children are done with
    except DefusedXmlException:
        message = N_("the document declares a DOCTYPE or entities, which are refused for safety")
        raise unreadable(what, message, plain) from None
    except ET.ParseError as exc:
        line, column = exc.position
        message = f"not well-formed XML at line {line}, column {column + 1}: {expat.ErrorString(exc.code)}"
        raise unreadable(what, message, shape) from None


def _header(events: Iterator[ET.Element], problems: list[Problem]) -> dict[str, str]:
    """The root's attributes (the defaults of its values), after checking it is a dataValueSet."""
    root = next(events, None)
    if root is None or root.tag not in _ROOT:
        found = "empty" if root is None else f"<{root.tag}>"
        raise unreadable(_DXF2, M_("the document is {found}, not <dataValueSet>", found=found), _SHAPE)
    attributes = dict(root.attrib)
    for name in _ID_SCHEMES:
        scheme = attributes.get(name)
        if scheme is not None and scheme.strip().lower() not in _READ_SCHEMES:
            expected = N_("UID or CODE (jiaowei reads a code, else a uid), or the request's idScheme")
            problems.append(Problem(N_("this id scheme cannot be read from the file"), field=name,
                                    value=scheme, expected=expected))
    return attributes


def _value(attributes: dict[str, str], row: int, defaults: dict[str, str],
           problems: list[Problem]) -> ValueRow | None:
    get = attributes.get
    found: list[Problem] = []
    element, period, unit = get("dataElement"), get("period") or defaults.get("period"), (
        get("orgUnit") or defaults.get("orgUnit"))
    for name, text in (("dataElement", element), ("period", period), ("orgUnit", unit)):
        if not text:
            where = M_(" (or once on <dataValueSet>)") if name in _DEFAULTS else ""
            found.append(Problem(M_("{name} is missing", name=name), row=row, field=name,
                                 expected=M_("a {name} attribute on each dataValue{where}", name=name,
                                             where=where)))
    followup = _flag(get("followUp", get("followup")), "followUp", row, found)
    deleted = _flag(get("deleted"), "deleted", row, found)
    for problem in found:
        add_problem(problems, problem, _DXF2)
    if found:
        return None
    return ValueRow(element or "", period or "", unit or "", get("categoryOptionCombo") or None,
                    get("attributeOptionCombo") or defaults.get("attributeOptionCombo") or None,
                    get("value") or None, get("storedBy") or None, get("comment") or None, followup,
                    bool(deleted), row)


def _flag(text: str | None, name: str, row: int, found: list[Problem]) -> bool | None:
    if text is None or text.strip() == "":
        return None
    if text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    found.append(Problem(N_("not true or false"), row=row, field=name, value=text, expected="true or false"))
    return None


def _complete(defaults: dict[str, str], read: XmlRead) -> None:
    """``completeDate`` says the document's form is complete: it needs its data set, period and unit."""
    date = defaults.get("completeDate")
    if not date:
        return
    if not is_day(date):
        read.refused.append(Problem(N_("not a date"), row=1, field="completeDate", value=date,
                                    expected=N_("the day the form was completed, e.g. 2020-02-03")))
        return
    data_set, period, unit = (defaults.get(name) for name in ("dataSet", "period", "orgUnit"))
    if data_set and period and unit:
        attribute = defaults.get("attributeOptionCombo") or None
        read.completions.append(Completion(data_set, period, unit, attribute, date[:10], 1))
        return
    missing = ", ".join(name for name, text in (("dataSet", data_set), ("period", period), ("orgUnit", unit))
                        if not text)
    read.refused.append(Problem(M_("completeDate names no form: {missing} missing", missing=missing), row=1,
                                field="completeDate", value=date,
                                expected=N_("dataSet, period and orgUnit on <dataValueSet>")))


def write_dxf2(rows: Iterable[ValueRow], out: BinaryIO, *, data_set: str | None = None) -> None:
    """Write DHIS2's ``<dataValueSet>``, each value with the attributes DHIS2 writes (empty ones left
    out; ``created``/``lastUpdated`` when the rows carry them; ``deleted`` only when true)."""
    head = f" dataSet={quoteattr(data_set)}" if data_set else ""
    out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<dataValueSet xmlns="{DXF2_NAMESPACE}"{head}>\n'
              .encode())
    iterator = iter(rows)
    while batch := list(islice(iterator, 10_000)):
        out.write("".join(_dxf2_value(row) for row in batch).encode())
    out.write(b"</dataValueSet>\n")


def _dxf2_value(row: ValueRow) -> str:
    attributes = {"dataElement": row.data_element, "period": row.period, "orgUnit": row.org_unit,
                  "categoryOptionCombo": row.category_option_combo,
                  "attributeOptionCombo": row.attribute_option_combo, "value": row.value,
                  "storedBy": row.stored_by, "created": row.created, "lastUpdated": row.last_updated,
                  "comment": row.comment,
                  "followUp": None if row.followup is None else str(row.followup).lower(),
                  "deleted": "true" if row.deleted else None}
    return "  <dataValue " + " ".join(f"{name}={quoteattr(text)}" for name, text in attributes.items()
                                      if text is not None) + "/>\n"
