"""Approvals up the tree, the locks they make, period expiry and its exceptions, on both databases."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import TypedDict

import pytest
from sqlalchemy import Connection, select

from jiaowei import clock
from jiaowei.audit.store import audit_log
from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.errors import Conflict, NotFound, PermissionDenied, ValidationError
from jiaowei.indicators.approval import completeness, queries
from jiaowei.indicators.approval import service as approval
from jiaowei.indicators.approval.model import ApprovalStatus
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ImportSummary, ValueRow
from jiaowei.indicators.values import service as values
from tests.factories import indicator_setup, make_unit, make_user


class DataSetPeriod(TypedDict):
    data_set: str
    period: str


class DataSetPeriodUnit(DataSetPeriod):
    unit: str


DS: DataSetPeriod = {"data_set": "SCHOOL_Y", "period": "2020"}
TODAY = clock.today()


@dataclass(frozen=True)
class Staff:
    """The people of the approval tests: S1 and S2 have completed SCHOOL_Y 2020."""

    district: Principal  # D1's staff, above S1
    commission: Principal  # SH's staff, above D1 and D2
    reporter: Principal  # S1's own reporter


@pytest.fixture
def staff(conn: Connection) -> Staff:
    indicator_setup(conn)
    for unit in ("S1", "S2"):
        completeness.complete(conn, principal=SYSTEM, **DS, unit=unit)
    return Staff(
        district=make_user(conn, "d1staff", role="district_staff", capture=["D1"]),
        commission=make_user(conn, "shstaff", role="commission_staff", capture=["SH"]),
        reporter=make_user(conn, "s1reporter", role="unit_reporter", capture=["S1"]),
    )


def teachers(unit: str, value: str = "15", period: str = "2020") -> list[ValueRow]:
    return [ValueRow(data_element="TEACHERS", period=period, org_unit=unit, value=value, row=1)]


def save(
    conn: Connection, unit: str = "S1", value: str = "16", element: str = "TEACHERS", period: str = "2020"
) -> ImportSummary:
    return values.save_value(
        conn, principal=SYSTEM, data_element=element, period=period, org_unit=unit, value=value
    )


# ---------------------------------------------------------------- a district approves its schools


def test_a_district_may_approve_an_unapproved_school(conn: Connection, staff: Staff) -> None:
    before = queries.approval_status(conn, principal=staff.district, **DS, unit="S1")
    assert before.state == "unapproved" and before.may_approve and not before.may_unapprove


def test_a_district_approves_its_school_and_the_approval_is_recorded(conn: Connection, staff: Staff) -> None:
    status = approval.approve(conn, principal=staff.district, **DS, unit="S1")
    assert status.state == "approved" and status.approved_by == "d1staff" and status.may_unapprove
    assert [h.action for h in status.history] == ["approve"]
    keys = conn.scalars(select(audit_log.c.entity_key).where(audit_log.c.action == "data.approve")).all()
    assert keys == ["SCHOOL_Y/2020/S1"]


def test_a_district_may_not_approve_itself(conn: Connection, staff: Staff) -> None:
    own = queries.approval_status(conn, principal=staff.district, **DS, unit="D1")
    assert not own.may_approve
    with pytest.raises(PermissionDenied):
        approval.approve(conn, principal=staff.district, **DS, unit="D1")


def test_a_district_does_not_see_another_districts_school(conn: Connection, staff: Staff) -> None:
    with pytest.raises(NotFound):
        approval.approve(conn, principal=staff.district, **DS, unit="S2")


def test_a_unit_reporter_may_not_approve_its_own_unit(conn: Connection, staff: Staff) -> None:
    with pytest.raises(PermissionDenied):
        approval.approve(conn, principal=staff.reporter, **DS, unit="S1")


def test_approving_twice_is_a_conflict(conn: Connection, staff: Staff) -> None:
    approval.approve(conn, principal=staff.district, **DS, unit="S1")
    with pytest.raises(Conflict):
        approval.approve(conn, principal=staff.district, **DS, unit="S1")  # already approved


# ---------------------------------------------------------------- the commission approves a district


@pytest.fixture
def district_approved(conn: Connection, staff: Staff) -> Staff:
    """D1's staff approved S1, then the commission approved D1; S2 is not approved."""
    approval.approve(conn, principal=staff.district, **DS, unit="S1")
    approval.approve(conn, principal=staff.commission, **DS, unit="D1")
    return staff


