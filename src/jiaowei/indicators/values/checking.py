"""The first half of a data value import: resolve what the rows name and check every row.

An import resolves each distinct identifier once (elements, option combos, periods, units as
they stood in the period, the principal's capture scope, approvals and lock exceptions) into a
:class:`Context`, then :func:`check_rows` turns each row into a key and a normalised value, or
into the conflict that stops it. Nothing here writes data values; ``writing`` does.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, NamedTuple

from sqlalchemy import Connection, cast, insert, null, select, union_all

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import scope_paths
from jiaowei.db.engine import inserted_id, is_read_only
from jiaowei.db.kept import kept_rows
from jiaowei.db.memo import per_transaction
from jiaowei.errors import M_
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, Element
from jiaowei.indicators.model import (
    DEFAULT,
    EXPECTED,
    ImportConflict,
    ImportStrategy,
    ValueRow,
    ValueType,
    normalise_value,
)
from jiaowei.indicators.values.formats.common import gc_paused
from jiaowei.registry import queries as registry
from jiaowei.registry.model import Segment, UnitHistory, UnitVersion, path_ids
from jiaowei.text import text_problem

Key = tuple[int, int, int, int, int]  # period, unit, element, coc, aoc
Progress = Callable[[int], None]
CHUNK = 500


def today() -> dt.date:
    return clock.today()


# ---------------------------------------------------------------- resolving what rows name


@dataclass
class Context:
    """Everything an import resolves once per distinct identifier, shared by every row."""

    conn: Connection
    principal: Principal
    catalog: Catalog
    check_expiry: bool
    periods: dict[str, pe.Period | None] = field(default_factory=dict)
    period_ids: dict[str, int] = field(default_factory=dict)
    unit_ids: dict[str, int] = field(default_factory=dict)
    unknown_units: set[str] = field(default_factory=set)
    timelines: dict[int, Timeline] = field(default_factory=dict)
    scope: dict[dt.date, list[str]] = field(default_factory=dict)
    approved: set[tuple[int, int, int]] = field(default_factory=set)
    exceptions: dict[tuple[int, int, int], dt.date] = field(default_factory=dict)
    verdicts: dict[tuple[str, int], tuple[str | None, dict[int, str | None]]] = field(default_factory=dict)
    _element_sets: dict[int, frozenset[int]] = field(default_factory=dict)
    cells: dict[tuple[str, str | None], Cell | Refusal] = field(default_factory=dict)
    places: dict[tuple[str, str], Place | Refusal] = field(default_factory=dict)
    allowed: dict[tuple[Any, ...], Verdict | None] = field(default_factory=dict)
    day: dt.date = field(default_factory=lambda: today())
    _reporting: dict[str, list[DataSet]] = field(default_factory=dict)
    _canonical: dict[str, str] = field(default_factory=dict)
    _quiet: dict[str, bool] = field(default_factory=dict)
    _approved_periods: set[int] | None = None
    plain: dict[tuple[Any, ...], Verdict | None] = field(default_factory=dict)

    def forget_units(self) -> None:
        """Drop what was resolved per unit (read again when a row names it): an import in batches
        calls this between batches once many units were read, so memory stays flat. Periods stay."""
        for cache in (self.unit_ids, self.timelines, self.verdicts, self.places, self.allowed, self.plain):
            cache.clear()
        self.unknown_units.clear()

    def element_sets(self, element_id: int) -> frozenset[int]:
        if element_id not in self._element_sets:
            self._element_sets[element_id] = frozenset(
                ds.id for ds in self.catalog.data_sets_with(element_id)
            )
        return self._element_sets[element_id]

    def reporting(self, period_type: str) -> list[DataSet]:
        """The data sets of a period type (cached per type)."""
        if period_type not in self._reporting:
            self._reporting[period_type] = [
                ds for ds in self.catalog.data_sets.values() if ds.period_type == period_type
            ]
        return self._reporting[period_type]

    def canonical(self, code: str, period: pe.Period) -> str:
        """The canonical identifier of ``period``, which ``code`` names (cached per code)."""
        if code not in self._canonical:
            self._canonical[code] = period.id
        return self._canonical[code]

    def quiet(self, code: str, period: pe.Period) -> bool:
        """Whether nothing in the period ``code`` names can be refused for scope or a lock (cached per code).

        True when the principal captures everywhere, nothing is approved in the period and no data
        set of its type has closed it: then a unit's verdict depends on its type and id, not the period.
        """
        if code not in self._quiet:
            period_id = self.period_ids.get(self.canonical(code, period))
            if self._approved_periods is None:
                self._approved_periods = {p for _, p, _ in self.approved}
            approved = period_id in self._approved_periods
            closed = self.check_expiry and any(
                ds.expiry_days > 0 and self.day > pe.days_after_end(period, ds.expiry_days)
                for ds in self.reporting(period.type.value)
            )
            self._quiet[code] = self.principal.unlimited and not approved and not closed
        return self._quiet[code]

    def period(self, code: str) -> pe.Period | None:
        if code not in self.periods:
            self.periods[code] = pe.parse(code) if pe.is_valid(code) else None
        return self.periods[code]


class Timeline:
    """A unit's versions and path segments, read once, to find the unit as it stood in any period.

    With versions and segments in date order (as the registry keeps them), the last one overlapping
    a period is found by bisection, and the unit built for each (version, segment) pair is shared by
    every period that falls in it. Out of order, each period asks the history itself (same answer).
    """

    def __init__(self, history: UnitHistory) -> None:
        self.history = history
        self.ordered = _in_order(history.versions) and _in_order(history.segments)
        self.version_starts = [v.valid_from for v in history.versions]
        self.segment_starts = [g.valid_from for g in history.segments]
        self.units: dict[tuple[int, int], registry.Unit | None] = {}
        # One version and one path segment (most units): open over [opened, closes), one unit.
        self.opened, self.closes = dt.date.max, dt.date.min
        if len(history.versions) == 1 and len(history.segments) == 1:
            version, segment = history.versions[0], history.segments[0]
            self.opened = max(version.valid_from, segment.valid_from)
            self.closes = min(version.valid_to, segment.valid_to)
        self.single: registry.Unit | None = None

    def in_period(self, first: dt.date, last: dt.date) -> registry.Unit | None:
        """The unit as it stood last within ``first`` to ``last`` (both included); None if not open then."""
        if self.opened <= first and last < self.closes:  # within the one version and segment
            if self.single is None:
                self.single = self.history.in_period(first, last)
            return self.single
        if not self.ordered:
            return self.history.in_period(first, last)
        end = last + _DAY
        version = _last_overlapping(self.history.versions, self.version_starts, first, end)
        segment = _last_overlapping(self.history.segments, self.segment_starts, first, end)
        if version < 0 or segment < 0:
            return None
        if (version, segment) not in self.units:
            self.units[(version, segment)] = self.history.in_period(first, last)
        return self.units[(version, segment)]


_DAY = dt.timedelta(days=1)


def _in_order(spans: Sequence[UnitVersion | Segment]) -> bool:
    """Whether both the starts and the ends of ``spans`` never go back."""
    return all(a.valid_from <= b.valid_from and a.valid_to <= b.valid_to for a, b in pairwise(spans))


def _last_overlapping(
    spans: Sequence[UnitVersion | Segment], starts: list[dt.date], first: dt.date, end: dt.date
) -> int:
    """The index of the last span overlapping ``[first, end)``, or -1 (spans in order)."""
    i = bisect_left(starts, end) - 1
    return i if i >= 0 and spans[i].valid_to > first else -1


def load_units(ctx: Context, rows: Iterable[ValueRow]) -> None:
    """Each unit's id and its validity, read once; :func:`_place` tests each period against it.
    Called again for a later batch of the same import, it reads only the units not read yet."""
    codes = {r.org_unit for r in rows} - ctx.unit_ids.keys() - ctx.unknown_units
    found = registry.ids_of(ctx.conn, sorted(codes))
    ctx.unknown_units |= codes - found.keys()
    ctx.unit_ids.update(found)
    ctx.timelines.update(
        {i: Timeline(h) for i, h in registry.histories(ctx.conn, found.values()).items()}
    )


def load_periods(ctx: Context, codes: Iterable[str]) -> None:
    known = [c for c in codes if ctx.period(c) is not None]
    for start in range(0, len(known), CHUNK):
        chunk = known[start : start + CHUNK]
        ctx.period_ids.update((code, period_id) for period_id, code, _end in stored_periods(ctx.conn, chunk))


def stored_periods(conn: Connection, codes: Sequence[str]) -> list[tuple[int, str, dt.date]]:
    """``(id, code, end date)`` of the stored periods among ``codes``, by start date and code.

    Read once per transaction until it writes: a form's page asks for its period twice, for the
    form's values and for the approvals and locks that decide whether it may be entered. A read-only
    request finds them among every stored period, which the process keeps under the ``periods`` stamp
    (migration 0021, decision 0023): a district's work list asks for a period per data set.
    """
    wanted = tuple(sorted(set(codes)))
    table = store.periods
    if is_read_only(conn):
        ordered = select(table.c.id, table.c.code, table.c.end_date).order_by(table.c.start_date,
                                                                              table.c.code)
        every = kept_rows(conn, "periods", "indicators.periods", ordered)
        asked = set(wanted)
        return [(r.id, r.code, r.end_date) for r in every if r.code in asked]

    def read() -> list[tuple[int, str, dt.date]]:
        query = (select(table.c.id, table.c.code, table.c.end_date).where(table.c.code.in_(wanted))
                 .order_by(table.c.start_date, table.c.code))
        return [(r.id, r.code, r.end_date) for r in conn.execute(query)]

    return per_transaction(conn, "indicators.periods:" + ",".join(wanted), read)


def ensure_periods(conn: Connection, codes: Iterable[str]) -> dict[str, int]:
    """Ids of the periods ``codes`` (valid identifiers), inserting the ones not yet stored."""
    wanted = sorted(set(codes))
    table = store.periods
    found = (
        dict(conn.execute(select(table.c.code, table.c.id).where(table.c.code.in_(wanted))).all())
        if wanted
        else {}
    )
    for code in wanted:
        if code not in found:
            p = pe.parse(code)
            result = conn.execute(
                insert(table).values(code=p.id, type=p.type.value, start_date=p.start, end_date=p.end)
            )
            found[code] = inserted_id(result)
    return found


def load_locks(ctx: Context, ids: Iterable[int] | None = None) -> None:
    """The approvals and lock exceptions in the periods ``ids`` (default: every period read); in a
    read-only request (the data entry form), kept per process under the ``approvals`` stamp (decision
    0023)."""
    wanted = [i for i in (ctx.period_ids.values() if ids is None else ids) if i > 0]
    ctx._approved_periods = None  # Context.quiet recomputes it with these
    exceptions, approvals = store.lock_exceptions, store.approvals
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        both = union_all(  # one statement, not two (a round trip each on PostgreSQL; issue 17)
            select(exceptions.c.data_set_id, exceptions.c.period_id, exceptions.c.unit_id, exceptions.c.until)
            .where(exceptions.c.period_id.in_(chunk)),
            select(approvals.c.data_set_id, approvals.c.period_id, approvals.c.unit_id,
                   cast(null(), exceptions.c.until.type)).where(approvals.c.period_id.in_(chunk)),
        )
        for r in kept_rows(ctx.conn, "approvals", "values.locks:" + ",".join(map(str, chunk)), both):
            if r.until is None:  # an approval
                ctx.approved.add((r.data_set_id, r.period_id, r.unit_id))
            else:
                ctx.exceptions[(r.data_set_id, r.period_id, r.unit_id)] = r.until


def in_scope(ctx: Context, path: str, day: dt.date) -> bool:
    if ctx.principal.unlimited:
        return True
    if day not in ctx.scope:
        ctx.scope[day] = scope_paths(ctx.conn, ctx.principal, Action.DATA_CAPTURE, day)
    return any(path.startswith(p) for p in ctx.scope[day])


def lock_reason(
    ctx: Context, ds: DataSet, period: pe.Period, where: registry.Unit, *, canonical: str | None = None
) -> str | None:
    """Why values of ``ds`` at the unit in ``period`` (whose ``canonical`` id, if known) cannot change now."""
    period_id = ctx.period_ids.get(canonical if canonical is not None else period.id)
    if period_id is not None and ctx.approved:
        for ancestor in path_ids(where.path):
            if (ds.id, period_id, ancestor) in ctx.approved:
                return M_("data set {data_set} for {period} is approved and locked; unapprove it first",
                          data_set=ds.code, period=period.id)
    if ctx.check_expiry and ds.expiry_days > 0:
        closes = pe.days_after_end(period, ds.expiry_days)
        if ctx.day > closes:
            granted = ctx.exceptions.get((ds.id, period_id or 0, where.id))
            if granted is None or granted < ctx.day:
                return M_(
                    "period {period} of data set {data_set} closed on {closed} ({days} expiry days); "
                    "an administrator can grant an exception",
                    period=period.id, data_set=ds.code, closed=closes.isoformat(), days=ds.expiry_days,
                )
    return None


def _verdict(
    ctx: Context, element: Element, code: str, period: pe.Period, where: registry.Unit
) -> Verdict | None:
    """Why this element may not be written at the unit in the period ``code`` names, or None if it may.

    Cached per period, unit and element; in a quiet period (see :meth:`Context.quiet`), per period
    type, unit and element, so a file over many periods judges each unit once per period type.
    """
    key: tuple[Any, ...] = (period.type, where.type, where.id, element.id)
    cache = ctx.plain
    if not ctx.quiet(code, period):
        key, cache = (code, where.id, element.id), ctx.allowed
    if key in cache:
        return cache[key]
    unit_key = (code, where.id)
    if unit_key not in ctx.verdicts:
        ctx.verdicts[unit_key] = _unit_verdict(ctx, ctx.canonical(code, period), period, where)
    verdict = cache[key] = _judge(ctx, element, period, where, ctx.verdicts[unit_key])
    return verdict


def _judge(
    ctx: Context,
    element: Element,
    period: pe.Period,
    where: registry.Unit,
    unit_verdict: tuple[str | None, dict[int, str | None]],
) -> Verdict | None:
    """The element's verdict from the unit's: its scope problem, or the locks of its data sets."""
    scope_problem, locks = unit_verdict
    if scope_problem:
        return Verdict("orgUnit", scope_problem)
    mine = [reason for ds_id, reason in locks.items() if ds_id in ctx.element_sets(element.id)]
    if not mine:
        field = "period" if ctx.catalog.data_sets_with(element.id) else "dataElement"
        return Verdict(
            field,
            M_("no data set with period type {period_type} collects {element} from this unit (type {type})",
               period_type=period.type.value, element=element.code, type=where.type),
        )
    if all(mine):
        return Verdict("period", mine[0] or "")
    return None


def _unit_verdict(
    ctx: Context, canonical: str, period: pe.Period, where: registry.Unit
) -> tuple[str | None, dict[int, str | None]]:
    """The unit's scope problem, and for each data set it reports in this period type, its lock."""
    if not ctx.principal.unlimited:
        day = min(period.end, max(ctx.day, period.start))
        if not in_scope(ctx, where.path, day):
            return M_("the unit is outside your capture scope"), {}
    sets = [
        ds
        for ds in ctx.reporting(period.type.value)
        if where.type in ds.unit_types or where.id in ds.unit_ids
    ]
    return None, {ds.id: lock_reason(ctx, ds, period, where, canonical=canonical) for ds in sets}


