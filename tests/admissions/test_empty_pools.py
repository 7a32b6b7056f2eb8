"""A pool with nobody in it: freezing it is refused with a clear message, and drawing a pool that is
empty (frozen before this rule, or one without private schools) never answers a 500.

The 500 of issue 12 was ``A value is required for bind parameter 'st'``: storing the results of an
empty draw ran an UPDATE with no rows of values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select, update

from jiaowei.admissions import drawing, proof, queries, service
from jiaowei.admissions.store import applicants, campaign_row, campaigns
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import Conflict
from tests.admissions.test_campaign import BIRTH, SOURCES, campaign, drawn, person, world
from tests.factories import login, make_user, token_for

STEPS = "/api/admissions/campaigns/C2020/steps/"


def boss(conn: Connection) -> dict[str, str]:
    return token_for(conn, make_user(conn, "boss", role="commission_staff", capture=["SH"]))


def frozen_before_the_rule(conn: Connection, home: Path, code: str = "C2020") -> None:
    """Freeze an empty pool as releases before issue 12 did (they did not refuse it)."""
    row = campaign_row(conn, code)
    digest = drawing.freeze_case(drawing.campaign_dir(home, code) / "case", drawing.lottery_case(conn, row))
    conn.execute(update(campaigns).where(campaigns.c.id == row.id)
                 .values(status="frozen", pool_digest=digest))


def test_freezing_a_pool_without_applicants_is_refused(client: Any, conn: Connection) -> None:
    world(conn)
    campaign(conn)
    with pytest.raises(Conflict) as error:
        service.freeze(conn, principal=SYSTEM, campaign="C2020", home=client.app.state.settings.home)
    assert "no applicants" in str(error.value) and "dry run" in str(error.value)
    answer = client.post(STEPS + "freeze", json={}, headers={**boss(conn), "accept-language": "zh-CN"})
    assert answer.status_code == 409
    assert "没有申请人" in answer.json()["detail"] and "C2020" in answer.json()["detail"]
    assert queries.campaign(conn, code="C2020").status == "application"


def test_freezing_a_pool_where_nobody_chose_a_drawn_school_is_refused(conn: Connection,
                                                                      tmp_path: Path) -> None:
    world(conn)
    campaign(conn)
    service.register_applicants(conn, principal=SYSTEM, campaign="C2020", secret_key="k" * 40, people=[
        service.ApplicantSpec(name="王一", id_number="310101201305170011", birth_date=BIRTH, district="D1")])
    with pytest.raises(Conflict) as error:
        service.freeze(conn, principal=SYSTEM, campaign="C2020", home=tmp_path)
    assert "None of the 1 applicants" in str(error.value)


def test_the_campaign_page_shows_the_refusal_in_chinese(client: Any, conn: Connection) -> None:
    world(conn)
    campaign(conn)
    csrf = login(client, make_user(conn, "boss", role="commission_staff", capture=["SH"]).username)
    client.cookies.set("jiaowei_lang", "zh_CN")
    page = client.post("/admissions/C2020/steps/freeze", data={"csrf_token": csrf},
                       headers={"accept": "text/html"})
    assert page.status_code == 409
    assert "没有申请人" in page.text and 'role="alert"' in page.text
    assert "Internal Server Error" not in page.text


def test_drawing_a_pool_frozen_empty_before_the_rule_answers_and_verifies(client: Any,
                                                                          conn: Connection) -> None:
    world(conn)
    campaign(conn)
    home = client.app.state.settings.home
    frozen_before_the_rule(conn, home)
    answer = client.post(STEPS + "draw", json={"sources": SOURCES}, headers=boss(conn))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "drawn"
    assert proof.verify(home / "lottery" / "C2020" / "lottery") == []
    service.publish(conn, principal=SYSTEM, campaign="C2020")
    assert queries.masked_results(conn, code="C2020").total == 0


def test_drawing_from_the_page_a_pool_frozen_empty_redirects(client: Any, conn: Connection) -> None:
    world(conn)
    campaign(conn)
    frozen_before_the_rule(conn, client.app.state.settings.home)
    csrf = login(client, make_user(conn, "boss", role="commission_staff", capture=["SH"]).username)
    page = client.post("/admissions/C2020/steps/draw", follow_redirects=False,
                       data={"csrf_token": csrf, "sources": "\n".join(SOURCES)})
    assert page.status_code == 303, page.text


def test_a_campaign_with_only_public_schools_draws_an_empty_lottery_and_places_everyone(
        client: Any, conn: Connection) -> None:
    """After-school (课后服务) style: no school drawn by choice, so nobody chooses; placement places all."""
    world(conn)
    service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
        code="C2020", year=2020, stage="after_school", title_zh="课后服务", title_en="After school",
        organiser="SH"))
    service.add_schools(conn, principal=SYSTEM, campaign="C2020", schools=[
        service.SchoolSpec(unit="S1", capacity=5, kind="public"),
        service.SchoolSpec(unit="S2", capacity=5, kind="public")])
    service.open_application(conn, principal=SYSTEM, campaign="C2020")
    service.register_applicants(conn, principal=SYSTEM, campaign="C2020", secret_key="k" * 40, people=[
        service.ApplicantSpec(name=f"王{n}", id_number=f"31010120130517{n:03d}X", birth_date=BIRTH,
                              district="D1", catchment="S1") for n in range(3)])
    headers = boss(conn)
    for step, body in (("freeze", {}), ("draw", {"sources": SOURCES}), ("publish", {}),
                       ("freeze_placement", {}), ("place", {"sources": ["42"]})):
        answer = client.post(STEPS + step, json=body, headers=headers)
        assert answer.status_code == 200, (step, answer.text)
    statuses = set(conn.scalars(select(applicants.c.status)))
    assert statuses == {"placed"}


def test_placing_an_empty_placement_pool_answers(client: Any, conn: Connection) -> None:
    """Everyone admitted by the lottery: the placement pool is empty and its draw still answers."""
    home = client.app.state.settings.home
    world(conn)
    campaign(conn)
    service.register_applicants(conn, principal=SYSTEM, campaign="C2020", secret_key="k" * 40, people=[
        person(n, "D1", ("P1", "P2")) for n in range(2)])  # three private places for two applicants
    service.freeze(conn, principal=SYSTEM, campaign="C2020", home=home)
    service.draw(conn, principal=SYSTEM, campaign="C2020", sources=SOURCES, home=home)
    service.publish(conn, principal=SYSTEM, campaign="C2020")
    assert set(conn.scalars(select(applicants.c.status))) == {"admitted"}
    headers = boss(conn)
    assert client.post(STEPS + "freeze_placement", json={}, headers=headers).status_code == 200
    placed = client.post(STEPS + "place", json={"sources": ["42"]}, headers=headers)
    assert placed.status_code == 200, placed.text
    assert proof.verify(home / "lottery" / "C2020" / "placement") == []


def test_a_pool_with_applicants_still_freezes_and_draws(conn: Connection, tmp_path: Path) -> None:
    code, _made = drawn(conn, tmp_path)
    assert queries.campaign(conn, code=code).status == "published"
