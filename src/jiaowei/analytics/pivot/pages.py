"""The pivot table pages: ``/analytics`` (the builder, the table and its chart), its CSV and XLSX
exports, and ``/analytics/values`` (the stored values behind a cell, each with its history).

Thin: the form's choices come from :mod:`jiaowei.analytics.pivot.queries`, the table and chart from
:mod:`jiaowei.analytics.pivot.view`, the files from :mod:`jiaowei.analytics.pivot.exports`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei import clock
from jiaowei.analytics.pivot import exports, queries
from jiaowei.analytics.pivot.table import NO_TOTAL
from jiaowei.analytics.pivot.view import (
    DIMENSIONS,
    Chosen,
    PivotQuery,
    PivotView,
    build_view,
    chosen,
    from_form,
    parse_query,
)
from jiaowei.analytics.request import RELATIVE, AnalyticsRequest
from jiaowei.auth.model import Principal
from jiaowei.errors import JiaoweiError, ValidationError
from jiaowei.i18n import translate
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.targets.compute import compute_values, default_period, parse_period, visible_unit
from jiaowei.registry.model import path_ids
from jiaowei.registry.pages import TYPES
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.forms import N_, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

RELATIVE_SHOWN = ("THIS_YEAR", "LAST_YEAR", "LAST_5_YEARS", "THIS_SCHOOL_YEAR", "LAST_5_SCHOOL_YEARS",
                  "THIS_QUARTER", "LAST_4_QUARTERS", "THIS_MONTH", "LAST_12_MONTHS")
PLACE_LABELS = {"rows": N_("Rows"), "columns": N_("Columns"), "filter": N_("Filter")}
DIMENSION_LABELS = {"dx": N_("Data"), "pe": N_("Periods"), "ou": N_("Units")}
CHART_LABELS = {"line": N_("Line"), "bar": N_("Bar"), "stacked": N_("Stacked bar"), "pie": N_("Pie"),
                "yoy": N_("Year on year")}
CHANGE_LABELS = {"CREATE": N_("Value created"), "UPDATE": N_("Value changed"), "DELETE": N_("Value deleted")}
Codes = Annotated[str, Query(max_length=2000)]
Periods = Annotated[str, Query(alias="pe", max_length=200)]
UnitCode = Annotated[str, Query(max_length=64)]


def today() -> dt.date:
    return clock.today()


@router.get("/analytics", response_class=HTMLResponse)
def pivot_page(request: Request, conn: Conn, user: User) -> Response:
    """The pivot builder and, once data, periods and units are chosen, the table or its chart."""
    lang = language(request)
    params = request.query_params
    if "build" in params:
        try:
            return see_other(from_form({k: params.getlist(k) for k in params}).url())
        except ValidationError as error:
            shown = _in_language(error, lang)
            return _render(request, conn, user, None, None, shown, form=params, status=error.status)
    query = PivotQuery.from_pairs(params.multi_items())
    if query.empty:  # a first visit: show the default pivot at once, as a URL the user can change
        first = _first_pivot(conn, user)
        places = {f"{d}_on": [place] for d, place in first.places.items()}
        form = {**first.items, **places, "level": [first.level]}
        try:
            return see_other(from_form(form).url())
        except ValidationError:  # nothing to show yet (no indicator or no unit): the empty builder
            return _render(request, conn, user, query, None, None)
    try:
        view = build_view(conn, principal=user, query=query, language=lang, today=today())
    except ValidationError as error:
        return _render(request, conn, user, query, None, _in_language(error, lang), status=error.status)
    return _render(request, conn, user, query, view, None)


def _in_language(error: ValidationError, lang: str) -> ValidationError:
    """The error with its detail and problems in the reader's language where the catalog has them."""
    return dataclasses.replace(error, detail=translate(lang, error.detail), problems=[
        dataclasses.replace(p, message=translate(lang, p.message),
                            expected=translate(lang, p.expected) if p.expected else p.expected)
        for p in error.problems])