# ---------------------------------------------------------------- checking rows


@dataclass
class Checked:
    """The rows that passed, keyed, and what to write."""

    writes: dict[Key, tuple[str, str | None, bool | None, str | None]] = field(default_factory=dict)
    deletes: dict[Key, int] = field(default_factory=dict)
    conflicts: list[ImportConflict] = field(default_factory=list)
    rows: dict[Key, int] = field(default_factory=dict)  # the row of each key that passed


class Refusal(NamedTuple):
    """Why a row cannot be written: a conflict without its row number."""

    field: str
    value: Any
    reason: str
    expected: str | None


class Cell(NamedTuple):
    """The element and option combo a row names."""

    element: Element
    coc_id: int


class Place(NamedTuple):
    """The period a row names, the unit as it stood then and the period's slot (id or placeholder)."""

    period: pe.Period
    where: registry.Unit
    slot: int


class Verdict(NamedTuple):
    """Why an element may not be written at a unit in a period: the field to blame and the reason."""

    field: str
    reason: str


AOC_DEFAULTS = frozenset({None, "", DEFAULT, "HllvX50cXC0"})


def _cell(ctx: Context, element_key: str, coc_key: str | None) -> Cell | Refusal:
    """The element and option combo id a row names, or why not (cached per pair)."""
    element = ctx.catalog.element(element_key)
    if element is None:
        return Refusal("dataElement", element_key, M_("unknown data element"),
                       M_("the code of a data element"))
    coc = ctx.catalog.option_combo(element, coc_key)
    if coc is None:
        known = ", ".join(c.code for c in ctx.catalog.cocs_of(element.combo_id))
        reason = M_("data element {element} has no such category option combo", element=element.code)
        return Refusal("categoryOptionCombo", coc_key, reason, known)
    return Cell(element, coc.id)


