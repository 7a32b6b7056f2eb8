"""Risk register pages: the register with its heat map and due reviews, one risk, the forms."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.errors import Conflict, ValidationError
from jiaowei.i18n import translate
from jiaowei.plans import clock, pickers
from jiaowei.plans.evidence import queries as evidence
from jiaowei.plans.pickers import FormLists
from jiaowei.plans.risks import model, queries, service
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User, language, parse_date
from jiaowei.web.forms import N_, Form, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

FIELDS = {
    "category": N_("Category"),
    "title": N_("Title"),
    "unit": N_("Unit"),
    "likelihood": N_("Likelihood"),
    "impact": N_("Impact"),
    "owner": N_("Owner"),
    "cadence": N_("Review cadence"),
    "description": N_("Description"),
    "mitigation": N_("Mitigation plan"),
    "indicators": N_("Linked indicators"),
    "note": N_("Note"),
}
HEAT_TITLE = N_("Open risks by likelihood and impact")
HEAT_LABEL = N_("Heat map: how many risks lie in each cell of the 5×5 matrix")


def _labels() -> dict[str, Any]:
    return {
        "categories": model.CATEGORY_LABELS,
        "levels": model.LEVEL_LABELS,
        "cadences": model.CADENCE_LABELS,
        "states": model.STATE_LABELS,
        "dues": model.DUE_LABELS,
        "likelihoods": model.LIKELIHOOD_LABELS,
        "impacts": model.IMPACT_LABELS,
        "fields": FIELDS,
    }


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return page(
        request, template, {**_labels(), "errors": problems_by_field(context.get("error")), **context}, status
    )


def _url(uid: str, day: dt.date | None = None) -> str:
    return f"/plans/risks/{quote(uid, safe='')}" + (f"?as_of={day.isoformat()}" if day else "")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


# ---------------------------------------------------------------- the register


def heat_map(cells: list[list[int]], translate: Any) -> dict[str, Any]:
    """The chart spec of the matrix for charts.js: x impact, y likelihood, one count per cell."""
    data = [[i - 1, li - 1, cells[li - 1][i - 1]] for li in model.SCALE for i in model.SCALE]
    return {
        "kind": "heatmap",
        "label": translate(HEAT_LABEL),
        "title": translate(HEAT_TITLE),
        "categories": [f"{i} {translate(model.IMPACT_LABELS[i])}" for i in model.SCALE],
        "rows": [f"{li} {translate(model.LIKELIHOOD_LABELS[li])}" for li in model.SCALE],
        "xName": translate(N_("Impact")),
        "yName": translate(N_("Likelihood")),
        "data": data,
        "max": max([1, *(c for row in cells for c in row)]),
        "links": [[f"/plans/risks?likelihood={li}&impact={i}" for i in model.SCALE] for li in model.SCALE],
    }


@router.get("/plans/risks", response_class=HTMLResponse)
def register_page(request: Request, conn: Conn, user: User, as_of: AsOf) -> HTMLResponse:
    """The register: heat map, filters, the list, and the reviews due on the day."""
    day = as_of or clock.today()
    q = request.query_params
    filters = queries.Filters(
        q.get("category") or None,
        q.get("unit") or None,
        q.get("level") or None,
        None if q.get("state") == "all" else (q.get("state") or "open"),
        _int(q.get("likelihood")),
        _int(q.get("impact")),
        q.get("due") == "on",
    )
    found = queries.register(conn, principal=user, today=day, filters=filters)
    lang = language(request)
    return _render(
        request,
        "risks_register.html",
        {
            "register": found,
            "filters": filters,
            "query": dict(q),
            "as_of": day.isoformat(),
            "chart": heat_map(found.matrix, lambda m: translate(lang, m)),
            "may_manage": user.may(Action.PLANS_MANAGE),
            "units": pickers.unit_choices(conn, user, language=lang, day=day),
        },
    )


# ---------------------------------------------------------------- new and edit


def _form_values(form: dict[str, list[str]]) -> dict[str, Any]:
    """The service's fields from the form (ratings as numbers; indicators chosen in the list, or codes
    separated by commas as the form used to take them)."""
    one = {k: (v or [""])[-1] for k, v in form.items()}
    return {
        "category": one.get("category", ""),
        "title": one.get("title", ""),
        "description": one.get("description", ""),
        "unit": one.get("unit", ""),
        "likelihood": _int(one.get("likelihood")) or one.get("likelihood", ""),
        "impact": _int(one.get("impact")) or one.get("impact", ""),
        "owner": one.get("owner", ""),
        "mitigation": one.get("mitigation", ""),
        "cadence": one.get("cadence", ""),
        "indicators": pickers.split_codes(form.get("indicators", [])),
    }


def _form(request: Request, conn: Connection, user: Principal, values: dict[str, Any],
          risk: queries.RiskDetail | None, error: ValidationError | None = None) -> HTMLResponse:
    """The new or edit form, its unit and indicators offered as choices."""
    lang = language(request)
    context = {"values": values, "risk": risk, "error": error,
               "units": pickers.unit_choices(conn, user, language=lang, action=Action.PLANS_MANAGE),
               "indicator_choices": pickers.indicator_choices(conn, language=lang)}
    return _render(request, "risks_form.html", context, error.status if error else 200)


def _posted(form: dict[str, list[str]]) -> dict[str, Any]:
    """The posted form as the template shows it again: one value a field, the indicators as codes."""
    return {**{k: (v or [""])[-1] for k, v in form.items()},
            "indicators": pickers.split_codes(form.get("indicators", []))}


@router.get("/plans/risks/new", response_class=HTMLResponse)
def new_form(request: Request, conn: Conn, user: User) -> HTMLResponse:
    own = pickers.own_unit(conn, user, action=Action.PLANS_MANAGE)
    return _form(request, conn, user, {"cadence": "quarterly", "category": "safety_stability", "unit": own,
                                       "indicators": []}, None)


@router.post("/plans/risks/new")
def create(request: Request, conn: Conn, user: User, form: FormLists) -> Response:
    values = _form_values(form)
    day = parse_date((form.get("as_of") or [""])[-1]) or clock.today()
    try:
        with conn.begin_nested():
            uid = service.create_risk(conn, principal=user, today=day, **values)
    except ValidationError as error:
        return _form(request, conn, user, _posted(form), None, error)
    return see_other(_url(uid))


def _edit_values(detail: queries.RiskDetail) -> dict[str, Any]:
    s = detail.summary
    return {
        "category": s.category,
        "title": s.title,
        "unit": s.unit,
        "likelihood": str(s.likelihood),
        "impact": str(s.impact),
        "owner": s.owner,
        "cadence": s.cadence,
        "description": detail.description,
        "mitigation": detail.mitigation,
        "indicators": [i.code for i in detail.indicators],
    }


@router.get("/plans/risks/{uid}/edit", response_class=HTMLResponse)
def edit_form(request: Request, conn: Conn, user: User, uid: str) -> HTMLResponse:
    detail = queries.risk_detail(conn, principal=user, uid=uid, today=clock.today())
    return _form(request, conn, user, _edit_values(detail), detail)


@router.post("/plans/risks/{uid}/edit")
def edit(request: Request, conn: Conn, user: User, uid: str, form: FormLists) -> Response:
    day = clock.today()
    try:
        with conn.begin_nested():
            service.update_risk(conn, principal=user, uid=uid, today=day, changes=_form_values(form))
    except ValidationError as error:
        detail = queries.risk_detail(conn, principal=user, uid=uid, today=day)
        return _form(request, conn, user, _posted(form), detail, error)
    return see_other(_url(uid))


# ---------------------------------------------------------------- one risk


def _risk_page(
    request: Request,
    conn: Connection,
    user: Principal,
    uid: str,
    day: dt.date,
    extra: dict[str, Any],
    status: int = 200,
) -> HTMLResponse:
    detail = queries.risk_detail(conn, principal=user, uid=uid, today=day)
    values = {"likelihood": str(detail.summary.likelihood), "impact": str(detail.summary.impact)}
    return _render(
        request,
        "risks_risk.html",
        {
            "risk": detail,
            "as_of": day.isoformat(),
            "limit_label": evidence.limit_label(),
            "values": values,
            **extra,
        },
        status,
    )


@router.get("/plans/risks/{uid}", response_class=HTMLResponse)
def risk_page(request: Request, conn: Conn, user: User, uid: str, as_of: AsOf) -> HTMLResponse:
    """One risk: its rating, mitigation, linked indicators, review history and the review form."""
    return _risk_page(request, conn, user, uid, as_of or clock.today(), {})


async def evidence_files(
    evidence: Annotated[list[UploadFile] | None, File()] = None,
) -> list[tuple[str, bytes]]:
    """The files of the form's ``evidence`` input (none chosen: an empty list)."""
    return [(f.filename or "", await f.read()) for f in evidence or [] if f.filename]


