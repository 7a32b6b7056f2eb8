"""The data entry page: one unit, data set and period as a keyboard-friendly grid.

Each cell saves itself through ``POST /api/dataValues`` as it is left (``static/entry.js``);
validation problems appear at once from ``/api/validation/dataSet/…``. Without JavaScript
the page still shows the form's values and takes a filled-in XLSX template or any data file.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from jiaowei.auth.model import Principal
from jiaowei.errors import JiaoweiError, NotFound, ValidationError
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, load_catalog
from jiaowei.indicators.values import exchange
from jiaowei.indicators.values import service as values
from jiaowei.indicators.values.uploads import FormFile
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)


def _sections(catalog: Catalog, ds: DataSet, zh: bool) -> list[dict[str, Any]]:
    """The form's elements grouped by their disaggregation, in data set order (DHIS2's default form)."""
    sections: dict[int, dict[str, Any]] = {}
    for element_id in ds.element_ids:
        element = catalog.elements[element_id]
        section = sections.setdefault(
            element.combo_id,
            {
                "combo": catalog.combos.get(element.combo_id, ""),
                "cocs": [
                    {"code": c.code, "name": c.name_zh if zh else c.name_en}
                    for c in catalog.cocs_of(element.combo_id)
                ],
                "elements": [],
            },
        )
        section["elements"].append(
            {
                "code": element.code,
                "name": element.name_zh if zh else element.name_en,
                "value_type": element.value_type.value,
            }
        )
    return list(sections.values())


def _form(
    conn: Connection, user: Principal, ds_code: str, period: str, unit: str, zh: bool
) -> dict[str, Any]:
    form = values.open_form(conn, principal=user, data_set=ds_code, period=period, unit=unit)
    ds = form.data_set
    cells = {
        f"{de}.{co}": {"value": r.value, "comment": r.comment or "", "followup": bool(r.followup)}
        for (de, co), r in form.values.items()
    }
    return {
        "ds": ds,
        "ds_name": ds.name_zh if zh else ds.name_en,
        "period": form.period,
        "unit": unit,
        "unit_name": values.unit_name(conn, form.unit_id, zh),
        "sections": _sections(form.catalog, ds, zh),
        "cells": cells,
        "state": form.state,
        "due": form.due,
        "synthetic": form.synthetic,
    }


def _unit_choices(conn: Connection, user: Principal, ds_code: str, zh: bool) -> list[dict[str, str]]:
    """Up to 500 units that report the data set and that the user may enter data for (or see)."""
    units = values.unit_choices(conn, principal=user, data_set=ds_code)
    return [{"code": u.code, "name": u.name_zh if zh else u.name_en} for u in units]


def _choices(conn: Connection, zh: bool) -> list[dict[str, str]]:
    catalog = load_catalog(conn)
    return [
        {"code": ds.code, "name": ds.name_zh if zh else ds.name_en, "period_type": ds.period_type}
        for ds in sorted({d.id: d for d in catalog.data_sets.values()}.values(), key=lambda d: d.code)
    ]


@router.get("/data/entry", response_class=HTMLResponse)
def entry_page(
    request: Request,
    conn: Conn,
    user: User,
    ds: Annotated[str, Query(max_length=50)] = "",
    pe_: Annotated[str, Query(alias="pe", max_length=16)] = "",
    ou: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    zh = _zh(request)
    choices = _choices(conn, zh)
    chosen = ds or (choices[0]["code"] if choices else "")
    context: dict[str, Any] = {
        "active": "data",
        "choices": choices,
        "units": _unit_choices(conn, user, chosen, zh),
        "query": {"ds": ds, "pe": pe_, "ou": ou},
    }
    if ds and pe_ and ou:
        try:
            context["form"] = _form(conn, user, ds, pe_, ou, zh)
        except ValidationError as error:
            context["error"] = error
    return page(request, "indicators/entry.html", context)


@router.post("/data/entry/upload", response_class=HTMLResponse, dependencies=[TAKES_FILES])
def entry_upload(
    request: Request,
    user: User,
    parsed: FormFile,
    conn: Conn,
    file: Annotated[UploadFile, File()],
    ds: Annotated[str, Form(max_length=50)] = "",
    pe_: Annotated[str, Form(alias="pe", max_length=16)] = "",
    ou: Annotated[str, Form(max_length=64)] = "",
    dry_run: Annotated[str, Form()] = "",
    valid_only: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Import a filled-in template (or any data file) and show the import summary with the form."""
    zh = _zh(request)
    data = parsed.data if parsed is not None else b""
    context: dict[str, Any] = {
        "active": "data",
        "choices": _choices(conn, zh),
        "query": {"ds": ds, "pe": pe_, "ou": ou},
    }
    try:
        summary = exchange.import_file(
            conn,
            principal=user,
            data=data,
            filename=file.filename or "",
            content_type=file.content_type,
            dry_run=bool(dry_run),
            valid_only=bool(valid_only),
            rows=parsed.rows if parsed is not None else None,
        )
        context["summary"] = summary
        status = 409 if summary.status == "ERROR" else 200  # conflicts: nothing written, as in the API
    except JiaoweiError as error:
        context["upload_error"] = error
        status = error.status
    if ds and pe_ and ou:
        try:
            context["form"] = _form(conn, user, ds, pe_, ou, zh)
        except (ValidationError, NotFound) as error:
            context["error"] = error
    return page(request, "indicators/entry.html", context, status=status)


def _zh(request: Request) -> bool:
    return language(request) == "zh_CN"
