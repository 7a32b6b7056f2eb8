"""Cascading count targets: whole numbers that add up to the parent's, only to units that report.

The split is the largest remainder method (:func:`jiaowei.indicators.targets.model.apportion`),
checked as a property on its own and through the service on both databases.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.targets import queries
from jiaowei.indicators.targets import service as targets
from jiaowei.indicators.targets.model import apportion
from jiaowei.indicators.values import service as values
from tests.factories import indicator_metadata, indicator_setup, login, make_unit, make_user

weights = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=40).filter(lambda w: any(w))


@given(st.integers(-10**9, 10**9), weights)
def test_apportioned_parts_are_whole_and_add_up_to_the_total(total: int, shares: list[float]) -> None:
    parts = apportion(total, shares)
    assert all(p == int(p) for p in parts)
    assert sum(int(p) for p in parts) == total
    assert all(p == 0 for p, w in zip(parts, shares, strict=True) if w == 0)
    whole = math.fsum(shares)
    for part, weight in zip(parts, shares, strict=True):  # each part within one of its exact quota
        assert abs(part - total * weight / whole) < 1 + 1e-6


@given(st.integers(0, 10**7), weights, st.integers(1, 2))
def test_apportioned_parts_keep_the_decimals(total_steps: int, shares: list[float], decimals: int) -> None:
    total = total_steps / 10**decimals
    parts = apportion(total, shares, decimals=decimals)
    assert sum(round(p * 10**decimals) for p in parts) == total_steps
    assert all(abs(p * 10**decimals - round(p * 10**decimals)) < 1e-6 for p in parts)


def test_apportion_gives_leftover_steps_to_the_largest_remainders() -> None:
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]  # ties: the earlier weight
    assert apportion(100, [0.5, 0.3, 0.2]) == [50, 30, 20]
    assert apportion(7, [3, 0, 2]) == [4, 0, 3]
    assert apportion(-10, [1, 1, 1]) == [-4, -3, -3]
    with pytest.raises(ValueError):
        apportion(10, [0, 0])


PUPIL_COUNT = {"code": "PUPIL_COUNT", "name_zh": "在校学生数", "name_en": "Pupils", "numerator": "#{PUPILS}",
               "denominator": "1", "display": "number", "decimals": 0}


def pupils_setup(conn: Connection) -> None:
    """``PUPIL_COUNT`` (a count of pupils, no decimals) over small_tree's schools (data set SCHOOL_Y)."""
    indicator_setup(conn)
    metadata.save_indicator(conn, principal=SYSTEM, **PUPIL_COUNT)


def load(conn: Connection, period: str, **pupils: int) -> None:
    rows = [ValueRow(data_element="PUPILS", period=period, org_unit=unit, category_option_combo="M",
                     value=str(n), row=i) for i, (unit, n) in enumerate(pupils.items(), 1)]
    assert values.import_values(conn, principal=SYSTEM, rows=rows, source="dhis2-json").status == "SUCCESS"


def test_a_count_target_is_split_into_whole_numbers_that_add_up(conn: Connection) -> None:
    pupils_setup(conn)
    make_unit(conn, "S3", parent="D2")
    load(conn, "2020", S1=1, S2=1, S3=1)  # D1 has a third, D2 two thirds
    targets.set_target(conn, principal=SYSTEM, indicator="PUPIL_COUNT", unit="SH", period="2020", value=100,
                       at_risk_margin=10)
    result = targets.cascade(conn, principal=SYSTEM, indicator="PUPIL_COUNT", unit="SH", period="2020",
                             method="current_share")
    assert [(t.unit, t.value, t.at_risk_margin) for t in result.written] == [("D1", 33, 3), ("D2", 67, 7)]
    assert [t.formatted for t in result.written] == ["33", "67"]


def test_units_that_do_not_report_the_indicator_get_no_share(conn: Connection) -> None:
    pupils_setup(conn)
    make_unit(conn, "U1", parent="SH", type="university")
    make_unit(conn, "H1", parent="SH", type="hospital", sector="health")
    make_unit(conn, "D3", parent="SH", type="district_bureau")  # a district with no school yet
    load(conn, "2020", S1=300, S2=100)
    targets.set_target(conn, principal=SYSTEM, indicator="PUPIL_COUNT", unit="SH", period="2020", value=401)
    for method in ("current_share", "same"):
        result = targets.cascade(conn, principal=SYSTEM, indicator="PUPIL_COUNT", unit="SH", period="2020",
                                 method=method, overwrite=True)
        assert [t.unit for t in result.written] == ["D1", "D2"], method
    for unit in ("U1", "H1", "D3"):
        assert queries.targets_of(conn, principal=SYSTEM, indicator="PUPIL_COUNT", unit=unit) == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.integers(0, 10**6),
       children=st.lists(st.tuples(st.booleans(), st.integers(0, 5000)), min_size=1, max_size=6)
       .filter(lambda c: any(reports and n for reports, n in c)))
def test_cascaded_counts_add_up_and_skip_units_that_do_not_report(
        conn: Connection, target: int, children: list[tuple[bool, int]]) -> None:
    """Property: whole numbers, the sum is the parent's, no share for a unit that does not report."""
    with conn.begin_nested() as savepoint:
        make_unit(conn, "SH", type="commission")
        pupils_setup_metadata(conn)
        pupils: dict[str, int] = {}
        for n, (reports, count) in enumerate(children, 1):
            make_unit(conn, f"C{n}", parent="SH", type="district_bureau" if reports else "hospital")
            if reports:
                make_unit(conn, f"C{n}S", parent=f"C{n}")
                pupils[f"C{n}S"] = count
        load(conn, "2020", **pupils)
        targets.set_target(conn, principal=SYSTEM, indicator="PUPIL_COUNT", unit="SH", period="2020",
                           value=target)
        result = targets.cascade(conn, principal=SYSTEM, indicator="PUPIL_COUNT", unit="SH", period="2020",
                                 method="current_share")
        reporting = {f"C{n}" for n, (reports, _) in enumerate(children, 1) if reports}
        assert {t.unit for t in result.written} == reporting
        assert all(t.value == int(t.value) for t in result.written)
        assert sum(int(t.value) for t in result.written) == target
        savepoint.rollback()


def pupils_setup_metadata(conn: Connection) -> None:
    indicator_metadata(conn)
    metadata.save_indicator(conn, principal=SYSTEM, **PUPIL_COUNT)


def test_the_indicator_page_splits_a_count_by_share_unless_told_otherwise(browser, conn: Connection) -> None:
    pupils_setup(conn)
    make_unit(conn, "H1", parent="SH", type="hospital", sector="health")
    load(conn, "2020", S1=2, S2=1)
    make_user(conn, "wang", role="commission_staff", capture=["SH"])
    csrf = login(browser, "wang")
    targets.set_target(conn, principal=SYSTEM, indicator="PUPIL_COUNT", unit="SH", period="2020", value=1000)
    page = browser.get("/indicators/PUPIL_COUNT?ou=SH&pe=2020").text
    assert '<option value="current_share" selected>' in page
    cascaded = browser.post("/indicators/PUPIL_COUNT/cascade", follow_redirects=False,
                            data={"csrf_token": csrf, "ou": "SH", "pe": "2020", "method": "current_share"})
    assert cascaded.status_code == 303
    shares = {u: queries.targets_of(conn, principal=SYSTEM, indicator="PUPIL_COUNT", unit=u, period="2020")
              for u in ("D1", "D2", "H1")}
    assert [t.value for t in shares["D1"]] == [667] and [t.value for t in shares["D2"]] == [333]
    assert shares["H1"] == []
