"""Targets: what an indicator should reach at a unit in a period, and how it stands against it.

A target is on the indicator's value scale (86.0 for 86%; a 1:200 ratio is 0.005) with an
*at-risk margin* (a value short of the target by no more than the margin is at risk, not missed)
and an optional *benchmark* (e.g. the national standard of 80%). The commission sets the city's
targets and the districts their own: setting one needs ``data.approve`` on the unit.

- :func:`set_target` sets (or replaces) one target; :func:`set_trajectory` sets yearly targets
  on a straight line between a start and an end value; :func:`cascade` copies a unit's target to
  each direct child that reports the indicator (the same value for rates; for counts each child's
  current share of the numerator, rounded to the indicator's decimals by the largest remainder so
  that the children's targets add up to the parent's), marking them ``cascaded_from`` and keeping a
  child's own target unless asked.

Reading targets and comparing values with them is in ``queries``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.db.engine import inserted_id
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import Catalog, load_catalog
from jiaowei.indicators.model import Display
from jiaowei.indicators.targets.compute import (
    IndicatorDef,
    load_indicator,
    numerators,
    parse_period,
    visible_unit,
)
from jiaowei.indicators.targets.model import CascadeResult, Target, apportion
from jiaowei.indicators.targets.queries import as_target, reporting_children, target_rows
from jiaowei.indicators.values.checking import ensure_periods
from jiaowei.registry import queries as registry

METHODS = ("same", "current_share")
MAX_TRAJECTORY = 50
"""A trajectory spans at most this many periods."""
SHARE_LOOKBACK = 10
"""How many periods back cascade(current_share) looks for current data to split by."""


# ---------------------------------------------------------------- trajectories (pure)


def interpolate(start: float, end: float, count: int) -> list[float]:
    """``count`` values on a straight line from ``start`` to ``end`` (both included)."""
    if count == 1:
        return [end]
    return [start + (end - start) * i / (count - 1) for i in range(count)]


# ---------------------------------------------------------------- writing


def _finite(value: Any, field: str, *, minimum: float | None = None) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (minimum is not None and value < minimum):
        expected = "a finite number" + (f" of at least {minimum:g}" if minimum is not None else "")
        raise ValidationError(
            M_("The {field} is not valid.", field=field),
            [Problem(N_("not a valid number"), field=field, value=value, expected=expected)],
        )
    return float(value)


def _text(value: str, field: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(
            M_("The {field} is too long.", field=field),
            [Problem("too long", field=field, value=str(value)[:50],
                     expected=M_("at most {limit} characters", limit=limit))],
        )
    return value.strip()


@dataclass(frozen=True)
class _Spec:
    value: float
    at_risk_margin: float
    benchmark: float | None
    benchmark_label: str
    note: str


def _spec(value: Any, at_risk_margin: Any, benchmark: Any, benchmark_label: str, note: str) -> _Spec:
    return _Spec(
        _finite(value, "value"),
        _finite(at_risk_margin, "atRiskMargin", minimum=0.0),
        None if benchmark is None else _finite(benchmark, "benchmark"),
        _text(benchmark_label, "benchmarkLabel", 230),
        _text(note, "note", 5000),
    )


def _write(
    conn: Connection,
    principal: Principal,
    definition: IndicatorDef,
    unit: registry.Unit,
    period: pe.Period,
    spec: _Spec,
    cascaded_from: int | None = None,
) -> Target:
    """Insert or replace the target row; one audit entry with before and after."""
    period_id = ensure_periods(conn, [period.id])[period.id]
    t = store.targets
    key = (t.c.indicator_id == definition.id, t.c.unit_id == unit.id, t.c.period_id == period_id)
    old = conn.execute(select(t).where(*key)).first()
    values = {
        "value": spec.value,
        "at_risk_margin": spec.at_risk_margin,
        "benchmark": spec.benchmark,
        "benchmark_label": spec.benchmark_label,
        "note": spec.note,
        "cascaded_from": cascaded_from,
        "set_by": principal.username,
        "set_at": dt.datetime.now(dt.UTC),
    }
    if old is None:
        inserted_id(
            conn.execute(
                insert(t).values(indicator_id=definition.id, unit_id=unit.id, period_id=period_id, **values)
            )
        )
    else:
        conn.execute(update(t).where(t.c.id == old.id).values(**values))
    shown = {k: v for k, v in values.items() if k not in ("set_at", "set_by")}
    before = {k: getattr(old, k) for k in shown} if old is not None else None
    audit.record(
        conn,
        actor=principal.username,
        action="create" if old is None else "update",
        entity="target",
        entity_key=f"{definition.code}/{unit.code}/{period.id}",
        before=before,
        after=shown,
    )
    return as_target(
        target_rows(conn, indicator_id=definition.id, unit_id=unit.id, period=period.id)[0], definition, unit
    )


def set_target(
    conn: Connection,
    *,
    principal: Principal,
    indicator: str,
    unit: str,
    period: str,
    value: float,
    at_risk_margin: float = 0.0,
    benchmark: float | None = None,
    benchmark_label: str = "",
    note: str = "",
) -> Target:
    """Set the unit's target for the indicator and period (replacing any, cascaded or not)."""
    require_action(principal, Action.DATA_APPROVE)
    p = parse_period(period)
    definition = load_indicator(conn, indicator)
    where = visible_unit(conn, principal, unit, p.end, Action.DATA_APPROVE)
    return _write(
        conn, principal, definition, where, p, _spec(value, at_risk_margin, benchmark, benchmark_label, note)
    )


