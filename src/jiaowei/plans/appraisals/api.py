"""JSON routes of appraisals (述职评议) under /api/plans/appraisals: templates, rounds, a reviewer's
scores (and their evidence files, multipart), closing a round and its results."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Path, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from jiaowei.plans import clock
from jiaowei.plans.appraisals import queries, service
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User

router = APIRouter(prefix="/api/plans/appraisals", tags=["plans"])

Uid = Annotated[str, Path(max_length=11, description="an id (uid)")]
CLOSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "The round is closed, or its deadline has passed"}}


class CriterionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_zh: str = Field(max_length=230)
    name_en: str = Field(default="", max_length=230)
    weight: float = Field(default=1.0, description="relative weight, above 0")
    min: float = Field(default=0.0, description="the lowest score of the scale")
    max: float = Field(default=100.0, description="the highest score of the scale")


class ThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    excellent: float = Field(default=90.0, description="lowest total graded 优秀")
    good: float = Field(default=80.0, description="lowest total graded 良好")
    fair: float = Field(default=60.0, description="lowest total graded 一般; below it 较差")


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_zh: str = Field(max_length=230)
    name_en: str = Field(default="", max_length=230)
    description: str = Field(default="", max_length=4000)
    criteria: list[CriterionIn] = Field(max_length=50)
    thresholds: ThresholdsIn = Field(default_factory=ThresholdsIn)


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    orgUnit: str = Field(max_length=64, description="the unit's code")
    leader: str = Field(default="", max_length=100, description="a named leader of the unit; empty: the unit")
    reviewers: list[str] = Field(default_factory=list, max_length=100, description="usernames")


class RoundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str = Field(max_length=11, description="the template's id")
    year: int = Field(ge=1900, le=2200)
    title_zh: str = Field(max_length=230)
    title_en: str = Field(default="", max_length=230)
    deadline: dt.date
    subjects: list[SubjectIn] = Field(max_length=500)
    reviewers: list[str] = Field(default_factory=list, max_length=100,
                                 description="usernames assigned to every subject")
    trimmed: bool = Field(default=False, description="drop the highest and lowest reviewer per criterion "
                                                     "(with at least three reviewers)")
    dataElement: str | None = Field(default=None, max_length=50,
                                    description="numeric data element the unit subjects' totals are written "
                                                "to for the round's year when it closes")


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criterion: str = Field(max_length=11, description="the criterion's id")
    score: float
    comment: str = Field(default="", max_length=4000)


class ScoresIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scores: list[ScoreIn] = Field(max_length=50)


class DeadlineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deadline: dt.date


def uploaded(evidence: Annotated[list[UploadFile] | None, File(description="evidence files")] = None,
             ) -> list[tuple[str, bytes]]:
    """The posted evidence files as (name, content), read before the transaction begins."""
    files = [(item.filename or "", item.file.read()) for item in evidence or []]
    return [(name, data) for name, data in files if name or data]


Files = Annotated[list[tuple[str, bytes]], Depends(uploaded)]


def _day(as_of: dt.date | None) -> dt.date:
    return as_of or clock.today()


@router.get("/templates")
def list_templates(conn: Conn, user: User) -> dict[str, Any]:
    """Appraisal templates with their criteria and grade thresholds (plans.manage)."""
    return {"templates": [t.as_dict() for t in queries.list_templates(conn, principal=user)]}


@router.post("/templates", status_code=201)
def create_template(conn: Conn, user: User, body: TemplateCreate) -> dict[str, Any]:
    """A new template: criteria with weights and scales, grade thresholds (plans.manage)."""
    uid = service.create_template(conn, principal=user, name_zh=body.name_zh, name_en=body.name_en,
                                  description=body.description,
                                  criteria=[c.model_dump() for c in body.criteria],
                                  thresholds=body.thresholds.model_dump())
    return queries.get_template(conn, principal=user, uid=uid).as_dict()


@router.get("/templates/{uid}")
def get_template(conn: Conn, user: User, uid: Uid) -> dict[str, Any]:
    """One template (plans.manage)."""
    return queries.get_template(conn, principal=user, uid=uid).as_dict()


@router.get("/rounds")
def list_rounds(conn: Conn, user: User, as_of: AsOf,
                year: Annotated[int | None, Query(ge=1900, le=2200)] = None) -> dict[str, Any]:
    """The rounds you may see: all (plans.manage), those you review, and closed ones with a subject
    unit in your view scope."""
    found = queries.list_rounds(conn, principal=user, today=_day(as_of), year=year)
    return {"rounds": [r.as_dict() for r in found]}


@router.post("/rounds", status_code=201)
def create_round(conn: Conn, user: User, body: RoundCreate, as_of: AsOf) -> dict[str, Any]:
    """A new open round with its subjects and their reviewers (plans.manage)."""
    day = _day(as_of)
    uid = service.create_round(
        conn, principal=user, template=body.template, year=body.year, title_zh=body.title_zh,
        title_en=body.title_en, deadline=body.deadline, reviewers=body.reviewers, trimmed=body.trimmed,
        element=body.dataElement, today=day,
        subjects=[{"unit": s.orgUnit, "leader": s.leader, "reviewers": s.reviewers} for s in body.subjects])
    return queries.round_detail(conn, principal=user, uid=uid, today=day).as_dict()


@router.get("/rounds/{uid}")
def get_round(conn: Conn, user: User, uid: Uid, as_of: AsOf) -> dict[str, Any]:
    """A round as you may see it: your own assignments and scores while it is open (reviewers), who
    has scored (plans.manage), and once closed the results of the subjects in your view scope."""
    return queries.round_detail(conn, principal=user, uid=uid, today=_day(as_of)).as_dict()


@router.post("/rounds/{uid}/deadline", responses=CLOSED)
def change_deadline(conn: Conn, user: User, uid: Uid, body: DeadlineIn, as_of: AsOf) -> dict[str, Any]:
    """Move an open round's deadline (plans.manage)."""
    service.change_deadline(conn, principal=user, round=uid, deadline=body.deadline)
    return queries.round_detail(conn, principal=user, uid=uid, today=_day(as_of)).as_dict()


