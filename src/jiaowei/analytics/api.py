"""DHIS2's analytics API: ``GET /api/analytics`` (``.json``, ``.csv``).

The parameters and the answer are DHIS2's (see :mod:`jiaowei.analytics.request` and
:mod:`jiaowei.analytics.response`; docs/api.md, "Analytics"), so DHIS2 clients read it unchanged.
Values are fresh: a value saved is in the very next answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from jiaowei import clock
from jiaowei.analytics import request as analytics_request
from jiaowei.analytics import service
from jiaowei.analytics.response import Grid
from jiaowei.web.deps import Conn, User, language

router = APIRouter(prefix="/api", tags=["analytics"])

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "The query cannot be answered: each problem names the parameter (dimension, "
                         "filter, dx, pe, ou, …) and the item at fault", "content": _PROBLEM},
}
Dimensions = Annotated[list[str], Query(
    max_length=20, description="name:item;item, repeatable or joined by commas, e.g. dx:PUPILS;PTR, "
                               "pe:2020;LAST_YEAR, ou:SH;LEVEL-2, SEX:M;F")]
Filters = Annotated[list[str], Query(max_length=20, description="as dimension; collapsed in the answer")]
Text = Annotated[str | None, Query(max_length=64)]
Scheme = Annotated[str | None, Query(max_length=8, description="CODE (default), UID or NAME")]
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD: relative periods count from it")]


def today() -> dt.date:
    """The day relative periods count from (a request may name another: ``relativePeriodDate``)."""
    return clock.today()


def _grid(http: Request, conn: Conn, user: User) -> Grid:
    parsed = analytics_request.parse(http.query_params)
    parsed = replace(parsed, language=parsed.language or language(http))
    return service.run(conn, principal=user, request=parsed, today=today())


@router.get("/analytics", responses=RESPONSES)
def analytics(
    http: Request,
    conn: Conn,
    user: User,
    dimension: Dimensions = [],  # noqa: B006 (FastAPI copies the default)
    filter: Filters = [],  # noqa: A002, B006
    aggregationType: Text = None,  # noqa: N803
    skipRounding: bool = False,  # noqa: N803
    includeNumDen: bool = False,  # noqa: N803
    outputIdScheme: Scheme = None,  # noqa: N803
    columns: Text = None,
    rows: Text = None,
    displayProperty: Text = None,  # noqa: N803
    relativePeriodDate: Day = None,  # noqa: N803
    locale: Annotated[str | None, Query(max_length=8, description="zh or en")] = None,
) -> dict[str, Any]:
    """Aggregated values in DHIS2's grid: headers, metaData {items, dimensions}, rows, height, width."""
    return _grid(http, conn, user).as_dict()


@router.get("/analytics.json", responses=RESPONSES, include_in_schema=False)
def analytics_json(http: Request, conn: Conn, user: User) -> dict[str, Any]:
    """``/api/analytics`` by DHIS2's other name for it."""
    return _grid(http, conn, user).as_dict()


@router.get("/analytics.csv", responses={
    **RESPONSES, 200: {"description": "The grid as CSV: a line of column names, then the rows",
                       "content": {"text/csv": {"schema": {"type": "string"}}}}})
def analytics_csv(http: Request, conn: Conn, user: User, dimension: Dimensions = [],  # noqa: B006
                  filter: Filters = []) -> Response:  # noqa: A002, B006
    """The same grid as CSV (the other parameters of ``/api/analytics`` apply too)."""
    return Response(_grid(http, conn, user).as_csv(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="analytics.csv"'})
