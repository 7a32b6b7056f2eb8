"""The Content-Security-Policy in a real browser: the pages' own scripts run and nothing is blocked;
the API docs start Swagger UI with their inline script (the CDN is stubbed: the tests run offline)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser

SWAGGER_STUB = """
window.SwaggerUIBundle = function (config) {
  document.body.setAttribute("data-swagger-started", config.url);
  return {};
};
window.SwaggerUIBundle.presets = {apis: {}};
window.SwaggerUIBundle.SwaggerUIStandalonePreset = {};
"""


def blocked_by_policy(page: Page) -> list[str]:
    """Collects the browser's reports of anything the policy refused."""
    found: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", watch)
    return found


def test_the_pages_scripts_run_under_the_policy(new_page: Callable[..., Page]) -> None:
    page = new_page()
    blocked = blocked_by_policy(page)
    log_in(page)
    page.get_by_role("link", name="展开黄浦区教育局的下级单位").click()  # jiaowei.js opens it in place
    expect(page.get_by_role("link", name="黄浦区示范第一小学")).to_be_visible()
    assert "HP" in page.url.split("open=")[1]  # the script remembered the open node
    page.goto("/metadata/categoryCombos/new")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert blocked == []


def test_the_api_docs_start_under_their_own_policy(new_page: Callable[..., Page]) -> None:
    page = new_page()
    blocked = blocked_by_policy(page)

    def cdn(route: Route) -> None:
        is_script = route.request.url.endswith(".js")
        route.fulfill(status=200, body=SWAGGER_STUB if is_script else "",
                      content_type="text/javascript" if is_script else "text/css")

    page.route("https://cdn.jsdelivr.net/**", cdn)
    page.goto("/docs")
    expect(page.locator("body")).to_have_attribute("data-swagger-started", "/openapi.json")
    assert blocked == []
