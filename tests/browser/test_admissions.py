"""A family looks up its application; the public reads the results of a draw. No login for either."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from jiaowei.admissions import queries, service
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.registry import service as registry
from tests.browser.conftest import PASSWORD, running_server, seed

pytestmark = pytest.mark.browser

SECRET = "browser-admissions-" + "x" * 32
BIRTH = dt.date(2013, 10, 2)
SHOTS = os.environ.get("JIAOWEI_SCREENSHOTS")


def _campaign(url: str, home: Path) -> dict[str, Any]:
    """Two private schools in Huangpu, twelve applicants, frozen, drawn and published."""
    engine = make_engine(url)
    with engine.begin() as conn:
        for n in (1, 2):
            registry.create_unit(conn, principal=SYSTEM, spec=registry.UnitSpec(
                code=f"HP-P{n}", parent="HP", type="primary_school", ownership="private", synthetic=True,
                name_zh=f"黄浦区民办第{n}小学（合成）", name_en=f"Huangpu Private Primary No.{n} (synthetic)",
                opened=dt.date(2000, 1, 1)))
        service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
            code="HP2020", year=2020, stage="primary_1", title_zh="2020年黄浦区民办小学招生",
            title_en="Huangpu private primary 2020", organiser="HP", max_choices=2, synthetic=True))
        service.add_schools(conn, principal=SYSTEM, campaign="HP2020", schools=[
            service.SchoolSpec(unit="HP-P1", capacity=4), service.SchoolSpec(unit="HP-P2", capacity=3)])
        service.open_application(conn, principal=SYSTEM, campaign="HP2020")
        made = service.register_applicants(conn, principal=SYSTEM, campaign="HP2020", secret_key=SECRET,
                                           people=[
            service.ApplicantSpec(name=f"合成{n}", id_number=f"31010120131002{n:03d}X", birth_date=BIRTH,
                                  district="HP", choices=("HP-P1", "HP-P2") if n % 2 else ("HP-P2",))
            for n in range(12)])
        service.freeze(conn, principal=SYSTEM, campaign="HP2020", home=home)
        service.draw(conn, principal=SYSTEM, campaign="HP2020", sources=["synthetic 1 2 3"], home=home)
        service.publish(conn, principal=SYSTEM, campaign="HP2020")
        summary = queries.campaign(conn, code="HP2020")
        service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
            code="HP2021", year=2021, stage="primary_1", title_zh="2021年黄浦区民办小学招生",
            title_en="Huangpu private primary 2021", organiser="HP", max_choices=2, synthetic=True))
        service.add_schools(conn, principal=SYSTEM, campaign="HP2021", schools=[
            service.SchoolSpec(unit="HP-P1", capacity=4),
            service.SchoolSpec(unit="HP01", capacity=9, kind="public")])
        service.open_application(conn, principal=SYSTEM, campaign="HP2021")
    engine.dispose()
    return {"number": made[1].number, "applicant_id": made[1].applicant_id, **asdict(summary)}


@pytest.fixture(scope="module")
def admissions_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("admissions-server")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    facts = _campaign(url, home)
    with running_server(url, home, SECRET) as base:
        yield {"base": base, **facts}


@pytest.fixture
def family_page(chromium: Any, admissions_server: dict[str, Any]) -> Iterator[Any]:
    context = chromium.new_context(base_url=admissions_server["base"], locale="zh-CN",
                                   viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_a_family_looks_up_its_lottery_number_and_the_cutoffs(family_page: Any,
                                                              admissions_server: dict[str, Any]) -> None:
    page = family_page
    page.goto("/admissions/public")
    page.get_by_role("row").filter(has_text="2020年黄浦区").get_by_role("link", name="查询报名结果").click()
    page.get_by_label("报名号").fill(admissions_server["number"])
    page.get_by_label("儿童出生日期").fill(BIRTH.isoformat())
    page.get_by_role("button", name="查询").click()
    result = page.get_by_test_id("lookup-result")
    result.wait_for()
    assert admissions_server["applicant_id"] in result.inner_text()
    assert page.get_by_test_id("lottery-number").inner_text().strip().isdigit()
    cutoffs = [c.inner_text().strip() for c in page.get_by_test_id("cutoff").all()]
    assert len(cutoffs) == 2 and all(c.isdigit() for c in cutoffs)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/family-lookup.png", full_page=True)
    page.get_by_label("儿童出生日期").fill("2013-10-03")
    page.get_by_role("button", name="查询").click()
    assert "没有与该报名号和出生日期相符的报名" in page.get_by_role("alert").inner_text()
    assert page.get_by_test_id("lookup-result").count() == 0


def test_the_public_results_page_shows_the_digests(family_page: Any,
                                                   admissions_server: dict[str, Any]) -> None:
    page = family_page
    page.goto("/admissions/HP2020/results")
    assert page.get_by_test_id("pool-digest").inner_text() == admissions_server["pool_digest"]
    assert page.get_by_test_id("seed").inner_text() == admissions_server["seed"]
    assert "2 所学校中有 2 所（100.00%）" in page.get_by_test_id("lottery-share").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="manifest.json").first.click()
    assert admissions_server["pool_digest"] in Path(download.value.path()).read_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/public-results.png", full_page=True)


UPLOAD_HEADER = "number,name,id_number,birth_date,district,residence_tier,catchment,group_id,choices\n"


def test_staff_upload_applicants_with_a_dry_run_and_see_the_wrong_rows(
        family_page: Any, admissions_server: dict[str, Any], tmp_path: Path) -> None:
    page = family_page
    page.goto("/login?next=/admissions/HP2021")
    page.get_by_label(re.compile("用户名|Username")).fill("admin")
    page.get_by_label(re.compile("密码|Password")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("^(登录|Log in)$")).click()
    page.wait_for_url(lambda url: url.endswith("/admissions/HP2021"))
    bad = tmp_path / "bad.csv"
    bad.write_text(UPLOAD_HEADER + "H-1,合成甲,310101201310020011,2013-10-02,HP,1,HP01,,HP-P1\n"
                   "H-2,合成乙,310101201310020022,2013-02-30,HP,1,HP01,,HP-P1;HP-P9\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text(UPLOAD_HEADER + "H-1,合成甲,310101201310020011,2013-10-02,HP,1,HP01,,HP-P1\n"
                    "H-2,合成乙,310101201310020022,2013-02-28,HP,2,HP01,,\n", encoding="utf-8")
    section = page.locator("section", has=page.get_by_role("heading", name="导入报名者"))
    section.get_by_label("文件", exact=True).set_input_files(str(bad))
    section.get_by_role("button", name="导入", exact=True).click()
    alert = page.get_by_role("alert").filter(has_text="未登记任何报名者")
    expect(alert).to_be_visible()
    problems = page.locator("table.problems tbody tr")
    expect(problems.first).to_be_visible()
    rows = [r.inner_text() for r in problems.all()]
    assert any("birth_date" in r and "2013-02-30" in r for r in rows), rows
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/applicants-import-errors.png", full_page=True)
    page.get_by_role("link", name="返回导入页面").click()  # the import ran as a job; back to the campaign
    section = page.locator("section", has=page.get_by_role("heading", name="导入报名者"))
    section.get_by_label("文件", exact=True).set_input_files(str(good))
    dry_run = section.get_by_label(re.compile("试运行"))
    expect(dry_run).not_to_be_checked()  # a dry run is chosen, never the silent default
    dry_run.check()
    section.get_by_role("button", name="导入", exact=True).click()
    expect(page.get_by_test_id("import-summary")).to_contain_text("试运行")
    expect(page.get_by_test_id("import-summary")).to_contain_text("将登记 2 名")
    assert page.get_by_text("H-1", exact=True).count() == 0
    page.get_by_role("link", name="返回导入页面").click()
    section = page.locator("section", has=page.get_by_role("heading", name="导入报名者"))
    section.get_by_label("文件", exact=True).set_input_files(str(good))
    expect(section.get_by_label(re.compile("试运行"))).not_to_be_checked()  # the next import registers
    section.get_by_role("button", name="导入", exact=True).click()
    expect(page.get_by_test_id("import-summary")).to_contain_text("导入完成")
    page.get_by_role("link", name="返回导入页面").click()
    expect(page.get_by_role("cell", name="H-1", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="合成乙", exact=True)).to_be_visible()
