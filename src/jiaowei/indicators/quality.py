"""Data quality: validation rules run over stored values, outliers, and min–max bounds.

Validation follows DHIS2: each rule is evaluated for each unit's OWN values (no aggregation up
the tree) in each period of the rule's period type, at the units that report a data set holding
any of the rule's elements. ``#{DE}`` is the sum over the element's option combos, ``#{DE.COC}``
one combo. A side skipped by its missing value strategy makes the rule not apply there: a skipped
rule is not a violation. Each violation says in plain words, in Chinese and English, which values
broke which rule.

Outliers are judged per series (one unit, element and option combo over the periods asked for)
by z-score, modified z-score or stored min–max bounds. Min–max bounds are set by hand or
generated from history (mean ± factor·sd); generation never overwrites bounds set by hand.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit
from jiaowei.errors import NotFound, Problem, ValidationError
from jiaowei.indicators import expressions as ex
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata import Catalog, DataSet, Element, OptionCombo, load_catalog
from jiaowei.indicators.model import DEFAULT, NUMERIC_TYPES, Importance, ValueType, numeric
from jiaowei.registry import store as registry_store

CHUNK = 500
MAX_PAIRS = 5_000
"""The most unit × period pairs one validation run may cover."""
MAX_RESULTS = 10_000
ALGORITHMS = ("Z_SCORE", "MOD_Z_SCORE", "MIN_MAX")
DEFAULT_THRESHOLDS = {"Z_SCORE": 3.0, "MOD_Z_SCORE": 3.5, "MIN_MAX": 0.0}
MIN_SERIES = 3
"""The fewest values a series needs for a z-score or for generated bounds."""
MIN_MAX_RULE = "MIN_MAX"


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    code: str
    name_zh: str
    name_en: str
    left: ex.Expr
    right: ex.Expr
    left_missing: ex.MissingValueStrategy
    right_missing: ex.MissingValueStrategy
    operator: ex.Operator
    importance: str
    period_type: str
    refs: frozenset[ex.Ref]


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> ex.Expr:
    return ex.parse(text)


def load_rules(
    conn: Connection,
    catalog: Catalog,
    *,
    codes: Sequence[str] | None = None,
    data_set: DataSet | None = None,
    period_type: str | None = None,
) -> list[Rule]:
    """Stored rules, optionally only ``codes``, those of ``period_type``, and those whose
    references are all elements of ``data_set``."""
    table = store.validation_rules
    query = select(table).order_by(table.c.code)
    if codes is not None:
        query = query.where(table.c.code.in_(list(codes)))
    if period_type is not None:
        query = query.where(table.c.period_type == period_type)
    found = [_rule(r) for r in conn.execute(query)]
    if codes is not None:
        unknown = sorted(set(codes) - {r.code for r in found})
        if unknown:
            raise ValidationError(
                "Unknown validation rules.",
                [
                    Problem(
                        "unknown validation rule", field="rules", value=c, expected="the code of a saved rule"
                    )
                    for c in unknown
                ],
            )
    if data_set is not None:
        found = [
            r
            for r in found
            if r.refs and all(_element_id(catalog, ref) in data_set.element_ids for ref in r.refs)
        ]
    return found


def _rule(r: Any) -> Rule:
    left, right = _parsed(r.left_expression), _parsed(r.right_expression)
    return Rule(
        r.code,
        r.name_zh,
        r.name_en,
        left,
        right,
        ex.MissingValueStrategy(r.left_missing),
        ex.MissingValueStrategy(r.right_missing),
        ex.Operator(r.operator),
        r.importance,
        r.period_type,
        ex.references(left) | ex.references(right),
    )


def _element_id(catalog: Catalog, ref: ex.Ref) -> int | None:
    element = catalog.element(ref.element)
    return element.id if element else None


# ---------------------------------------------------------------- violations


@dataclass(frozen=True)
class Violation:
    """A rule broken at a unit in a period, or a value outside its min–max bounds."""

    rule: str
    rule_name_zh: str
    rule_name_en: str
    importance: str
    unit: str
    unit_name_zh: str
    unit_name_en: str
    period: str
    left_value: float | None
    right_value: float | None
    operator: str
    message_zh: str
    message_en: str
    data_element: str | None = None
    option_combo: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UnitInfo:
    id: int
    code: str
    name_zh: str
    name_en: str
    type: str


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def ref_label(catalog: Catalog, ref: ex.Ref, lang: str) -> str:
    """``在校学生数`` for ``#{PUPILS}``, ``在校学生数·男`` / ``Pupils, Male`` for ``#{PUPILS.M}``."""
    element = catalog.element(ref.element)
    if element is None:
        return ref.element
    name = element.name_zh if lang == "zh" else element.name_en
    coc = catalog.option_combo(element, ref.combo) if ref.combo else None
    if coc is None or coc.code == DEFAULT:
        return name
    return f"{name}·{coc.name_zh}" if lang == "zh" else f"{name}, {coc.name_en}"


