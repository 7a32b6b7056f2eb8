"""Analytics use cases: an :class:`~jiaowei.analytics.request.AnalyticsRequest` answered as a Grid.

:func:`run` resolves the request's items (below), asks the engine for
every element and operand in one query (:mod:`jiaowei.analytics.engine`), indicators through
:func:`jiaowei.analytics.indicators.indicator_cells`, reporting rates through the completeness
report's reads, and lays the values out in DHIS2's grid (:mod:`jiaowei.analytics.response`).

- **Scope** is the principal's view scope on the last day of the latest period asked: the engine
  counts only values under it, and units outside it are refused as unknown.
- **Filters** collapse: values of several filter items are combined per the measure's aggregation
  type (sum; mean for the averages; latest period for LAST; min, max), indicators and rates from
  their summed numerators and denominators.
- **Rounding**: values to 2 decimals, indicators to their own decimals, unless ``skipRounding``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, String, select

from jiaowei.analytics.engine import BoundCube, cube_for
from jiaowei.analytics.indicators import indicator_cells
from jiaowei.analytics.model import MAX_LEVEL, CubeQuery, Measure
from jiaowei.analytics.request import (
    DATA,
    PERIOD,
    RELATIVE,
    UNIT,
    AnalyticsRequest,
    IdScheme,
    QueryError,
    resolve_period,
)
from jiaowei.analytics.response import Grid, Value, build_grid
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, scope_paths
from jiaowei.db.among import among
from jiaowei.db.engine import is_read_only
from jiaowei.db.memo import per_transaction
from jiaowei.domains import N_
from jiaowei.errors import M_, JiaoweiError, NotFound, Problem
from jiaowei.i18n import DEFAULT_LANGUAGE
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, load_catalog
from jiaowei.indicators.model import FACTORS, AggregationType, Display
from jiaowei.indicators.targets.compute import all_indicators, view_scope
from jiaowei.registry import groups
from jiaowei.registry import queries as registry
from jiaowei.registry.model import path_ids

MAX_PERIODS = 400


# ---------------------------------------------------------------- the request's items, resolved
# Items are named by code or uid (both are accepted) and answered in the request's id scheme; every item
# that names nothing is one Problem naming its parameter. Units are checked against the view scope here.

REPORTING_RATE = "REPORTING_RATE"
DX_EXPECTED = (
    "an element code or uid, ELEMENT.COMBO (an operand), an indicator code or uid, "
    "or DATASET.REPORTING_RATE"
)
OU_EXPECTED = (
    "a unit code you may view, LEVEL-n (n from 1, the root, to 8), USER_ORGUNIT, USER_ORGUNIT_CHILDREN, "
    "USER_ORGUNIT_GRANDCHILDREN or OU_GROUP-<group code>"
)
USER_UNITS = ("USER_ORGUNIT", "USER_ORGUNIT_CHILDREN", "USER_ORGUNIT_GRANDCHILDREN")


@dataclass(frozen=True)
class Named:
    """Anything an answer names: its id in the request's scheme and its names."""

    id: str
    name_zh: str
    name_en: str

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh


@dataclass(frozen=True)
class Indicator:
    """An indicator's definition, as the engine's indicator_cells needs it."""

    id: int
    numerator: str
    denominator: str
    display: str
    decimals: int


@dataclass(frozen=True)
class DataItem(Named):
    """One ``dx`` item: an element's total or an operand (``measure``), an indicator, or a rate."""

    kind: str = "element"  # element | operand | indicator | rate
    measure: Measure | None = None
    indicator: Indicator | None = None
    data_set: DataSet | None = None


def output_id(scheme: IdScheme, code: str, uid: str, name: str) -> str:
    return uid if scheme is IdScheme.UID else name if scheme is IdScheme.NAME else code


