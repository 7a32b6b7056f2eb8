"""Key tasks pages: the plan board of a year (by section, lead unit or status, with its charts), a task's
page (status and causes, checkpoints with reports, reviews and evidence, milestones, linked indicators)
with the forms to report progress, review a report and override the status, and "my tasks" with what
is due soon or overdue. Every date rule counts from ``as_of`` (default :func:`jiaowei.plans.clock.today`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection
from starlette.datastructures import UploadFile

from jiaowei import clock as jiaowei_clock
from jiaowei.auth.model import Principal
from jiaowei.errors import M_, Conflict, JiaoweiError, NotFound, Problem, ValidationError
from jiaowei.i18n import translate
from jiaowei.plans import clock
from jiaowei.plans.evidence import queries as evidence_queries
from jiaowei.plans.tasks import charts, queries, service
from jiaowei.plans.tasks.model import REVIEW_LABELS, STAGE_LABELS, STATUS_LABELS, Cause, Stage, Status
from jiaowei.plans.tasks.views import Board, Reminder, TaskDetail, TaskSummary
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User, language
from jiaowei.web.forms import N_, Form, in_language, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

VIEWS = {"section": N_("By section"), "unit": N_("By lead unit"), "status": N_("By status")}
KIND_NAMES = {"checkpoint": N_("Checkpoint"), "milestone": N_("Milestone"), "deadline": N_("Deadline")}
DECISIONS = {"accept": N_("Accept"), "return": N_("Return for revision")}
FIELDS = {
    "stage": N_("Checkpoint"),
    "percent": N_("Progress (%)"),
    "narrative": N_("Narrative"),
    "evidence": N_("Evidence files"),
    "decision": N_("Decision"),
    "comment": N_("Review comment"),
    "status": N_("Status"),
    "reason": N_("Reason"),
}
NOT_A_PERCENT = N_("not a whole number from 0 to 100")
NOT_SAVED = N_("The progress report cannot be saved.")
Year = Annotated[int | None, Query(ge=1900, le=2200)]
UnitCode = Annotated[str | None, Query(max_length=64)]


def _labels() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "stage_labels": STAGE_LABELS,
        "review_labels": REVIEW_LABELS,
        "view_labels": VIEWS,
        "kind_names": KIND_NAMES,
        "decisions": DECISIONS,
        "fields": FIELDS,
        "statuses": list(Status),
        "stages": list(Stage),
        "active": "plans",
        "when": jiaowei_clock.local,
    }


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return page(request, template, {**_labels(), **context}, status)


def cause_text(cause: Cause, lang: str) -> str:
    """A cause in the page's language, a stage named as the page names it."""
    if "stage" in cause.params and cause.params["stage"] in STAGE_LABELS:
        named = translate(lang, STAGE_LABELS[Stage(cause.params["stage"])])
        cause = Cause(cause.code, cause.message, {**cause.params, "stage": named})
    return cause.text(lambda message: translate(lang, message))


# ---------------------------------------------------------------- the board


def _year(conn: Connection, asked: int | None, day: dt.date) -> int | None:
    """The year asked for, else the as-of day's year if it has a plan, else the latest plan's year."""
    found = queries.years(conn)
    if asked is not None:
        return asked
    if day.year in found:
        return day.year
    return found[0] if found else None


def _rows(items: Sequence[TaskSummary], depth: int = 0) -> list[tuple[int, TaskSummary]]:
    out: list[tuple[int, TaskSummary]] = []
    for item in items:
        out.append((depth, item))
        out += _rows(item.children, depth + 1)
    return out


@dataclass(frozen=True)
class Group:
    """One heading of the board and the tasks under it (with their depth below it)."""

    key: str
    heading: str
    rows: list[tuple[int, TaskSummary]]


def groups(board: Board, by: str, lang: str) -> list[Group]:
    """The board's tasks under their sections, their lead units or their statuses."""
    if by == "unit":
        found: dict[str, Group] = {}
        for task in board.tasks:
            unit = task.lead_unit
            key = unit.code if unit else ""
            name = (
                (unit.name_en if lang == "en" and unit.name_en else unit.name_zh)
                if unit
                else translate(lang, "No lead unit")
            )
            found.setdefault(key, Group(key, name, [])).rows.append((0, task))
        return sorted(found.values(), key=lambda g: g.key)
    if by == "status":
        tasks = board.tasks
        return [
            Group(s.value, translate(lang, STATUS_LABELS[s]), [(0, t) for t in tasks if t.status == s])
            for s in Status
            if any(t.status == s for t in tasks)
        ]
    return [
        Group(
            s.uid,
            f"{s.number} {s.title_en if lang == 'en' and s.title_en else s.title_zh}".strip(),
            _rows(s.children),
        )
        for s in board.sections
    ]


