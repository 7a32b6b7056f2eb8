"""ADX and DXF2 files meet the catalog: what reading them as DHIS2 does needs of the metadata.

ADX carries a value that is not a number in ``<annotation>`` (DHIS2's rule), so reading it takes
each element's value type; a group's ``dataSet`` must exist and hold the group's elements. A DXF2
document's ``dataSet`` must exist. Rows that break these rules are refused as conflicts of their
rows (:func:`file_conflicts`); the forms a file says are complete go to the import with its rows.
"""

from __future__ import annotations

from collections.abc import Callable

from jiaowei.domains import N_
from jiaowei.errors import Problem
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, Element
from jiaowei.indicators.model import ImportConflict, ValueRow, carried_in_annotation
from jiaowei.indicators.values.formats.adx import (
    AdxCatalog,
    ComboCode,
    InAnnotation,
    InDataSet,
    ParsedAdx,
    XmlRead,
    adx_read,
    parse_adx,
)
from jiaowei.indicators.values.formats.dxf2 import parse_dxf2
from jiaowei.indicators.values.schemes import IdSchemes, data_set_finder, element_finder

XML_FORMATS = ("adx", "dxf2")
_COMPLETIONS = frozenset({"dataSetComplete", "completeDate"})


def in_annotation_for(catalog: Catalog, schemes: IdSchemes | None = None) -> InAnnotation:
    """Whether an element's values go in ADX's ``<annotation>`` (None for an unknown element); the
    element named in ``schemes`` (default: by code or uid)."""
    element_of = element_lookup(catalog, schemes)

    def in_annotation(element_key: str) -> bool | None:
        element = element_of(element_key)
        return None if element is None else carried_in_annotation(element.value_type)

    return in_annotation


def in_data_set_for(catalog: Catalog, schemes: IdSchemes | None = None) -> InDataSet:
    """Whether a data set holds an element (None: no such data set; an unknown element passes, the
    import reports it); both named in ``schemes`` (default: by code or uid)."""
    element_of, data_set_of = element_lookup(catalog, schemes), data_set_lookup(catalog, schemes)

    def in_data_set(data_set_key: str, element_key: str) -> bool | None:
        data_set, element = data_set_of(data_set_key), element_of(element_key)
        if data_set is None:
            return None
        return element is None or element.id in data_set.element_ids

    return in_data_set


def element_lookup(catalog: Catalog, schemes: IdSchemes | None) -> Callable[[str], Element | None]:
    """The element a key names in the data element scheme (default: code or uid)."""
    found = element_finder(catalog, schemes.data_element if schemes else None)
    return catalog.element if found is None else found.get


def data_set_lookup(catalog: Catalog, schemes: IdSchemes | None) -> Callable[[str], DataSet | None]:
    """The data set a key names in the data set scheme (default: code or uid)."""
    found = data_set_finder(catalog, schemes.data_set if schemes else None)
    return catalog.data_set if found is None else found.get


def adx_catalog(catalog: Catalog, combo_code: ComboCode, schemes: IdSchemes | None = None) -> AdxCatalog:
    """What reading ADX needs of the catalog: combos by their categories, values in ``<annotation>``,
    data sets and their elements; identifiers in ``schemes`` (default: code or uid)."""
    return AdxCatalog(combo_code, in_annotation_for(catalog, schemes), in_data_set_for(catalog, schemes))


def xml_read(catalog: Catalog, *, data: bytes, format: str,
             read: list[ValueRow] | ParsedAdx | XmlRead | None, combo_code: ComboCode,
             schemes: IdSchemes | None = None) -> XmlRead:
    """An ADX or DXF2 file read with the catalog: its rows, completions and refused rows (``read``:
    the file parsed already; a list of rows read elsewhere is taken as it is). An ADX file's
    elements and data sets are named in ``schemes`` (default: code or uid)."""
    if isinstance(read, list):
        return XmlRead(read, [], [])
    if format == "adx":
        parsed = read if isinstance(read, ParsedAdx) else parse_adx(data)
        return adx_read(parsed, adx_catalog(catalog, combo_code, schemes))
    found = read if isinstance(read, XmlRead) else parse_dxf2(data)
    return known_data_set(found, catalog)


def known_data_set(read: XmlRead, catalog: Catalog) -> XmlRead:
    """A DXF2 document's ``dataSet`` must exist (DHIS2 refuses the document otherwise)."""
    key = read.data_set
    if key is not None and catalog.data_set(key) is None:
        expected = N_("the code or uid of a data set")
        read.refused.extend(Problem(N_("no data set has this code or uid"), row=row.row, field="dataSet",
                                    value=key, expected=expected) for row in read.rows)
    return read


def file_conflicts(read: XmlRead) -> tuple[list[ValueRow], list[ImportConflict]]:
    """The rows to import, and the conflicts of the rows the file's own rules refuse."""
    conflicts = [ImportConflict(p.row or 0, p.field or "", p.value, p.message, p.expected)
                 for p in read.refused]
    refused = {c.row for c in conflicts if c.field not in _COMPLETIONS}  # a completion's row stays
    return [row for row in read.rows if row.row not in refused], conflicts