def test_a_unit_that_does_not_report_the_data_set_cannot_be_approved(conn: Connection, staff: Staff) -> None:
    make_unit(conn, "K1", parent="D1", type="kindergarten")
    with pytest.raises(ValidationError) as nothing:
        approval.approve(conn, principal=SYSTEM, **DS, unit="K1")  # K1 does not report SCHOOL_Y
    assert nothing.value.problems[0].field == "orgUnit"


def test_a_district_waits_for_its_schools_before_it_is_approved(conn: Connection, staff: Staff) -> None:
    waiting = queries.approval_status(conn, principal=staff.commission, **DS, unit="D1")
    assert waiting.waiting == ["S1"] and not waiting.may_approve
    with pytest.raises(Conflict) as first:
        approval.approve(conn, principal=staff.commission, **DS, unit="D1")
    assert [p.value for p in first.value.problems] == ["S1"]


def test_the_commission_approves_a_district_once_its_schools_are_approved(
    conn: Connection, staff: Staff
) -> None:
    approval.approve(conn, principal=staff.district, **DS, unit="S1")
    assert approval.approve(conn, principal=staff.commission, **DS, unit="D1").state == "approved"


def test_a_school_under_an_approved_district_shows_the_approval_above(
    conn: Connection, district_approved: Staff
) -> None:
    below = queries.approval_status(conn, principal=district_approved.district, **DS, unit="S1")
    assert below.state == "approved" and below.approved_above == "D1" and not below.may_unapprove


def test_the_top_waits_for_every_school_that_reported(conn: Connection, district_approved: Staff) -> None:
    with pytest.raises(Conflict):
        approval.approve(conn, principal=SYSTEM, **DS, unit="SH")  # S2 reported and is not approved


# ---------------------------------------------------------------- approved data is locked


@pytest.fixture
def school_approved(conn: Connection, staff: Staff) -> Staff:
    """S1 has 15 teachers for 2020, approved by D1's staff."""
    values.import_values(conn, principal=SYSTEM, rows=teachers("S1"), source="form")
    approval.approve(conn, principal=staff.district, **DS, unit="S1")
    return staff


@pytest.fixture
def locked_from_above(conn: Connection, school_approved: Staff) -> Staff:
    """As school_approved, and the commission approved D1 as well."""
    approval.approve(conn, principal=school_approved.commission, **DS, unit="D1")
    return school_approved


@pytest.fixture
def district_unapproved(conn: Connection, locked_from_above: Staff) -> Staff:
    """As locked_from_above, then the commission unapproved D1 again; S1 is still approved."""
    approval.unapprove(
        conn, principal=locked_from_above.commission, **DS, unit="D1", reason="S1 recounts its teachers"
    )
    return locked_from_above


def unapprove_school(conn: Connection, staff: Staff) -> ApprovalStatus:
    return approval.unapprove(conn, principal=staff.district, **DS, unit="S1", reason="recount")


def test_an_approved_school_refuses_imported_values(conn: Connection, school_approved: Staff) -> None:
    refused = values.import_values(conn, principal=SYSTEM, rows=teachers("S1", "20"), source="dhis2-json")
    assert refused.status == "ERROR" and "approved" in refused.conflicts[0].reason
    assert "SCHOOL_Y" in refused.conflicts[0].reason


