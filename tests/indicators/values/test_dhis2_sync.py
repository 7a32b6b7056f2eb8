"""Incremental sync as DHIS2 does it: ``created``/``lastUpdated`` on each exported value, the
``lastUpdated``/``lastUpdatedDuration`` filters, ``includeDeleted``, and ``completeDate``
registering the form complete. DHIS2's own files (tests/fixtures/dhis2/README.md) are imported."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, update

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators import store
from jiaowei.indicators.approval import completeness
from tests.factories import indicator_setup, make_unit, make_user, token_for

FIXTURES = Path(__file__).parents[2] / "fixtures" / "dhis2" / "datavalueset"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")


def post(
    client: TestClient, headers: dict[str, str], document: dict[str, Any] | bytes, **params: str
) -> tuple[int, dict[str, Any]]:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    response = client.post(
        "/api/dataValueSets",
        content=body,
        params={"format": "dhis2-json", **params},
        headers={**headers, "content-type": "application/json"},
    )
    return response.status_code, response.json()


def export(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/dataValueSets", headers=headers, params={"orgUnit": "S1", **params})
    assert response.status_code == 200, response.text
    return list(response.json()["dataValues"])


def backdate(conn: Connection, at: dt.datetime) -> None:
    """Make every import so far look as if it happened at ``at``."""
    conn.execute(update(store.data_imports).values(at=at))


def teachers(amount: str, period: str = "2020") -> dict[str, Any]:
    return {"dataElement": "TEACHERS", "period": period, "orgUnit": "S1", "value": amount}


@pytest.fixture
def admin(conn: Connection) -> dict[str, str]:
    indicator_setup(conn)
    return token_for(conn, make_user(conn, "admin13s"))


def test_each_exported_value_carries_created_and_last_updated(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    post(client, admin, {"dataValues": [teachers("10")]})
    backdate(conn, dt.datetime(2020, 3, 1, 8, 30, tzinfo=dt.UTC))
    [first] = export(client, admin, period="2020")
    assert first["created"] == first["lastUpdated"] == "2020-03-01T08:30:00.000+0000"
    post(client, admin, {"dataValues": [teachers("11")]})
    [second] = export(client, admin, period="2020")
    assert second["created"] == "2020-03-01T08:30:00.000+0000"
    assert STAMP.fullmatch(second["lastUpdated"]) and second["lastUpdated"][:4] != "2020"
    response = client.get(
        "/api/dataValueSets", headers=admin, params={"orgUnit": "S1", "period": "2020", "format": "dhis2-csv"}
    )
    header, row = list(csv.reader(io.StringIO(response.text)))
    assert header[7] == "lastupdated" and row[7] == second["lastUpdated"]


def test_last_updated_keeps_the_values_changed_since_without_naming_periods(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    post(client, admin, {"dataValues": [teachers("10", "2019"), teachers("20", "2020")]})
    backdate(conn, dt.datetime(2020, 6, 1, tzinfo=dt.UTC))
    post(client, admin, {"dataValues": [teachers("21", "2020")]})
    assert [(v["period"], v["value"]) for v in export(client, admin, lastUpdated="2021-01-01")] == [
        ("2020", "21")
    ]
    assert [(v["period"], v["value"]) for v in export(client, admin, lastUpdatedDuration="2h")] == [
        ("2020", "21")
    ]
    assert len(export(client, admin, lastUpdated="2020-05-31T23:00:00")) == 2
    periods = {v["period"] for v in export(client, admin, lastUpdated="2020-06-01T08:00:00+08:00")}
    assert periods == {"2019", "2020"}  # the first import's moment, in another zone
    assert [v["period"] for v in export(client, admin, lastUpdated="2020-06-01T08:00:01+08:00")] == ["2020"]
    everything = export(client, admin)
    assert {(v["period"], v["value"]) for v in everything} == {("2019", "10"), ("2020", "21")}
    response = client.get(
        "/api/dataValueSets", headers=admin, params={"orgUnit": "S1", "lastUpdatedDuration": "10x"}
    )
    assert response.status_code == 422 and "lastUpdatedDuration" in response.text


def test_include_deleted_gives_deleted_values_as_they_were(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    post(client, admin, {"dataValues": [teachers("10"), {**teachers("3"), "dataElement": "RATE"}]})
    backdate(conn, dt.datetime(2020, 6, 1, tzinfo=dt.UTC))
    status, body = post(client, admin, {"dataValues": [teachers("10")]}, importStrategy="DELETE")
    assert body["response"]["importCount"]["deleted"] == 1
    assert [v["dataElement"] for v in export(client, admin, period="2020")] == ["RATE"]
    with_deleted = export(client, admin, period="2020", includeDeleted="true")
    deleted = [v for v in with_deleted if v.get("deleted")]
    assert [(v["dataElement"], v["value"], v["created"]) for v in deleted] == [
        ("TEACHERS", "10", "2020-06-01T00:00:00.000+0000")
    ]
    assert deleted[0]["lastUpdated"] > deleted[0]["created"]
    # Changed since the backdated import: only the deletion.
    since = export(client, admin, lastUpdated="2021-01-01", includeDeleted="true")
    assert [(v["dataElement"], v.get("deleted")) for v in since] == [("TEACHERS", True)]
    # Written again, it is no longer deleted.
    post(client, admin, {"dataValues": [teachers("12")]})
    assert [v.get("deleted", False) for v in export(client, admin, period="2020", includeDeleted="true")] == [
        False,
        False,
    ]


# ---------------------------------------------------------------- completeDate


def form(unit: str = "S1", **extra: Any) -> dict[str, Any]:
    return {
        "dataSet": "SCHOOL_Y",
        "period": "2020",
        "orgUnit": unit,
        "completeDate": "2021-01-10",
        "dataValues": [{"dataElement": "TEACHERS", "value": "10"}],
        **extra,
    }


def registered(conn: Connection, unit: str = "S1") -> bool:
    found = completeness.completion_of(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit=unit)
    return bool(found["completed"])


def test_complete_date_registers_the_form_complete(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    status, body = post(client, admin, form(), dryRun="true")
    assert status == 200 and not registered(conn)
    status, body = post(client, admin, form())
    assert status == 200, body
    assert registered(conn)
    row = conn.execute(select(store.completions.c.completed_at)).scalar_one()
    assert row.date() == dt.date(2021, 1, 10)  # an administrator's file keeps its date
    status, body = post(client, admin, form())  # again: unchanged, the values ignored
    assert status == 200 and body["response"]["importCount"]["ignored"] == 1


def test_a_completion_that_cannot_be_registered_writes_nothing(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    make_unit(conn, "K1", parent="D1", type="kindergarten")
    district = token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"], view=["D1"]))
    status, body = post(client, district, form("S2"))
    assert status == 409
    assert [(c["field"], c["object"]) for c in body["response"]["conflicts"]][0] == ("orgUnit", "S2")
    status, body = post(client, admin, {**form("K1"), "dataValues": []})
    assert status == 409
    [conflict] = body["response"]["conflicts"]
    assert (conflict["field"], conflict["object"]) == ("orgUnit", "K1")
    assert body["response"]["importCount"]["ignored"] == 0  # a form is not a value
    # With atomicMode=NONE the values are written and the form stays unregistered.
    status, body = post(client, admin, {**form("K1"), "dataValues": [teachers("4")]}, atomicMode="NONE")
    assert (status, body["status"]) == (200, "WARNING")
    assert body["response"]["importCount"] == {"imported": 1, "updated": 0, "ignored": 0, "deleted": 0}
    assert not registered(conn, "K1") and [v["value"] for v in export(client, admin, period="2020")] == ["4"]
    post(client, admin, {"dataValues": [teachers("4")]}, importStrategy="DELETE")
    status, body = post(client, admin, {**form(), "dataValues": [{"dataElement": "NOPE", "value": "1"}]})
    assert status == 409 and not registered(conn)
    assert export(client, admin, period="2020") == []
    status, body = post(client, district, form())
    assert status == 200 and registered(conn)


def test_complete_date_without_a_form_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    document = form()
    del document["dataSet"]
    status, body = post(client, admin, document)
    assert status in (400, 422)
    assert "dataSet" in json.dumps(body)


# ---------------------------------------------------------------- DHIS2's own files


@pytest.fixture
def dhis2(conn: Connection) -> dict[str, str]:
    from jiaowei.indicators.metadata import service as metadata

    make_unit(conn, "DiszpKrYNg8")
    metadata.save_data_element(conn, principal=SYSTEM, code="f7n9E0hX8qk", name_zh="数据项A", name_en="DE A")
    metadata.save_data_set(
        conn,
        principal=SYSTEM,
        code="DHIS2_M",
        name_zh="月报",
        name_en="Monthly",
        period_type="Monthly",
        elements=["f7n9E0hX8qk"],
        unit_types=["primary_school"],
        due_days=15,
        expiry_days=0,
    )
    return token_for(conn, make_user(conn, "dhis2admin"))


def test_dhis2_files_import_and_update_and_export_with_times(
    client: TestClient, dhis2: dict[str, str]
) -> None:
    status, body = post(client, dhis2, (FIXTURES / "dataValueSetCreateDate.json").read_bytes())
    assert status == 200, body
    assert body["response"]["importCount"] == {"imported": 1, "updated": 0, "ignored": 0, "deleted": 0}
    status, body = post(
        client, dhis2, (FIXTURES / "dataValueSetJ.json").read_bytes(), importStrategy="CREATE"
    )
    assert body["response"]["importCount"] == {"imported": 0, "updated": 0, "ignored": 1, "deleted": 0}
    status, body = post(
        client, dhis2, (FIXTURES / "dataValueSetJDeleteNewValue.json").read_bytes(), importStrategy="UPDATE"
    )
    assert body["response"]["importCount"] == {"imported": 0, "updated": 1, "ignored": 0, "deleted": 0}
    response = client.get(
        "/api/dataValueSets",
        headers=dhis2,
        params={"orgUnit": "DiszpKrYNg8", "dataSet": "DHIS2_M", "lastUpdatedDuration": "1d"},
    )
    [item] = response.json()["dataValues"]
    assert (item["dataElement"], item["period"], item["value"]) == ("f7n9E0hX8qk", "201201", "9")
    # jiaowei keeps its own times: the file's 1988 dates are not taken.
    assert STAMP.fullmatch(item["created"]) and not item["created"].startswith("1988")
