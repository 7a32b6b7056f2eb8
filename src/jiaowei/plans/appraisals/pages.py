"""Appraisal pages under /plans/appraisals: the rounds (and, for managers, the templates and the forms
that make them), a round's page (subjects, who has scored, and once closed the results with their
ranks, grades and charts), and a reviewer's scoring form for one subject."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection
from starlette.datastructures import UploadFile

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.errors import JiaoweiError, NotFound, Problem, ValidationError
from jiaowei.i18n import translate
from jiaowei.plans import clock, pickers
from jiaowei.plans.appraisals import queries, service
from jiaowei.plans.appraisals.model import GRADE_LABELS, GRADES
from jiaowei.plans.appraisals.queries import RoundDetail, SubjectShown
from jiaowei.plans.evidence import queries as evidence_queries
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import Conn, User, language, parse_date
from jiaowei.web.forms import N_, Form, in_language, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

CRITERIA_ROWS = 8
LEADER_ROWS = 4
FIELDS = {"name_zh": N_("Chinese name"), "name_en": N_("English name"), "description": N_("Description"),
          "weight": N_("Weight"), "min": N_("Lowest score"), "max": N_("Highest score"),
          "criteria": N_("Criteria"), "thresholds": N_("Grade thresholds"), "excellent": N_("Excellent from"),
          "good": N_("Good from"), "fair": N_("Fair from"), "template": N_("Template"), "year": N_("Year"),
          "title_zh": N_("Chinese title"), "title_en": N_("English title"), "deadline": N_("Deadline"),
          "subjects": N_("Subjects"), "unit": N_("Unit"), "leader": N_("Leader"),
          "reviewers": N_("Reviewers"),
          "dataElement": N_("Data element"), "criterion": N_("Criterion"), "score": N_("Your score"),
          "comment": N_("Comment"), "evidence": N_("Evidence files"), "round": N_("Round"),
          "orgUnit": N_("Unit"), "value": N_("Value"), "period": N_("Period")}
STATUS_LABELS = {"open": N_("Scoring open"), "closed": N_("Round closed")}
LABELS = {"fields": FIELDS, "grade_labels": GRADE_LABELS, "grades": GRADES, "status_labels": STATUS_LABELS}


def round_url(uid: str) -> str:
    return f"/plans/appraisals/{quote(uid, safe='')}"


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    error = context.get("error")
    if error is not None:
        context = {**context, "error": in_language(error, language(request))}
    return page(request, template, {**LABELS, "active": "plans", "values": {},
                                    "errors": problems_by_field(context.get("error")), **context}, status)


def _day(value: str | None) -> dt.date:
    return parse_date(value) or clock.today()


# ---------------------------------------------------------------- the rounds


@router.get("/plans/appraisals", response_class=HTMLResponse)
def rounds_page(request: Request, conn: Conn, user: User,
                year: Annotated[str, Query(max_length=4)] = "",
                as_of: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
    """The rounds the user may see; for managers also the templates."""
    chosen = int(year) if year.isdigit() else None
    found = queries.list_rounds(conn, principal=user, today=_day(as_of), year=chosen)
    manager = user.may(Action.PLANS_MANAGE)
    return _render(request, "appraisals_rounds.html", {
        "rounds": found, "year": chosen, "years": queries.years(conn), "manager": manager,
        "templates": queries.list_templates(conn, principal=user) if manager else []})


def _template_form(request: Request, conn: Connection, user: Principal, extra: dict[str, Any],
                   status: int = 200) -> HTMLResponse:
    require_action(user, Action.PLANS_MANAGE)
    return _render(request, "appraisals_template_form.html", {"rows": range(1, CRITERIA_ROWS + 1), **extra},
                   status)


@router.get("/plans/appraisals/templates/new", response_class=HTMLResponse)
def new_template(request: Request, conn: Conn, user: User) -> HTMLResponse:
    """The form for a new template: criteria with weights and scales, grade thresholds."""
    return _template_form(request, conn, user, {"values": {"excellent": "90", "good": "80", "fair": "60",
                                                           "weight-1": "1", "min-1": "0", "max-1": "100"}})


def _criteria(form: dict[str, str]) -> list[dict[str, str]]:
    """The criterion rows of the form that have a name (row n: name_zh-n, name_en-n, weight-n, min-n,
    max-n)."""
    rows = []
    for n in range(1, CRITERIA_ROWS + 1):
        if form.get(f"name_zh-{n}", "").strip() or form.get(f"name_en-{n}", "").strip():
            rows.append({"name_zh": form.get(f"name_zh-{n}", "")[:400],
                         "name_en": form.get(f"name_en-{n}", "")[:400],
                         "weight": form.get(f"weight-{n}") or "1", "min": form.get(f"min-{n}") or "0",
                         "max": form.get(f"max-{n}") or "100"})
    return rows


@router.post("/plans/appraisals/templates/new")
def create_template(request: Request, conn: Conn, user: User, form: Form) -> Response:
    """Save a new template; back to the rounds page."""
    try:
        with conn.begin_nested():
            service.create_template(
                conn, principal=user, name_zh=form.get("name_zh", "")[:400],
                name_en=form.get("name_en", "")[:400],
                description=form.get("description", "")[:8000], criteria=_criteria(form),
                thresholds={k: form.get(k, "")[:20] for k in ("excellent", "good", "fair")})
    except JiaoweiError as error:
        if error.status in (403, 404):
            raise
        return _template_form(request, conn, user, {"error": error, "values": form}, error.status)
    return see_other("/plans/appraisals")


def _round_form(request: Request, conn: Connection, user: Principal, extra: dict[str, Any],
                status: int = 200) -> HTMLResponse:
    """The round form: units, leaders' units, reviewers and data elements offered as choices."""
    templates = queries.list_templates(conn, principal=user)
    lang, today = language(request), clock.today()
    return _render(request, "appraisals_round_form.html", {
        "templates": templates, "units": pickers.unit_choices(conn, user, language=lang, day=today),
        "people": pickers.user_choices(conn, user, day=today), "leader_rows": range(1, LEADER_ROWS + 1),
        "elements": pickers.element_choices(conn, user, language=lang, value_types=service.FED_TYPES),
        **extra}, status)


