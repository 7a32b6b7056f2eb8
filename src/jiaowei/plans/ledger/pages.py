"""Rectification ledger pages under /plans/rectification: the ledger (rates by unit and by source with
their charts, overdue measures, the findings, a form to record one) and a finding's page (its
measures, their histories and evidence, the forms that move them)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.errors import JiaoweiError, Problem
from jiaowei.i18n import translate
from jiaowei.plans import clock, pickers
from jiaowei.plans.evidence import queries as evidence_queries
from jiaowei.plans.ledger import queries, service
from jiaowei.plans.ledger.api import Files
from jiaowei.plans.ledger.model import (
    RULES,
    SEVERITY_LABELS,
    SOURCE_KIND_LABELS,
    STATE_LABELS,
    STEP_LABELS,
    State,
    TransitionRefused,
)
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import Conn, User, language, parse_date
from jiaowei.web.forms import N_, Form, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Query(max_length=200)]

FIELDS = {"source_kind": N_("Kind of source"), "source": N_("Source"), "found_on": N_("Found on"),
          "unit": N_("Unit"), "severity": N_("Severity"), "text": N_("Finding"), "owner": N_("Owner"),
          "deadline": N_("Deadline"), "comment": N_("Comment"), "to_state": N_("New state"),
          "evidence": N_("Evidence files"), "measures.text": N_("Measure"), "measures.owner": N_("Owner"),
          "measures.deadline": N_("Deadline"), "as_of": N_("As of"), "state": N_("State"), "by": N_("By")}
LABELS = {"state_labels": STATE_LABELS, "source_kind_labels": SOURCE_KIND_LABELS,
          "severity_labels": SEVERITY_LABELS, "step_labels": STEP_LABELS, "fields": FIELDS}


def finding_url(uid: str) -> str:
    return f"/plans/rectification/findings/{quote(uid, safe='')}"


def in_language(error: JiaoweiError, lang: str) -> JiaoweiError:
    """``error`` with its detail and problems in the page's language (a refused transition names the
    states by their labels)."""
    shown = copy.copy(error)
    if isinstance(error, TransitionRefused) and error.params:
        states = {k: translate(lang, v) for k, v in STATE_LABELS.items()}
        named = {k: states.get(error.params[k], error.params[k]) for k in ("current", "asked")}
        params = {**error.params, **named,
                  "accepted": ("、" if lang == "zh_CN" else ", ").join(
                      states.get(s, s) for s in error.params["accepted"].split(", "))}
        shown.detail = translate(lang, error.template).format(**params)
    else:
        shown.detail = translate(lang, error.detail)
    shown.problems = [Problem(translate(lang, p.message), row=p.row, field=p.field, value=p.value,
                              expected=translate(lang, p.expected) if p.expected else None)
                      for p in error.problems]
    return shown


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    error = context.get("error")
    if error is not None:
        context = {**context, "error": in_language(error, language(request))}
    errors = problems_by_field(context.get("error"))
    return page(request, template, {**LABELS, "active": "plans", "errors": errors, **context}, status)


def _day(value: str) -> dt.date:
    return parse_date(value) or clock.today()


def _name(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" and en else zh


def rate_chart(rows: list[queries.Rate], *, lang: str, title: str) -> dict[str, Any] | None:
    """A bar per unit (or source): its rectification rate in percent, labelled "rate% (done/all)"."""
    shown = [r for r in rows if r.total]
    if not shown:
        return None
    _ = lambda message: translate(lang, message)  # noqa: E731
    names = [_name(lang, r.name_zh, r.name_en) for r in shown]
    label = _("{title}: the share of measures rectified or beyond, from {low}% to {high}%.").format(
        title=title, low=min(r.rate or 0 for r in shown), high=max(r.rate or 0 for r in shown))
    return {"kind": "bar", "axis": "%", "min": 0, "max": 100, "label": label, "categories": names,
            "series": [{"name": _("Rectification rate"), "kind": "bar", "data": [r.rate for r in shown],
                        "labels": [f"{r.rate}% ({r.done}/{r.total})" for r in shown]}]}


def _unit_pickers(conn: Connection, user: Principal, lang: str, may_manage: bool) -> dict[str, Any]:
    """The units of the filter (those the user sees) and of the record form (those where the user
    manages plans), and the form's unit by default: the user's own."""
    units = pickers.unit_choices(conn, user, language=lang)
    found: dict[str, Any] = {"units": units, "values": {}}
    if may_manage:
        # the same choices when the user manages plans wherever they see (read once)
        same = user.unlimited or user.scope_for(Action.PLANS_MANAGE) == user.scope_for(Action.VIEW)
        found["record_units"] = list(units) if same else pickers.unit_choices(
            conn, user, language=lang, action=Action.PLANS_MANAGE)
        found["values"] = {"unit": pickers.own_unit(conn, user, action=Action.PLANS_MANAGE)}
    return found


def _ledger(request: Request, conn: Connection, user: Principal, query: dict[str, str], extra: dict[str, Any],
            status: int = 200) -> HTMLResponse:
    lang = language(request)
    may_manage = user.may(Action.PLANS_MANAGE)
    context: dict[str, Any] = {"query": query, "may_manage": may_manage, "findings": [], "overdue": [],
                               "by_unit": [], "by_source": [], **_unit_pickers(conn, user, lang, may_manage)}
    try:
        day = _day(query.get("as_of", ""))
        unit = query.get("unit") or None
        source, kind, state = (query.get(k) or None for k in ("source", "source_kind", "state"))
        shown = queries.findings(conn, principal=user, today=day, unit=unit, source=source, source_kind=kind,
                                 state=state)
        # the overdue measures and the rates take the unit's findings, whatever the other filters
        items = shown if not (source or kind or state) else queries.findings(
            conn, principal=user, today=day, unit=unit)
        context["findings"] = shown
        context["overdue"] = queries.overdue(conn, principal=user, today=day, unit=unit, items=items)
        context["by_unit"] = queries.rates(conn, principal=user, today=day, by="unit", unit=unit, items=items)
        context["by_source"] = queries.rates(conn, principal=user, today=day, by="source", unit=unit,
                                             items=items)
        context["day"] = day
    except JiaoweiError as error:
        if error.status == 404 and not query.get("unit"):
            raise
        context["error"] = error
        status = error.status
    context["total"] = queries.totals(context["by_unit"])
    context["unit_chart"] = rate_chart(context["by_unit"], lang=lang, title=translate(lang, "By unit"))
    context["source_chart"] = rate_chart(context["by_source"], lang=lang, title=translate(lang, "By source"))
    return _render(request, "rectification_ledger.html", {**context, **extra}, status)


@router.get("/plans/rectification", response_class=HTMLResponse)
def ledger_page(request: Request, conn: Conn, user: User, as_of: Text = "", unit: Text = "",
                source: Text = "", source_kind: Text = "", state: Text = "") -> HTMLResponse:
    """The ledger: rates by unit and by source, overdue measures, the findings (filtered), a form to
    record a finding."""
    query = {"as_of": as_of, "unit": unit, "source": source, "source_kind": source_kind, "state": state}
    return _ledger(request, conn, user, query, {})


def _measure_specs(form: dict[str, str]) -> list[dict[str, str]]:
    """The first measure of the record form, when any of its fields is filled in."""
    spec = {k: form.get(f"measure_{k}", "").strip() for k in ("text", "owner", "deadline")}
    return [spec] if any(spec.values()) else []


@router.post("/plans/rectification/findings")
def record_finding(request: Request, conn: Conn, user: User, form: Form) -> Response:
    """Record a finding (with a first measure when one is filled in)."""
    try:
        with conn.begin_nested():
            uid = service.record_finding(
                conn, principal=user, source_kind=form.get("source_kind", "")[:16],
                source=form.get("source", "")[:400], found_on=form.get("found_on", "")[:20],
                unit=form.get("unit", "")[:64], severity=form.get("severity", "")[:16],
                text=form.get("text", "")[:8000], measures=_measure_specs(form))
    except JiaoweiError as error:
        return _ledger(request, conn, user, {}, {"error": error, "values": form}, error.status)
    return see_other(finding_url(uid))


def _finding_page(request: Request, conn: Connection, user: Principal, uid: str, as_of: str,
                  extra: dict[str, Any], status: int = 200) -> HTMLResponse:
    day = _day(as_of)
    found = queries.finding(conn, principal=user, uid=uid, today=day)
    may_manage = user.may(Action.PLANS_MANAGE)
    moves = {x.uid: [s for s in x.accepted if may_manage or not RULES[(State(x.state), State(s))].manage]
             for x in found.measures}
    steps = {x.uid: {s: RULES[(State(x.state), State(s))].step.value for s in moves[x.uid]}
             for x in found.measures}
    return _render(request, "rectification_finding.html", {
        "finding": found, "day": day, "as_of": as_of, "moves": moves, "steps": steps,
        "may_manage": may_manage, "may_report": user.may(Action.PLANS_REPORT),
        "limit_label": evidence_queries.limit_label(), "values": {}, **extra}, status)


@router.get("/plans/rectification/findings/{uid}", response_class=HTMLResponse)
def finding_page(request: Request, conn: Conn, user: User, uid: str, as_of: Text = "") -> HTMLResponse:
    """A finding with its measures, each with its history, evidence and the moves open to the user."""
    return _finding_page(request, conn, user, uid[:11], as_of, {})


@router.post("/plans/rectification/findings/{uid}/measures")
def add_measure(request: Request, conn: Conn, user: User, uid: str, form: Form) -> Response:
    """Add a measure to the finding."""
    try:
        with conn.begin_nested():
            service.add_measure(conn, principal=user, finding=uid[:11], text=form.get("text", "")[:8000],
                                owner=form.get("owner", "")[:400], deadline=form.get("deadline", "")[:20])
    except JiaoweiError as error:
        if error.status == 404:
            raise
        return _finding_page(request, conn, user, uid[:11], "", {"error": error, "values": form,
                                                                 "failed": "new"}, error.status)
    return see_other(finding_url(uid[:11]))


@router.post("/plans/rectification/measures/{uid}/transition", dependencies=[TAKES_FILES])
def move_measure(request: Request, user: User, files: Files, conn: Conn, uid: str, form: Form) -> Response:
    """Move a measure to another state, with a comment and evidence files."""
    as_of = form.get("as_of", "")[:20]
    measure = queries.measure(conn, principal=user, uid=uid[:11], today=_day(as_of))
    try:
        with conn.begin_nested():
            service.transition(conn, principal=user, measure=measure.uid,
                               to_state=form.get("to_state", "")[:16], comment=form.get("comment", "")[:8000],
                               today=_day(as_of), evidence=files)
    except JiaoweiError as error:
        return _finding_page(request, conn, user, measure.finding, as_of,
                             {"error": error, "values": form, "failed": measure.uid}, error.status)
    suffix = f"?as_of={quote(as_of)}" if as_of else ""
    return see_other(f"{finding_url(measure.finding)}{suffix}#measure-{measure.uid}")