_PHRASES = {  # operator: (zh phrase, en phrase, symbol shown when the rule fails)
    ex.Operator.equal_to: ("应等于", "must equal", "≠"),
    ex.Operator.not_equal_to: ("不应等于", "must not equal", "="),
    ex.Operator.greater_than: ("应大于", "must be greater than", "≤"),
    ex.Operator.greater_than_or_equal_to: ("应大于或等于", "must be at least", "<"),
    ex.Operator.less_than: ("应小于", "must be less than", "≥"),
    ex.Operator.less_than_or_equal_to: ("应小于或等于", "must be at most", ">"),
}


def _describe(catalog: Catalog, expr: ex.Expr, values: ex.Values, lang: str) -> str:
    text = ex.describe(expr, lambda ref: ref_label(catalog, ref, lang), values)
    return text.replace("(missing)", "(缺失)") if lang == "zh" else text


def rule_messages(
    catalog: Catalog, rule: Rule, values: ex.Values, left: ex.Evaluation, right: ex.Evaluation
) -> tuple[str, str]:
    """The (zh, en) message of a broken rule: the values of each side and how they fail."""
    lz, rz = _describe(catalog, rule.left, values, "zh"), _describe(catalog, rule.right, values, "zh")
    le, re_ = _describe(catalog, rule.left, values, "en"), _describe(catalog, rule.right, values, "en")
    if rule.operator is ex.Operator.compulsory_pair:
        left_only = ex.has_values(left)
        return (
            f"{lz} 与 {rz} 须同时填写：只填了{'前者' if left_only else '后者'}",
            f"{le} and {re_} must be filled in together: only the "
            f"{'first' if left_only else 'second'} has values",
        )
    if rule.operator is ex.Operator.exclusive_pair:
        return (
            f"{lz} 与 {rz} 不能同时填写：两者都有值",
            f"{le} and {re_} must not both be filled in: both have values",
        )
    zh, en, fails = _PHRASES[rule.operator]
    lv, rv = _number(left.value), _number(right.value)
    return f"{lz} {zh} {rz}：实际 {lv} {fails} {rv}", f"{le} {en} {re_}: {lv} {fails} {rv}"


def _evaluate(
    catalog: Catalog, rule: Rule, values: ex.Values, unit: UnitInfo, period: str
) -> Violation | None:
    left, right = ex.evaluate(rule.left, values), ex.evaluate(rule.right, values)
    if ex.skipped(rule.left_missing, left) or ex.skipped(rule.right_missing, right):
        return None
    if ex.rule_holds(rule.operator, left, right):
        return None
    zh, en = rule_messages(catalog, rule, values, left, right)
    return Violation(
        rule.code,
        rule.name_zh,
        rule.name_en,
        rule.importance,
        unit.code,
        unit.name_zh,
        unit.name_en,
        period,
        left.value,
        right.value,
        ex.SYMBOLS[rule.operator],
        zh,
        en,
    )


# ---------------------------------------------------------------- reading values in bulk

Raw = dict[tuple[int, int], float]  # (element id, coc id) -> number


def _load_values(
    conn: Connection,
    catalog: Catalog,
    period_id: int | None,
    unit_ids: Sequence[int],
    element_ids: Iterable[int],
) -> dict[int, Raw]:
    """Numeric values of ``element_ids`` per unit, one query per chunk of units."""
    out: dict[int, Raw] = {u: {} for u in unit_ids}
    wanted = sorted(set(element_ids))
    if period_id is None or not wanted:
        return out
    dv = store.data_values
    for start in range(0, len(unit_ids), CHUNK):
        rows = conn.execute(
            select(dv.c.unit_id, dv.c.data_element_id, dv.c.coc_id, dv.c.value).where(
                dv.c.period_id == period_id,
                dv.c.unit_id.in_(list(unit_ids[start : start + CHUNK])),
                dv.c.data_element_id.in_(wanted),
            )
        )
        for unit_id, element_id, coc_id, text in rows:
            number = numeric(catalog.elements[element_id].value_type, text)
            if number is not None:
                out[unit_id][(element_id, coc_id)] = number
    return out