def _place(ctx: Context, unit_code: str, period_code: str) -> Place | Refusal:
    """The period, the unit as it stood then and the period's slot, or why not (cached per pair)."""
    period = ctx.period(period_code)
    if period is None:
        return Refusal("period", period_code, M_("not a period identifier"), PERIOD_EXAMPLES)
    unit_id = ctx.unit_ids.get(unit_code)
    timeline = ctx.timelines.get(unit_id) if unit_id is not None else None
    where = timeline.in_period(period.start, period.end) if timeline is not None else None
    if where is None:
        reason = M_("unknown unit") if unit_id is None else M_("the unit was not open during {period}",
                                                               period=period.id)
        return Refusal("orgUnit", unit_code, reason, M_("the code of a unit open in the period"))
    return Place(period, where, _period_slot(ctx, period_code))


PERIOD_EXAMPLES = M_("e.g. 2020, 2020SY, 2020S1, 2020Q3, 202011, 2020W5, 20200315")


def _check_row(ctx: Context, row: ValueRow, delete_all: bool) -> tuple[Key, str | None] | ImportConflict:
    """The row's key and normalised value (None: delete), or the conflict that stops it."""
    cell = ctx.cells.get((row.data_element, row.category_option_combo))
    if cell is None:
        cell = ctx.cells[(row.data_element, row.category_option_combo)] = _cell(
            ctx, row.data_element, row.category_option_combo
        )
    if isinstance(cell, Refusal):
        return ImportConflict(row.row, *cell)
    element, coc_id = cell
    if row.attribute_option_combo not in AOC_DEFAULTS:
        return ImportConflict(
            row.row,
            "attributeOptionCombo",
            row.attribute_option_combo,
            M_("unknown attribute option combo"),
            DEFAULT,
        )
    place = ctx.places.get((row.org_unit, row.period))
    if place is None:
        place = ctx.places[(row.org_unit, row.period)] = _place(ctx, row.org_unit, row.period)
    if isinstance(place, Refusal):
        return ImportConflict(row.row, *place)
    period, where, slot = place
    problem = _verdict(ctx, element, row.period, period, where)
    if problem:
        field, reason = problem
        shown = {"orgUnit": row.org_unit, "period": row.period, "dataElement": row.data_element}[field]
        return ImportConflict(row.row, field, shown, reason)
    key: Key = (slot, where.id, element.id, coc_id, ctx.catalog.default_coc)
    value = row.value
    if delete_all or row.deleted or value is None or value.strip() == "":
        return key, None
    refused = _text_refusal(row, element.value_type in (ValueType.TEXT, ValueType.LONG_TEXT))
    if refused is not None:
        return refused
    if (element.value_type is ValueType.INTEGER and value.isdigit() and value.isascii() and value[0] != "0"
            and len(value) <= _MAX_DIGITS):
        return key, value  # the common case, already in normal form
    try:
        return key, normalise_value(element.value_type, value)
    except ValueError as error:
        reason = M_("{problem} for data element {element}", problem=error.args[0], element=element.code)
        return ImportConflict(row.row, "value", value, reason, EXPECTED[element.value_type])


