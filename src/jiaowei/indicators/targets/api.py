"""Indicator values and targets over JSON (jiaowei's own shapes: DHIS2 has no targets).

- ``GET /api/indicatorValues?indicator=&ou=&pe=&children=true``: the unit's value and each
  direct child's (without ``indicator``: every indicator at the unit).
- ``GET /api/targets?indicator=&ou=&pe=``: the unit's targets (without ``pe``: every period).
- ``POST /api/targets``: one target or a list; ``POST /api/targets/trajectory``: yearly targets
  on a line; ``POST /api/targets/cascade``: copy a target to the children;
  ``DELETE /api/targets?indicator=&ou=&pe=``.

The shapes are documented in docs/indicators.md ("Indicators and targets").
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from jiaowei.auth.model import Principal
from jiaowei.domains import N_
from jiaowei.errors import Problem, ValidationError
from jiaowei.indicators.targets import compute, queries
from jiaowei.indicators.targets import service as targets
from jiaowei.web.deps import Conn, User

router = APIRouter(prefix="/api", tags=["indicators"])

Code = Annotated[str, Field(min_length=1, max_length=64)]
PeriodCode = Annotated[str, Field(min_length=1, max_length=16)]
Number = Annotated[float, Field(allow_inf_nan=False)]
Margin = Annotated[float, Field(ge=0, allow_inf_nan=False)]
IndicatorQ = Annotated[str, Query(min_length=1, max_length=64, description="Indicator code")]
UnitQ = Annotated[str, Query(min_length=1, max_length=64, description="Unit code")]
PeriodQ = Annotated[str, Query(min_length=1, max_length=16, description="Period, e.g. 2020")]


def _unit_or_default(conn: Conn, user: Principal, ou: str | None, period: str) -> str:
    if ou:
        return ou
    found = compute.default_unit(conn, user, compute.parse_period(period).end)
    if found is None:
        raise ValidationError(N_("Name a unit."), [Problem(N_("no unit"), field="ou",
                                                           expected=N_("a unit code"))])
    return found


@router.get("/indicatorValues")
def indicator_values(
    conn: Conn,
    user: User,
    indicator: Annotated[
        str | None, Query(max_length=64, description="Indicator code; all when absent")
    ] = None,
    ou: Annotated[
        str | None, Query(max_length=64, description="Unit code; default: your highest unit")
    ] = None,
    pe: Annotated[
        str | None, Query(max_length=16, description="Period; default: latest year with data")
    ] = None,
    children: bool = True,
) -> dict[str, Any]:
    """Values computed from aggregated numerators and denominators, with targets and status."""
    period = pe or compute.default_period(conn)
    unit = _unit_or_default(conn, user, ou, period)
    if indicator:
        rows = compute.indicator_table(
            conn, principal=user, indicator=indicator, unit=unit, period=period, children=children
        )
    else:
        rows = compute.unit_values(conn, principal=user, unit=unit, period=period)
    return {"orgUnit": unit, "period": period, "rows": [r.as_dict() for r in rows]}


@router.get("/targets")
def list_targets(
    conn: Conn,
    user: User,
    indicator: IndicatorQ,
    ou: UnitQ,
    pe: Annotated[str | None, Query(max_length=16, description="Period; every period when absent")] = None,
) -> dict[str, Any]:
    """The unit's targets for the indicator, oldest period first."""
    found = queries.targets_of(conn, principal=user, indicator=indicator, unit=ou, period=pe)
    return {"targets": [t.as_dict() for t in found]}


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    indicator: Code
    orgUnit: Code  # noqa: N815
    period: PeriodCode
    value: Number
    atRiskMargin: Margin = 0.0  # noqa: N815
    benchmark: Number | None = None
    benchmarkLabel: str = Field(default="", max_length=230)  # noqa: N815
    note: str = Field(default="", max_length=5000)


class TrajectoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    indicator: Code
    orgUnit: Code  # noqa: N815
    startPeriod: PeriodCode  # noqa: N815
    endPeriod: PeriodCode  # noqa: N815
    startValue: Number  # noqa: N815
    endValue: Number  # noqa: N815
    atRiskMargin: Margin = 0.0  # noqa: N815
    benchmark: Number | None = None
    benchmarkLabel: str = Field(default="", max_length=230)  # noqa: N815
    note: str = Field(default="", max_length=5000)


class CascadeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    indicator: Code
    orgUnit: Code  # noqa: N815
    period: PeriodCode
    method: Literal["same", "current_share"] = "same"
    overwrite: bool = False
    unitTypes: list[str] = Field(default_factory=list, max_length=20)  # noqa: N815


@router.post("/targets")
def save_targets(
    conn: Conn,
    user: User,
    body: TargetIn | Annotated[list[TargetIn], Field(min_length=1, max_length=1000)],
) -> dict[str, Any]:
    """Set one target, or a list of them (all or nothing)."""
    items = body if isinstance(body, list) else [body]
    saved = [
        targets.set_target(
            conn,
            principal=user,
            indicator=t.indicator,
            unit=t.orgUnit,
            period=t.period,
            value=t.value,
            at_risk_margin=t.atRiskMargin,
            benchmark=t.benchmark,
            benchmark_label=t.benchmarkLabel,
            note=t.note,
        )
        for t in items
    ]
    return {"targets": [t.as_dict() for t in saved]}


@router.post("/targets/trajectory")
def save_trajectory(conn: Conn, user: User, body: TrajectoryIn) -> dict[str, Any]:
    """Targets for every period from start to end, on a straight line between the two values."""
    saved = targets.set_trajectory(
        conn,
        principal=user,
        indicator=body.indicator,
        unit=body.orgUnit,
        start_period=body.startPeriod,
        end_period=body.endPeriod,
        start_value=body.startValue,
        end_value=body.endValue,
        at_risk_margin=body.atRiskMargin,
        benchmark=body.benchmark,
        benchmark_label=body.benchmarkLabel,
        note=body.note,
    )
    return {"targets": [t.as_dict() for t in saved]}


@router.post("/targets/cascade")
def cascade_target(conn: Conn, user: User, body: CascadeIn) -> dict[str, Any]:
    """Copy the unit's target to each direct child (``kept``: children whose own target stayed)."""
    result = targets.cascade(
        conn,
        principal=user,
        indicator=body.indicator,
        unit=body.orgUnit,
        period=body.period,
        method=body.method,
        overwrite=body.overwrite,
        unit_types=body.unitTypes,
    )
    return result.as_dict()


@router.delete("/targets")
def delete_target(conn: Conn, user: User, indicator: IndicatorQ, ou: UnitQ, pe: PeriodQ) -> dict[str, Any]:
    """Delete one target; targets cascaded from it become the children's own."""
    targets.delete_target(conn, principal=user, indicator=indicator, unit=ou, period=pe)
    return {
        "deleted": {
            "indicator": indicator,
            "orgUnit": ou,
            "period": pe,
            "at": dt.datetime.now(dt.UTC).isoformat(),
        }
    }