def _ref_values(catalog: Catalog, refs: Iterable[ex.Ref], raw: Raw) -> dict[tuple[str, str | None], float]:
    """The mapping ``expressions.evaluate`` wants: each reference's value, if present."""
    totals: dict[int, float] = {}
    for (element_id, _coc), number in raw.items():
        totals[element_id] = totals.get(element_id, 0.0) + number
    out: dict[tuple[str, str | None], float] = {}
    for ref in refs:
        element = catalog.element(ref.element)
        if element is None:
            continue
        if ref.combo is None:
            found = totals.get(element.id)
        else:
            coc = catalog.option_combo(element, ref.combo)
            found = raw.get((element.id, coc.id)) if coc else None
        if found is not None:
            out[ref.key] = found
    return out


def _units_on(conn: Connection, unit_ids: Sequence[int], day: dt.date) -> dict[int, UnitInfo]:
    units = registry_store.units
    out: dict[int, UnitInfo] = {}
    for start in range(0, len(unit_ids), CHUNK):
        query = registry_store.units_on_select(day).where(
            units.c.id.in_(list(unit_ids[start : start + CHUNK]))
        )
        for r in conn.execute(query):
            out[r.id] = UnitInfo(r.id, r.code, r.name_zh, r.name_en, r.type)
    return out


def _visible(
    conn: Connection,
    principal: Principal,
    codes: Sequence[str],
    children: bool,
    day: dt.date,
    action: Action = Action.VIEW,
) -> list[int]:
    """Ids of the units named (and below them, with ``children``) on ``day``, scope checked."""
    ids = registry_store.unit_ids_for(conn, codes)
    found: set[int] = set()
    for code in codes:
        if code not in ids:
            raise NotFound(f"No unit with code {code!r}.")
        require_unit(conn, principal, action, ids[code], day, code)
        found.update(registry_store.subtree_ids(conn, ids[code], day) if children else [ids[code]])
    return sorted(found)


# ---------------------------------------------------------------- running rules


def _period_objects(codes: Sequence[str]) -> list[pe.Period]:
    problems = [
        Problem("not a period", field="periods", value=c, expected="e.g. 2020, 2020Q3 or 202011")
        for c in codes
        if not pe.is_valid(c)
    ]
    if problems:
        raise ValidationError("The periods are not valid.", problems)
    return [pe.parse(c) for c in codes]


def _data_set(catalog: Catalog, code: str | None) -> DataSet | None:
    if code is None:
        return None
    ds = catalog.data_set(code)
    if ds is None:
        raise ValidationError(
            "Unknown data set.",
            [Problem("unknown data set", field="dataSet", value=code, expected="the code of a data set")],
        )
    return ds


def _applies(catalog: Catalog, rule: Rule, unit: UnitInfo) -> bool:
    """Whether the unit reports, in the rule's period type, a data set holding any of its elements."""
    ids = {_element_id(catalog, ref) for ref in rule.refs}
    return any(
        ds.period_type == rule.period_type
        and (unit.type in ds.unit_types or unit.id in ds.unit_ids)
        and ids & set(ds.element_ids)
        for ds in catalog.data_sets.values()
    )


def stored_periods(
    conn: Connection, *, start: dt.date, end: dt.date, data_set: str | None = None
) -> list[str]:
    """Stored periods inside [start, end] of the rules' period types (and the data set's, if named)."""
    rules, pt = store.validation_rules, store.periods
    types = set(conn.execute(select(rules.c.period_type).distinct()).scalars())
    if data_set is not None:
        ds = conn.execute(
            select(store.data_sets.c.period_type).where(store.data_sets.c.code == data_set)
        ).scalar()
        types &= {ds} if ds else set()
    query = (
        select(pt.c.code)
        .where(pt.c.start_date >= start, pt.c.end_date <= end, pt.c.type.in_(sorted(types)))
        .order_by(pt.c.start_date, pt.c.code)
    )
    return list(conn.execute(query).scalars())


