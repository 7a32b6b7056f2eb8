"""The analytics answer in DHIS2's grid shape, and the same grid laid out as a pivot table.

A :class:`Grid` is what ``GET /api/analytics`` answers, field for field as DHIS2 does::

    {"headers": [{"name": "dx", "column": "Data", "valueType": "TEXT", "type": "java.lang.String",
                  "hidden": false, "meta": true}, …, {"name": "value", "column": "Value",
                  "valueType": "NUMBER", "type": "java.lang.Double", "hidden": false, "meta": false}],
     "metaData": {"items": {"PUPILS": {"name": "在校学生数"}, "dx": {"name": "数据"}, …},
                  "dimensions": {"dx": ["PUPILS"], "pe": ["2020"], "ou": ["SH"], "co": []}},
     "rows": [["PUPILS", "2020", "SH", "1234"]], "height": 1, "width": 4, "headerWidth": 4}

Rows hold one cell's dimension items (in the request's id scheme) and its value as text, then with
``includeNumDen`` its numerator, denominator, factor, multiplier and divisor ("" where they do not
apply). :func:`pivot` lays a grid out as rows × columns under its filters, for the pivot page.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import TYPE_CHECKING, Any

from jiaowei.analytics.request import DATA, PERIOD, RELATIVE, UNIT, IdScheme
from jiaowei.domains import N_
from jiaowei.i18n import translate
from jiaowei.indicators import periods as pe
from jiaowei.indicators.model import AggregationType

if TYPE_CHECKING:  # the service imports this module
    from jiaowei.analytics.service import DataItem, Plan, UnitItem

VALUE = "value"
NUM_DEN = ("numerator", "denominator", "factor", "multiplier", "divisor")
COLUMN_NAMES = {
    "dx": N_("Data"),
    "pe": N_("Period"),
    "ou": N_("Organisation unit"),
    "co": N_("Category option combo"),
    "value": N_("Value"),
    "numerator": N_("Numerator"),
    "denominator": N_("Denominator"),
    "factor": N_("Factor"),
    "multiplier": N_("Multiplier"),
    "divisor": N_("Divisor"),
}
"""DHIS2's column names of the fixed dimensions and the value columns (English; translated when shown)."""


@dataclass(frozen=True)
class Header:
    """One column of the grid, as DHIS2 describes it."""

    name: str
    column: str
    value_type: str = "TEXT"
    type: str = "java.lang.String"
    hidden: bool = False
    meta: bool = True

    @classmethod
    def number(cls, name: str, column: str) -> Header:
        return cls(name, column, "NUMBER", "java.lang.Double", False, False)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "column": self.column, "valueType": self.value_type, "type": self.type,
                "hidden": self.hidden, "meta": self.meta}


