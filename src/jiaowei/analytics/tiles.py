"""What a dashboard shows, computed for the viewer: its items, and each role's home page.

Items are computed afresh with the viewer's own scope: a pivot or chart item runs its saved query
through :func:`jiaowei.analytics.service.run`, an indicator tile asks
:func:`jiaowei.indicators.targets.compute.indicator_value` for value, target and status. An item
that cannot be shown (its unit is outside the viewer's scope, its indicator was deleted …) says why
instead of failing the page. Pivots and charts are built as the pivot page builds them
(:func:`jiaowei.analytics.pivot.view.build_view`), so an item looks as it did when it was saved.

The home page is a dashboard of the viewer's part of the system, chosen by the highest unit they
may view (:func:`compute.default_unit`) and the latest year with data (:func:`compute.default_period`):

- a commission (the whole system): its indicators with published figures and targets, as tiles
  with their status, and charts of those indicators for the units below it;
- a district: its own indicators, and how complete its schools' forms are;
- any other unit (a school): its forms for the period, due, late, returned or complete;

then the user's own saved items (their home dashboard).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Connection

from jiaowei.analytics import dashboards
from jiaowei.analytics import response as grid_layout
from jiaowei.analytics.dashboards import Dashboard, Item
from jiaowei.analytics.pivot.view import PivotQuery, PivotView, build_view
from jiaowei.auth.model import Principal
from jiaowei.errors import JiaoweiError
from jiaowei.indicators import periods as pe
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.approval import queries as approval
from jiaowei.indicators.metadata.catalog import DataSet, load_catalog
from jiaowei.indicators.targets import chart as indicator_charts
from jiaowei.indicators.targets import compute
from jiaowei.indicators.targets import queries as target_queries
from jiaowei.registry import queries as registry

MAX_ROWS, MAX_COLUMNS = 12, 8  # of a pivot item's small table; the pivot page shows the rest
MAX_CHARTS, MAX_TRIED = 2, 6  # charts on a commission's home page, and indicators tried for them


# ---------------------------------------------------------------- items


@dataclass(frozen=True)
class Table:
    """A pivot item's small table: column labels, then rows of (label, texts)."""

    columns: list[str]
    rows: list[tuple[str, list[str]]]
    more_rows: int = 0
    more_columns: int = 0


@dataclass(frozen=True)
class Shown:
    """One item as the viewer sees it: a table, a chart, or an indicator value; ``error`` if none."""

    item: Item
    title: str
    href: str | None = None  # where the item opens in full (the pivot page, the indicator page)
    table: Table | None = None
    chart: dict[str, Any] | None = None
    value: compute.IndicatorValue | None = None
    error: str | None = None


def _pivot(conn: Connection, principal: Principal, item: Item, today: dt.date, language: str) -> PivotView:
    """The saved pivot as the pivot page builds it (a chart item: drawn as its chart type)."""
    query = PivotQuery.from_pairs(parse_qsl(item.query, keep_blank_values=True))
    chart = (item.chart_type or "bar") if item.kind == "chart" else None
    return build_view(conn, principal=principal, query=dataclasses.replace(query, chart=chart),
                      language=language, today=today)


def _table(piv: grid_layout.Pivot) -> Table:
    """The first rows and columns of the pivot, rows without any value left out (as the page does)."""
    columns = piv.column_keys[:MAX_COLUMNS]
    filled = [r for r in piv.row_keys if any(piv.text(r, c) for c in piv.column_keys)]
    rows = [(piv.label(r), [piv.text(r, c) for c in columns]) for r in filled[:MAX_ROWS]]
    return Table([piv.label(c) for c in columns], rows, max(len(filled) - MAX_ROWS, 0),
                 max(len(piv.column_keys) - MAX_COLUMNS, 0))


def _title(item: Item, view: PivotView | None) -> str:
    if item.title:
        return item.title
    return view.title if view is not None and view.title else item.indicator or ""


def show_item(conn: Connection, *, principal: Principal, item: Item, today: dt.date, language: str) -> Shown:
    """The item computed now for the principal (never an exception: ``error`` says what went wrong)."""
    try:
        if item.kind == "indicator":
            value = compute.indicator_value(conn, principal=principal, indicator=item.indicator or "",
                                            unit=item.unit or "", period=item.period or "")
            name = value.indicator.name_en if language == "en" else value.indicator.name_zh
            href = f"/indicators/{value.indicator.code}?ou={value.unit.code}&pe={value.period}"
            return Shown(item, item.title or name, href=href, value=value)
        view = _pivot(conn, principal, item, today, language)
        table = _table(grid_layout.pivot(view.grid))
        return Shown(item, _title(item, view), href=f"/analytics?{item.query}", chart=view.chart, table=table)
    except JiaoweiError as error:
        return Shown(item, item.title or item.indicator or item.kind, error=error.detail or error.title)


