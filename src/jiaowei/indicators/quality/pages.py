"""Data quality pages: a validation run over a unit's subtree and outlier detection.

Both are GET forms: the query string holds the choices, so a result can be bookmarked and
shared. Problems with the choices are shown above the form, never as an error page.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from jiaowei.domains import N_
from jiaowei.errors import JiaoweiError, Problem, ValidationError
from jiaowei.indicators import defaults
from jiaowei.indicators.approval.worklist import problem_links, value_links
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.quality import outliers, queries
from jiaowei.indicators.targets.compute import default_period
from jiaowei.web.deps import Conn, User, language, parse_date
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Query(max_length=64)]
ALGORITHM_NAMES = {"Z_SCORE": "Z-score", "MOD_Z_SCORE": "Modified z-score", "MIN_MAX": "Min–max bounds"}


def _data_sets(conn: Connection, zh: bool) -> list[dict[str, str]]:
    catalog = load_catalog(conn)
    unique = {ds.id: ds for ds in catalog.data_sets.values()}.values()
    return [
        {"code": ds.code, "name": ds.name_zh if zh else ds.name_en, "period_type": ds.period_type}
        for ds in sorted(unique, key=lambda d: d.code)
    ]


def _range(conn: Connection, start: str, end: str) -> tuple[dt.date, dt.date]:
    """The dates asked for; by default the latest year with data (as the indicator pages choose)."""
    year = int(default_period(conn)[:4])
    first = parse_date(start, "start") or dt.date(year, 1, 1)
    last = parse_date(end, "end") or dt.date(year, 12, 31)
    return first, last


@router.get("/quality/validation", response_class=HTMLResponse)
def validation_page(
    request: Request, conn: Conn, user: User, ou: Text = "", start: Text = "", end: Text = "", ds: Text = ""
) -> HTMLResponse:
    """Choose a unit, dates and (optionally) a data set; see every rule broken below the unit (by
    default: your own unit, in the latest year with data)."""
    ou = ou or defaults.own_unit(conn, user)
    zh = language(request) == "zh_CN"
    context: dict[str, Any] = {
        "active": "quality",
        "data_sets": _data_sets(conn, zh),
        "zh": zh,
        "query": {"ou": ou, "start": start, "end": end, "ds": ds},
    }
    if ou:
        try:
            first, last = _range(conn, start, end)
            periods = queries.stored_periods(conn, start=first, end=last, data_set=ds or None)
            context["violations"] = queries.run_rules(
                conn, principal=user, units=[ou], periods=periods, data_set=ds or None
            )
            context["periods"] = periods
            context["links"] = problem_links(conn, context["violations"], ds or None)  # each to its cell
        except JiaoweiError as error:
            context["error"] = error
    return page(request, "indicators/quality_validation.html", context)


@router.get("/quality/outliers", response_class=HTMLResponse)
def outliers_page(
    request: Request,
    conn: Conn,
    user: User,
    ou: Text = "",
    start: Text = "",
    end: Text = "",
    ds: Text = "",
    algorithm: Text = "Z_SCORE",
    threshold: Text = "",
) -> HTMLResponse:
    """Values far from the rest of their series, or outside their min–max bounds (by default: below
    your own unit, in the latest year with data, of the first data set)."""
    ou, ds = ou or defaults.own_unit(conn, user), ds or defaults.first_data_set(conn)
    zh = language(request) == "zh_CN"
    context: dict[str, Any] = {
        "active": "quality",
        "data_sets": _data_sets(conn, zh),
        "zh": zh,
        "algorithms": ALGORITHM_NAMES,
        "query": {
            "ou": ou,
            "start": start,
            "end": end,
            "ds": ds,
            "algorithm": algorithm,
            "threshold": threshold,
        },
    }
    if ou:
        try:
            first, last = _range(conn, start, end)
            context["outliers"] = outliers.outliers(
                conn,
                principal=user,
                data_set=ds or None,
                elements=None,
                units=[ou],
                start=first,
                end=last,
                algorithm=algorithm,
                threshold=_threshold(threshold),
            )
            context["links"] = value_links(conn, context["outliers"], ds or None)  # each to its cell
        except JiaoweiError as error:
            context["error"] = error
    return page(request, "indicators/quality_outliers.html", context)


def _threshold(text: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationError(
            N_("The threshold is not a number."),
            [Problem("not a number", field="threshold", value=text, expected=N_("a number such as 3"))],
        ) from None
