"""The data entry page reads no unit once the process keeps the registry (issue 17, part 3: each statement
is a round trip on PostgreSQL; jiaowei.registry.store.image). It used to take eight: the id twice, then
identity, versions and path segments for the unit's state in the form's period and its newest names.
It reads its period once (it used to read it for the values, then again for the approvals and locks)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.indicators.values.test_api import admin
from tests.statements import counting

FORM = {"ds": "SCHOOL_Y", "pe": "2020", "ou": "S1"}
REGISTRY = (" FROM units ", " FROM unit_versions ", " FROM unit_paths ", " JOIN units ")


def test_the_entry_page_reads_no_unit_and_no_period(client: TestClient, conn: Connection) -> None:
    """The units and the periods come from what the process keeps (decisions 0022 and 0023)."""
    headers = {**admin(client, conn), "accept": "text/html"}
    assert client.get("/data/entry", params=FORM, headers=headers).status_code == 200  # the token's first use
    conn.begin_nested().rollback()  # the test's requests share its transaction: forget what they read
    with counting(conn) as count:
        page = client.get("/data/entry", params=FORM, headers=headers)
    seen = [s + " " for s, _ in count.seen]
    assert page.status_code == 200 and 'data-de="PUPILS" data-co="M"' in page.text
    units = [s for s in seen if any(t in s.split(" WHERE ")[0] + " " for t in REGISTRY)]
    assert units == []
    assert [s for s in seen if s.startswith("SELECT periods.")] == []

