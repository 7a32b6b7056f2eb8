"""The pivot page's reads (issue 17, part 3: each statement is a round trip on PostgreSQL): the drill
links' unit places are one statement however many units the table shows (on PostgreSQL with the codes
as one parameter), and the page reads the user's unit choices once. Both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.analytics.pivot import queries
from jiaowei.analytics.pivot.view import unit_places
from tests.analytics.test_pivot_pages import BY_DISTRICT, staff  # noqa: F401 - the fixture
from tests.factories import indicator_setup, make_unit
from tests.statements import counting

DAY = dt.date(2020, 12, 31)


def test_unit_places_are_one_statement(conn: Connection) -> None:
    indicator_setup(conn)
    with counting(conn) as few:
        places = unit_places(conn, ["SH", "D1", "S1", "NOPE"], DAY)
    assert {code: (p.level, p.below) for code, p in places.items()} == {
        "SH": (1, True), "D1": (2, True), "S1": (3, False)}
    schools = [make_unit(conn, parent="D2") for _ in range(12)]
    with counting(conn) as many:
        places = unit_places(conn, ["SH", "D1", "S1", "NOPE", *schools], DAY)
    assert {places[s].level for s in schools} == {3} and not any(places[s].below for s in schools)
    assert places["D1"].below and not places["S1"].below
    assert many.statements == few.statements == 1
    if conn.dialect.name == "postgresql":
        assert many.parameters == few.parameters  # the codes are one array, not a parameter each


def test_the_page_reads_the_unit_choices_once(staff: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    levels = queries._levels
    calls: list[dt.date] = []

    def counted(conn: Connection, day: dt.date) -> list[tuple[int, list[str], int]]:
        calls.append(day)
        return levels(conn, day)

    monkeypatch.setattr(queries, "_levels", counted)
    response = staff.get("/analytics", params=BY_DISTRICT)
    assert response.status_code == 200
    assert len(calls) == 1  # the form's defaults and its unit choices share one read