def set_trajectory(
    conn: Connection,
    *,
    principal: Principal,
    indicator: str,
    unit: str,
    start_period: str,
    end_period: str,
    start_value: float,
    end_value: float,
    at_risk_margin: float = 0.0,
    benchmark: float | None = None,
    benchmark_label: str = "",
    note: str = "",
) -> list[Target]:
    """Targets for every period from ``start_period`` to ``end_period`` (same type), on a line."""
    require_action(principal, Action.DATA_APPROVE)
    first, last = parse_period(start_period, "startPeriod"), parse_period(end_period, "endPeriod")
    if first.type != last.type or last < first:
        raise ValidationError(
            N_("The trajectory's periods are not valid."),
            [
                Problem(
                    N_("the end period must be of the same type as the start and not before it"),
                    field="endPeriod",
                    value=end_period,
                    expected=M_("a {period_type} period from {first} on",
                                period_type=first.type.value, first=first.id),
                )
            ],
        )
    steps = pe.periods_between(first.type, first.start, last.end)
    if len(steps) > MAX_TRAJECTORY:
        raise ValidationError(
            N_("The trajectory is too long."),
            [
                Problem(
                    N_("too many periods"),
                    field="endPeriod",
                    value=end_period,
                    expected=M_("at most {most} periods after {first}", most=MAX_TRAJECTORY, first=first.id),
                )
            ],
        )
    definition = load_indicator(conn, indicator)
    where = visible_unit(conn, principal, unit, last.end, Action.DATA_APPROVE)
    base = _spec(start_value, at_risk_margin, benchmark, benchmark_label, note)
    _finite(end_value, "endValue")
    note = base.note or f"trajectory {first.id}–{last.id}: {start_value:g} → {end_value:g}"
    return [
        _write(
            conn,
            principal,
            definition,
            where,
            step,
            _Spec(v, base.at_risk_margin, base.benchmark, base.benchmark_label, note),
        )
        for step, v in zip(steps, interpolate(float(start_value), float(end_value), len(steps)), strict=True)
    ]


def delete_target(conn: Connection, *, principal: Principal, indicator: str, unit: str, period: str) -> None:
    """Delete one target; targets cascaded from it become the children's own."""
    require_action(principal, Action.DATA_APPROVE)
    p = parse_period(period)
    definition = load_indicator(conn, indicator)
    where = visible_unit(conn, principal, unit, p.end, Action.DATA_APPROVE)
    found = target_rows(conn, indicator_id=definition.id, unit_id=where.id, period=p.id)
    if not found:
        raise NotFound(M_("No target for {indicator} at {unit} in {period}.",
                          indicator=definition.code, unit=where.code, period=p.id))
    t = store.targets
    conn.execute(update(t).where(t.c.cascaded_from == found[0].id).values(cascaded_from=None))
    conn.execute(delete(t).where(t.c.id == found[0].id))
    audit.record(
        conn,
        actor=principal.username,
        action="delete",
        entity="target",
        entity_key=f"{definition.code}/{where.code}/{p.id}",
        before={"value": found[0].value},
    )


