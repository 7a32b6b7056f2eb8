"""The axe-core check itself (WCAG 2.0 A and AA): it fails on a serious violation, and the session's
watch checks a visited page once at 1280 and 375 px and names it.

Every browser test gets the check on the pages it visits (``tests/browser/axe.py``, wired in
``conftest.py``); the main pages of the whole demo, by role and without a login, are checked by name
in ``test_role_journeys.py``, which loads the demo once for both."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.axe import AxeWatch, run_axe
from tests.browser.conftest import AXE

pytestmark = pytest.mark.browser

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
