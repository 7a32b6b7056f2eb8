"""JSON routes of key tasks under /api/plans: the years, a year's board, tasks, progress reports (with
evidence files, multipart), reviews, status overrides, "my tasks" and reminders.

Dates count from ``as_of`` (default: :func:`jiaowei.plans.clock.today`). Cause messages come in the
caller's language (``lang``, the account's, the cookie's or Accept-Language).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from jiaowei.i18n import translate
from jiaowei.plans import clock
from jiaowei.plans.tasks import queries, service
from jiaowei.plans.tasks.views import Gettext
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User, language

router = APIRouter(prefix="/api/plans", tags=["plans"])

Year = Annotated[int, Path(ge=2000, le=2100, description="the plan's year")]
Uid = Annotated[str, Path(max_length=11, description="a task's id (uid)")]
ReportUid = Annotated[str, Path(max_length=11, description="a progress report's id (uid)")]
Responses = dict[int | str, dict[str, Any]]
CONFLICT: Responses = {
    409: {"description": "A plan for that year exists, or the report was reviewed already"}
}


def _gettext(request: Request) -> Gettext:
    lang = language(request)
    return lambda message: translate(lang, message)


def _day(as_of: dt.date | None) -> dt.date:
    return as_of or clock.today()


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(ge=2000, le=2100)
    title_zh: str = Field(max_length=230)
    title_en: str = Field(default="", max_length=230)


class MilestoneBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(max_length=500)
    due: dt.date | None = None
    done_on: dt.date | None = None


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    indicator: str = Field(max_length=50, description="the indicator's code")
    unit: str | None = Field(
        default=None, max_length=64, description="where it is measured; default the lead unit"
    )
    period: str | None = Field(default=None, max_length=16, description="default: the plan's year")
    target: float | None = Field(default=None, description="default: the Indicators module's target")


class ItemBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parent: str | None = Field(
        default=None, max_length=11, description="the uid of the section or task above"
    )
    kind: str = Field(max_length=16, description="section, task or subtask")
    number: str = Field(default="", max_length=16, description="as printed: 一, 1, (1)")
    title_zh: str = Field(max_length=500)
    title_en: str = Field(default="", max_length=500)
    description: str = Field(default="", max_length=20000)
    lead_unit: str | None = Field(default=None, max_length=64, description="the lead unit's code")
    supporting_units: list[str] = Field(default_factory=list, max_length=100)
    owner: str = Field(default="", max_length=100)
    deadline: dt.date | None = None
    outcome: str = Field(default="", max_length=20000)
    milestones: list[MilestoneBody] = Field(default_factory=list, max_length=50)
    links: list[LinkBody] = Field(default_factory=list, max_length=20)
    checkpoints: dict[str, dt.date] = Field(
        default_factory=dict, description="deploy/advance/assess → due day"
    )

    def fields(self) -> dict[str, Any]:
        return {
            **self.model_dump(exclude={"milestones", "links"}),
            "milestones": [m.model_dump() for m in self.milestones],
            "links": [k.model_dump() for k in self.links],
        }


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(max_length=16, description="accept or return")
    comment: str = Field(default="", max_length=20000, description="required when returning")
    status: str | None = Field(default=None, max_length=16, description="override the task's status as well")
    reason: str = Field(default="", max_length=20000, description="required with status")


class OverrideBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | None = Field(max_length=16, description="on_track, at_risk, late or done; null clears it")
    reason: str = Field(default="", max_length=20000, description="required unless clearing")


# ---------------------------------------------------------------- plans and the board


@router.get("/years")
def list_plans(conn: Conn, user: User) -> dict[str, Any]:
    """The years that have a plan, newest first."""
    refs = queries.plan_refs(conn)
    return {"years": [p.year for p in refs], "plans": [p.as_dict() for p in refs]}


@router.post("/years", status_code=201, responses=CONFLICT)
def create_plan(conn: Conn, user: User, body: PlanBody) -> dict[str, Any]:
    """A new annual plan (plans.manage)."""
    service.create_plan(conn, principal=user, year=body.year, title_zh=body.title_zh, title_en=body.title_en)
    return queries.plan_of_year(conn, body.year).as_dict()


@router.get("/years/{year}")
def plan_board(request: Request, conn: Conn, user: User, year: Year, as_of: AsOf) -> dict[str, Any]:
    """The year's board: sections → tasks → sub-tasks, each task's status with its causes and progress, and
    the counts by status, section and lead unit."""
    board = queries.board(conn, principal=user, year=year, today=_day(as_of))
    return board.as_dict(_gettext(request))


@router.post("/years/{year}/items", status_code=201)
def create_item(
    request: Request, conn: Conn, user: User, year: Year, body: ItemBody, as_of: AsOf
) -> dict[str, Any]:
    """A new section, task or sub-task of the year's plan (plans.manage)."""
    uid = service.save_item(conn, principal=user, year=year, **body.fields())
    return queries.task_detail(conn, principal=user, uid=uid, today=_day(as_of)).as_dict(_gettext(request))


