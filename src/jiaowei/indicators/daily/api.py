"""The daily health dashboard as JSON: ``GET /api/dailyHealth?ds=&day=&ou=``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from jiaowei.indicators.daily import queries
from jiaowei.web.deps import Conn, User

router = APIRouter(prefix="/api", tags=["daily health"])

DataSet = Annotated[
    str | None, Query(max_length=50, description="a daily data set's code (default: the first)")
]
Day = Annotated[
    str | None,
    Query(max_length=10, description="2020-12-01 or 20201201 (default: the latest day with reports)"),
]
Unit = Annotated[str | None, Query(max_length=64, description="unit code (default: your own unit)")]


@router.get("/dailyHealth")
def daily_health(
    conn: Conn, user: User, ds: DataSet = None, day: Day = None, ou: Unit = None
) -> dict[str, Any]:
    """A daily data set on a day below a unit: the reporting rate, the units not reported, the rules
    broken, the day's totals and the rate on each reporting day of the last 30 days."""
    found = queries.daily_health(conn, principal=user, data_set=ds or None, day=day or None, unit=ou or None)
    return asdict(found)