@router.post("/plans/risks/{uid}/reviews", dependencies=[TAKES_FILES])
def review(
    request: Request,
    user: User,
    uid: str,
    files: Annotated[list[tuple[str, bytes]], Depends(evidence_files)],
    conn: Conn,
    form: Form,
) -> Response:
    """Record a review with its evidence; the form again with its problems when it is not valid."""
    day = parse_date(form.get("as_of")) or clock.today()
    try:
        with conn.begin_nested():
            service.record_review(
                conn,
                principal=user,
                uid=uid,
                likelihood=_int(form.get("likelihood")) or 0,
                impact=_int(form.get("impact")) or 0,
                note=form.get("note", ""),
                today=day,
                evidence=files,
            )
    except (ValidationError, Conflict) as error:
        return _risk_page(request, conn, user, uid, day, {"error": error, "values": form}, error.status)
    return see_other(_url(uid))


@router.post("/plans/risks/{uid}/close")
def close(request: Request, conn: Conn, user: User, uid: str, form: Form) -> Response:
    return _state_change(
        request,
        conn,
        user,
        uid,
        lambda day: service.close_risk(conn, principal=user, uid=uid, today=day, note=form.get("note", "")),
    )


@router.post("/plans/risks/{uid}/reopen")
def reopen(request: Request, conn: Conn, user: User, uid: str) -> Response:
    return _state_change(
        request, conn, user, uid, lambda day: service.reopen_risk(conn, principal=user, uid=uid, today=day)
    )


def _state_change(request: Request, conn: Connection, user: Principal, uid: str, change: Any) -> Response:
    day = clock.today()
    try:
        with conn.begin_nested():
            change(day)
    except (ValidationError, Conflict) as error:
        return _risk_page(request, conn, user, uid, day, {"error": error}, error.status)
    return see_other(_url(uid))
