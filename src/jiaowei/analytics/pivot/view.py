"""What the pivot page shows for a query: the analytics answer laid out as a table with totals, its
sort, the drill-down link of every cell, and the chart. No web framework here, so the dashboards
can show a saved pivot with :func:`build_view` as the page does.

A pivot is a URL: its query string holds the parameters of ``GET /api/analytics`` (``dimension=``,
``filter=``, ``rows=``, ``columns=`` …) plus the page's own ``chart=`` and ``sort=``. The builder's
form sends simpler fields (:data:`FORM_FIELDS`), which :func:`from_form` turns into that query.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, String, select

from jiaowei.analytics import service
from jiaowei.analytics.pivot import chart as charts
from jiaowei.analytics.pivot.table import Fact, Items, Layout, Pivot, Sort, build, format_number
from jiaowei.analytics.request import DATA, PERIOD, UNIT, AnalyticsRequest, Dimension, parse
from jiaowei.analytics.response import Grid
from jiaowei.analytics.response import pivot as grid_pivot
from jiaowei.auth.model import Principal
from jiaowei.db.among import among
from jiaowei.db.engine import is_read_only
from jiaowei.errors import Problem, ValidationError
from jiaowei.i18n import translate
from jiaowei.indicators import periods as pe
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.model import AggregationType
from jiaowei.indicators.targets.compute import all_indicators, format_value
from jiaowei.registry import queries as registry
from jiaowei.registry.model import path_ids

PAGE_PARAMS = frozenset({"chart", "sort", "lang", "build"})
"""Parameters of the page that are not analytics parameters."""
FORM_FIELDS = ("dx", "pe", "ou", "level", "dx_on", "pe_on", "ou_on")
PLACES = ("rows", "columns", "filter")
SUMMABLE = frozenset({AggregationType.SUM, AggregationType.COUNT})
DIMENSIONS = (DATA, PERIOD, UNIT)
LEVEL = "LEVEL-"


# ---------------------------------------------------------------- the query


@dataclass(frozen=True)
class PivotQuery:
    """The analytics parameters of a pivot (in order), and the page's chart and sort."""

    params: tuple[tuple[str, str], ...]
    chart: str | None = None
    sort: Sort | None = None

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> PivotQuery:
        pairs = list(pairs)
        page = {k: v for k, v in pairs if k in PAGE_PARAMS}
        chart = page.get("chart") if page.get("chart") in charts.CHARTS else None
        return cls(tuple((k, v) for k, v in pairs if k not in PAGE_PARAMS and k not in FORM_FIELDS),
                   chart, Sort.parse(page.get("sort")))

    @property
    def empty(self) -> bool:
        return not any(k in ("dimension", "filter") for k, _ in self.params)

    def api(self) -> str:
        """The query string of ``GET /api/analytics`` for the same answer."""
        return urlencode(self.params)

    def url(self, *, chart: str | None | bool = True, sort: Sort | None | bool = True) -> str:
        """``/analytics?…`` of this pivot; ``chart`` and ``sort`` replace the query's own unless True."""
        shown_chart = self.chart if chart is True else chart
        shown_sort = self.sort if sort is True else sort
        extra = [("chart", str(shown_chart))] if shown_chart else []
        extra += [("sort", shown_sort.param)] if isinstance(shown_sort, Sort) else []
        return "/analytics?" + urlencode([*self.params, *extra])

    def query_string(self) -> str:
        return self.url().partition("?")[2]

    def with_items(self, name: str, items: Sequence[str]) -> PivotQuery:
        """The same pivot with the items of dimension (or filter) ``name`` replaced, placed as before."""
        out: list[tuple[str, str]] = []
        for key, value in self.params:
            if key in ("dimension", "filter"):
                parts = [
                    f"{name}:{';'.join(items)}" if part.strip().partition(":")[0].strip() == name else part
                    for part in value.split(",")
                ]
                value = ",".join(parts)
            out.append((key, value))
        return dataclasses.replace(self, params=tuple(out))


