"""Key tasks in a real browser: a district (the task's lead unit) reports its mid-year progress with an
evidence file, the commission reviews the report and marks the task at risk with a reason, and the
task's page shows it with the evidence link; the board draws its charts. Screenshots go to /tmp/shots."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.i18n import translate
from jiaowei.plans.tasks import service as tasks
from jiaowei.plans.tasks.model import STATUS_LABELS, Status
from tests.browser.conftest import PASSWORD, logged_in, running_server, seed

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")
AT_RISK = translate("zh_CN", STATUS_LABELS[Status.AT_RISK])  # 存在风险 (the model's label, as translated)
AS_OF = "2020-07-20"  # after the mid-year checkpoint (07-15)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
LATIN_ALLOWED = {
    "PDF",
    "pdf",
    "Word",
    "Excel",
    "MB",
    "jiaowei",
    "English",
    "hpstaff",
    "planner",
}  # pdf: a file name
ENGLISH_LEFT = """() => {
  const main = document.querySelector("main").cloneNode(true);
  main.querySelectorAll("code, .chart").forEach((e) => e.remove());
  return main.textContent;
}"""


def _prepare(url: str) -> None:
    """The 2020 plan: section 一 with task 1 led by 黄浦区教育局 and task 2 led by 徐汇区教育局; a Huangpu
    district login and a commission login."""
    engine = make_engine(url)
    with engine.begin() as conn:
        tasks.create_plan(
            conn, principal=SYSTEM, year=2020, title_zh="2020年工作要点", title_en="Key tasks 2020"
        )
        section = tasks.save_item(
            conn,
            principal=SYSTEM,
            year=2020,
            parent=None,
            kind="section",
            number="一",
            title_zh="推进教育优质均衡",
            title_en="Quality and balance",
        )
        tasks.save_item(
            conn,
            principal=SYSTEM,
            year=2020,
            parent=section,
            kind="task",
            number="1",
            title_zh="建成普惠性托育点",
            title_en="Open inclusive childcare points",
            lead_unit="HP",
            supporting_units=["HP01"],
            owner="李四",
            deadline=dt.date(2020, 12, 31),
            milestones=[{"title": "完成选址", "due": dt.date(2020, 9, 30)}],
        )
        tasks.save_item(
            conn,
            principal=SYSTEM,
            year=2020,
            parent=section,
            kind="task",
            number="2",
            title_zh="学区化集团化办学",
            title_en="School clusters",
            lead_unit="XH",
            deadline=dt.date(2020, 12, 31),
        )
        auth.create_user(
            conn,
            principal=SYSTEM,
            username="hpstaff",
            password=PASSWORD,
            role="district_staff",
            capture_scope=["HP"],
            display_name="黄浦区教育局填报员",
        )
        auth.create_user(
            conn,
            principal=SYSTEM,
            username="planner",
            password=PASSWORD,
            role="commission_staff",
            capture_scope=["SH"],
            display_name="市教委规划处",
        )
    engine.dispose()


@pytest.fixture(scope="module")
def plans_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("plans-journey")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    _prepare(url)
    with running_server(url, home, "browser-plans-" + "x" * 32) as base:
        yield base


def _shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # let the canvases paint
    page.screenshot(path=str(SHOTS / f"plans-{name}.png"), full_page=True)


def _no_english(page: Any) -> None:
    leftover = set(re.findall(r"[A-Za-z]{2,}", page.evaluate(ENGLISH_LEFT))) - LATIN_ALLOWED
    assert not leftover, leftover


def test_a_district_reports_mid_year_and_the_commission_marks_the_task_at_risk(
    chromium: Any, plans_server: str, tmp_path: Path
) -> None:
    evidence = tmp_path / "年中进展.pdf"
    evidence.write_bytes(PDF)
    errors: list[str] = []
    with logged_in(chromium, plans_server, "/plans/my", username="hpstaff") as page:
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"/plans/my?as_of={AS_OF}")
        overdue = page.locator("#overdue")
        expect(overdue).to_contain_text("建成普惠性托育点")
        expect(overdue).to_contain_text("年中推进")
        expect(page.locator("#my-tasks")).not_to_contain_text("学区化集团化办学")  # Xuhui's task
        _no_english(page)
        _shoot(page, "my")
        page.locator("#my-tasks").get_by_role("link", name=re.compile("建成普惠性托育点")).click()
        page.wait_for_url(re.compile(r"/plans/tasks/\w+\?as_of=2020-07-20$"))
        task_url = page.url
        expect(page.get_by_role("button", name="保存状态")).to_have_count(0)  # not the commission's forms
        page.get_by_label("节点", exact=True).select_option(label="年中推进")
        page.get_by_label("进度（%）").fill("40")
        page.get_by_label("进展说明").fill("已完成12个托育点的选址，其余点位正在协调")
        page.get_by_label("佐证材料", exact=True).set_input_files(str(evidence))
        page.get_by_role("button", name="提交报送").click()
        page.wait_for_url(re.compile(r"#timeline-title$"))
        advance = page.locator("#checkpoint-advance")
        expect(advance).to_contain_text("40%")
        expect(advance).to_contain_text("待审核")
        expect(advance.get_by_role("link", name="年中进展.pdf")).to_have_attribute(
            "href", re.compile(r"^/plans/evidence/\w+$")
        )
        _no_english(page)

    with logged_in(chromium, plans_server, "/plans", username="planner") as page:
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(task_url)
        review = page.locator("#checkpoint-advance form.review-form")
        expect(review.get_by_label("通过")).to_be_checked()
        reason = review.get_by_label("设定状态的理由")
        expect(reason).to_be_hidden()  # asked for only once a status is chosen (plans.js)
        review.get_by_label("审核意见").fill("进度偏慢，请加快")
        review.get_by_label("同时设定任务状态（可选）").select_option(value="at_risk")
        expect(reason).to_be_visible()
        reason.fill("选址进度滞后于年度计划，年底前难以建成")
        review.get_by_role("button", name="保存审核意见").click()
        page.wait_for_url(re.compile(r"#status-title$"))
        expect(page.locator("#task-status")).to_have_text(AT_RISK)
        expect(page.locator("#status-override")).to_contain_text("选址进度滞后于年度计划，年底前难以建成")
        expect(page.locator("#status-override")).to_contain_text("planner")
        link = page.locator("#evidence-title + ul").get_by_role("link", name="年中进展.pdf")
        expect(link).to_be_visible()
        with page.expect_download() as download:
            link.click()
        assert Path(download.value.path()).read_bytes() == PDF
        _no_english(page)
        _shoot(page, "task")

        page.goto(f"/plans?as_of={AS_OF}")
        expect(page.locator("#board-counts")).to_contain_text(AT_RISK)
        for chart in ("#section-chart", "#unit-chart", "#status-chart"):
            expect(page.locator(chart).locator("canvas")).to_have_count(1)
        expect(page.get_by_role("link", name=re.compile("建成普惠性托育点"))).to_be_visible()
        _no_english(page)
        _shoot(page, "board")
        page.get_by_label("视图").select_option("status")
        page.wait_for_url(re.compile(r"by=status"))
        expect(page.get_by_role("heading", name=re.compile(AT_RISK))).to_be_visible()
    assert not errors, errors
