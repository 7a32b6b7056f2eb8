"""Data value files in and out: every format (formats.py) meets the data value service here.

The API and the CLI call these three use cases, so a file behaves the same whichever way it
arrives: :func:`import_file`, :func:`export_file` and :func:`template` (the pre-filled XLSX
a school fills in and uploads).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_unit
from jiaowei.domains import N_
from jiaowei.errors import M_, JiaoweiError, NotFound, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.metadata.catalog import Catalog, load_catalog
from jiaowei.indicators.model import DEFAULT, ImportConflict, ImportStrategy, ImportSummary, ValueRow
from jiaowei.indicators.values import formats, xmlfiles
from jiaowei.indicators.values import service as values
from jiaowei.indicators.values.checking import Progress
from jiaowei.indicators.values.formats.adx import ParsedAdx, XmlRead, adx_rows
from jiaowei.indicators.values.formats.adxstream import AdxStream
from jiaowei.indicators.values.formats.common import Completion
from jiaowei.indicators.values.formats.dxf2 import Dxf2Stream
from jiaowei.indicators.values.formats.streaming import JsonStream, stream_csv
from jiaowei.indicators.values.formats.xlsx import TemplateForm, TemplateRow, write_template
from jiaowei.indicators.values.queries import form_problems, form_values, unit_name
from jiaowei.indicators.values.schemes import (
    CategoryNames,
    IdScheme,
    IdSchemes,
    adx_out,
    category_names,
    data_set_out,
    encode_rows,
    resolve_rows,
    unit_codes_by,
)
from jiaowei.indicators.values.streams import ROW_FIELDS, Resolving, Spooled, head_of, streamed_format
from jiaowei.registry import queries as registry


def combo_code_for(catalog: Catalog, *, names: CategoryNames | None = None,
                   schemes: IdSchemes | None = None) -> Callable[[str, dict[str, str]], str | None]:
    """ADX names a cell by category attributes; this finds the option combo code they mean (the
    element, categories and options named in ``schemes`` and ``names``; default: codes, or uids)."""
    element_of = xmlfiles.element_lookup(catalog, schemes)

    def combo_code(element_key: str, attributes: dict[str, str]) -> str | None:
        # Unknown elements and attribute sets that name no combo still get a code (the options
        # joined), so that the import reports them row by row like every other conflict.
        element = element_of(element_key)
        if not attributes:
            return DEFAULT
        if names is not None:
            attributes = names.codes(attributes)
        categories = catalog.combo_categories.get(element.combo_id, ()) if element else ()
        if element is None or set(attributes) != set(categories):
            return "_".join(attributes[c] for c in sorted(attributes))
        return "_".join(attributes[c] for c in categories)

    return combo_code


def read_rows(conn: Connection, *, data: bytes, format: str,
              read: list[ValueRow] | ParsedAdx | XmlRead | None = None) -> list[ValueRow]:
    """The rows of a file, or of the file ``read`` already: an ADX file's combos named by the catalog."""
    if isinstance(read, XmlRead):
        return read.rows
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
    rows: list[ValueRow] | ParsedAdx | XmlRead | Spooled | None = None,
    schemes: IdSchemes | None = None,
    completions: Sequence[Completion] = (),
) -> ImportSummary:
    """Read a file in any format and import its values; see values.import_values. ``rows``: the file
    read already (outside the transaction, by ``values/uploads.py``; ADX parsed, its combos unnamed).

    ``schemes``: the id schemes the file's identifiers are in (default: code, else uid). The forms
    the file says are complete (``completions``, and a DHIS2 JSON file's ``completeDate``) are
    registered complete; one that cannot be is a conflict like any other, and the registrations
    are undone whenever the values are not written (a dry run, or conflicts without ``valid_only``).
    A :class:`Spooled` upload (``rows``) is imported as it streams from its file (:func:`import_path`).
    """
    if isinstance(rows, Spooled):
        return import_path(conn, principal=principal, path=rows.path, format=rows.format, dry_run=dry_run,
                           valid_only=valid_only, strategy=strategy, progress=progress, stream_above=0,
                           schemes=schemes, completions=completions)
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
    schemes = schemes or IdSchemes()
    if chosen in xmlfiles.XML_FORMATS:  # ADX, DXF2: read with the catalog; refused rows, completions
        catalog = load_catalog(conn)
        combo_code = combo_code_for(catalog, names=category_names(conn, schemes), schemes=schemes)
        xml = xmlfiles.xml_read(catalog, data=data, format=chosen, read=rows, combo_code=combo_code,
                                schemes=schemes)
        read, file_refused = xmlfiles.file_conflicts(xml)
        completions = [*completions, *_data_sets_as_codes(catalog, xml.completions, schemes)]
    else:
        read, file_refused = read_rows(conn, data=data, format=chosen, read=rows), []
    if chosen == "adx":  # ADX names disaggregations by category and option codes, read into combo codes
        schemes = dataclasses.replace(schemes, category_option_combo=None)
    found, refused = resolve_rows(conn, load_catalog(conn), read, schemes)
    refused = sorted([*refused, *file_refused], key=lambda conflict: conflict.row)
    if chosen == "dhis2-json":
        completions = [*completions, *formats.read_json_completions(data)]
    registrations = conn.begin_nested()
    unregistered = register_completions(conn, principal=principal, completions=completions, schemes=schemes)
    summary = values.import_values(
        conn,
        principal=principal,
        rows=found,
        source=chosen,
        strategy=strategy,
        dry_run=dry_run,
        valid_only=valid_only,
        file_digest=values.digest_of(data),
        progress=progress,
        conflicts=refused,
        form_conflicts=unregistered,
    )
    if summary.written:
        registrations.commit()
    else:
        registrations.rollback()
    summary.conflicts = as_written(summary.conflicts, read, found)
    return summary


