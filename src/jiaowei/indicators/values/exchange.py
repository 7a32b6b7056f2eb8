"""Data value files in and out: every format (formats.py) meets the data value service here.

The API and the CLI call these three use cases, so a file behaves the same whichever way it
arrives: :func:`import_file`, :func:`export_file` and :func:`template` (the pre-filled XLSX
a school fills in and uploads).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_unit
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators.metadata.catalog import Catalog, load_catalog
from jiaowei.indicators.model import DEFAULT, ImportStrategy, ImportSummary, ValueRow
from jiaowei.indicators.values import formats
from jiaowei.indicators.values import service as values
from jiaowei.indicators.values.checking import Progress
from jiaowei.indicators.values.formats.adx import ParsedAdx, adx_rows
from jiaowei.indicators.values.formats.xlsx import TemplateForm, TemplateRow, write_template
from jiaowei.indicators.values.queries import form_problems, form_values, unit_name
from jiaowei.registry import queries as registry


def combo_code_for(catalog: Catalog) -> Callable[[str, dict[str, str]], str | None]:
    """ADX names a cell by category attributes; this finds the option combo code they mean."""

    def combo_code(element_key: str, attributes: dict[str, str]) -> str | None:
        # Unknown elements and attribute sets that name no combo still get a code (the options
        # joined), so that the import reports them row by row like every other conflict.
        element = catalog.element(element_key)
        if not attributes:
            return DEFAULT
        categories = catalog.combo_categories.get(element.combo_id, ()) if element else ()
        if element is None or set(attributes) != set(categories):
            return "_".join(attributes[c] for c in sorted(attributes))
        return "_".join(attributes[c] for c in categories)

    return combo_code


def combo_attributes_for(catalog: Catalog) -> Callable[[str, str], dict[str, str] | None]:
    """The category attributes ADX writes for an element's option combo."""

    def attributes(element_key: str, coc_code: str) -> dict[str, str] | None:
        element = catalog.element(element_key)
        coc = catalog.option_combo(element, coc_code) if element else None
        if element is None or coc is None or coc.code == DEFAULT:
            return None
        return dict(zip(catalog.combo_categories.get(element.combo_id, ()), coc.options, strict=False))

    return attributes


def read_rows(conn: Connection, *, data: bytes, format: str,
              read: list[ValueRow] | ParsedAdx | None = None) -> list[ValueRow]:
    """The rows of a file, or of the file ``read`` already: an ADX file's combos named by the catalog."""
    if isinstance(read, ParsedAdx):
        return adx_rows(read, combo_code=combo_code_for(load_catalog(conn)))
    if read is not None:
        return read
    if format == "adx":
        return formats.read(format, data, combo_code=combo_code_for(load_catalog(conn)))
    return formats.read(format, data)


def import_file(
    conn: Connection,
    *,
    principal: Principal,
    data: bytes,
    filename: str = "",
    content_type: str | None = None,
    format: str | None = None,
    dry_run: bool = False,
    valid_only: bool = False,
    strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE,
    progress: Progress | None = None,
    rows: list[ValueRow] | ParsedAdx | None = None,
) -> ImportSummary:
    """Read a file in any format and import its values; see values.import_values. ``rows``: the file
    read already (outside the transaction, by ``values/uploads.py``; ADX parsed, its combos unnamed)."""
    if not data:
        raise ValidationError(
            N_("The file is empty."), [Problem("empty file", field="file", expected=_formats())]
        )
    chosen = format or formats.detect_format(filename, content_type, data)
    if chosen not in formats.FORMATS:
        raise ValidationError(
            N_("Unknown format."), [Problem(N_("unknown format"), field="format", value=chosen,
                                            expected=_formats())]
        )
    return values.import_values(
        conn,
        principal=principal,
        rows=read_rows(conn, data=data, format=chosen, read=rows),
        source=chosen,
        strategy=strategy,
        dry_run=dry_run,
        valid_only=valid_only,
        file_digest=values.digest_of(data),
        progress=progress,
    )


def _formats() -> str:
    return ", ".join(formats.FORMATS)


@dataclass(frozen=True)
class ExportedFile:
    data: bytes
    media_type: str
    filename: str


def export_file(
    conn: Connection,
    *,
    principal: Principal,
    format: str,
    data_set: str | None = None,
    periods: Sequence[str] = (),
    units: Sequence[str] = (),
    children: bool = False,
) -> ExportedFile:
    if format not in formats.FORMATS or format == "xlsx":
        choices = ", ".join(f for f in formats.FORMATS if f != "xlsx")
        raise ValidationError(
            N_("Unknown export format."),
            [
                Problem(
                    N_("not an export format (XLSX is the per-form template)"),
                    field="format",
                    value=format,
                    expected=choices,
                )
            ],
        )
    rows = values.export_values(
        conn, principal=principal, data_set=data_set, periods=periods, units=units, children=children
    )
    buffer = io.BytesIO()
    extra: dict[str, Any] = {"data_set": data_set} if format in ("adx", "dhis2-json") and data_set else {}
    if format == "adx":
        extra["combo_attributes"] = combo_attributes_for(load_catalog(conn))
    formats.write(format, rows, buffer, **extra)
    suffix = {"dhis2-json": "json", "dhis2-csv": "csv", "adx": "adx.xml"}[format]
    name = "-".join(["dataValueSets", *(data_set and [data_set] or []), *periods]) + f".{suffix}"
    return ExportedFile(buffer.getvalue(), formats.MEDIA_TYPES[format], name)


def template(
    conn: Connection,
    *,
    principal: Principal,
    data_set: str,
    period: str,
    unit: str,
    language: str = "zh_CN",
) -> ExportedFile:
    """The pre-filled XLSX form for one unit, data set and period (current values filled in)."""
    catalog = load_catalog(conn)
    ds = catalog.data_set(data_set)
    problems = form_problems(ds, data_set, period, ds_field="dataSet", period_field="period")
    if problems or ds is None:
        raise ValidationError(N_("No template for these parameters."), problems)
    unit_id = registry.id_of(conn, unit)
    if unit_id is None:
        raise NotFound(M_("No unit with code {code!r}.", code=unit))
    require_unit(conn, principal, Action.VIEW, unit_id, pe.parse(period).end, unit)
    current = form_values(conn, principal=principal, data_set=ds.code, period=period, unit=unit)
    zh = language.startswith("zh")
    rows = []
    for element_id in ds.element_ids:
        element = catalog.elements[element_id]
        for coc in catalog.cocs_of(element.combo_id):
            stored = current.get((element.code, coc.code))
            rows.append(
                TemplateRow(
                    element_code=element.code,
                    element_name=element.name_zh if zh else element.name_en,
                    combo_code=coc.code,
                    combo_name=coc.name_zh if zh else coc.name_en,
                    value_type=element.value_type.value,
                    value=stored.value if stored else None,
                    comment=stored.comment if stored else None,
                )
            )
    name = unit_name(conn, unit_id, zh)
    form = TemplateForm(
        data_set=ds.code,
        data_set_name=ds.name_zh if zh else ds.name_en,
        period=period,
        unit=unit,
        unit_name=name,
        language="zh_CN" if zh else "en",
        rows=rows,
    )
    buffer = io.BytesIO()
    write_template(buffer, form=form)
    return ExportedFile(buffer.getvalue(), formats.MEDIA_TYPES["xlsx"], f"{ds.code}-{period}-{unit}.xlsx")