# ---------------------------------------------------------------- tasks


@router.get("/tasks/{uid}")
def get_task(request: Request, conn: Conn, user: User, uid: Uid, as_of: AsOf) -> dict[str, Any]:
    """A task: status and causes, checkpoints with reports and evidence, milestones, linked indicators."""
    return queries.task_detail(conn, principal=user, uid=uid, today=_day(as_of)).as_dict(_gettext(request))


@router.put("/tasks/{uid}")
def update_task(
    request: Request, conn: Conn, user: User, uid: Uid, body: ItemBody, as_of: AsOf
) -> dict[str, Any]:
    """Replace an item's fields, milestones, links and supporting units (plans.manage); reports are kept."""
    year = queries.item_for(conn, user, uid, None).year
    service.save_item(conn, principal=user, year=year, uid=uid, **body.fields())
    return queries.task_detail(conn, principal=user, uid=uid, today=_day(as_of)).as_dict(_gettext(request))


@router.post("/tasks/{uid}/reports", status_code=201, dependencies=[TAKES_FILES])
def report_progress(
    request: Request,
    user: User,
    conn: Conn,
    uid: Uid,
    stage: Annotated[str, Form(max_length=16, description="deploy, advance or assess")],
    percent: Annotated[int, Form(ge=0, le=100)],
    narrative: Annotated[str, Form(max_length=20000)],
    as_of: AsOf,
    evidence: Annotated[list[UploadFile] | None, File(description="PDF, DOCX, XLSX or images")] = None,
) -> dict[str, Any]:
    """Report progress at a checkpoint, with evidence files (multipart; the lead unit's reporters)."""
    files = [(f.filename or "evidence", f.file.read()) for f in evidence or [] if f.filename or f.size]
    today = _day(as_of)
    report = service.report_progress(
        conn,
        principal=user,
        task=uid,
        stage=stage,
        percent=percent,
        narrative=narrative,
        evidence=files,
        today=today,
    )
    detail = queries.task_detail(conn, principal=user, uid=uid, today=today)
    return {"report": report, "task": detail.as_dict(_gettext(request))}


@router.post("/reports/{uid}/review", responses=CONFLICT)
def review_report(
    request: Request, conn: Conn, user: User, uid: ReportUid, body: ReviewBody, as_of: AsOf
) -> dict[str, Any]:
    """Accept or return a report (plans.manage); ``status`` and ``reason`` override the status too."""
    today = _day(as_of)
    service.review_report(
        conn,
        principal=user,
        report=uid,
        decision=body.decision,
        comment=body.comment,
        status=body.status,
        reason=body.reason,
        today=today,
    )
    task = queries.report_row(conn, uid).task_uid
    return queries.task_detail(conn, principal=user, uid=task, today=today).as_dict(_gettext(request))


@router.put("/tasks/{uid}/status")
def override_status(
    request: Request, conn: Conn, user: User, uid: Uid, body: OverrideBody, as_of: AsOf
) -> dict[str, Any]:
    """Override the task's computed status with a reason, or clear the override (``status: null``)."""
    today = _day(as_of)
    service.override_status(
        conn, principal=user, task=uid, status=body.status, reason=body.reason, today=today
    )
    return queries.task_detail(conn, principal=user, uid=uid, today=today).as_dict(_gettext(request))


# ---------------------------------------------------------------- my tasks and reminders


@router.get("/my")
def my_tasks(
    request: Request,
    conn: Conn,
    user: User,
    as_of: AsOf,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> dict[str, Any]:
    """The tasks your own units lead or support, by what is due next."""
    found = queries.my_tasks(conn, principal=user, today=_day(as_of), year=year)
    gettext = _gettext(request)
    return {"tasks": [t.as_dict(gettext) for t in found]}


@router.get("/reminders")
def reminders(
    conn: Conn,
    user: User,
    as_of: AsOf,
    within_days: Annotated[int, Query(ge=0, le=366)] = 14,
    unit: Annotated[str | None, Query(max_length=64, description="only tasks this unit leads")] = None,
) -> JSONResponse:
    """Checkpoints, milestones and deadlines overdue or due within ``within_days``, overdue first."""
    found = queries.reminders(conn, principal=user, today=_day(as_of), within_days=within_days, unit=unit)
    return JSONResponse(
        {
            "as_of": _day(as_of).isoformat(),
            "within_days": within_days,
            "reminders": [r.as_dict() for r in found],
        }
    )
