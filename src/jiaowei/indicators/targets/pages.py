"""Indicator pages: every indicator at a unit with its target and status, and one indicator's
definition, value per child unit, trajectory over the years, and the forms to set and cascade
its target.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.errors import Conflict, NotFound, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.model import Display
from jiaowei.indicators.targets import chart, compute, queries
from jiaowei.indicators.targets import service as targets
from jiaowei.registry import queries as registry
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.forms import N_, Form, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

STATUS_LABELS = {"met": N_("Met"), "at_risk": N_("At risk"), "missed": N_("Missed"), "no_data": N_("No data")}
SOURCE_LABELS = {"data": N_("Computed from data"), "fact": N_("Published figure")}
METHOD_LABELS = {
    "same": N_("Same value for every child (rates)"),
    "current_share": N_("Split by each child's current share (counts)"),
}
DISPLAY_LABELS = {
    "percent": N_("Percent"),
    "per_mille": N_("Per mille"),
    "ratio": N_("Ratio 1:N"),
    "number": N_("Number"),
}
MAX_TRAJECTORY_ROWS = 12
CHILD_ROWS = 200  # units below shown per page (浦东 has 516 kindergartens and schools; a ministry more)
Unit = Annotated[str | None, Query(max_length=64)]
Period = Annotated[str | None, Query(max_length=16)]


def _place(conn: Connection, user: Principal, ou: str | None, period: str | None) -> tuple[str, str]:
    """The unit and period asked for, or the defaults: the user's highest unit, the latest year."""
    period = period or compute.default_period(conn)
    unit = ou or compute.default_unit(conn, user, compute.parse_period(period).end)
    if unit is None:
        raise NotFound(N_("You can see no unit; ask an administrator for a view scope."))
    return unit, period


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return page(
        request,
        template,
        {
            "status_labels": STATUS_LABELS,
            "source_labels": SOURCE_LABELS,
            "method_labels": METHOD_LABELS,
            "display_labels": DISPLAY_LABELS,
            "active": "indicators",
            "errors": problems_by_field(context.get("error")),
            **context,
        },
        status,
    )


@router.get("/indicators", response_class=HTMLResponse)
def indicators_page(
    request: Request, conn: Conn, user: User, ou: Unit = None, pe: Period = None
) -> HTMLResponse:
    """Every indicator at the unit for the period, with target, benchmark and status."""
    unit, period = _place(conn, user, ou, pe)
    rows = compute.unit_values(conn, principal=user, unit=unit, period=period)
    return _render(
        request,
        "indicators/indicators.html",
        {
            "rows": rows,
            "unit": rows[0].unit if rows else _unit(conn, user, unit, period),
            "period": period,
            "values": {"ou": unit, "pe": period},
            "any_synthetic": any(r.synthetic for r in rows),
        },
    )


def _unit(conn: Connection, user: Principal, unit: str, period: str) -> registry.Unit:
    return compute.visible_unit(conn, user, unit, compute.parse_period(period).end)


