"""The unit pages through the test client, on both databases: forms, scope, as-of dates, import."""

from __future__ import annotations

import datetime as dt
import re

from jiaowei.auth.model import SYSTEM
from jiaowei.registry import queries
from jiaowei.registry import service as registry
from tests.factories import login, make_unit, make_user, small_tree
from tests.pages_helpers import visible_text


def test_create_change_and_close_a_unit_through_the_forms(browser, conn):
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    created = browser.post("/units/new", follow_redirects=False, data={
        "csrf_token": csrf, "code": "S9", "name_zh": "徐汇区第九小学", "name_en": "Xuhui No. 9 Primary",
        "type": "primary_school", "ownership": "public", "sector": "education", "parent": "D1",
        "opened": "2019-09-01", "synthetic": "on", "attributes": '{"双一流": false}'})
    assert created.status_code == 303 and created.headers["location"] == "/units/S9?as_of=2019-09-01"
    changed = browser.post("/units/S9/edit", follow_redirects=False, data={
        "csrf_token": csrf, "effective": "2020-09-01", "name_zh": "徐汇区实验小学",
        "name_en": "Xuhui No. 9 Primary",
        "type": "primary_school", "ownership": "public", "sector": "education", "parent": "D2",
        "attributes": '{"双一流": false}', "note": "合并调整"})
    assert changed.status_code == 303
    closed = browser.post("/units/S9/close", follow_redirects=False,
                          data={"csrf_token": csrf, "effective": "2021-07-01", "note": "撤销"})
    assert closed.status_code == 303
    unit = queries.get_unit(conn, principal=SYSTEM, code="S9", as_of=dt.date(2020, 10, 1))
    assert unit.synthetic and unit.closed == dt.date(2021, 7, 1)
    assert [e.kind for e in unit.events] == ["open", "rename", "move", "close"]
    page = browser.get("/units/S9?as_of=2020-10-01&lang=zh_CN")
    assert "徐汇区实验小学" in page.text and "合成数据" in page.text and "调整隶属" in page.text


def test_a_bad_form_is_shown_again_with_each_problem_and_nothing_is_written(browser, conn):
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    response = browser.post("/units/new", data={
        "csrf_token": csrf, "code": "S1", "name_zh": "", "name_en": "Again", "type": "castle",
        "parent": "D1", "opened": "2020-01-01"})
    assert response.status_code == 422
    assert 'id="code" name="code" type="text" value="S1"' in response.text
    assert 'aria-invalid="true"' in response.text and "castle" in response.text
    refused = browser.post("/units/D1/close", data={"csrf_token": csrf, "effective": "2020-01-01"})
    assert refused.status_code == 422 and "S1" in refused.text
    assert queries.get_unit(conn, principal=SYSTEM, code="D1").closed is None


def test_a_district_user_cannot_change_a_unit_outside_their_district(browser, conn):
    small_tree(conn)
    make_user(conn, "district", role="district_staff", capture=["D1"])
    csrf = login(browser, "district")
    assert browser.get("/units/S2").status_code == 404
    refused = browser.post("/units/S2/close", data={"csrf_token": csrf, "effective": "2021-01-01"})
    assert refused.status_code == 404
    tree = browser.get("/units?lang=en")
    assert "/units/D1?" in tree.text and "/units/D2?" not in tree.text


def test_the_tree_follows_the_as_of_date(browser, conn):
    small_tree(conn)
    make_unit(conn, "S3", parent="D1", name_zh="将撤销的小学")
    registry.close_unit(conn, principal=SYSTEM, code="S3", effective=dt.date(2021, 7, 1))
    make_user(conn, "wang")
    login(browser, "wang")
    before = browser.get("/units", params={"as_of": "2021-06-30", "open": "SH,D1"})
    after = browser.get("/units", params={"as_of": "2021-07-01", "open": "SH,D1"})
    assert "将撤销的小学" in before.text and "将撤销的小学" not in after.text
    found = browser.get("/units", params={"q": "将撤销", "as_of": "2021-06-30"})
    assert "/units/S3?as_of=2021-06-30" in found.text


def test_import_with_a_bad_row_lists_it_and_imports_nothing(browser, conn):
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    data = ("code,name_zh,name_en,type,parent,valid_from\n"
            "N1,新小学,New School,primary_school,D1,2020-09-01\n"
            "N2,坏学校,Bad School,castle,D1,2020-09-01\n").encode()
    response = browser.post("/units/import", data={"csrf_token": csrf},
                            files={"file": ("units.csv", data, "text/csv")})
    assert response.status_code == 422
    text = visible_text(response.text)
    assert re.search(r"\b3\b.*type.*castle", text), text
    assert queries.list_units(conn, principal=SYSTEM, q="N1").total == 0
    good = browser.post("/units/import", data={"csrf_token": csrf, "dry_run": "on"},
                        files={"file": ("units.csv", data.split(b"N2,")[0], "text/csv")})
    assert good.status_code == 200 and queries.list_units(conn, principal=SYSTEM, q="N1").total == 0
