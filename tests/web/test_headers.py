"""Security headers on every response: a Content-Security-Policy without inline script, no framing,
no sniffing, no referrer off the site; and templates that need no inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei import domains
from tests.factories import small_tree

SRC = Path(domains.__file__).parent
TEMPLATES = sorted(SRC.glob("**/templates/**/*.html"))


def directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def assert_protected(response_headers: object, *, docs: bool = False) -> dict[str, list[str]]:
    headers = response_headers  # httpx Headers
    assert headers["x-frame-options"] == "DENY"  # type: ignore[index]
    assert headers["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin")  # type: ignore[index]
    policy = directives(headers["content-security-policy"])  # type: ignore[index]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert "'self'" in policy["script-src"] and "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    if not docs:
        assert policy["script-src"] == ["'self'"] and policy["default-src"] == ["'self'"]
    return policy


@pytest.mark.parametrize(("path", "accept", "status"), [
    ("/login", "text/html", 200),
    ("/units", "text/html", 200),  # a redirect to /login
    ("/api/units", "application/json", 401),
    ("/api/nothing-here", "application/json", 404),
    ("/nothing-here", "text/html", 404),
    ("/static/jiaowei.css", "text/css", 200),
    ("/openapi.json", "application/json", 200),
])
def test_every_response_carries_the_security_headers(client: TestClient, conn: Connection, path: str,
                                                     accept: str, status: int) -> None:
    small_tree(conn)
    response = client.get(path, headers={"accept": accept}, follow_redirects=False)
    assert response.status_code in (status, 303), response.text
    assert_protected(response.headers)


def test_the_api_docs_run_no_inline_script_and_load_from_no_other_origin(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200
        policy = assert_protected(response.headers, docs=True)
        assert policy["script-src"] == ["'self'"]
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text), "inline <script>"
        assert not [source for sources in policy.values() for source in sources if "://" in source]


def test_a_page_answers_with_the_headers_even_on_a_server_error(conn: Connection, settings: object,
                                                                db: object) -> None:
    from jiaowei.web.app import create_app

    app = create_app(settings, database=db)  # type: ignore[arg-type]

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert_protected(response.headers)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_template_has_inline_script_or_style(template: Path) -> None:
    html = template.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>: move it to web/static/"
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), "an on*= handler: bind it in web/static/*.js"
    assert not re.search(r"<style\b|\sstyle\s*=", html), "inline style: move it to web/static/jiaowei.css"
    assert "javascript:" not in html.lower()
