"""The work list ("My forms", 我的报表) through its API and page, on both databases."""

from __future__ import annotations

import datetime as dt
import json
import re

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.approval import service as approval
from tests.factories import indicator_setup, login, make_unit, make_user, token_for
from tests.statements import counting

MY_FORMS = "/api/myForms"
DS = {"data_set": "SCHOOL_Y", "period": "2020"}


def lines(client: TestClient, heads: dict[str, str], **params: str) -> list[dict[str, object]]:
    answer = client.get(MY_FORMS, headers=heads, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def shown(items: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(i["status"], i["period"], i["unit"]) for i in items]


def test_a_reporter_sees_a_due_form_of_the_current_period_and_a_late_one_of_the_last(
    client: TestClient, conn: Connection
) -> None:
    indicator_setup(conn)
    heads = token_for(conn, make_user(conn, role="unit_reporter", capture=["S1"]))
    found = lines(client, heads, as_of="2021-01-10")  # 2020 is due on 2021-01-15, 2021 in 2022
    assert shown(found) == [("due", "2020", "S1"), ("due", "2021", "S1")]
    assert found[0]["href"] == "/data/entry?ds=SCHOOL_Y&pe=2020&ou=S1" and found[0]["due"] == "2021-01-15"
    late = lines(client, heads, as_of="2021-02-01")
    assert shown(late) == [("late", "2020", "S1"), ("due", "2021", "S1")]


def test_a_sent_form_waits_for_approval_then_is_approved_or_sent_back(
    client: TestClient, conn: Connection
) -> None:
    indicator_setup(conn)
    heads = token_for(conn, make_user(conn, role="unit_reporter", capture=["S1"]))
    completeness.complete(conn, principal=SYSTEM, **DS, unit="S1")
    assert shown(lines(client, heads, as_of="2021-02-01"))[-1] == ("waiting", "2020", "S1")
    approval.approve(conn, principal=SYSTEM, **DS, unit="S1")
    assert ("approved", "2020", "S1") in shown(lines(client, heads, as_of="2021-02-01"))
    approval.unapprove(conn, principal=SYSTEM, **DS, unit="S1", reason="recount the pupils")
    back = lines(client, heads, as_of="2021-02-01")
    assert shown(back)[0] == ("returned", "2020", "S1") and back[0]["reason"] == "recount the pupils"
    answer = client.get(MY_FORMS, headers=heads, params={"as_of": "2021-02-01", "status": "returned"}).json()
    assert shown(answer["items"]) == [("returned", "2020", "S1")]
    assert answer["counts"] == {"returned": 1, "due": 1}


def test_a_district_sees_the_schools_waiting_for_its_approval(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    completeness.complete(conn, principal=SYSTEM, **DS, unit="S1")
    district = token_for(conn, make_user(conn, role="district_staff", capture=["D1"]))
    found = lines(client, district, as_of="2021-02-01")
    assert [(i["status"], i["unit"], i["waiting"]) for i in found] == [("approve", "D1", 1)]
    assert found[0]["href"] == "/data/approval?ds=SCHOOL_Y&pe=2020&ou=D1"
    other = token_for(conn, make_user(conn, role="district_staff", capture=["D2"]))
    assert lines(client, other, as_of="2021-02-01") == []  # nothing of D2 waits, D1's school is not D2's


def test_a_viewer_has_an_empty_work_list_and_a_bad_status_is_refused(
    client: TestClient, conn: Connection
) -> None:
    indicator_setup(conn)
    viewer = token_for(conn, make_user(conn, role="viewer", view=["SH"]))
    assert client.get(MY_FORMS, headers=viewer).json()["items"] == []
    refused = client.get(MY_FORMS, headers=viewer, params={"status": "lost"})
    assert refused.status_code == 422 and refused.json()["problems"][0]["field"] == "status"


def test_the_page_lists_the_forms_with_a_link_each_and_a_chart(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    make_user(conn, "s1reporter", role="unit_reporter", capture=["S1"])
    client.headers["accept"] = "text/html"
    login(client, "s1reporter")
    zh = client.get("/data/my-forms", params={"as_of": "2021-02-01", "lang": "zh_CN"})
    assert zh.status_code == 200
    assert "我的报表" in zh.text and "逾期" in zh.text
    assert 'href="/data/entry?ds=SCHOOL_Y&amp;pe=2020&amp;ou=S1"' in zh.text
    spec = json.loads(re.search(r"data-chart='([^']*)'", zh.text).group(1))  # type: ignore[union-attr]
    assert spec["kind"] == "bar" and spec["series"][0]["data"] == [1, 1]
    assert "/static/vendor/echarts/echarts.min.js" in zh.text
    en = client.get("/data/my-forms", params={"as_of": "2021-02-01", "status": "late", "lang": "en"})
    assert "Late" in en.text and en.text.count('class="work work--') == 1


def test_the_work_list_counts_from_the_clock_by_default(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    heads = token_for(conn, make_user(conn, role="unit_reporter", capture=["S1"]))
    answer = client.get(MY_FORMS, headers=heads).json()
    assert dt.date.fromisoformat(answer["as_of"]) >= dt.date(2026, 1, 1)
    assert {i["status"] for i in answer["items"]} <= {"due", "late"}



def test_the_work_list_reads_a_district_in_as_many_statements_whatever_its_schools(
    client: TestClient, conn: Connection
) -> None:
    """Reported and approved units are read with the subtree as a subquery: neither the statements nor
    their parameters grow with the district's schools (thousands of ids were slow on PostgreSQL)."""
    indicator_setup(conn)
    district = token_for(conn, make_user(conn, role="district_staff", capture=["D1"]))
    counts, sent = [], 0
    for schools in (3, 12):
        for _ in range(schools - sent):
            completeness.complete(conn, principal=SYSTEM, **DS, unit=make_unit(conn, parent="D1"))
        sent = schools
        lines(client, district, as_of="2021-02-01")  # the first use of a token records it; not counted
        with counting(conn) as count:
            found = lines(client, district, as_of="2021-02-01")
        assert [(i["status"], i["unit"], i["waiting"]) for i in found] == [("approve", "D1", schools)]
        counts.append((count.statements, count.parameters))
    assert counts[0] == counts[1]
