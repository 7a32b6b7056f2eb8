"""Priority tiers in campaigns: set through the applicants' CSV or a priorities import, shown on the
campaign page, used by the draw, and written into the public proof bundle so that a re-run verifies."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select, update
from typer.testing import CliRunner

from jiaowei.admissions import proof, queries, service
from jiaowei.admissions.applications import priorities as tier_import
from jiaowei.admissions.model import TierCount
from jiaowei.admissions.store import applicants, priorities, results
from jiaowei.auth.model import SYSTEM
from jiaowei.cli.main import app as cli
from jiaowei.errors import Conflict, IntegrityError, ValidationError
from tests.admissions.test_campaign import SECRET, SOURCES, campaign, world
from tests.admissions.test_reconcile import admissions_mismatches
from tests.factories import login, make_user, token_for

HEADER = "number,name,id_number,birth_date,district,residence_tier,catchment,group_id,choices,priorities\n"
# four applicants for P2's one place; T-3 is a staff child there (tier 1), everyone else has the default 9
TIERED = (HEADER + "".join(
    f"T-{n},王{n},31010120130517{n:03d}X,2013-05-17,D{1 + n % 2},1,S{1 + n % 2},,P2,"
    f"{'P2:1' if n == 3 else ''}\n" for n in range(4))).encode()


def import_tiered(conn: Connection) -> None:
    world(conn)
    campaign(conn)
    service.import_applicants(conn, principal=SYSTEM, campaign="C2020", data=TIERED, secret_key=SECRET)


def admitted_to(conn: Connection, number: str) -> str | None:
    return conn.scalar(select(results.c.school_id).join(applicants, applicants.c.id == results.c.applicant_pk)
                       .where(applicants.c.number == number, results.c.stage == "lottery"))


def test_a_tier_from_the_csv_wins_the_draw_and_the_bundle_verifies(conn: Connection, tmp_path: Path) -> None:
    import_tiered(conn)
    assert queries.campaign(conn, code="C2020").tiers == [TierCount(school_id="P2", tier=1, applicants=1)]
    frozen = service.freeze(conn, principal=SYSTEM, campaign="C2020", home=tmp_path)
    service.draw(conn, principal=SYSTEM, campaign="C2020", sources=SOURCES, home=tmp_path)
    assert admitted_to(conn, "T-3") == "P2"
    assert [admitted_to(conn, f"T-{n}") for n in range(3)] == [None, None, None]
    bundle = tmp_path / "lottery" / "C2020" / "lottery"
    staff_child = conn.scalar(select(applicants.c.applicant_id).where(applicants.c.number == "T-3"))
    published = list(csv.DictReader(io.StringIO((bundle / "inputs" / "priorities.csv").read_text())))
    assert published == [{"school_id": "P2", "applicant_id": staff_child, "tier": "1"}]
    assert proof.verify(bundle) == []
    verified = CliRunner().invoke(cli, ["lottery", "verify", str(bundle),
                                        "--pool-digest", frozen.pool_digest])
    assert verified.exit_code == 0, verified.output
    cutoff = {c["school_id"]: c for c in csv.DictReader(io.StringIO((bundle / "cutoffs.csv").read_text()))}
    assert cutoff["P2"]["last_tier"] == "1"


def test_changing_a_tier_after_the_freeze_stops_the_draw(conn: Connection, tmp_path: Path) -> None:
    import_tiered(conn)
    service.freeze(conn, principal=SYSTEM, campaign="C2020", home=tmp_path)
    conn.execute(update(priorities).values(tier=0))
    with pytest.raises(IntegrityError):
        service.draw(conn, principal=SYSTEM, campaign="C2020", sources=SOURCES, home=tmp_path)


def test_the_campaign_page_shows_the_tiers(client: Any, conn: Connection) -> None:
    import_tiered(conn)
    login(client, make_user(conn, "boss", role="commission_staff", capture=["SH"]).username)
    client.cookies.set("jiaowei_lang", "zh_CN")
    page = client.get("/admissions/C2020", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-testid="tiers"' in page.text
    table = page.text[page.text.index('data-testid="tiers"'):]
    assert "<code>P2</code>" in table[:table.index("</table>")] and "摇号的优先等级" in page.text
    assert "P1:1" in page.text and "priorities" in page.text  # the import names the column, with an example


def test_bad_tiers_in_the_csv_name_the_row_and_column(conn: Connection) -> None:
    world(conn)
    campaign(conn)
    bad = (HEADER + "B-1,王一,310101201305170011,2013-05-17,D1,1,S1,,P1,P1:x\n"
                    "B-2,王二,310101201305170022,2013-05-17,D1,1,S1,,P1,S1:1\n"
                    "B-3,王三,310101201305170033,2013-05-17,D1,1,S1,,P1,P1:12;P2:1;P2:2\n").encode()
    with pytest.raises(ValidationError) as error:
        service.import_applicants(conn, principal=SYSTEM, campaign="C2020", data=bad, secret_key=SECRET)
    found = {(p.row, p.field, str(p.value) if p.value is not None else None) for p in error.value.problems}
    assert {(2, "priorities", "P1:x"), (3, "priorities", "S1"), (4, "priorities", "P1:12"),
            (4, "priorities", None)} <= found
    assert "nobody was registered" in error.value.detail


def test_the_priorities_import_sets_removes_and_checks_tiers(client: Any, conn: Connection) -> None:
    import_tiered(conn)
    url = "/api/admissions/campaigns/C2020/priorities/import"
    headers = token_for(conn, make_user(conn, "boss", role="commission_staff", capture=["SH"]))
    data = b"number,school_id,tier\nT-0,P2,2\nT-3,P2,\n"
    dry = client.post(url, params={"dry_run": "true"}, content=data, headers=headers)
    assert dry.status_code == 200 and dry.json() == {"set": 1, "removed": 1, "dry_run": True}, dry.text
    assert queries.campaign(conn, code="C2020").tiers == [TierCount(school_id="P2", tier=1, applicants=1)]
    done = client.post(url, files={"file": ("p.csv", data, "text/csv")}, headers=headers)
    assert done.status_code == 200 and done.json()["dry_run"] is False, done.text
    assert queries.campaign(conn, code="C2020").tiers == [TierCount(school_id="P2", tier=2, applicants=1)]
    bad = client.post(url, content=b"number,school_id,tier\nT-9,P2,1\nT-0,S1,1\nT-0,P1,10\nT-1,P1,x\n",
                      headers={**headers, "accept-language": "zh-CN"})
    assert bad.status_code == 422, bad.text
    where = {(p["row"], p["field"]) for p in bad.json()["problems"]}
    assert where == {(2, "number"), (3, "school_id"), (4, "tier"), (5, "tier")}
    assert "未设置任何优先等级" in bad.json()["detail"]
    assert admissions_mismatches(conn) == []  # the audit log replays the tiers


def test_a_district_user_sets_tiers_only_in_their_district(client: Any, conn: Connection) -> None:
    import_tiered(conn)
    headers = token_for(conn, make_user(conn, "d1", role="district_staff", capture=["D1"]))
    url = "/api/admissions/campaigns/C2020/priorities/import"
    refused = client.post(url, content=b"number,school_id,tier\nT-1,P2,1\n", headers=headers)  # T-1: D2
    assert refused.status_code in (403, 404), refused.text
    assert client.post(url, content=b"number,school_id,tier\nT-0,P2,1\n", headers=headers).status_code == 200


def test_tiers_are_frozen_with_the_pool(conn: Connection, tmp_path: Path) -> None:
    import_tiered(conn)
    service.freeze(conn, principal=SYSTEM, campaign="C2020", home=tmp_path)
    with pytest.raises(Conflict):
        tier_import.import_priorities(conn, principal=SYSTEM, campaign="C2020",
                                      data=b"number,school_id,tier\nT-0,P2,1\n")


def test_a_tier_changed_behind_the_services_back_is_reported(conn: Connection) -> None:
    import_tiered(conn)
    assert admissions_mismatches(conn) == []
    conn.execute(update(priorities).values(tier=0))
    found = admissions_mismatches(conn)
    assert [(m.table, m.key) for m in found] == [("applicants", "C2020/T-3")]


def test_an_applicant_registered_through_the_api_gets_tiers(client: Any, conn: Connection) -> None:
    world(conn)
    campaign(conn)
    headers = token_for(conn, make_user(conn, "boss", role="commission_staff", capture=["SH"]))
    made = client.post("/api/admissions/campaigns/C2020/applicants", headers=headers, json={
        "name": "王一", "id_number": "310101201305170011", "birth_date": "2013-05-17", "district": "D1",
        "choices": ["P1"], "priorities": {"P1": 1}})
    assert made.status_code == 201, made.text
    shown = client.get("/api/admissions/campaigns/C2020", headers=headers).json()
    assert shown["tiers"] == [{"school_id": "P1", "tier": 1, "applicants": 1}]


def test_digits_that_are_not_ascii_or_too_many_are_problems_not_errors(client: Any, conn: Connection) -> None:
    world(conn)
    campaign(conn)
    headers = token_for(conn, make_user(conn, "boss", role="commission_staff", capture=["SH"]))
    odd = (HEADER + "O-1,王一,310101201305170011,2013-05-17,D1,²,S1,,P1,P1:1\n"
                    f"O-2,王二,310101201305170022,2013-05-17,D1,1,S1,,P1,P1:{'9' * 5000}\n").encode()
    answer = client.post("/api/admissions/campaigns/C2020/applicants/import", content=odd, headers=headers)
    assert answer.status_code == 422, answer.text
    assert {(p["row"], p["field"]) for p in answer.json()["problems"]} == {(2, "residence_tier"),
                                                                         (3, "priorities")}
    tiers = client.post("/api/admissions/campaigns/C2020/priorities/import", headers=headers,
                        content="number,school_id,tier\nO-1,P1,²\n".encode())
    assert tiers.status_code == 422 and tiers.json()["problems"][0]["field"] == "tier", tiers.text


def test_a_step_out_of_order_is_refused_in_the_reader_s_language(client: Any, conn: Connection) -> None:
    import_tiered(conn)
    service.freeze(conn, principal=SYSTEM, campaign="C2020", home=client.app.state.settings.home)
    headers = token_for(conn, make_user(conn, "boss", role="commission_staff", capture=["SH"]))
    late = client.post("/api/admissions/campaigns/C2020/priorities/import", headers={
        **headers, "accept-language": "zh-CN"}, content=b"number,school_id,tier\nT-0,P2,1\n")
    assert late.status_code == 409
    assert late.json()["detail"] == ("招生活动 C2020 处于“已冻结”阶段；"
                                     "只有在“登记或报名”阶段才能设置优先等级。")
    english = client.post("/api/admissions/campaigns/C2020/priorities/import", headers=headers,
                          content=b"number,school_id,tier\nT-0,P2,1\n")
    assert english.json()["detail"] == ("Campaign C2020 is at the stage Frozen; setting priority tiers is "
                                        "possible only at Registration or Application.")
