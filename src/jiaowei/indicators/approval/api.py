"""Completeness, approval and lock routes, in DHIS2's shapes where DHIS2 has them.

``/api/completeDataSetRegistrations`` (read, register, withdraw), ``/api/dataApprovals``
(status, approve, unapprove: DHIS2 uses DELETE to unapprove; the reason is ours),
``/api/completeness`` (the reporting rate report), ``/api/lockExceptions`` and ``/api/myForms``
(the user's work list: forms due, late, sent back or waiting for approval).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from jiaowei import clock
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, NotFound, Problem, ValidationError
from jiaowei.indicators.approval import completeness, queries, worklist
from jiaowei.indicators.approval import service as approval
from jiaowei.web.deps import AsOf, Conn, User
from jiaowei.web.errors import PROBLEM, problem_body

router = APIRouter(prefix="/api", tags=["approval"])

Responses = dict[int | str, dict[str, Any]]
CONFLICT: Responses = {409: {"description": "The data is approved or locked, or not ready for this step"}}
SUMMARY: Responses = {
    409: {"description": "Nothing was registered: problem+json, with DHIS2's import summary in importSummary"}
}

DataSetParam = Annotated[str, Query(min_length=1, max_length=50, description="data set code")]
PeriodParam = Annotated[str, Query(min_length=1, max_length=16, description="period, e.g. 2020")]
UnitParam = Annotated[str, Query(min_length=1, max_length=64, description="unit code")]
PeriodsParam = Annotated[
    list[str],
    Query(
        min_length=1, max_length=completeness.MAX_PERIODS, description="periods, repeated: pe=2020&pe=2021"
    ),
]


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataSet: str = Field(max_length=50)  # noqa: N815 - DHIS2's names
    period: str = Field(max_length=16)
    organisationUnit: str = Field(max_length=64)  # noqa: N815
    attributeOptionCombo: str | None = Field(default=None, max_length=50)  # noqa: N815
    completed: bool = True


class Registrations(BaseModel):
    model_config = ConfigDict(extra="forbid")
    completeDataSetRegistrations: list[Registration] = Field(max_length=completeness.MAX_ROWS)  # noqa: N815


# ---------------------------------------------------------------- registrations


@router.get("/completeDataSetRegistrations")
def list_registrations(
    conn: Conn, user: User, ds: DataSetParam, pe: PeriodsParam, ou: UnitParam, children: bool = False
) -> dict[str, Any]:
    """The registrations of a data set for periods at a unit (and with ``children``, every unit below)."""
    found = completeness.registrations(
        conn, principal=user, data_set=ds, periods=pe, unit=ou, children=children
    )
    return {"completeDataSetRegistrations": found}


@router.post("/completeDataSetRegistrations", responses=SUMMARY)
def register(request: Request, conn: Conn, user: User, body: Registrations) -> Response:
    """Register data sets complete (``completed`` false withdraws); answers DHIS2's import summary."""
    for i, item in enumerate(body.completeDataSetRegistrations):
        if item.attributeOptionCombo not in (None, "", "default", "HllvX50cXC0"):
            raise ValidationError(
                N_("Only the default attribute option combo is used."),
                [
                    Problem(
                        "unknown attribute option combo",
                        row=i + 1,
                        field="attributeOptionCombo",
                        value=item.attributeOptionCombo,
                        expected="default",
                    )
                ],
            )
    items = [item.model_dump() for item in body.completeDataSetRegistrations]
    summary = completeness.register_all(conn, principal=user, items=items)
    if summary["status"] != "ERROR":
        return JSONResponse(summary)
    return _nothing_registered(request, summary)


def _nothing_registered(request: Request, summary: dict[str, Any]) -> Response:
    """409 as problem+json, each conflict a problem, DHIS2's import summary under ``importSummary``."""
    problems = [
        Problem(c["value"], row=c["indexes"][0] + 1, field=c["property"] or None, value=c["object"])
        for c in summary["conflicts"]
    ]
    error = Conflict(N_("Nothing was registered: every registration has a conflict."), problems)
    body = {**problem_body(error, request), "importSummary": summary}
    return JSONResponse(body, status_code=409, media_type=PROBLEM)