def _data_sets_as_codes(catalog: Catalog, completions: list[Completion],
                        schemes: IdSchemes) -> list[Completion]:
    """The completions with their data set as a code, when the file names it in another scheme."""
    data_set_of = xmlfiles.data_set_lookup(catalog, schemes)
    return [c if (ds := data_set_of(c.data_set)) is None else dataclasses.replace(c, data_set=ds.code)
            for c in completions]


def as_written(conflicts: list[ImportConflict], read: Sequence[ValueRow],
               found: Sequence[ValueRow]) -> list[ImportConflict]:
    """The conflicts with each identifier as the file wrote it: a uid (or a name) the id schemes
    turned into a code is shown as sent, so a refusal never tells the caller a code it did not send
    (a unit outside its scope named by uid stays a uid)."""
    translated = {after.row: before for before, after in _pairs(read, found) if before is not after}
    if not translated:
        return conflicts
    out = []
    for conflict in conflicts:
        before = translated.get(conflict.row)
        name = ROW_FIELDS.get(conflict.field or "")
        if before is not None and name is not None:
            conflict = dataclasses.replace(conflict, value=getattr(before, name))
        out.append(conflict)
    return out


def _pairs(read: Sequence[ValueRow], found: Sequence[ValueRow]) -> Iterator[tuple[ValueRow, ValueRow]]:
    by_row = {row.row: row for row in read}
    for after in found:
        before = by_row.get(after.row)
        if before is not None:
            yield before, after


STREAM_ABOVE = 32 << 20
"""A DHIS2 JSON, CSV, DXF2 or ADX file of at least this many bytes is read as it streams (``import_path``);
an upload of this size is spooled to disk as it arrives (``values/uploads.py``). Tests lower it."""