def test_an_approved_school_refuses_a_saved_value(conn: Connection, school_approved: Staff) -> None:
    with pytest.raises(ValidationError) as saved:
        save(conn)
    assert "approved and locked" in saved.value.detail


def test_unapproving_needs_a_reason(conn: Connection, locked_from_above: Staff) -> None:
    with pytest.raises(ValidationError) as no_reason:
        approval.unapprove(conn, principal=locked_from_above.district, **DS, unit="S1", reason="  ")
    assert no_reason.value.problems[0].field == "reason"


def test_a_school_cannot_be_unapproved_while_its_district_is_approved(
    conn: Connection, locked_from_above: Staff
) -> None:
    with pytest.raises(Conflict) as above:
        approval.unapprove(conn, principal=locked_from_above.district, **DS, unit="S1", reason="wrong count")
    assert "D1" in above.value.detail


def test_a_district_may_not_unapprove_itself(conn: Connection, locked_from_above: Staff) -> None:
    with pytest.raises(PermissionDenied):
        approval.unapprove(conn, principal=locked_from_above.district, **DS, unit="D1", reason="mine")


def test_a_school_stays_locked_after_its_district_is_unapproved(
    conn: Connection, district_unapproved: Staff
) -> None:
    with pytest.raises(ValidationError):
        save(conn)  # S1 itself is still approved


def test_unapproving_a_school_keeps_the_reason_in_its_history(
    conn: Connection, district_unapproved: Staff
) -> None:
    status = unapprove_school(conn, district_unapproved)
    assert status.state == "unapproved"
    assert [(h.action, h.reason) for h in status.history] == [
        ("unapprove", "recount"),
        ("approve", ""),
    ]


def test_an_unapproved_school_takes_values_again(conn: Connection, district_unapproved: Staff) -> None:
    unapprove_school(conn, district_unapproved)
    assert save(conn).updated == 1


def test_unapproving_twice_is_a_conflict(conn: Connection, district_unapproved: Staff) -> None:
    unapprove_school(conn, district_unapproved)
    with pytest.raises(Conflict):
        approval.unapprove(conn, principal=district_unapproved.district, **DS, unit="S1", reason="again")


# ---------------------------------------------------------------- administrators


def approve_the_top(conn: Connection) -> list[ApprovalStatus]:
    """An administrator approves S1, S2 and then SH, leaving D1 and D2 unapproved."""
    return [approval.approve(conn, principal=SYSTEM, **DS, unit=unit) for unit in ("S1", "S2", "SH")]


@pytest.fixture
def top_approved(conn: Connection, staff: Staff) -> Staff:
    approve_the_top(conn)
    return staff


def test_an_administrator_approves_the_top_once_what_reported_below_is_approved(
    conn: Connection, staff: Staff
) -> None:
    *schools, top = approve_the_top(conn)  # the districts in between need not be
    assert [school.state for school in schools] == ["approved", "approved"]
    assert top.state == "approved" and top.lock.state == "open"


def test_a_district_under_an_approved_top_shows_the_approval_above(
    conn: Connection, top_approved: Staff
) -> None:
    district = queries.approval_status(conn, principal=top_approved.district, **DS, unit="D1")
    assert district.state == "approved_above" and district.approved_unit == "SH"
    assert district.approved_above == "SH" and not district.may_approve


def test_nobody_but_an_administrator_approves_the_top(conn: Connection, top_approved: Staff) -> None:
    with pytest.raises(PermissionDenied):
        approval.approve(conn, principal=top_approved.commission, **DS, unit="SH")


# ---------------------------------------------------------------- expiry and exceptions

LATE: DataSetPeriodUnit = {"data_set": "LATE_Y", "period": "2020", "unit": "S1"}


@pytest.fixture
def expiring(conn: Connection) -> Connection:
    """The indicator set-up plus LATE_Y, a yearly data set that closes ten days after its period."""
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