@dataclass
class Grid:
    """An analytics answer: headers, rows, and the items and dimensions they name.

    ``items`` maps every id the answer uses (items, dimension names, relative periods) to
    ``{"name": …}`` in the request's language; ``dimensions`` lists each dimension's and filter's
    items in order. ``columns``, ``rows_layout`` and ``filters`` are the dimension names of the
    request's table layout (see :func:`pivot`); they are not part of DHIS2's JSON.
    """

    headers: list[Header]
    rows: list[list[str]]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    dimensions: dict[str, list[str]] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    rows_layout: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    synthetic: set[tuple[str, ...]] = field(default_factory=set)  # rows a synthetic value is in
    meta: bool = True  # False (skipMeta=true): the answer has no metaData, as DHIS2's

    @property
    def height(self) -> int:
        return len(self.rows)

    @property
    def width(self) -> int:
        return len(self.rows[0]) if self.rows else 0

    @property
    def header_width(self) -> int:
        return len(self.headers)

    @property
    def dimension_names(self) -> list[str]:
        """The names of the dimensions that are columns of the rows, in order."""
        return [h.name for h in self.headers if h.meta]

    def index(self, name: str) -> int:
        """The position of the column called ``name`` (``ValueError`` if there is none)."""
        return [h.name for h in self.headers].index(name)

    def name(self, item: str) -> str:
        """The name of an item or dimension (the id itself when the answer does not name it)."""
        return str(self.items.get(item, {}).get("name", item))

    def number(self, row: Sequence[str], column: str = VALUE) -> float | None:
        """A row's value (or another number column) as a number; None when empty."""
        text = row[self.index(column)]
        return float(text) if text not in ("", None) else None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"headers": [h.as_dict() for h in self.headers]}
        if self.meta:
            body["metaData"] = {"items": self.items, "dimensions": self.dimensions}
        return {**body, "rows": self.rows, "height": self.height, "width": self.width,
                "headerWidth": self.header_width}

    def as_csv(self) -> str:
        """DHIS2's CSV: a line of column names, then the rows."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([h.column for h in self.headers])
        writer.writerows(self.rows)
        return buffer.getvalue()


# ---------------------------------------------------------------- pivot


Key = tuple[str, ...]


@dataclass(frozen=True)
class Pivot:
    """A grid as a table: row keys × column keys, each key one item per dimension of its axis."""

    row_dimensions: tuple[str, ...]
    column_dimensions: tuple[str, ...]
    filter_dimensions: tuple[str, ...]
    row_keys: list[Key]
    column_keys: list[Key]
    cells: dict[tuple[Key, Key], str]  # the value as the grid gives it (text)
    grid: Grid

    def text(self, row: Key, column: Key) -> str:
        """The value shown at the row and column, "" when there is none."""
        return self.cells.get((row, column), "")

    def value(self, row: Key, column: Key) -> float | None:
        found = self.cells.get((row, column), "")
        return float(found) if found else None

    def label(self, key: Key) -> str:
        """The names of a key's items, joined: "在校学生数 / 2020"."""
        return " / ".join(self.grid.name(item) for item in key)

    def dimension_label(self, dimension: str) -> str:
        return self.grid.name(dimension)

    def filter_text(self) -> list[tuple[str, str]]:
        """(dimension name, its items' names joined) for each filter, e.g. ("期间", "2020")."""
        return [
            (self.grid.name(d), ", ".join(self.grid.name(i) for i in self.grid.dimensions.get(d, [])))
            for d in self.filter_dimensions
        ]


def pivot(grid: Grid, *, rows: Sequence[str] | None = None, columns: Sequence[str] | None = None) -> Pivot:
    """The grid laid out as a table.

    Columns default to the request's ``columns`` (else ``pe`` if it is a dimension, else the first
    dimension); rows to the request's ``rows`` (else every other dimension). An axis of one
    dimension lists all its items; an axis of several lists the combinations that have values.
    """
    names = grid.dimension_names
    column_dims = tuple(columns if columns is not None else grid.columns or _default_columns(names))
    rest = [n for n in names if n not in column_dims]
    row_dims = tuple(rows if rows is not None else grid.rows_layout or rest)
    at = {name: grid.index(name) for name in names}
    cells: dict[tuple[Key, Key], str] = {}
    for row in grid.rows:
        row_key = tuple(row[at[d]] for d in row_dims)
        column_key = tuple(row[at[d]] for d in column_dims)
        cells[(row_key, column_key)] = row[grid.index(VALUE)]
    return Pivot(
        row_dimensions=row_dims,
        column_dimensions=column_dims,
        filter_dimensions=grid.filters,
        row_keys=_keys(grid, row_dims, [r for r, _ in cells]),
        column_keys=_keys(grid, column_dims, [c for _, c in cells]),
        cells=cells,
        grid=grid,
    )


def _default_columns(names: Sequence[str]) -> list[str]:
    if "pe" in names and len(names) > 1:
        return ["pe"]
    return list(names[:1])


