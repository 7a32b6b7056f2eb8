"""An import in the web UI runs as a job: its page's progress bar moves, then the result appears."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser

ROWS = 3000  # about as large as the 3,181-row file: a dry run takes seconds


def test_a_dry_run_import_shows_a_progress_bar_then_its_result(new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page, "/units/import")
    rows = "".join(f"JB{i:04d},黄浦区第{i}校,Huangpu School {i},primary_school,HP,2022-09-01\n"
                   for i in range(ROWS))
    csv = "code,name_zh,name_en,type,parent,valid_from\n" + rows
    page.get_by_label("文件", exact=True).set_input_files(
        files=[FilePayload(name="big.csv", mimeType="text/csv", buffer=csv.encode())])
    page.get_by_label(re.compile("试运行")).check()  # the shared server's data stays as it is
    page.get_by_role("button", name="导入", exact=True).click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]+$"))
    job_url = page.url
    bar = page.locator("progress#job-progress")
    expect(bar).to_be_visible()  # the request answered at once; the job runs in the background
    expect(page.locator("#job-dry-run")).to_have_text("试运行：只检查文件，不保存任何数据")
    page.screenshot(path="/tmp/jiaowei-job-running.png", full_page=True)
    result = page.get_by_role("status").filter(has_text="试运行：未保存任何数据")
    expect(result).to_be_visible(timeout=90_000)  # the page polled, then showed the result by itself
    assert page.url == job_url
    expect(bar).to_have_count(0)
    expect(result.locator("dd").first).to_have_text(str(ROWS))  # 新增 (created): every row
    page.screenshot(path="/tmp/jiaowei-job-done.png", full_page=True)
    page.get_by_role("link", name="返回导入页面").click()
    page.wait_for_url("**/units/import")
    page.goto("/units?q=JB0001&as_of=2023-01-01")
    expect(page.get_by_text("该日期没有与“JB0001”匹配的单位。")).to_be_visible()  # a dry run saved nothing
