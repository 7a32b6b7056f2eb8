"""Login throttling on both databases: an attacker slows only their own addresses and never locks the
owner out; spraying usernames from one address is slowed; the waits grow and are translated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert

from jiaowei.auth.login import LoginPolicy, seconds_to_wait
from jiaowei.auth.store import login_attempts
from jiaowei.settings import Settings
from tests.factories import PASSWORD, login_token, make_user, token_for

ATTACKER, OWNER = "198.51.100.7", "203.0.113.5"
Browser = Callable[[str], TestClient]


@pytest.fixture
def from_address(client: TestClient) -> Iterator[Browser]:
    """Browsers on the same app, each from a client address of its own."""
    with ExitStack() as stack:
        def make(address: str) -> TestClient:
            browser = stack.enter_context(TestClient(client.app, client=(address, 50000)))
            browser.headers["accept"] = "text/html,application/xhtml+xml"
            return browser

        yield make


def attempt(browser: TestClient, username: str, password: str, **headers: str):  # type: ignore[no-untyped-def]
    return browser.post("/login", data={**login_token(browser), "username": username, "password": password},
                        headers=headers, follow_redirects=False)


def test_an_attacker_cannot_lock_the_administrator_out(conn: Connection, from_address: Browser) -> None:
    make_user(conn, "admin")
    attacker = from_address(ATTACKER)
    answers = [attempt(attacker, "admin", f"guess number {n}").status_code for n in range(12)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    assert attempt(attacker, "admin", PASSWORD).status_code == 429  # the attacker's address waits
    owner = attempt(from_address(OWNER), "admin", PASSWORD)
    assert owner.status_code == 303, owner.text
    assert "jiaowei_session=" in owner.headers["set-cookie"]


def test_a_distributed_attack_never_locks_the_owner_out(conn: Connection, from_address: Browser,
                                                        settings: Settings) -> None:
    make_user(conn, "admin")
    for n in range(settings.login_max_failures_per_account + 3):
        assert attempt(from_address(f"192.0.2.{n + 1}"), "admin", "guess guess guess").status_code == 401
    # Under attack, an address that failed on the account waits after its first failure ...
    assert attempt(from_address("192.0.2.1"), "admin", PASSWORD).status_code == 429
    # ... while the owner, from an address without failures, gets in at once.
    assert attempt(from_address(OWNER), "admin", PASSWORD).status_code == 303


def test_spraying_many_usernames_from_one_address_is_slowed(conn: Connection, from_address: Browser,
                                                            settings: Settings) -> None:
    settings.login_max_failures_per_address = 8
    make_user(conn, "wang")
    sprayer = from_address(ATTACKER)
    for n in range(8):
        assert attempt(sprayer, f"user{n}", "Spring2026!!").status_code == 401
    refused = attempt(sprayer, "wang", PASSWORD)  # even a right password: the address waits
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert attempt(from_address(OWNER), "wang", PASSWORD).status_code == 303


def test_the_wait_grows_with_each_failure_and_ends(conn: Connection) -> None:
    policy = LoginPolicy(max_failures=3, window_minutes=15)
    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)

    def fail(seconds: float, succeeded: bool = False) -> None:
        conn.execute(insert(login_attempts).values(username="wang", remote=ATTACKER, succeeded=succeeded,
                                                   at=start + dt.timedelta(seconds=seconds)))

    def wait(seconds: float, remote: str = ATTACKER) -> float:
        return seconds_to_wait(conn, username="wang", remote=remote, policy=policy,
                               now=start + dt.timedelta(seconds=seconds))

    for second in (0, 1, 2):
        assert wait(second) == 0
        fail(second)
    assert wait(2) == pytest.approx(2) and wait(4.5) == 0
    fail(5)
    assert wait(5) == pytest.approx(4)
    fail(10)
    assert wait(10) == pytest.approx(8) and wait(10, remote=OWNER) == 0
    for second in range(11, 40):
        fail(second)
    assert wait(39) == pytest.approx(15 * 60)  # never longer than the window
    assert wait(39 + 15 * 60 + 1) == 0  # and the failures age out
    fail(2000, succeeded=True)
    assert wait(2000) == 0


def test_the_throttled_page_says_how_long_to_wait_in_both_languages(conn: Connection,
                                                                    from_address: Browser) -> None:
    make_user(conn, "wang")
    browser = from_address(ATTACKER)
    for _ in range(5):
        attempt(browser, "wang", "wrong wrong wrong")
    chinese = attempt(browser, "wang", PASSWORD, **{"accept-language": "zh-CN"})
    english = attempt(browser, "wang", PASSWORD, **{"accept-language": "en"})
    for page in (chinese, english):
        assert page.status_code == 429 and page.headers["retry-after"] in ("1", "2")
    assert "此地址登录失败次数过多，请在" in chinese.text and "秒后再试" in chinese.text
    assert f"Try again in {english.headers['retry-after']} seconds." in english.text


def test_api_tokens_are_not_throttled(conn: Connection, from_address: Browser) -> None:
    admin = make_user(conn, "admin")
    token = token_for(conn, admin)
    attacker = from_address(ATTACKER)
    for _ in range(8):
        attempt(attacker, "admin", "wrong wrong wrong")
    assert attempt(attacker, "admin", PASSWORD).status_code == 429
    for address in (ATTACKER, OWNER):
        api = from_address(address).get("/api/units", headers={**token, "accept": "application/json"})
        assert api.status_code == 200, api.text
