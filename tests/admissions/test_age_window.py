"""A campaign's age window (childcare, 托育): applicants born outside it are refused with the row, the
column, the value and the window expected; the window is checked as the campaign is created and shown
on its page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection

from jiaowei.admissions import queries, service
from jiaowei.admissions.model import AgeWindow, months_old
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from tests.admissions.test_campaign import SECRET, world
from tests.factories import login, make_user, token_for

HEADER = "number,name,id_number,birth_date,district,residence_tier,catchment,group_id,choices\n"
ON = dt.date(2020, 9, 1)


def childcare(conn: Connection, **window: Any) -> str:
    world(conn)
    service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
        code="TY2020", year=2020, stage="childcare", title_zh="托育", title_en="Childcare", organiser="SH",
        **window))
    service.add_schools(conn, principal=SYSTEM, campaign="TY2020",
                        schools=[service.SchoolSpec(unit="P1", capacity=5)])
    return "TY2020"


def child(n: int, born: dt.date) -> service.ApplicantSpec:
    return service.ApplicantSpec(name=f"宝宝{n}", id_number=f"31010120180101{n:03d}X", birth_date=born,
                                 district="D1")


def refused(conn: Connection, born: dt.date) -> bool:
    try:
        service.register_applicants(conn, principal=SYSTEM, campaign="TY2020", secret_key=SECRET,
                                    people=[child(born.toordinal() % 1000, born)])
    except ValidationError as error:
        assert [(p.field, p.value) for p in error.problems] == [("birth_date", born.isoformat())]
        return True
    return False


def test_dates_of_birth_outside_the_window_are_refused(conn: Connection) -> None:
    childcare(conn, born_from=dt.date(2017, 9, 1), born_to=dt.date(2018, 8, 31))
    assert not refused(conn, dt.date(2017, 9, 1)) and not refused(conn, dt.date(2018, 8, 31))
    assert refused(conn, dt.date(2017, 8, 31)) and refused(conn, dt.date(2018, 9, 1))


def test_months_of_age_on_a_day_are_whole_months(conn: Connection) -> None:
    childcare(conn, age_on=ON, min_age_months=24, max_age_months=35)
    assert not refused(conn, dt.date(2018, 9, 1))  # 24 months on 2020-09-01
    assert refused(conn, dt.date(2018, 9, 2))  # one day short of 24 months
    assert not refused(conn, dt.date(2017, 9, 2))  # 35 months and 30 days
    assert refused(conn, dt.date(2017, 9, 1))  # 36 months


def test_the_csv_import_names_row_field_value_and_the_window(client: Any, conn: Connection) -> None:
    childcare(conn, born_from=dt.date(2017, 9, 1), born_to=dt.date(2018, 8, 31))
    data = (HEADER + "C-1,宝宝一,310101201709010011,2017-09-01,D1,1,,,\n"
                     "C-2,宝宝二,310101201601010022,2016-01-01,D1,1,,,\n").encode()
    headers = {**token_for(conn, make_user(conn, "boss", role="commission_staff", capture=["SH"])),
               "accept-language": "zh-CN"}
    answer = client.post("/api/admissions/campaigns/TY2020/applicants/import", content=data, headers=headers)
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["problems"]
    assert (problem["row"], problem["field"], problem["value"]) == (3, "birth_date", "2016-01-01")
    assert problem["expected"] == "出生于 2017-09-01 至 2018-08-31 之间"
    assert "宝宝" not in answer.text
    english = client.post("/api/admissions/campaigns/TY2020/applicants/import", content=data,
                          headers={**headers, "accept-language": "en"})
    assert english.json()["problems"][0]["expected"] == "born between 2017-09-01 and 2018-08-31"


def test_the_window_is_set_through_the_api_and_shown_on_the_page(client: Any, conn: Connection) -> None:
    world(conn)
    user = make_user(conn, "boss", role="commission_staff", capture=["SH"])
    body = {"code": "TY2020", "year": 2020, "stage": "childcare", "title_zh": "托育", "title_en": "Childcare",
            "organiser": "SH", "age_on": "2020-09-01", "min_age_months": 24, "max_age_months": 35}
    made = client.post("/api/admissions/campaigns", json=body, headers=token_for(conn, user))
    assert made.status_code == 201, made.text
    assert made.json()["age_window"] == {"born_from": None, "born_to": None, "age_on": "2020-09-01",
                                         "min_age_months": 24, "max_age_months": 35}
    login(client, user.username)
    client.cookies.set("jiaowei_lang", "zh_CN")
    page = client.get("/admissions/TY2020", headers={"accept": "text/html"})
    assert "年龄范围" in page.text and "在 2020-09-01 满 24 至 35 个月" in page.text


@pytest.mark.parametrize(("window", "fields"), [
    ({"born_from": dt.date(2019, 1, 1), "born_to": dt.date(2018, 1, 1)}, {"born_to"}),
    ({"min_age_months": 24}, {"age_on"}),
    ({"age_on": ON}, {"min_age_months"}),
    ({"age_on": ON, "min_age_months": 36, "max_age_months": 24}, {"max_age_months"}),
    ({"age_on": ON, "min_age_months": -1}, {"min_age_months"}),
])
def test_a_window_that_cannot_hold_anyone_is_refused(conn: Connection, window: dict[str, Any],
                                                     fields: set[str]) -> None:
    world(conn)
    with pytest.raises(ValidationError) as error:
        service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
            code="TY2020", year=2020, stage="childcare", title_zh="托育", title_en="Childcare",
            organiser="SH", **window))
    assert {p.field for p in error.value.problems} == fields


def test_a_campaign_without_a_window_takes_any_date_of_birth(conn: Connection) -> None:
    childcare(conn)
    assert queries.campaign(conn, code="TY2020").age_window is None
    assert not refused(conn, dt.date(2001, 1, 1))


DAYS = st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31))


@given(DAYS, DAYS)
def test_months_old_counts_whole_months(birth: dt.date, on: dt.date) -> None:
    months = months_old(birth, on)
    assert AgeWindow(age_on=on, min_age_months=months, max_age_months=months).admits(birth)
    if on >= birth:
        assert 0 <= months <= (on - birth).days // 28
    assert (months_old(birth, on + dt.timedelta(days=31)) - months) in (0, 1, 2)