@router.get("/plans/appraisals/new", response_class=HTMLResponse)
def new_round(request: Request, conn: Conn, user: User) -> HTMLResponse:
    """The form for a new round: template, year, title, deadline, subjects and their reviewers."""
    today = clock.today()
    return _round_form(request, conn, user, {"values": {"year": str(today.year),
                                                        "deadline": f"{today.year}-12-31"}})


def parse_subjects(text: str) -> list[dict[str, Any]]:
    """One subject a line: ``CODE``, ``CODE leader`` or either followed by ``: reviewer reviewer …``."""
    found = []
    for line in text.splitlines():
        head, _, tail = line.partition(":") if ":" in line else line.partition("：")
        code, _, leader = head.strip().partition(" ")
        if code:
            found.append({"unit": code[:64], "leader": leader.strip()[:200],
                          "reviewers": [r[:64] for r in tail.replace(",", " ").replace("，", " ").split()]})
    return found


def chosen_subjects(form: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The subjects of the form, in order: the units chosen in the list, the leaders (a unit chosen and
    a name, row n: ``leader_unit-n``, ``leader-n``), then the lines of the text field, each once."""
    one = {k: (v or [""])[-1] for k, v in form.items()}
    found = [{"unit": code[:64], "leader": "", "reviewers": []}
             for code in pickers.split_codes(form.get("subject_units", []))]
    for n in range(1, LEADER_ROWS + 1):
        code, leader = one.get(f"leader_unit-{n}", "").strip(), one.get(f"leader-{n}", "").strip()
        if code or leader:
            found.append({"unit": code[:64], "leader": leader[:200], "reviewers": []})
    lines = parse_subjects(one.get("subjects", "")[:20000])
    named = {(s["unit"], s["leader"]) for s in lines}
    return [s for s in found if (s["unit"], s["leader"]) not in named] + lines


def _shown_again(form: dict[str, list[str]]) -> dict[str, Any]:
    """The posted form as the template shows it again: one value a field, the chosen lists as lists."""
    return {**{k: (v or [""])[-1] for k, v in form.items()},
            "subject_units": pickers.split_codes(form.get("subject_units", [])),
            "reviewers": pickers.split_codes(form.get("reviewers", []))}


@router.post("/plans/appraisals/new")
def create_round(request: Request, conn: Conn, user: User, form: pickers.FormLists) -> Response:
    """Create the round; to its page."""
    one = {k: (v or [""])[-1] for k, v in form.items()}
    year = one.get("year", "").strip()
    try:
        deadline = parse_date(one.get("deadline", "")[:20], "deadline")
        if deadline is None or not year.isdigit():
            raise ValidationError("The appraisal round cannot be created.", [
                Problem("required", field="deadline" if deadline is None else "year",
                        value=one.get("deadline") if deadline is None else year,
                        expected="YYYY-MM-DD" if deadline is None else "a year, e.g. 2020")])
        with conn.begin_nested():
            uid = service.create_round(
                conn, principal=user, template=one.get("template", "")[:11], year=int(year[:4]),
                title_zh=one.get("title_zh", "")[:400], title_en=one.get("title_en", "")[:400],
                deadline=deadline, subjects=chosen_subjects(form),
                reviewers=[r[:64] for r in pickers.split_codes(form.get("reviewers", []))[:400]],
                trimmed=bool(one.get("trimmed")), element=one.get("dataElement", "").strip()[:50] or None,
                today=clock.today())
    except JiaoweiError as error:
        if error.status in (403, 404):
            raise
        return _round_form(request, conn, user, {"error": error, "values": _shown_again(form)}, error.status)
    return see_other(round_url(uid))


# ---------------------------------------------------------------- one round


def totals_chart(detail: RoundDetail, *, language: str) -> dict[str, Any] | None:
    """Bars of the weighted totals of the subjects with one, best first."""
    shown = [s for s in detail.results if s.result is not None and s.result.total is not None]
    if not shown:
        return None
    _ = partial(translate, language)
    names = [s.name(language) for s in shown]
    totals = [s.result.total if s.result else None for s in shown]
    label = _("Weighted totals of {count} subjects: from {high} ({high_name}) to {low} ({low_name}).").format(
        count=len(shown), high=f"{totals[0]:.2f}", high_name=names[0], low=f"{totals[-1]:.2f}",
        low_name=names[-1])
    return {"kind": "bar", "label": label, "min": 0, "max": 100, "categories": names,
            "series": [{"name": _("Weighted total"), "kind": "bar", "data": totals,
                        "labels": [f"{t:.2f}" for t in totals if t is not None]}]}


def grades_chart(detail: RoundDetail, *, language: str) -> dict[str, Any] | None:
    """A pie of how many subjects have each grade."""
    if not detail.distribution or not any(detail.distribution.values()):
        return None
    _ = partial(translate, language)
    names = [_(GRADE_LABELS[g]) for g in GRADES]
    counts = [detail.distribution[g] for g in GRADES]
    shown = ", ".join(f"{n} {c}" for n, c in zip(names, counts, strict=True))
    label = _("Grades: {counts}.").format(counts=shown)
    return {"kind": "pie", "label": label, "categories": names,
            "series": [{"name": _("Subjects"), "data": counts, "labels": [str(c) for c in counts]}]}


def _round_page(request: Request, conn: Connection, user: Principal, uid: str, as_of: str,
                extra: dict[str, Any], status: int = 200) -> HTMLResponse:
    detail = queries.round_detail(conn, principal=user, uid=uid, today=_day(as_of))
    lang = language(request)
    charts = {"totals_chart": totals_chart(detail, language=lang),
              "grades_chart": grades_chart(detail, language=lang)}
    return _render(request, "appraisals_round.html", {"detail": detail, "as_of": as_of, **charts, **extra},
                   status)


@router.get("/plans/appraisals/{uid}", response_class=HTMLResponse)
def round_page(request: Request, conn: Conn, user: User,
               as_of: Annotated[str, Query(max_length=20)] = "", uid: str = "") -> HTMLResponse:
    """A round: its subjects, progress (managers), the reviewer's own assignments, and once closed its
    results with ranks, grades, a chart of the totals and one of the grades."""
    return _round_page(request, conn, user, uid[:11], as_of, {})


@router.post("/plans/appraisals/{uid}/close")
def close_round(request: Request, conn: Conn, user: User, uid: str, form: Form) -> Response:
    """Close the round: the results are published (and written to its data element, if it names one)."""
    as_of = form.get("as_of", "")[:20]
    try:
        with conn.begin_nested():
            service.close_round(conn, principal=user, round=uid[:11], today=_day(as_of))
    except JiaoweiError as error:
        if error.status in (403, 404):
            raise
        return _round_page(request, conn, user, uid[:11], as_of, {"error": error}, error.status)
    return see_other(round_url(uid[:11]))


@router.post("/plans/appraisals/{uid}/deadline")
def change_deadline(request: Request, conn: Conn, user: User, uid: str, form: Form) -> Response:
    """Move the round's deadline."""
    try:
        deadline = parse_date(form.get("deadline", "")[:20], "deadline")
        if deadline is None:
            raise ValidationError("Choose a date.", [
                Problem("required", field="deadline", expected="YYYY-MM-DD")])
        with conn.begin_nested():
            service.change_deadline(conn, principal=user, round=uid[:11], deadline=deadline)
    except JiaoweiError as error:
        if error.status in (403, 404):
            raise
        return _round_page(request, conn, user, uid[:11], "", {"error": error, "values": form}, error.status)
    return see_other(round_url(uid[:11]))


# ---------------------------------------------------------------- scoring


async def criterion_files(request: Request) -> dict[str, list[tuple[str, bytes]]]:
    """The posted evidence files by criterion (inputs ``evidence-<criterion uid>``), read before the
    transaction begins; empty inputs are skipped."""
    found: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    if "multipart" not in request.headers.get("content-type", ""):
        return found
    form = await request.form()
    for key, value in form.multi_items():
        if isinstance(value, UploadFile) and key.startswith("evidence-"):
            data = await value.read()
            if value.filename or data:
                found[key[len("evidence-"):][:11]].append((value.filename or "", data))
    return found


CriterionFiles = Annotated[dict[str, list[tuple[str, bytes]]], Depends(criterion_files)]


def _assigned(detail: RoundDetail, subject: str) -> SubjectShown:
    found = next((s for s in detail.subjects if s.uid == subject and s.assigned), None)
    if found is None:
        raise NotFound("No subject of this round is assigned to you under this id.", [
            Problem("no such assignment", field="subject", value=subject,
                    expected="the id of a subject of the round assigned to you")])
    return found


def _score_page(request: Request, conn: Connection, user: Principal, uid: str, subject: str,
                extra: dict[str, Any], status: int = 200) -> HTMLResponse:
    today = clock.today()
    detail = queries.round_detail(conn, principal=user, uid=uid, today=today)
    shown = _assigned(detail, subject)
    own = {s.criterion: s for s in shown.own}
    values = {f"score-{k}": f"{s.score:g}" for k, s in own.items()} | {f"comment-{k}": s.comment
                                                                       for k, s in own.items()}
    by_criterion: dict[str, list[Problem]] = defaultdict(list)
    error = extra.get("error")
    for p in error.problems if error else []:
        if p.row is not None and 0 < p.row <= len(extra.get("posted", [])):
            by_criterion[extra["posted"][p.row - 1]].append(p)
    return _render(request, "appraisals_score.html", {
        "detail": detail, "subject": shown, "own": own, "values": {**values, **extra.pop("values", {})},
        "by_criterion": by_criterion, "limit_label": evidence_queries.limit_label(),
        "writable": not detail.summary.closed and today <= detail.summary.deadline, **extra}, status)


@router.get("/plans/appraisals/{uid}/subjects/{subject}", response_class=HTMLResponse)
def score_form(request: Request, conn: Conn, user: User, uid: str, subject: str) -> HTMLResponse:
    """The reviewer's form for one subject: a score and a comment for each criterion, evidence files."""
    return _score_page(request, conn, user, uid[:11], subject[:11], {})


@router.post("/plans/appraisals/{uid}/subjects/{subject}", dependencies=[TAKES_FILES])
def save_scores(request: Request, user: User, files: CriterionFiles, conn: Conn, uid: str, subject: str,
                form: Form) -> Response:
    """Save the reviewer's scores (criteria left blank are not saved); back to the round."""
    posted = [k[len("score-"):][:11] for k, v in form.items() if k.startswith("score-") and v.strip()]
    scores = [{"criterion": c, "score": form[f"score-{c}"][:40],
               "comment": form.get(f"comment-{c}", "")[:8000]} for c in posted]
    try:
        with conn.begin_nested():
            service.record_scores(conn, principal=user, round=uid[:11], subject=subject[:11], scores=scores,
                                  today=clock.today(), evidence=files)
    except JiaoweiError as error:
        if error.status == 404:
            raise
        return _score_page(request, conn, user, uid[:11], subject[:11],
                           {"error": error, "values": form, "posted": posted}, error.status)
    return see_other(round_url(uid[:11]))
