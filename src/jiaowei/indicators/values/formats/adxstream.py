"""ADX read as it streams from a file (``exchange.import_path``): memory holds one ``<group>`` at a time.

:class:`AdxStream` gives the rows :func:`~jiaowei.indicators.values.formats.adx.adx_read` gives for
the whole document, in the same order, with the same problems, refused rows and completions, but
one ``<group>`` at a time: defusedxml's ``iterparse`` (no DTD, no entities) hands over each group
once it is read whole, the file's rules are applied to it (``dataSet``, ``dataSetComplete`` and
``completeDate``, values in ``<annotation>``, reserved attributes: the same functions as the
whole-file reader), and the group is freed. A row the file's rules refuse is not given: it is in
:attr:`AdxStream.refused`, as in :attr:`XmlRead.refused`. Problems are raised together at the end
of the file (or at ``MAX_PROBLEMS``), and no row is given after the first one (the import of that
file writes nothing anyway). Pure: no database (the catalog is an :class:`AdxCatalog`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from jiaowei.errors import Problem
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values.formats.adx import (
    _ADX,
    _ADX_SHAPE,
    ADX_NAMESPACE,
    AdxCatalog,
    AdxValue,
    _adx_group_values,
    _adx_row,
    _Found,
    _Full,
    _local,
)
from jiaowei.indicators.values.formats.common import (
    Completion,
    add_problem,
    gc_paused,
    raise_any,
    unreadable,
)
from jiaowei.indicators.values.formats.dxf2 import Utf8Checked, xml_events

_PLAIN = "plain ADX XML without <!DOCTYPE> or <!ENTITY>"
_ROOT = (f"{{{ADX_NAMESPACE}}}adx", "adx")
_COMPLETIONS = frozenset({"dataSetComplete", "completeDate"})  # a refused completion keeps its row


class AdxStream:
    """An ADX document on disk, read one ``<group>`` at a time with ``catalog``: its rows from
    :meth:`rows`; :attr:`completions` and :attr:`refused` grow as they are read (whole once
    :meth:`rows` is exhausted). Close it when done."""

    def __init__(self, path: Path, catalog: AdxCatalog) -> None:
        self._file = path.open("rb")
        self._catalog = catalog
        self._events = xml_events(Utf8Checked(self._file, _ADX), _ADX, _ADX_SHAPE, _PLAIN)
        try:
            root = next(self._events, None)
        except BaseException:
            self._file.close()
            raise
        if root is None or root.tag not in _ROOT:
            self._file.close()
            found = "empty" if root is None else f"<{root.tag}>"
            raise unreadable(_ADX, f"the document is {found}, not <adx>", _ADX_SHAPE)
        self._found = _Found()
        self.completions: list[Completion] = self._found.completions
        self.refused: list[Problem] = self._found.refused

    def close(self) -> None:
        self._file.close()

    def rows(self) -> Iterator[ValueRow]:
        """Each row the file's rules accept; all the document's problems raised at its end."""
        found = self._found
        problems: list[Problem] = []
        while True:
            with gc_paused():  # a group's elements and rows are acyclic: the collector would only slow it
                element = next(self._events, None)
                full = element is not None and self._read_group(element, found)
                rows = list(self._group_rows(found, problems))
            yield from rows
            if element is None or full:
                break
        raise_any(problems, _ADX)

    @staticmethod
    def _read_group(element: ET.Element, found: _Found) -> bool:
        """Parse one child of ``<adx>`` into ``found``; True when the problems are full."""
        try:
            if _local(element, "group", found.values + 1, found.problem):
                _adx_group_values(element, found)
        except _Full:
            return True
        return False

    def _group_rows(self, found: _Found, problems: list[Problem]) -> Iterator[ValueRow]:
        """The entries of the group just parsed, as :func:`adx_read` reads them, then forgotten."""
        entries, found.entries = found.entries, []
        refused = self.refused
        for entry in entries:
            if not isinstance(entry, AdxValue):
                add_problem(problems, entry, _ADX)
                continue
            before = len(refused)
            row = _adx_row(entry, self._catalog, problems, refused)
            if not problems and all(p.field in _COMPLETIONS for p in refused[before:]):
                yield row