def run_rules(
    conn: Connection,
    *,
    principal: Principal,
    units: list[str],
    periods: list[str],
    children: bool = True,
    rules: list[str] | None = None,
    data_set: str | None = None,
) -> list[Violation]:
    """Evaluate the rules in every period for every unit in view (and below it, with ``children``).

    Raises ValidationError when more than :data:`MAX_PAIRS` unit × period pairs would be checked.
    """
    require_action(principal, Action.VIEW)
    catalog = load_catalog(conn)
    ds = _data_set(catalog, data_set)
    chosen = load_rules(conn, catalog, codes=rules, data_set=ds)
    wanted = _period_objects(periods)
    if not wanted:  # nothing to check, but naming a unit outside the scope is still refused
        _visible(conn, principal, units, False, dt.date.today())
    plan = [(p, _visible(conn, principal, units, children, p.end)) for p in wanted]
    pairs = sum(len(ids) for _, ids in plan)
    if pairs > MAX_PAIRS:
        raise ValidationError(
            f"This would validate {pairs:,} unit × period pairs; at most {MAX_PAIRS:,} at once.",
            [
                Problem(
                    "too much to validate at once",
                    field="orgUnit/period",
                    value=pairs,
                    expected=f"a smaller unit or a shorter date range (at most {MAX_PAIRS:,} pairs)",
                )
            ],
        )
    period_ids = (
        dict(
            conn.execute(
                select(store.periods.c.code, store.periods.c.id).where(
                    store.periods.c.code.in_([p.id for p in wanted])
                )
            ).all()
        )
        if wanted
        else {}
    )
    out: list[Violation] = []
    for period, unit_ids in plan:
        mine = [r for r in chosen if r.period_type == period.type.value]
        if mine and unit_ids:
            out += _run_period(conn, catalog, mine, period, period_ids.get(period.id), unit_ids)
    return out


def _run_period(
    conn: Connection,
    catalog: Catalog,
    rules: Sequence[Rule],
    period: pe.Period,
    period_id: int | None,
    unit_ids: Sequence[int],
) -> list[Violation]:
    refs = frozenset(ref for rule in rules for ref in rule.refs)
    element_ids = {i for ref in refs if (i := _element_id(catalog, ref)) is not None}
    infos = _units_on(conn, unit_ids, period.end)
    raw = _load_values(conn, catalog, period_id, unit_ids, element_ids)
    out = []
    for unit in sorted(infos.values(), key=lambda u: u.code):
        values = _ref_values(catalog, refs, raw[unit.id])
        for rule in rules:
            if _applies(catalog, rule, unit) and (v := _evaluate(catalog, rule, values, unit, period.id)):
                out.append(v)
    return out


def check_form(
    conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str
) -> list[Violation]:
    """The rules of one form (data set, period, unit) it breaks, and its values outside bounds."""
    catalog = load_catalog(conn)
    ds = _data_set(catalog, data_set)
    assert ds is not None
    p = _period_objects([period])[0]
    unit_id = _visible(conn, principal, [unit], False, p.end)[0]
    info = _units_on(conn, [unit_id], p.end).get(unit_id) or _closed_unit(conn, unit_id)
    rules = load_rules(conn, catalog, data_set=ds, period_type=p.type.value)
    period_id = conn.execute(select(store.periods.c.id).where(store.periods.c.code == p.id)).scalar()
    raw = _load_values(conn, catalog, period_id, [unit_id], ds.element_ids)[unit_id]
    refs = frozenset(ref for rule in rules for ref in rule.refs)
    values = _ref_values(catalog, refs, raw)
    out = [v for rule in rules if (v := _evaluate(catalog, rule, values, info, p.id))]
    return out + _bound_violations(conn, catalog, info, p.id, raw)


def _closed_unit(conn: Connection, unit_id: int) -> UnitInfo:
    versions = registry_store.versions_of(conn, [unit_id])[unit_id]
    code = conn.execute(
        select(registry_store.units.c.code).where(registry_store.units.c.id == unit_id)
    ).scalar()
    last = versions[-1]
    return UnitInfo(unit_id, str(code), last.name_zh, last.name_en, last.type)


def _bound_violations(
    conn: Connection, catalog: Catalog, unit: UnitInfo, period: str, raw: Raw
) -> list[Violation]:
    mm = store.min_max
    rows = conn.execute(select(mm).where(mm.c.unit_id == unit.id)).all()
    out = []
    for r in rows:
        value = raw.get((r.data_element_id, r.coc_id))
        if value is None or r.min_value <= value <= r.max_value:
            continue
        element, coc = catalog.elements[r.data_element_id], catalog.option_combos[r.coc_id]
        zh, en = bound_messages(element, coc, value, r.min_value, r.max_value)
        out.append(
            Violation(
                MIN_MAX_RULE,
                "最小最大值范围",
                "Min–max bounds",
                Importance.MEDIUM.value,
                unit.code,
                unit.name_zh,
                unit.name_en,
                period,
                value,
                None,
                "min_max",
                zh,
                en,
                element.code,
                coc.code,
            )
        )
    return out


