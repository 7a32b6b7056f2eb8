"""District staff may not close or merge away the unit their capture scope starts at (their bureau)."""

from __future__ import annotations

from tests.factories import make_unit, make_user, small_tree, token_for


def _staff_over_two_bureaus(client, conn):  # type: ignore[no-untyped-def]
    small_tree(conn)
    make_unit(conn, "D3", parent="SH", type="district_bureau")  # a bureau without schools
    return token_for(conn, make_user(conn, role="district_staff", capture=["D1", "D3"]))


def _refused(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "scope" in response.json()["detail"]


def test_district_staff_may_not_close_their_own_district_bureau(client, conn):
    staff = _staff_over_two_bureaus(client, conn)
    _refused(client.post("/api/units/D3/close", headers=staff, json={"effective": "2021-01-01"}))
    admin = token_for(conn, make_user(conn))
    assert client.get("/api/units/D3", headers=admin).json()["closed"] is None
    school = client.post("/api/units/S1/close", headers=staff, json={"effective": "2021-01-01"})
    assert school.status_code == 200, school.text


def test_district_staff_may_not_merge_their_own_district_bureau_away(client, conn):
    staff = _staff_over_two_bureaus(client, conn)
    for code, into in (("D3", "D1"), ("D1", "D3")):
        _refused(client.post(f"/api/units/{code}/close", headers=staff,
                             json={"effective": "2021-01-01", "merged_into": into}))
    admin = token_for(conn, make_user(conn))
    d1 = client.get("/api/units/D1", headers=admin).json()
    assert d1["closed"] is None and [e["kind"] for e in d1["events"]] == ["open"]
    assert client.get("/api/units/S1", headers=admin).json()["parent"] == "D1"
    merged = client.post("/api/units/D1/close", headers=admin,
                         json={"effective": "2021-01-01", "merged_into": "D3"})
    assert merged.status_code == 200, merged.text
