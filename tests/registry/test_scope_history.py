"""A unit's record shows a scoped viewer only the time it spent in their scope (issue 9, item 12).

School ``MV`` opens in district D1 in 2000 with an early name and attributes, moves to
district D2 on 2010-01-01 and is renamed there in 2015 with new attributes. A D1 user asking
as of a day in D1 sees nothing of its D2 years (not the later name, parent or attributes, nor
the move's event) in the API, the pages or the exports; a D2 user sees no version of its D1 years;
an administrator and a commission-wide user see the whole record.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.registry import queries, service, transfer
from tests.factories import login, make_unit, make_user, small_tree, token_for

MOVED = dt.date(2010, 1, 1)
RENAMED = dt.date(2015, 1, 1)
IN_D1 = "2005-06-01"
IN_D2 = "2012-06-01"
EARLY = ("早期校名", "Early School Name", "mark-early-d1")
LATER = ("后来校名", "Later School Name", "mark-later-d2")


def moved_school(conn: Connection) -> None:
    small_tree(conn)
    make_unit(conn, "MV", parent="D1", name_zh=EARLY[0], name_en=EARLY[1], attributes={"marker": EARLY[2]})
    service.change_unit(conn, principal=SYSTEM, code="MV", effective=MOVED, changes={"parent": "D2"})
    service.change_unit(
        conn,
        principal=SYSTEM,
        code="MV",
        effective=RENAMED,
        changes={"name_zh": LATER[0], "name_en": LATER[1], "attributes": {"marker": LATER[2]}},
    )


def district_user(conn: Connection, district: str) -> Principal:
    return make_user(conn, role="district_staff", capture=[district])


def xlsx_text(data: bytes) -> str:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    assert sheet is not None
    return " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None)


def assert_hidden(text: str, hidden: tuple[str, ...]) -> None:
    for secret in hidden:
        assert secret not in text


def responses(client: TestClient, headers: dict[str, str], day: str, district: str) -> list[str]:
    """Everything the API shows the user of ``district`` about MV on ``day``."""
    urls = ("/api/units/MV", f"/api/units/{district}/children", "/api/units/MV/children", "/api/units")
    texts = [client.get(url, params={"as_of": day}, headers=headers).text for url in urls]
    texts.append(client.get("/api/units", params={"as_of": day, "q": "MV"}, headers=headers).text)
    texts.append(client.get("/api/units/export", params={"as_of": day}, headers=headers).content.decode())
    xlsx = client.get("/api/units/export", params={"as_of": day, "format": "xlsx"}, headers=headers)
    texts.append(xlsx_text(xlsx.content))
    return texts


def test_a_district_user_sees_nothing_of_the_years_after_the_unit_left(
    conn: Connection, client: TestClient
) -> None:
    moved_school(conn)
    headers = token_for(conn, district_user(conn, "D1"))
    detail = client.get("/api/units/MV", params={"as_of": IN_D1}, headers=headers)
    assert detail.status_code == 200
    body = detail.json()
    assert body["name_en"] == EARLY[1]
    assert body["parent"] == "D1"
    assert [v["valid_from"] for v in body["versions"]] == ["2000-01-01"]
    assert body["versions"][0]["valid_to"] == MOVED.isoformat()
    assert all(e["effective"] < MOVED.isoformat() for e in body["events"])
    for text in responses(client, headers, IN_D1, "D1"):
        assert_hidden(text, (*LATER, "D2"))


def test_the_unit_page_of_a_district_user_hides_the_later_years(conn: Connection, client: TestClient) -> None:
    moved_school(conn)
    user = make_user(conn, role="district_staff", capture=["D1"])
    login(client, user.username)
    page = client.get("/units/MV", params={"as_of": IN_D1}, headers={"accept": "text/html"})
    assert page.status_code == 200
    assert EARLY[1] in page.text
    assert_hidden(page.text, (*LATER, "Unit D2"))


def test_the_district_it_moved_to_sees_no_version_of_its_years_before(
    conn: Connection, client: TestClient
) -> None:
    moved_school(conn)
    headers = token_for(conn, district_user(conn, "D2"))
    body = client.get("/api/units/MV", params={"as_of": IN_D2}, headers=headers).json()
    assert [v["valid_from"] for v in body["versions"]] == [MOVED.isoformat(), RENAMED.isoformat()]
    assert body["opened"] == MOVED.isoformat()
    assert {v["parent"] for v in body["versions"]} == {"D2"}
    assert all(e["effective"] >= MOVED.isoformat() for e in body["events"])


def test_a_district_user_asking_after_the_move_finds_no_unit(conn: Connection, client: TestClient) -> None:
    moved_school(conn)
    headers = token_for(conn, district_user(conn, "D1"))
    assert client.get("/api/units/MV", params={"as_of": IN_D2}, headers=headers).status_code == 404


@pytest.mark.parametrize("role", ["administrator", "commission_staff"])
def test_administrators_and_the_commission_see_the_whole_record(conn: Connection, role: str) -> None:
    moved_school(conn)
    viewer = SYSTEM if role == "administrator" else make_user(conn, role=role, capture=["SH"])
    unit = queries.get_unit(conn, principal=viewer, code="MV", as_of=dt.date.fromisoformat(IN_D1))
    assert [v.valid_from for v in unit.versions] == [dt.date(2000, 1, 1), MOVED, RENAMED]
    assert unit.versions[-1].name_en == LATER[1]
    assert unit.opened == dt.date(2000, 1, 1)
    assert {e.effective for e in unit.events} >= {MOVED, RENAMED}
    rows = transfer.export_rows(conn, principal=viewer, as_of=dt.date.fromisoformat(IN_D1))
    assert next(r for r in rows if r["code"] == "MV")["valid_to"] == ""


def test_the_export_of_a_district_user_ends_the_unit_where_it_left(conn: Connection) -> None:
    moved_school(conn)
    rows = transfer.export_rows(conn, principal=district_user(conn, "D1"), as_of=dt.date.fromisoformat(IN_D1))
    row = next(r for r in rows if r["code"] == "MV")
    assert (row["valid_from"], row["valid_to"], row["parent"]) == ("2000-01-01", MOVED.isoformat(), "D1")
