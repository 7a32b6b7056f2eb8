"""The ledger in a real browser: a school's reporter sees the rate charts drawn, opens a finding,
starts its measure with an evidence file and reports it rectified; the commission verifies it and
the ledger's rate follows. Screenshots go to /tmp/shots."""

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
from jiaowei.plans.ledger import service
from tests.browser.conftest import PASSWORD, logged_in, running_server, seed

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _prepare(url: str) -> str:
    """A finding of the 2020 inspection at Huangpu's first primary school, its reporter, and another
    finding at a Xuhui school; returns the Huangpu finding's uid."""
    engine = make_engine(url)
    with engine.begin() as conn:
        uid = service.record_finding(
            conn, principal=SYSTEM, source_kind="inspection", source="2020年市委巡视", found_on="2020-04-15",
            unit="HP01", severity="high", text="即知即改、边巡边改不到位",
            measures=[{"text": "修订议事规则", "owner": "校长办公室", "deadline": "2020-06-30"}])
        service.record_finding(conn, principal=SYSTEM, source_kind="audit", source="2020年审计",
                               found_on="2020-05-01", unit="XH01", severity="low", text="经费使用不规范",
                               measures=[{"text": "规范报销", "owner": "财务室", "deadline": "2020-08-31"}])
        auth.create_user(conn, principal=SYSTEM, username="hp01", password=PASSWORD, role="unit_reporter",
                         capture_scope=["HP01"], display_name="黄浦一小填报员")
    engine.dispose()
    return uid


@pytest.fixture(scope="module")
def ledger_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    home = tmp_path_factory.mktemp("ledger")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    uid = _prepare(url)
    with running_server(url, home, "browser-ledger-" + "x" * 32) as base:
        yield base, uid


def _heading(page: Any) -> Any:
    """The first measure's heading, with its state."""
    return page.locator("section.measure").first.get_by_role("heading", level=3)


def _shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"rectification-{name}.png"), full_page=True)


def test_a_school_rectifies_a_measure_and_the_commission_verifies_it(chromium: Any,  # noqa: F811
                                                                    ledger_server: tuple[str, str],
                                                                    tmp_path: Path) -> None:
    base, uid = ledger_server
    evidence = tmp_path / "议事规则.pdf"
    evidence.write_bytes(PDF)
    with logged_in(chromium, base, "/plans/rectification", username="hp01") as page:
        expect(page.locator("#rate-by-unit.chart--drawn")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text("经费使用不规范")  # Xuhui's: outside the scope
        page.get_by_role("link", name="即知即改、边巡边改不到位").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("问题：2020年市委巡视")
        page.get_by_label("佐证材料").set_input_files(str(evidence))
        page.get_by_role("button", name="保存").click()
        measure = page.locator("section.measure").first
        expect(measure.get_by_role("heading", level=3)).to_contain_text("整改中")
        expect(measure.get_by_role("link", name="议事规则.pdf")).to_be_visible()
        expect(measure.get_by_label("验收 (已验收)")).to_have_count(0)  # a school does not verify
        measure.get_by_label(re.compile("报告已整改")).check()
        page.get_by_role("button", name="保存").click()
        expect(_heading(page)).to_contain_text("已整改")
        _shoot(page, "finding-rectified")
    with logged_in(chromium, base, f"/plans/rectification/findings/{uid}") as page:
        measure = page.locator("section.measure").first
        measure.get_by_label(re.compile("^验收")).check()
        measure.get_by_label(re.compile("说明")).fill("核查属实")
        page.get_by_role("button", name="保存").click()
        expect(_heading(page)).to_contain_text("已验收")
        expect(page.locator("main")).to_contain_text("核查属实")
        page.goto(f"/plans/rectification?as_of={dt.date(2020, 7, 1).isoformat()}")
        expect(page.locator("#rate-by-source.chart--drawn")).to_be_visible()
        expect(page.locator("dl.summary")).to_contain_text("50.0%")
        _shoot(page, "ledger")
