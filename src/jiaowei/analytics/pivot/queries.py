"""Reads for the pivot page: what its pickers offer (data, periods, units and levels, named in the
reader's language), and the stored values behind one cell with each value's history.

The values behind a cell are those the analytics engine counts there: the stored periods inside the
cell's period, at the cell's unit or any unit that stood under it on the stored period's last day,
of the elements (or option combos) the cell's data item reads. The unit must be in the principal's
view scope; each value's history is read through :func:`jiaowei.indicators.values.queries.history`,
which checks it again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit, scope_paths
from jiaowei.db.kept import kept_rows
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators import expressions, store
from jiaowei.indicators import periods as pe
from jiaowei.indicators.metadata.catalog import Catalog, load_catalog
from jiaowei.indicators.model import DEFAULT
from jiaowei.indicators.targets.compute import IndicatorDef, all_indicators
from jiaowei.indicators.values import queries as values
from jiaowei.registry import queries as registry
from jiaowei.registry.model import path_ids

MAX_VALUES = 200
"""The most stored values the values page lists (with their histories)."""
REPORTING_RATE = "REPORTING_RATE"


# ---------------------------------------------------------------- the pickers


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class ChoiceGroup:
    label: str  # translated by the caller (English source strings) or a name from the data
    choices: tuple[Choice, ...]
    translate: bool = False  # whether ``label`` is a message to translate


def _name(zh: str, en: str, language: str) -> str:
    return en if language == "en" and en else zh


def data_choices(conn: Connection, *, principal: Principal, language: str) -> list[ChoiceGroup]:
    """Data elements by data set, option combos (operands) by element, indicators, reporting rates."""
    require_action(principal, Action.VIEW)
    catalog = load_catalog(conn)
    groups: list[ChoiceGroup] = []
    placed: set[int] = set()
    for ds in sorted(catalog.data_sets.values(), key=lambda d: d.code):
        members = [catalog.elements[i] for i in ds.element_ids if i in catalog.elements]
        if members:
            placed |= {e.id for e in members}
            groups.append(ChoiceGroup(_name(ds.name_zh, ds.name_en, language), tuple(
                Choice(e.code, _name(e.name_zh, e.name_en, language)) for e in members)))
    rest = sorted((e for e in catalog.elements.values() if e.id not in placed), key=lambda e: e.code)
    if rest:
        groups.append(ChoiceGroup("Other data elements", tuple(
            Choice(e.code, _name(e.name_zh, e.name_en, language)) for e in rest), translate=True))
    operands = _operand_choices(catalog, language)
    if operands:
        groups.append(ChoiceGroup("Data elements by option", tuple(operands), translate=True))
    indicators = [Choice(d.code, _name(d.name_zh, d.name_en, language)) for d in all_indicators(conn)]
    if indicators:
        groups.append(ChoiceGroup("Indicators", tuple(indicators), translate=True))
    rates = [Choice(f"{ds.code}.{REPORTING_RATE}", _name(ds.name_zh, ds.name_en, language))
             for ds in sorted(catalog.data_sets.values(), key=lambda d: d.code)]
    if rates:
        groups.append(ChoiceGroup("Reporting rates", tuple(rates), translate=True))
    return groups


def _operand_choices(catalog: Catalog, language: str) -> list[Choice]:
    out: list[Choice] = []
    for e in sorted(catalog.elements.values(), key=lambda e: e.code):
        if catalog.combos.get(e.combo_id) == DEFAULT:
            continue
        for coc in catalog.cocs_of(e.combo_id):
            out.append(Choice(f"{e.code}.{coc.code}", f"{_name(e.name_zh, e.name_en, language)} · "
                                                     f"{_name(coc.name_zh, coc.name_en, language)}"))
    return out


def period_years(conn: Connection) -> list[int]:
    """The years from the first in which a stored value's period begins (at least five before the
    last) to the last, newest first. A GET takes them from what the process keeps under the ``imports``
    stamp (values change only with an import; decision 0023)."""
    used = select(store.data_values.c.period_id).distinct().subquery()
    found = kept_rows(conn, "imports", "pivot.period_range", (
        select(func.min(store.periods.c.start_date), func.max(store.periods.c.start_date))
        .where(store.periods.c.id.in_(select(used.c.period_id)))))
    rows = found[0] if found else None
    if rows is None or rows[0] is None:
        return []
    latest = min(rows[1].year, pe.LAST_YEAR)
    return list(range(latest, min(rows[0].year, latest - 5) - 1, -1))


@dataclass(frozen=True)
class UnitChoices:
    """The units the picker offers (the principal's top units and those below them) and the levels."""

    units: list[registry.Unit]
    levels: list[tuple[int, list[str], int]]  # level, its most common unit types, how many units
    home: list[str] = field(default_factory=list)  # the principal's own top units (the default)


def unit_choices(
    conn: Connection, *, principal: Principal, day: dt.date, also: Sequence[str] = (),
    base: UnitChoices | None = None,
) -> UnitChoices:
    """The principal's top units on ``day``, the units one level below them, and the units ``also``
    names (those chosen already) that the principal may see; the levels of the tree. ``base``: what
    this gave for the same principal and day without ``also``, whose reads are then not made again
    (the pivot page asks for both)."""
    require_action(principal, Action.VIEW)
    if base is None:
        top = _top_units(conn, principal, day)
        shown = {u.id: u for u in top}
        for unit in top:
            shown.update({u.id: u for u in registry.units_on(conn, day, parent_id=unit.id)})
        levels = _levels(conn, day)
        home = [u.code for u in top]
    else:
        shown, levels, home = {u.id: u for u in base.units}, base.levels, base.home
    for code in also:
        unit_id = registry.id_of(conn, code)
        if unit_id is None or unit_id in shown:
            continue
        try:
            require_unit(conn, principal, Action.VIEW, unit_id, day, code)
        except (NotFound, ValidationError):
            continue
        found = registry.unit_on(conn, unit_id, day) or registry.last_known(conn, [unit_id]).get(unit_id)
        if found:
            shown[unit_id] = found
    ordered = _tree_order(list(shown.values()))
    return UnitChoices(ordered, levels, home)


def _tree_order(units: list[registry.Unit]) -> list[registry.Unit]:
    """Each unit followed by the units below it, siblings by type then code."""
    by_id = {u.id: u for u in units}

    def key(u: registry.Unit) -> tuple[tuple[str, str], ...]:
        chain = [by_id[i] for i in path_ids(u.path) if i in by_id]
        return tuple((c.type != "district_bureau" and c.type or "", c.code) for c in chain)

    return sorted(units, key=key)


def _top_units(conn: Connection, principal: Principal, day: dt.date) -> list[registry.Unit]:
    if principal.unlimited:
        return registry.units_on(conn, day, top_level=True)
    paths = scope_paths(conn, principal, Action.VIEW, day)
    top = [p for p in paths if not any(p != o and p.startswith(o) for o in paths)]
    return registry.units_on(conn, day, ids=[path_ids(p)[-1] for p in top])


def _levels(conn: Connection, day: dt.date) -> list[tuple[int, list[str], int]]:
    """Each level of the tree on ``day`` (the root is 1) with its three most common unit types (the
    registry the process keeps answers a GET: decision 0022)."""
    kinds: dict[int, Counter[str]] = {}
    for unit in registry.units_under(conn, day, [""]):
        kinds.setdefault(unit.path.count("/") - 1, Counter())[unit.type] += 1
    return [(level, [kind for kind, _ in c.most_common(3)], sum(c.values()))
            for level, c in sorted(kinds.items())]


def level_of(conn: Connection, unit_code: str, day: dt.date) -> tuple[int, bool] | None:
    """The unit's level on ``day`` (the root is 1) and whether units stood below it; None if unknown."""
    unit_id = registry.id_of(conn, unit_code)
    if unit_id is None:
        return None
    path = registry.last_path(conn, unit_id, day)
    if path is None:
        return None
    below = len(registry.subtree_ids(conn, unit_id, day)) > 1
    return len(path_ids(path)), below


# ---------------------------------------------------------------- the values behind a cell


@dataclass(frozen=True)
class StoredValue:
    """One stored value behind a cell, who stored it and when, and its history (newest first)."""

    unit: str
    unit_name: str
    period: str
    element: str
    element_name: str
    combo: str
    combo_name: str
    value: str
    stored_by: str
    changed_at: dt.datetime
    synthetic: bool
    history: tuple[values.Change, ...] = ()


@dataclass(frozen=True)
class CellValues:
    """The stored values behind a cell (at most :data:`MAX_VALUES`), and how many there are."""

    unit: registry.Unit
    period: pe.Period
    data: tuple[str, ...]
    values: tuple[StoredValue, ...]
    total: int
    reporting_rates: tuple[str, ...] = ()  # data items that are reporting rates: no values of their own


def cell_values(
    conn: Connection, *, principal: Principal, data: Sequence[str], period: str, unit: str, language: str
) -> CellValues:
    """The stored values the analytics engine counts for ``data`` at ``unit`` in ``period``."""
    require_action(principal, Action.VIEW)
    if not data:
        raise ValidationError(N_("Name the data of the figure."), [
            Problem(N_("no data item"), field="dx", value=None,
                    expected=N_("dx=ELEMENT, ELEMENT.COMBO or an indicator"))
        ])
    catalog = load_catalog(conn)
    wanted, rates = _measures(conn, catalog, data)
    asked = _period(period)
    unit_id = registry.id_of(conn, unit)
    if unit_id is None:
        raise NotFound(M_("No unit with code {code!r}.", code=unit))
    require_unit(conn, principal, Action.VIEW, unit_id, asked.end, unit)
    shown = registry.unit_on(conn, unit_id, asked.end) or registry.last_known(conn, [unit_id])[unit_id]
    rows = _stored(conn, wanted, asked, unit_id) if wanted else []
    listed = tuple(_stored_value(conn, principal, catalog, r, language) for r in rows[:MAX_VALUES])
    return CellValues(shown, asked, tuple(data), listed, len(rows), tuple(rates))


def _period(text: str) -> pe.Period:
    try:
        return pe.parse(text)
    except ValidationError:
        raise ValidationError(M_("Not a period: {text!r}.", text=text), [
            Problem("not a period", field="pe", value=text,
                    expected=N_("a period id, e.g. 2020, 2020Q3, 202011"))
        ]) from None


def _measures(
    conn: Connection, catalog: Catalog, data: Sequence[str]
) -> tuple[set[tuple[int, int | None]], list[str]]:
    """(element id, option combo id or None for all) for each data item, and the reporting rates."""
    indicators = {d.code: d for d in all_indicators(conn)}
    wanted: set[tuple[int, int | None]] = set()
    rates: list[str] = []
    for item in data:
        if item.endswith("." + REPORTING_RATE):
            rates.append(item)
        elif item in indicators:
            wanted |= _indicator_measures(catalog, indicators[item])
        else:
            wanted.add(_operand(catalog, item))
    return wanted, rates


def _indicator_measures(catalog: Catalog, indicator: IndicatorDef) -> set[tuple[int, int | None]]:
    found: set[tuple[int, int | None]] = set()
    for text in (indicator.numerator, indicator.denominator):
        for ref in expressions.references(expressions.parse(text)):
            element = catalog.element(ref.element)
            if element is not None:
                coc = catalog.option_combo(element, ref.combo) if ref.combo else None
                found.add((element.id, coc.id if coc else None))
    return found


def _operand(catalog: Catalog, item: str) -> tuple[int, int | None]:
    code, _, combo = item.partition(".")
    element = catalog.element(code)
    coc = catalog.option_combo(element, combo) if element and combo else None
    if element is None or (combo and coc is None):
        raise ValidationError(M_("No data item {item!r}.", item=item), [
            Problem(N_("unknown data item"), field="dx", value=item,
                    expected=N_("a data element, ELEMENT.COMBO, an indicator or DATASET.REPORTING_RATE code"))
        ])
    return element.id, coc.id if coc else None


def _stored(
    conn: Connection, wanted: set[tuple[int, int | None]], asked: pe.Period, unit_id: int
) -> list[tuple[str, Any]]:
    """The stored rows (newest period first), at the unit or under it on each period's last day."""
    p = store.periods
    inside = conn.execute(
        select(p.c.id, p.c.code, p.c.start_date, p.c.end_date)
        .where(p.c.start_date >= asked.start, p.c.end_date <= asked.end)
    ).all()
    elements = sorted({e for e, _ in wanted})
    out: list[tuple[str, Any]] = []
    by_end: dict[dt.date, list[int]] = {}
    for period in sorted(inside, key=lambda r: (r.start_date, r.code), reverse=True):
        units = by_end.get(period.end_date)
        if units is None:
            units = by_end[period.end_date] = sorted(
                set(registry.subtree_ids(conn, unit_id, period.end_date)) | {unit_id})
        rows = _rows_of(conn, period.id, units, elements)
        out += [(period.code, r) for r in rows
                if (r.data_element_id, None) in wanted or (r.data_element_id, r.coc_id) in wanted]
        if len(out) > 10 * MAX_VALUES:
            break
    return out


def _rows_of(conn: Connection, period_id: int, units: Sequence[int], elements: Sequence[int]) -> list[Any]:
    dv, imports = store.data_values, store.data_imports
    codes = registry.unit_codes("cell_unit")
    out: list[Any] = []
    for start in range(0, len(units), 500):
        out += conn.execute(
            select(dv, imports.c.actor, imports.c.at, codes.c.code.label("unit_code"))
            .join(imports, imports.c.id == dv.c.import_id)
            .join(codes, codes.c.id == dv.c.unit_id)
            .where(dv.c.period_id == period_id, dv.c.unit_id.in_(units[start:start + 500]),
                   dv.c.data_element_id.in_(elements))
            .order_by(codes.c.code, dv.c.data_element_id, dv.c.coc_id)
        ).all()
    return out


def _stored_value(
    conn: Connection, principal: Principal, catalog: Catalog, found: tuple[str, Any], language: str
) -> StoredValue:
    period, r = found
    element = catalog.elements[r.data_element_id]
    coc = catalog.option_combos[r.coc_id]
    history = values.history(conn, principal=principal, data_element=element.code, period=period,
                             org_unit=r.unit_code, category_option_combo=coc.code)
    return StoredValue(
        unit=r.unit_code,
        unit_name=_unit_name(conn, r.unit_id, period, language),
        period=period,
        element=element.code,
        element_name=_name(element.name_zh, element.name_en, language),
        combo=coc.code,
        combo_name=_name(coc.name_zh, coc.name_en, language) if coc.code != DEFAULT else "",
        value=r.value,
        stored_by=r.stored_by or r.actor,
        changed_at=r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC),
        synthetic=bool(r.synthetic),
        history=tuple(history),
    )


def _unit_name(conn: Connection, unit_id: int, period: str, language: str) -> str:
    day = pe.parse(period).end
    unit = registry.unit_on(conn, unit_id, day) or registry.last_known(conn, [unit_id]).get(unit_id)
    return _name(unit.name_zh, unit.name_en, language) if unit else ""


def headline_indicators(conn: Connection) -> list[IndicatorDef]:
    """Indicators with a target first (the year's headline figures), then the rest, each by code."""
    with_target = set(conn.execute(select(store.targets.c.indicator_id).distinct()).scalars())
    return sorted(all_indicators(conn), key=lambda d: (d.id not in with_target, d.code))