def _labels(element: Element, coc: OptionCombo) -> tuple[str, str]:
    if coc.code == DEFAULT:
        return element.name_zh, element.name_en
    return f"{element.name_zh}·{coc.name_zh}", f"{element.name_en}, {coc.name_en}"


def bound_messages(
    element: Element, coc: OptionCombo, value: float, low: float, high: float
) -> tuple[str, str]:
    zh, en = _labels(element, coc)
    side_zh, side_en = (
        ("低于最小值", "below the minimum") if value < low else ("高于最大值", "above the maximum")
    )
    span = f"{_number(low)}–{_number(high)}"
    return (
        f"{zh} ({_number(value)}) {side_zh}：正常范围为 {span}",
        f"{en} ({_number(value)}) is {side_en}: the expected range is {span}",
    )


# ---------------------------------------------------------------- outliers


@dataclass
class _Series:
    unit: UnitInfo
    element: Element
    coc: OptionCombo
    points: list[tuple[str, float]] = field(default_factory=list)  # (period, value)


def outliers(
    conn: Connection,
    *,
    principal: Principal,
    data_set: str | None,
    elements: list[str] | None,
    units: list[str],
    children: bool = True,
    start: dt.date,
    end: dt.date,
    algorithm: str = "Z_SCORE",
    threshold: float | None = None,
    max_results: int = 500,
) -> list[dict[str, Any]]:
    """Values far from the rest of their series (unit, element, combo over the periods in
    [start, end]), or outside stored min–max bounds; the furthest first."""
    require_action(principal, Action.VIEW)
    catalog = load_catalog(conn)
    limit = _check_outlier_args(algorithm, threshold, max_results, start, end)
    chosen = _numeric_elements(catalog, _data_set(catalog, data_set), elements or [])
    unit_ids = _visible(conn, principal, units, children, end)
    series = _series(conn, catalog, chosen, unit_ids, start, end)
    bounds = _bounds(conn, unit_ids) if algorithm == "MIN_MAX" else {}
    found: list[dict[str, Any]] = []
    for s in series:
        found += _judge(s, algorithm, limit, bounds)
    found.sort(key=lambda r: (-r["absDev"] if algorithm == "MIN_MAX" else -r["score"], r["ou"], r["pe"]))
    return found[:max_results]


def _check_outlier_args(
    algorithm: str, threshold: float | None, max_results: int, start: dt.date, end: dt.date
) -> float:
    problems = []
    if algorithm not in ALGORITHMS:
        problems.append(
            Problem("unknown algorithm", field="algorithm", value=algorithm, expected=", ".join(ALGORITHMS))
        )
    if threshold is not None and not (math.isfinite(threshold) and 0 < threshold <= 1000):
        problems.append(
            Problem(
                "out of range",
                field="threshold",
                value=threshold,
                expected="a number above 0 and at most 1000, e.g. 3",
            )
        )
    if not 1 <= max_results <= MAX_RESULTS:
        problems.append(
            Problem("out of range", field="maxResults", value=max_results, expected=f"1 to {MAX_RESULTS}")
        )
    if start > end:
        problems.append(
            Problem(
                "the start is after the end",
                field="startDate",
                value=start.isoformat(),
                expected=f"a date on or before {end.isoformat()}",
            )
        )
    if problems:
        raise ValidationError("The outlier detection cannot run with these parameters.", problems)
    return threshold if threshold is not None else DEFAULT_THRESHOLDS.get(algorithm, 3.0)


def _numeric_elements(catalog: Catalog, ds: DataSet | None, codes: Sequence[str]) -> list[Element]:
    problems = [
        Problem("unknown data element", field="dataElement", value=c, expected="the code of a data element")
        for c in codes
        if catalog.element(c) is None
    ]
    if ds is None and not codes:
        problems.append(
            Problem(
                "name a data set or data elements",
                field="ds",
                value=None,
                expected="a data set code (ds) or data element codes (de)",
            )
        )
    if problems:
        raise ValidationError("The outlier detection needs known data elements.", problems)
    ids = list(ds.element_ids) if ds else []
    ids += [e.id for c in codes if (e := catalog.element(c)) is not None]
    return [
        catalog.elements[i] for i in dict.fromkeys(ids) if catalog.elements[i].value_type in NUMERIC_TYPES
    ]