def data_items(
    conn: Connection, catalog: Catalog, items: Sequence[str], *, scheme: IdScheme, language: str,
    aggregation: AggregationType | None,
) -> list[DataItem]:
    """The ``dx`` items, in order; :class:`QueryError` naming every item that names nothing."""
    indicators = _indicators(conn)
    found, problems = [], []
    for item in items:
        resolved = _data_item(catalog, indicators, item, scheme, language, aggregation)
        if resolved is None:
            problems.append(Problem(N_("no such data item"), field=DATA, value=item, expected=DX_EXPECTED))
        else:
            found.append(resolved)
    if problems:
        raise QueryError(M_("Unknown data items: {items}.",
                            items=', '.join(str(p.value) for p in problems)), problems)
    return found


def _data_item(
    catalog: Catalog, indicators: dict[str, Any], item: str, scheme: IdScheme, language: str,
    aggregation: AggregationType | None,
) -> DataItem | None:
    head, dot, tail = item.partition(".")
    if dot and tail == REPORTING_RATE:
        ds = catalog.data_set(head)
        if ds is None:
            return None
        name = {"zh": f"{ds.name_zh} 报告率", "en": f"{ds.name_en} reporting rate"}
        shown = output_id(scheme, ds.code, ds.uid, name["en" if language == "en" else "zh"])
        return DataItem(f"{shown}.{REPORTING_RATE}" if scheme is not IdScheme.NAME else shown,
                        name["zh"], name["en"], kind="rate", data_set=ds)
    element = catalog.element(head)
    if element is not None:
        kind = aggregation or AggregationType(element.aggregation_type)
        if not dot:
            name_of = element.name_en if language == "en" else element.name_zh
            return DataItem(output_id(scheme, element.code, element.uid, name_of), element.name_zh,
                            element.name_en, measure=Measure(element.id, None, kind))
        coc = catalog.option_combo(element, tail)
        if coc is None:
            return None
        zh, en = f"{element.name_zh} {coc.name_zh}", f"{element.name_en} {coc.name_en}"
        shown = {IdScheme.CODE: f"{element.code}.{coc.code}", IdScheme.UID: f"{element.uid}.{coc.uid}",
                 IdScheme.NAME: en if language == "en" else zh}[scheme]
        return DataItem(shown, zh, en, kind="operand", measure=Measure(element.id, coc.id, kind))
    row = indicators.get(item)
    if row is None or dot:
        return None
    name = row.name_en if language == "en" else row.name_zh
    definition = Indicator(row.id, row.numerator, row.denominator, row.display, int(row.decimals))
    return DataItem(output_id(scheme, row.code, row.uid, name), row.name_zh, row.name_en, kind="indicator",
                    indicator=definition)


def _indicators(conn: Connection) -> dict[str, Any]:
    """Every indicator by uid and by code (read once per transaction by :func:`all_indicators`: a report
    asks the engine once per figure)."""
    rows = all_indicators(conn)
    return {**{r.uid: r for r in rows}, **{r.code: r for r in rows}}


# ---------------------------------------------------------------- units


@dataclass(frozen=True)
class UnitItem(Named):
    unit_id: int = 0
    path: str = ""


@dataclass
class UnitPlan:
    """What the ``ou`` items ask: explicit units (each with its subtree), or the units at a level.

    ``units`` lists every unit the answer shows, in order; ``meta`` holds the items DHIS2 adds for
    USER_ORGUNIT and its kin (``{"organisationUnits": [...]}``).
    """

    explicit: list[UnitItem] = field(default_factory=list)
    level: int | None = None
    under: list[UnitItem] = field(default_factory=list)
    units: list[UnitItem] = field(default_factory=list)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)


