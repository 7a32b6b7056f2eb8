"""A pivot table from the rows of an analytics grid: the dimensions on rows, those on columns, a cell
for each combination that has a value, totals where adding up is meaningful, rows sorted by any
column. Plain values in, plain values out: the page, the CSV and XLSX exports and the chart all read
the same :class:`Pivot`, so what is exported is what is shown.

Totals add up the cells shown, and only where every cell added is a sum (elements and operands
aggregated by ``SUM`` or ``COUNT``); any other cell (an indicator, an average, a latest value, a
reporting rate) makes its totals "—", since adding ratios or averages gives a number that means
nothing. A missing cell adds nothing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

NO_TOTAL = "—"
"""What a total shows where its cells may not be added up."""

Items = Mapping[str, str]  # dimension id ("dx", "pe", "ou", a category's uid …) -> item id


@dataclass(frozen=True)
class Fact:
    """One row of the grid: an item of each dimension on rows and columns, and the value."""

    items: Items
    value: float


@dataclass(frozen=True)
class Layout:
    """Which dimensions go on rows, on columns and into the filter, in order."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    filters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sort:
    """Rows ordered by a column: ``label`` (the row headers), ``total``, or a data column (0-based)."""

    column: int | str
    descending: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Sort | None:
        """``sort=2`` (the third data column, ascending), ``-2`` (descending), ``label``, ``-total``."""
        raw = (text or "").strip()
        descending = raw.startswith("-")
        name = raw.lstrip("-")
        if name in ("label", "total"):
            return cls(name, descending)
        if name.isdigit():
            return cls(int(name), descending)
        return None

    @property
    def param(self) -> str:
        return ("-" if self.descending else "") + str(self.column)


@dataclass(frozen=True)
class PivotCell:
    value: float | None
    text: str
    href: str | None = None


@dataclass(frozen=True)
class PivotRow:
    keys: tuple[str, ...]  # the item of each row dimension
    labels: tuple[str, ...]
    cells: tuple[PivotCell, ...]
    total: PivotCell | None = None


@dataclass(frozen=True)
class Pivot:
    row_dimensions: tuple[str, ...]
    column_dimensions: tuple[str, ...]
    column_keys: tuple[tuple[str, ...], ...]
    column_labels: tuple[tuple[str, ...], ...]
    rows: tuple[PivotRow, ...]
    column_totals: tuple[PivotCell, ...] | None = None
    grand_total: PivotCell | None = None
    sort: Sort | None = None
    header_rows: tuple[tuple[tuple[str, int], ...], ...] = field(default=())

    @property
    def row_totals(self) -> bool:
        return any(r.total is not None for r in self.rows)

    @property
    def empty(self) -> bool:
        return not self.rows

    def column_title(self, index: int) -> str:
        return " / ".join(self.column_labels[index])


def format_number(value: float | None) -> str:
    """A number as the table shows it: grouped thousands, no trailing zeros, at most 4 decimals."""
    if value is None or not math.isfinite(value):
        return ""
    if float(value).is_integer():
        return f"{int(value):,}"
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return text


