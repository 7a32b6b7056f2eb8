"""The indicators of the Shanghai 2020 demo, on both databases: the report's city figures are
facts, and the synthetic unit data below them adds up to every one of them."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select

from jiaowei.auth.model import SYSTEM
from jiaowei.demo import shanghai2020
from jiaowei.indicators import demo, expressions, store
from jiaowei.indicators.model import ValueType, numeric
from jiaowei.registry import queries as registry_queries
from jiaowei.registry import store as registry_store

REPORT = {  # indicator: (period, figure of the 2020 report)
    "KG_INCLUSIVE_COVERAGE": ("2020", 86.0),
    "AS_SCHOOLS": ("2020SY", 845),
    "AS_PARTICIPANTS": ("2020SY", 377_000),
    "ADM_PRIMARY_LOTTERY": ("2020", 74),
    "ADM_PRIMARY_LOTTERY_SHARE": ("2020", 88.10),
    "ADM_JUNIOR_LOTTERY": ("2020", 85),
    "ADM_JUNIOR_LOTTERY_SHARE": ("2020", 77.27),
    "HE_GRADUATE_COUNT": ("2020", 186_600),
    "HE_EMPLOYMENT_RATE": ("2020", 92.51),
    "HE_COUNSELLOR_RATIO": ("2020", 1 / 159),
    "HE_DOUBLE_LEADER_SHARE": ("2020", 97.1),
    "CAMPUS_CASES": ("2020", 0),
    "ESI_TOP1PCT_DISCIPLINES": ("2020", 120),
    "ESI_TOP1PERMILLE_DISCIPLINES": ("2020", 15),
}
FACTOR = {"percent": 100.0, "per_mille": 1000.0, "ratio": 1.0, "number": 1.0}


@pytest.fixture(scope="module")
def loaded(engine: Engine) -> Iterator[tuple[Connection, dict[str, Any]]]:
    """The registry demo and the indicators demo, loaded once per module and database, rolled back."""
    connection = engine.connect()
    outer = connection.begin()
    shanghai2020.load(connection)
    stages: list[tuple[str, int, int]] = []
    started = time.perf_counter()
    summary = demo.load(connection, progress=lambda stage, done, total: stages.append((stage, done, total)))
    summary["seconds"] = time.perf_counter() - started
    summary["stages"] = stages
    yield connection, summary
    outer.rollback()
    connection.close()


def city_sums(conn: Connection, period: str) -> dict[tuple[str, str | None], float]:
    """Every element's sum over all units for the period: by option combo, and its total (None)."""
    dv, de, coc, pe = store.data_values, store.data_elements, store.category_option_combos, store.periods
    rows = conn.execute(
        select(de.c.code, de.c.value_type, coc.c.code.label("combo"), dv.c.value)
        .join(de, de.c.id == dv.c.data_element_id).join(coc, coc.c.id == dv.c.coc_id)
        .join(pe, pe.c.id == dv.c.period_id)
        .where(pe.c.start_date >= demo_period(conn, period)[0], pe.c.end_date <= demo_period(conn, period)[1])
    )
    sums: dict[tuple[str, str | None], float] = {}
    for r in rows:
        number = numeric(r.value_type, r.value) or 0.0
        for key in ((r.code, r.combo), (r.code, None)):
            sums[key] = sums.get(key, 0.0) + number
    return sums


def demo_period(conn: Connection, code: str) -> tuple[dt.date, dt.date]:
    row = conn.execute(select(store.periods.c.start_date, store.periods.c.end_date)
                       .where(store.periods.c.code == code)).one()
    return row.start_date, row.end_date


def computed(conn: Connection, code: str, period: str) -> float | None:
    """The indicator's city value from the stored unit data: summed numerator / summed denominator."""
    row = conn.execute(select(store.indicators).where(store.indicators.c.code == code)).one()
    sums = city_sums(conn, period)
    num = expressions.evaluate(expressions.parse(row.numerator), sums).value
    den = expressions.evaluate(expressions.parse(row.denominator), sums).value
    return None if num is None or not den else num / den * FACTOR[row.display]


def facts(conn: Connection) -> dict[str, tuple[str, float, str, str]]:
    f, i, p, u = store.indicator_facts, store.indicators, store.periods, registry_store.units
    rows = conn.execute(select(i.c.code, p.c.code.label("period"), f.c.value, f.c.source,
                               u.c.code.label("unit"))
                        .join(i, i.c.id == f.c.indicator_id).join(p, p.c.id == f.c.period_id)
                        .join(u, u.c.id == f.c.unit_id))
    return {r.code: (r.period, r.value, r.source, r.unit) for r in rows}