def unit_plan(
    conn: Connection, principal: Principal, items: Sequence[str], *, day: dt.date, scope: list[str] | None,
    language: str,
) -> UnitPlan:
    """The units ``items`` name as they stood on ``day``, only within ``scope`` (paths; None: all)."""
    plan, problems = UnitPlan(), []
    named: list[UnitItem] = []
    codes = _named_units(conn, [i for i in items if not _special(i)], day)
    for item in items:
        try:
            named += _unit_item(conn, principal, item, day, scope, plan, codes)
        except QueryError as error:
            problems += error.problems
    if problems:
        raise QueryError(M_("Unknown units: {units}.",
                            units=', '.join(str(p.value) for p in problems)), problems)
    named = list({u.unit_id: u for u in named}.values())
    if plan.level is None:
        plan.explicit = plan.units = named
        return plan
    plan.under = named or _default_boundaries(conn, day, scope)
    plan.units = _at_level(conn, plan.level, plan.under, day)
    return plan


def _special(item: str) -> bool:
    """Whether the ``ou`` item is a level, the user's units or a group rather than a unit's code."""
    return item.startswith(("LEVEL-", "OU_GROUP-")) or item in USER_UNITS


def _unit_item(
    conn: Connection, principal: Principal, item: str, day: dt.date, scope: list[str] | None, plan: UnitPlan,
    codes: dict[str, UnitItem],
) -> list[UnitItem]:
    if item.startswith("LEVEL-"):
        plan.level = _level(item)
        return []
    if item in USER_UNITS:
        found = _user_units(conn, day, scope, USER_UNITS.index(item))
        plan.meta[item] = {"organisationUnits": [u.id for u in found]}
        return found
    if item.startswith("OU_GROUP-"):
        return _group_members(conn, principal, item, day, scope)
    unit = codes.get(item)
    if unit is None or not _visible(unit.path, scope):
        raise _no_unit(item)
    return [unit]


def _level(item: str) -> int:
    text = item.removeprefix("LEVEL-")
    if not text.isdigit() or not 1 <= int(text) <= MAX_LEVEL:
        raise _no_unit(item)
    return int(text)


def _unit(conn: Connection, unit_id: int, day: dt.date) -> UnitItem | None:
    return _units(conn, [unit_id], day).get(unit_id)