def cascade(
    conn: Connection,
    *,
    principal: Principal,
    indicator: str,
    unit: str,
    period: str,
    method: str = "same",
    overwrite: bool = False,
    unit_types: Sequence[str] = (),
) -> CascadeResult:
    """Copy the unit's target to each direct child that reports the indicator; a child's own target is
    kept unless ``overwrite``.

    ``same`` gives each child the parent's value; ``current_share`` splits a count by each child's
    share of the numerator, in whole steps of the indicator's decimals that add up to the parent's
    target (largest remainder; the margin and benchmark are split the same way). Children that do
    not report the indicator (see :func:`queries.reporting_children`) get nothing. ``unit_types``
    limits the copies further to children of those types (e.g. ``district_bureau``).
    """
    require_action(principal, Action.DATA_APPROVE)
    if method not in METHODS:
        raise ValidationError(
            N_("Unknown cascade method."),
            [Problem(N_("unknown method"), field="method", value=method, expected=", ".join(METHODS))],
        )
    p = parse_period(period)
    definition = load_indicator(conn, indicator)
    where = visible_unit(conn, principal, unit, p.end, Action.DATA_APPROVE)
    found = target_rows(conn, indicator_id=definition.id, unit_id=where.id, period=p.id)
    if not found:
        raise NotFound(M_("No target for {indicator} at {unit} in {period} to cascade.",
                          indicator=definition.code, unit=where.code, period=p.id))
    parent = found[0]
    catalog = load_catalog(conn)
    children = reporting_children(
        conn, definition, where, registry.units_on(conn, p.end, parent_id=where.id, types=unit_types or None),
        p.end, catalog)
    if method == "current_share" and definition.display != Display.NUMBER:
        raise ValidationError(
            N_("A rate is cascaded with the same value."),
            [
                Problem(
                    N_("current_share splits counts; this indicator is a rate"),
                    field="method",
                    value="current_share",
                    expected="same",
                )
            ],
        )
    if not children:
        return CascadeResult([], [], None)
    if method == "same":
        specs, basis = {c.id: _Spec(parent.value, parent.at_risk_margin, parent.benchmark,
                                    parent.benchmark_label, parent.note) for c in children}, None
    else:
        shares, basis = _shares(conn, definition, children, p, catalog)
        specs = _split(parent, shares, definition.decimals)
    written, kept = [], []
    for child in children:
        own = target_rows(conn, indicator_id=definition.id, unit_id=child.id, period=p.id)
        if own and own[0].cascaded_from is None and not overwrite:
            kept.append(child.code)
            continue
        spec = specs[child.id]
        written.append(_write(conn, principal, definition, child, p, spec, cascaded_from=parent.id))
    return CascadeResult(written, kept, basis)


def default_method(definition: IndicatorDef) -> str:
    """``current_share`` for a count (a number over the constant 1, e.g. pupils), else ``same``."""
    is_count = definition.display == Display.NUMBER and definition.denominator.strip() == "1"
    return "current_share" if is_count else "same"


def _split(parent: Any, shares: dict[int, float], decimals: int) -> dict[int, _Spec]:
    """The parent's value, margin and benchmark split by ``shares`` (largest remainder, see apportion)."""
    ids, weights = list(shares), list(shares.values())
    values = apportion(parent.value, weights, decimals=decimals)
    margins = apportion(parent.at_risk_margin, weights, decimals=decimals)
    benchmarks = (apportion(parent.benchmark, weights, decimals=decimals) if parent.benchmark is not None
                  else [None] * len(ids))
    return {uid: _Spec(v, m, b, parent.benchmark_label, parent.note)
            for uid, v, m, b in zip(ids, values, margins, benchmarks, strict=True)}


def _shares(
    conn: Connection, definition: IndicatorDef, children: list[registry.Unit], period: pe.Period,
    catalog: Catalog,
) -> tuple[dict[int, float], str]:
    """Each child's share of the children's summed numerator, in the latest period with data."""
    basis = period
    for _ in range(SHARE_LOOKBACK):
        found = {uid: max(value, 0.0) for uid, value in
                 numerators(conn, definition, [c.id for c in children], basis, catalog).items()}
        total = math.fsum(found.values())
        if total > 0:
            return {c.id: found.get(c.id, 0.0) / total for c in children}, basis.id
        basis = pe.previous_period(basis)
    raise ValidationError(
        N_("There is no current data to split the target by."),
        [
            Problem(
                N_("no numerator data at the children"),
                field="method",
                value="current_share",
                expected=M_("data in {period} or the {count} periods before it, or method same",
                            period=period.id, count=SHARE_LOOKBACK - 1),
            )
        ],
    )