def _render(
    request: Request,
    conn: Connection,
    user: Principal,
    query: PivotQuery | None,
    view: PivotView | None,
    error: JiaoweiError | None,
    *,
    form: Any = None,
    status: int = 200,
) -> HTMLResponse:
    lang = language(request)
    parsed = _parsed(query, lang)
    day = today()
    own = queries.unit_choices(conn, principal=user, day=day)
    defaults = _defaults(conn, user, own)
    state = _form_state(form) if form is not None else chosen(parsed, defaults)
    units = queries.unit_choices(conn, principal=user, day=day, also=state.items.get("ou", []), base=own)
    context = {
        "active": "analytics",
        "query": query,
        "view": view,
        "error": error,
        "errors": problems_by_field(error),
        "state": state,
        "data_groups": queries.data_choices(conn, principal=user, language=lang),
        "period_groups": _period_groups(conn, lang, state.items.get("pe", [])),
        "units": units,
        "levels": [(str(n), _level_label(lang, n, kind, count)) for n, kind, count in units.levels],
        "place_labels": PLACE_LABELS,
        "dimension_labels": DIMENSION_LABELS,
        "chart_labels": CHART_LABELS,
        "dimensions": DIMENSIONS,
        "no_total": NO_TOTAL,
    }
    return page(request, "analytics_pivot.html", context, status)


def _parsed(query: PivotQuery | None, lang: str) -> AnalyticsRequest | None:
    if query is None or query.empty:
        return None
    try:
        return parse_query(query, lang)
    except ValidationError:
        return None


def _form_state(form: Any) -> Chosen:
    """The choices as the form sent them, to show it again with its problems."""
    items = {d: [v for v in form.getlist(d) if v] for d in DIMENSIONS}
    places = {d: form.get(f"{d}_on", "") for d in DIMENSIONS}
    return Chosen(items, places, form.get("level", ""))


def _defaults(conn: Connection, user: Principal, units: queries.UnitChoices | None = None) -> Chosen:
    """What the form shows chosen before anything is: a headline indicator (one with a target) for the
    user's units one level down, by unit, in the latest year with data. ``units``: the user's unit
    choices today, if read already."""
    if units is None:
        units = queries.unit_choices(conn, principal=user, day=today())
    top = units.home[:1]
    level = ""
    if top:
        below = [u for u in units.units if u.code not in units.home]
        level = str(len(path_ids(below[0].path))) if below else ""
    headline = [d.code for d in queries.headline_indicators(conn)[:1]]
    return Chosen({"dx": headline, "pe": [default_period(conn)], "ou": top},
                  {"dx": "columns", "pe": "filter", "ou": "rows"}, level)


def _first_pivot(conn: Connection, user: Principal) -> Chosen:
    """The pivot a first visit opens: the defaults, with the first headline indicator that has a value
    at the user's unit in that year (one engine query, made only then)."""
    first = _defaults(conn, user)
    headline = queries.headline_indicators(conn)
    if not first.items["ou"] or not headline:
        return first
    period = parse_period(first.items["pe"][0])
    unit = visible_unit(conn, user, first.items["ou"][0], period.end)
    found = compute_values(conn, headline, [unit], [period], load_catalog(conn))
    shown = [d.code for d in headline if found[(d.id, unit.id, period.id)].value is not None][:1]
    return dataclasses.replace(first, items={**first.items, "dx": shown or first.items["dx"]})


def _level_label(lang: str, level: int, kinds: list[str], count: int) -> str:
    names = translate(lang, ", ").join(translate(lang, TYPES.get(k, k)) for k in kinds)  # type: ignore[call-overload]
    label = translate(lang, "level {level} ({types}; {count} units)")
    return label.format(level=level, types=names, count=count)