def _named_units(conn: Connection, codes: Sequence[str], day: dt.date) -> dict[str, UnitItem]:
    """The units ``codes`` name as they stood on ``day`` (else last), by code; codes naming none are left
    out. From the registry the process keeps in a read-only request (decision 0022), else one statement
    for the units open that day (on PostgreSQL the codes as one array parameter); read once per
    transaction for the same codes and day: a report asks the engine once per figure, mostly for the
    same units, and each read is a round trip on PostgreSQL."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}

    def read() -> dict[str, UnitItem]:
        if is_read_only(conn):  # the registry the process keeps answers without a statement
            ids = registry.ids_of(conn, wanted)
            kept = _units(conn, list(ids.values()), day)  # those not open that day: as they stood last
            return {c: kept[i] for c, i in ids.items() if i in kept}
        code = registry.UNIT_CODE
        chunks = among(conn, code, wanted, type_=String)
        found = {r.code: UnitItem(r.code, r.name_zh, r.name_en, unit_id=r.id, path=r.path)
                 for part in chunks for r in conn.execute(registry.units_on_select(day).where(part))}
        ids = registry.ids_of(conn, [c for c in wanted if c not in found]) if len(found) < len(wanted) else {}
        closed = _units(conn, list(ids.values()), day)  # not open that day: as they stood last
        return found | {c: closed[i] for c, i in ids.items() if i in closed}

    return per_transaction(conn, f"analytics.units:{day.isoformat()}:{wanted!r}", read)


def _units(conn: Connection, ids: Sequence[int], day: dt.date) -> dict[int, UnitItem]:
    """Each unit as it stood on ``day``, else as it stood last (with its last path before ``day``), by id:
    one statement for those open that day."""
    found: dict[int, registry.Unit] = {u.id: u for u in registry.units_on(conn, day, ids=ids)} if ids else {}
    closed = [i for i in ids if i not in found]
    if closed:
        found.update(registry.last_known(conn, closed))
    out: dict[int, UnitItem] = {}
    for unit_id, unit in found.items():
        path = unit.path or registry.last_path(conn, unit_id, day) or ""
        out[unit_id] = UnitItem(unit.code, unit.name_zh, unit.name_en, unit_id=unit.id, path=path)
    return out


def _visible(path: str, scope: list[str] | None) -> bool:
    return scope is None or any(path.startswith(p) for p in scope)


def _user_units(conn: Connection, day: dt.date, scope: list[str] | None, depth: int) -> list[UnitItem]:
    """The principal's own units (their scope's units, or the top of the tree), then their children …"""
    if scope is None:
        rows = registry.units_on(conn, day, top_level=True)
    else:
        ids = [int(p.strip("/").split("/")[-1]) for p in scope]
        rows = registry.units_on(conn, day, ids=ids)
    for _ in range(depth):
        rows = [c for r in rows for c in registry.units_on(conn, day, parent_id=r.id)]
    return [UnitItem(r.code, r.name_zh, r.name_en, unit_id=r.id, path=r.path) for r in rows]


def _group_members(
    conn: Connection, principal: Principal, item: str, day: dt.date, scope: list[str] | None
) -> list[UnitItem]:
    code = item.removeprefix("OU_GROUP-")
    try:
        group = groups.get_group(conn, principal=principal, code=code, as_of=day)
    except NotFound:
        raise _no_unit(item) from None
    found = _named_units(conn, [m.code for m in group.members], day).values()
    return sorted((u for u in found if _visible(u.path, scope)), key=lambda u: u.id)


def _default_boundaries(conn: Connection, day: dt.date, scope: list[str] | None) -> list[UnitItem]:
    return _user_units(conn, day, scope, 0)


def _at_level(conn: Connection, level: int, under: Sequence[UnitItem], day: dt.date) -> list[UnitItem]:
    """The units at ``level`` (root = 1) under the boundaries on ``day``, by code."""
    paths = [u.path for u in under if u.path]
    if not paths:
        return []
    found = registry.units_under(conn, day, paths, depth=level)  # the level's units only
    return [UnitItem(u.code, u.name_zh, u.name_en, unit_id=u.id, path=u.path)
            for u in sorted(found, key=lambda u: u.code)]


def _no_unit(item: str) -> QueryError:
    return QueryError(M_("No unit {item!r} you may view.", item=item),
                      [Problem(N_("no such unit you may view"), field=UNIT, value=item,
                               expected=OU_EXPECTED)])


def unit_item(conn: Connection, unit_id: int, day: dt.date) -> UnitItem | None:
    """A unit the engine answered for that the plan did not list (it moved or closed)."""
    return _unit(conn, unit_id, day)


# ---------------------------------------------------------------- categories and unit group sets


@dataclass(frozen=True)
class Breakdown(Named):
    """A category dimension with its options, or a unit group set with its groups (all, or those asked),
    by option or group id."""

    category_id: int = 0
    options: tuple[tuple[int, Named], ...] = ()
    other_keys: tuple[str, ...] = ()  # the category's code and uid, as a request may name it
    group_set_id: int | None = None  # set for a unit group set (its groups are the options)


def category(conn: Connection, name: str, items: Sequence[str], *, scheme: IdScheme,
             language: str) -> Breakdown | None:
    """The category named by code or uid, with its options; None if ``name`` names no category."""
    c, o = store.categories, store.category_options
    row = conn.execute(select(c).where((c.c.code == name) | (c.c.uid == name))).first()
    if row is None:
        return None
    options = conn.execute(select(o).where(o.c.category_id == row.id).order_by(o.c.position)).all()
    by_key = {**{r.uid: r for r in options}, **{r.code: r for r in options}}
    unknown = [i for i in items if i not in by_key]
    if unknown:
        raise QueryError(M_("Unknown options of {name}: {options}.", name=name, options=', '.join(unknown)), [
            Problem(N_("no such option"), field=name, value=i, expected=M_("an option of the category {code}",
                                                                       code=row.code))
            for i in unknown
        ])
    chosen = [by_key[i] for i in dict.fromkeys(items)] if items else list(options)

    def named(r: Any) -> Named:
        return Named(output_id(scheme, r.code, r.uid, r.name_en if language == "en" else r.name_zh),
                     r.name_zh, r.name_en)

    return Breakdown(named(row).id, row.name_zh, row.name_en, category_id=row.id,
                     options=tuple((r.id, named(r)) for r in chosen), other_keys=(row.code, row.uid))


def group_set(conn: Connection, name: str, items: Sequence[str], *, scheme: IdScheme,
              language: str) -> Breakdown | None:
    """The unit group set with code ``name`` and its groups (all, or ``items``); None if there is none.
    Groups and sets have no uids: their codes stand for them under every id scheme but NAME."""
    found = registry.group_set_named(conn, name)
    if found is None:
        return None
    row, members = found
    by_code = {g.code: g for g in members}
    unknown = [i for i in items if i not in by_code]
    if unknown:
        raise QueryError(M_("Unknown groups of {name}: {groups}.", name=name, groups=', '.join(unknown)), [
            Problem(N_("no such group"), field=name, value=i, expected=M_("a group of the group set {code}",
                                                                      code=row.code))
            for i in unknown
        ])

    def named(r: Any) -> Named:
        return Named(output_id(scheme, r.code, r.code, r.name_en if language == "en" else r.name_zh),
                     r.name_zh, r.name_en)

    chosen = [by_code[i] for i in dict.fromkeys(items)] if items else members
    return Breakdown(named(row).id, row.name_zh, row.name_en, options=tuple((g.id, named(g)) for g in chosen),
                     other_keys=(row.code,), group_set_id=row.id)


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class Periods:
    """The ``pe`` items resolved: fixed periods in order, and each relative item's periods."""

    periods: tuple[pe.Period, ...]
    relative: dict[str, tuple[pe.Period, ...]]


