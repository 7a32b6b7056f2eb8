"""Dashboards on both databases: the API's CRUD and its errors, who may see and change what, the
pages that save and arrange items, and each role's home page."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.audit import service as audit
from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.approval import service as approval
from jiaowei.indicators.targets import service as targets
from tests.factories import indicator_setup, login, make_user, token_for
from tests.pages_helpers import visible_text

VALUES = [
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "M", "value": "120"},
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "F", "value": "110"},
    {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "10"},
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S2", "categoryOptionCombo": "M", "value": "50"},
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S2", "categoryOptionCombo": "F", "value": "40"},
    {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S2", "value": "10"},
]
PIVOT = "dimension=dx:PUPILS&dimension=ou:SH;D1;D2&filter=pe:2020"
PIVOT_D1 = "dimension=dx:PUPILS&dimension=ou:D1&filter=pe:2020"


@dataclass
class World:
    conn: Connection
    client: TestClient
    admin: dict[str, str]
    district: dict[str, str]
    viewer: dict[str, str]
    other: dict[str, str]


@pytest.fixture
def world(client: TestClient, conn: Connection) -> World:
    """The small tree (SH → D1, D2 → S1, S2) with 2020 values (pupils per teacher: SH 16, D1 23,
    D2 9), a 2020 target of 15 at SH (met), and tokens for an administrator, a D1 district user and
    two viewers of the whole tree."""
    indicator_setup(conn)
    admin = token_for(conn, make_user(conn, "boss"))
    response = client.post("/api/dataValueSets", content=json.dumps({"dataValues": VALUES}).encode(),
                           headers=admin)
    assert response.status_code == 200, response.text
    targets.set_target(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020", value=15.0,
                       at_risk_margin=1.0)
    return World(conn, client, admin,
                 token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"])),
                 token_for(conn, make_user(conn, "watcher", role="viewer", view=["SH"])),
                 token_for(conn, make_user(conn, "someone", role="viewer", view=["SH"])))


def call(world: World, method: str, url: str, headers: dict[str, str], status: int, body: Any = None) -> Any:
    response = world.client.request(method, url, json=body, headers=headers)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    return response.json() if response.content else None


def problems(body: dict[str, Any]) -> set[tuple[str, Any]]:
    return {(p.get("field"), p.get("value")) for p in body.get("problems", [])}


# ---------------------------------------------------------------- the API


def test_dashboards_are_created_read_renamed_and_deleted(world: World) -> None:
    made = call(world, "POST", "/api/dashboards", world.viewer, 201,
                {"code": "MY_BOARD", "name_zh": "我的看板", "name_en": "My board"})
    uid = made["id"]
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{10}", uid)
    assert (made["code"], made["owner"], made["home"], made["editable"], made["dashboardItems"]) == (
        "MY_BOARD", "watcher", False, True, [])
    assert call(world, "GET", "/api/dashboards/MY_BOARD", world.viewer, 200)["id"] == uid
    listed = call(world, "GET", "/api/dashboards", world.viewer, 200)["dashboards"]
    assert [d["id"] for d in listed] == [uid]
    renamed = call(world, "PUT", f"/api/dashboards/{uid}", world.viewer, 200, {"name_en": "Board"})
    assert (renamed["name_zh"], renamed["name_en"]) == ("我的看板", "Board")
    call(world, "DELETE", f"/api/dashboards/{uid}", world.viewer, 204)
    call(world, "GET", f"/api/dashboards/{uid}", world.viewer, 404)
    actions = [e.action for e in audit.history(world.conn, entity="dashboard", entity_key=uid)]
    assert actions == ["dashboard.delete", "dashboard.update", "dashboard.create"]


def test_items_are_added_moved_changed_and_removed(world: World) -> None:
    board = {"name_zh": "看板", "name_en": "Board"}
    uid = call(world, "POST", "/api/dashboards", world.admin, 201, board)["id"]
    pivot = call(world, "POST", f"/api/dashboards/{uid}/items", world.admin, 201,
                 {"kind": "pivot", "query": f"/analytics?{PIVOT}", "title": "Pupils"})
    assert (pivot["kind"], pivot["query"], pivot["position"], pivot["width"]) == ("pivot", PIVOT, 1, "half")
    tile = call(world, "POST", f"/api/dashboards/{uid}/items", world.admin, 201,
                {"kind": "indicator", "indicator": "PTR", "orgUnit": "SH", "period": "2020", "width": "full"})
    chart = call(world, "POST", f"/api/dashboards/{uid}/items", world.admin, 201,
                 {"kind": "chart", "query": PIVOT, "chartType": "line"})
    moved = call(world, "PUT", f"/api/dashboards/{uid}/items/{chart['id']}", world.admin, 200,
                 {"position": 1, "title": "Pupils over units"})
    assert (moved["position"], moved["title"], moved["chartType"]) == (1, "Pupils over units", "line")
    items = call(world, "GET", f"/api/dashboards/{uid}", world.admin, 200)["dashboardItems"]
    assert [i["id"] for i in items] == [chart["id"], pivot["id"], tile["id"]]
    assert [i["position"] for i in items] == [1, 2, 3]
    call(world, "DELETE", f"/api/dashboards/{uid}/items/{pivot['id']}", world.admin, 204)
    items = call(world, "GET", f"/api/dashboards/{uid}", world.admin, 200)["dashboardItems"]
    assert [(i["id"], i["kind"]) for i in items] == [(chart["id"], "chart"), (tile["id"], "indicator")]
    call(world, "DELETE", f"/api/dashboards/{uid}/items/{pivot['id']}", world.admin, 404)


def test_the_first_item_saved_to_home_makes_the_home_dashboard(world: World) -> None:
    call(world, "GET", "/api/dashboards/home", world.district, 404)
    call(world, "POST", "/api/dashboards/home/items", world.district, 201,
         {"kind": "indicator", "indicator": "PTR", "orgUnit": "D1", "period": "2020"})
    call(world, "POST", "/api/dashboards/home/items", world.district, 201,
         {"kind": "pivot", "query": PIVOT_D1})
    home = call(world, "GET", "/api/dashboards/home", world.district, 200)
    assert (home["home"], home["owner"], len(home["dashboardItems"])) == (True, "d1staff", 2)
    assert len(call(world, "GET", "/api/dashboards", world.district, 200)["dashboards"]) == 1


@pytest.mark.parametrize(("body", "expected"), [
    ({"kind": "map", "query": PIVOT}, {("kind", "map")}),
    ({"kind": "pivot", "query": PIVOT_D1, "width": "huge"}, {("width", "huge")}),
    ({"kind": "chart", "query": PIVOT_D1, "chartType": "radar"}, {("chartType", "radar")}),
    ({"kind": "indicator", "indicator": "NOPE", "orgUnit": "D1", "period": "2020"}, {("indicator", "NOPE")}),
    ({"kind": "indicator", "indicator": "PTR", "orgUnit": "D2", "period": "2020"}, {("orgUnit", "D2")}),
    ({"kind": "indicator", "indicator": "PTR", "orgUnit": "D1", "period": "2020-13"},
     {("period", "2020-13")}),
])
def test_a_bad_item_is_refused_naming_its_field_and_value(world: World, body: dict[str, Any],
                                                          expected: set[tuple[str, Any]]) -> None:
    refused = call(world, "POST", "/api/dashboards/home/items", world.district, 422, body)
    assert problems(refused) == expected
    call(world, "GET", "/api/dashboards/home", world.district, 404)  # nothing was written


def test_a_pivot_item_needs_a_query_the_analytics_api_would_take(world: World) -> None:
    empty = call(world, "POST", "/api/dashboards/home/items", world.admin, 422, {"kind": "pivot"})
    assert {f for f, _ in problems(empty)} == {"query"}
    bad = call(world, "POST", "/api/dashboards/home/items", world.admin, 422,
               {"kind": "pivot", "query": "dimension=dx:PUPILS&aggregationType=MEDIAN"})
    assert ("query", "aggregationType=MEDIAN") in problems(bad)
    outside = call(world, "POST", "/api/dashboards/home/items", world.district, 422, {"kind": "pivot",
                                                                                      "query": PIVOT})
    assert {f for f, _ in problems(outside)} == {"query"} and "D2" in json.dumps(outside["problems"])


def test_bad_dashboards_are_refused_naming_their_field(world: World) -> None:
    bad = call(world, "POST", "/api/dashboards", world.admin, 422, {"code": "no spaces", "name_zh": " ",
                                                                    "name_en": "ok"})
    assert problems(bad) == {("code", "no spaces"), ("name_zh", " ")}
    call(world, "POST", "/api/dashboards", world.admin, 201,
         {"code": "TAKEN", "name_zh": "甲", "name_en": "A"})
    taken = call(world, "POST", "/api/dashboards", world.admin, 409, {"code": "TAKEN", "name_zh": "乙",
                                                                      "name_en": "B"})
    assert problems(taken) == {("code", "TAKEN")}
    role = call(world, "POST", "/api/dashboards", world.admin, 422, {"name_zh": "甲", "name_en": "A",
                                                                     "role": "king"})
    assert problems(role) == {("role", "king")}


# ---------------------------------------------------------------- who may see and change what


def test_nobody_sees_or_changes_another_users_dashboard(world: World) -> None:
    uid = call(world, "POST", "/api/dashboards", world.viewer, 201,
               {"name_zh": "私有", "name_en": "Mine"})["id"]
    item = call(world, "POST", f"/api/dashboards/{uid}/items", world.viewer, 201,
                {"kind": "pivot", "query": PIVOT})["id"]
    for headers in (world.other, world.admin):
        call(world, "GET", f"/api/dashboards/{uid}", headers, 404)
        call(world, "PUT", f"/api/dashboards/{uid}", headers, 404, {"name_en": "Taken over"})
        call(world, "POST", f"/api/dashboards/{uid}/items", headers, 404, {"kind": "pivot", "query": PIVOT})
        call(world, "PUT", f"/api/dashboards/{uid}/items/{item}", headers, 404, {"position": 1})
        call(world, "DELETE", f"/api/dashboards/{uid}/items/{item}", headers, 404)
        call(world, "DELETE", f"/api/dashboards/{uid}", headers, 404)
        assert call(world, "GET", "/api/dashboards", headers, 200)["dashboards"] == []
    mine = call(world, "GET", f"/api/dashboards/{uid}", world.viewer, 200)
    assert (mine["name_en"], len(mine["dashboardItems"])) == ("Mine", 1)


def test_shared_dashboards_are_read_by_those_meant_and_changed_by_metadata_writers(world: World) -> None:
    shared = call(world, "POST", "/api/dashboards", world.admin, 201,
                  {"name_zh": "全市", "name_en": "City", "shared": True})
    for_viewers = call(world, "POST", "/api/dashboards", world.admin, 201,
                       {"name_zh": "查看", "name_en": "Viewers", "role": "viewer"})
    for_d2 = call(world, "POST", "/api/dashboards", world.admin, 201,
                  {"name_zh": "二区", "name_en": "D2 board", "orgUnit": "D2"})
    listed = call(world, "GET", "/api/dashboards", world.viewer, 200)["dashboards"]
    seen = {d["id"]: d["editable"] for d in listed}
    assert seen == {shared["id"]: False, for_viewers["id"]: False, for_d2["id"]: False}
    district = {d["id"] for d in call(world, "GET", "/api/dashboards", world.district, 200)["dashboards"]}
    assert district == {shared["id"]}
    call(world, "GET", f"/api/dashboards/{for_d2['id']}", world.district, 404)
    refused = call(world, "PUT", f"/api/dashboards/{shared['id']}", world.viewer, 403,
                   {"name_en": "Mine now"})
    assert refused["title"] == "Permission denied"
    call(world, "POST", f"/api/dashboards/{shared['id']}/items", world.viewer, 403, {"kind": "pivot",
                                                                                     "query": PIVOT})
    call(world, "POST", "/api/dashboards", world.viewer, 403,
         {"name_zh": "甲", "name_en": "A", "shared": True})
    call(world, "POST", f"/api/dashboards/{shared['id']}/items", world.admin, 201, {"kind": "pivot",
                                                                                    "query": PIVOT})
    items = call(world, "GET", f"/api/dashboards/{shared['id']}", world.viewer, 200)["dashboardItems"]
    assert len(items) == 1
    keeper = token_for(world.conn, make_user(world.conn, "keeper", role="commission_staff", view=["SH"]))
    kept = {d["id"]: d["editable"] for d in call(world, "GET", "/api/dashboards", keeper, 200)["dashboards"]}
    assert kept == {shared["id"]: True, for_viewers["id"]: True, for_d2["id"]: True}
    call(world, "PUT", f"/api/dashboards/{for_viewers['id']}", keeper, 200, {"name_en": "For viewers"})


# ---------------------------------------------------------------- pages


def page_client(world: World, username: str, lang: str = "en") -> tuple[TestClient, str]:
    session = TestClient(world.client.app)
    session.headers["accept"] = "text/html"
    csrf = login(session, username)
    session.cookies.set("jiaowei_lang", lang)
    return session, csrf


def test_saving_a_pivot_to_home_shows_it_on_the_home_page(world: World) -> None:
    session, csrf = page_client(world, "boss")
    saved = session.post("/dashboards/items", follow_redirects=False, data={
        "csrf_token": csrf, "dashboard": "home", "kind": "pivot", "query": f"/analytics?{PIVOT}",
        "title": "Pupils by district"})
    assert (saved.status_code, saved.headers["location"]) == (303, "/")
    chart = session.post("/dashboards/items", follow_redirects=False, data={
        "csrf_token": csrf, "dashboard": "home", "kind": "chart", "query": PIVOT, "chart_type": "bar",
        "title": "Pupils as bars", "next": "/dashboards"})
    assert chart.headers["location"] == "/dashboards"
    home = session.get("/")
    text = visible_text(home.text)
    assert "My saved items" in text and "Pupils by district" in text and "Pupils as bars" in text
    assert re.search(r"Commission 320 .*Unit D1 230 .*Unit D2 90", text), text
    assert 'data-chart=' in home.text and "/static/vendor/echarts/echarts.min.js" in home.text


def test_items_are_reordered_and_removed_on_the_dashboard_page(world: World) -> None:
    session, csrf = page_client(world, "watcher")
    board = session.post("/dashboards", follow_redirects=False,
                         data={"csrf_token": csrf, "name_zh": "看板", "name_en": "Board"})
    url = board.headers["location"]
    uid = url.rsplit("/", 1)[1]
    for title in ("First", "Second"):
        added = session.post("/dashboards/items", follow_redirects=False, data={
            "csrf_token": csrf, "dashboard": uid, "kind": "indicator", "indicator": "PTR", "ou": "SH",
            "pe": "2020", "title": title})
        assert added.headers["location"] == url
    page = session.get(url)
    assert page.status_code == 200
    text = visible_text(page.text)
    assert text.index("First") < text.index("Second")
    assert "16.0" in text and "Target: 15.0" in text and "Met" in text
    second = re.findall(r'id="item-([A-Za-z0-9]{11})"', page.text)[1]
    moved = session.post(f"{url}/items/{second}/move", follow_redirects=False,
                         data={"csrf_token": csrf, "direction": "up"})
    assert moved.status_code == 303
    text = visible_text(session.get(url).text)
    assert text.index("Second") < text.index("First")
    removed = session.post(f"{url}/items/{second}/remove", follow_redirects=False, data={"csrf_token": csrf})
    assert removed.status_code == 303
    text = visible_text(session.get(url).text)
    assert "Second" not in text and "First" in text
    other, _ = page_client(world, "someone")
    assert other.get(url).status_code == 404


def test_a_bad_item_from_the_form_is_shown_with_its_field(world: World) -> None:
    session, csrf = page_client(world, "watcher")
    refused = session.post("/dashboards/items", data={
        "csrf_token": csrf, "dashboard": "home", "kind": "indicator", "indicator": "PTR", "ou": "NOWHERE",
        "pe": "2020"})
    assert refused.status_code == 422
    assert "NOWHERE" in visible_text(refused.text)


# ---------------------------------------------------------------- each role's home page


def test_the_commissions_home_page_shows_its_indicators_against_target(world: World) -> None:
    session, _ = page_client(world, "boss")
    home = session.get("/")
    text = visible_text(home.text)
    assert "Commission: the 2020 dashboard" in text
    assert re.search(r"Pupils per teacher 16\.0 .*Target: 15\.0 ✓ Met", text), text
    chart = json.loads(re.search(r"data-chart='([^']+)'", home.text).group(1))  # type: ignore[union-attr]
    assert chart["categories"] == ["Unit D1", "Unit D2"] and chart["series"][0]["data"] == [23.0, 9.0]
    assert "Coming soon" not in text and "Unit registry" in text


def test_a_districts_home_page_shows_its_indicators_and_its_schools_forms(world: World) -> None:
    session, _ = page_client(world, "d1staff")
    text = visible_text(session.get("/").text)
    assert "Unit D1: indicators and forms, 2020" in text
    assert "Pupils per teacher 23.0" in text
    assert re.search(r"School annual 2020 2021-01-15 1 1 \(100\.0%\) \d \(\d+\.0%\) 0", text), text
    assert "Unit D2" not in text and "Commission:" not in text


def test_a_schools_home_page_shows_its_forms_due_late_and_returned(world: World) -> None:
    make_user(world.conn, "s1rep", role="unit_reporter", capture=["S1"])
    make_user(world.conn, "s2rep", role="unit_reporter", capture=["S2"])
    approval.approve(world.conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1")
    approval.unapprove(world.conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1",
                       reason="请核对教师数")
    session, _ = page_client(world, "s1rep")
    text = visible_text(session.get("/").text)
    assert "Unit S1: your forms" in text
    assert re.search(r"School annual 2020 2021-01-15 ↩ Returned 请核对教师数", text), text
    other, _ = page_client(world, "s2rep")
    text = visible_text(other.get("/").text)
    assert re.search(r"School annual 2020 2021-01-15 ✓ Complete(, late)? ", text), text
    assert "Returned" not in text
