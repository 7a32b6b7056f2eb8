"""Importing a file whose values span many daily periods, through the service, on both databases."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, func, select

from jiaowei import clock
from jiaowei.auth.model import SYSTEM
from jiaowei.indicators import store
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import service as values
from jiaowei.registry import service as registry
from tests.factories import indicator_setup

FIRST = dt.date(2020, 1, 1)
DAYS = 120
CLOSED = dt.date(2020, 3, 1)  # S2 is closed from this day on


def daily_data_set(conn: Connection, *, expiry_days: int = 0) -> None:
    metadata.save_data_element(conn, principal=SYSTEM, code="CASES", name_zh="病例", name_en="Cases")
    metadata.save_data_set(conn, principal=SYSTEM, code="DAILY", name_zh="每日", name_en="Daily",
                           period_type="Daily", elements=["CASES"], unit_types=["primary_school"],
                           expiry_days=expiry_days)


def days() -> list[dt.date]:
    return [FIRST + dt.timedelta(days=d) for d in range(DAYS)]


def daily_rows() -> list[ValueRow]:
    return [
        ValueRow(data_element="CASES", period=day.strftime("%Y%m%d"), org_unit=unit, value=str(i),
                 row=2 * i + j + 1)
        for i, day in enumerate(days())
        for j, unit in enumerate(("S1", "S2"))
    ]


def test_a_unit_closed_mid_file_has_exactly_its_later_periods_refused(conn: Connection) -> None:
    indicator_setup(conn)
    daily_data_set(conn)
    registry.close_unit(conn, principal=SYSTEM, code="S2", effective=CLOSED)
    rows = daily_rows()
    summary = values.import_values(conn, principal=SYSTEM, rows=rows, source="dhis2-json", valid_only=True)
    later = [r for r in rows if r.org_unit == "S2" and r.period >= CLOSED.strftime("%Y%m%d")]
    assert len(later) == DAYS - (CLOSED - FIRST).days == 60
    assert [(c.row, c.field, c.value) for c in summary.conflicts] == [(r.row, "orgUnit", "S2") for r in later]
    assert [str(c.reason) for c in summary.conflicts] == [
        f"the unit was not open during {r.period}" for r in later
    ]
    assert summary.imported == len(rows) - len(later) == 180
    stored = conn.execute(select(func.count()).select_from(store.data_values)).scalar_one()
    assert stored == 180


def test_the_whole_file_is_refused_without_valid_only(conn: Connection) -> None:
    indicator_setup(conn)
    daily_data_set(conn)
    registry.close_unit(conn, principal=SYSTEM, code="S2", effective=CLOSED)
    summary = values.import_values(conn, principal=SYSTEM, rows=daily_rows(), source="dhis2-json")
    assert len(summary.conflicts) == 60 and summary.imported == 0
    assert conn.execute(select(func.count()).select_from(store.data_values)).scalar_one() == 0


def test_expired_periods_among_many_are_refused_and_open_ones_written(conn: Connection) -> None:
    indicator_setup(conn)
    daily_data_set(conn, expiry_days=30)
    today = clock.today()
    recent = [today - dt.timedelta(days=d) for d in range(10)]  # still open
    old = [today - dt.timedelta(days=40 + d) for d in range(5)]  # closed 30 days after they ended
    rows = [
        ValueRow(data_element="CASES", period=day.strftime("%Y%m%d"), org_unit="S1", value="1", row=i)
        for i, day in enumerate(recent + old, 1)
    ]
    summary = values.import_values(conn, principal=SYSTEM, rows=rows, source="dhis2-json", valid_only=True)
    assert [(c.row, c.field, c.value) for c in summary.conflicts] == [
        (r.row, "period", r.period) for r in rows[len(recent):]
    ]
    assert all("expiry days" in c.reason for c in summary.conflicts)
    assert summary.imported == len(recent)
