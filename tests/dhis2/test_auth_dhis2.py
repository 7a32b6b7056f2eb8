"""DHIS2's ways to authenticate beside Bearer: ``Authorization: ApiToken …`` and HTTP Basic, the latter
checked and throttled as the login form is; no session, no CSRF token; on both databases."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from jiaowei.auth import admin
from jiaowei.auth.model import SYSTEM
from jiaowei.auth.store import login_attempts, sessions
from tests.factories import PASSWORD, indicator_setup, login_token, make_user, token_for

ATTACKER, OWNER = "198.51.100.7", "203.0.113.5"
Client = Callable[[str], TestClient]


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.fixture
def from_address(client: TestClient) -> Iterator[Client]:
    """API clients on the same app, each from a client address of its own."""
    with ExitStack() as stack:
        yield lambda address: stack.enter_context(TestClient(client.app, client=(address, 50000)))


def test_api_token_works_as_bearer_does(client: TestClient, conn: Connection) -> None:
    user = make_user(conn, "ward", role="viewer")
    token = token_for(conn, user)["Authorization"].removeprefix("Bearer ")
    me = client.get("/api/me", headers={"Authorization": f"ApiToken {token}"})
    assert me.status_code == 200 and me.json()["username"] == "ward"
    unknown = client.get("/api/me", headers={"Authorization": "ApiToken d2pat_nope"})
    assert unknown.status_code == 401 and "token" in unknown.json()["detail"]


def test_basic_auth_logs_in_without_a_session(client: TestClient, conn: Connection) -> None:
    make_user(conn, "ward", role="viewer")
    me = client.get("/api/40/me", headers=basic("ward"))
    assert me.status_code == 200 and me.json()["username"] == "ward"
    assert "set-cookie" not in me.headers
    assert conn.execute(select(func.count()).select_from(sessions)).scalar_one() == 0
    wrong = client.get("/api/me", headers=basic("ward", "not the password"))
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
    assert client.get("/api/me", headers={"Authorization": "Basic !!!"}).status_code == 401
    assert client.get("/api/me", headers=basic("nobody")).status_code == 401


def test_basic_and_api_token_writes_need_no_csrf_token(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    user = make_user(conn, "clerk")
    value = {"dataValues": [{"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "15"}]}
    posted = client.post("/api/dataValueSets", content=json.dumps(value), headers=basic("clerk"))
    assert posted.status_code == 200, posted.text
    token = token_for(conn, user)["Authorization"].removeprefix("Bearer ")
    again = client.post("/api/dataValueSets", content=json.dumps(value),
                        headers={"Authorization": f"ApiToken {token}"})
    assert again.status_code == 200, again.text


def test_basic_failures_are_throttled_with_the_login_forms_limits(
    conn: Connection, from_address: Client
) -> None:
    make_user(conn, "admin")
    attacker = from_address(ATTACKER)
    answers = [attacker.get("/api/me", headers=basic("admin", f"guess {n}")) for n in range(7)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert {a.status_code for a in answers[5:]} == {429}
    assert int(answers[5].headers["retry-after"]) >= 1
    # the right password waits too from the attacker's address, through Basic and through the form
    assert attacker.get("/api/me", headers=basic("admin")).status_code == 429
    form = attacker.post("/login", data={**login_token(attacker), "username": "admin", "password": PASSWORD},
                         headers={"accept": "text/html"}, follow_redirects=False)
    assert form.status_code == 429
    # the owner, from an address without failures, gets in at once
    assert from_address(OWNER).get("/api/me", headers=basic("admin")).status_code == 200
    failures = select(func.count()).select_from(login_attempts).where(login_attempts.c.succeeded.is_(False))
    assert conn.execute(failures).scalar_one() == 5


def test_login_form_failures_count_toward_basic(conn: Connection, from_address: Client) -> None:
    make_user(conn, "admin")
    browser = from_address(ATTACKER)
    for n in range(5):
        form = {**login_token(browser), "username": "admin", "password": f"g{n}"}
        refused = browser.post("/login", data=form, headers={"accept": "text/html"}, follow_redirects=False)
        assert refused.status_code == 401
    assert from_address(ATTACKER).get("/api/me", headers=basic("admin")).status_code == 429


def test_an_account_that_must_change_its_password_is_refused(client: TestClient, conn: Connection) -> None:
    user = make_user(conn, "ward", role="viewer")
    token = token_for(conn, user)
    one_time = admin.reset_password(conn, principal=SYSTEM, username="ward")
    as_bearer = client.get("/api/dataElements", headers=token)
    refused = client.get("/api/dataElements", headers=basic("ward", one_time))
    assert as_bearer.status_code == refused.status_code == 403
    assert refused.json()["detail"] == as_bearer.json()["detail"]


def test_a_401_says_how_to_authenticate_except_to_a_page(client: TestClient) -> None:
    bare = client.get("/api/dataElements")
    assert bare.status_code == 401 and 'Basic realm="jiaowei"' in bare.headers["www-authenticate"]
    assert "ApiToken" in bare.headers["www-authenticate"]
    scripted = client.get("/api/dataElements", headers={"X-Requested-With": "XMLHttpRequest"})
    assert scripted.status_code == 401 and "www-authenticate" not in scripted.headers
