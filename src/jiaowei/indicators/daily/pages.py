"""The daily health dashboard page: ``/data/daily?ds=&day=&ou=``.

It shows a daily data set (default: the first) on a day (default: the latest day with reports)
below a unit (default: the user's own): the reporting rate, the rules broken, the units not
reported with a link to each one's form, and the rate over the last 30 days as a line chart from
server-side data. Problems with the choices are shown above the form, never as an error page.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from jiaowei.auth.model import Action, Principal
from jiaowei.errors import JiaoweiError
from jiaowei.i18n import translate
from jiaowei.indicators.daily import queries
from jiaowei.indicators.daily.model import DailyHealth
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.quality.queries import number_text
from jiaowei.registry import queries as registry
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Query(max_length=64)]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def trend_chart(health: DailyHealth, *, language: str) -> dict[str, Any] | None:
    """A line of the daily reporting rate over the reporting days; None below two days."""
    points = health.trend
    if len(points) < 2:
        return None
    _ = partial(translate, language)
    en = language == "en"
    rated = [p.received_percent for p in points if p.received_percent is not None]
    label = _(
        "Daily reporting rate of {data_set} below {unit}, {first} to {last}: from {low} to {high}."
    ).format(
        data_set=health.data_set.name_en if en else health.data_set.name_zh,
        unit=health.unit.name_en if en else health.unit.name_zh,
        first=points[0].day,
        last=points[-1].day,
        low=_percent(min(rated) if rated else None),
        high=_percent(max(rated) if rated else None),
    )
    series = {
        "name": _("Reporting rate"),
        "kind": "line",
        "data": [p.received_percent for p in points],
        "labels": [f"{_percent(p.received_percent)} ({p.received}/{p.expected})" for p in points],
    }
    return {
        "kind": "line",
        "axis": "%",
        "min": 0,
        "max": 100,
        "label": label,
        "categories": [p.day[5:] for p in points],
        "series": [series],
    }


@router.get("/data/daily", response_class=HTMLResponse)
def daily_page(
    request: Request, conn: Conn, user: User, ds: Text = "", day: Text = "", ou: Text = ""
) -> HTMLResponse:
    """Choose a daily data set, a day and a unit; see who reported, who did not, and what broke a rule."""
    lang = language(request)
    zh = lang == "zh_CN"
    daily = queries.daily_data_sets(load_catalog(conn))
    context: dict[str, Any] = {
        "active": "data",
        "zh": zh,
        "data_sets": [{"code": d.code, "name": d.name_zh if zh else d.name_en} for d in daily],
        "query": {"ds": ds, "day": day, "ou": ou},
        "number": number_text,
    }
    try:
        health = queries.daily_health(
            conn, principal=user, data_set=ds or None, day=day or None, unit=ou or None
        )
    except JiaoweiError as error:
        context["error"] = error
    else:
        context["health"] = health
        context["chart"] = trend_chart(health, language=lang)
        context["unit_choices"] = unit_choices(conn, user, health)
    return page(request, "indicators/daily_health.html", context)


def unit_choices(conn: Conn, user: Principal, health: DailyHealth) -> list[registry.Unit]:
    """The units to pick from: the one shown, its parent when the user may see it, and its children."""
    day = dt.date.fromisoformat(str(health.day))
    unit_id = registry.id_of(conn, health.unit.code)
    shown = registry.unit_on(conn, unit_id, day) if unit_id is not None else None
    if shown is None:
        return []
    choices = []
    if shown.parent_id is not None and (
        user.unlimited or set(shown.ancestor_ids) & user.scope_for(Action.VIEW) - {shown.id}
    ):
        parent = registry.unit_on(conn, shown.parent_id, day)
        choices += [parent] if parent else []
    return [*choices, shown, *registry.units_on(conn, day, parent_id=shown.id)]