_MAX_DIGITS = 15
"""Whole numbers of up to 15 digits lie below the 10^15 limit that normalise_value checks."""


def _text_refusal(row: ValueRow, text_value: bool) -> ImportConflict | None:
    """The conflict of a row whose comment, text value or author holds a control character."""
    fields = [("comment", row.comment, True), ("storedBy", row.stored_by, False)]
    if text_value:
        fields.insert(0, ("value", row.value, True))
    for name, text, multiline in fields:
        problem = text_problem(text, field=name, multiline=multiline, row=row.row) if text else None
        if problem is not None:
            return ImportConflict(row.row, name, problem.value, problem.message, problem.expected)
    return None


def check_rows(
    ctx: Context, rows: Sequence[ValueRow], strategy: ImportStrategy, progress: Progress | None = None,
    done: int = 0,
) -> Checked:
    """Check ``rows`` (``done``: how many rows of the import came before them, for ``progress``)."""
    with gc_paused():
        return _check_all(ctx, rows, strategy, progress, done)


def _check_all(
    ctx: Context, rows: Sequence[ValueRow], strategy: ImportStrategy, progress: Progress | None, done: int
) -> Checked:
    out = Checked()
    seen = out.rows
    delete_all = strategy is ImportStrategy.DELETE
    for i, row in enumerate(rows):
        if progress and i % 1_000 == 0:  # often enough for the job page's progress bar
            progress(done + i)
        result = _check_row(ctx, row, delete_all)
        if isinstance(result, ImportConflict):
            out.conflicts.append(result)
            continue
        key, value = result
        if key in seen:
            out.conflicts.append(
                ImportConflict(
                    row.row,
                    "dataValue",
                    row.data_element,
                    M_("the same value appears again (first in row {first})", first=seen[key]),
                )
            )
            continue
        seen[key] = row.row
        if value is None:
            out.deletes[key] = row.row
        else:
            out.writes[key] = (value, row.comment, row.followup, row.stored_by)
    if progress:
        progress(done + len(rows))
    return out


def _period_slot(ctx: Context, code: str) -> int:
    """The period's id, or a negative placeholder for a period not stored yet."""
    if code not in ctx.period_ids:
        ctx.period_ids[code] = -1 - len([v for v in ctx.period_ids.values() if v < 0])
    return ctx.period_ids[code]


