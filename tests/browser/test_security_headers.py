"""The Content-Security-Policy in a real browser: the pages' own scripts run and nothing is blocked;
the API docs (Swagger UI, ReDoc) render from the vendored files with every other origin refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser

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


def offline(page: Page, server: str) -> list[str]:
    """Refuse every request that leaves the server (no network); returns the URLs refused."""
    refused: list[str] = []

    def guard(route: Route) -> None:
        if route.request.url.startswith(server + "/") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    return refused


def test_swagger_ui_renders_the_api_offline_under_the_policy(new_page: Callable[..., Page],
                                                             server: str) -> None:
    page = new_page(locale="en")
    blocked = blocked_by_policy(page)
    refused = offline(page, server)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("jiaowei")
    expect(page.locator(".opblock-summary-path", has_text="/api/units").first).to_be_visible()
    assert refused == [] and blocked == []


def test_redoc_renders_the_api_offline_under_the_policy(new_page: Callable[..., Page],
                                                        server: str) -> None:
    page = new_page(locale="en")
    blocked = blocked_by_policy(page)
    refused = offline(page, server)
    page.goto("/redoc")
    # ReDoc lays out the whole spec (about 150 operations) before it shows anything: seconds on a busy machine
    expect(page.locator("h1", has_text="jiaowei").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("/api/units", exact=False).first).to_be_attached()
    # ReDoc links Redocly's logo from its CDN: the policy refuses it, and ReDoc hides the image.
    assert refused == [] and [b for b in blocked if "cdn.redoc.ly/redoc/logo-mini.svg" not in b] == []
