"""The units API on both databases: list, fetch with history, change over time."""

from __future__ import annotations

from tests.factories import make_unit, make_user, small_tree, token_for


def test_units_as_of_dates_show_history(client, conn):
    small_tree(conn)
    headers = token_for(conn, make_user(conn))
    moved = client.patch("/api/units/S1", headers=headers,
                         json={"effective": "2020-09-01", "parent": "D2", "name_zh": "新校名"})
    assert moved.status_code == 200, moved.text
    before = client.get("/api/units", headers=headers, params={"parent": "D1", "as_of": "2020-08-31"})
    after = client.get("/api/units", headers=headers, params={"parent": "D1", "as_of": "2020-09-01"})
    assert [u["code"] for u in before.json()["items"]] == ["S1"]
    assert after.json()["items"] == []
    unit = client.get("/api/units/S1", headers=headers).json()
    assert unit["parent"] == "D2" and unit["name_zh"] == "新校名"
    assert [e["kind"] for e in unit["events"]] == ["open", "rename", "move"]
    assert [v["parent"] for v in unit["versions"]] == ["D1", "D2"]


def test_descendants_follow_a_moved_district(client, conn):
    small_tree(conn)
    make_unit(conn, "K1", parent="S1", type="kindergarten")
    headers = token_for(conn, make_user(conn))
    assert client.patch("/api/units/S1", headers=headers,
                        json={"effective": "2021-01-01", "parent": "D2"}).status_code == 200
    old = client.get("/api/units", headers=headers, params={"descendants_of": "D1", "as_of": "2020-06-01"})
    new = client.get("/api/units", headers=headers, params={"descendants_of": "D2", "as_of": "2021-06-01"})
    assert {u["code"] for u in old.json()["items"]} == {"D1", "S1", "K1"}
    assert {u["code"] for u in new.json()["items"]} == {"D2", "S1", "S2", "K1"}


def test_closing_a_parent_with_open_children_is_refused(client, conn):
    small_tree(conn)
    headers = token_for(conn, make_user(conn))
    response = client.post("/api/units/D1/close", headers=headers, json={"effective": "2020-01-01"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "S1" in response.json()["problems"][0]["message"]
    assert client.get("/api/units/D1", headers=headers).json()["closed"] is None


def test_bad_filter_names_the_field_and_value(client, conn):
    headers = token_for(conn, make_user(conn))
    response = client.get("/api/units", headers=headers, params={"type": "castle"})
    problem = response.json()["problems"][0]
    assert response.status_code == 422
    assert problem["field"] == "type" and problem["value"] == "castle"
    assert "primary_school" in problem["expected"]


def test_district_staff_may_not_rename_or_move_their_own_district_bureau(client, conn):
    small_tree(conn)
    staff = token_for(conn, make_user(conn, role="district_staff", capture=["D1", "D2"]))
    for change in ({"name_zh": "我的区"}, {"name_en": "My district"}, {"parent": "D2"}):
        response = client.patch("/api/units/D1", headers=staff, json={"effective": "2021-01-01", **change})
        assert response.status_code == 403, (change, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "scope" in response.json()["detail"]
    admin = token_for(conn, make_user(conn))
    unit = client.get("/api/units/D1", headers=admin).json()
    assert unit["name_zh"] == "单位D1" and unit["parent"] == "SH" and len(unit["versions"]) == 1
    rename = {"effective": "2021-01-01", "name_zh": "新校名"}
    inside = client.patch("/api/units/S1", headers=staff, json=rename)
    assert inside.status_code == 200, inside.text
    same = client.patch("/api/units/D1", headers=staff, json={"effective": "2021-01-01", "name_zh": "单位D1"})
    assert same.status_code == 200, same.text


def test_a_viewer_gets_403_for_an_unreadable_units_file_too(client, conn):
    """The permission is checked before the file is parsed (outside the transaction)."""
    headers = token_for(conn, make_user(conn, "looker", role="viewer"))
    bad = client.post("/api/units/import?filename=units.xlsx", content=b"PK\x03\x04 not a workbook",
                      headers=headers)
    assert bad.status_code == 403, bad.text