def show_dashboard(conn: Connection, *, principal: Principal, dashboard: Dashboard, today: dt.date,
                   language: str) -> list[Shown]:
    return [show_item(conn, principal=principal, item=i, today=today, language=language)
            for i in dashboard.items]


# ---------------------------------------------------------------- forms of a unit


@dataclass(frozen=True)
class FormState:
    """A unit's form (a data set for a period): due when, completed when, and where it stands.

    ``state``: ``complete``, ``complete_late``, ``returned`` (its approval was withdrawn since),
    ``late`` (not complete, past its due day) or ``due``.
    """

    data_set: str
    name_zh: str
    name_en: str
    period: str
    due: str
    completed_at: str | None
    state: str
    reason: str = ""


@dataclass(frozen=True)
class FormCompleteness:
    """A data set's reports under a unit for one period (a district's schools' forms)."""

    data_set: str
    name_zh: str
    name_en: str
    row: Any  # jiaowei.indicators.approval.model.CompletenessRow
    late: int


def form_period(ds: DataSet, year: int, today: dt.date) -> pe.Period:
    """The form's period shown for the year: the one holding the year's last day (today, if sooner)."""
    return pe.containing(pe.PeriodType(ds.period_type), min(today, dt.date(year, 12, 31)))


def _reports(ds: DataSet, unit: registry.Unit) -> bool:
    return unit.type in ds.unit_types or unit.id in ds.unit_ids


def _form_state(conn: Connection, principal: Principal, ds: DataSet, period: pe.Period, unit: registry.Unit,
                today: dt.date) -> FormState:
    """Where the unit's form stands: received (registered complete, or values sent) on time or late,
    returned (its approval withdrawn since), or not received: late past its due day, else due."""
    names = {"data_set": ds.code, "period": period.id, "unit": unit.code}
    found = completeness.reports(conn, principal=principal, tree=False, **names)
    status = approval.approval_status(conn, principal=principal, **names)
    last = status.history[0] if status.history else None
    arrived = found.arrived.get(unit.id)
    if status.state == "unapproved" and last is not None and last.action == "unapprove":
        state = "returned"
    elif arrived is not None:
        state = "complete" if found.on_time(unit.id) else "complete_late"
    else:
        state = "late" if today > found.due else "due"
    return FormState(ds.code, ds.name_zh, ds.name_en, period.id, found.due.isoformat(),
                     arrived.isoformat() if arrived else None, state,
                     last.reason if state == "returned" and last else "")


def unit_forms(conn: Connection, *, principal: Principal, unit: registry.Unit, year: int,
               today: dt.date) -> list[FormState]:
    """Every form the unit reports, for the period of each data set that holds the year's end."""
    found = []
    for ds in load_catalog(conn).data_sets.values():
        if _reports(ds, unit):
            try:
                found.append(_form_state(conn, principal, ds, form_period(ds, year, today), unit, today))
            except JiaoweiError:  # the unit was not open at the end of the period: no form
                continue
    order = {"returned": 0, "late": 1, "due": 2, "complete_late": 3, "complete": 4}
    return sorted(found, key=lambda f: (order[f.state], f.data_set))


def district_forms(conn: Connection, *, principal: Principal, unit: registry.Unit, year: int,
                   today: dt.date) -> list[FormCompleteness]:
    """How complete the forms below the unit are, per data set that some unit below reports."""
    found = []
    for ds in load_catalog(conn).data_sets.values():
        period = form_period(ds, year, today)
        try:
            rows = completeness.completeness(conn, principal=principal, data_set=ds.code, periods=[period.id],
                                             unit=unit.code, children=False)
        except JiaoweiError:
            continue
        row = rows[0]
        if row.expected:
            late = row.expected - row.received if today > dt.date.fromisoformat(row.due) else 0
            found.append(FormCompleteness(ds.code, ds.name_zh, ds.name_en, row, late))
    return found


# ---------------------------------------------------------------- the home page


