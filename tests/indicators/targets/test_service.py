"""Targets: status, trajectories, cascades and who may set them, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, select

from jiaowei.audit.store import audit_log
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import NotFound, PermissionDenied, ValidationError
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.targets import compute, queries
from jiaowei.indicators.targets import service as targets
from jiaowei.indicators.values import service as values
from tests.factories import indicator_setup, make_user


def load(conn: Connection, *items: tuple[str, str, str | None, str], period: str = "2020") -> None:
    rows = [
        ValueRow(data_element=de, period=period, org_unit=ou, category_option_combo=coc, value=v, row=i)
        for i, (de, ou, coc, v) in enumerate(items, 1)
    ]
    assert values.import_values(conn, principal=SYSTEM, rows=rows, source="dhis2-json").status == "SUCCESS"


def coverage_setup(conn: Connection) -> None:
    """普惠性学前教育覆盖率 as a percent: 86% at the city (S1 90/100, S2 82/100)."""
    indicator_setup(conn)
    metadata.save_data_element(
        conn,
        principal=SYSTEM,
        code="INCLUSIVE",
        name_zh="普惠性幼儿园在园幼儿数",
        name_en="Children in inclusive kindergartens",
    )
    metadata.save_data_element(
        conn, principal=SYSTEM, code="CHILDREN", name_zh="在园幼儿数", name_en="Children in kindergartens"
    )
    metadata.save_data_set(
        conn,
        principal=SYSTEM,
        code="KG_Y",
        name_zh="幼儿园年报",
        name_en="Kindergartens",
        period_type="Yearly",
        elements=["INCLUSIVE", "CHILDREN"],
        unit_types=["primary_school"],
    )
    metadata.save_indicator(
        conn,
        principal=SYSTEM,
        code="COVERAGE",
        name_zh="普惠性学前教育覆盖率",
        name_en="Inclusive pre-school coverage",
        numerator="#{INCLUSIVE}",
        denominator="#{CHILDREN}",
        display="percent",
        decimals=1,
    )
    load(
        conn,
        ("INCLUSIVE", "S1", None, "90"),
        ("CHILDREN", "S1", None, "100"),
        ("INCLUSIVE", "S2", None, "82"),
        ("CHILDREN", "S2", None, "100"),
    )


@pytest.mark.parametrize(
    ("value", "target", "margin", "higher", "expected"),
    [
        (86.0, 86.0, 0, True, "met"),
        (90.0, 86.0, 0, True, "met"),
        (85.0, 86.0, 2, True, "at_risk"),
        (83.0, 86.0, 2, True, "missed"),
        (None, 86.0, 2, True, "no_data"),
        (3.0, 3.2, 0, False, "met"),
        (3.3, 3.2, 0.5, False, "at_risk"),
        (4.0, 3.2, 0.5, False, "missed"),
    ],
)
def test_status(value: float | None, target: float, margin: float, higher: bool, expected: str) -> None:
    assert queries.status(value, target, at_risk_margin=margin, higher_is_better=higher) == expected


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(0, 1e3))
def test_lower_is_better_mirrors_higher_is_better(value: float, target: float, margin: float) -> None:
    assert queries.status(value, target, at_risk_margin=margin) == queries.status(
        -value, -target, at_risk_margin=margin, higher_is_better=False
    )


def test_the_value_is_judged_against_target_and_benchmark(conn: Connection) -> None:
    coverage_setup(conn)
    targets.set_target(
        conn,
        principal=SYSTEM,
        indicator="COVERAGE",
        unit="SH",
        period="2020",
        value=86,
        at_risk_margin=1,
        benchmark=80,
        benchmark_label="国家标准",
    )
    city = compute.indicator_value(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020")
    assert city.formatted == "86.0%"
    assert city.target.status == "met" and city.target.meets_benchmark is True
    assert city.as_dict()["benchmark"] == {
        "value": 80.0,
        "formatted": "80.0%",
        "label": "国家标准",
        "met": True,
    }
    targets.set_target(
        conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020", value=86.8, at_risk_margin=1
    )
    again = compute.indicator_value(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020")
    assert again.target.status == "at_risk" and again.as_dict()["benchmark"] is None
    entries = conn.execute(select(audit_log.c.action).where(audit_log.c.entity == "target")).scalars().all()
    assert list(entries) == ["create", "update"]


def test_a_trajectory_interpolates_yearly_targets(conn: Connection) -> None:
    coverage_setup(conn)
    made = targets.set_trajectory(
        conn,
        principal=SYSTEM,
        indicator="COVERAGE",
        unit="SH",
        start_period="2020",
        end_period="2025",
        start_value=80,
        end_value=90,
        at_risk_margin=1,
    )
    assert [(t.period, round(t.value, 6)) for t in made] == [
        ("2020", 80),
        ("2021", 82),
        ("2022", 84),
        ("2023", 86),
        ("2024", 88),
        ("2025", 90),
    ]
    listed = queries.targets_of(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH")
    assert [t.formatted for t in listed] == ["80.0%", "82.0%", "84.0%", "86.0%", "88.0%", "90.0%"]
    assert "trajectory 2020–2025" in listed[0].note
    value = compute.indicator_value(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020")
    assert value.target.value == 80 and value.target.status == "met"
    with pytest.raises(ValidationError) as error:
        targets.set_trajectory(
            conn,
            principal=SYSTEM,
            indicator="COVERAGE",
            unit="SH",
            start_period="2025",
            end_period="2020",
            start_value=1,
            end_value=2,
        )
    assert error.value.problems[0].field == "endPeriod"


def test_cascade_copies_a_rate_without_overwriting_a_childs_own_target(conn: Connection) -> None:
    coverage_setup(conn)
    targets.set_target(
        conn,
        principal=SYSTEM,
        indicator="COVERAGE",
        unit="SH",
        period="2020",
        value=86,
        benchmark=80,
        benchmark_label="国家标准",
    )
    targets.set_target(conn, principal=SYSTEM, indicator="COVERAGE", unit="D2", period="2020", value=84)
    result = targets.cascade(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020")
    assert [(t.unit, t.value, t.cascaded_from) for t in result.written] == [("D1", 86, "SH")]
    assert result.kept == ["D2"]
    d2 = queries.targets_of(conn, principal=SYSTEM, indicator="COVERAGE", unit="D2", period="2020")
    assert d2[0].value == 84 and d2[0].cascaded_from is None
    forced = targets.cascade(
        conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020", overwrite=True
    )
    assert [(t.unit, t.value) for t in forced.written] == [("D1", 86), ("D2", 86)] and forced.kept == []
    rows = compute.indicator_table(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020")
    assert [(r.unit.code, r.target.status) for r in rows] == [("SH", "met"), ("D1", "met"), ("D2", "missed")]
    with pytest.raises(ValidationError):  # a rate is not split by shares
        targets.cascade(
            conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020", method="current_share"
        )


def test_cascade_splits_a_count_by_current_share(conn: Connection) -> None:
    indicator_setup(conn)
    metadata.save_indicator(
        conn,
        principal=SYSTEM,
        code="TEACHER_COUNT",
        name_zh="专任教师数",
        name_en="Teachers",
        numerator="#{TEACHERS}",
        denominator="1",
        display="number",
        decimals=0,
    )
    load(conn, ("TEACHERS", "S1", None, "30"), ("TEACHERS", "S2", None, "10"), period="2020")
    targets.set_target(conn, principal=SYSTEM, indicator="TEACHER_COUNT", unit="SH", period="2022", value=100)
    result = targets.cascade(
        conn, principal=SYSTEM, indicator="TEACHER_COUNT", unit="SH", period="2022", method="current_share"
    )
    assert result.basis_period == "2020"  # the latest year with data before the target's
    assert [(t.unit, t.value) for t in result.written] == [("D1", 75), ("D2", 25)]
    with pytest.raises(NotFound):
        targets.cascade(conn, principal=SYSTEM, indicator="TEACHER_COUNT", unit="SH", period="2023")


def test_deleting_a_target_leaves_its_cascaded_copies_as_the_childrens_own(conn: Connection) -> None:
    coverage_setup(conn)
    targets.set_target(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020", value=86)
    targets.cascade(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020")
    targets.delete_target(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020")
    assert queries.targets_of(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH") == []
    d1 = queries.targets_of(conn, principal=SYSTEM, indicator="COVERAGE", unit="D1")
    assert d1[0].value == 86 and d1[0].cascaded_from is None
    with pytest.raises(NotFound):
        targets.delete_target(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020")


def test_districts_set_their_own_targets_only(conn: Connection) -> None:
    coverage_setup(conn)
    district = make_user(conn, role="district_staff", capture=["D1"])
    targets.set_target(conn, principal=district, indicator="COVERAGE", unit="D1", period="2020", value=88)
    targets.cascade(conn, principal=district, indicator="COVERAGE", unit="D1", period="2020")
    for unit in ("SH", "D2", "S2"):
        with pytest.raises(NotFound):
            targets.set_target(
                conn, principal=district, indicator="COVERAGE", unit=unit, period="2020", value=1
            )
        with pytest.raises(NotFound):
            queries.targets_of(conn, principal=district, indicator="COVERAGE", unit=unit)
    viewer = make_user(conn, role="viewer", view=["SH"])
    with pytest.raises(PermissionDenied):
        targets.set_target(conn, principal=viewer, indicator="COVERAGE", unit="D1", period="2020", value=1)
    assert [t.unit for t in queries.targets_of(conn, principal=viewer, indicator="COVERAGE", unit="S1")] == [
        "S1"
    ]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("value", {"value": float("nan")}),
        ("atRiskMargin", {"value": 1, "at_risk_margin": -1}),
        ("benchmark", {"value": 1, "benchmark": float("inf")}),
        ("pe", {"value": 1, "period": "20201"}),
    ],
)
def test_bad_targets_name_the_field(conn: Connection, field: str, kwargs: dict[str, Any]) -> None:
    coverage_setup(conn)
    with pytest.raises(ValidationError) as error:
        targets.set_target(
            conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", **{"period": "2020", **kwargs}
        )
    assert error.value.problems[0].field == field


def test_cascade_can_be_limited_to_children_of_some_types(conn: Connection) -> None:
    from tests.factories import make_unit

    coverage_setup(conn)
    make_unit(conn, "U1", parent="SH", type="university")
    metadata.save_data_set(conn, principal=SYSTEM, code="KG_Y", name_zh="幼儿园年报", name_en="Kindergartens",
                           period_type="Yearly", elements=["INCLUSIVE", "CHILDREN"],
                           unit_types=["primary_school"], units=["U1"])  # U1 reports it too
    targets.set_target(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020", value=86)
    everyone = targets.cascade(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020")
    assert [t.unit for t in everyone.written] == ["D1", "D2", "U1"]
    targets.delete_target(conn, principal=SYSTEM, indicator="COVERAGE", unit="U1", period="2020")
    districts = targets.cascade(
        conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020", unit_types=["district_bureau"]
    )
    assert [t.unit for t in districts.written] == ["D1", "D2"]
    assert queries.targets_of(conn, principal=SYSTEM, indicator="COVERAGE", unit="U1", period="2020") == []
