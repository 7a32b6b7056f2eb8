"""A real server process on a free port with a seeded SQLite database, and headless Chromium."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.registry import service as registry
from tests.browser.axe import AxeWatch

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"
CLOSED_ON = dt.date(2021, 7, 1)
UNITS = [
    # code, parent, type, name_zh, name_en
    ("SH", None, "commission", "上海市教育委员会", "Shanghai Municipal Education Commission"),
    ("HP", "SH", "district_bureau", "黄浦区教育局", "Huangpu District Education Bureau"),
    ("XH", "SH", "district_bureau", "徐汇区教育局", "Xuhui District Education Bureau"),
    ("HP01", "HP", "primary_school", "黄浦区示范第一小学", "Huangpu Model Primary School No. 1"),
    ("HP02", "HP", "secondary_school", "黄浦区示范中学", "Huangpu Model Secondary School"),
    ("XH01", "XH", "primary_school", "徐汇区示范第一小学", "Xuhui Model Primary School No. 1"),
    ("XH02", "XH", "kindergarten", "徐汇区示范幼儿园", "Xuhui Model Kindergarten"),
]


def seed(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        for code, parent, kind, name_zh, name_en in UNITS:
            spec = registry.UnitSpec(code=code, parent=parent, type=kind, name_zh=name_zh, name_en=name_en,
                                     opened=dt.date(2000, 1, 1), synthetic=parent is not None,
                                     attributes={"学段": "小学"} if kind == "primary_school" else {})
            registry.create_unit(conn, principal=SYSTEM, spec=spec)
        registry.close_unit(conn, principal=SYSTEM, code="XH02", effective=CLOSED_ON, note="撤销")
        auth.create_user(conn, principal=SYSTEM, username="admin", password=PASSWORD, role="administrator",
                         display_name="市教委管理员")
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start in time")


@contextmanager
def running_server(url: str, home: Path, secret: str) -> Iterator[str]:
    """``uvicorn`` serving jiaowei on ``url``'s database at a free port; yields the base URL."""
    port = _free_port()
    env = {**os.environ, "JIAOWEI_DATABASE_URL": url, "JIAOWEI_HOME": str(home), "JIAOWEI_SECRET_KEY": secret}
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "jiaowei.web.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("server")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    with running_server(url, home, "browser-test-" + "x" * 32) as base:
        yield base


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield CheckedBrowser(browser, AXE)
        browser.close()


AXE = AxeWatch()


class CheckedBrowser:
    """The Chromium browser, whose every new context is watched by axe (see ``tests/browser/axe.py``)."""

    def __init__(self, browser: Any, axe: AxeWatch) -> None:
        self._browser = browser
        self._axe = axe

    def new_context(self, **options: Any) -> Any:
        context = self._browser.new_context(**options)
        self._axe.watch(context)
        return context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


def _fail_on_axe_findings() -> None:
    report = AXE.report()
    if report:
        pytest.fail(report, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After a browser test passes, axe checks the pages it visited; a violation fails the test."""
    try:
        yield
    except BaseException:
        AXE.forget_pending()  # a failing test's pages are not blamed on the next test
        raise
    AXE.check_all()
    _fail_on_axe_findings()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The cost of the axe checks (in this process: with xdist, a worker's are not shown)."""
    if AXE.opened:
        terminalreporter.write_line(AXE.summary())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """Contexts closed at teardown were checked as they closed: report what that found."""
    yield
    _fail_on_axe_findings()


@pytest.fixture
def new_page(chromium, server):  # type: ignore[no-untyped-def]
    """Open pages in a fresh browser context: ``new_page(locale="zh-CN", width=1280)``."""
    contexts = []

    def make(locale: str = "zh-CN", width: int = 1280, height: int = 900):  # type: ignore[no-untyped-def]
        context = chromium.new_context(base_url=server, locale=locale,
                                       viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@contextmanager
def logged_in(chromium: Any, base_url: str, landing: str, *, username: str = "admin",
              password: str = PASSWORD, timeout_ms: int = 15_000) -> Iterator[Any]:
    """A zh-CN page at 1280×900 on ``base_url``, logged in through the form and landed on ``landing``."""
    context = chromium.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    page.goto(f"/login?next={landing}")
    page.get_by_label(re.compile("用户名|Username")).fill(username)
    page.get_by_label(re.compile("密码|Password")).fill(password)
    page.get_by_role("button", name=re.compile("^(登录|Log in)$")).click()
    page.wait_for_url(lambda url: urllib.parse.urlsplit(url).path == landing)
    try:
        yield page
    finally:
        context.close()


@contextmanager
def seeded_server(tmp_path_factory: pytest.TempPathFactory, name: str, secret: str,
                  prepare: Callable[[str], None] | None = None) -> Iterator[str]:
    """A server over a fresh SQLite database with :data:`UNITS` (and what ``prepare(url)`` adds)."""
    home = tmp_path_factory.mktemp(name)
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    if prepare is not None:
        prepare(url)
    with running_server(url, home, secret) as base:
        yield base


@contextmanager
def form_logins(chromium: Any, base_url: str, *, timeout_ms: int = 10_000) -> Iterator[Callable[..., Any]]:
    """``login(username, next_path="/")``: a zh-CN page at 1280×900, logged in through the login form
    and left where the login sends it; every context it opens is closed at the end."""
    contexts = []

    def login(username: str, next_path: str = "/", password: str = PASSWORD) -> Any:
        context = chromium.new_context(base_url=base_url, locale="zh-CN",
                                       viewport={"width": 1280, "height": 900})
        context.set_default_timeout(timeout_ms)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login?" + urllib.parse.urlencode({"next": next_path}))
        page.get_by_label(re.compile("用户名|Username")).fill(username)
        page.get_by_label(re.compile("密码|Password")).fill(password)
        page.get_by_role("button", name=re.compile("^(登录|Log in)$")).click()
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    try:
        yield login
    finally:
        for context in contexts:
            context.close()