@dataclass
class Home:
    """A home page: the viewer's part of the system, then their own saved items."""

    kind: str  # commission | district | unit | none
    unit: registry.Unit | None
    period: str
    tiles: list[compute.IndicatorValue] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    forms: list[FormState] = field(default_factory=list)
    completeness: list[FormCompleteness] = field(default_factory=list)
    dashboard: Dashboard | None = None
    items: list[Shown] = field(default_factory=list)


def _kind(unit: registry.Unit) -> str:
    if unit.parent_id is None or unit.type == "commission":
        return "commission"
    return "district" if unit.type == "district_bureau" else "unit"


def _tiles(values: Sequence[compute.IndicatorValue], *, commission: bool) -> list[compute.IndicatorValue]:
    """The indicators worth a tile: with a target or a published figure (the commission's), else any
    with a value."""
    if commission:
        shown = [v for v in values if v.target is not None or v.source == "fact"]
    else:
        shown = [v for v in values if v.value is not None or v.target is not None]
    return sorted(shown, key=lambda v: v.target is None)  # those with a target first, in code order


def _charts(conn: Connection, principal: Principal, tiles: Sequence[compute.IndicatorValue],
            language: str) -> list[dict[str, Any]]:
    """Bars of the tiles' indicators with a target, for the units below: those whose target was
    cascaded to them first, then by code; at most :data:`MAX_CHARTS`, those with no unit below left out."""
    with_target = [t for t in tiles if t.target is not None]
    cascaded = _cascaded(conn, with_target)
    ranked = sorted(with_target, key=lambda t: ((t.indicator.id, t.period) not in cascaded, t.indicator.code))
    charts: list[dict[str, Any]] = []
    for tile in ranked[:MAX_TRIED]:
        rows = compute.indicator_table(conn, principal=principal, indicator=tile.indicator.code,
                                       unit=tile.unit.code, period=tile.period)
        spec = indicator_charts.children_chart(rows, language=language)
        if spec is not None:
            charts.append({**spec, "title": _name(tile, language), "indicator": tile.indicator.code})
        if len(charts) == MAX_CHARTS:
            break
    return charts


def _cascaded(conn: Connection, tiles: Sequence[compute.IndicatorValue]) -> set[tuple[int, str]]:
    """(indicator id, period) of the tiles whose target was cascaded from their unit to the units below
    (the tiles are all of one unit): one query for them all."""
    if not tiles:
        return set()
    return target_queries.cascaded_from(conn, unit_id=tiles[0].unit.id,
                                        indicator_ids=[t.indicator.id for t in tiles],
                                        periods=[t.period for t in tiles])


def _name(value: compute.IndicatorValue, language: str) -> str:
    d = value.indicator
    return d.name_en if language == "en" and d.name_en else d.name_zh


def home(conn: Connection, *, principal: Principal, today: dt.date, language: str) -> Home:
    """The principal's home page (see the module docstring)."""
    period = compute.default_period(conn, today)
    code = compute.default_unit(conn, principal, today)
    try:
        unit = compute.visible_unit(conn, principal, code, compute.parse_period(period).end) if code else None
    except JiaoweiError:  # the unit was not yet in the principal's scope then
        unit = None
    view = Home(kind=_kind(unit) if unit else "none", unit=unit, period=period)
    if unit is not None:
        # A part that cannot be computed (a JiaoweiError: our checks, never the database) leaves the rest
        # of the page. No savepoint: the page only reads, and one would open a transaction on PostgreSQL
        # and forget what the transaction has read (jiaowei.db.memo), round trips more (issue 17).
        try:
            _fill(conn, principal, view, unit, today, language)
        except JiaoweiError:
            view.kind = "none"
    view.dashboard = dashboards.home_dashboard(conn, principal=principal)
    if view.dashboard is not None:
        view.items = show_dashboard(conn, principal=principal, dashboard=view.dashboard, today=today,
                                    language=language)
    return view


def _fill(conn: Connection, principal: Principal, view: Home, unit: registry.Unit, today: dt.date,
          language: str) -> None:
    period = compute.parse_period(view.period)
    year = period.start.year
    if view.kind in ("commission", "district"):  # the unit was checked on the period's last day (home)
        values = compute.values_at(conn, principal=principal, where=unit, period=period)
        view.tiles = _tiles(values, commission=view.kind == "commission")
    if view.kind == "commission":
        view.charts = _charts(conn, principal, view.tiles, language)
    elif view.kind == "district":
        view.completeness = district_forms(conn, principal=principal, unit=unit, year=year, today=today)
    else:
        view.forms = unit_forms(conn, principal=principal, unit=unit, year=year, today=today)