def _series(
    conn: Connection,
    catalog: Catalog,
    elements: Sequence[Element],
    unit_ids: Sequence[int],
    start: dt.date,
    end: dt.date,
) -> list[_Series]:
    pt = store.periods
    stored = conn.execute(
        select(pt.c.id, pt.c.code).where(pt.c.start_date >= start, pt.c.end_date <= end)
    ).all()
    codes = dict(stored)
    if not codes or not elements or not unit_ids:
        return []
    infos = _units_on(conn, unit_ids, end)
    dv = store.data_values
    out: dict[tuple[int, int, int], _Series] = {}
    for first in range(0, len(unit_ids), CHUNK):
        rows = conn.execute(
            select(dv.c.unit_id, dv.c.data_element_id, dv.c.coc_id, dv.c.period_id, dv.c.value).where(
                dv.c.unit_id.in_(list(unit_ids[first : first + CHUNK])),
                dv.c.data_element_id.in_([e.id for e in elements]),
                dv.c.period_id.in_(list(codes)),
            )
        )
        for unit_id, element_id, coc_id, period_id, text in rows:
            element = catalog.elements[element_id]
            number = numeric(element.value_type, text)
            if number is None or unit_id not in infos:
                continue
            key = (unit_id, element_id, coc_id)
            if key not in out:
                out[key] = _Series(infos[unit_id], element, catalog.option_combos[coc_id])
            out[key].points.append((codes[period_id], number))
    return list(out.values())


def _bounds(conn: Connection, unit_ids: Sequence[int]) -> dict[tuple[int, int, int], tuple[float, float]]:
    mm = store.min_max
    out = {}
    for start in range(0, len(unit_ids), CHUNK):
        for r in conn.execute(select(mm).where(mm.c.unit_id.in_(list(unit_ids[start : start + CHUNK])))):
            out[(r.unit_id, r.data_element_id, r.coc_id)] = (r.min_value, r.max_value)
    return out


def _judge(
    s: _Series, algorithm: str, threshold: float, bounds: Mapping[tuple[int, int, int], tuple[float, float]]
) -> list[dict[str, Any]]:
    numbers = [v for _, v in s.points]
    if algorithm == "MIN_MAX":
        found = bounds.get((s.unit.id, s.element.id, s.coc.id))
        if found is None:
            return []
        low, high = found
        return [
            _outlier(
                s,
                p,
                v,
                {
                    "lowerBound": low,
                    "upperBound": high,
                    "absDev": low - v if v < low else v - high,
                    "score": None,
                },
            )
            for p, v in s.points
            if not low <= v <= high
        ]
    if len(numbers) < MIN_SERIES:
        return []
    if algorithm == "Z_SCORE":
        mean, sd = statistics.fmean(numbers), statistics.pstdev(numbers)
        if sd == 0:
            return []
        stats = {
            "mean": mean,
            "stdDev": sd,
            "lowerBound": mean - threshold * sd,
            "upperBound": mean + threshold * sd,
        }
        return [
            _outlier(
                s,
                p,
                v,
                {**stats, "absDev": abs(v - mean), "zScore": abs(v - mean) / sd, "score": abs(v - mean) / sd},
            )
            for p, v in s.points
            if abs(v - mean) / sd > threshold
        ]
    median = statistics.median(numbers)
    mad = statistics.median([abs(v - median) for v in numbers])
    if mad == 0:
        return []
    stats = {
        "median": median,
        "medianAbsDeviation": mad,
        "lowerBound": median - threshold * mad / 0.6745,
        "upperBound": median + threshold * mad / 0.6745,
    }
    return [
        _outlier(
            s,
            p,
            v,
            {
                **stats,
                "absDev": abs(v - median),
                "modifiedZScore": 0.6745 * abs(v - median) / mad,
                "score": 0.6745 * abs(v - median) / mad,
            },
        )
        for p, v in s.points
        if 0.6745 * abs(v - median) / mad > threshold
    ]