def import_path(
    conn: Connection,
    *,
    principal: Principal,
    path: Path,
    format: str | None = None,
    dry_run: bool = False,
    valid_only: bool = False,
    strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE,
    progress: Progress | None = None,
    stream_above: int | None = None,
    batch_size: int | None = None,
    schemes: IdSchemes | None = None,
    completions: Sequence[Completion] = (),
) -> ImportSummary:
    """Import a file on disk (the CLI's ``jiaowei data import``, a large upload): as :func:`import_file`,
    but a DHIS2 JSON, CSV, DXF2 or ADX file of ``stream_above`` bytes or more (default
    :data:`STREAM_ABOVE`) is read as it streams and checked and written ``batch_size`` rows at a time
    (default ``values.BATCH``), so memory stays flat whatever its size (same checks, same conflicts,
    same summary, same all-or-nothing). Its identifiers are read in ``schemes`` a batch at a time
    (default: a code, else a uid). An ADX file's completions and refused rows are known only once it
    is read: they are registered and reported at its end, before the import decides whether it writes."""
    chosen = streamed_format(path.name, format, head_of(path))
    if chosen is None or path.stat().st_size < (STREAM_ABOVE if stream_above is None else stream_above):
        return import_file(conn, principal=principal, data=path.read_bytes(), filename=path.name,
                           format=format, dry_run=dry_run, valid_only=valid_only, strategy=strategy,
                           progress=progress, schemes=schemes, completions=completions)
    with path.open("rb") as file:
        file_digest = hashlib.file_digest(file, "sha256").hexdigest()
    schemes = schemes or IdSchemes()
    stream: JsonStream | Dxf2Stream | AdxStream | None = None
    registrations = None
    try:
        stream, rows, found, refused = _stream(conn, path, chosen, schemes)
        registrations = conn.begin_nested()
        unregistered = register_completions(conn, principal=principal, completions=[*completions, *found],
                                            schemes=schemes)
        if isinstance(stream, AdxStream):
            rows = _adx_rows(conn, stream, principal=principal, refused=refused, unregistered=unregistered,
                             schemes=schemes)
            schemes = dataclasses.replace(schemes, category_option_combo=None)  # read into combo codes
        resolving = Resolving(conn, schemes, refused)
        size = batch_size or values.BATCH
        summary = values.import_values(
            conn, principal=principal, rows=resolving.as_codes(rows, size), source=chosen,
            strategy=strategy, dry_run=dry_run, valid_only=valid_only, file_digest=file_digest,
            progress=progress, conflicts=refused, form_conflicts=unregistered, batch_size=size,
        )
        summary.conflicts = resolving.as_written(summary.conflicts, refused, unregistered)
    except BaseException:
        if registrations is not None:
            registrations.rollback()
        raise
    finally:
        if stream is not None:
            stream.close()
    if summary.written:
        registrations.commit()
    else:
        registrations.rollback()
    return summary


_Streamed = tuple[JsonStream | Dxf2Stream | AdxStream | None, Iterator[ValueRow], list[Completion],
                  list[ImportConflict]]


def _stream(conn: Connection, path: Path, chosen: str, schemes: IdSchemes) -> _Streamed:
    """The file opened to stream: the stream to close, its rows, its completions and the rows the
    file's own rules refuse (as :func:`import_file` reads them, in ``schemes``)."""
    if chosen == "dhis2-csv":
        return None, stream_csv(path), [], []
    if chosen == "dhis2-json":
        json_stream = JsonStream(path)
        return json_stream, json_stream.rows(), formats.json_completions(json_stream.head), []
    catalog = load_catalog(conn)
    if chosen == "adx":  # its completions and refused rows come as it is read: see _adx_rows
        combo_code = combo_code_for(catalog, names=category_names(conn, schemes), schemes=schemes)
        adx = AdxStream(path, xmlfiles.adx_catalog(catalog, combo_code, schemes))
        return adx, iter(()), [], []
    stream = Dxf2Stream(path)
    xml = stream.read
    if xml.data_set is not None and catalog.data_set(xml.data_set) is None:
        # DHIS2 refuses the document: each row is a conflict and none is imported, as import_file says
        xml = xmlfiles.known_data_set(dataclasses.replace(xml, rows=list(stream.rows())), catalog)
        rows: Iterator[ValueRow] = iter(())
    else:
        rows = stream.rows()
    refused = sorted(xmlfiles.file_conflicts(xml)[1], key=lambda conflict: conflict.row)
    return stream, rows, _data_sets_as_codes(catalog, xml.completions, schemes), refused


