"""Outliers and min–max bounds: values far from the rest of their series, and the bounds that hold them.

Outliers are judged per series (one unit, element and option combo over the periods asked for)
by z-score, modified z-score or stored min–max bounds. Min–max bounds are set by hand or
generated from history (mean ± factor·sd); generation never overwrites bounds set by hand.
A form's values outside its bounds are reported with its rule violations, by
:func:`jiaowei.indicators.quality.queries.check_form`.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from jiaowei import clock
from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, Element, OptionCombo, load_catalog
from jiaowei.indicators.model import INTEGER_TYPES, NUMERIC_TYPES, ValueType, numeric
from jiaowei.indicators.quality.queries import (
    CHUNK,
    cell_labels,
    data_set_of,
    number_text,
    visible_units,
)
from jiaowei.registry import queries as registry

MAX_RESULTS = 10_000
ALGORITHMS = ("Z_SCORE", "MOD_Z_SCORE", "MIN_MAX")
DEFAULT_THRESHOLDS = {"Z_SCORE": 3.0, "MOD_Z_SCORE": 3.5, "MIN_MAX": 0.0}
MIN_SERIES = 3
"""The fewest values a series needs for a z-score or for generated bounds."""


# ---------------------------------------------------------------- outliers


@dataclass
class _Series:
    unit: registry.Unit
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
    [start, end]), or outside stored min–max bounds; the furthest first.

    Each is a dict in DHIS2's outlierDetection shape (its keys depend on the algorithm), which
    ``/api/outlierDetection`` passes through as is, plus names and a reason in both languages."""
    require_action(principal, Action.VIEW)
    catalog = load_catalog(conn)
    limit = _check_outlier_args(algorithm, threshold, max_results, start, end)
    chosen = _numeric_elements(catalog, data_set_of(catalog, data_set), elements or [])
    unit_ids = visible_units(conn, principal, units, children, end)
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
            Problem(N_("unknown algorithm"), field="algorithm", value=algorithm,
                    expected=", ".join(ALGORITHMS))
        )
    if threshold is not None and not (math.isfinite(threshold) and 0 < threshold <= 1000):
        problems.append(
            Problem(
                "out of range",
                field="threshold",
                value=threshold,
                expected=N_("a number above 0 and at most 1000, e.g. 3"),
            )
        )
    if not 1 <= max_results <= MAX_RESULTS:
        problems.append(
            Problem("out of range", field="maxResults", value=max_results, expected=M_("1 to {most}",
                                                                                       most=MAX_RESULTS))
        )
    if start > end:
        problems.append(
            Problem(
                N_("the start is after the end"),
                field="startDate",
                value=start.isoformat(),
                expected=M_("a date on or before {day}", day=end.isoformat()),
            )
        )
    if problems:
        raise ValidationError(N_("The outlier detection cannot run with these parameters."), problems)
    return threshold if threshold is not None else DEFAULT_THRESHOLDS.get(algorithm, 3.0)


def _numeric_elements(catalog: Catalog, ds: DataSet | None, codes: Sequence[str]) -> list[Element]:
    problems = [
        Problem(M_("unknown data element"), field="dataElement", value=c,
                expected=M_("the code of a data element"))
        for c in codes
        if catalog.element(c) is None
    ]
    if ds is None and not codes:
        problems.append(
            Problem(
                M_("name a data set or data elements"),
                field="ds",
                value=None,
                expected=M_("a data set code (ds) or data element codes (de)"),
            )
        )
    if problems:
        raise ValidationError(M_("The outlier detection needs known data elements."), problems)
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
    infos = {u.id: u for u in registry.units_on(conn, end, ids=unit_ids)}
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
    """The series' outliers, in DHIS2's outlierDetection shape (see :func:`outliers`)."""
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
    """One outlier in DHIS2's outlierDetection shape, the algorithm's ``stats`` among its keys."""
    zh, en = cell_labels(s.element, s.coc)
    low, high = number_text(stats["lowerBound"]), number_text(stats["upperBound"])
    where_zh, where_en = f"{s.unit.name_zh} {period}", f"{s.unit.name_en} {period}"
    if stats.get("score") is None:
        reason_zh = f"{where_zh}：{zh} = {number_text(value)}，超出设定范围 {low}–{high}"
        reason_en = f"{where_en}: {en} = {number_text(value)} is outside its bounds {low}–{high}"
    else:
        score = f"{stats['score']:.1f}"
        reason_zh = (
            f"{where_zh}：{zh} = {number_text(value)}，远离该单位其他时期的值"
            f"（得分 {score}，正常范围 {low}–{high}）"
        )
        reason_en = (
            f"{where_en}: {en} = {number_text(value)} is far from this unit's other periods "
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
            N_("Unknown or non-numeric data element."),
            [
                Problem(
                    N_("unknown or non-numeric data element"),
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
            N_("Unknown option combo."),
            [
                Problem(
                    M_("data element {element} has no such option combo", element=found.code),
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
    """Set a unit's bounds for one cell by hand (generation will not overwrite them); answers the
    bounds in DHIS2's minMaxDataElements shape, a dict the API passes through as is."""
    unit_id = visible_units(conn, principal, [unit], False, clock.today(), Action.DATA_CAPTURE)[0]
    the_element, the_coc = _resolve_cell(conn, load_catalog(conn), element, coc)
    if not (math.isfinite(min_value) and math.isfinite(max_value)) or min_value > max_value:
        raise ValidationError(
            N_("The minimum must not exceed the maximum."),
            [
                Problem(
                    N_("min above max"),
                    field="min",
                    value=min_value,
                    expected=M_("a finite number at most {max_value}", max_value=max_value),
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
    """Store the bounds; the old ones as the audit log's ``before`` (a dict), None if there were none."""
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
    unit_id = visible_units(conn, principal, [unit], False, clock.today(), Action.DATA_CAPTURE)[0]
    the_element, the_coc = _resolve_cell(conn, load_catalog(conn), element, coc)
    mm = store.min_max
    where = [mm.c.unit_id == unit_id, mm.c.data_element_id == the_element.id, mm.c.coc_id == the_coc.id]
    if conn.execute(select(mm.c.unit_id).where(*where)).first() is None:
        raise NotFound(M_("No min–max bounds for {element}/{combo} at {unit}.",
                          element=the_element.code, combo=the_coc.code, unit=unit))
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
    """Stored bounds at the units (and below them) the principal may see, in DHIS2's
    minMaxDataElements shape: dicts the API passes through as is."""
    require_action(principal, Action.VIEW)
    catalog = load_catalog(conn)
    ds = data_set_of(catalog, data_set)
    unit_ids = visible_units(conn, principal, units, children, clock.today())
    wanted = set(ds.element_ids) if ds else None
    if elements:
        wanted = (wanted or set()) | {e.id for c in elements if (e := catalog.element(c))}
    codes = registry.codes_of(conn, unit_ids)
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
            N_("The factor is out of range."),
            [
                Problem(
                    "out of range", field="factor", value=factor,
                    expected=N_("a number above 0 and at most 100")
                )
            ],
        )
    catalog = load_catalog(conn)
    ds = data_set_of(catalog, data_set)
    assert ds is not None
    today = clock.today()
    unit_ids = visible_units(conn, principal, units, children, today, Action.DATA_CAPTURE)
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
    if value_type in INTEGER_TYPES:
        low, high = float(math.floor(low)), float(math.ceil(high))
    if value_type in (ValueType.PERCENTAGE, ValueType.UNIT_INTERVAL):
        low, high = max(0.0, low), min(100.0 if value_type is ValueType.PERCENTAGE else 1.0, high)
    return low, high
