"""Unit groups and group sets: the service and /api/unitGroups, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest

from jiaowei.audit import service as audit
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import Conflict, NotFound, PermissionDenied, ValidationError
from jiaowei.registry import groups
from jiaowei.registry import service as registry
from tests.factories import make_unit, make_user, small_tree, token_for


@pytest.fixture
def api(client):
    return client


def two_district_group(conn) -> dict[str, str]:
    tree = small_tree(conn)
    groups.create_group(conn, principal=SYSTEM, code="G1", name_zh="示范校", name_en="Model schools",
                        members=["S1", "S2"])
    return tree


def test_group_lists_members_and_sets(conn):
    two_district_group(conn)
    groups.create_group_set(conn, principal=SYSTEM, code="SET1", name_zh="分类", name_en="Classes",
                            groups=["G1"])
    [group] = groups.list_groups(conn, principal=SYSTEM)
    assert group.code == "G1" and group.sets == ["SET1"]
    assert [m.code for m in group.members] == ["S1", "S2"] and group.member_count == 2
    assert groups.list_group_sets(conn, principal=SYSTEM) == [
        groups.GroupSet(code="SET1", name_zh="分类", name_en="Classes", groups=["G1"])]


def test_members_are_filtered_by_view_scope(conn):
    two_district_group(conn)
    district = make_user(conn, role="district_staff", capture=["D1"])
    group = groups.get_group(conn, principal=district, code="G1")
    assert [m.code for m in group.members] == ["S1"]
    stranger = make_user(conn, role="viewer")
    assert groups.get_group(conn, principal=stranger, code="G1").members == []


def test_members_are_shown_as_of_a_date(conn):
    two_district_group(conn)
    registry.close_unit(conn, principal=SYSTEM, code="S2", effective=dt.date(2020, 7, 1))
    before = groups.get_group(conn, principal=SYSTEM, code="G1", as_of=dt.date(2020, 6, 30))
    after = groups.get_group(conn, principal=SYSTEM, code="G1", as_of=dt.date(2020, 7, 1))
    assert [m.code for m in before.members] == ["S1", "S2"]
    assert [m.code for m in after.members] == ["S1"]


def test_add_and_remove_members_are_audited(conn):
    two_district_group(conn)
    make_unit(conn, "S3", parent="D1")
    assert groups.add_members(conn, principal=SYSTEM, code="G1", members=["S3", "S1"]) == (
        groups.MembersChanged(code="G1", added=["S3"]))
    assert groups.remove_members(conn, principal=SYSTEM, code="G1", members=["S2"]) == (
        groups.MembersChanged(code="G1", removed=["S2"]))
    assert [m.code for m in groups.get_group(conn, principal=SYSTEM, code="G1").members] == ["S1", "S3"]
    actions = [e.action for e in audit.history(conn, entity="unit_group", entity_key="G1")]
    assert actions == ["unit_group.remove", "unit_group.add", "unit_group.create"]
    assert audit.verify(conn).ok


def test_bad_input_names_the_field_and_value(conn):
    two_district_group(conn)
    with pytest.raises(ValidationError) as caught:
        groups.create_group(conn, principal=SYSTEM, code="G2", name_zh="x", name_en="x", members=["S1",
                                                                                                  "NOPE"])
    assert [(p.field, p.value) for p in caught.value.problems] == [("members", "NOPE")]
    with pytest.raises(ValidationError) as caught:
        groups.create_group(conn, principal=SYSTEM, code="bad code", name_zh="", name_en="x")
    assert {p.field for p in caught.value.problems} == {"code", "name_zh"}
    with pytest.raises(Conflict):
        groups.create_group(conn, principal=SYSTEM, code="G1", name_zh="x", name_en="x")
    with pytest.raises(ValidationError) as caught:
        groups.create_group_set(conn, principal=SYSTEM, code="S", name_zh="x", name_en="x", groups=["G9"])
    assert caught.value.problems[0].value == "G9"
    with pytest.raises(NotFound):
        groups.add_members(conn, principal=SYSTEM, code="G9", members=["S1"])


def test_writing_a_group_needs_every_member_in_scope(conn):
    two_district_group(conn)
    district = make_user(conn, role="district_staff", capture=["D1"])
    groups.create_group(conn, principal=district, code="D1-G", name_zh="区示范校",
                        name_en="District model schools", members=["S1"])
    with pytest.raises(PermissionDenied):
        groups.add_members(conn, principal=district, code="D1-G", members=["S2"])
    with pytest.raises(PermissionDenied):
        groups.add_members(conn, principal=district, code="G1", members=["S1"])
    with pytest.raises(PermissionDenied):
        groups.create_group(conn, principal=make_user(conn, role="viewer"), code="V", name_zh="x",
                            name_en="x")


def test_api_lists_groups_filtered_for_the_caller(api, conn):
    two_district_group(conn)
    groups.create_group_set(conn, principal=SYSTEM, code="SET1", name_zh="分类", name_en="Classes",
                            groups=["G1"])
    admin = token_for(conn, make_user(conn))
    district = token_for(conn, make_user(conn, role="district_staff", capture=["D2"]))
    listed = api.get("/api/unitGroups", headers=admin, params={"as_of": "2020-12-31"})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["as_of"] == "2020-12-31" and body["sets"][0]["groups"] == ["G1"]
    assert [m["code"] for m in body["items"][0]["members"]] == ["S1", "S2"]
    one = api.get("/api/unitGroups/G1", headers=district)
    assert one.status_code == 200 and [m["code"] for m in one.json()["members"]] == ["S2"]


def test_api_errors_are_problem_details(api, conn):
    headers = token_for(conn, make_user(conn))
    missing = api.get("/api/unitGroups/NOPE", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert api.get("/api/unitGroups").status_code == 401
    bad_date = api.get("/api/unitGroups", headers=headers, params={"as_of": "yesterday"})
    assert bad_date.status_code == 422 and bad_date.json()["problems"][0]["field"] == "as_of"


# ---------------------------------------------------------------- writing through the API


def test_api_creates_a_group_and_changes_its_members(api, conn):
    small_tree(conn)
    headers = token_for(conn, make_user(conn))
    created = api.post("/api/unitGroups", headers=headers, json={
        "code": "G1", "name_zh": "示范校", "name_en": "Model schools", "members": ["S1", "S2"]})
    assert created.status_code == 201, created.text
    assert [m["code"] for m in created.json()["members"]] == ["S1", "S2"]
    changed = api.post("/api/unitGroups/G1/members", headers=headers,
                       json={"add": ["D1", "S1"], "remove": ["S2"], "note": "调整"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["added"] == ["D1"] and body["removed"] == ["S2"]
    assert [m["code"] for m in body["members"]] == ["D1", "S1"]
    actions = [e.action for e in audit.history(conn, entity="unit_group", entity_key="G1")]
    assert actions == ["unit_group.remove", "unit_group.add", "unit_group.create"]
    made = api.post("/api/unitGroupSets", headers=headers,
                    json={"code": "SET1", "name_zh": "分类", "name_en": "Classes", "groups": ["G1"]})
    assert made.status_code == 201 and made.json() == {"code": "SET1", "groups": ["G1"]}
    sets = api.get("/api/unitGroupSets", headers=headers).json()["items"]
    assert sets == [{"code": "SET1", "name_zh": "分类", "name_en": "Classes", "groups": ["G1"]}]


def test_api_refuses_a_group_with_another_districts_unit(api, conn):
    small_tree(conn)
    headers = token_for(conn, make_user(conn, role="district_staff", capture=["D1"]))
    body = {"code": "G1", "name_zh": "区示范校", "name_en": "District model schools"}
    refused = api.post("/api/unitGroups", headers=headers, json={**body, "members": ["S1", "S2"]})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert groups.list_groups(conn, principal=SYSTEM) == []
    assert api.post("/api/unitGroups", headers=headers, json={**body, "members": ["S1"]}).status_code == 201
    added = api.post("/api/unitGroups/G1/members", headers=headers, json={"add": ["S2"]})
    assert added.status_code == 403
    assert [m.code for m in groups.get_group(conn, principal=SYSTEM, code="G1").members] == ["S1"]
    viewer = token_for(conn, make_user(conn, role="viewer"))
    assert api.post("/api/unitGroups", headers=viewer, json={**body, "code": "G2"}).status_code == 403


def test_api_bad_member_code_is_422_naming_the_value(api, conn):
    small_tree(conn)
    headers = token_for(conn, make_user(conn))
    bad = api.post("/api/unitGroups", headers=headers, json={
        "code": "G1", "name_zh": "组", "name_en": "Group", "members": ["S1", "NOPE"]})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert [(p["field"], p["value"]) for p in bad.json()["problems"]] == [("members", "NOPE")]
    api.post("/api/unitGroups", headers=headers, json={"code": "G1", "name_zh": "组", "name_en": "Group"})
    add = api.post("/api/unitGroups/G1/members", headers=headers, json={"add": ["ZZZ"]})
    assert add.status_code == 422 and add.json()["problems"][0]["value"] == "ZZZ"
    both = api.post("/api/unitGroups/G1/members", headers=headers, json={"add": ["S1"], "remove": ["S1"]})
    assert both.status_code == 422 and both.json()["problems"][0]["value"] == "S1"
    assert api.post("/api/unitGroups/G1/members", headers=headers, json={}).status_code == 422
    extra = api.post("/api/unitGroups/G1/members", headers=headers, json={"add": ["S1"], "colour": "red"})
    assert extra.status_code == 422 and extra.json()["problems"][0]["field"] == "colour"
    again = api.post("/api/unitGroups", headers=headers, json={"code": "G1", "name_zh": "x", "name_en": "x"})
    assert again.status_code == 409
    missing = api.post("/api/unitGroups/G9/members", headers=headers, json={"add": ["S1"]})
    assert missing.status_code == 404
    bad_set = api.post("/api/unitGroupSets", headers=headers,
                       json={"code": "SET1", "name_zh": "x", "name_en": "x", "groups": ["G9"]})
    assert bad_set.status_code == 422 and bad_set.json()["problems"][0]["value"] == "G9"