@router.delete("/completeDataSetRegistrations", status_code=204, responses=CONFLICT)
def withdraw(conn: Conn, user: User, ds: DataSetParam, pe: PeriodParam, ou: UnitParam) -> Response:
    """Withdraw a registration (404 if there is none)."""
    if not completeness.uncomplete(conn, principal=user, data_set=ds, period=pe, unit=ou):
        raise NotFound(M_("Data set {ds} is not registered complete for {pe} at {ou}.", ds=ds, pe=pe, ou=ou))
    return Response(status_code=204)


# ---------------------------------------------------------------- approvals


@router.get("/dataApprovals")
def approval_status(
    conn: Conn, user: User, ds: DataSetParam, pe: PeriodParam, ou: UnitParam
) -> dict[str, Any]:
    """State (unapproved, approved, approved_above), who and when, what you may do, history, lock."""
    return asdict(queries.approval_status(conn, principal=user, data_set=ds, period=pe, unit=ou))


@router.post("/dataApprovals", responses=CONFLICT)
def approve(conn: Conn, user: User, ds: DataSetParam, pe: PeriodParam, ou: UnitParam) -> dict[str, Any]:
    """Approve the unit's data: the level above approves it (a district its schools, the commission
    districts)."""
    return asdict(approval.approve(conn, principal=user, data_set=ds, period=pe, unit=ou))


@router.delete("/dataApprovals", responses=CONFLICT)
def unapprove(
    conn: Conn,
    user: User,
    ds: DataSetParam,
    pe: PeriodParam,
    ou: UnitParam,
    reason: Annotated[str, Query(max_length=approval.MAX_REASON, description="why (required)")] = "",
) -> dict[str, Any]:
    """Undo an approval, saying why; refused while a higher approval stands."""
    status = approval.unapprove(conn, principal=user, data_set=ds, period=pe, unit=ou, reason=reason)
    return asdict(status)


# ---------------------------------------------------------------- completeness


@router.get("/completeness")
def completeness_report(
    conn: Conn, user: User, ds: DataSetParam, pe: PeriodsParam, ou: UnitParam, children: bool = True
) -> dict[str, Any]:
    """Expected, received and on-time reports (and their rates) for the unit and each direct child."""
    rows = completeness.completeness(
        conn, principal=user, data_set=ds, periods=pe, unit=ou, children=children
    )
    return {"dataSet": ds, "rows": [asdict(r) for r in rows]}


# ---------------------------------------------------------------- the user's work list


StatusParam = Annotated[
    str | None,
    Query(max_length=16, description="only lines of this status: " + ", ".join(worklist.STATUSES)),
]


@router.get("/myForms")
def my_forms(conn: Conn, user: User, as_of: AsOf, status: StatusParam = None) -> dict[str, Any]:
    """The user's work list ("My forms"): each form of the user's units that is due, late, sent back,
    waiting for approval or approved, and the units below waiting for the user's approval."""
    found = worklist.work_list(conn, principal=user, today=as_of or clock.today(), status=status or None)
    return asdict(found)


# ---------------------------------------------------------------- lock exceptions


@router.get("/lockExceptions")
def lock_exceptions(
    conn: Conn,
    user: User,
    ds: Annotated[str | None, Query(max_length=50)] = None,
    pe: Annotated[str | None, Query(max_length=16)] = None,
) -> dict[str, Any]:
    """Exceptions to period locks, for units you may see."""
    found = queries.list_exceptions(conn, principal=user, data_set=ds, period=pe)
    return {"lockExceptions": [asdict(x) for x in found]}


def _date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            "Invalid date.", [Problem("not a date", field=field, value=value, expected="YYYY-MM-DD")]
        ) from None


@router.post("/lockExceptions", status_code=201)
def grant_exception(
    conn: Conn,
    user: User,
    ds: DataSetParam,
    pe: PeriodParam,
    ou: UnitParam,
    until: Annotated[str, Query(max_length=10, description="YYYY-MM-DD: open until this day, inclusive")],
    reason: Annotated[str, Query(max_length=approval.MAX_REASON)] = "",
) -> dict[str, Any]:
    """Re-open a closed period for one unit until a day (administrators only)."""
    granted = approval.grant_exception(
        conn, principal=user, data_set=ds, period=pe, unit=ou, until=_date(until, "until"), reason=reason
    )
    return asdict(granted)


@router.delete("/lockExceptions", status_code=204)
def revoke_exception(conn: Conn, user: User, ds: DataSetParam, pe: PeriodParam, ou: UnitParam) -> Response:
    """Withdraw an exception (administrators only)."""
    approval.revoke_exception(conn, principal=user, data_set=ds, period=pe, unit=ou)
    return Response(status_code=204)
