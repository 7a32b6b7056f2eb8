"""axe-core on the pages the browser tests visit (issue 16): WCAG 2.0 A and AA, at 1280 px and at 375 px.

axe is test-only: the vendored ``web/static/vendor/axe-core/axe.min.js`` (``scripts/vendor-assets``) is
evaluated in the page under test through the DevTools protocol, which the pages' Content-Security-Policy
does not govern (an injected ``<script>`` would be refused by ``script-src 'self'``); no page loads it.

:class:`AxeWatch` records each distinct page (path and query) a browser context navigates to with a GET
that answers 200 with HTML, and :meth:`AxeWatch.check` opens each one once per session in a fresh page of
the same context (so with the same login), runs axe at both widths and returns the critical and serious
violations. ``tests/browser/conftest.py`` wires it to every context the tests open and fails the test
that visited a page with a violation.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from jiaowei.web.app import STATIC

AXE_JS = STATIC / "vendor" / "axe-core" / "axe.min.js"
RULE_SETS = ("wcag2a", "wcag2aa")
WIDTHS = (1280, 375)
FAILING = frozenset({"critical", "serious"})
TARGETS_SHOWN = 3
# Pages that are not jiaowei's own markup: Swagger UI and ReDoc render the API docs (web/api_docs.py).
NOT_OURS = frozenset({"/docs", "/redoc"})
RUN = """async (tags) => {
  const result = await window.axe.run(document, {runOnly: {type: "tag", values: tags},
                                                  resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      targets: v.nodes.map(n => n.target.join(" "))}));
}"""


@dataclass(frozen=True)
class Violation:
    """One axe rule broken on one page at one width."""

    page: str
    width: int
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:TARGETS_SHOWN])
        more = f" (+{len(self.targets) - TARGETS_SHOWN} more)" if len(self.targets) > TARGETS_SHOWN else ""
        return f"{self.rule} ({self.impact}) on {self.page} at {self.width} px: {self.help} -- {shown}{more}"


def page_key(url: str) -> str:
    """The path and query of ``url``: a page is checked once per session, whichever server served it."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def run_axe(page: Any) -> list[Violation]:
    """Run axe on ``page`` as it is now; its critical and serious violations at the page's width."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate("() => {" + AXE_JS.read_text(encoding="utf-8") + "\n}")
    width = page.viewport_size["width"] if page.viewport_size else 0
    return [Violation(page_key(page.url), width, found["id"], found["impact"], found["help"],
                      tuple(found["targets"]))
            for found in page.evaluate(RUN, list(RULE_SETS)) if found["impact"] in FAILING]


def check_at_widths(page: Any, widths: tuple[int, ...] = WIDTHS) -> list[Violation]:
    """Run axe on ``page`` at each of ``widths`` (keeping its height)."""
    height = page.viewport_size["height"] if page.viewport_size else 900
    found: list[Violation] = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => done(null)))")  # laid out anew
        found.extend(run_axe(page))
    return found


def _is_html_page(response: Any) -> bool:
    request = response.request
    return (request.is_navigation_request() and request.method == "GET" and response.status == 200
            and response.frame.parent_frame is None
            and response.headers.get("content-type", "").startswith("text/html"))


@dataclass
class AxeWatch:
    """The pages the session's browser contexts visited, which of them were checked, and what was found."""

    checked: set[str] = field(default_factory=set)
    pending: dict[Any, list[str]] = field(default_factory=dict)
    found: list[Violation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    opened: int = 0
    seconds: float = 0.0

    def watch(self, context: Any) -> None:
        """Record the pages ``context`` navigates to; check them before it closes."""
        self.pending[context] = []
        context.on("page", lambda page: page.on("response", lambda response: self._seen(context, response)))
        close = context.close

        def check_then_close(*args: Any, **kwargs: Any) -> None:
            try:
                self.check(context)
            finally:
                self.pending.pop(context, None)
                close(*args, **kwargs)

        context.close = check_then_close

    def _seen(self, context: Any, response: Any) -> None:
        if not _is_html_page(response):
            return
        key = page_key(response.url)
        waiting = self.pending.get(context)
        if waiting is not None and key not in self.checked and key.split("?")[0] not in NOT_OURS \
                and response.url not in waiting:
            waiting.append(response.url)

    def forget_pending(self) -> None:
        """Drop the pages visited but not yet checked (they are checked when visited again)."""
        for waiting in self.pending.values():
            waiting.clear()

    def check_all(self) -> None:
        """Check the pages every open context has visited."""
        for context in list(self.pending):
            self.check(context)

    def check(self, context: Any) -> None:
        """Check each page ``context`` visited that the session has not checked, in a fresh page of it."""
        waiting = self.pending.get(context) or []
        while waiting:
            url = waiting.pop(0)
            if page_key(url) in self.checked:
                continue
            self.checked.add(page_key(url))
            started = time.perf_counter()
            page = context.new_page()
            try:
                self._check_one(page, url)
            except Exception as error:  # noqa: BLE001 (a page that cannot be checked is reported, not hidden)
                self.problems.append(f"axe could not check {page_key(url)}: {error}")
            finally:
                page.close()
                self.opened += 1
                self.seconds += time.perf_counter() - started

    def _check_one(self, page: Any, url: str) -> None:
        response = page.goto(url)
        if response is None or not _is_html_page(response):
            return  # the page answers differently now (a one-time page, a redirect): nothing to check
        self.checked.add(page_key(page.url))
        self.found.extend(check_at_widths(page))

    def summary(self) -> str:
        """How many pages the session's hook checked, and how long that took."""
        return (f"axe-core: {self.opened} pages visited by the browser tests checked at "
                f"{' and '.join(f'{w} px' for w in WIDTHS)} in {self.seconds:.1f} s")

    def report(self) -> str:
        """What was found since the last report (empty when nothing), and forget it."""
        lines = [str(v) for v in self.found] + self.problems
        self.found, self.problems = [], []
        if not lines:
            return ""
        return "axe-core (wcag2a, wcag2aa) found critical or serious violations:\n  " + "\n  ".join(lines)
