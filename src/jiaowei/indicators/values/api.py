"""Data value routes in DHIS2's shapes: ``/api/dataValueSets`` (files in every format),
``/api/dataValues`` (one cell), the value history and the pre-filled XLSX template.

An import with conflicts and ``atomicMode=ALL`` (the default) writes nothing and answers 409
with the import summary, as DHIS2 does; ``atomicMode=NONE`` imports the valid rows.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from jiaowei.indicators.model import ImportStrategy, ValueRow
from jiaowei.indicators.values import exchange
from jiaowei.indicators.values import service as values
from jiaowei.indicators.values.uploads import ApiFile
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import Conn, User

router = APIRouter(prefix="/api", tags=["data values"])

Format = Literal["dhis2-json", "dhis2-csv", "adx"]
SUMMARY: dict[int | str, dict[str, Any]] = {
    409: {"description": "The file has conflicts; nothing was written (the body is the import summary)"}
}


@router.post("/dataValueSets", responses=SUMMARY, dependencies=[TAKES_FILES])
def import_data_value_sets(
    user: User,
    file: ApiFile,
    conn: Conn,
    dryRun: bool = False,  # noqa: N803 - DHIS2's parameter names
    importStrategy: Literal["CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"] = "CREATE_AND_UPDATE",  # noqa: N803
    atomicMode: Literal["ALL", "NONE"] = "ALL",  # noqa: N803
    format: Annotated[
        str | None, Query(description="dhis2-json, dhis2-csv, adx or xlsx; default: detected")
    ] = None,
) -> Response:
    """Import data values from DHIS2 JSON or CSV, ADX XML or a filled-in XLSX template."""
    data = file.data
    strategy = ImportStrategy.DELETE if importStrategy == "DELETE" else ImportStrategy.CREATE_AND_UPDATE
    summary = exchange.import_file(
        conn,
        principal=user,
        data=data,
        filename=file.filename,
        content_type=file.content_type,
        format=format,
        dry_run=dryRun,
        valid_only=atomicMode == "NONE",
        strategy=strategy,
        rows=file.rows,
    )
    return JSONResponse(summary.as_dict(), status_code=409 if summary.status == "ERROR" else 200)


@router.get("/dataValueSets", response_class=Response)
def export_data_value_sets(
    conn: Conn,
    user: User,
    orgUnit: Annotated[list[str], Query(max_length=100)],  # noqa: N803
    dataSet: str | None = None,  # noqa: N803
    period: Annotated[list[str] | None, Query(max_length=100)] = None,
    children: bool = False,
    format: Format = "dhis2-json",
) -> Response:
    """Stored values for a data set, periods and units (``children=true``: their subtrees)."""
    exported = exchange.export_file(
        conn,
        principal=user,
        format=format,
        data_set=dataSet,
        periods=period or [],
        units=orgUnit,
        children=children,
    )
    return Response(
        exported.data,
        media_type=exported.media_type,
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )


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