def shown(value: float, display: str, decimals: int) -> str:
    return f"1:{1 / value:.{decimals}f}" if display == "ratio" else f"{value:.{decimals}f}"


def test_the_report_figures_are_facts_at_the_commission(loaded):
    conn, summary = loaded
    found = facts(conn)
    assert {code: (period, value) for code, (period, value, _s, _u) in found.items()} == REPORT
    assert {unit for *_rest, unit in found.values()} == {shanghai2020.COMMISSION}
    assert all(source.startswith(demo.SEED) and "“" in source for _p, _v, source, _u in found.values())
    assert summary["facts"] == len(REPORT)


@pytest.mark.parametrize("code", sorted(REPORT))
def test_every_fact_equals_the_value_computed_from_the_unit_data(loaded, code):
    conn, _ = loaded
    period, fact, _source, _unit = facts(conn)[code]
    indicator = conn.execute(select(store.indicators).where(store.indicators.c.code == code)).one()
    value = computed(conn, code, period)
    assert value is not None
    assert shown(value, indicator.display, indicator.decimals) == shown(fact, indicator.display,
                                                                        indicator.decimals)


def test_the_schools_add_up_to_the_report(loaded):
    conn, _ = loaded
    year, school_year = city_sums(conn, "2020"), city_sums(conn, "2020SY")
    assert (year[("ADM_LOTTERY", "PRIMARY")], year[("ADM_ENROLS", "PRIMARY")]) == (74, 84)
    assert (year[("ADM_LOTTERY", "JUNIOR")], year[("ADM_ENROLS", "JUNIOR")]) == (85, 110)
    assert (school_year[("AS_OFFERED", None)], school_year[("AS_SCHOOL", None)]) == (845, 880)
    rate = computed(conn, "AS_RATE", "2020SY")
    assert rate is not None and rate > 95  # the report: 开设率超过95%
    assert school_year[("AS_PUPILS", None)] == 377_000
    assert year[("HE_GRADUATES", None)] == 186_600
    assert year[("HE_STUDENTS", None)] / year[("HE_COUNSELLORS", None)] == 159


def test_the_years_changes_add_up_to_the_report(loaded):
    """The report's "较去年分别增加14个和2个" and "较去年增加1.1万人": 2019's synthetic values add up."""
    conn, _ = loaded
    year, before = city_sums(conn, "2020"), city_sums(conn, "2019")
    assert (year[("HE_ESI_TOP1PCT", None)], year[("HE_ESI_TOP1PERMILLE", None)]) == (120, 15)
    assert (before[("HE_ESI_TOP1PCT", None)], before[("HE_ESI_TOP1PERMILLE", None)]) == (106, 13)
    assert year[("HE_GRADUATES", None)] - before[("HE_GRADUATES", None)] == 11_000
    assert 0.9 < before[("HE_EMPLOYED", None)] / before[("HE_GRADUATES", None)] < 0.95
    inclusive = before[("KG_CHILDREN", "PUBLIC")] + before[("KG_CHILDREN", "INCLUSIVE_PRIVATE")]
    assert before[("KG_CHILDREN", None)] == 566_000 and inclusive == 475_440  # 84.0%, synthetic
    esi = store.data_values.alias("esi")
    per_unit = conn.execute(select(esi.c.unit_id, esi.c.period_id, esi.c.data_element_id, esi.c.value)
                            .join(store.data_elements, store.data_elements.c.id == esi.c.data_element_id)
                            .where(store.data_elements.c.code.like("HE_ESI_%"))).all()
    units = {r.unit_id for r in per_unit}
    types = {u.type for u in registry_queries.units_on(conn, dt.date(2020, 12, 31), ids=sorted(units))}
    assert types == {"university"} and len(per_unit) == 4 * len(units)


def test_the_daily_data_set_covers_the_school_days_of_autumn_2020_in_one_district(loaded):
    conn, summary = loaded
    dv, pe, de = store.data_values, store.periods, store.data_elements
    rows = conn.execute(select(pe.c.type, pe.c.start_date, pe.c.end_date, dv.c.unit_id)
                        .join(pe, pe.c.id == dv.c.period_id).join(de, de.c.id == dv.c.data_element_id)
                        .where(de.c.code.like("HEALTH_%"))).all()
    assert len(rows) == summary["daily_values"] > 10_000
    assert {r.type for r in rows} == {"Daily"}
    days = {r.start_date for r in rows}
    assert all(r.start_date == r.end_date for r in rows)
    assert all(d.weekday() < 5 and dt.date(2020, 9, 1) <= d <= dt.date(2020, 12, 31) for d in days)
    assert len(days) == summary["school_days"] == 82  # 87 weekdays less the National Day holiday
    huangpu = registry_store.unit_id_for(conn, demo.HEALTH_DISTRICT)
    schools = conn.execute(registry_store.units_on_select(dt.date(2020, 12, 31))
                           .where(registry_store.units.c.id.in_({r.unit_id for r in rows}))).all()
    assert {s.parent_id for s in schools} == {huangpu}
    assert {s.type for s in schools} == {"primary_school", "nine_year_school", "secondary_school"}


