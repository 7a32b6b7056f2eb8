"""Campaign dates come from the commission's clock (``JIAOWEI_TODAY`` fixes the day), and the applicant
import's dry run is a choice the user makes, never the default, with its result on the page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from jiaowei import clock
from jiaowei.admissions import queries, service
from jiaowei.auth.model import SYSTEM
from jiaowei.settings import Settings, using
from tests.admissions.test_campaign import GOOD, SOURCES, campaign, count_applicants, register, world
from tests.factories import login, make_user, token_for

DRAW_DAY = dt.date(2020, 5, 30)


def test_the_stages_are_dated_by_the_commission_s_clock(conn: Connection, tmp_path: Path) -> None:
    with using(Settings(home=tmp_path, secret_key="s" * 40, today=DRAW_DAY)):
        world(conn)
        code = campaign(conn)
        register(conn, code)
        service.freeze(conn, principal=SYSTEM, campaign=code, home=tmp_path)
        service.draw(conn, principal=SYSTEM, campaign=code, sources=SOURCES, home=tmp_path)
        service.publish(conn, principal=SYSTEM, campaign=code)
        dates = queries.campaign(conn, code=code).dates  # UTC; the day is the commission's
        assert [clock.local(dates[k])[:10] for k in ("created", "frozen", "drawn", "published")] == [
            "2020-05-30"] * 4


def test_the_api_dates_a_campaign_on_the_fixed_day(client: Any, conn: Connection, settings: Settings) -> None:
    client.app.state.settings = settings.model_copy(update={"today": DRAW_DAY})
    world(conn)
    user = make_user(conn, "boss", role="commission_staff", capture=["SH"])
    made = client.post("/api/admissions/campaigns", headers=token_for(conn, user), json={
        "code": "C2020", "year": 2020, "stage": "primary_1", "title_zh": "招生", "title_en": "Admissions",
        "organiser": "SH"})
    assert made.status_code == 201, made.text
    with using(client.app.state.settings):
        assert clock.local(made.json()["dates"]["created"]).startswith("2020-05-30")


def test_the_dry_run_box_is_not_ticked_and_its_result_is_shown(client: Any, conn: Connection) -> None:
    world(conn)
    code = campaign(conn)
    csrf = login(client, make_user(conn, "boss", role="commission_staff", capture=["SH"]).username)
    client.cookies.set("jiaowei_lang", "zh_CN")
    page = client.get(f"/admissions/{code}", headers={"accept": "text/html"})
    box = page.text[page.text.index('id="applicants-dry-run"'):]
    assert "checked" not in box[:box.index(">")]
    url = f"/admissions/{code}/applicants/import"
    dry = client.post(url, data={"csrf_token": csrf, "dry_run": "on"},
                      files={"file": ("a.csv", GOOD, "text/csv")})
    assert dry.status_code == 200 and count_applicants(conn) == 0
    assert "试运行：未保存任何数据" in dry.text and "文件有效：将登记 3 名申请人" in dry.text
    assert 'href="/admissions/C2020#import-title"' in dry.text  # the import is a job: its page leads back
    again = client.get(f"/admissions/{code}", headers={"accept": "text/html"}).text
    box = again[again.index('id="applicants-dry-run"'):]
    assert "checked" not in box[:box.index(">")]  # the next import registers, unless ticked again
    done = client.post(url, data={"csrf_token": csrf}, files={"file": ("a.csv", GOOD, "text/csv")})
    assert done.status_code == 200 and count_applicants(conn) == 3
    assert 'data-testid="import-summary"' in done.text
