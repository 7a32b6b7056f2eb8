"""Navigation by role: each role sees the modules it uses, and the registry's write forms answer 403
(an error page in the user's language) to those who may not write the registry."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.factories import login, make_user, small_tree

ROLES = {
    "viewer": {"view": ["SH"]},
    "unit_reporter": {"capture": ["S1"]},
    "district_staff": {"capture": ["D1"]},
    "commission_staff": {"capture": ["SH"]},
}
REGISTRY_WRITES = ("/units/import", "/groups")
DATA_WORK = ("/quality/validation", "/data/approval")


def session(client: TestClient, conn: Connection, role: str) -> TestClient:
    small_tree(conn)
    make_user(conn, f"a_{role}", role=role, **ROLES[role])  # type: ignore[arg-type]
    client.headers["accept"] = "text/html"
    login(client, f"a_{role}")
    return client


def navigation(client: TestClient) -> list[str]:
    home = client.get("/", params={"lang": "en"}).text
    nav = home[home.index('class="site-nav"') :]
    return re.findall(r'href="([^"]+)"', nav[: nav.index("</nav>")])


@pytest.mark.parametrize("role", ["viewer", "unit_reporter"])
def test_viewers_and_reporters_see_neither_import_nor_groups(
    client: TestClient, conn: Connection, role: str
) -> None:
    links = navigation(session(client, conn, role))
    assert "/units" in links and "/data/entry" in links
    assert not set(REGISTRY_WRITES) & set(links)
    assert not set(DATA_WORK) & set(links)  # they neither approve nor review data quality
    assert ("/data/my-forms" in links) is (role == "unit_reporter")


@pytest.mark.parametrize("role", ["district_staff", "commission_staff"])
def test_staff_see_import_groups_quality_approval_and_their_forms(
    client: TestClient, conn: Connection, role: str
) -> None:
    links = navigation(session(client, conn, role))
    assert {*REGISTRY_WRITES, *DATA_WORK, "/data/my-forms"} <= set(links)
    assert links.index("/data/my-forms") < links.index("/data/entry") < links.index("/data/approval")


@pytest.mark.parametrize("role", ["viewer", "unit_reporter"])
@pytest.mark.parametrize("url", ["/units/new", "/units/import", "/groups/new"])
def test_the_registry_forms_are_forbidden_to_those_who_may_not_write_it(
    client: TestClient, conn: Connection, role: str, url: str
) -> None:
    browser = session(client, conn, role)
    zh = browser.get(url, params={"lang": "zh_CN"})
    assert zh.status_code == 403 and "无权操作" in zh.text and 'name="code"' not in zh.text
    assert re.search(r'<p class="lead">[^<]*[\u4e00-\u9fff]', zh.text)  # the reason, in Chinese too
    en = browser.get(url, params={"lang": "en"})
    assert en.status_code == 403 and "Permission denied" in en.text


def test_district_staff_open_the_registry_forms(client: TestClient, conn: Connection) -> None:
    browser = session(client, conn, "district_staff")
    assert all(browser.get(url).status_code == 200 for url in ("/units/new", "/units/import", "/groups/new"))