def _outlier(s: _Series, period: str, value: float, stats: dict[str, Any]) -> dict[str, Any]:
    zh, en = _labels(s.element, s.coc)
    low, high = _number(stats["lowerBound"]), _number(stats["upperBound"])
    where_zh, where_en = f"{s.unit.name_zh} {period}", f"{s.unit.name_en} {period}"
    if stats.get("score") is None:
        reason_zh = f"{where_zh}：{zh} = {_number(value)}，超出设定范围 {low}–{high}"
        reason_en = f"{where_en}: {en} = {_number(value)} is outside its bounds {low}–{high}"
    else:
        score = f"{stats['score']:.1f}"
        reason_zh = (
            f"{where_zh}：{zh} = {_number(value)}，远离该单位其他时期的值"
            f"（得分 {score}，正常范围 {low}–{high}）"
        )
        reason_en = (
            f"{where_en}: {en} = {_number(value)} is far from this unit's other periods "
            f"(score {score}; usual range {low}–{high})"
        )
    return {
        "de": s.element.code,
        "coc": s.coc.code,
        "ou": s.unit.code,
        "pe": period,
        "value": value,
        "deName": {"zh": s.element.name_zh, "en": s.element.name_en},
        "ouName": {"zh": s.unit.name_zh, "en": s.unit.name_en},
        **stats,
        "reason_zh": reason_zh,
        "reason_en": reason_en,
    }


# ---------------------------------------------------------------- min–max bounds


def _resolve_cell(
    conn: Connection, catalog: Catalog, element: str, coc: str | None
) -> tuple[Element, OptionCombo]:
    found = catalog.element(element)
    if found is None or found.value_type not in NUMERIC_TYPES:
        raise ValidationError(
            "Unknown or non-numeric data element.",
            [
                Problem(
                    "unknown or non-numeric data element",
                    field="dataElement",
                    value=element,
                    expected="the code of a numeric data element",
                )
            ],
        )
    combo = catalog.option_combo(found, coc)
    if combo is None:
        known = ", ".join(c.code for c in catalog.cocs_of(found.combo_id))
        raise ValidationError(
            "Unknown option combo.",
            [
                Problem(
                    f"data element {found.code} has no such option combo",
                    field="optionCombo",
                    value=coc,
                    expected=known,
                )
            ],
        )
    return found, combo


def set_min_max(
    conn: Connection,
    *,
    principal: Principal,
    unit: str,
    element: str,
    coc: str | None,
    min_value: float,
    max_value: float,
) -> dict[str, Any]:
    """Set a unit's bounds for one cell by hand (generation will not overwrite them)."""
    unit_id = _visible(conn, principal, [unit], False, dt.date.today(), Action.DATA_CAPTURE)[0]
    the_element, the_coc = _resolve_cell(conn, load_catalog(conn), element, coc)
    if not (math.isfinite(min_value) and math.isfinite(max_value)) or min_value > max_value:
        raise ValidationError(
            "The minimum must not exceed the maximum.",
            [
                Problem(
                    "min above max",
                    field="min",
                    value=min_value,
                    expected=f"a finite number at most {max_value}",
                )
            ],
        )
    key = {"unit_id": unit_id, "data_element_id": the_element.id, "coc_id": the_coc.id}
    before = _write_bound(conn, key, min_value, max_value, generated=False)
    after = {"min": min_value, "max": max_value, "generated": False}
    audit.record(
        conn,
        actor=principal.username,
        action="update" if before else "create",
        entity="min_max",
        entity_key=f"{unit}/{the_element.code}/{the_coc.code}",
        before=before,
        after=after,
    )
    return {"source": unit, "dataElement": the_element.code, "optionCombo": the_coc.code, **after}


def _write_bound(
    conn: Connection, key: dict[str, int], low: float, high: float, generated: bool
) -> dict[str, Any] | None:
    mm = store.min_max
    where = [mm.c[k] == v for k, v in key.items()]
    old = conn.execute(select(mm).where(*where)).first()
    values = {"min_value": low, "max_value": high, "generated": generated}
    if old is None:
        conn.execute(insert(mm).values(**key, **values))
        return None
    conn.execute(update(mm).where(*where).values(**values))
    return {"min": old.min_value, "max": old.max_value, "generated": bool(old.generated)}


def delete_min_max(
    conn: Connection, *, principal: Principal, unit: str, element: str, coc: str | None
) -> None:
    unit_id = _visible(conn, principal, [unit], False, dt.date.today(), Action.DATA_CAPTURE)[0]
    the_element, the_coc = _resolve_cell(conn, load_catalog(conn), element, coc)
    mm = store.min_max
    where = [mm.c.unit_id == unit_id, mm.c.data_element_id == the_element.id, mm.c.coc_id == the_coc.id]
    if conn.execute(select(mm.c.unit_id).where(*where)).first() is None:
        raise NotFound(f"No min–max bounds for {the_element.code}/{the_coc.code} at {unit}.")
    conn.execute(delete(mm).where(*where))
    audit.record(
        conn,
        actor=principal.username,
        action="delete",
        entity="min_max",
        entity_key=f"{unit}/{the_element.code}/{the_coc.code}",
    )