def test_the_daily_form_is_due_the_same_day_and_its_values_count_as_received(loaded):
    from jiaowei.indicators.approval import completeness

    conn, _ = loaded
    (row,) = completeness.completeness(conn, principal=SYSTEM, data_set="CAMPUS_HEALTH", periods=["20201201"],
                                       unit=demo.HEALTH_DISTRICT, children=False)
    assert (row.due, row.expected, row.received) == ("2020-12-01", 61, 61)  # never registered, all sent


def test_every_data_value_is_synthetic_and_from_the_demo(loaded):
    conn, summary = loaded
    dv = store.data_values
    total = conn.scalar(select(func.count()).select_from(dv))
    assert total == summary["values"] > 20_000
    assert conn.scalar(select(func.count()).select_from(dv).where(dv.c.synthetic.is_(False))) == 0
    assert set(conn.scalars(select(store.data_imports.c.source).distinct())) == {"demo"}


def test_the_validation_rules_hold_at_every_unit(loaded):
    from jiaowei.indicators.quality import queries as quality

    conn, summary = loaded
    rules = conn.scalar(select(func.count()).select_from(store.validation_rules))
    assert rules == summary["validation_rules"] == 5
    for period in ("2020", "2020SY"):
        violations = quality.run_rules(conn, principal=SYSTEM, units=[shanghai2020.COMMISSION],
                                       periods=[period], children=True)
        assert violations == []
    for period in ("2020", "2020SY"):  # and over the city's sums
        sums = city_sums(conn, period)
        for rule in conn.execute(select(store.validation_rules)):
            left = expressions.evaluate(expressions.parse(rule.left_expression), sums).value
            right = expressions.evaluate(expressions.parse(rule.right_expression), sums).value
            assert left is not None and right is not None and left <= right


def test_the_indicator_service_shows_each_fact_agreeing_with_the_data(loaded):
    from jiaowei.indicators.targets import compute

    conn, _ = loaded
    for code, (period, fact) in REPORT.items():
        value = compute.indicator_value(conn, principal=SYSTEM, indicator=code, unit=shanghai2020.COMMISSION,
                                        period=period)
        assert (value.source, value.value, value.agrees) == ("fact", pytest.approx(fact), True), code
        assert value.computed_formatted == value.formatted
    ratio = compute.indicator_value(conn, principal=SYSTEM, indicator="HE_COUNSELLOR_RATIO",
                                    unit=shanghai2020.COMMISSION, period="2020")
    assert ratio.formatted == "1:159"


def test_the_city_targets_are_set_and_met(loaded):
    from jiaowei.indicators.targets import compute

    conn, summary = loaded
    assert conn.scalar(select(func.count()).select_from(store.targets)) == summary["targets"]
    coverage = compute.indicator_value(conn, principal=SYSTEM, indicator="KG_INCLUSIVE_COVERAGE",
                                       unit=shanghai2020.COMMISSION, period="2020")
    assert coverage.target is not None
    assert (coverage.target.value, coverage.target.benchmark) == (85.0, 80.0)
    assert coverage.target.status == "met" and coverage.target.meets_benchmark
    for code, period in (("AS_RATE", "2020SY"), ("HE_EMPLOYMENT_RATE", "2020"),
                         ("HE_DOUBLE_LEADER_SHARE", "2020"), ("HE_COUNSELLOR_RATIO", "2020")):
        value = compute.indicator_value(conn, principal=SYSTEM, indicator=code, unit=shanghai2020.COMMISSION,
                                        period=period)
        assert value.target is not None and value.target.status == "met", code
    t, p = store.targets, store.periods
    trajectory = conn.execute(select(p.c.code, t.c.value).join(p, p.c.id == t.c.period_id)
                              .join(store.indicators, store.indicators.c.id == t.c.indicator_id)
                              .where(store.indicators.c.code == "KG_INCLUSIVE_COVERAGE",
                                     t.c.cascaded_from.is_(None))
                              .order_by(p.c.code)).all()
    assert [(r.code, r.value) for r in trajectory] == [
        ("2020", 85.0), ("2021", 86.0), ("2022", 87.0), ("2023", 88.0), ("2024", 89.0), ("2025", 90.0)]
    districts = conn.scalar(select(func.count()).select_from(t).where(t.c.cascaded_from.is_not(None)))
    assert districts == 16  # the 2020 target, cascaded to the 16 district bureaus only