@router.get("/indicators/{code}", response_class=HTMLResponse)
def indicator_page(
    request: Request, conn: Conn, user: User, code: str, ou: Unit = None, pe: Period = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    """One indicator: definition, value and target per child unit, trajectory, target forms."""
    unit, period = _place(conn, user, ou, pe)
    return _indicator(request, conn, user, code, unit, period, {}, offset=offset)


def _indicator(
    request: Request,
    conn: Connection,
    user: Principal,
    code: str,
    unit: str,
    period: str,
    extra: dict[str, Any],
    status: int = 200,
    offset: int = 0,
) -> HTMLResponse:
    rows = compute.indicator_table(conn, principal=user, indicator=code, unit=unit, period=period)
    shown = [r for r in rows[1:] if r.value is not None or r.target is not None]
    without = [r.unit for r in rows[1:] if r.value is None and r.target is None]
    page_rows = [rows[0], *shown[offset : offset + CHILD_ROWS]]
    definition = rows[0].indicator
    own = rows[0].target
    form_values = {
        "value": _plain(own.value, definition.display) if own else "",
        "at_risk_margin": f"{own.at_risk_margin:g}" if own else "0",
        "benchmark": _plain(own.benchmark, definition.display) if own and own.benchmark is not None else "",
        "benchmark_label": own.benchmark_label if own else "",
        "note": own.note if own else "",
    }
    trajectory = _trajectory(conn, user, definition, rows[0].unit, period)
    return _render(
        request,
        "indicators/indicator.html",
        {
            "d": definition,
            "rows": page_rows,
            "children_page": {"offset": offset, "limit": CHILD_ROWS, "total": len(shown)},
            "without_data": without[:CHILD_ROWS],
            "without_count": len(without),
            "unit": rows[0].unit,
            "period": period,
            "trajectory": trajectory,
            "children_chart": chart.children_chart(page_rows, language=language(request)),
            "trajectory_chart": chart.trajectory_chart(trajectory, language=language(request)),
            "may_set": user.may(Action.DATA_APPROVE),
            "values": {"ou": unit, "pe": period},
            "target_values": form_values,
            "cascade_values": {"method": targets.default_method(definition)},
            "here": _here(definition.code, unit, period),
            **extra,
        },
        status,
    )


def _trajectory(
    conn: Connection, user: Principal, definition: compute.IndicatorDef, unit: registry.Unit, period: str
) -> list[compute.IndicatorValue]:
    """The value and target of every period the unit has a target for, and the years up to this one."""
    shown = {
        t.period for t in queries.targets_of(conn, principal=user, indicator=definition.code, unit=unit.code)
    }
    if compute.parse_period(period).type is pe.PeriodType.YEARLY:
        shown |= set(compute.years_around(period, 5))
    ordered = sorted(shown, key=lambda p: pe.parse(p))[-MAX_TRAJECTORY_ROWS:]
    asked = [pe.parse(p) for p in ordered]
    found = compute.compute_values(conn, [definition], [unit], asked, load_catalog(conn))
    return [found[(definition.id, unit.id, p.id)] for p in asked]


def _here(code: str, unit: str, period: str) -> str:
    return f"/indicators/{code}?" + urlencode({"ou": unit, "pe": period})


def _plain(value: float | None, display: str) -> str:
    if value is None:
        return ""
    if display == Display.RATIO and value > 0:
        return f"1:{1 / value:g}"
    return f"{value:g}"


_RATIO = re.compile(r"^\s*([0-9.]+)\s*[:：]\s*([0-9.]+)\s*$")


def parse_number(text: str | None, field: str, *, required: bool = False) -> float | None:
    """A number typed in a form: ``86``, ``86%``, ``3.2‰`` or a ratio ``1:200`` (= 0.005)."""
    raw = (text or "").strip().rstrip("%‰").strip()
    if not raw:
        if required:
            raise ValidationError(
                N_("A number is needed."),
                [Problem(N_("missing"), field=field, value=text, expected=N_("a number, e.g. 86 or 1:200"))],
            )
        return None
    ratio = _RATIO.match(raw)
    try:
        value = float(ratio.group(1)) / float(ratio.group(2)) if ratio else float(raw)
    except (ValueError, ZeroDivisionError):
        value = math.nan
    if not math.isfinite(value):
        raise ValidationError(
            N_("Not a number."),
            [
                Problem(
                    "not a number",
                    field=field,
                    value=text,
                    expected=N_("a number, e.g. 86, or a ratio such as 1:200"),
                )
            ],
        )
    return value


@router.post("/indicators/{code}/targets")
def save_target(request: Request, conn: Conn, user: User, code: str, form: Form) -> Response:
    """Set the unit's target for the period from the form (value, at-risk margin, benchmark)."""
    unit, period = form.get("ou", "").strip()[:64], form.get("pe", "").strip()[:16]
    try:
        with conn.begin_nested():
            targets.set_target(
                conn,
                principal=user,
                indicator=code,
                unit=unit,
                period=period,
                value=parse_number(form.get("value"), "value", required=True),  # type: ignore[arg-type]
                at_risk_margin=parse_number(form.get("at_risk_margin"), "at_risk_margin") or 0.0,
                benchmark=parse_number(form.get("benchmark"), "benchmark"),
                benchmark_label=form.get("benchmark_label", "")[:230],
                note=form.get("note", "")[:5000],
            )
    except ValidationError as error:
        return _indicator(
            request,
            conn,
            user,
            code,
            unit,
            period,
            {"error": error, "target_values": form, "target_error": True},
            error.status,
        )
    return see_other(_here(code, unit, period) + "#targets-title")


@router.post("/indicators/{code}/cascade")
def cascade_target(request: Request, conn: Conn, user: User, code: str, form: Form) -> Response:
    """Copy the unit's target to its children (keeping their own unless overwrite is ticked)."""
    unit, period = form.get("ou", "").strip()[:64], form.get("pe", "").strip()[:16]
    try:
        with conn.begin_nested():
            targets.cascade(
                conn,
                principal=user,
                indicator=code,
                unit=unit,
                period=period,
                method=form.get("method", "same"),
                overwrite=form.get("overwrite") == "on",
            )
    except (ValidationError, Conflict, NotFound) as error:
        return _indicator(
            request,
            conn,
            user,
            code,
            unit,
            period,
            {"error": error, "cascade_values": form, "cascade_error": True},
            error.status,
        )
    return see_other(_here(code, unit, period) + "#children-title")
