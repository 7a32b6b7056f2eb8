"""A school reporter finds its forms in "My forms", opens one in one click, and one click on a
validation problem focuses the cell it names; the district's staff does the same from the data
quality page."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import service as values
from tests.browser.conftest import PASSWORD, form_logins, seeded_server
from tests.factories import indicator_metadata

pytestmark = pytest.mark.browser

SECRET = "browser-work-" + "x" * 32
SHOTS = os.environ.get("JIAOWEI_SCREENSHOTS")


def _prepare(url: str) -> None:
    """HP01's 2020 form breaks "teachers ≤ pupils"; a reporter for HP01 and HP's staff."""
    engine = make_engine(url)
    with engine.begin() as conn:
        indicator_metadata(conn)
        metadata.save_validation_rule(conn, principal=SYSTEM, code="TEACHERS_LE_PUPILS",
                                      name_zh="教师不多于学生", name_en="Teachers ≤ pupils",
                                      left="#{TEACHERS}", operator="less_than_or_equal_to", right="#{PUPILS}")
        rows = [ValueRow(data_element=de, category_option_combo=co, org_unit="HP01", period="2020", value=v,
                         row=i)
                for i, (de, co, v) in enumerate((("TEACHERS", None, "500"), ("PUPILS", "M", "120")), 1)]
        values.import_values(conn, principal=SYSTEM, rows=rows, source="dhis2-json")
        for username, role, scope in (("hp01", "unit_reporter", "HP01"), ("hpstaff", "district_staff", "HP")):
            auth.create_user(conn, principal=SYSTEM, username=username, password=PASSWORD, role=role,
                             capture_scope=[scope])
    engine.dispose()


@pytest.fixture(scope="module")
def work_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with seeded_server(tmp_path_factory, "work-server", SECRET, _prepare) as base:
        yield base


@pytest.fixture
def logged_in(chromium: Any, work_server: str) -> Iterator[Any]:
    with form_logins(chromium, work_server) as login:
        yield login


TEACHERS = '[id="cell-TEACHERS.default"]'


def test_a_reporter_opens_a_form_from_its_list_and_goes_to_the_cell_of_a_problem(logged_in: Any) -> None:
    page = logged_in("hp01")
    navigation = page.get_by_role("navigation", name=re.compile("模块|Modules"))
    navigation.get_by_role("link", name="我的报表").click()
    expect(page).to_have_url(re.compile("/data/my-forms$"))
    page.goto("/data/my-forms?as_of=2021-02-01")
    expect(page.locator("#work-list tr.work--due")).to_contain_text("待报送")  # 2021's form
    row = page.locator("#work-list tr.work--waiting")  # 2020's values were sent
    expect(row).to_contain_text("2020")
    expect(page.locator("#work-chart.chart--drawn")).to_be_visible()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/my-forms.png", full_page=True)
    row.get_by_role("link", name="打开表单").click()
    expect(page).to_have_url(re.compile(r"/data/entry\?ds=SCHOOL_Y&pe=2020&ou=HP01"))
    problem = page.locator("#violations a.violation__cell")
    expect(problem).to_contain_text("500")
    problem.click()
    expect(page.locator(TEACHERS)).to_be_focused()
    expect(page.locator("#cell-name")).to_contain_text("专任教师数")


def test_the_district_goes_from_the_quality_page_to_the_cell(logged_in: Any) -> None:
    page = logged_in("hpstaff")
    page.goto("/quality/validation?ou=HP&start=2020-01-01&end=2020-12-31")
    page.locator("#violations a.violation__cell").first.click()
    expect(page).to_have_url(re.compile(r"/data/entry\?ds=SCHOOL_Y&pe=2020&ou=HP01#cell-TEACHERS\.default$"))
    expect(page.locator(TEACHERS)).to_be_focused()
    expect(page.locator(TEACHERS).locator("xpath=..")).to_have_class(re.compile("is-target"))
