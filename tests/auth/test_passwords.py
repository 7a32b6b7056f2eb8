"""The password policy (issue 9, item 6): length, spaces, username, common passwords."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.auth.passwords import MIN_PASSWORD, common_passwords, password_problems
from jiaowei.demo import shanghai2020
from jiaowei.errors import ValidationError
from tests.factories import PASSWORD

REFUSED = {
    "too short": "Zq7#kd9!x",
    "all spaces": " " * 12,
    "username": "ada.lovelace",
    "username inside, any case": "my-ADA.LOVELACE-2026",
    "common": "1234567890",
    "common, upper case": "QWERTYUIOP",
    "common, padded": "  iloveyou12  ",
}


def test_the_common_list_ships_with_the_package_and_is_large():
    common = common_passwords()
    assert len(common) >= 10_000
    assert {"password", "123456", "qwertyuiop"} <= common
    assert all(p == p.lower() for p in common)


@pytest.mark.parametrize("password", REFUSED.values(), ids=REFUSED.keys())
def test_weak_passwords_are_refused_naming_the_field_never_the_password(conn: Connection, password: str):
    with pytest.raises(ValidationError) as caught:
        auth.create_user(conn, principal=SYSTEM, username="ada.lovelace", password=password, role="viewer")
    problems = caught.value.problems
    assert [p.field for p in problems] == ["password"]
    assert f"at least {MIN_PASSWORD} characters" in (problems[0].expected or "")
    assert "value" not in problems[0].as_dict()
    assert not password.strip() or password.strip() not in f"{caught.value} {[p.as_dict() for p in problems]}"


def test_the_test_and_demo_passwords_pass(conn: Connection):
    assert auth.create_user(conn, principal=SYSTEM, username="fine", password=PASSWORD, role="viewer")
    for user in shanghai2020.DEMO_USERS:
        assert password_problems(user["password"], username=user["username"]) == []
