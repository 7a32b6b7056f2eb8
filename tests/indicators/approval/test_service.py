"""Approvals up the tree, the locks they make, period expiry and its exceptions, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from jiaowei.audit.store import audit_log
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import Conflict, NotFound, PermissionDenied, ValidationError
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.approval import service as approval
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import service as values
from tests.factories import indicator_setup, make_unit, make_user

DS = {"data_set": "SCHOOL_Y", "period": "2020"}
TODAY = dt.date.today()


@pytest.fixture
def world(conn):  # type: ignore[no-untyped-def]
    indicator_setup(conn)
    for unit in ("S1", "S2"):
        completeness.complete(conn, principal=SYSTEM, **DS, unit=unit)
    return {
        "district": make_user(conn, "d1staff", role="district_staff", capture=["D1"]),
        "commission": make_user(conn, "shstaff", role="commission_staff", capture=["SH"]),
        "reporter": make_user(conn, "s1reporter", role="unit_reporter", capture=["S1"]),
    }


def teachers(unit: str, value: str = "15", period: str = "2020") -> list[ValueRow]:
    return [ValueRow(data_element="TEACHERS", period=period, org_unit=unit, value=value, row=1)]


def save(conn, unit: str = "S1", value: str = "16", element: str = "TEACHERS", period: str = "2020"):  # type: ignore[no-untyped-def]
    return values.save_value(
        conn, principal=SYSTEM, data_element=element, period=period, org_unit=unit, value=value
    )


def test_a_district_approves_its_schools_but_not_itself_nor_another_district(conn, world) -> None:  # type: ignore[no-untyped-def]
    district = world["district"]
    before = approval.approval_status(conn, principal=district, **DS, unit="S1")
    assert before["state"] == "unapproved" and before["may_approve"] and not before["may_unapprove"]
    status = approval.approve(conn, principal=district, **DS, unit="S1")
    assert status["state"] == "approved" and status["approved_by"] == "d1staff" and status["may_unapprove"]
    assert [h["action"] for h in status["history"]] == ["approve"]
    own = approval.approval_status(conn, principal=district, **DS, unit="D1")
    assert not own["may_approve"]
    with pytest.raises(PermissionDenied):
        approval.approve(conn, principal=district, **DS, unit="D1")
    with pytest.raises(NotFound):
        approval.approve(conn, principal=district, **DS, unit="S2")
    with pytest.raises(PermissionDenied):
        approval.approve(conn, principal=world["reporter"], **DS, unit="S1")
    with pytest.raises(Conflict):
        approval.approve(conn, principal=district, **DS, unit="S1")  # already approved
    keys = conn.scalars(select(audit_log.c.entity_key).where(audit_log.c.action == "data.approve")).all()
    assert keys == ["SCHOOL_Y/2020/S1"]


def test_the_commission_approves_a_district_after_its_schools(conn, world) -> None:  # type: ignore[no-untyped-def]
    commission = world["commission"]
    make_unit(conn, "K1", parent="D1", type="kindergarten")
    with pytest.raises(ValidationError) as nothing:
        approval.approve(conn, principal=SYSTEM, **DS, unit="K1")  # K1 does not report SCHOOL_Y
    assert nothing.value.problems[0].field == "orgUnit"
    waiting = approval.approval_status(conn, principal=commission, **DS, unit="D1")
    assert waiting["waiting"] == ["S1"] and not waiting["may_approve"]
    with pytest.raises(Conflict) as first:
        approval.approve(conn, principal=commission, **DS, unit="D1")
    assert [p.value for p in first.value.problems] == ["S1"]
    approval.approve(conn, principal=world["district"], **DS, unit="S1")
    assert approval.approve(conn, principal=commission, **DS, unit="D1")["state"] == "approved"
    below = approval.approval_status(conn, principal=world["district"], **DS, unit="S1")
    assert below["state"] == "approved" and below["approved_above"] == "D1" and not below["may_unapprove"]
    with pytest.raises(Conflict):
        approval.approve(conn, principal=SYSTEM, **DS, unit="SH")  # S2 reported and is not approved


def test_approved_data_refuses_writes_until_unapproved_from_the_top(conn, world) -> None:  # type: ignore[no-untyped-def]
    district, commission = world["district"], world["commission"]
    values.import_values(conn, principal=SYSTEM, rows=teachers("S1"), source="form")
    approval.approve(conn, principal=district, **DS, unit="S1")
    refused = values.import_values(conn, principal=SYSTEM, rows=teachers("S1", "20"), source="dhis2-json")
    assert refused.status == "ERROR" and "approved" in refused.conflicts[0].reason
    assert "SCHOOL_Y" in refused.conflicts[0].reason
    with pytest.raises(ValidationError) as saved:
        save(conn)
    assert "approved and locked" in saved.value.detail
    approval.approve(conn, principal=commission, **DS, unit="D1")
    with pytest.raises(ValidationError) as no_reason:
        approval.unapprove(conn, principal=district, **DS, unit="S1", reason="  ")
    assert no_reason.value.problems[0].field == "reason"
    with pytest.raises(Conflict) as above:
        approval.unapprove(conn, principal=district, **DS, unit="S1", reason="wrong count")
    assert "D1" in above.value.detail
    with pytest.raises(PermissionDenied):
        approval.unapprove(conn, principal=district, **DS, unit="D1", reason="mine")
    approval.unapprove(conn, principal=commission, **DS, unit="D1", reason="S1 recounts its teachers")
    with pytest.raises(ValidationError):
        save(conn)  # S1 itself is still approved
    status = approval.unapprove(conn, principal=district, **DS, unit="S1", reason="recount")
    assert status["state"] == "unapproved"
    assert [(h["action"], h["reason"]) for h in status["history"]] == [
        ("unapprove", "recount"),
        ("approve", ""),
    ]
    assert save(conn).updated == 1
    with pytest.raises(Conflict):
        approval.unapprove(conn, principal=district, **DS, unit="S1", reason="again")


def test_an_administrator_approves_anything_once_what_reported_below_is_approved(conn, world) -> None:  # type: ignore[no-untyped-def]
    for school in ("S1", "S2"):
        assert approval.approve(conn, principal=SYSTEM, **DS, unit=school)["state"] == "approved"
    top = approval.approve(conn, principal=SYSTEM, **DS, unit="SH")  # the districts in between need not be
    assert top["state"] == "approved" and top["lock"]["state"] == "open"
    district = approval.approval_status(conn, principal=world["district"], **DS, unit="D1")
    assert district["state"] == "approved_above" and district["approved_unit"] == "SH"
    assert district["approved_above"] == "SH" and not district["may_approve"]
    with pytest.raises(PermissionDenied):
        approval.approve(
            conn, principal=world["commission"], **DS, unit="SH"
        )  # nobody is above SH but admins


# ---------------------------------------------------------------- expiry and exceptions


@pytest.fixture
def expiring(conn):  # type: ignore[no-untyped-def]
    indicator_setup(conn)
    metadata.save_data_element(
        conn,
        principal=SYSTEM,
        code="LATE",
        name_zh="迟报",
        name_en="Late",
        value_type="INTEGER",
        aggregation_type="SUM",
    )
    metadata.save_data_set(
        conn,
        principal=SYSTEM,
        code="LATE_Y",
        name_zh="十日",
        name_en="Ten days",
        period_type="Yearly",
        elements=["LATE"],
        unit_types=["primary_school"],
        expiry_days=10,
    )
    return conn


def test_a_past_period_locks_after_its_expiry_days_and_an_exception_reopens_it(expiring) -> None:  # type: ignore[no-untyped-def]
    conn = expiring
    late = {"data_set": "LATE_Y", "period": "2020", "unit": "S1"}
    with pytest.raises(ValidationError) as closed:
        save(conn, element="LATE", value="3")
    assert "closed on 2021-01-10" in closed.value.detail
    assert approval.lock_state(conn, **late, today=dt.date(2021, 1, 5)) == {
        "state": "closes",
        "expiry_days": 10,
        "closes": "2021-01-10",
        "locked_since": None,
        "until": None,
        "reason": None,
    }
    assert approval.lock_state(conn, **late)["locked_since"] == "2021-01-11"
    assert approval.lock_state(conn, **{**late, "data_set": "SCHOOL_Y"})["state"] == "open"
    district = make_user(conn, role="district_staff", capture=["D1"])
    with pytest.raises(PermissionDenied):
        approval.grant_exception(conn, principal=district, **late, until=TODAY, reason="late form")
    with pytest.raises(ValidationError) as past:
        approval.grant_exception(
            conn, principal=SYSTEM, **late, until=TODAY - dt.timedelta(days=1), reason=""
        )
    assert {p.field for p in past.value.problems} == {"until", "reason"}
    granted = approval.grant_exception(
        conn, principal=SYSTEM, **late, until=TODAY + dt.timedelta(days=5), reason="flooded school"
    )
    assert granted["granted_by"] == "system"
    state = approval.lock_state(conn, **late)
    assert state["state"] == "exception" and state["reason"] == "flooded school"
    assert save(conn, element="LATE", value="3").imported == 1
    with pytest.raises(ValidationError):
        save(conn, unit="S2", element="LATE", value="3")  # the exception is S1's only
    assert [x["unit"] for x in approval.list_exceptions(conn, principal=district)] == ["S1"]
    other = make_user(conn, role="district_staff", capture=["D2"])
    assert approval.list_exceptions(conn, principal=other) == []
    with pytest.raises(PermissionDenied):
        approval.revoke_exception(conn, principal=district, **late)
    approval.revoke_exception(conn, principal=SYSTEM, **late)
    assert approval.lock_state(conn, **late)["state"] == "locked"
    with pytest.raises(NotFound):
        approval.revoke_exception(conn, principal=SYSTEM, **late)
    with pytest.raises(ValidationError):
        save(conn, element="LATE", value="4")


def test_an_exception_is_for_a_unit_that_reports_the_data_set(expiring) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as district:
        approval.grant_exception(
            expiring,
            principal=SYSTEM,
            data_set="LATE_Y",
            period="2020",
            unit="D1",
            until=TODAY,
            reason="whole district",
        )
    assert district.value.problems[0].field == "orgUnit"