@dataclass(frozen=True)
class Plan:
    """A request resolved against the database: everything :func:`run` needs to ask the engine."""

    request: AnalyticsRequest
    language: str
    periods: Periods
    data: list[DataItem]
    units: UnitPlan
    categories: list[Breakdown]
    scope: frozenset[int] | None
    paths: list[str] | None = None  # the scope's paths on the last day asked (None: no limit)


def run(conn: Connection, *, principal: Principal, request: AnalyticsRequest, today: dt.date) -> Grid:
    """The answer to ``request`` over the values the principal may view; relative periods count from
    ``today`` (or the request's ``relativePeriodDate``)."""
    plan = prepare(conn, principal=principal, request=request, today=today)
    values = [] if request.skip_data else compute(conn, principal=principal, plan=plan)
    _list_units_answered(conn, plan, values)
    return build_grid(plan, values)


def _list_units_answered(conn: Connection, plan: Plan, values: Sequence[Value]) -> None:
    """Add the units the engine answered for that the plan did not list (a unit that moved or closed)."""
    listed = {u.unit_id for u in plan.units.units}
    day = max(p.end for p in plan.periods.periods)
    unlisted = sorted({v.unit_id for v in values} - listed)
    found = _units(conn, unlisted, day) if unlisted else {}
    plan.units.units += [found[i] for i in unlisted if i in found]


def prepare(conn: Connection, *, principal: Principal, request: AnalyticsRequest, today: dt.date) -> Plan:
    """The request's items resolved (:class:`QueryError` naming each unknown item)."""
    require_action(principal, Action.VIEW)
    language = request.language or principal.language or DEFAULT_LANGUAGE
    periods = _periods(request, request.day(today))
    day = max(p.end for p in periods.periods)
    paths = None if principal.unlimited else scope_paths(conn, principal, Action.VIEW, day)
    catalog = load_catalog(conn)
    data = data_items(conn, catalog, _items(request, DATA), scheme=request.output_id_scheme,
                      language=language, aggregation=request.aggregation_type)
    ou = request.get(UNIT)  # without one, the principal's own units (DHIS2 takes the root)
    units = unit_plan(conn, principal, ou.items if ou else ("USER_ORGUNIT",), day=day, scope=paths,
                      language=language)
    categories = _categories(conn, request, language)
    if categories and any(d.measure is None for d in data):
        raise QueryError(N_("Categories break down data elements only."), [Problem(
            N_("indicators and reporting rates have no categories or group sets"), field=categories[0].id,
            expected=N_("data elements or operands only in dx when a category is a dimension or filter"))])
    scope = view_scope(principal)
    return Plan(request, language, periods, data, units, categories, scope, paths)


