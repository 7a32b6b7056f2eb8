"""Data value routes in DHIS2's shapes: ``/api/dataValueSets`` (files in every format),
``/api/dataValues`` (one cell), the value history and the pre-filled XLSX template.

An import with conflicts and ``atomicMode=ALL`` (the default) writes nothing and answers 409
with the import summary, as DHIS2 does; ``atomicMode=NONE`` imports the valid rows.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from jiaowei.indicators.model import ImportStrategy, ValueRow
from jiaowei.indicators.values import exchange, formats, schemes
from jiaowei.indicators.values import service as values
from jiaowei.indicators.values.queries import changed_since
from jiaowei.indicators.values.schemes import IdSchemes
from jiaowei.indicators.values.uploads import ApiFile
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import Conn, User

router = APIRouter(prefix="/api", tags=["data values"])

SUMMARY: dict[int | str, dict[str, Any]] = {
    409: {"description": "The file has conflicts; nothing was written (the body is the import summary)"}
}


Scheme = Annotated[
    Literal["UID", "CODE", "NAME", "uid", "code", "name"] | None,
    Query(description="UID, CODE or NAME (default: code, else uid)"),
]


@router.post("/dataValueSets", responses=SUMMARY, dependencies=[TAKES_FILES])
def import_data_value_sets(
    user: User,
    file: ApiFile,
    conn: Conn,
    dryRun: bool = False,  # noqa: N803 - DHIS2's parameter names
    importStrategy: Literal["CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"] = "CREATE_AND_UPDATE",  # noqa: N803
    atomicMode: Literal["ALL", "NONE"] = "ALL",  # noqa: N803
    format: Annotated[
        str | None, Query(description="dhis2-json, dhis2-csv, dxf2, adx or xlsx; default: detected")
    ] = None,
    idScheme: Scheme = None,  # noqa: N803
    dataElementIdScheme: Scheme = None,  # noqa: N803
    orgUnitIdScheme: Scheme = None,  # noqa: N803
    categoryOptionComboIdScheme: Scheme = None,  # noqa: N803
    attributeOptionComboIdScheme: Scheme = None,  # noqa: N803
) -> Response:
    """Import data values from DHIS2 JSON or CSV, ADX XML or a filled-in XLSX template; the answer is
    DHIS2's WebMessage with the import summary as its ``response``."""
    summary = exchange.import_file(
        conn,
        principal=user,
        data=file.data,
        filename=file.filename,
        content_type=file.content_type,
        format=format,
        dry_run=dryRun,
        valid_only=atomicMode == "NONE",
        strategy=ImportStrategy(importStrategy),
        rows=file.rows,
        schemes=IdSchemes.of(idScheme, data_element=dataElementIdScheme, org_unit=orgUnitIdScheme,
                             category_option_combo=categoryOptionComboIdScheme,
                             attribute_option_combo=attributeOptionComboIdScheme),
    )
    failed = summary.status == "ERROR"
    return JSONResponse(web_message(summary.as_dict()), status_code=409 if failed else 200)


_MESSAGES = {
    "SUCCESS": ("OK", "Import was successful."),
    "WARNING": ("WARNING", "One more conflicts encountered, please check import summary."),
    "ERROR": ("ERROR", "An error occurred, please check import summary."),
}


def web_message(summary: dict[str, Any]) -> dict[str, Any]:
    """An import summary inside DHIS2's WebMessage (DHIS2 2.38 and later), with DHIS2's own words."""
    status, message = _MESSAGES[summary["status"]]
    failed = status == "ERROR"
    return {
        "httpStatus": "Conflict" if failed else "OK",
        "httpStatusCode": 409 if failed else 200,
        "status": status,
        "message": message,
        "response": summary,
    }


ACCEPTED = {
    "application/json": "dhis2-json",
    "application/csv": "dhis2-csv",
    "text/csv": "dhis2-csv",
    "application/adx+xml": "adx",
    "application/xml": "dxf2",
    "text/xml": "dxf2",
}


def format_from(accept: str | None) -> str:
    """The export format an ``Accept`` header asks for (the first it names that jiaowei writes;
    an XML type only once DXF2 is a format); DHIS2 JSON when it names none."""
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if ACCEPTED.get(media) in formats.FORMATS:
            return ACCEPTED[media]
    return "dhis2-json"


