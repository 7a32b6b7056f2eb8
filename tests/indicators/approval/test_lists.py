"""The unit lists of the approval and completeness pages: only units that report the data set,
filters by status and search, pages of 50 with their counts; on both databases."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.approval import completeness
from tests.factories import indicator_setup, login, make_unit, make_user
from tests.pages_helpers import visible_text

Q = {"ds": "SCHOOL_Y", "pe": "2020", "lang": "en"}


@pytest.fixture
def staff(client: TestClient, conn: Connection) -> TestClient:
    """The commission's staff, logged in; SH has a hospital and a district without schools besides D1, D2."""
    indicator_setup(conn)
    make_unit(conn, "H1", parent="SH", type="hospital", sector="health")
    make_unit(conn, "H2", parent="D1", type="hospital", sector="health")
    make_unit(conn, "D3", parent="SH", type="district_bureau")
    make_user(conn, "shstaff", role="commission_staff", capture=["SH"])
    client.headers["accept"] = "text/html"
    login(client, "shstaff")
    return client


def codes(html: str, table: str) -> list[str]:
    body = html[html.index(f'id="{table}"') :]
    body = body[: body.index("</table>")]
    return re.findall(r"<code>([A-Z0-9]+)</code>", body)


def test_completeness_lists_no_hospital_for_a_school_data_set(staff: TestClient) -> None:
    page = staff.get("/data/completeness", params={**Q, "ou": "SH"})
    assert page.status_code == 200
    assert codes(page.text, "completeness") == ["SH", "D1", "D2"]  # not H1, not D3 (no school)
    below = staff.get("/data/completeness", params={**Q, "ou": "D1"})
    assert codes(below.text, "completeness") == ["D1", "S1"]  # not the hospital H2


def test_approval_lists_only_the_units_below_that_report_the_data_set(staff: TestClient) -> None:
    page = staff.get("/data/approval", params={**Q, "ou": "SH"})
    assert page.status_code == 200
    assert codes(page.text, "children") == ["D1", "D2"]
    assert "Units 1–2 of 2" in visible_text(page.text)


def test_the_approval_list_filters_by_status_and_search(staff: TestClient, conn: Connection) -> None:
    completeness.complete(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1")
    waiting = staff.get("/data/approval", params={**Q, "ou": "SH", "status": "waiting"})
    assert codes(waiting.text, "children") == ["D1"]
    silent = staff.get("/data/approval", params={**Q, "ou": "SH", "status": "not_reported"})
    assert codes(silent.text, "children") == ["D2"]
    searched = staff.get("/data/approval", params={**Q, "ou": "SH", "q": "d2"})
    assert codes(searched.text, "children") == ["D2"]
    none = staff.get("/data/approval", params={**Q, "ou": "SH", "q": "nothing like it"})
    assert 'id="children"' not in none.text and "No unit matches." in none.text


def test_the_completeness_list_comes_in_pages_of_50_with_counts(staff: TestClient, conn: Connection) -> None:
    for n in range(54):
        make_unit(conn, f"P{n:02d}", parent="D1")
    completeness.complete(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="P03")
    first = staff.get("/data/completeness", params={**Q, "ou": "D1"})
    listed = codes(first.text, "completeness")
    assert listed[0] == "D1" and len(listed) == 51 and "H2" not in listed
    assert "Units 1–50 of 55" in visible_text(first.text) and 'rel="next"' in first.text
    second = staff.get("/data/completeness", params={**Q, "ou": "D1", "page": "2"})
    assert codes(second.text, "completeness") == ["D1", "P50", "P51", "P52", "P53", "S1"]
    assert "Units 51–55 of 55" in visible_text(second.text) and 'rel="prev"' in second.text
    missing = staff.get("/data/completeness", params={**Q, "ou": "D1", "status": "missing"})
    assert "Units 1–50 of 54" in visible_text(missing.text)
    done = staff.get("/data/completeness", params={**Q, "ou": "D1", "status": "complete"})
    assert codes(done.text, "completeness") == ["D1", "P03"]
    found = staff.get("/data/completeness", params={**Q, "ou": "D1", "q": "p5"})
    assert codes(found.text, "completeness") == ["D1", "P50", "P51", "P52", "P53"]


def test_a_page_past_the_end_shows_the_last_page(staff: TestClient) -> None:
    page = staff.get("/data/approval", params={**Q, "ou": "SH", "page": "9"})
    assert codes(page.text, "children") == ["D1", "D2"]
