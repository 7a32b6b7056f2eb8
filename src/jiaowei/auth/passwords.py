"""The password policy: length, not all spaces, not the username, not a common password.

The common passwords are a data file shipped in the package (``common-passwords.txt``: its header
line says where the list comes from), read once and compared lower-cased.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from jiaowei.errors import Problem

MIN_PASSWORD = 10
COMMON_PASSWORDS_FILE = "common-passwords.txt"


@cache
def common_passwords() -> frozenset[str]:
    """The refused common passwords, lower-cased (read from the package once)."""
    text = resources.files("jiaowei.auth").joinpath(COMMON_PASSWORDS_FILE).read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_problems(password: str, *, username: str) -> list[Problem]:
    """What is wrong with ``password`` for ``username``; empty if it is acceptable.

    The password itself never appears in a problem.
    """
    expected = f"at least {MIN_PASSWORD} characters, not all spaces, not containing the username, " \
               "and not a common password"
    if not password.strip():
        return [Problem("password is empty or all spaces", field="password", expected=expected)]
    if len(password) < MIN_PASSWORD:
        return [Problem("password too short", field="password", expected=expected)]
    if username and username.casefold() in password.casefold():
        return [Problem("password contains the username", field="password", expected=expected)]
    if password.lower() in common_passwords() or password.strip().lower() in common_passwords():
        return [Problem("password is a common password", field="password", expected=expected)]
    return []