def build(
    facts: Sequence[Fact],
    *,
    layout: Layout,
    order: Mapping[str, Sequence[str]],
    names: Mapping[str, str],
    summable: Callable[[Items], bool] = lambda items: False,
    link: Callable[[Items], str | None] = lambda items: None,
    shown: Callable[[Items, float], str] = lambda items, value: format_number(value),
    sort: Sort | None = None,
    row_keys: Sequence[tuple[str, ...]] | None = None,
    column_keys: Sequence[tuple[str, ...]] | None = None,
) -> Pivot:
    """The pivot of ``facts``: rows and columns in the order of ``order`` (each dimension's items),
    only the combinations that have a value unless ``row_keys`` or ``column_keys`` say which; labels
    from ``names`` (item id -> name)."""
    cells = {_key(f.items, layout.rows) + _key(f.items, layout.columns): f for f in facts}
    row_keys = list(row_keys) if row_keys is not None else _present(facts, layout.rows, order)
    column_keys = list(column_keys) if column_keys is not None else _present(facts, layout.columns, order)
    grid = [[cells.get(r + c) for c in column_keys] for r in row_keys]
    adds = [[f is None or summable(f.items) for f in line] for line in grid]
    rows = [
        PivotRow(
            keys=r,
            labels=tuple(names.get(i, i) for i in r),
            cells=tuple(_cell(f, link, shown) for f in line),
            total=_total(line, adds[n]) if len(column_keys) > 1 else None,
        )
        for n, (r, line) in enumerate(zip(row_keys, grid, strict=True))
    ]
    column_totals = None
    if len(row_keys) > 1:
        column_totals = tuple(
            _total([line[c] for line in grid], [a[c] for a in adds]) for c in range(len(column_keys))
        )
    grand = None
    if len(row_keys) > 1 and len(column_keys) > 1:
        grand = _total([f for line in grid for f in line], [a for line in adds for a in line])
    labels = tuple(tuple(names.get(i, i) for i in c) for c in column_keys)
    rows = _sorted(rows, sort)
    return Pivot(
        row_dimensions=layout.rows,
        column_dimensions=layout.columns,
        column_keys=tuple(column_keys),
        column_labels=labels,
        rows=tuple(rows),
        column_totals=column_totals,
        grand_total=grand,
        sort=sort,
        header_rows=_header_rows(column_keys, labels, len(layout.columns)),
    )


def _key(items: Items, dimensions: Sequence[str]) -> tuple[str, ...]:
    return tuple(items.get(d, "") for d in dimensions)


def _present(
    facts: Sequence[Fact], dimensions: Sequence[str], order: Mapping[str, Sequence[str]]
) -> list[tuple[str, ...]]:
    """The combinations of ``dimensions`` that occur in ``facts``, in the dimensions' own order."""
    found = {_key(f.items, dimensions) for f in facts}
    ranked: list[dict[str, int]] = []
    for d in dimensions:
        known = list(order.get(d, ()))
        known += sorted({k[len(ranked)] for k in found} - set(known))
        ranked.append({item: n for n, item in enumerate(known)})
    return sorted(found, key=lambda k: tuple(ranked[n][item] for n, item in enumerate(k)))


def _cell(
    fact: Fact | None, link: Callable[[Items], str | None], shown: Callable[[Items, float], str]
) -> PivotCell:
    if fact is None:
        return PivotCell(None, "")
    return PivotCell(fact.value, shown(fact.items, fact.value), link(fact.items))


def _total(facts: Sequence[Fact | None], adds: Sequence[bool]) -> PivotCell:
    if not all(adds):
        return PivotCell(None, NO_TOTAL)
    present = [f.value for f in facts if f is not None]
    if not present:
        return PivotCell(None, "")
    total = math.fsum(present)
    return PivotCell(total, format_number(total))


def _sorted(rows: list[PivotRow], sort: Sort | None) -> list[PivotRow]:
    if sort is None:
        return rows
    if sort.column == "label":
        return sorted(rows, key=lambda r: r.labels, reverse=sort.descending)

    def value(row: PivotRow) -> float | None:
        if sort.column == "total":
            return row.total.value if row.total else None
        index = int(sort.column)
        return row.cells[index].value if 0 <= index < len(row.cells) else None

    with_value = [r for r in rows if value(r) is not None]
    without = [r for r in rows if value(r) is None]  # missing values last, whichever the direction
    return sorted(with_value, key=lambda r: value(r) or 0.0, reverse=sort.descending) + without


def _header_rows(
    keys: Sequence[tuple[str, ...]], labels: Sequence[tuple[str, ...]], depth: int
) -> tuple[tuple[tuple[str, int], ...], ...]:
    """For each column dimension, its labels with how many columns each spans (nested headers)."""
    out = []
    pairs = list(zip(keys, labels, strict=True))
    for level in range(depth):
        spans: list[tuple[str, int]] = []
        for _, group in itertools.groupby(pairs, key=lambda pair: pair[0][: level + 1]):
            members = list(group)
            spans.append((members[0][1][level], len(members)))
        out.append(tuple(spans))
    return tuple(out)
