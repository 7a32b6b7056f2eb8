"""A request's principal (token or session, the user, the scopes) is read in one statement
(issue 17, part 3), and then kept while the accounts are unchanged (test_principal_kept.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, text

from tests.factories import login, make_user, small_tree, token_for

AUTH_TABLES = re.compile(r"\b(api_tokens|sessions|users|user_scopes)\b")


@contextmanager
def auth_reads(conn: Connection) -> Iterator[list[str]]:
    """The SELECT statements run inside the block that read the account tables."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and AUTH_TABLES.search(statement):
            seen.append(statement)

    event.listen(conn.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(conn.engine, "before_cursor_execute", note)


def _scoped_user(conn: Connection, username: str) -> Any:
    codes = small_tree(conn)
    return make_user(conn, username, role="unit_reporter", capture=[codes["s1"]],
                     view=[codes["d1"], codes["d2"]])


def test_a_token_request_reads_its_principal_in_one_statement(
    client: TestClient, conn: Connection
) -> None:
    headers = token_for(conn, _scoped_user(conn, "tok-reader"))
    with auth_reads(conn) as reads:
        response = client.get("/api/units", headers=headers)
    assert response.status_code == 200, response.text
    assert len(reads) == 1, reads


def test_a_session_request_reads_its_principal_in_one_statement(
    browser: TestClient, conn: Connection
) -> None:
    _scoped_user(conn, "ses-reader")
    login(browser, "ses-reader")
    conn.execute(text("UPDATE users SET display_name = 'changed' WHERE username = 'ses-reader'"))
    with auth_reads(conn) as reads:
        response = browser.get("/api/units")
    assert response.status_code == 200, response.text
    assert len(reads) == 1, reads