def _own_reminders(
    conn: Connection, user: Principal, day: dt.date, tasks: Sequence[TaskSummary]
) -> list[Reminder]:
    """What is due soon or overdue on ``tasks`` (the principal's own), overdue first."""
    uids = {t.uid for t in tasks}
    found = queries.reminders(conn, principal=user, today=day)
    return [r for r in found if r.task in uids]


@router.get("/plans", response_class=HTMLResponse)
def board_page(
    request: Request,
    conn: Conn,
    user: User,
    as_of: AsOf,
    year: Year = None,
    by: Annotated[str, Query(max_length=16)] = "section",
) -> HTMLResponse:
    """A year's plan: its tasks by section, lead unit or status, with progress and status charts."""
    day = as_of or clock.today()
    by = by if by in VIEWS else "section"
    lang = language(request)
    chosen = _year(conn, year, day)
    context: dict[str, Any] = {
        "years": queries.years(conn),
        "year": chosen,
        "by": by,
        "as_of": day.isoformat(),
    }
    if chosen is None:
        return _render(request, "plans_board.html", {**context, "board": None})
    board = queries.board(conn, principal=user, year=chosen, today=day)
    mine = queries.my_tasks(conn, principal=user, today=day, year=chosen)
    return _render(
        request,
        "plans_board.html",
        {
            **context,
            "board": board,
            "groups": groups(board, by, lang),
            "reminder_count": len(_own_reminders(conn, user, day, mine)),
            "section_chart": charts.section_chart(board, language=lang),
            "unit_chart": charts.unit_chart(board, language=lang),
            "status_chart": charts.status_chart(board, language=lang),
            "cause": lambda c: cause_text(c, lang),
        },
    )


# ---------------------------------------------------------------- my tasks


@router.get("/plans/my", response_class=HTMLResponse)
def my_page(
    request: Request, conn: Conn, user: User, as_of: AsOf, year: Year = None, unit: UnitCode = None
) -> HTMLResponse:
    """The tasks the user's own units lead or support, and what on them is due soon or overdue."""
    day = as_of or clock.today()
    lang = language(request)
    chosen = _year(conn, year, day)
    tasks = queries.my_tasks(conn, principal=user, today=day, year=chosen) if chosen is not None else []
    units = sorted(
        {u.code: u for t in tasks for u in (t.lead_unit, *t.supporting_units) if u}.values(),
        key=lambda u: u.code,
    )
    if unit:
        tasks = [t for t in tasks if any(u and u.code == unit for u in (t.lead_unit, *t.supporting_units))]
    reminders = _own_reminders(conn, user, day, tasks)
    return _render(
        request,
        "plans_my.html",
        {
            "tasks": tasks,
            "units": units,
            "unit": unit or "",
            "year": chosen,
            "years": queries.years(conn),
            "as_of": day.isoformat(),
            "overdue": [r for r in reminders if r.overdue],
            "due_soon": [r for r in reminders if not r.overdue],
            "cause": lambda c: cause_text(c, lang),
        },
    )


# ---------------------------------------------------------------- a task


def task_url(uid: str, as_of: str | None = None, anchor: str = "") -> str:
    query = f"?{urlencode({'as_of': as_of})}" if as_of else ""
    return f"/plans/tasks/{uid}{query}{anchor}"


def _next_stage(detail: TaskDetail) -> str:
    """The checkpoint a report most likely answers: the first without a live report, else the last."""
    for c in detail.checkpoints:
        if c.latest is None or c.latest.review == "returned":
            return c.stage.value
    return detail.checkpoints[-1].stage.value if detail.checkpoints else Stage.DEPLOY.value


def _task(
    request: Request,
    conn: Connection,
    user: Principal,
    uid: str,
    day: dt.date,
    extra: dict[str, Any],
    status: int = 200,
) -> HTMLResponse:
    lang = language(request)
    detail = queries.task_detail(conn, principal=user, uid=uid, today=day)
    error = extra.get("error")
    shown = in_language(error, lang) if error else None
    return _render(
        request,
        "plans_task.html",
        {
            "t": detail.summary,
            "d": detail,
            "as_of": day.isoformat(),
            "link_charts": [charts.link_chart(k, language=lang) for k in detail.links],
            "limit_label": evidence_queries.limit_label(),
            "cause": lambda c: cause_text(c, lang),
            "report_values": {"stage": _next_stage(detail)},
            "override_values": {},
            "review_values": {},
            **extra,
            "error": shown,
            "errors": problems_by_field(shown),
        },
        status,
    )