def _items(request: AnalyticsRequest, name: str) -> tuple[str, ...]:
    found = request.get(name)
    if found is None:
        expected = f"dimension={name}:… or filter={name}:…"
        problem = Problem(M_("the dimension {name} is missing",
                             name=name), field="dimension", expected=expected)
        expected = f"dimension={name}:… or filter={name}:…"
        problem = Problem(M_("the dimension {name} is missing",
                             name=name), field="dimension", expected=expected)
        raise QueryError(M_("No {name} dimension.", name=name), [problem])
    return found.items


def _periods(request: AnalyticsRequest, day: dt.date) -> Periods:
    relative: dict[str, tuple[pe.Period, ...]] = {}
    ordered: list[pe.Period] = []
    problems: list[Problem] = []
    for item in _items(request, PERIOD):
        try:
            found = resolve_period(item, day)
        except QueryError as error:
            problems += error.problems
            continue
        if item in RELATIVE:
            relative[item] = found
        ordered += [p for p in found if p not in ordered]
    if problems:
        raise QueryError(M_("Unknown periods: {periods}.",
                            periods=', '.join(str(p.value) for p in problems)), problems)
    if len(ordered) > MAX_PERIODS:
        raise QueryError(N_("Too many periods."), [Problem(N_("too many periods"), field=PERIOD,
                                                           value=len(ordered),
                                                       expected=M_("at most {most} periods",
                                                                   most=MAX_PERIODS))])
    return Periods(tuple(ordered), relative)


def _categories(conn: Connection, request: AnalyticsRequest, language: str) -> list[Breakdown]:
    """The category and group set dimensions and filters: categories first, then group sets (the order
    of the engine's breakdowns)."""
    found: list[Breakdown] = []
    problems: list[Problem] = []
    for d in (*request.dimensions, *request.filters):
        if d.name in (DATA, PERIOD, UNIT):
            continue
        scheme = request.output_id_scheme
        breakdown = (category(conn, d.name, d.items, scheme=scheme, language=language)
                     or group_set(conn, d.name, d.items, scheme=scheme, language=language))
        if breakdown is None:
            expected = N_("dx, pe, ou, a category's code or uid, or a group set's code")
            problems.append(Problem(N_("no such dimension"), field="dimension", value=d.name,
                                    expected=expected))
        else:
            found.append(breakdown)
    if problems:
        raise QueryError(M_("Unknown dimensions: {dimensions}.",
                            dimensions=', '.join(str(p.value) for p in problems)), problems)
    return sorted(found, key=lambda b: b.group_set_id is not None)


# ---------------------------------------------------------------- values


def compute(conn: Connection, *, principal: Principal, plan: Plan) -> list[Value]:
    """Every value the plan asks for, one per data item, unit, period and category options."""
    cube = cube_for(conn)
    out = _element_values(cube, plan)
    out += _indicator_values(conn, cube, plan)
    out += _rate_values(conn, principal, plan)
    return out


def _unit_args(plan: Plan) -> dict[str, object]:
    units = plan.units
    if units.level is not None:
        return {"level": units.level, "under": tuple(u.unit_id for u in units.under)}
    return {"units": tuple(u.unit_id for u in units.explicit)}