def _form_problems(form: Mapping[str, Sequence[str]]) -> list[Problem]:
    problems: list[Problem] = []
    if not [v for v in form.get("dx", ()) if v]:
        problems.append(Problem("choose at least one data item", field="dx", value=None,
                                expected="one or more data elements, indicators or reporting rates"))
    if not [v for v in form.get("pe", ()) if v]:
        problems.append(Problem("choose at least one period", field="pe", value=None,
                                expected="one or more periods"))
    if not [v for v in form.get("ou", ()) if v]:
        problems.append(Problem("choose at least one unit", field="ou", value=None,
                                expected="one or more units"))
    places = [_place(form, d) for d in DIMENSIONS]
    if all(p == "filter" for p in places):
        problems.append(Problem("put at least one dimension on rows or columns", field="dx_on",
                                value="filter", expected="rows or columns"))
    return problems


def _place(form: Mapping[str, Sequence[str]], name: str) -> str:
    chosen = (form.get(f"{name}_on") or [""])[-1]
    return chosen if chosen in PLACES else {DATA: "rows", PERIOD: "columns", UNIT: "rows"}[name]


def from_form(form: Mapping[str, Sequence[str]]) -> PivotQuery:
    """The pivot the builder's form describes: ``dx``, ``pe``, ``ou`` (several each), ``level``
    (the units at that level under those chosen), and where each goes (``dx_on`` … rows, columns or
    filter); :class:`ValidationError` naming each missing choice."""
    problems = _form_problems(form)
    if problems:
        raise ValidationError("The pivot table needs data, periods and units.", problems)
    level = (form.get("level") or [""])[-1]
    items = {
        DATA: _unique(form["dx"]),
        PERIOD: _unique(form["pe"]),
        UNIT: _unique(form["ou"]) + ([f"{LEVEL}{int(level)}"] if level.isdigit() else []),
    }
    params: list[tuple[str, str]] = []
    for name in DIMENSIONS:
        kind = "filter" if _place(form, name) == "filter" else "dimension"
        params.append((kind, f"{name}:{';'.join(items[name])}"))
    for place in ("rows", "columns"):
        names = [d for d in DIMENSIONS if _place(form, d) == place]
        if names:
            params.append((place, ";".join(names)))
    chart = (form.get("chart") or [""])[-1]
    return PivotQuery(tuple(params), chart if chart in charts.CHARTS else None)


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


@dataclass(frozen=True)
class Chosen:
    """What the form shows as chosen for a query: items and place of each dimension, the level."""

    items: dict[str, list[str]]
    places: dict[str, str]
    level: str = ""


def chosen(request: AnalyticsRequest | None, defaults: Chosen) -> Chosen:
    """The form's choices for the query (the defaults when there is none yet)."""
    if request is None:
        return defaults
    items: dict[str, list[str]] = {}
    places: dict[str, str] = {}
    level = ""
    for name in DIMENSIONS:
        found: Dimension | None = request.get(name)
        values = list(found.items) if found else []
        if name == UNIT:
            level = next((v[len(LEVEL):] for v in values if v.startswith(LEVEL)), "")
            values = [v for v in values if not v.startswith(LEVEL)]
        items[name] = values
        by_default = not request.columns and not request.rows and name == PERIOD
        places[name] = ("filter" if request.is_filter(name)
                        else "columns" if name in request.columns or by_default else "rows")
    return Chosen(items, places, level)


# ---------------------------------------------------------------- the view


@dataclass
class PivotView:
    """Everything the page shows for a pivot query."""

    query: PivotQuery
    request: AnalyticsRequest
    grid: Grid
    table: Pivot
    dimension_titles: dict[str, str]
    filters: list[tuple[str, str]]
    chart: dict[str, Any] | None = None
    title: str = ""
    empty_rows: int = 0  # rows left out because they have no value
    sort_links: list[str] = field(default_factory=list)
    label_sort_link: str = ""
    total_sort_link: str = ""


def parse_query(query: PivotQuery, language: str) -> AnalyticsRequest:
    """The analytics request of a pivot query, answered in ``language``."""
    return dataclasses.replace(parse(list(query.params)), language=language)