def min_max_of(
    conn: Connection,
    *,
    principal: Principal,
    units: list[str],
    children: bool = False,
    data_set: str | None = None,
    elements: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Stored bounds at the units (and below them) the principal may see."""
    require_action(principal, Action.VIEW)
    catalog = load_catalog(conn)
    ds = _data_set(catalog, data_set)
    unit_ids = _visible(conn, principal, units, children, dt.date.today())
    wanted = set(ds.element_ids) if ds else None
    if elements:
        wanted = (wanted or set()) | {e.id for c in elements if (e := catalog.element(c))}
    codes = (
        dict(
            conn.execute(
                select(registry_store.units.c.id, registry_store.units.c.code).where(
                    registry_store.units.c.id.in_(unit_ids)
                )
            ).all()
        )
        if unit_ids
        else {}
    )
    out = []
    for (unit_id, element_id, coc_id), (low, high, generated) in sorted(_bound_rows(conn, unit_ids).items()):
        if wanted is None or element_id in wanted:
            out.append(
                {
                    "source": codes[unit_id],
                    "dataElement": catalog.elements[element_id].code,
                    "optionCombo": catalog.option_combos[coc_id].code,
                    "min": low,
                    "max": high,
                    "generated": generated,
                }
            )
    return out


def _bound_rows(
    conn: Connection, unit_ids: Sequence[int]
) -> dict[tuple[int, int, int], tuple[float, float, bool]]:
    mm = store.min_max
    out = {}
    for start in range(0, len(unit_ids), CHUNK):
        for r in conn.execute(select(mm).where(mm.c.unit_id.in_(list(unit_ids[start : start + CHUNK])))):
            out[(r.unit_id, r.data_element_id, r.coc_id)] = (r.min_value, r.max_value, bool(r.generated))
    return out


def generate_min_max(
    conn: Connection,
    *,
    principal: Principal,
    data_set: str,
    units: list[str],
    children: bool = True,
    factor: float = 2.0,
) -> dict[str, int]:
    """Bounds mean ± factor·sd from every stored value of the data set's numeric elements at the
    units (a series needs 3 values; a series never below 0 gets a minimum of at least 0; integer
    elements get whole-number bounds). Bounds set by hand are kept."""
    if not (math.isfinite(factor) and 0 < factor <= 100):
        raise ValidationError(
            "The factor is out of range.",
            [
                Problem(
                    "out of range", field="factor", value=factor, expected="a number above 0 and at most 100"
                )
            ],
        )
    catalog = load_catalog(conn)
    ds = _data_set(catalog, data_set)
    assert ds is not None
    today = dt.date.today()
    unit_ids = _visible(conn, principal, units, children, today, Action.DATA_CAPTURE)
    elements = _numeric_elements(catalog, ds, [])
    series = _series(
        conn, catalog, elements, unit_ids, dt.date(pe.FIRST_YEAR, 1, 1), dt.date(pe.LAST_YEAR, 12, 31)
    )
    existing = _bound_rows(conn, unit_ids)
    counts = {"generated": 0, "keptManual": 0, "skipped": 0}
    for s in series:
        key = (s.unit.id, s.element.id, s.coc.id)
        if key in existing and not existing[key][2]:
            counts["keptManual"] += 1
        elif len(s.points) < MIN_SERIES:
            counts["skipped"] += 1
        else:
            low, high = generated_bounds([v for _, v in s.points], factor, s.element.value_type)
            _write_bound(
                conn, {"unit_id": key[0], "data_element_id": key[1], "coc_id": key[2]}, low, high, True
            )
            counts["generated"] += 1
    audit.record(
        conn,
        actor=principal.username,
        action="generate",
        entity="min_max",
        entity_key=f"{data_set}/{','.join(units)}",
        after={**counts, "factor": factor},
    )
    return counts


def generated_bounds(numbers: Sequence[float], factor: float, value_type: ValueType) -> tuple[float, float]:
    mean, sd = statistics.fmean(numbers), statistics.pstdev(numbers)
    low, high = mean - factor * sd, mean + factor * sd
    if min(numbers) >= 0:
        low = max(0.0, low)
    if value_type is ValueType.INTEGER:
        low, high = float(math.floor(low)), float(math.ceil(high))
    if value_type is ValueType.PERCENTAGE:
        low, high = max(0.0, low), min(100.0, high)
    return low, high