@router.get("/plans/tasks/{uid}", response_class=HTMLResponse)
def task_page(request: Request, conn: Conn, user: User, uid: str, as_of: AsOf) -> HTMLResponse:
    """A task: status and causes, checkpoints with reports and reviews, evidence, milestones, indicators."""
    return _task(request, conn, user, uid, as_of or clock.today(), {})


@dataclass(frozen=True)
class PostedReport:
    """A posted progress report: its text fields and its evidence files (name, content)."""

    fields: dict[str, str]
    files: list[tuple[str, bytes]]


async def posted_report(request: Request) -> PostedReport:
    """The form's fields and files, read whole before the transaction begins."""
    form = await request.form()
    files = []
    for value in form.getlist("evidence"):
        if isinstance(value, UploadFile):
            data = await value.read()
            if value.filename or data:  # an empty file input still posts one nameless, empty part
                files.append((value.filename or "", data))
    return PostedReport({k: v for k, v in form.items() if isinstance(v, str)}, files)


def parse_percent(text: str | None) -> int:
    raw = (text or "").strip().rstrip("%").strip()
    if raw.isdigit() and 0 <= int(raw) <= 100:
        return int(raw)
    raise ValidationError(NOT_SAVED, [Problem(NOT_A_PERCENT, field="percent", value=text, expected="0–100")])


def _day(form: dict[str, str]) -> dt.date:
    """The form's as-of day (the page's), else today; a malformed one counts as today."""
    try:
        return dt.date.fromisoformat(form.get("as_of", "")) if form.get("as_of") else clock.today()
    except ValueError:
        return clock.today()


def _done_or_task_page(request: Request, conn: Connection, user: Principal, uid: str, day: dt.date,
                       form: dict[str, str], change: Callable[[], object], failed: str, values: str,
                       anchor: str, refused: tuple[type[JiaoweiError], ...] = (ValidationError, Conflict)
                       ) -> Response:
    """Make the form's change in a savepoint and go back to the task at ``anchor``; when it is refused,
    show the task page again with the error beside the form (``failed``) and what was typed (``values``)."""
    try:
        with conn.begin_nested():
            change()
    except refused as error:
        shown = {"error": error, "failed": failed, values: form}
        return _task(request, conn, user, uid, day, shown, error.status)
    return see_other(task_url(uid, form.get("as_of"), anchor))


@router.post("/plans/tasks/{uid}/report", dependencies=[TAKES_FILES])
def report(
    request: Request,
    user: User,
    uid: str,
    posted: Annotated[PostedReport, Depends(posted_report)],
    conn: Conn,
) -> Response:
    """Report progress at a checkpoint (percent, narrative, evidence files) for the lead unit."""
    form = posted.fields
    day = _day(form)
    return _done_or_task_page(
        request, conn, user, uid, day, form,
        lambda: service.report_progress(
            conn, principal=user, task=uid, stage=form.get("stage", ""),
            percent=parse_percent(form.get("percent")), narrative=form.get("narrative", ""),
            evidence=posted.files, today=day),
        "report", "report_values", "#timeline-title", refused=(ValidationError,))


@router.post("/plans/tasks/{uid}/reports/{report_uid}/review")
def review(request: Request, conn: Conn, user: User, uid: str, report_uid: str, form: Form) -> Response:
    """Accept or return a report, with a comment, and optionally set the task's status with a reason."""
    day = _day(form)
    if queries.report_row(conn, report_uid).task_uid != uid:
        raise NotFound(M_("No progress report with id {report_uid!r}.", report_uid=report_uid))
    return _done_or_task_page(
        request, conn, user, uid, day, form,
        lambda: service.review_report(
            conn, principal=user, report=report_uid, decision=form.get("decision", ""),
            comment=form.get("comment", ""), status=form.get("status") or None,
            reason=form.get("reason", ""), today=day),
        f"review:{report_uid}", "review_values", "#status-title")


@router.post("/plans/tasks/{uid}/status")
def override(request: Request, conn: Conn, user: User, uid: str, form: Form) -> Response:
    """Set the task's status by hand with a reason, or clear the override (an empty status)."""
    day = _day(form)
    return _done_or_task_page(
        request, conn, user, uid, day, form,
        lambda: service.override_status(
            conn, principal=user, task=uid, status=form.get("status") or None,
            reason=form.get("reason", ""), today=day),
        "override", "override_values", "#status-title")