@router.get("/dataValueSets", response_class=Response)
def export_data_value_sets(
    conn: Conn,
    user: User,
    orgUnit: Annotated[list[str], Query(max_length=100)],  # noqa: N803
    dataSet: str | None = None,  # noqa: N803
    period: Annotated[list[str] | None, Query(max_length=100)] = None,
    children: bool = False,
    format: Annotated[
        Literal["dhis2-json", "dhis2-csv", "adx", "dxf2"] | None,
        Query(description="dhis2-json, dhis2-csv, adx or dxf2; default: from the Accept header, else JSON"),
    ] = None,
    idScheme: Scheme = None,  # noqa: N803
    dataElementIdScheme: Scheme = None,  # noqa: N803
    orgUnitIdScheme: Scheme = None,  # noqa: N803
    categoryOptionComboIdScheme: Scheme = None,  # noqa: N803
    attributeOptionComboIdScheme: Scheme = None,  # noqa: N803
    lastUpdated: Annotated[  # noqa: N803
        str | None, Query(max_length=40, description="values changed at or after: a date or date and time")
    ] = None,
    lastUpdatedDuration: Annotated[  # noqa: N803
        str | None, Query(max_length=20, description="values changed within: 10d, 2h, 30m or 45s")
    ] = None,
    includeDeleted: bool = False,  # noqa: N803
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Stored values for a data set, periods and units (``children=true``: their subtrees), each with
    ``created`` and ``lastUpdated``; ``lastUpdated``/``lastUpdatedDuration`` keep the values changed
    since, ``includeDeleted`` adds deleted values (``deleted: true``)."""
    exported = exchange.export_file(
        conn,
        principal=user,
        format=format or format_from(accept),
        data_set=dataSet,
        periods=period or [],
        units=_unit_codes(conn, orgUnit),
        children=children,
        schemes=IdSchemes.of(idScheme, data_element=dataElementIdScheme, org_unit=orgUnitIdScheme,
                             category_option_combo=categoryOptionComboIdScheme,
                             attribute_option_combo=attributeOptionComboIdScheme),
        since=changed_since(lastUpdated, lastUpdatedDuration),
        include_deleted=includeDeleted,
    )
    return Response(
        exported.data,
        media_type=exported.media_type,
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )


def _unit_codes(conn: Connection, keys: list[str]) -> list[str]:
    """``orgUnit`` as DHIS2 clients send it (a uid) or as jiaowei's (a code): each as a unit code (a key
    that names no unit stays as it is, for the export to refuse by name)."""
    found = schemes.unit_codes_by_key(conn, keys)
    return [found.get(key, key) for key in keys]


@router.get("/dataValueSets/template", response_class=Response)
def data_entry_template(
    conn: Conn,
    user: User,
    dataSet: str,
    period: str,
    orgUnit: str,  # noqa: N803
    language: Literal["zh_CN", "en"] = "zh_CN",
) -> Response:
    """The XLSX form for one unit, data set and period, pre-filled with the stored values."""
    exported = exchange.template(
        conn, principal=user, data_set=dataSet, period=period, unit=orgUnit, language=language
    )
    return Response(
        exported.data,
        media_type=exported.media_type,
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )


class DataValueIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    dataElement: str = Field(max_length=50)  # noqa: N815
    period: str = Field(max_length=16)
    orgUnit: str = Field(max_length=64)  # noqa: N815
    categoryOptionCombo: str | None = Field(default=None, max_length=260)  # noqa: N815
    value: str | None = Field(default=None, max_length=50_000)
    comment: str | None = Field(default=None, max_length=5_000)
    followup: bool | None = None


@router.post("/dataValues")
def save_data_value(conn: Conn, user: User, body: DataValueIn) -> dict[str, Any]:
    """Save one cell (an empty value deletes it); answers the stored cell, the summary and the
    validation problems of its form(s) after the save (rules run on save)."""
    summary = values.save_value(
        conn,
        principal=user,
        data_element=body.dataElement,
        period=body.period,
        org_unit=body.orgUnit,
        category_option_combo=body.categoryOptionCombo,
        value=body.value,
        comment=body.comment,
        followup=body.followup,
    )
    return {
        "importSummary": summary.as_dict(),
        "dataValue": _cell(conn, body),
        "validationRuleViolations": [
            v.as_dict()
            for v in values.violations_after_save(
                conn, principal=user, data_element=body.dataElement, period=body.period, org_unit=body.orgUnit
            )
        ],
    }


@router.delete("/dataValues")
def delete_data_value(
    conn: Conn,
    user: User,
    de: str,
    pe: str,
    ou: str,
    co: str | None = None,
) -> dict[str, Any]:
    """Delete one cell (DHIS2's parameter names: de, pe, ou, co)."""
    summary = values.delete_value(
        conn, principal=user, data_element=de, period=pe, org_unit=ou, category_option_combo=co
    )
    return {"importSummary": summary.as_dict()}


@router.get("/dataValues/history")
def data_value_history(
    conn: Conn,
    user: User,
    de: str,
    pe: str,
    ou: str,
    co: str | None = None,
) -> dict[str, Any]:
    """Every change of one value, newest first: who, when, what it was and became."""
    changes = values.history(
        conn, principal=user, data_element=de, period=pe, org_unit=ou, category_option_combo=co
    )
    return {
        "dataElement": de,
        "period": pe,
        "orgUnit": ou,
        "categoryOptionCombo": co or "default",
        "changes": [dataclasses.asdict(c) for c in changes],
    }


def _cell(conn: Connection, body: DataValueIn) -> dict[str, Any] | None:
    found = values.read_cell(
        conn,
        row=ValueRow(
            data_element=body.dataElement,
            period=body.period,
            org_unit=body.orgUnit,
            category_option_combo=body.categoryOptionCombo,
        ),
    )
    if found is None:
        return None
    return {
        "value": found.value,
        "comment": found.comment,
        "followup": found.followup,
        "storedBy": found.stored_by,
        "lastUpdated": found.updated_at.isoformat(),
    }