@pytest.fixture
def excepted(expiring: Connection) -> Connection:
    """As expiring, with an exception for S1 until five days from today."""
    approval.grant_exception(
        expiring, principal=SYSTEM, **LATE, until=TODAY + dt.timedelta(days=5), reason="flooded school"
    )
    return expiring


def test_a_past_period_refuses_values_after_its_expiry_days(expiring: Connection) -> None:
    with pytest.raises(ValidationError) as closed:
        save(expiring, element="LATE", value="3")
    assert "closed on 2021-01-10" in closed.value.detail


def test_a_period_closes_its_expiry_days_after_it_ends(expiring: Connection) -> None:
    assert asdict(queries.lock_state(expiring, **LATE, today=dt.date(2021, 1, 5))) == {
        "state": "closes",
        "expiry_days": 10,
        "closes": "2021-01-10",
        "locked_since": None,
        "until": None,
        "reason": None,
    }
    assert queries.lock_state(expiring, **LATE).locked_since == "2021-01-11"


def test_a_data_set_without_expiry_days_stays_open(expiring: Connection) -> None:
    assert queries.lock_state(expiring, **DS, unit="S1").state == "open"


def test_only_an_administrator_grants_an_exception(expiring: Connection) -> None:
    district = make_user(expiring, role="district_staff", capture=["D1"])
    with pytest.raises(PermissionDenied):
        approval.grant_exception(expiring, principal=district, **LATE, until=TODAY, reason="late form")


def test_an_exception_needs_a_date_not_past_and_a_reason(expiring: Connection) -> None:
    with pytest.raises(ValidationError) as past:
        approval.grant_exception(
            expiring, principal=SYSTEM, **LATE, until=TODAY - dt.timedelta(days=1), reason=""
        )
    assert {p.field for p in past.value.problems} == {"until", "reason"}


def test_a_granted_exception_shows_in_the_lock_state(expiring: Connection) -> None:
    granted = approval.grant_exception(
        expiring, principal=SYSTEM, **LATE, until=TODAY + dt.timedelta(days=5), reason="flooded school"
    )
    assert granted.granted_by == "system"
    state = queries.lock_state(expiring, **LATE)
    assert state.state == "exception" and state.reason == "flooded school"


def test_an_exception_reopens_the_period_for_its_unit(excepted: Connection) -> None:
    assert save(excepted, element="LATE", value="3").imported == 1


def test_an_exception_reopens_the_period_for_its_unit_only(excepted: Connection) -> None:
    with pytest.raises(ValidationError):
        save(excepted, unit="S2", element="LATE", value="3")  # the exception is S1's only


def test_a_district_lists_the_exceptions_in_its_scope(excepted: Connection) -> None:
    district = make_user(excepted, role="district_staff", capture=["D1"])
    assert [x.unit for x in queries.list_exceptions(excepted, principal=district)] == ["S1"]
    other = make_user(excepted, role="district_staff", capture=["D2"])
    assert queries.list_exceptions(excepted, principal=other) == []


def test_only_an_administrator_revokes_an_exception(excepted: Connection) -> None:
    district = make_user(excepted, role="district_staff", capture=["D1"])
    with pytest.raises(PermissionDenied):
        approval.revoke_exception(excepted, principal=district, **LATE)


def test_a_revoked_exception_locks_the_period_again(excepted: Connection) -> None:
    save(excepted, element="LATE", value="3")
    approval.revoke_exception(excepted, principal=SYSTEM, **LATE)
    assert queries.lock_state(excepted, **LATE).state == "locked"
    with pytest.raises(ValidationError):
        save(excepted, element="LATE", value="4")


def test_revoking_an_exception_twice_is_not_found(excepted: Connection) -> None:
    approval.revoke_exception(excepted, principal=SYSTEM, **LATE)
    with pytest.raises(NotFound):
        approval.revoke_exception(excepted, principal=SYSTEM, **LATE)


def test_an_exception_is_for_a_unit_that_reports_the_data_set(expiring: Connection) -> None:
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
