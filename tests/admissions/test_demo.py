"""The 2020 admissions demo on both databases: its dates, placement for everyone, childcare, after-school."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, func, select

from jiaowei import clock
from jiaowei.admissions import demo, proof, queries
from jiaowei.admissions.placement import report
from jiaowei.admissions.store import applicants, campaign_schools, campaigns
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import BoundDatabase
from jiaowei.demo import shanghai2020
from jiaowei.registry import queries as registry
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.factories import login

SECRET = "test-secret-" + "x" * 32
LOTTERIES = ("SH2020-P1", "SH2020-J6")
HTML_EN = {"accept": "text/html", "accept-language": "en"}
DISTRICTS = 16


@pytest.fixture(scope="module")
def loaded(engine: Engine, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Connection, dict[str, Any], Path]]:
    """The registry and admissions demos loaded once per module and database, rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    home = tmp_path_factory.mktemp("admissions-demo")
    shanghai2020.load(connection)
    summary = demo.load(connection, home=home, secret_key=SECRET)
    yield connection, summary, home
    outer.rollback()
    connection.close()


@pytest.fixture(scope="module")
def pages(loaded: tuple[Connection, dict[str, Any], Path]) -> Iterator[TestClient]:
    """The app over the demo, logged in as the demo's commission staff."""
    conn, _summary, home = loaded
    app = create_app(Settings(home=home, secret_key=SECRET), database=BoundDatabase(conn))
    with TestClient(app, raise_server_exceptions=True) as client:
        login(client, "commission", shanghai2020.PASSWORD)
        yield client


def count(conn: Connection, code: str, *where: Any) -> int:
    return int(conn.scalar(select(func.count()).select_from(applicants).join(
        campaigns, campaigns.c.id == applicants.c.campaign_id).where(campaigns.c.code == code, *where)) or 0)


def test_the_campaigns_carry_their_2020_dates(loaded):
    conn, _summary, _home = loaded
    rows = {r.code: r for r in conn.execute(select(campaigns))}
    assert set(rows) == {*LOTTERIES, demo.CHILDCARE[0], demo.AFTER_SCHOOL[0]}
    for row in rows.values():
        stamped = [row.created_at, row.frozen_at, row.drawn_at, row.published_at, row.placed_at]
        days = [clock.local(t)[:10] for t in stamped if t is not None]
        assert days and all(day.startswith("2020-") for day in days), (row.code, days)
        assert days == sorted(days), row.code
    for code in LOTTERIES:
        assert clock.local(rows[code].drawn_at)[:10] == demo.DRAW_DAY.isoformat()
        assert clock.local(rows[code].placed_at)[:10] == demo.DAYS["place"].isoformat()
    assert clock.local(rows[demo.CHILDCARE[0]].drawn_at)[:10] == demo.CHILDCARE_DAYS["draw"].isoformat()


def test_the_lotteries_keep_the_shares_of_the_report_and_verify(loaded):
    conn, summary, home = loaded
    assert summary["campaigns"] == {"SH2020-P1": (74, 84, 88.1), "SH2020-J6": (85, 110, 77.27)}
    for code in (*LOTTERIES, demo.CHILDCARE[0]):
        assert proof.verify(home / "lottery" / code / "lottery") == []
    for code in LOTTERIES:
        assert proof.verify(home / "lottery" / code / "placement") == []


def test_placement_places_every_child_the_lottery_did_not_admit(loaded):
    conn, summary, _home = loaded
    for code in LOTTERIES:
        assert summary["placement"][code]["unplaced"] == 0
        not_admitted = count(conn, code, applicants.c.status != "admitted")
        assert summary["placement"][code]["placed"] == not_admitted > 900
        assert count(conn, code, applicants.c.status.notin_(("admitted", "placed"))) == 0
        found = report.campaign_report(conn, principal=SYSTEM, code=code)
        assert found.done and found.unplaced == 0 and len(found.districts) == DISTRICTS


def test_every_district_has_its_public_schools_and_a_fallback_order(loaded):
    conn, _summary, _home = loaded
    for code in LOTTERIES:
        view = queries.campaign(conn, code=code)
        public = [s for s in view.schools if s.kind == "public"]
        districts = {s.districts[0] for s in public}
        assert len(districts) == DISTRICTS and set(view.fallback) == districts
        for district, order in view.fallback.items():
            assert 0 < len(order) <= demo.FALLBACK_SCHOOLS
            assert {s.districts[0] for s in public if s.school_id in order} == {district}
        assert all(s.cutoff is not None for s in public)  # each was part of the placement draw