@router.put("/rounds/{uid}/subjects/{subject}/scores", responses=CLOSED)
def record_scores(conn: Conn, user: User, uid: Uid, subject: Uid, body: ScoresIn,
                  as_of: AsOf) -> dict[str, Any]:
    """Your scores of a subject assigned to you, each within its criterion's scale, with comments; a
    criterion scored again is replaced. Refused once the round is closed or its deadline has passed."""
    day = _day(as_of)
    service.record_scores(conn, principal=user, round=uid, subject=subject, today=day,
                          scores=[s.model_dump() for s in body.scores])
    return queries.round_detail(conn, principal=user, uid=uid, today=day).as_dict()


@router.post("/rounds/{uid}/subjects/{subject}/scores/{criterion}/evidence", responses=CLOSED,
             dependencies=[TAKES_FILES])
def attach_evidence(user: User, files: Files, conn: Conn, uid: Uid, subject: Uid, criterion: Uid,
                    as_of: AsOf) -> dict[str, Any]:
    """Attach evidence files (multipart ``evidence``) to your score of a criterion."""
    day = _day(as_of)
    made = service.attach_evidence(conn, principal=user, round=uid, subject=subject, criterion=criterion,
                                   files=files, today=day)
    return {"evidence": made}


@router.post("/rounds/{uid}/close", responses=CLOSED)
def close_round(conn: Conn, user: User, uid: Uid, as_of: AsOf) -> dict[str, Any]:
    """Close the round (plans.manage): its results are published, and with a data element, each unit
    subject's weighted total is written as the element's value for the round's year."""
    day = _day(as_of)
    written = service.close_round(conn, principal=user, round=uid, today=day)
    detail = queries.round_detail(conn, principal=user, uid=uid, today=day)
    return {**detail.as_dict(), "valuesWritten": written}
