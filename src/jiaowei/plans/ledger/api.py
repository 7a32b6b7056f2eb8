"""JSON routes of the rectification ledger under /api/plans/rectification: findings, measures, their
transitions (multipart, with evidence files), overdue measures and rectification rates."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from jiaowei.plans import clock
from jiaowei.plans.ledger import queries, service
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User

router = APIRouter(prefix="/api/plans/rectification", tags=["plans"])

Uid = Annotated[str, Path(max_length=11, description="the id (uid) of a finding or measure")]
Text = Annotated[str | None, Query(max_length=200)]
Code = Annotated[str | None, Query(max_length=64, description="a unit's code")]
REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "The measure may not move from its current state to the one asked; the problem "
                         "names the states accepted from there"}}


class MeasureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=4000)
    owner: str = Field(max_length=200, description="who answers for it: a person or an office")
    deadline: dt.date


class FindingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sourceKind: str = Field(max_length=16,
                            description="inspection (巡视/巡察), audit (审计) or review (检查)")
    source: str = Field(max_length=200, description="e.g. 2020年市委巡视")
    foundOn: dt.date
    orgUnit: str = Field(max_length=64, description="the code of the unit the finding concerns")
    severity: str = Field(max_length=16, description="high (严重), medium (较重) or low (一般)")
    text: str = Field(max_length=4000)
    measures: list[MeasureCreate] = Field(default_factory=list, max_length=50)


def uploaded(evidence: Annotated[list[UploadFile] | None, File(description="evidence files")] = None,
             ) -> list[tuple[str, bytes]]:
    """The posted evidence files as (name, content), read before the transaction begins; empty parts
    (a file input left empty) are skipped."""
    files = [(item.filename or "", item.file.read()) for item in evidence or []]
    return [(name, data) for name, data in files if name or data]


Files = Annotated[list[tuple[str, bytes]], Depends(uploaded)]


def _day(as_of: dt.date | None) -> dt.date:
    return as_of or clock.today()


@router.get("/findings")
def list_findings(conn: Conn, user: User, as_of: AsOf, orgUnit: Code = None, source: Text = None,
                  sourceKind: Annotated[str | None, Query(max_length=16)] = None,
                  state: Annotated[str | None, Query(max_length=16)] = None) -> dict[str, Any]:
    """The findings you may see (their unit in your view scope), newest first, with their measures;
    ``orgUnit`` keeps those of a unit and the units below it."""
    found = queries.findings(conn, principal=user, today=_day(as_of), unit=orgUnit, source=source,
                             source_kind=sourceKind, state=state)
    return {"findings": [x.as_dict() for x in found]}


@router.post("/findings", status_code=201)
def record_finding(conn: Conn, user: User, body: FindingCreate) -> dict[str, Any]:
    """Record a finding with its measures (plans.manage), each measure open."""
    uid = service.record_finding(conn, principal=user, source_kind=body.sourceKind, source=body.source,
                                 found_on=body.foundOn, unit=body.orgUnit, severity=body.severity,
                                 text=body.text, measures=[m.model_dump() for m in body.measures])
    return queries.finding(conn, principal=user, uid=uid, today=clock.today()).as_dict()


@router.get("/findings/{uid}")
def get_finding(conn: Conn, user: User, uid: Uid, as_of: AsOf) -> dict[str, Any]:
    """One finding with its measures, each with its history and evidence."""
    return queries.finding(conn, principal=user, uid=uid, today=_day(as_of)).as_dict()


@router.post("/findings/{uid}/measures", status_code=201)
def add_measure(conn: Conn, user: User, uid: Uid, body: MeasureCreate, as_of: AsOf) -> dict[str, Any]:
    """Add a measure (open) to a finding (plans.manage)."""
    measure = service.add_measure(conn, principal=user, finding=uid, text=body.text, owner=body.owner,
                                  deadline=body.deadline, today=as_of)
    return queries.measure(conn, principal=user, uid=measure, today=_day(as_of)).as_dict()


@router.get("/measures/{uid}")
def get_measure(conn: Conn, user: User, uid: Uid, as_of: AsOf) -> dict[str, Any]:
    """One measure with its history (who, when, comment) and evidence."""
    return queries.measure(conn, principal=user, uid=uid, today=_day(as_of)).as_dict()


@router.post("/measures/{uid}/transitions", responses=REFUSED, dependencies=[TAKES_FILES])
def move_measure(user: User, files: Files, conn: Conn, uid: Uid, as_of: AsOf,
                 to_state: Annotated[str, Form(max_length=16, description="open, in_progress, rectified, "
                                                                          "verified or closed")],
                 comment: Annotated[str, Form(max_length=4000)] = "") -> dict[str, Any]:
    """Move a measure to another state (multipart: ``to_state``, ``comment``, ``evidence`` files).
    The unit (plans.report) moves it open → in_progress → rectified; the commission (plans.manage)
    verifies, returns a rectified measure to in_progress, closes, and re-checks (回头看: a verified or
    closed measure back to in_progress). Going back needs a comment saying why."""
    day = _day(as_of)
    service.transition(conn, principal=user, measure=uid, to_state=to_state, comment=comment, today=day,
                       evidence=files)
    return queries.measure(conn, principal=user, uid=uid, today=day).as_dict()


@router.post("/measures/{uid}/evidence", dependencies=[TAKES_FILES])
def attach_evidence(user: User, files: Files, conn: Conn, uid: Uid, as_of: AsOf) -> dict[str, Any]:
    """Attach evidence files to a measure without moving it (multipart ``evidence``)."""
    day = _day(as_of)
    service.attach_evidence(conn, principal=user, measure=uid, today=day, evidence=files)
    return queries.measure(conn, principal=user, uid=uid, today=day).as_dict()


@router.get("/overdue")
def overdue(conn: Conn, user: User, as_of: AsOf, orgUnit: Code = None) -> dict[str, Any]:
    """Measures past their deadline (before ``as_of``, default today) and not yet rectified."""
    day = _day(as_of)
    found = queries.overdue(conn, principal=user, today=day, unit=orgUnit)
    return {"asOf": day.isoformat(), "measures": [o.as_dict() for o in found]}


@router.get("/rates")
def rates(conn: Conn, user: User, as_of: AsOf, by: Annotated[str, Query(max_length=8)] = "unit",
          orgUnit: Code = None) -> dict[str, Any]:
    """The rectification rate (measures rectified, verified or closed, of all) by unit or by source."""
    day = _day(as_of)
    rows = queries.rates(conn, principal=user, today=day, by=by, unit=orgUnit)
    return {"asOf": day.isoformat(), "by": by, "total": queries.totals(rows).as_dict(),
            "rows": [r.as_dict() for r in rows]}