def _keys(grid: Grid, dims: Sequence[str], present: Sequence[Key]) -> list[Key]:
    if not dims:
        return [()]
    if len(dims) == 1:
        return [(item,) for item in grid.dimensions.get(dims[0], [])]
    order = {d: {item: i for i, item in enumerate(grid.dimensions.get(d, []))} for d in dims}

    def place(key: Key) -> list[int]:
        return [order[d].get(item, len(order[d])) for d, item in zip(dims, key, strict=True)]

    return sorted(set(present), key=place)


# ---------------------------------------------------------------- laying values out (for the service)


@dataclass(frozen=True)
class Value:
    """One computed value: a data item at a unit for a period (and category options)."""

    item: DataItem
    unit_id: int
    period: str
    breakdown: tuple[int, ...]
    value: float | None
    numerator: float | None
    denominator: float | None
    aggregation: AggregationType
    factor: float = 1.0
    synthetic: bool = False  # a synthetic value contributed


def build_grid(plan: Plan, values: Sequence[Value]) -> Grid:
    """The grid of ``values`` for the plan's request."""
    request, language = plan.request, plan.language
    ids = _id_maps(plan)
    shown = [d.name for d in request.dimensions]
    groups: dict[tuple[str, ...], list[Value]] = defaultdict(list)
    for v in values:
        found = [ids[name](v) for name in shown]
        key = tuple(k for k in found if k is not None)
        if len(key) == len(shown) and _passes_filters(plan, ids, v):
            groups[key].append(v)
    order = {name: {item: i for i, item in enumerate(items)}
             for name, items in _dimension_items(plan).items()}
    out_names = [_out(plan, n) for n in shown]

    def place(key: tuple[str, ...]) -> list[int]:
        return [order[n].get(i, 0) for n, i in zip(out_names, key, strict=True)]

    rows = []
    synthetic: set[tuple[str, ...]] = set()  # the keys of rows a synthetic value contributed to
    for key in sorted(groups, key=place):
        combined = combine(groups[key])
        if combined.value is None and not request.include_num_den:
            continue
        rows.append([*key, *_value_columns(combined, request.skip_rounding, request.include_num_den)])
        if combined.synthetic:
            synthetic.add(key)
    headers = [Header(_out(plan, n), _column(plan, n)) for n in shown]
    headers.append(Header.number(VALUE, translate(language, COLUMN_NAMES[VALUE])))
    if request.include_num_den:
        headers += [Header.number(n, translate(language, COLUMN_NAMES[n])) for n in NUM_DEN]
    grid = Grid(headers, rows, columns=tuple(_out(plan, n) for n in request.columns),
                rows_layout=tuple(_out(plan, n) for n in request.rows),
                filters=tuple(_out(plan, d.name) for d in request.filters))
    grid.synthetic = synthetic
    grid.items = _items(plan)  # kept for the pages also under skipMeta; the JSON leaves it out
    grid.dimensions = {**_dimension_items(plan), "co": []}
    grid.meta = not request.skip_meta
    return grid


def _out(plan: Plan, name: str) -> str:
    """A dimension's name in the answer: dx, pe, ou, or the category's id in the request's scheme."""
    for c in plan.categories:
        if name in (c.id, *c.other_keys):
            return c.id
    return name


def _column(plan: Plan, name: str) -> str:
    if name in COLUMN_NAMES:
        return translate(plan.language, COLUMN_NAMES[name])
    found = next(c for c in plan.categories if _out(plan, name) == c.id)
    return found.name(plan.language)


def _unit_id(plan: Plan, unit: UnitItem) -> str:
    return unit.name(plan.language) if plan.request.output_id_scheme is IdScheme.NAME else unit.id