def _period_groups(conn: Connection, lang: str, chosen_periods: list[str]) -> list[queries.ChoiceGroup]:
    """Relative periods, years, school years, and the quarters and months of the latest year."""
    _ = lambda message: translate(lang, message)  # noqa: E731
    years = queries.period_years(conn) or [today().year]
    latest = years[0]
    groups = [
        queries.ChoiceGroup(_("Relative periods"), tuple(
            queries.Choice(code, _(RELATIVE[code].name)) for code in RELATIVE_SHOWN)),
        queries.ChoiceGroup(_("Years"), tuple(queries.Choice(str(y), str(y)) for y in years)),
        queries.ChoiceGroup(_("School years"), tuple(
            queries.Choice(f"{y}SY", _("School year {start}–{end}").format(start=y, end=y + 1))
            for y in years)),
        queries.ChoiceGroup(_("Quarters of {year}").format(year=latest), tuple(
            queries.Choice(f"{latest}Q{q}", _("{year} Q{quarter}").format(year=latest, quarter=q))
            for q in range(1, 5))),
        queries.ChoiceGroup(_("Months of {year}").format(year=latest), tuple(
            queries.Choice(f"{latest}{m:02d}", _("{year}-{month}").format(year=latest, month=m))
            for m in range(1, 13))),
    ]
    offered = {c.value for g in groups for c in g.choices}
    others = [p for p in chosen_periods if p not in offered]
    if others:
        groups.insert(0, queries.ChoiceGroup(_("Chosen"), tuple(queries.Choice(p, p) for p in others)))
    return groups


# ---------------------------------------------------------------- exports


def _labels(view: PivotView, lang: str) -> exports.Labels:
    return exports.Labels(
        title=translate(lang, "Pivot table"),
        total=translate(lang, "Total"),
        dimension_titles=view.dimension_titles,
        filters=view.filters,
    )


def _export(request: Request, conn: Connection, user: Principal, kind: str) -> Response:
    lang = language(request)
    query = PivotQuery.from_pairs(request.query_params.multi_items())
    view = build_view(conn, principal=user, query=query, language=lang, today=today())
    labels = _labels(view, lang)
    content = exports.to_csv(view.table, labels) if kind == "csv" else exports.to_xlsx(view.table, labels)
    media = exports.CSV_TYPE if kind == "csv" else exports.XLSX_TYPE
    name = f"pivot-{today().isoformat()}.{kind}"
    disposition = f'attachment; filename="{name}"'
    return Response(content, media_type=media, headers={"Content-Disposition": disposition})


@router.get("/analytics.csv")
def pivot_csv(request: Request, conn: Conn, user: User) -> Response:
    """The pivot as shown, as CSV (UTF-8 with BOM)."""
    return _export(request, conn, user, "csv")


@router.get("/analytics.xlsx")
def pivot_xlsx(request: Request, conn: Conn, user: User) -> Response:
    """The pivot as shown, as an XLSX workbook (headers in the reader's language, numbers as numbers)."""
    return _export(request, conn, user, "xlsx")


# ---------------------------------------------------------------- the values behind a cell


@router.get("/analytics/values", response_class=HTMLResponse)
def values_page(request: Request, conn: Conn, user: User, dx: Codes = "", pe_: Periods = "",
                ou: UnitCode = "") -> Response:
    """The stored values behind a cell: unit, period, option combo, value, who stored it and when,
    whether it is synthetic, and each value's history."""
    lang = language(request)
    data = [d for d in dx.split(";") if d.strip()]
    periods = [p for p in pe_.split(";") if p.strip()] or [""]
    found = [queries.cell_values(conn, principal=user, data=data, period=p, unit=ou, language=lang)
             for p in periods]
    return page(request, "analytics_values.html", {
        "active": "analytics", "cells": found, "dx": data, "pe": pe_, "ou": ou,
        "any_synthetic": any(v.synthetic for c in found for v in c.values),
        "change_labels": CHANGE_LABELS,
    })