def _shown(conn: Connection, grid: Grid) -> Callable[[Items, float], str]:
    """How a cell's number is written: a ratio indicator as ``1:N`` (1:159, not 0.0063), as on the
    indicator pages; anything else with grouped thousands."""
    ratios: dict[str, int] = {}
    for d in all_indicators(conn):  # read once per transaction
        if d.display == "ratio":
            ratios[d.code] = ratios[d.uid] = d.decimals
    data = grid.dimensions.get(DATA, [])
    only = data[0] if len(data) == 1 else None

    def shown(items: Items, value: float) -> str:
        dx = items.get(DATA, only)
        return format_value(value, "ratio", ratios[dx]) if dx in ratios else format_number(value)

    return shown


def build_view(
    conn: Connection, *, principal: Principal, query: PivotQuery, language: str, today: dt.date
) -> PivotView:
    """The pivot of ``query`` as ``principal`` may see it (scope applied inside the engine's query)."""
    request = parse_query(query, language)
    grid = service.run(conn, principal=principal, request=request, today=today)
    laid = grid_pivot(grid)
    layout = Layout(laid.row_dimensions, laid.column_dimensions, laid.filter_dimensions)
    facts = [
        Fact({**dict(zip(layout.rows, r, strict=True)), **dict(zip(layout.columns, c, strict=True))},
             float(text))
        for (r, c), text in laid.cells.items() if text not in ("", None)
    ]
    with_values = {r for (r, _), text in laid.cells.items() if text not in ("", None)}
    shown_rows = [k for k in laid.row_keys if k in with_values]  # rows without any value are left out
    day = _last_day(grid, today)
    link = _drill(conn, query, grid, layout, day)
    table = build(facts, layout=layout, order=grid.dimensions, names=_names(grid),
                  summable=_summable(conn, grid, layout, request), link=link, sort=query.sort,
                  shown=_shown(conn, grid),
                  row_keys=shown_rows, column_keys=laid.column_keys)
    titles = {d: grid.name(d) for d in (*layout.rows, *layout.columns, *layout.filters)}
    filters = [(grid.name(d), ", ".join(grid.name(i) for i in grid.dimensions.get(d, [])))
               for d in layout.filters]
    view = PivotView(query, request, grid, table, titles, filters,
                     empty_rows=len(laid.row_keys) - len(shown_rows),
                     title=", ".join(grid.name(i) for i in grid.dimensions.get(DATA, [])[:3])[:230])
    view.sort_links = [_sort_link(query, str(i)) for i in range(len(table.column_keys))]
    view.label_sort_link = _sort_link(query, "label")
    view.total_sort_link = _sort_link(query, "total")
    if query.chart:
        view.chart = _chart(conn, principal, view, language, today)
    return view


def _names(grid: Grid) -> dict[str, str]:
    return {item: grid.name(item) for items in grid.dimensions.values() for item in items}


def _sort_link(query: PivotQuery, column: str) -> str:
    """Sort by ``column``: ascending first, descending when it is sorted ascending already."""
    current = query.sort
    descending = current is not None and str(current.column) == column and not current.descending
    return query.url(sort=Sort.parse(("-" if descending else "") + column))


def _last_day(grid: Grid, today: dt.date) -> dt.date:
    ends = [pe.parse(p).end for p in grid.dimensions.get(PERIOD, []) if pe.is_valid(p)]
    return max(ends) if ends else today


def _summable(
    conn: Connection, grid: Grid, layout: Layout, request: AnalyticsRequest
) -> Callable[[Items], bool]:
    """Whether a cell may be added into a total: every data item it reads is an element or operand
    aggregated by SUM or COUNT (the request's ``aggregationType``, else the element's own)."""
    catalog = load_catalog(conn)

    def adds(item: str) -> bool:
        element = catalog.element(item.partition(".")[0])
        if element is None or (item.count(".") and item.endswith(".REPORTING_RATE")):
            return False
        return (request.aggregation_type or element.aggregation_type) in SUMMABLE

    filtered = all(adds(i) for i in grid.dimensions.get(DATA, [])) if DATA in layout.filters else True

    def summable(items: Items) -> bool:
        return adds(items[DATA]) if DATA in items else filtered

    return summable


@dataclass(frozen=True)
class _Place:
    level: int
    below: bool