def _adx_rows(conn: Connection, stream: AdxStream, *, principal: Principal, refused: list[ImportConflict],
              unregistered: list[ImportConflict], schemes: IdSchemes) -> Iterator[ValueRow]:
    """The rows of an ADX stream; at its end, the rows its rules refused join ``refused`` and the
    forms its groups say are complete are registered (those that cannot be join ``unregistered``),
    while ``import_values`` still holds both lists: it decides whether to write only then."""
    yield from stream.rows()
    read = XmlRead([], [], stream.refused)
    refused.extend(sorted(xmlfiles.file_conflicts(read)[1], key=lambda conflict: conflict.row))
    completions = _data_sets_as_codes(load_catalog(conn), stream.completions, schemes)
    unregistered.extend(register_completions(conn, principal=principal, completions=completions,
                                             schemes=schemes))


def register_completions(
    conn: Connection,
    *,
    principal: Principal,
    completions: Sequence[Completion],
    schemes: IdSchemes | None = None,
    dry_run: bool = False,
) -> list[ImportConflict]:
    """Register each form complete, as the data entry page does (registered already: unchanged);
    one that cannot be (a unit the principal may not report for, a data set the unit does not
    report, a locked form) is a conflict naming its row, field and value. ``dry_run``: checked
    and undone. The caller undoes them all when the import they belong to writes nothing."""
    conflicts: list[ImportConflict] = []
    if not completions:
        return conflicts
    units = _completion_units(conn, completions, schemes or IdSchemes())
    outer = conn.begin_nested()
    for c in completions:
        unit = units.get(c.org_unit)
        try:
            if unit is None:
                raise NotFound(M_("No unit with code {code!r}.", code=c.org_unit))
            with conn.begin_nested():
                completeness.complete(conn, principal=principal, data_set=c.data_set, period=c.period,
                                      unit=unit, at=_completed_at(principal, c.date))
        except JiaoweiError as error:
            problem = error.problems[0] if error.problems else None
            field = problem.field if problem and problem.field else "orgUnit"
            shown = {"orgUnit": c.org_unit, "period": c.period, "dataSet": c.data_set}.get(field, c.date)
            conflicts.append(ImportConflict(c.row, field, shown, str(error.detail or error.title)))
    if dry_run:
        outer.rollback()
    else:
        outer.commit()
    return conflicts


def _completion_units(
    conn: Connection, completions: Sequence[Completion], schemes: IdSchemes
) -> dict[str, str]:
    """The unit code each completion's ``org_unit`` names (in the unit id scheme; default: code)."""
    keys = {c.org_unit for c in completions}
    found = unit_codes_by(conn, keys, schemes.org_unit or IdScheme.CODE)
    return {key: codes[0] for key, codes in found.items() if len(codes) == 1}


def _completed_at(principal: Principal, date: str | None) -> dt.datetime | None:
    """The registration's date: the file's for an administrator (loading past registrations, as
    ``complete`` allows them only), else now."""
    if not principal.unlimited or not date:
        return None
    return dt.datetime.combine(dt.date.fromisoformat(date[:10]), dt.time(), tzinfo=dt.UTC)


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
    schemes: IdSchemes | None = None,
    since: dt.datetime | None = None,
    include_deleted: bool = False,
) -> ExportedFile:
    """Stored values in a file (see ``values.export_values``), identifiers in ``schemes``."""
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
        conn, principal=principal, data_set=data_set, periods=periods, units=units, children=children,
        since=since, include_deleted=include_deleted,
    )
    schemes, catalog = schemes or IdSchemes(), load_catalog(conn)
    extra: dict[str, Any] = {}
    if format == "adx":  # every identifier in its scheme: categories and options too; no default aoc
        schemes = dataclasses.replace(schemes, attribute_option_combo=None)
        adx = adx_out(conn, catalog, schemes)
        extra = {"combo_attributes": adx.combo_attributes, "in_annotation": adx.in_annotation}
    rows = encode_rows(conn, catalog, rows, schemes)
    buffer = io.BytesIO()
    if format in ("adx", "dhis2-json", "dxf2") and data_set:
        extra["data_set"] = data_set_out(catalog, data_set, schemes.data_set) if format == "adx" else data_set
    formats.write(format, rows, buffer, **extra)
    suffix = {"dhis2-json": "json", "dhis2-csv": "csv", "adx": "adx.xml", "dxf2": "xml"}[format]
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
