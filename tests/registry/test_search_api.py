"""The unit picker's search and browsing (/api/unit-search), through the API on both databases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.factories import make_unit, make_user, token_for

SEARCH = "/api/unit-search"


@pytest.fixture
def tree(conn: Connection) -> None:
    """The commission, 黄浦 and 长宁 districts, two schools in each (namesakes across districts)."""
    for code, parent, kind, name_zh, name_en in (
        ("SH", None, "commission", "上海市教育委员会", "Shanghai Education Commission"),
        ("HP", "SH", "district_bureau", "黄浦区教育局", "Huangpu Bureau"),
        ("CN", "SH", "district_bureau", "长宁区教育局", "Changning Bureau"),
        ("HP01", "HP", "primary_school", "黄浦区第一中心小学", "Huangpu Central Primary No. 1"),
        ("HP02", "HP", "primary_school", "黄浦区实验小学", "Huangpu Experimental Primary"),
        ("CN01", "CN", "primary_school", "长宁区第一中心小学", "Changning Central Primary No. 1"),
        ("CN02", "CN", "primary_school", "长宁区实验小学", "Changning Experimental Primary"),
    ):
        make_unit(conn, code, parent=parent, type=kind, name_zh=name_zh, name_en=name_en)


def codes(client: TestClient, headers: dict[str, str], **params: object) -> list[str]:
    response = client.get(SEARCH, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [u["code"] for u in response.json()["items"]]


def test_pinyin_initials_find_a_unit_by_its_chinese_name(
    client: TestClient, conn: Connection, tree: None
) -> None:
    admin = token_for(conn, make_user(conn))
    assert codes(client, admin, q="hpq") == ["HP", "HP01", "HP02"]
    assert codes(client, admin, q="HPQSY") == ["HP02"]  # 黄浦区实验小学, whatever the case
    # 长 reads chang or zhang: its initials are c as well as z
    assert codes(client, admin, q="cnqjyj") == ["CN"]
    # initials inside the name: 第一中心小学 in both districts
    assert codes(client, admin, q="dyzx") == ["CN01", "HP01"]


def test_code_and_names_match_best_first(client: TestClient, conn: Connection, tree: None) -> None:
    admin = token_for(conn, make_user(conn))
    assert codes(client, admin, q="hp01") == ["HP01"]
    assert codes(client, admin, q="HP")[:1] == ["HP"]  # the code itself first, then codes beginning so
    assert codes(client, admin, q="实验") == ["CN02", "HP02"]
    assert codes(client, admin, q="experimental") == ["CN02", "HP02"]
    assert codes(client, admin, q="no such unit") == []
    found = client.get(SEARCH, params={"q": "实验", "limit": 1}, headers=admin).json()
    assert found["total"] == 2 and len(found["items"]) == 1
    item = found["items"][0]
    assert item["parent"] == "CN" and item["parent_name_zh"] == "长宁区教育局" and item["children"] == 0


def test_search_sees_only_the_scope(client: TestClient, conn: Connection, tree: None) -> None:
    district = token_for(conn, make_user(conn, role="district_staff", capture=["HP"]))
    reporter = token_for(conn, make_user(conn, role="unit_reporter", capture=["CN02"]))
    assert codes(client, district, q="dyzx") == ["HP01"]
    assert codes(client, district, q="CN") == []
    assert codes(client, district, q="长宁") == []
    assert codes(client, district, q="changning") == []
    assert codes(client, reporter, q="xx") == ["CN02"]
    assert codes(client, reporter, q="sy") == ["CN02"]
    response = client.get(SEARCH, params={"q": "hp"}, headers=reporter)
    assert response.json()["total"] == 0


def test_browsing_the_tree_within_the_scope(client: TestClient, conn: Connection, tree: None) -> None:
    admin = token_for(conn, make_user(conn))
    district = token_for(conn, make_user(conn, role="district_staff", capture=["HP"]))
    top = client.get(f"{SEARCH}/children", headers=admin).json()
    assert [(u["code"], u["children"]) for u in top["items"]] == [("SH", 2)]
    below = client.get(f"{SEARCH}/children", params={"parent": "SH"}, headers=admin).json()["items"]
    assert [u["code"] for u in below] == ["CN", "HP"]
    assert below[0]["parent_name_zh"] == "上海市教育委员会"
    mine = client.get(f"{SEARCH}/children", headers=district).json()["items"]
    assert [(u["code"], u["children"]) for u in mine] == [("HP", 2)]
    schools = client.get(f"{SEARCH}/children", params={"parent": "HP"}, headers=district).json()["items"]
    assert [u["code"] for u in schools] == ["HP01", "HP02"]
    assert client.get(f"{SEARCH}/children", params={"parent": "CN"}, headers=district).status_code == 404


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "   "}, {"q": "x" * 65}, {"q": "a\x00b"},
                                    {"q": "hp", "limit": 0}, {"q": "hp", "limit": 51}, {}])
def test_a_bad_search_answers_422_saying_what_is_expected(
    client: TestClient, conn: Connection, tree: None, params: dict[str, object]
) -> None:
    admin = token_for(conn, make_user(conn))
    response = client.get(SEARCH, params=params, headers=admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    fields = {p.get("field") for p in problem.get("problems", problem.get("errors", []))}
    assert fields & {"q", "limit"}, problem


def test_a_wildcard_is_searched_as_itself(client: TestClient, conn: Connection, tree: None) -> None:
    admin = token_for(conn, make_user(conn))
    assert codes(client, admin, q="%") == []
    assert codes(client, admin, q="_") == []


def test_the_search_needs_a_login(client: TestClient, tree: None) -> None:
    assert client.get(SEARCH, params={"q": "hp"}).status_code == 401
