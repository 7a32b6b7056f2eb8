"""Complete data set registrations and the completeness and timeliness report, on both databases."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

import pytest
from sqlalchemy import Connection, select

from jiaowei.audit.store import audit_log
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import Conflict, NotFound, PermissionDenied, ValidationError
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.approval import service as approval
from jiaowei.indicators.approval.model import CompletenessRow
from tests.factories import indicator_setup, make_unit, make_user


class DataSetPeriod(TypedDict):
    data_set: str
    period: str


DS: DataSetPeriod = {"data_set": "SCHOOL_Y", "period": "2020"}


def noon(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)


def audited(conn: Connection, action: str) -> list[str]:
    return list(conn.scalars(select(audit_log.c.entity_key).where(audit_log.c.action == action)))


def test_complete_then_uncomplete_a_registration(conn: Connection) -> None:
    indicator_setup(conn)
    reporter = make_user(conn, role="unit_reporter", capture=["S1"])
    assert completeness.completion_of(conn, principal=reporter, **DS, unit="S1")["completed"] is False
    done = completeness.complete(conn, principal=reporter, **DS, unit="S1")
    assert done["completed"] and done["storedBy"] == reporter.username and done["onTime"] is False
    assert done["due"] == "2021-01-15" and done["organisationUnit"] == "S1"
    again = completeness.complete(conn, principal=reporter, **DS, unit="S1")
    assert again["date"] == done["date"]  # completing twice changes nothing
    assert audited(conn, "data.complete") == ["SCHOOL_Y/2020/S1"]
    assert completeness.uncomplete(conn, principal=reporter, **DS, unit="S1") is True
    assert completeness.uncomplete(conn, principal=reporter, **DS, unit="S1") is False
    assert completeness.completion_of(conn, principal=reporter, **DS, unit="S1")["completed"] is False
    assert audited(conn, "data.uncomplete") == ["SCHOOL_Y/2020/S1"]


def test_registrations_are_refused_outside_the_assignment_the_period_type_and_the_scope(
    conn: Connection,
) -> None:
    indicator_setup(conn)
    reporter = make_user(conn, role="unit_reporter", capture=["S1"])
    viewer = make_user(conn, role="viewer", view=["SH"])
    with pytest.raises(ValidationError) as not_assigned:
        completeness.complete(conn, principal=SYSTEM, **DS, unit="D1")
    assert not_assigned.value.problems[0].field == "orgUnit"
    with pytest.raises(ValidationError) as wrong_type:
        completeness.complete(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="202001", unit="S1")
    assert wrong_type.value.problems[0].field == "period"
    with pytest.raises(NotFound):
        completeness.complete(conn, principal=reporter, **DS, unit="S2")
    with pytest.raises(NotFound):
        completeness.complete(conn, principal=SYSTEM, data_set="NOPE", period="2020", unit="S1")
    with pytest.raises(PermissionDenied):
        completeness.complete(conn, principal=viewer, **DS, unit="S1")
    with pytest.raises(PermissionDenied):
        completeness.complete(conn, principal=reporter, **DS, unit="S1", at=noon("2021-01-01"))


def test_approved_data_cannot_be_completed_or_uncompleted(conn: Connection) -> None:
    indicator_setup(conn)
    completeness.complete(conn, principal=SYSTEM, **DS, unit="S1")
    approval.approve(conn, principal=SYSTEM, **DS, unit="S1")
    with pytest.raises(Conflict) as refused:
        completeness.uncomplete(conn, principal=SYSTEM, **DS, unit="S1")
    assert "approved" in refused.value.detail
    make_unit(conn, "S3", parent="D1")
    approval.approve(conn, principal=SYSTEM, **DS, unit="D1")
    with pytest.raises(Conflict):
        completeness.complete(conn, principal=SYSTEM, **DS, unit="S3")  # locked by D1's approval


def test_register_all_answers_an_import_summary(conn: Connection) -> None:
    indicator_setup(conn)
    district = make_user(conn, role="district_staff", capture=["D1"])
    items: list[dict[str, Any]] = [
        {"dataSet": "SCHOOL_Y", "period": "2020", "organisationUnit": "S1", "completed": True},
        {"dataSet": "SCHOOL_Y", "period": "2020", "organisationUnit": "S1"},
        {"dataSet": "SCHOOL_Y", "period": "2020", "organisationUnit": "S2", "completed": True},
        {"dataSet": "SCHOOL_Y", "period": "2019", "organisationUnit": "S1", "completed": False},
    ]
    summary = completeness.register_all(conn, principal=district, items=items)
    assert summary["status"] == "WARNING"
    assert summary["importCount"] == {"imported": 1, "updated": 0, "ignored": 3, "deleted": 0}
    assert [(c["object"], c["indexes"], c["errorCode"]) for c in summary["conflicts"]] == [
        ("S2", [2], "not-found")
    ]
    only_bad = completeness.register_all(conn, principal=district, items=items[2:3])
    assert only_bad["status"] == "ERROR"
    listed = completeness.registrations(
        conn, principal=district, data_set="SCHOOL_Y", periods=["2020"], unit="D1", children=True
    )
    assert [r["organisationUnit"] for r in listed] == ["S1"]


@pytest.fixture
def reported(conn: Connection) -> Connection:
    """S1 on time, S3 late (both in D1), S2 (D2) not reported; S4 opened after 2020."""
    indicator_setup(conn)
    make_unit(conn, "S3", parent="D1")
    make_unit(conn, "S4", parent="D2", opened=dt.date(2021, 3, 1))
    make_unit(conn, "K1", parent="D1", type="kindergarten")
    completeness.complete(conn, principal=SYSTEM, **DS, unit="S1", at=noon("2021-01-15"))
    completeness.complete(conn, principal=SYSTEM, **DS, unit="S3", at=noon("2021-01-16"))
    return conn


def counts(rows: list[CompletenessRow]) -> dict[str, tuple[Any, ...]]:
    return {r.unit: (r.expected, r.received, r.on_time, r.received_percent, r.on_time_percent) for r in rows}


def test_completeness_and_timeliness_per_child(reported: Connection) -> None:
    rows = completeness.completeness(
        reported, principal=SYSTEM, data_set="SCHOOL_Y", periods=["2020"], unit="SH"
    )
    assert [r.unit for r in rows] == ["SH", "D1", "D2"] and rows[0].parent and not rows[1].parent
    assert counts(rows) == {
        "SH": (3, 2, 1, 66.7, 33.3),
        "D1": (2, 2, 1, 100.0, 50.0),
        "D2": (1, 0, 0, 0.0, 0.0),
    }
    assert rows[0].due == "2021-01-15"
    district = completeness.completeness(
        reported, principal=SYSTEM, data_set="SCHOOL_Y", periods=["2020", "2021"], unit="D1", children=False
    )
    assert [(r.period, r.unit, r.expected, r.received) for r in district] == [
        ("2020", "D1", 2, 2),
        ("2021", "D1", 2, 0),
    ]
    later = completeness.completeness(
        reported, principal=SYSTEM, data_set="SCHOOL_Y", periods=["2021"], unit="D2"
    )
    assert counts(later)["D2"] == (2, 0, 0, 0.0, 0.0)  # S4 is expected from 2021 on
    nothing = completeness.completeness(
        reported, principal=SYSTEM, data_set="SCHOOL_Y", periods=["2020"], unit="K1"
    )
    assert counts(nothing) == {"K1": (0, 0, 0, None, None)}


def test_the_report_keeps_to_the_scope_and_checks_its_periods(reported: Connection) -> None:
    district = make_user(reported, role="district_staff", capture=["D1"])
    rows = completeness.completeness(
        reported, principal=district, data_set="SCHOOL_Y", periods=["2020"], unit="D1"
    )
    assert [r.unit for r in rows] == ["D1", "K1", "S1", "S3"]
    with pytest.raises(NotFound):
        completeness.completeness(
            reported, principal=district, data_set="SCHOOL_Y", periods=["2020"], unit="SH"
        )
    with pytest.raises(ValidationError) as no_periods:
        completeness.completeness(reported, principal=SYSTEM, data_set="SCHOOL_Y", periods=[], unit="SH")
    assert no_periods.value.problems[0].field == "period"
    with pytest.raises(ValidationError):
        completeness.completeness(
            reported, principal=SYSTEM, data_set="SCHOOL_Y", periods=["2020Q1"], unit="SH"
        )
