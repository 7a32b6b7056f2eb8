"""A login answers in the same time whether or not the user exists (or is disabled): each checks one
argon2 hash. Measured through the login form, interleaved, comparing medians, so that a loaded
machine slows every kind alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Connection, update

from jiaowei.auth import login
from jiaowei.auth import service as auth_service
from jiaowei.auth.store import users
from jiaowei.settings import Settings
from tests.factories import login_token, make_user

SAMPLES = 7


@pytest.fixture(autouse=True)
def _production_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The production argon2 parameters (tests/conftest.py makes hashing cheap for every other test):
    what this test measures is that each kind of login pays for one real hash."""
    monkeypatch.setattr(auth_service, "_hasher", PasswordHasher())
    login._dummy_hash.cache_clear()
    yield
    login._dummy_hash.cache_clear()
BOUND = 2.5  # before: an unknown user answered 10 to 20 times faster than a real one


def _seconds(browser: TestClient, username: str) -> float:
    data = {**login_token(browser), "username": username, "password": "not the password at all"}
    start = time.perf_counter()
    response = browser.post("/login", data=data, follow_redirects=False)
    elapsed = time.perf_counter() - start
    assert response.status_code == 401, response.text
    return elapsed


def test_unknown_disabled_and_real_users_answer_in_the_same_time(browser: TestClient, conn: Connection,
                                                                  settings: Settings) -> None:
    settings.login_max_failures = settings.login_max_failures_per_address = 1000
    make_user(conn, "wang")
    make_user(conn, "li")
    conn.execute(update(users).where(users.c.username == "li").values(active=False))
    kinds = {"real": "wang", "unknown": "nobody-here", "disabled": "li"}
    _seconds(browser, "warm-up")
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(SAMPLES):
        for kind, username in kinds.items():
            times[kind].append(_seconds(browser, username))
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    print({kind: f"{median * 1000:.1f} ms" for kind, median in medians.items()})
    for kind in ("unknown", "disabled"):
        ratio = medians[kind] / medians["real"]
        assert 1 / BOUND < ratio < BOUND, medians
