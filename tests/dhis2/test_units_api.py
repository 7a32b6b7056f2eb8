"""DHIS2's organisation unit routes (jiaowei.dhis2.units_api) over units imported from DHIS2's own bundle,
and over the small tree for a district user's scope."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.dhis2.units import import_org_units
from jiaowei.registry import groups
from tests.dhis2.test_units_import import GROUP_AND_SET, SETUP, bundle
from tests.factories import make_unit, make_user, small_tree, token_for


def admin(conn: Connection) -> dict[str, str]:
    return token_for(conn, make_user(conn, "dhis2admin"))


def imported(conn: Connection) -> dict[str, str]:
    for name in (SETUP, GROUP_AND_SET):
        _, problems = import_org_units(conn, principal=SYSTEM, lists=bundle(name))
        assert problems == []
    return admin(conn)


def test_the_unit_list_has_dhis2s_pager_and_shapes(client: TestClient, conn: Connection) -> None:
    headers = imported(conn)
    answer = client.get("/api/organisationUnits", headers=headers).json()
    assert answer["pager"] == {"page": 1, "pageCount": 1, "total": 7, "pageSize": 50}
    first = answer["organisationUnits"][0]
    assert first["id"] == "ImspTQPwCqd" and first["level"] == 1 and "parent" not in first
    paged = client.get("/api/organisationUnits", params={"pageSize": 3, "page": 2}, headers=headers).json()
    assert paged["pager"]["pageCount"] == 3 and len(paged["organisationUnits"]) == 3
    level4 = client.get(
        "/api/organisationUnits", params={"level": 4, "fields": "id,parent[id]"}, headers=headers
    )
    assert level4.json()["organisationUnits"] == [
        {"id": "DiszpKrYNg8", "parent": {"id": "YuQRtpLP10I"}},
        {"id": "g8upMTyEZGZ", "parent": {"id": "YuQRtpLP10I"}},
    ]
    found = client.get("/api/organisationUnits", params={"query": "badj", "paging": "false"}, headers=headers)
    assert [u["code"] for u in found.json()["organisationUnits"]] == ["OU_539"]
    assert "pager" not in found.json()


def test_one_unit_by_uid_or_code(client: TestClient, conn: Connection) -> None:
    headers = imported(conn)
    by_uid = client.get("/api/organisationUnits/YuQRtpLP10I", headers=headers)
    assert by_uid.status_code == 200 and by_uid.json()["code"] == "OU_539"
    assert by_uid.json()["path"] == "/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I"
    by_code = client.get("/api/organisationUnits/OU_539", params={"fields": "id,name"}, headers=headers)
    assert by_code.json() == {"id": "YuQRtpLP10I", "name": "Badjia"}
    missing = client.get("/api/organisationUnits/NoSuchUnit1", headers=headers)
    assert missing.status_code == 404


def test_levels_groups_and_group_sets(client: TestClient, conn: Connection) -> None:
    headers = imported(conn)
    levels = client.get("/api/organisationUnitLevels", headers=headers).json()["organisationUnitLevels"]
    assert [(lv["level"], lv["name"]) for lv in levels] == [
        (1, "National"),
        (2, "District"),
        (3, "Chiefdom"),
        (4, "Facility"),
    ]
    listed = client.get("/api/organisationUnitGroups", params={"fields": "id,code"}, headers=headers).json()
    assert listed["organisationUnitGroups"] == [
        {"id": "IViMsXfUyWn", "code": "IViMsXfUyWn"},
        {"id": "tMbbjys8mS6", "code": "TA_OU_GROUP"},
    ]
    group = client.get("/api/organisationUnitGroups/TA_OU_GROUP", headers=headers).json()
    assert group["id"] == "tMbbjys8mS6" and len(group["organisationUnits"]) == 5
    assert client.get("/api/organisationUnitGroups/NoSuchGrp01", headers=headers).status_code == 404
    sets = client.get("/api/organisationUnitGroupSets", headers=headers).json()["organisationUnitGroupSets"]
    assert [(s["id"], s["organisationUnitGroups"]) for s in sets] == [
        ("XcKGktFuGFj", [{"id": "IViMsXfUyWn"}])
    ]


def district(conn: Connection) -> dict[str, str]:
    small_tree(conn)
    make_unit(conn, "S3", parent="D2", name_en="Hidden School")
    groups.create_group(
        conn, principal=SYSTEM, code="G-MIX", name_zh="混", name_en="Mixed", members=["S1", "S2"]
    )
    return token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"]))


def test_a_district_user_reads_only_units_of_their_district(client: TestClient, conn: Connection) -> None:
    headers = district(conn)
    listed = client.get("/api/organisationUnits", params={"paging": "false"}, headers=headers).json()
    assert sorted(u["code"] for u in listed["organisationUnits"]) == ["D1", "S1"]
    assert client.get("/api/organisationUnits/D2", headers=headers).status_code == 404
    assert client.get("/api/organisationUnits/S2", headers=headers).status_code == 404
    assert client.get("/api/organisationUnits/S1", headers=headers).status_code == 200
    d1 = client.get("/api/organisationUnits/D1", headers=headers).json()
    sh = client.get("/api/organisationUnits/SH", headers=headers)
    assert sh.status_code == 404 and d1["parent"]["id"] == d1["path"].split("/")[1]  # SH only as D1's parent
    group = client.get("/api/organisationUnitGroups/G-MIX", headers=headers).json()
    s1 = client.get("/api/organisationUnits/S1", headers=headers).json()
    assert group["organisationUnits"] == [{"id": s1["id"]}]  # S2 is not shown
    searched: Any = client.get("/api/organisationUnits", params={"query": "Hidden"}, headers=headers).json()
    assert searched["organisationUnits"] == []


def test_org_unit_kinds_through_api_metadata_both_ways(client: TestClient, conn: Connection) -> None:
    headers = admin(conn)
    lists = bundle(SETUP)
    broken = {**lists, "organisationUnits": [dict(u) for u in lists["organisationUnits"]]}
    broken["organisationUnits"][2]["parent"] = {"id": "NoSuchUnit1"}
    refused = client.post("/api/metadata", json=broken, headers=headers)
    assert refused.status_code == 409
    assert [(p["row"], p["field"], p["value"]) for p in refused.json()["problems"]] == [
        (3, "organisationUnits[2].parent", "NoSuchUnit1")
    ]
    assert client.get("/api/organisationUnits", headers=headers).json()["pager"]["total"] == 0
    done = client.post("/api/metadata", json=lists, headers=headers)
    assert done.status_code == 200, done.text
    kinds = "organisationUnits,organisationUnitLevels,organisationUnitGroups"
    exported = client.get("/api/metadata", params={"kinds": kinds}, headers=headers).json()
    assert {(u["id"], (u.get("parent") or {}).get("id")) for u in exported["organisationUnits"]} == {
        (u["id"], (u.get("parent") or {}).get("id")) for u in lists["organisationUnits"]
    }
    assert {lv["id"] for lv in exported["organisationUnitLevels"]} == {
        lv["id"] for lv in lists["organisationUnitLevels"]
    }
    assert [g["id"] for g in exported["organisationUnitGroups"]] == ["tMbbjys8mS6"]
