"""Scrollable boxes the keyboard reaches (issue 16): the ``.table-wrap`` containers and the audit log's
``<pre class="json">`` blocks.

jiaowei.js makes a box whose content overflows it a named region with ``tabindex="0"`` and leaves a box
that fits alone. At 375 px every overflowing box on the campaign page (its applicants table), the public
results, the unit page and the audit log is reached with Tab, has a role and a name, and scrolls with the
arrow keys; at 1280 px the boxes that fit are no tab stops; a resize brings the page up to date; and
axe-core's ``scrollable-region-focusable`` rule finds nothing at 1024 px and 375 px.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.registry import service as registry
from tests.browser.conftest import PASSWORD, running_server, seed
from tests.browser.test_admissions import SECRET, _campaign

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "src/jiaowei/web/static/vendor/axe-core/axe.min.js"
NOTE = "；".join(f"第{n}条备注：示范校名单按区教育局二〇二〇年{n}月的通知调整" for n in range(1, 13))
PAGES = ["/admissions/HP2020", "/admissions/HP2020/results", "/units/HP01", "/audit?entity=unit&key=HP03"]

BOXES = """() => Array.from(document.querySelectorAll('.table-wrap, pre.json')).map((box, i) => {
  box.dataset.box = String(i);
  return {box: i, overflows: box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1,
          tabindex: box.getAttribute('tabindex'), role: box.getAttribute('role'),
          name: box.getAttribute('aria-label'), tag: box.tagName};
})"""


def _long_attribute(url: str) -> None:
    """A unit whose attributes are long enough to be folded in the audit log (a ``<pre class="json">``)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        registry.create_unit(conn, principal=SYSTEM, spec=registry.UnitSpec(
            code="HP03", parent="HP", type="primary_school", name_zh="黄浦区示范第三小学", name_en="HP03",
            opened=dt.date(2000, 1, 1), synthetic=True, attributes={"备注": NOTE}))
    engine.dispose()


@pytest.fixture(scope="module")
def regions_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("regions-server")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    _campaign(url, home)
    _long_attribute(url)
    with running_server(url, home, SECRET) as base:
        yield base


@pytest.fixture
def page_at(chromium: Any, regions_server: str) -> Iterator[Any]:
    """``page_at(width)``: a zh-CN page ``width`` px wide, logged in as the administrator."""
    contexts = []

    def make(width: int) -> Any:
        context = chromium.new_context(base_url=regions_server, locale="zh-CN",
                                       viewport={"width": width, "height": 800})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login?next=/")
        page.get_by_label(re.compile("用户名")).fill("admin")
        page.get_by_label(re.compile("密码")).fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(lambda url: urllib.parse.urlsplit(url).path == "/")
        return page

    yield make
    for context in contexts:
        context.close()


def boxes(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate(BOXES))


def tab_through(page: Any) -> set[str]:
    """The boxes (their ``data-box``) that Tab reaches, going once through the page's tab order."""
    page.evaluate("""() => { window.__reached = new Set();
      document.addEventListener('focusin', e => { if (e.target.dataset && e.target.dataset.box !== undefined)
        window.__reached.add(e.target.dataset.box); }); }""")
    stops = page.evaluate("() => document.querySelectorAll('a[href], button, input, select, textarea, "
                          "summary, [tabindex]').length")
    page.locator("body").focus()
    for _ in range(stops + 5):
        page.keyboard.press("Tab")
    return set(page.evaluate("() => Array.from(window.__reached)"))


def open_folded_values(page: Any) -> None:
    for summary in page.locator("details > summary").all():
        summary.click()


@pytest.mark.parametrize("path", PAGES)
def test_at_375_px_every_overflowing_box_is_a_named_region_reached_with_tab(page_at: Any, path: str) -> None:
    page = page_at(375)
    page.goto(path)
    open_folded_values(page)
    found = boxes(page)
    overflowing = [b for b in found if b["overflows"]]
    assert overflowing, f"{path}: no box overflows at 375 px ({found})"
    for box in overflowing:
        assert (box["tabindex"], box["role"]) == ("0", "region"), box
        assert box["name"] and box["name"].strip() and "{" not in box["name"], box
    assert {str(b["box"]) for b in overflowing} <= tab_through(page)


def test_a_focused_box_scrolls_with_the_arrow_keys(page_at: Any) -> None:
    page = page_at(375)
    page.goto("/units/HP01")
    box = page.locator(".table-wrap[tabindex='0']").first
    box.focus()
    assert box.evaluate("b => b.scrollLeft") == 0
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("b => b.scrollLeft > 0", arg=box.element_handle())
    assert box.get_attribute("aria-label") == "历史版本"  # the heading above the table


def test_boxes_that_fit_are_no_tab_stops_and_a_resize_brings_the_page_up_to_date(page_at: Any) -> None:
    page = page_at(1280)
    page.goto("/units/HP01")
    wide = boxes(page)
    assert wide and not any(b["overflows"] for b in wide)
    assert [(b["tabindex"], b["role"], b["name"]) for b in wide] == [(None, None, None)] * len(wide)
    page.set_viewport_size({"width": 375, "height": 800})
    page.wait_for_function("() => document.querySelector('.table-wrap').getAttribute('tabindex') === '0'")
    narrow = boxes(page)
    assert all((b["tabindex"] == "0") == b["overflows"] for b in narrow)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_function("() => !document.querySelector('.table-wrap').hasAttribute('tabindex')")
    assert [(b["tabindex"], b["role"], b["name"]) for b in boxes(page)] == [(None, None, None)] * len(wide)


def test_the_audit_log_names_a_folded_value_by_its_field(page_at: Any) -> None:
    page = page_at(375)
    page.goto("/audit?entity=unit&key=HP03")
    names = {b["name"] for b in boxes(page) if b["tag"] == "PRE" and b["overflows"]}
    assert names == {"其他属性"}


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is vendored with issue 16's axe checks")
@pytest.mark.parametrize("width", [1024, 375])
@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_no_scrollable_region_the_keyboard_cannot_reach(page_at: Any, path: str,
                                                                  width: int) -> None:
    page = page_at(width)
    page.goto(path)
    open_folded_values(page)
    page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    result = page.evaluate("() => axe.run(document, {runOnly: {type: 'rule', values: "
                           "['scrollable-region-focusable']}})")
    assert [(v["id"], [n["target"] for n in v["nodes"]]) for v in result["violations"]] == []
    assert result["passes"] or result["inapplicable"]
