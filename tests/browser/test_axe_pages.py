"""axe-core (WCAG 2.0 A and AA) on the main pages of the whole Shanghai 2020 demo, in zh-CN, at 1280 px
and at 375 px: as the administrator, as district staff (huangpu) and without a login (the login page,
the admissions results and the family lookup). No critical or serious violation may remain.

Every other browser test gets the same check on the pages it visits (``tests/browser/axe.py``, wired
in ``conftest.py``); this module names the pages, so a page no journey visits is checked too."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from jiaowei.demo.shanghai2020 import PASSWORD
from tests.browser.axe import NOT_OURS, AxeWatch, Violation, check_at_widths, page_key, run_axe
from tests.browser.conftest import AXE, form_logins, running_server

pytestmark = pytest.mark.browser

SECRET = "browser-axe-" + "x" * 32
UNIT = "310101"  # 黄浦区教育局, in the huangpu login's scope
MORE_PAGES = {  # pages the navigation does not link to, by login
    "admin": ("/", f"/units/{UNIT}", f"/units/{UNIT}/edit", "/units/new", "/groups/new", "/me",
              "/users/huangpu"),
    "huangpu": ("/", f"/units/{UNIT}", "/me", "/me/password"),
}


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`jiaowei demo` into a fresh home, served as `make demo` serves it."""
    home = tmp_path_factory.mktemp("axe-demo")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIAOWEI_")}
    env.update(JIAOWEI_HOME=str(home), JIAOWEI_DATABASE_URL=url, JIAOWEI_SECRET_KEY=SECRET)
    loaded = subprocess.run([sys.executable, "-m", "jiaowei", "demo"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert loaded.returncode == 0, loaded.stderr
    with running_server(url, home, SECRET) as base:
        yield base


def _links(page: Page, selector: str) -> list[str]:
    """The same-site paths of the links ``selector`` finds, in order, each once."""
    found: list[str] = []
    for href in page.locator(selector).evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        if href and href.startswith("/") and href not in found and href.split("?")[0] not in NOT_OURS \
                and not href.startswith("/static/"):
            found.append(href)
    return found


def _check(page: Page, paths: list[str]) -> list[Violation]:
    """Open each of ``paths`` in ``page`` and run axe at both widths; it must answer 200."""
    found: list[Violation] = []
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert page.locator("html").get_attribute("lang") == "zh-CN", path
        found.extend(check_at_widths(page))
        AXE.checked.add(page_key(page.url))  # checked here: the session's hook need not open it again
        page.set_viewport_size({"width": 1280, "height": 900})
    return found


def _no_violations(found: list[Violation]) -> None:
    assert not found, "\n".join(str(v) for v in found)


@pytest.mark.parametrize("username", ["admin", "huangpu"])
def test_the_main_pages_of_a_login_have_no_serious_violation(chromium: Any, demo_server: str,
                                                             username: str) -> None:
    with form_logins(chromium, demo_server, timeout_ms=30_000) as login:
        page: Page = login(username, password=PASSWORD)
        paths = list(MORE_PAGES[username]) + _links(page, "header nav a")
        assert len(paths) > len(MORE_PAGES[username]), "the navigation offers pages"
        _no_violations(_check(page, paths))


def test_the_public_pages_have_no_serious_violation(chromium: Any, demo_server: str) -> None:
    context = chromium.new_context(base_url=demo_server, locale="zh-CN",
                                   viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto("/admissions/public")
        campaign = _links(page, "main table a[href$='/results']")[0]
        paths = ["/login", "/admissions/public", campaign, campaign.replace("/results", "/lookup")]
        assert all(urllib.parse.urlsplit(p).path.startswith("/") for p in paths)
        _no_violations(_check(page, paths))
    finally:
        context.close()


def test_the_check_fails_on_a_serious_violation(chromium: Any, server: str) -> None:
    """The checker itself can fail: an image without a text alternative and an unnamed button."""
    context = chromium.new_context(base_url=server, locale="zh-CN", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_content('<html lang="zh-CN"><head><title>t</title></head><body><main>'
                         '<img src="data:,"><button></button></main></body></html>')
        found = {(v.rule, v.impact) for v in run_axe(page)}
        assert {("image-alt", "critical"), ("button-name", "critical")} <= found, found
        assert "image-alt (critical) on " in str(next(v for v in run_axe(page) if v.rule == "image-alt"))
    finally:
        context.close()


def test_a_visited_page_is_checked_once_at_both_widths_and_named_in_the_report(chromium: Any,
                                                                              server: str) -> None:
    """The hook's watch: a page a context visits is opened again, checked at 1280 and 375 px, reported."""
    bad = ('<!doctype html><html lang="zh-CN"><head><title>t</title></head><body><main>'
           '<img src="data:,"></main></body></html>')
    AXE.checked.add("/axe-self-test")  # the session's own watch leaves this page to the watch below
    watch = AxeWatch()
    context = chromium.new_context(base_url=server, locale="zh-CN", viewport={"width": 1280, "height": 900})
    try:
        context.route("**/axe-self-test", lambda route: route.fulfill(status=200, content_type="text/html",
                                                                     body=bad))
        watch.watch(context)
        page = context.new_page()
        page.goto("/axe-self-test")
        page.goto("/axe-self-test")  # visited twice, checked once
        watch.check(context)
        assert watch.opened == 1 and watch.checked == {"/axe-self-test"}
        report = watch.report()
        assert "image-alt (critical) on /axe-self-test at 1280 px" in report, report
        assert "image-alt (critical) on /axe-self-test at 375 px" in report, report
        assert watch.report() == ""  # reported once
    finally:
        context.close()
