"""The pivot as a chart: line, bar, stacked bar, pie, and year on year. The data is computed on the
server from the same :class:`~jiaowei.analytics.pivot.table.Pivot` the table shows and embedded as
JSON for ``web/static/charts.js``; no chart reads the database by itself.

The category axis holds the table's rows and each column is a series, except that periods go on
the axis whenever they are on the columns and not on the rows (time reads left to right). A pie
shows the first series only, one slice per category. Year on year adds, for every series, the same
cells a year earlier (from a second run of the query with the periods shifted), dashed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jiaowei.analytics.pivot.table import Items, Pivot, format_number
from jiaowei.indicators import periods as pe

CHARTS = ("line", "bar", "stacked", "pie", "yoy")
MAX_SERIES = 20  # more columns than this: the first ones only


@dataclass(frozen=True)
class Axis:
    """One side of the chart: the keys of one table axis, their labels and their dimensions."""

    dimensions: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]
    labels: tuple[str, ...]


def _axes(pivot: Pivot, kind: str) -> tuple[Axis, Axis, bool]:
    """(categories, series, transposed): rows × columns, or columns × rows to put time on the axis
    (for a pie: to keep it off the slices)."""
    rows = Axis(pivot.row_dimensions, tuple(r.keys for r in pivot.rows),
                tuple(" / ".join(r.labels) for r in pivot.rows))
    columns = Axis(pivot.column_dimensions, pivot.column_keys,
                   tuple(" / ".join(c) for c in pivot.column_labels))
    time_on_columns = "pe" in pivot.column_dimensions and "pe" not in pivot.row_dimensions
    time_on_rows = "pe" in pivot.row_dimensions and "pe" not in pivot.column_dimensions
    transpose = time_on_rows if kind == "pie" else time_on_columns
    return (columns, rows, True) if transpose else (rows, columns, False)


def _value(pivot: Pivot, category: int, series: int, transposed: bool) -> float | None:
    row, column = (series, category) if transposed else (category, series)
    return pivot.rows[row].cells[column].value


def _items(pivot: Pivot, category: Axis, series: Axis, c: int, s: int) -> Items:
    return {**dict(zip(category.dimensions, category.keys[c], strict=True)),
            **dict(zip(series.dimensions, series.keys[s], strict=True))}


def chart_spec(
    pivot: Pivot,
    kind: str,
    *,
    label: str,
    earlier: Callable[[Items], float | None] | None = None,
    earlier_name: Callable[[str], str] = lambda name: name,
) -> dict[str, Any] | None:
    """The chart of ``kind`` (one of :data:`CHARTS`) for charts.js; None when there is nothing to draw.

    ``earlier`` gives, for a cell's items, the value a year earlier (year on year only);
    ``earlier_name`` names that series from the current one's name.
    """
    if pivot.empty or kind not in CHARTS:
        return None
    category, series, transposed = _axes(pivot, kind)
    count = 1 if kind == "pie" else min(len(series.keys), MAX_SERIES)
    out: list[dict[str, Any]] = []
    plain = "line" if kind in ("line", "yoy") else "bar"
    for s in range(count):
        data = [_value(pivot, c, s, transposed) for c in range(len(category.keys))]
        name = series.labels[s] or label
        entry = {"name": name, "kind": plain, "data": data, "labels": [format_number(v) or "–" for v in data]}
        if kind == "stacked":
            entry["stack"] = "total"
        out.append(entry)
        if kind == "yoy" and earlier is not None:
            before = [earlier(_items(pivot, category, series, c, s)) for c in range(len(category.keys))]
            out.append({"name": earlier_name(name), "kind": "earlier", "data": before,
                        "labels": [format_number(v) or "–" for v in before]})
    return {"kind": kind, "palette": True, "label": label, "categories": list(category.labels), "series": out}


def shifted(period: str) -> str:
    """The period of the same type a year before ``period`` (2020Q3 → 2019Q3, 2020SY → 2019SY)."""
    p = pe.parse(period)
    try:
        day = p.start.replace(year=p.start.year - 1)
    except ValueError:  # 29 February
        day = p.start.replace(year=p.start.year - 1, day=28)
    return pe.containing(p.type, day).id


def earlier_lookup(
    facts: Mapping[tuple[tuple[str, str], ...], float], back: Mapping[str, str]
) -> Callable[[Items], float | None]:
    """A cell's value a year earlier, from the earlier run's facts keyed by their sorted items;
    ``back`` maps each period shown to the period a year before it."""

    def find(items: Items) -> float | None:
        moved = {**items, "pe": back.get(items["pe"], items["pe"])} if "pe" in items else dict(items)
        return facts.get(tuple(sorted(moved.items())))

    return find
