"""The audit page a person can read: changes field by field, filters, paging with counts, the chart,
and times in the commission's time zone (on both databases)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from jiaowei.audit import diff
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import BoundDatabase
from jiaowei.registry import service as registry
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.audit.tampering import rehash_from
from tests.factories import login, make_unit, make_user, small_tree, token_for


def visible(page: str) -> str:
    """The page's text without tags, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def rows(page: str) -> list[str]:
    """The text of each row of the entries table."""
    body = page[page.index("<tbody>", page.index('class="table audit"')) : page.index("</tbody>")]
    return [visible(row) for row in body.split("<tr")[1:]]


def set_time(conn: Connection, seq: int, at: str) -> None:
    """Give entry ``seq`` another time and re-hash the chain, so that it stays intact."""
    conn.execute(text("UPDATE audit_log SET at = :at WHERE seq = :seq"), {"at": at, "seq": seq})
    rehash_from(conn, seq)


def seq_of(conn: Connection, action: str, key: str) -> int:
    return int(conn.scalar(text("SELECT seq FROM audit_log WHERE action = :a AND entity_key = :k"),
                           {"a": action, "k": key}))


def test_a_rename_shows_the_field_with_its_old_and_new_value(browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    registry.change_unit(conn, principal=SYSTEM, code="S1", effective=dt.date(2020, 1, 1),
                         changes={"name_zh": "一号学校"})
    make_user(conn, "wang", role="commission_staff", capture=["SH"])
    login(browser, "wang")
    zh = browser.get("/audit", params={"entity": "unit", "key": "S1", "lang": "zh_CN"})
    renamed = rows(zh.text)[0]
    assert "unit.change" in renamed
    assert "中文名称 单位S1 → 一号学校" in renamed  # the label translated, old → new
    assert "时间（北京时间）" in zh.text  # the zone named in the column header
    assert '"name_zh"' not in zh.text  # no raw JSON of the change
    en = rows(browser.get("/audit", params={"entity": "unit", "key": "S1", "lang": "en"}).text)[0]
    assert "Chinese name 单位S1 → 一号学校" in en
    assert "Effective from" not in en  # a field that did not change is not listed
    opened = rows(browser.get("/audit", params={"key": "S2", "lang": "en"}).text)[0]
    assert "Parent unit D2" in opened and "→" not in opened  # a creation lists the new values
    user = rows(browser.get("/audit", params={"entity": "user", "lang": "zh_CN"}).text)[0]
    assert "启用 是" in user and "密码 •••" in user  # a boolean in words; a password never shown


def test_changes_field_by_field() -> None:
    found = diff.changes({"role": "viewer", "view": ["SH"], "password": "a"},
                         {"role": "administrator", "view": ["SH"], "password": "b", "active": True})
    assert [(c.path, c.old, c.new) for c in found] == [
        (("active",), None, "Yes"), (("password",), "•••", "•••"), (("role",), "viewer", "administrator")]
    nested = diff.changes({"attributes": {"普惠": False, "x": 1}}, {"attributes": {"普惠": True, "x": 1}})
    assert [(c.labels, c.old, c.new) for c in nested] == [(("Attributes", "普惠"), "No", "Yes")]
    assert [c.path for c in diff.changes(None, {"attributes": {}, "note": "", "code": "A"})] == [("code",)]
    folded = diff.changes(None, {"members": [f"310101-CC-{n:03d}" for n in range(20)]})
    assert folded[0].long and folded[0].old is None
    assert [(c.path, c.old, c.new) for c in diff.changes(["a"], ["a", "b"])] == [((), '["a"]', '["a", "b"]')]
    assert diff.changes({"a": 1}, {"a": 1}) == []


def test_the_filters_by_person_kind_and_unit(browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    wang = make_user(conn, "wang", role="administrator")
    registry.change_unit(conn, principal=wang, code="S1", effective=dt.date(2020, 1, 1),
                         changes={"name_zh": "一号学校"})
    login(browser, "wang")
    by_person = rows(browser.get("/audit", params={"actor": "wang", "lang": "en"}).text)
    assert len(by_person) == 1 and "unit.change" in by_person[0]
    users = rows(browser.get("/audit", params={"entity": "user", "lang": "en"}).text)
    assert len(users) == 1 and "user.create" in users[0] and "User" in users[0]
    about_s1 = rows(browser.get("/audit", params={"unit": "S1", "lang": "en"}).text)
    assert [r.split()[1] for r in about_s1] and len(about_s1) == 2  # its opening and its rename
    about_d1 = visible(browser.get("/audit", params={"unit": "D1", "lang": "en"}).text)
    assert "Showing 1–3 of 3." in about_d1  # D1 itself, and S1 twice: it names D1 as its parent
    none = browser.get("/audit", params={"unit": "S", "lang": "en"}).text
    assert "No entries match these filters." in none  # a code is matched whole, not as a prefix
    page = browser.get("/audit", params={"lang": "zh_CN"}).text
    assert '<option value="unit_group"' not in page and "单位 (unit)" in page  # the kinds, translated
    assert '<datalist id="audit-actors"><option value="system"><option value="wang">' in page
    unknown = browser.get("/audit", params={"entity": "nothing", "lang": "en"}).text
    assert '<option value="nothing" selected>' in unknown and "No entries match these filters." in unknown


def test_the_date_filter_counts_days_in_the_commissions_zone(browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    set_time(conn, seq_of(conn, "unit.open", "S1"), "2020-03-01T15:30:00.000000Z")  # 23:30 in Shanghai
    set_time(conn, seq_of(conn, "unit.open", "S2"), "2020-03-01T16:30:00.000000Z")  # 00:30 the next day
    make_user(conn, "wang")
    login(browser, "wang")
    first = rows(browser.get("/audit", params={"since": "2020-03-01", "until": "2020-03-01"}).text)
    assert len(first) == 1 and "S1" in first[0] and "2020-03-01 23:30:00" in first[0]
    second = rows(browser.get("/audit", params={"since": "2020-03-02", "until": "2020-03-02"}).text)
    assert len(second) == 1 and "S2" in second[0] and "2020-03-02 00:30:00" in second[0]
    both = browser.get("/audit", params={"until": "2020-03-02", "lang": "en"}).text
    assert len(rows(both)) == 2 and "When (Asia/Shanghai)" in both and "UTC" not in visible(both)
    chart = json.loads(html.unescape(re.search(r"data-chart='([^']*)'", both).group(1)))  # type: ignore[union-attr]
    assert chart["categories"] == ["2020-03-01", "2020-03-02"]
    assert chart["series"] == [{"name": "Unit", "stack": "all", "data": [1, 1]}]
    bad = browser.get("/audit", params={"since": "1 March", "lang": "en"}).text
    assert "A date is written YYYY-MM-DD" in bad and len(rows(bad)) >= 5
    headers = token_for(conn, make_user(conn, "api"))
    api = browser.get("/api/audit", headers=headers, params={"since": "2020-03-02", "until": "2020-03-02"})
    assert [e["entity_key"] for e in api.json()["items"]] == ["S2"]
    widest = browser.get("/api/audit", headers=headers, params={"since": "0001-01-01", "until": "9999-12-31"})
    everything = browser.get("/api/audit", headers=headers).json()["total"]
    assert widest.status_code == 200 and widest.json()["total"] == everything >= 7


@pytest.fixture
def berlin(db: BoundDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A client of an app whose commission is in Berlin (``JIAOWEI_TIME_ZONE``)."""
    monkeypatch.setenv("JIAOWEI_TIME_ZONE", "Europe/Berlin")
    settings = Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32)
    assert settings.time_zone == "Europe/Berlin"
    with TestClient(create_app(settings, database=db)) as client:
        client.headers["accept"] = "text/html"
        yield client


def test_times_follow_the_zone_that_is_set(berlin: TestClient, conn: Connection) -> None:
    small_tree(conn)
    set_time(conn, seq_of(conn, "unit.open", "S2"), "2020-03-01T16:30:00.000000Z")  # 17:30 in Berlin
    make_user(conn, "wang")
    login(berlin, "wang")
    page = berlin.get("/audit", params={"since": "2020-03-01", "until": "2020-03-01", "lang": "en"}).text
    assert "When (Europe/Berlin)" in page
    assert [r for r in rows(page) if "S2" in r][0].count("2020-03-01 17:30:00") == 1


def test_paging_counts(browser: TestClient, conn: Connection) -> None:
    for n in range(120):
        make_unit(conn, f"P{n:03d}")
    make_user(conn, "wang")
    login(browser, "wang")
    first = browser.get("/audit", params={"entity": "unit", "lang": "en"}).text
    assert "Showing 1–50 of 120." in visible(first) and len(rows(first)) == 50
    assert "P119" in rows(first)[0] and ">Oldest<" in first and ">Newer<" not in first
    last = browser.get("/audit", params={"entity": "unit", "offset": 100, "lang": "en"}).text
    assert "Showing 101–120 of 120." in visible(last) and len(rows(last)) == 20
    assert "P000" in rows(last)[-1] and ">Older<" not in last and ">Newest<" in last
    assert "entity=unit&amp;offset=50" in last  # the filters stay on the pager's links
    zh = browser.get("/audit", params={"entity": "unit", "offset": 50, "lang": "zh_CN"}).text
    assert "第 51–100 条，共 120 条。" in visible(zh)
