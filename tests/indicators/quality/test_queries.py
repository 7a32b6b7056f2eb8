"""Validation rules, outliers and min–max bounds through the service, on both databases."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import Connection, select

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import NotFound, ValidationError
from jiaowei.indicators import store
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.quality import outliers
from jiaowei.indicators.quality import queries as quality
from jiaowei.indicators.values import service as values
from tests.factories import indicator_setup, make_user

Cell = tuple[str, str | None, str, str, str]  # element, option combo, unit, period, value


def setup(conn: Connection) -> None:
    """``indicator_setup`` plus BOYS and GIRLS (in SCHOOL_Y) and OTHER (in no data set)."""
    indicator_setup(conn)
    for code, zh, en in (
        ("BOYS", "男生数", "Boys"),
        ("GIRLS", "女生数", "Girls"),
        ("OTHER", "其他", "Other"),
    ):
        metadata.save_data_element(conn, principal=SYSTEM, code=code, name_zh=zh, name_en=en)
    metadata.save_data_set(
        conn,
        principal=SYSTEM,
        code="SCHOOL_Y",
        name_zh="学校年报",
        name_en="School annual",
        period_type="Yearly",
        elements=["PUPILS", "TEACHERS", "RATE", "BOYS", "GIRLS"],
        unit_types=["primary_school"],
    )


def store_values(conn: Connection, *cells: Cell) -> None:
    """Cells (element, combo, unit, period, value)."""
    rows = [
        ValueRow(data_element=de, category_option_combo=coc, org_unit=ou, period=p, value=v, row=i)
        for i, (de, coc, ou, p, v) in enumerate(cells, 1)
    ]
    summary = values.import_values(conn, principal=SYSTEM, rows=rows, source="dhis2-json")
    assert summary.status == "SUCCESS", summary.as_dict()


def rule(conn: Connection, code: str, left: str, operator: str, right: str, **kw: str) -> None:
    metadata.save_validation_rule(
        conn,
        principal=SYSTEM,
        code=code,
        name_zh=f"规则{code}",
        name_en=f"Rule {code}",
        left=left,
        operator=operator,
        right=right,
        **kw,
    )


BASIC = (
    ("TEACHERS", None, "S1", "2020", "15"),
    ("PUPILS", "M", "S1", "2020", "120"),
    ("PUPILS", "F", "S1", "2020", "110"),
    ("RATE", None, "S1", "2020", "90"),
)

RULES = {  # code: (left, operator, right, broken at S1 with BASIC)
    "EQ_BAD": ("#{TEACHERS}", "equal_to", "16", True),
    "EQ_OK": ("#{PUPILS}", "equal_to", "#{PUPILS.M} + #{PUPILS.F}", False),
    "NE_BAD": ("#{TEACHERS}", "not_equal_to", "15", True),
    "GT_BAD": ("#{TEACHERS}", "greater_than", "#{PUPILS}", True),
    "GT_OK": ("#{PUPILS}", "greater_than", "#{TEACHERS}", False),
    "GE_BAD": ("#{PUPILS.F}", "greater_than_or_equal_to", "#{PUPILS.M}", True),
    "LT_BAD": ("#{RATE}", "less_than", "50", True),
    "LE_OK": ("#{RATE}", "less_than_or_equal_to", "100", False),
    "CP_BAD": ("#{TEACHERS}", "compulsory_pair", "#{BOYS}", True),
    "CP_OK": ("#{TEACHERS}", "compulsory_pair", "#{RATE}", False),
    "EX_BAD": ("#{TEACHERS}", "exclusive_pair", "#{RATE}", True),
    "EX_OK": ("#{TEACHERS}", "exclusive_pair", "#{BOYS}", False),
}


def test_every_operator_through_stored_values(conn: Connection) -> None:
    setup(conn)
    store_values(conn, *BASIC)
    for code, (left, operator, right, _) in RULES.items():
        rule(conn, code, left, operator, right)
    found = quality.run_rules(conn, principal=SYSTEM, units=["S1"], periods=["2020"], children=False)
    assert {v.rule for v in found} == {code for code, spec in RULES.items() if spec[3]}
    by_rule = {v.rule: v for v in found}
    assert (by_rule["GT_BAD"].left_value, by_rule["GT_BAD"].right_value) == (15, 230)
    assert by_rule["GE_BAD"].operator == ">=" and by_rule["CP_BAD"].operator == "compulsory pair"
    assert "only the first has values" in by_rule["CP_BAD"].message_en
    assert "两者都有值" in by_rule["EX_BAD"].message_zh
    assert all(v.unit == "S1" and v.period == "2020" and v.unit_name_en == "Unit S1" for v in found)


def test_rules_run_on_each_units_own_values_in_the_subtree(conn: Connection) -> None:
    setup(conn)
    store_values(conn, *BASIC, ("TEACHERS", None, "S2", "2020", "16"))
    rule(conn, "EQ_BAD", "#{TEACHERS}", "equal_to", "16")
    rule(conn, "MONTHLY", "#{TEACHERS}", "equal_to", "16", period_type="Monthly")
    found = quality.run_rules(conn, principal=SYSTEM, units=["SH"], periods=["2020", "202001"])
    # only S1 breaks it: S2 has 16, and SH, D1, D2 report no data set with TEACHERS (not 0 ≠ 16)
    assert [(v.rule, v.unit, v.period) for v in found] == [("EQ_BAD", "S1", "2020")]
    assert quality.run_rules(
        conn, principal=SYSTEM, units=["SH"], periods=["2020"], rules=["EQ_BAD"], data_set="SCHOOL_Y"
    )
    with pytest.raises(ValidationError):
        quality.run_rules(conn, principal=SYSTEM, units=["SH"], periods=["2020"], rules=["NOPE"])
    with pytest.raises(ValidationError):
        quality.run_rules(conn, principal=SYSTEM, units=["SH"], periods=["20x0"])


@pytest.mark.parametrize(
    ("strategy", "cells", "broken"),
    [
        ("SKIP_IF_ANY_VALUE_MISSING", [("BOYS", None, "S1", "2020", "120")], False),
        (
            "SKIP_IF_ANY_VALUE_MISSING",
            [("BOYS", None, "S1", "2020", "120"), ("GIRLS", None, "S1", "2020", "110")],
            True,
        ),
        ("SKIP_IF_ALL_VALUES_MISSING", [("BOYS", None, "S1", "2020", "120")], True),
        ("SKIP_IF_ALL_VALUES_MISSING", [], False),
        ("NEVER_SKIP", [], True),
    ],
)
def test_missing_value_strategies(conn: Connection, strategy: str, cells: list[Cell], broken: bool) -> None:
    setup(conn)
    store_values(conn, ("PUPILS", "M", "S1", "2020", "100"), ("PUPILS", "F", "S1", "2020", "100"), *cells)
    rule(conn, "SUM", "#{BOYS} + #{GIRLS}", "equal_to", "#{PUPILS}", left_missing=strategy)
    found = quality.run_rules(conn, principal=SYSTEM, units=["S1"], periods=["2020"], children=False)
    assert bool(found) is broken


def test_the_message_names_elements_and_values_in_both_languages(conn: Connection) -> None:
    setup(conn)
    store_values(
        conn,
        ("BOYS", None, "S1", "2020", "120"),
        ("GIRLS", None, "S1", "2020", "110"),
        ("PUPILS", "M", "S1", "2020", "100"),
        ("PUPILS", "F", "S1", "2020", "100"),
    )
    rule(conn, "SUM", "#{BOYS} + #{GIRLS}", "equal_to", "#{PUPILS}")
    rule(conn, "MALE", "#{BOYS}", "less_than_or_equal_to", "#{PUPILS.M}", left_missing="NEVER_SKIP")
    found = {v.rule: v for v in quality.run_rules(conn, principal=SYSTEM, units=["S1"], periods=["2020"])}
    assert found["SUM"].message_zh == "男生数 (120) + 女生数 (110) 应等于 在校学生数 (200)：实际 230 ≠ 200"
    assert found["SUM"].message_en == "Boys (120) + Girls (110) must equal Pupils (200): 230 ≠ 200"
    assert found["MALE"].message_en == "Boys (120) must be at most Pupils, Male (100): 120 > 100"
    assert found["MALE"].message_zh == "男生数 (120) 应小于或等于 在校学生数·男 (100)：实际 120 > 100"
    assert found["SUM"].as_dict()["rule_name_zh"] == "规则SUM"


def test_the_documented_missing_value_example(conn: Connection) -> None:
    setup(conn)
    store_values(conn, ("BOYS", None, "S1", "2020", "120"), ("PUPILS", "M", "S1", "2020", "200"))
    rule(
        conn, "SUM", "#{BOYS} + #{GIRLS}", "equal_to", "#{PUPILS}", left_missing="SKIP_IF_ALL_VALUES_MISSING"
    )
    [found] = quality.run_rules(conn, principal=SYSTEM, units=["S1"], periods=["2020"])
    assert found.message_zh == "男生数 (120) + 女生数 (缺失) 应等于 在校学生数 (200)：实际 120 ≠ 200"
    assert found.message_en == "Boys (120) + Girls (missing) must equal Pupils (200): 120 ≠ 200"


def test_check_form_reports_the_data_sets_rules_and_bounds_quickly(conn: Connection) -> None:
    setup(conn)
    store_values(conn, *BASIC)
    rule(conn, "EQ_BAD", "#{TEACHERS}", "equal_to", "16", importance="HIGH")
    rule(conn, "OUTSIDE", "#{OTHER}", "equal_to", "1")  # OTHER is in no form: not this form's rule
    outliers.set_min_max(
        conn, principal=SYSTEM, unit="S1", element="PUPILS", coc="M", min_value=10, max_value=100
    )
    started = time.perf_counter()
    found = quality.check_form(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1")
    elapsed = time.perf_counter() - started
    assert [(v.rule, v.importance) for v in found] == [("EQ_BAD", "HIGH"), ("MIN_MAX", "MEDIUM")]
    bound = found[1]
    assert (bound.data_element, bound.option_combo, bound.left_value) == ("PUPILS", "M", 120)
    assert bound.message_en == "Pupils, Male (120) is above the maximum: the expected range is 10–100"
    assert "高于最大值" in bound.message_zh and "10–100" in bound.message_zh
    assert elapsed < 1.0
    d1 = make_user(conn, "d1", role="district_staff", capture=["D1"])
    with pytest.raises(NotFound):
        quality.check_form(conn, principal=d1, data_set="SCHOOL_Y", period="2020", unit="S2")


def test_a_district_user_cannot_run_rules_on_another_district(conn: Connection) -> None:
    setup(conn)
    store_values(conn, *BASIC)
    rule(conn, "EQ_BAD", "#{TEACHERS}", "equal_to", "16")
    d1 = make_user(conn, "d1", role="district_staff", capture=["D1"])
    assert [v.unit for v in quality.run_rules(conn, principal=d1, units=["D1"], periods=["2020"])] == ["S1"]
    for out in ("D2", "S2", "SH"):
        with pytest.raises(NotFound):
            quality.run_rules(conn, principal=d1, units=[out], periods=["2020"])


def test_too_many_unit_period_pairs_are_refused(conn: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    setup(conn)
    monkeypatch.setattr(quality, "MAX_PAIRS", 3)
    with pytest.raises(ValidationError, match="at most 3"):
        quality.run_rules(conn, principal=SYSTEM, units=["SH"], periods=["2020"])


# ---------------------------------------------------------------- outliers

SERIES = [100, 102, 98, 101, 99, 100, 103, 97, 100, 101, 99, 100, 102, 98, 100, 101, 99, 100, 102, 98]
YEARS = [str(y) for y in range(2000, 2020)]


def outlier_series(conn: Connection, spike_at: str = "2015", spike: int = 300) -> None:
    setup(conn)
    cells = [
        ("TEACHERS", None, "S1", year, str(spike if year == spike_at else v))
        for year, v in zip(YEARS, SERIES, strict=True)
    ]
    cells += [("TEACHERS", None, "S2", year, str(v)) for year, v in zip(YEARS, SERIES, strict=True)]
    store_values(conn, *cells)


@pytest.mark.parametrize(("algorithm", "score"), [("Z_SCORE", "zScore"), ("MOD_Z_SCORE", "modifiedZScore")])
def test_one_obvious_outlier_is_found_and_normal_values_are_not(
    conn: Connection, algorithm: str, score: str
) -> None:
    outlier_series(conn)
    found = outliers.outliers(
        conn,
        principal=SYSTEM,
        data_set="SCHOOL_Y",
        elements=None,
        units=["SH"],
        start=dt.date(2000, 1, 1),
        end=dt.date(2019, 12, 31),
        algorithm=algorithm,
    )
    assert [(r["de"], r["coc"], r["ou"], r["pe"], r["value"]) for r in found] == [
        ("TEACHERS", "default", "S1", "2015", 300)
    ]
    hit = found[0]
    assert hit[score] > (3.0 if algorithm == "Z_SCORE" else 3.5)
    assert hit["lowerBound"] < 100 < hit["upperBound"] < 300
    assert "2015" in hit["reason_en"] and "专任教师数" in hit["reason_zh"]
    if algorithm == "Z_SCORE":
        assert hit["mean"] == pytest.approx((sum(SERIES) - SERIES[15] + 300) / 20) and hit["stdDev"] > 0
    else:
        assert hit["median"] == 100 and hit["medianAbsDeviation"] > 0


def test_short_or_flat_series_are_not_judged(conn: Connection) -> None:
    setup(conn)
    store_values(
        conn,
        ("TEACHERS", None, "S1", "2018", "10"),
        ("TEACHERS", None, "S1", "2019", "900"),
        *[("RATE", None, "S1", y, "50") for y in YEARS[:10]],
        ("RATE", None, "S1", "2010", "99"),
    )
    found = outliers.outliers(
        conn,
        principal=SYSTEM,
        data_set=None,
        elements=["TEACHERS", "RATE"],
        units=["S1"],
        start=dt.date(2000, 1, 1),
        end=dt.date(2019, 12, 31),
        algorithm="MOD_Z_SCORE",
    )
    assert found == []  # TEACHERS has 2 values; RATE's MAD is 0
    with pytest.raises(ValidationError):
        outliers.outliers(
            conn,
            principal=SYSTEM,
            data_set=None,
            elements=None,
            units=["S1"],
            start=dt.date(2000, 1, 1),
            end=dt.date(2019, 12, 31),
        )


def test_outliers_stay_inside_the_users_scope(conn: Connection) -> None:
    outlier_series(conn)
    store_values(conn, ("TEACHERS", None, "S2", "2016", "900"))
    d1 = make_user(conn, "d1", role="district_staff", capture=["D1"])
    found = outliers.outliers(
        conn,
        principal=d1,
        data_set="SCHOOL_Y",
        elements=None,
        units=["D1"],
        start=dt.date(2000, 1, 1),
        end=dt.date(2019, 12, 31),
    )
    assert {r["ou"] for r in found} == {"S1"}
    with pytest.raises(NotFound):
        outliers.outliers(
            conn,
            principal=d1,
            data_set="SCHOOL_Y",
            elements=None,
            units=["D2"],
            start=dt.date(2000, 1, 1),
            end=dt.date(2019, 12, 31),
        )


# ---------------------------------------------------------------- min–max


def bounds(conn: Connection) -> dict[tuple[str, str, str], tuple[float, float, bool]]:
    return {
        (b["source"], b["dataElement"], b["optionCombo"]): (b["min"], b["max"], b["generated"])
        for b in outliers.min_max_of(conn, principal=SYSTEM, units=["SH"], children=True)
    }


def test_manual_and_generated_bounds(conn: Connection) -> None:
    outlier_series(conn)
    store_values(
        conn,
        *[("PUPILS", "M", "S1", y, str(v)) for y, v in zip(YEARS, SERIES, strict=True)],
        ("PUPILS", "F", "S1", "2019", "5"),
    )
    outliers.set_min_max(
        conn, principal=SYSTEM, unit="S1", element="TEACHERS", coc=None, min_value=90, max_value=110
    )
    counts = outliers.generate_min_max(conn, principal=SYSTEM, data_set="SCHOOL_Y", units=["D1"])
    assert counts == {"generated": 1, "keptManual": 1, "skipped": 1}  # PUPILS.F has one value
    found = bounds(conn)
    assert found[("S1", "TEACHERS", "default")] == (90, 110, False)
    low, high, generated = found[("S1", "PUPILS", "M")]
    assert generated and 90 <= low < 100 < high <= 110 and low == int(low)
    again = outliers.generate_min_max(conn, principal=SYSTEM, data_set="SCHOOL_Y", units=["D1"], factor=100)
    assert again["generated"] == 1 and bounds(conn)[("S1", "PUPILS", "M")][0] == 0  # floored at 0
    flagged = outliers.outliers(
        conn,
        principal=SYSTEM,
        data_set="SCHOOL_Y",
        elements=None,
        units=["S1"],
        start=dt.date(2000, 1, 1),
        end=dt.date(2019, 12, 31),
        algorithm="MIN_MAX",
    )
    assert [(r["de"], r["pe"], r["value"], r["upperBound"]) for r in flagged][0] == (
        "TEACHERS",
        "2015",
        300,
        110,
    )
    assert "outside its bounds 90–110" in flagged[0]["reason_en"]


def test_bounds_are_checked_and_scoped(conn: Connection) -> None:
    setup(conn)
    with pytest.raises(ValidationError):
        outliers.set_min_max(
            conn, principal=SYSTEM, unit="S1", element="TEACHERS", coc=None, min_value=5, max_value=1
        )
    with pytest.raises(ValidationError):
        outliers.set_min_max(
            conn, principal=SYSTEM, unit="S1", element="PUPILS", coc="X", min_value=1, max_value=5
        )
    d1 = make_user(conn, "d1", role="district_staff", capture=["D1"])
    outliers.set_min_max(conn, principal=d1, unit="S1", element="PUPILS", coc="F", min_value=1, max_value=5)
    with pytest.raises(NotFound):
        outliers.set_min_max(
            conn, principal=d1, unit="S2", element="PUPILS", coc="F", min_value=1, max_value=5
        )
    with pytest.raises(NotFound):
        outliers.generate_min_max(conn, principal=d1, data_set="SCHOOL_Y", units=["D2"])
    assert [b["source"] for b in outliers.min_max_of(conn, principal=d1, units=["D1"], children=True)] == [
        "S1"
    ]
    outliers.delete_min_max(conn, principal=d1, unit="S1", element="PUPILS", coc="F")
    assert conn.execute(select(store.min_max)).first() is None
