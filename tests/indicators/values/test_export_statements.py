"""A ``dataValueSets`` export's statements do not grow with the units it covers (issue 17, part 3).

On PostgreSQL the units go as one array parameter, so the bound parameters do not grow either;
SQLite takes them as ``IN`` lists of at most ``CHUNK`` ids, one statement per chunk."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.indicators.values.test_api import VALUES, admin, post
from tests.statements import Count, counting


def _export(
    client: TestClient, conn: Connection, headers: dict[str, str], **params: str
) -> tuple[Count, list[tuple[str, str, str]]]:
    with counting(conn) as count:
        response = client.get("/api/dataValueSets", headers=headers,
                              params={"period": "2020", "includeDeleted": "true", **params})
    assert response.status_code == 200, response.text
    return count, sorted((v["orgUnit"], v["dataElement"], v["value"]) for v in response.json()["dataValues"])


def test_exporting_more_units_costs_no_more_statements(client: TestClient, conn: Connection) -> None:
    headers = admin(client, conn)
    assert post(client, headers, json.dumps({"dataValues": VALUES}).encode()).status_code == 200
    _export(client, conn, headers, orgUnit="S1")  # warm: the catalog, the token's last use
    one, one_rows = _export(client, conn, headers, orgUnit="S1", children="true")  # a school: one unit
    tree, tree_rows = _export(client, conn, headers, orgUnit="SH", children="true")  # five units
    assert one_rows == [("S1", "PUPILS", "110"), ("S1", "PUPILS", "120"), ("S1", "TEACHERS", "15")]
    assert tree_rows == [*one_rows, ("S2", "RATE", "86.5")]
    assert tree.statements == one.statements
    if conn.dialect.name == "postgresql":
        assert tree.parameters == one.parameters, (one, tree)
