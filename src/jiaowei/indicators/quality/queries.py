"""Data quality reads: validation rules run over stored values, and one form's values outside bounds.

Validation follows DHIS2: each rule is evaluated for each unit's OWN values (no aggregation up
the tree) in each period of the rule's period type, at the units that report a data set holding
any of the rule's elements. ``#{DE}`` is the sum over the element's option combos, ``#{DE.COC}``
one combo. A side skipped by its missing value strategy makes the rule not apply there: a skipped
rule is not a violation. Each violation says in plain words, in Chinese and English, which values
broke which rule.

Outlier detection and the setting of min–max bounds are in :mod:`jiaowei.indicators.quality.outliers`;
:func:`check_form` reads the stored bounds itself, so that module depends on this one and not back.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, select

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators import expressions as ex
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import (
    Catalog,
    DataSet,
    Element,
    OptionCombo,
    kept_across_requests,
    load_catalog,
)
from jiaowei.indicators.model import DEFAULT, Importance, numeric
from jiaowei.registry import queries as registry

CHUNK = 500
MAX_PAIRS = 5_000
"""The most unit × period pairs one validation run may cover."""
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
    references are all elements of ``data_set``.

    The process keeps every rule under the catalog's stamp (migration 0020 added the rules' table to
    it), so a form or a page that checks values reads no rule once they are kept (issue 17)."""
    table = store.validation_rules
    every: tuple[Rule, ...] = kept_across_requests(conn, "validation_rules", lambda: tuple(
        _rule(r) for r in conn.execute(select(table).order_by(table.c.code))))
    wanted = None if codes is None else set(codes)
    found = [r for r in every if (wanted is None or r.code in wanted)
             and (period_type is None or r.period_type == period_type)]
    if codes is not None:
        unknown = sorted(set(codes) - {r.code for r in found})
        if unknown:
            raise ValidationError(
                N_("Unknown validation rules."),
                [
                    Problem(
                        N_("unknown validation rule"), field="rules", value=c,
                        expected=N_("the code of a saved rule")
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


def number_text(value: float | None) -> str:
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
    lv, rv = number_text(left.value), number_text(right.value)
    return f"{lz} {zh} {rz}：实际 {lv} {fails} {rv}", f"{le} {en} {re_}: {lv} {fails} {rv}"


def _evaluate(
    catalog: Catalog, rule: Rule, values: ex.Values, unit: registry.Unit, period: str
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


def visible_units(
    conn: Connection,
    principal: Principal,
    codes: Sequence[str],
    children: bool,
    day: dt.date,
    action: Action = Action.VIEW,
) -> list[int]:
    """Ids of the units named (and below them, with ``children``) on ``day``, scope checked."""
    ids = registry.ids_of(conn, codes)
    found: set[int] = set()
    for code in codes:
        if code not in ids:
            raise NotFound(M_("No unit with code {code!r}.", code=code))
        require_unit(conn, principal, action, ids[code], day, code)
        found.update(registry.subtree_ids(conn, ids[code], day) if children else [ids[code]])
    return sorted(found)


# ---------------------------------------------------------------- running rules


def _period_objects(codes: Sequence[str]) -> list[pe.Period]:
    problems = [
        Problem("not a period", field="periods", value=c, expected=N_("e.g. 2020, 2020Q3 or 202011"))
        for c in codes
        if not pe.is_valid(c)
    ]
    if problems:
        raise ValidationError(N_("The periods are not valid."), problems)
    return [pe.parse(c) for c in codes]


def data_set_of(catalog: Catalog, code: str | None) -> DataSet | None:
    if code is None:
        return None
    ds = catalog.data_set(code)
    if ds is None:
        raise ValidationError(
            N_("Unknown data set."),
            [Problem(N_("unknown data set"), field="dataSet", value=code,
                     expected=N_("the code of a data set"))],
        )
    return ds


def _applies(catalog: Catalog, rule: Rule, unit: registry.Unit) -> bool:
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
    ds = data_set_of(catalog, data_set)
    chosen = load_rules(conn, catalog, codes=rules, data_set=ds)
    wanted = _period_objects(periods)
    if not wanted:  # nothing to check, but naming a unit outside the scope is still refused
        visible_units(conn, principal, units, False, clock.today())
    plan = [(p, visible_units(conn, principal, units, children, p.end)) for p in wanted]
    pairs = sum(len(ids) for _, ids in plan)
    if pairs > MAX_PAIRS:
        raise ValidationError(
            M_("This would validate {pairs:,} unit × period pairs; at most {most:,} at once.",
               pairs=pairs, most=MAX_PAIRS),
            [
                Problem(
                    M_("too much to validate at once"),
                    field="orgUnit/period",
                    value=pairs,
                    expected=M_("a smaller unit or a shorter date range (at most {most:,} pairs)",
                                most=MAX_PAIRS),
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
    raw = _load_values(conn, catalog, period_id, unit_ids, element_ids)
    out = []
    for unit in registry.units_on(conn, period.end, ids=unit_ids):
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
    ds = data_set_of(catalog, data_set)
    assert ds is not None
    p = _period_objects([period])[0]
    unit_id = visible_units(conn, principal, [unit], False, p.end)[0]
    info = registry.unit_on(conn, unit_id, p.end) or registry.last_known(conn, [unit_id])[unit_id]
    rules = load_rules(conn, catalog, data_set=ds, period_type=p.type.value)
    period_id = conn.execute(select(store.periods.c.id).where(store.periods.c.code == p.id)).scalar()
    raw = _load_values(conn, catalog, period_id, [unit_id], ds.element_ids)[unit_id]
    refs = frozenset(ref for rule in rules for ref in rule.refs)
    values = _ref_values(catalog, refs, raw)
    out = [v for rule in rules if (v := _evaluate(catalog, rule, values, info, p.id))]
    return out + _bound_violations(conn, catalog, info, p.id, raw)


def _bound_violations(
    conn: Connection, catalog: Catalog, unit: registry.Unit, period: str, raw: Raw
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


def cell_labels(element: Element, coc: OptionCombo) -> tuple[str, str]:
    if coc.code == DEFAULT:
        return element.name_zh, element.name_en
    return f"{element.name_zh}·{coc.name_zh}", f"{element.name_en}, {coc.name_en}"


def bound_messages(
    element: Element, coc: OptionCombo, value: float, low: float, high: float
) -> tuple[str, str]:
    zh, en = cell_labels(element, coc)
    side_zh, side_en = (
        ("低于最小值", "below the minimum") if value < low else ("高于最大值", "above the maximum")
    )
    span = f"{number_text(low)}–{number_text(high)}"
    return (
        f"{zh} ({number_text(value)}) {side_zh}：正常范围为 {span}",
        f"{en} ({number_text(value)}) is {side_en}: the expected range is {span}",
    )