def test_the_city_page_shows_school_year_indicators_in_the_year_they_begin(loaded):
    from jiaowei.indicators.targets import compute

    conn, _ = loaded
    shown = {v.indicator.code: v for v in compute.unit_values(conn, principal=SYSTEM,
                                                             unit=shanghai2020.COMMISSION, period="2020")}
    assert shown["AS_SCHOOLS"].period == "2020SY" and shown["AS_SCHOOLS"].value == 845
    assert shown["HE_GRADUATE_COUNT"].period == "2020" and shown["HE_GRADUATE_COUNT"].value == 186_600


def test_some_forms_are_complete_and_approved(loaded):
    conn, summary = loaded
    assert conn.scalar(select(func.count()).select_from(store.completions)) == summary["completions"] > 0
    assert conn.scalar(select(func.count()).select_from(store.approvals)) == summary["approvals"] > 0
    assert summary["approvals"] < summary["completions"]  # some forms wait for approval


def test_the_metadata_counts_and_progress(loaded):
    conn, summary = loaded
    assert conn.scalar(select(func.count()).select_from(store.data_elements)) == summary["elements"]
    assert conn.scalar(select(func.count()).select_from(store.data_sets)) == summary["data_sets"]
    assert conn.scalar(select(func.count()).select_from(store.indicators)) == summary["indicators"]
    types = dict(conn.execute(select(store.data_elements.c.code, store.data_elements.c.value_type)).all())
    assert types["AS_OFFERED"] == ValueType.BOOLEAN
    stages = summary["stages"]
    assert {stage for stage, _d, _t in stages} == {
        "indicators: metadata", "indicators: data values", "indicators: targets and reports"}
    assert all(done <= total for _s, done, total in stages)


def test_loading_takes_well_under_a_minute(loaded):
    _, summary = loaded
    assert summary["seconds"] < 60


def test_the_demo_reconciles_with_the_audit_chain_in_seconds(loaded):
    from jiaowei.audit.reconcile import Chain
    from jiaowei.domains import load
    from jiaowei.indicators.domain import DOMAIN

    conn, _ = loaded
    started = time.perf_counter()
    found = [str(m) for name in DOMAIN.audit_checks for m in load(name)(conn, Chain(conn))]
    assert found == [] and len(DOMAIN.audit_checks) >= 3
    assert time.perf_counter() - started < 15


@pytest.mark.parametrize("seed", range(20))
def test_apportioning_under_caps_sums_exactly_and_keeps_every_cap(seed):
    import random

    rng = random.Random(seed)
    caps = [rng.randint(0, 500) for _ in range(rng.randint(1, 40))]
    total = rng.randint(0, sum(caps))
    parts = demo.apportion_under(total, caps, rng)
    assert sum(parts) == total and all(0 <= p <= cap for p, cap in zip(parts, caps, strict=True))
    with pytest.raises(ValueError):
        demo.apportion_under(sum(caps) + 1, caps, rng)


def test_a_cascaded_pupils_target_goes_to_the_districts_in_whole_numbers(loaded):
    """The issue's example: 380,000 pupils in after-school service, split by the districts' current share;
    no university or hospital (they report no primary pupils) gets a share, and the shares add up."""
    from jiaowei.indicators.targets import service as targets

    conn, _ = loaded
    with conn.begin_nested() as savepoint:
        targets.set_target(conn, principal=SYSTEM, indicator="AS_PARTICIPANTS", unit=shanghai2020.COMMISSION,
                           period="2020SY", value=380_000)
        result = targets.cascade(conn, principal=SYSTEM, indicator="AS_PARTICIPANTS",
                                 unit=shanghai2020.COMMISSION, period="2020SY", method="current_share")
        types = {u.code: u.type for u in registry_queries.units_on(conn, dt.date(2021, 8, 31),
                                                                    ids=[registry_queries.id_of(conn, t.unit)
                                                                         for t in result.written])}
        assert len(result.written) == 16 and set(types.values()) == {"district_bureau"}
        assert all(t.value == int(t.value) and t.formatted == f"{int(t.value):,}" for t in result.written)
        assert sum(int(t.value) for t in result.written) == 380_000
        savepoint.rollback()