def _id_maps(plan: Plan) -> dict[str, Callable[[Value], str | None]]:
    """For each dimension name of the request: the id a value has in it (None: not asked)."""
    units = {u.unit_id: _unit_id(plan, u) for u in plan.units.units}
    maps: dict[str, Callable[[Value], str | None]] = {
        DATA: lambda v: v.item.id,
        PERIOD: lambda v: v.period,
        UNIT: lambda v: units.get(v.unit_id),
    }
    for n, category in enumerate(plan.categories):
        for key in (category.id, *category.other_keys):
            maps[key] = _option_of(n, {option_id: named.id for option_id, named in category.options})
    return maps


def _option_of(n: int, options: dict[int, str]) -> Callable[[Value], str | None]:
    def option(v: Value) -> str | None:
        return options.get(v.breakdown[n]) if len(v.breakdown) > n else None

    return option


def _passes_filters(plan: Plan, ids: dict[str, Callable[[Value], str | None]], v: Value) -> bool:
    return all(ids[f.name](v) is not None for f in plan.request.filters)


def _dimension_items(plan: Plan) -> dict[str, list[str]]:
    out = {
        DATA: [d.id for d in plan.data],
        PERIOD: [p.id for p in plan.periods.periods],
        UNIT: [_unit_id(plan, u) for u in plan.units.units],
    }
    for c in plan.categories:
        out[c.id] = [named.id for _, named in c.options]
    return out


def _items(plan: Plan) -> dict[str, dict[str, Any]]:
    language = plan.language
    items: dict[str, dict[str, Any]] = {}
    for name in (DATA, PERIOD, UNIT):
        items[name] = {"name": translate(language, COLUMN_NAMES[name])}
    for d in plan.data:
        items[d.id] = {"name": d.name(language)}
    for p in plan.periods.periods:
        items[p.id] = {"name": period_name(p, language)}
    for item in plan.periods.relative:
        items[item] = {"name": translate(language, RELATIVE[item].name)}
    for u in plan.units.units:
        items[_unit_id(plan, u)] = {"name": u.name(language)}
    items.update(plan.units.meta)
    for c in plan.categories:
        items[c.id] = {"name": c.name(language)}
        for _, named in c.options:
            items[named.id] = {"name": named.name(language)}
    return items


# ---------------------------------------------------------------- combining values under filters


def combine(values: Sequence[Value]) -> Value:
    """One value from several that a filter collapses: by the aggregation type over periods (sum; mean
    for the averages; latest period for LAST; min, max), then over units; indicators and rates from
    their summed numerators and denominators."""
    first = values[0]
    if len(values) == 1:
        return first
    if first.item.kind in ("indicator", "rate"):
        numerator = math.fsum(v.numerator or 0.0 for v in values)
        denominator = math.fsum(v.denominator or 0.0 for v in values)
        value = numerator / denominator * first.factor if denominator else None
        return Value(first.item, first.unit_id, first.period, first.breakdown, value, numerator, denominator,
                     first.aggregation, first.factor, any(v.synthetic for v in values))
    by_unit: dict[int, list[Value]] = defaultdict(list)
    for v in values:
        by_unit[v.unit_id].append(v)
    over_time = [_over_periods(first.aggregation, vs) for vs in by_unit.values()]
    return Value(first.item, first.unit_id, first.period, first.breakdown,
                 _over_units(first.aggregation, over_time), None, None, first.aggregation,
                 synthetic=any(v.synthetic for v in values))


def _over_periods(kind: AggregationType, values: list[Value]) -> float:
    by_period: dict[str, float] = defaultdict(float)
    for v in values:  # several data items or category options of one period add up
        by_period[v.period] += v.value or 0.0
    ordered = [by_period[k] for k in sorted(by_period, key=lambda k: pe.parse(k).sort_key)]
    if kind in (AggregationType.LAST, AggregationType.LAST_AVERAGE_ORG_UNIT):
        return ordered[-1]
    if kind in (AggregationType.AVERAGE, AggregationType.AVERAGE_SUM_ORG_UNIT):
        return fmean(ordered)
    if kind is AggregationType.MIN:
        return min(ordered)
    if kind is AggregationType.MAX:
        return max(ordered)
    return math.fsum(ordered)