def test_a_childcare_campaign_for_two_year_olds(loaded):
    conn, _summary, _home = loaded
    view = queries.campaign(conn, code=demo.CHILDCARE[0])
    assert (view.stage, view.status, view.year) == ("childcare", "published", 2020)
    assert view.schools and all("-CC-" in s.code for s in view.schools)
    assert view.lottery_schools is not None and view.lottery_schools > 0
    assert count(conn, demo.CHILDCARE[0]) > 300
    first, last = demo.CHILDCARE_BORN
    assert (last - first).days < 366  # one year of births: two to three years old on 1 September
    assert view.age_window is not None
    assert (view.age_window.born_from, view.age_window.born_to) == (first, last)
    assert view.age_window.admits(first) and not view.age_window.admits(first - dt.timedelta(days=1))


def test_an_after_school_campaign_open_for_applications(loaded):
    conn, _summary, _home = loaded
    view = queries.campaign(conn, code=demo.AFTER_SCHOOL[0])
    assert (view.stage, view.status, view.organiser.code) == ("after_school", "application",
                                                              demo.AFTER_SCHOOL_DISTRICT)
    assert len(view.schools) == demo.AFTER_SCHOOL_SCHOOLS
    assert all(s.code.startswith(f"{demo.AFTER_SCHOOL_DISTRICT}-PS-") for s in view.schools)
    assert count(conn, demo.AFTER_SCHOOL[0], applicants.c.status == "applied") > 200


def showing(text: str, anchor: str) -> tuple[int, int, int]:
    """The numbers of "Showing a–b of n." in the pager named ``anchor``."""
    part = text[text.index(f'data-testid="pager-{anchor}"'):]
    found = re.search(r"Showing (\d+)–(\d+) of (\d+)\.", part)
    assert found, part[:300]
    return int(found[1]), int(found[2]), int(found[3])


def test_the_campaign_page_shows_its_long_lists_by_pages_with_counts(loaded, pages):
    conn, _summary, _home = loaded
    code = "SH2020-P1"
    total = count(conn, code)
    schools = int(conn.scalar(select(func.count()).select_from(campaign_schools).join(
        campaigns, campaigns.c.id == campaign_schools.c.campaign_id).where(campaigns.c.code == code)) or 0)
    page = pages.get(f"/admissions/{code}", headers=HTML_EN)
    assert page.status_code == 200
    assert showing(page.text, "offset") == (1, 50, total)
    assert showing(page.text, "school_offset") == (1, 25, schools)
    assert page.text.count("<tr>") < 120  # one page of each list, not all 4,553 applicants and 881 schools
    assert "Placement placed every child the lottery did not admit" in page.text
    placed = count(conn, code, applicants.c.status == "placed")
    assert f"All ({total})" in page.text and f"Placed ({placed})" in page.text
    second = pages.get(f"/admissions/{code}?offset=50&school_kind=public", headers=HTML_EN)
    public = sum(1 for s in queries.campaign(conn, code=code).schools if s.kind == "public")
    assert showing(second.text, "offset") == (51, 100, total)
    assert showing(second.text, "school_offset") == (1, 25, public)
    assert "school_kind=public&amp;school_offset=25" in second.text  # the next page keeps the filter


def test_the_applicant_filters_count_what_they_find(loaded, pages):
    conn, _summary, _home = loaded
    code, district = "SH2020-P1", "310104"
    district_id = registry.id_of(conn, district)
    placed_here = count(conn, code, applicants.c.status == "placed", applicants.c.district_id == district_id)
    page = pages.get(f"/admissions/{code}?status=placed&district={district}", headers=HTML_EN)
    assert showing(page.text, "offset") == (1, min(50, placed_here), placed_here)
    assert f"{district} ({count(conn, code, applicants.c.district_id == district_id)})" in page.text
    none = pages.get(f"/admissions/{code}?status=unplaced", headers=HTML_EN)
    assert showing(none.text, "offset") == (0, 0, 0)
    found = pages.get(f"/admissions/{code}?school_q=310101-PS-00&school_kind=public", headers=HTML_EN)
    first, last, total = showing(found.text, "school_offset")
    assert total == sum(1 for s in queries.campaign(conn, code=code).schools
                        if s.kind == "public" and "310101-PS-00" in s.school_id) > 0


def test_the_public_results_page_shows_the_schools_by_pages(loaded, pages):
    conn, _summary, _home = loaded
    page = pages.get("/admissions/SH2020-J6/results?oversubscribed=1", headers=HTML_EN)
    assert showing(page.text, "school_offset") == (1, 50, 85)
    assert "85 of 110 schools (77.27%) were oversubscribed" in page.text