def unit_places(conn: Connection, codes: Sequence[str], day: dt.date) -> dict[str, _Place]:
    """Each unit's level on ``day`` (the root is 1) and whether any unit stood below it then: one
    statement (on PostgreSQL the codes as one array parameter, not a bound parameter each)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    if is_read_only(conn):  # a GET: from the registry the process keeps, no statement (decision 0022)
        ids = registry.ids_of(conn, wanted)
        return {u.code: _Place(len(path_ids(u.path)), bool(registry.units_on(conn, day, parent_id=u.id)))
                for u in registry.units_on(conn, day, ids=list(ids.values()))}
    child = registry.units_on_select(day).subquery("child")
    below = select(child.c.id).where(child.c.parent_id == registry.UNIT_ID).exists().label("below")
    code = registry.UNIT_CODE
    query = registry.units_on_select(day).with_only_columns(code, registry.UNIT_PATH, below)
    chunks = among(conn, code, wanted, type_=String)
    return {r.code: _Place(len(path_ids(r.path)), bool(r.below))
            for part in chunks for r in conn.execute(query.where(part))}


def _drill(
    conn: Connection, query: PivotQuery, grid: Grid, layout: Layout, day: dt.date
) -> Callable[[Items], str | None]:
    """The link of a cell: the same pivot one level down under the cell's unit, or, at a unit with
    nothing below it, the stored values behind the cell."""
    units = grid.dimensions.get(UNIT, [])
    places = unit_places(conn, units, day)
    data_filter = grid.dimensions.get(DATA, []) if DATA in layout.filters else []
    period_filter = grid.dimensions.get(PERIOD, []) if PERIOD in layout.filters else []
    only_unit = units[0] if UNIT in layout.filters and len(units) == 1 else None

    def link(items: Items) -> str | None:
        unit = items.get(UNIT, only_unit)
        place = places.get(unit or "")
        if unit is None or place is None:
            return None
        if place.below:
            return query.with_items(UNIT, [unit, f"{LEVEL}{place.level + 1}"]).url(sort=None)
        data = [items[DATA]] if DATA in items else data_filter
        periods = [items[PERIOD]] if PERIOD in items else period_filter
        return "/analytics/values?" + urlencode({"dx": ";".join(data), "pe": ";".join(periods), "ou": unit})

    return link


# ---------------------------------------------------------------- the chart


def _chart(
    conn: Connection, principal: Principal, view: PivotView, language: str, today: dt.date
) -> dict[str, Any] | None:
    kind = view.query.chart or ""
    titles = view.dimension_titles
    label = translate(language, "Chart of the table: {data} by {axis}.").format(
        data=", ".join(titles.get(d, d) for d in view.table.column_dimensions) or "–",
        axis=", ".join(titles.get(d, d) for d in view.table.row_dimensions) or "–")
    if kind != "yoy":
        return charts.chart_spec(view.table, kind, label=label)
    earlier, back = _earlier(conn, principal, view, today)
    suffix = translate(language, "{name}, a year earlier")
    return charts.chart_spec(view.table, kind, label=label, earlier=charts.earlier_lookup(earlier, back),
                             earlier_name=lambda name: suffix.format(name=name))


def _earlier(
    conn: Connection, principal: Principal, view: PivotView, today: dt.date
) -> tuple[dict[tuple[tuple[str, str], ...], float], dict[str, str]]:
    """The same query a year earlier (every period shifted back a year), as facts keyed by items."""
    shown = [p for p in view.grid.dimensions.get(PERIOD, []) if pe.is_valid(p)]
    back = {p: charts.shifted(p) for p in shown}
    moved = view.query.with_items(PERIOD, list(dict.fromkeys(back.values())))
    request = dataclasses.replace(parse(list(moved.params)), language=view.request.language)
    grid = service.run(conn, principal=principal, request=request, today=today)
    laid = grid_pivot(grid, rows=view.table.row_dimensions, columns=view.table.column_dimensions)
    facts: dict[tuple[tuple[str, str], ...], float] = {}
    for (r, c), text in laid.cells.items():
        if text not in ("", None):
            items = {**dict(zip(laid.row_dimensions, r, strict=True)),
                     **dict(zip(laid.column_dimensions, c, strict=True))}
            facts[tuple(sorted(items.items()))] = float(text)
    return facts, back