def _over_units(kind: AggregationType, numbers: list[float]) -> float:
    if kind in (AggregationType.AVERAGE, AggregationType.LAST_AVERAGE_ORG_UNIT):
        return fmean(numbers)
    if kind is AggregationType.MIN:
        return min(numbers)
    if kind is AggregationType.MAX:
        return max(numbers)
    return math.fsum(numbers)


# ---------------------------------------------------------------- values as text


def _value_columns(v: Value, skip_rounding: bool, num_den: bool) -> list[str]:
    indicator = v.item.indicator
    decimals = indicator.decimals if indicator is not None else 2
    whole = v.item.kind in ("element", "operand")
    if indicator is not None and indicator.display == "ratio" and v.value is not None and not skip_rounding:
        # a ratio is numerator / denominator (1:159 is 0.00629): its decimals are those of N in 1:N
        columns = [repr(float(f"{v.value:.6g}"))]
    else:
        columns = [_number(v.value, None if skip_rounding else decimals, whole)]
    if num_den:
        if v.item.kind in ("indicator", "rate"):
            columns += [_number(v.numerator, None, False), _number(v.denominator, None, False),
                        _number(v.factor, None, False), str(int(v.factor)), "1"]
        else:
            columns += ["", "", "", "", ""]
    return columns


def _number(value: float | None, decimals: int | None, whole: bool) -> str:
    """DHIS2's text of a number: ``1234`` for a whole element value, else ``86.5`` or ``71.0``."""
    if value is None:
        return ""
    shown = round(value, decimals) if decimals is not None else value
    if whole and float(shown).is_integer():
        return str(int(shown))
    return repr(float(shown))


# ---------------------------------------------------------------- period names


def period_name(p: pe.Period, language: str) -> str:
    """A period as DHIS2 names it (English) or as a Chinese reader writes it: "2020年9月"."""
    zh = language != "en"
    y = p.start.year
    match p.type:
        case pe.PeriodType.DAILY:
            return f"{y}年{p.start.month}月{p.start.day}日" if zh else p.start.isoformat()
        case pe.PeriodType.WEEKLY:
            week = p.start.isocalendar()
            return f"{week.year}年第{week.week}周" if zh else f"Week {week.week} {p.start} - {p.end}"
        case pe.PeriodType.MONTHLY:
            return f"{y}年{p.start.month}月" if zh else f"{calendar.month_name[p.start.month]} {y}"
        case pe.PeriodType.QUARTERLY:
            quarter = (p.start.month + 2) // 3
            return f"{y}年第{quarter}季度" if zh else _months(p)
        case pe.PeriodType.SIXMONTHLY:
            return f"{y}年{'上' if p.start.month == 1 else '下'}半年" if zh else _months(p)
        case pe.PeriodType.SCHOOL_YEAR:
            return f"{y}学年" if zh else f"School year {y}/{(y + 1) % 100:02d}"
        case pe.PeriodType.YEARLY:
            return f"{y}年" if zh else str(y)
        case _:  # the other DHIS2 types (bi-monthly, financial years, other weeks): their span
            return _span(p, zh)


def _span(p: pe.Period, zh: bool) -> str:
    """Whole months as months ("2019年11月–2020年10月"), other spans as their first and last days."""
    start, end = p.start, p.end
    if start.day == 1 and (end + dt.timedelta(days=1)).day == 1:
        if zh:
            return f"{start.year}年{start.month}月–{end.year}年{end.month}月"
        first, last = calendar.month_name[start.month], calendar.month_name[end.month]
        return f"{first} {start.year} - {last} {end.year}"
    return f"{start.isoformat()}至{end.isoformat()}" if zh else f"{start.isoformat()} - {end.isoformat()}"


def _months(p: pe.Period) -> str:
    return f"{calendar.month_name[p.start.month]} - {calendar.month_name[p.end.month]} {p.start.year}"