def _element_values(cube: BoundCube, plan: Plan) -> list[Value]:
    items = [d for d in plan.data if d.measure is not None]
    if not items or (plan.units.level is None and not plan.units.explicit):
        return []
    query = CubeQuery(measures=tuple(dict.fromkeys(d.measure for d in items if d.measure)),
                      periods=plan.periods.periods,
                      categories=tuple(c.category_id for c in plan.categories if c.group_set_id is None),
                      group_sets=tuple(c.group_set_id for c in plan.categories if c.group_set_id is not None),
                      scope=plan.scope, **_unit_args(plan))  # type: ignore[arg-type]
    by_measure = defaultdict(list)
    for d in items:
        assert d.measure is not None
        by_measure[(d.measure.element_id, d.measure.coc_id)].append(d)
    out = []
    for cell in cube.query(query):
        for d in by_measure.get((cell.element_id, cell.coc_id), []):
            assert d.measure is not None
            out.append(Value(d, cell.unit_id, cell.period, cell.breakdown, cell.value, None, None,
                             d.measure.aggregation, synthetic=cell.synthetic))
    return out


def _indicator_values(conn: Connection, cube: BoundCube, plan: Plan) -> list[Value]:
    items = [d for d in plan.data if d.indicator is not None]
    if not items or (plan.units.level is None and not plan.units.explicit):
        return []
    units = plan.units
    found = indicator_cells(
        cube, load_catalog(conn), indicators=[d.indicator for d in items if d.indicator],
        periods=plan.periods.periods, units=tuple(u.unit_id for u in units.explicit),
        level=units.level, under=tuple(u.unit_id for u in units.under), scope=plan.scope,
        aggregation=plan.request.aggregation_type,
    )
    out = []
    for d in items:
        assert d.indicator is not None
        for (indicator_id, unit_id, period), cell in found.items():
            if indicator_id == d.indicator.id and (cell.value is not None or cell.numerator is not None):
                out.append(Value(d, unit_id, period, (), cell.value, cell.numerator, cell.denominator,
                                 AggregationType.SUM, factor=FACTORS[Display(d.indicator.display)],
                                 synthetic=cell.synthetic))
    return out


def _rate_values(conn: Connection, principal: Principal, plan: Plan) -> list[Value]:
    """Reporting rates: completed reports / expected reports × 100 under each unit of the answer.

    The completeness report's reads are asked once per data set period, from the principal's own
    units (the tree's top for administrators); each expected unit then counts under every unit of
    the answer on its path as of that period's last day.
    """
    out: list[Value] = []
    if all(d.data_set is None for d in plan.data):
        return out
    day = max(p.end for p in plan.periods.periods)
    roots = [u.id for u in _user_units(conn, day, plan.paths, 0)]
    wanted = {u.unit_id for u in plan.units.units}
    for d in (d for d in plan.data if d.data_set is not None):
        assert d.data_set is not None
        kind = pe.PeriodType(d.data_set.period_type)
        for p in plan.periods.periods:
            inside = [p] if p.type == kind else pe.periods_between(kind, p.start, p.end)
            counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
            for q in inside:
                for path, arrived in _reports(conn, principal, d.data_set.code, q, roots):
                    for unit_id in wanted.intersection(path_ids(path)):
                        counts[unit_id][0] += arrived
                        counts[unit_id][1] += 1
            out += [Value(d, unit_id, p.id, (), 100.0 * received / expected, received, expected,
                          AggregationType.SUM, factor=100.0)
                    for unit_id, (received, expected) in counts.items() if expected]
    return out


def _reports(conn: Connection, principal: Principal, data_set: str, period: pe.Period,
             roots: Sequence[str]) -> list[tuple[str, bool]]:
    """(path, received) of each unit expected to report the data set for the period under the roots."""
    found: dict[int, tuple[str, bool]] = {}
    for root in roots:
        try:
            reports = completeness.reports(conn, principal=principal, data_set=data_set, period=period.id,
                                           unit=root, tree=False)
        except JiaoweiError:  # the root was not open then
            continue
        found.update({u.id: (u.path, u.id in reports.arrived) for u in reports.expected})
    return list(found.values())
