"""A campaign from registration to closing, on both databases, through the services and the API."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select, text
from typer.testing import CliRunner

from jiaowei.admissions import case, proof, queries, service
from jiaowei.admissions.model import ImportSummary, Registered
from jiaowei.admissions.store import applicants
from jiaowei.auth.model import SYSTEM
from jiaowei.cli.main import app as cli
from jiaowei.errors import Conflict, IntegrityError, NotFound, TooManyAttempts, ValidationError
from tests.factories import login, make_unit, make_user, small_tree, token_for

SECRET = "test-secret-" + "x" * 32
SOURCES = ["drand round 1234: 5f1e…(synthetic)", "digits drawn on site: 2 5 12 8 10"]
BIRTH = dt.date(2013, 5, 17)


def world(conn: Connection) -> None:
    """SH → D1 (S1 public, P1 private), D2 (S2 public, P2 private)."""
    small_tree(conn)
    make_unit(conn, "P1", parent="D1", ownership="private", name_zh="民办一校")
    make_unit(conn, "P2", parent="D2", ownership="private", name_zh="民办二校")


def campaign(conn: Connection, code: str = "C2020") -> str:
    service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
        code=code, year=2020, stage="primary_1", title_zh="2020年小学招生", title_en="Primary 2020",
        organiser="SH", max_choices=2))
    service.add_schools(conn, principal=SYSTEM, campaign=code, schools=[
        service.SchoolSpec(unit="P1", capacity=2), service.SchoolSpec(unit="P2", capacity=1),
        service.SchoolSpec(unit="S1", capacity=3, kind="public"),
        service.SchoolSpec(unit="S2", capacity=3, kind="public")])
    service.set_fallback(conn, principal=SYSTEM, campaign=code, district="D1", schools=["S1", "S2"])
    service.set_fallback(conn, principal=SYSTEM, campaign=code, district="D2", schools=["S2", "S1"])
    service.open_application(conn, principal=SYSTEM, campaign=code)
    return code


def person(n: int, district: str, chosen: tuple[str, ...] = ("P1", "P2")) -> service.ApplicantSpec:
    return service.ApplicantSpec(name=f"张{n}号", id_number=f"31010120130517{n:03d}X", birth_date=BIRTH,
                                 district=district, residence_tier=1 + n % 2,
                                 catchment="S1" if district == "D1" else "S2", choices=chosen)


def register(conn: Connection, code: str, count: int = 6) -> list[Registered]:
    people = [person(n, "D1" if n % 2 else "D2", () if n == count - 1 else ("P1", "P2"))
              for n in range(count)]
    return service.register_applicants(conn, principal=SYSTEM, campaign=code, secret_key=SECRET,
                                       people=people)


def drawn(conn: Connection, home: Path, *, publish: bool = True) -> tuple[str, list[Registered]]:
    world(conn)
    code = campaign(conn)
    made = register(conn, code)
    service.freeze(conn, principal=SYSTEM, campaign=code, home=home)
    service.draw(conn, principal=SYSTEM, campaign=code, sources=SOURCES, home=home)
    if publish:
        service.publish(conn, principal=SYSTEM, campaign=code)
    return code, made


# ---------------------------------------------------------------- the stages


def test_the_stages_run_in_order_and_the_draw_verifies(conn: Connection, tmp_path: Path) -> None:
    code, made = drawn(conn, tmp_path)
    summary = queries.campaign(conn, code=code)
    assert summary.status == "published" and len(summary.pool_digest) == 64
    bundle = tmp_path / "lottery" / code / "lottery"
    assert proof.verify(bundle) == []
    result = CliRunner().invoke(cli, ["lottery", "verify", str(bundle),
                                      "--pool-digest", summary.pool_digest])
    assert result.exit_code == 0, result.output
    assert summary.seed == case.derive_seed(summary.pool_digest, SOURCES).hex()
    private = {s.school_id: s.cutoff for s in summary.schools if s.kind == "private"}
    assert private["P1"] and private["P1"].admitted == 2 and private["P2"] and private["P2"].admitted == 1
    assert summary.lottery_schools == 2 and summary.lottery_share == 100.0
    listed = queries.masked_results(conn, code=code)
    assert listed.total == 5 and sum(r.admitted for r in listed.items) == 3


def test_steps_out_of_order_are_refused(conn: Connection, tmp_path: Path) -> None:
    world(conn)
    code = campaign(conn)
    register(conn, code)
    with pytest.raises(Conflict):
        service.draw(conn, principal=SYSTEM, campaign=code, sources=SOURCES, home=tmp_path)
    with pytest.raises(Conflict):
        service.publish(conn, principal=SYSTEM, campaign=code)
    with pytest.raises(Conflict):
        service.place(conn, principal=SYSTEM, campaign=code, sources=SOURCES, home=tmp_path)
    with pytest.raises(Conflict):
        service.freeze_placement(conn, principal=SYSTEM, campaign=code, home=tmp_path)
    service.freeze(conn, principal=SYSTEM, campaign=code, home=tmp_path)
    with pytest.raises(ValidationError):
        service.draw(conn, principal=SYSTEM, campaign=code, sources=["  "], home=tmp_path)
    with pytest.raises(Conflict):
        service.freeze(conn, principal=SYSTEM, campaign=code, home=tmp_path)


def test_freezing_locks_the_applications(conn: Connection, tmp_path: Path) -> None:
    world(conn)
    code = campaign(conn)
    made = register(conn, code)
    service.freeze(conn, principal=SYSTEM, campaign=code, home=tmp_path)
    with pytest.raises(Conflict):
        register(conn, code, 1)
    with pytest.raises(Conflict):
        service.submit_choices(conn, principal=SYSTEM, campaign=code, number=made[0].number, chosen=["P2"])
    with pytest.raises(Conflict):
        service.add_schools(conn, principal=SYSTEM, campaign=code, schools=[service.SchoolSpec(unit="S1",
                                                                                             capacity=1)])


def test_the_freeze_brings_the_planner_statistics_up_to_date(conn: Connection, tmp_path: Path) -> None:
    """Else PostgreSQL plans the pool's read for tables it last saw empty: quadratic nested scans."""
    if conn.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no planner statistics")
    world(conn)
    code = campaign(conn)
    register(conn, code, 40)
    service.freeze(conn, principal=SYSTEM, campaign=code, home=tmp_path)
    estimated = conn.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'applicants'"))
    assert estimated == count_applicants(conn) == 40


def test_a_change_behind_the_services_back_stops_the_draw(conn: Connection, tmp_path: Path) -> None:
    world(conn)
    code = campaign(conn)
    register(conn, code)
    service.freeze(conn, principal=SYSTEM, campaign=code, home=tmp_path)
    conn.execute(applicants.update().values(group_id="G1"))
    with pytest.raises(IntegrityError):
        service.draw(conn, principal=SYSTEM, campaign=code, sources=SOURCES, home=tmp_path)


def test_choices_are_checked(conn: Connection, tmp_path: Path) -> None:
    world(conn)
    code = campaign(conn)
    made = register(conn, code, 2)
    for chosen in (["S1"], ["P1", "P1"], ["P1", "P2", "P1"], ["NOPE"]):
        with pytest.raises(ValidationError):
            service.submit_choices(conn, principal=SYSTEM, campaign=code, number=made[0].number,
                                   chosen=chosen)
    assert service.submit_choices(conn, principal=SYSTEM, campaign=code, number=made[0].number,
                                  chosen=["P2"]) == ["P2"]


PLACEMENT_SOURCES = ["placement digits 7 7 1"]


def placed(conn: Connection, home: Path) -> tuple[str, list[Registered]]:
    """A published campaign whose placement pool is frozen and placed."""
    code, made = drawn(conn, home)
    service.freeze_placement(conn, principal=SYSTEM, campaign=code, home=home)
    service.place(conn, principal=SYSTEM, campaign=code, sources=PLACEMENT_SOURCES, home=home)
    return code, made


def test_placement_waits_for_its_pool_to_be_frozen(conn: Connection, tmp_path: Path) -> None:
    code, _made = drawn(conn, tmp_path)
    with pytest.raises(Conflict):  # the placement pool must be frozen, and its digest published, first
        service.place(conn, principal=SYSTEM, campaign=code, sources=PLACEMENT_SOURCES, home=tmp_path)
    frozen = service.freeze_placement(conn, principal=SYSTEM, campaign=code, home=tmp_path)
    assert frozen.status == "placement_frozen"
    assert queries.campaign(conn, code=code).placement_digest == frozen.pool_digest


def test_the_frozen_placement_pool_takes_no_fallback_order_and_no_empty_seed(conn: Connection,
                                                                             tmp_path: Path) -> None:
    code, _made = drawn(conn, tmp_path)
    service.freeze_placement(conn, principal=SYSTEM, campaign=code, home=tmp_path)
    with pytest.raises(Conflict):
        service.set_fallback(conn, principal=SYSTEM, campaign=code, district="D1", schools=["S2"])
    with pytest.raises(ValidationError):
        service.place(conn, principal=SYSTEM, campaign=code, sources=[" "], home=tmp_path)


def test_placement_places_those_not_admitted_in_a_second_bundle(conn: Connection, tmp_path: Path) -> None:
    code, _made = drawn(conn, tmp_path)
    frozen = service.freeze_placement(conn, principal=SYSTEM, campaign=code, home=tmp_path)
    placement = service.place(conn, principal=SYSTEM, campaign=code, sources=PLACEMENT_SOURCES, home=tmp_path)
    assert placement.pool_digest == frozen.pool_digest and len(placement.pool_digest) == 64
    assert placement.seed == case.derive_seed(frozen.pool_digest, PLACEMENT_SOURCES).hex()
    assert proof.verify(tmp_path / "lottery" / code / "placement") == []


def test_placement_places_everyone_the_lottery_did_not_admit(conn: Connection, tmp_path: Path) -> None:
    code, _made = placed(conn, tmp_path)
    statuses = dict(conn.execute(select(applicants.c.number, applicants.c.status)).all())
    assert sorted(statuses.values()).count("admitted") == 3
    assert {s for s in statuses.values() if s != "admitted"} == {"placed"}
    people = queries.staff_results(conn, principal=SYSTEM, code=code, secret_key=SECRET).items
    for p in people:
        if p.status == "placed":
            assert p.placed_at in ("S1", "S2")


def test_the_campaign_closes_only_once_every_appeal_is_decided(conn: Connection, tmp_path: Path) -> None:
    code, made = placed(conn, tmp_path)
    service.open_appeals(conn, principal=SYSTEM, campaign=code)
    appeal = service.file_appeal(conn, principal=SYSTEM, campaign=code, number=made[0].number,
                                 reason="搬家")
    with pytest.raises(Conflict):
        service.close(conn, principal=SYSTEM, campaign=code)
    service.decide_appeal(conn, principal=SYSTEM, appeal_id=appeal, decision="rejected", note="理由不足")
    assert service.close(conn, principal=SYSTEM, campaign=code).status == "closed"


# ---------------------------------------------------------------- personal data


def test_names_and_id_numbers_are_encrypted_at_rest(conn: Connection, tmp_path: Path) -> None:
    world(conn)
    code = campaign(conn)
    register(conn, code)
    raw = " ".join(str(row) for row in conn.execute(text("SELECT * FROM applicants")).all())
    audit = " ".join(str(row) for row in conn.execute(text("SELECT * FROM audit_log")).all())
    for plain in ("张1号", "310101201305170", "2013-05-17"):
        assert plain not in raw and plain not in audit
    shown = queries.staff_results(conn, principal=SYSTEM, code=code, secret_key=SECRET).items
    assert {p.name for p in shown} == {f"张{n}号" for n in range(6)}


def test_a_district_user_sees_only_their_districts_identities(client: Any, conn: Connection,
                                                              tmp_path: Path) -> None:
    code, _made = drawn(conn, tmp_path)
    d1 = token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"]))
    viewer = token_for(conn, make_user(conn, "d1viewer", role="viewer", view=["D1"]))
    response = client.get(f"/api/admissions/campaigns/{code}/applicants", headers=d1)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {p["district"] for p in items} == {"D1"} and all(p["name"].startswith("张") for p in items)
    assert '"D2"' not in response.text
    names = {p["name"] for p in client.get(f"/api/admissions/campaigns/{code}/applicants",
                                           headers=viewer).json()["items"]}
    assert names == {None}
    page = client.get(f"/admissions/{code}", headers={**d1, "accept": "text/html"})
    assert page.status_code == 200 and "张1号" in page.text and "张2号" not in page.text
    other = client.post("/api/admissions/campaigns/C2020/steps/open", headers=d1, json={})
    assert other.status_code in (403, 404)


# ---------------------------------------------------------------- families and the public


def test_family_lookup_with_the_right_and_the_wrong_date_of_birth(client: Any, conn: Connection,
                                                                   settings: Any) -> None:
    code, made = drawn(conn, settings.home)
    number = made[0].number
    url = f"/api/admissions/public/{code}/lookup"
    right = client.post(url, json={"number": number, "birth_date": BIRTH.isoformat()})
    assert right.status_code == 200, right.text
    found = right.json()
    assert found["lottery_rank"] >= 1 and found["applicant_id"] == made[0].applicant_id
    assert [c["school_id"] for c in found["choices"]] == ["P1", "P2"]
    assert all(c["cutoff"]["last_lottery_rank"] for c in found["choices"])
    wrong = client.post(url, json={"number": number, "birth_date": "2013-05-18"})
    unknown = client.post(url, json={"number": "1", "birth_date": BIRTH.isoformat()})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["detail"] == unknown.json()["detail"] == queries.NOT_FOUND
    assert "张" not in right.text


def test_family_lookup_is_throttled_per_application_number(client: Any, conn: Connection,
                                                           settings: Any) -> None:
    code, made = drawn(conn, settings.home)
    url = f"/api/admissions/public/{code}/lookup"
    for _ in range(settings.login_max_failures):
        wrong = client.post(url, json={"number": made[0].number, "birth_date": "2000-01-01"})
        assert wrong.status_code == 404
    blocked = client.post(url, json={"number": made[0].number, "birth_date": BIRTH.isoformat()})
    assert blocked.status_code == 429
    other = client.post(url, json={"number": made[1].number, "birth_date": BIRTH.isoformat()})
    assert other.status_code == 200


@pytest.mark.parametrize("disguise", ["  {}", "{}\u3000", "\t{} ", "{}\n"])
def test_family_lookup_throttle_counts_a_number_however_it_is_padded(client: Any, conn: Connection,
                                                                     settings: Any, disguise: str) -> None:
    code, made = drawn(conn, settings.home)
    url = f"/api/admissions/public/{code}/lookup"
    for _ in range(settings.login_max_failures):
        wrong = client.post(url, json={"number": made[0].number, "birth_date": "2000-01-01"})
        assert wrong.status_code == 404
    padded = disguise.format(made[0].number)
    blocked = client.post(url, json={"number": padded, "birth_date": BIRTH.isoformat()})
    assert blocked.status_code == 429, blocked.text
    wide = made[0].number.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})  # full-width digits
    assert client.post(url, json={"number": wide, "birth_date": BIRTH.isoformat()}).status_code == 429


def test_family_lookup_is_throttled_per_client_address(client: Any, conn: Connection, settings: Any) -> None:
    code, made = drawn(conn, settings.home)
    settings.lookup_max_failures_per_address = 3
    url = f"/api/admissions/public/{code}/lookup"
    for n in range(3):
        wrong = client.post(url, json={"number": made[n].number, "birth_date": "2000-01-01"})
        assert wrong.status_code == 404
    blocked = client.post(url, json={"number": made[4].number, "birth_date": BIRTH.isoformat()})
    assert blocked.status_code == 429, blocked.text
    page = client.post(f"/admissions/{code}/lookup", headers={"accept": "text/html"},
                       data={"number": made[4].number, "birth_date": BIRTH.isoformat()})
    assert page.status_code == 429


def test_lookup_in_the_service_names_no_difference(conn: Connection, tmp_path: Path) -> None:
    code, made = drawn(conn, tmp_path)
    with pytest.raises(NotFound) as wrong:
        queries.lookup(conn, code=code, number=made[0].number, birth_date="1999-01-01", secret_key=SECRET)
    with pytest.raises(NotFound) as missing:
        queries.lookup(conn, code="NOPE", number="1", birth_date="1999-01-01", secret_key=SECRET)
    assert str(wrong.value) == str(missing.value)
    for _ in range(5):
        service.record_lookup(conn, code=code, number=made[0].number, succeeded=False)
    with pytest.raises(TooManyAttempts):
        queries.lookup(conn, code=code, number=made[0].number, birth_date=BIRTH.isoformat(),
                       secret_key=SECRET)


def test_the_public_pages_need_no_login(client: Any, conn: Connection, settings: Any) -> None:
    code, made = drawn(conn, settings.home)
    html = {"accept": "text/html"}
    results = client.get(f"/admissions/{code}/results", headers=html)
    assert results.status_code == 200
    summary = queries.campaign(conn, code=code)
    assert summary.pool_digest in results.text and summary.seed in results.text
    assert made[0].applicant_id in results.text and "张" not in results.text
    proof = client.get(f"/api/admissions/public/{code}/proof/lottery/results.csv")
    assert proof.status_code == 200 and proof.text.startswith("applicant_id,lottery_rank")
    assert client.get(f"/api/admissions/public/{code}/proof/lottery/../../secret").status_code == 404
    page = client.post(f"/admissions/{code}/lookup", headers=html,
                       data={"number": made[0].number, "birth_date": BIRTH.isoformat()})
    assert page.status_code == 200 and made[0].applicant_id in page.text
    assert client.get("/admissions/public", headers=html).status_code == 200
    assert client.get("/admissions", headers=html, follow_redirects=False).status_code == 303


def test_results_are_not_public_before_publication(client: Any, conn: Connection, settings: Any) -> None:
    code, made = drawn(conn, settings.home, publish=False)
    assert client.get(f"/api/admissions/public/{code}/proof/lottery/results.csv").status_code == 404
    assert client.get(f"/api/admissions/public/{code}").json()["results"]["total"] == 0
    found = client.post(f"/api/admissions/public/{code}/lookup",
                        json={"number": made[0].number, "birth_date": BIRTH.isoformat()}).json()
    assert found["lottery_rank"] is None


def test_a_whole_campaign_through_the_api(client: Any, conn: Connection) -> None:
    world(conn)
    headers = token_for(conn, make_user(conn, "boss", role="commission_staff", capture=["SH"]))
    body = {"code": "CC2020", "year": 2020, "stage": "childcare", "title_zh": "托育", "title_en": "Childcare",
            "organiser": "SH", "max_choices": 1, "multiples": "separate"}
    assert client.post("/api/admissions/campaigns", json=body, headers=headers).status_code == 201
    schools = {"schools": [{"unit": "P1", "capacity": 1}, {"unit": "S1", "capacity": 5, "kind": "public"}]}
    added = client.post("/api/admissions/campaigns/CC2020/schools", json=schools, headers=headers)
    assert added.status_code == 201
    step = "/api/admissions/campaigns/CC2020/steps/"
    assert client.post(step + "open", json={}, headers=headers).status_code == 200
    for n in range(3):
        made = client.post("/api/admissions/campaigns/CC2020/applicants", headers=headers, json={
            "name": f"李{n}", "id_number": f"3101012019010100{n}", "birth_date": "2019-01-01",
            "district": "D1",
            "catchment": "S1", "choices": ["P1"]})
        assert made.status_code == 201, made.text
    assert client.post(step + "draw", json={"sources": ["x"]}, headers=headers).status_code == 409
    assert client.post(step + "freeze", json={}, headers=headers).status_code == 200
    assert client.post(step + "draw", json={"sources": ["42"]}, headers=headers).status_code == 200
    assert client.post(step + "publish", json={}, headers=headers).status_code == 200
    assert client.post(step + "place", json={"sources": ["43"]}, headers=headers).status_code == 409
    frozen = client.post(step + "freeze_placement", json={"mechanism": "deferred-acceptance"},
                         headers=headers)
    assert frozen.status_code == 200, frozen.text
    shown = client.get("/api/admissions/public/CC2020").json()
    assert shown["placement_digest"] == frozen.json()["pool_digest"]
    placed = client.post(step + "place", json={"sources": ["43"]}, headers=headers)
    assert placed.status_code == 200, placed.text
    assert placed.json()["pool_digest"] == frozen.json()["pool_digest"]
    shown = client.get("/api/admissions/public/CC2020").json()
    assert shown["lottery_schools"] == 1 and shown["status"] == "placement"


def test_a_csv_of_applicants_through_the_api(client: Any, conn: Connection) -> None:
    world(conn)
    code = campaign(conn)
    headers = token_for(conn, make_user(conn, "d1", role="district_staff", capture=["D1"]))
    url = f"/api/admissions/campaigns/{code}/applicants/import"
    mine = applicants_csv("A-0001,王一,310101201305170011,2013-05-17,D1,1,S1,,P1;P2")
    dry = client.post(url, params={"dry_run": "true"}, content=mine, headers=headers)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True, dry.text
    assert client.post(url, content=GOOD, headers=headers).status_code in (403, 404)  # rows of D2
    bad = client.post(url, content=applicants_csv("A-1,王,12,2013-05-17,D1,1,S1,,P1"), headers=headers)
    assert bad.status_code == 422 and bad.json()["problems"][0]["row"] == 2
    assert "王" not in bad.text
    done = client.post(url, files={"file": ("a.csv", mine, "text/csv")}, headers=headers)
    assert done.status_code == 200 and done.json()["numbers"] == ["A-0001"]


@pytest.mark.slow
def test_the_2020_demo_draw_gives_the_shares_of_the_report(conn: Connection, tmp_path: Path) -> None:
    from jiaowei.admissions import demo
    from jiaowei.demo import shanghai2020

    shanghai2020.load(conn)
    loaded = demo.load(conn, home=tmp_path, secret_key=SECRET)
    assert loaded["campaigns"] == {"SH2020-P1": (74, 84, 88.1), "SH2020-J6": (85, 110, 77.27)}
    for code in loaded["campaigns"]:
        assert proof.verify(tmp_path / "lottery" / code / "lottery") == []
        assert proof.verify(tmp_path / "lottery" / code / "placement") == []
        summary = queries.campaign(conn, code=code)
        assert summary.status == "placement" and len(summary.placement_digest) == 64
        assert len(summary.fallback) == 16  # every district places its own children
        public = [s for s in summary.schools if s.kind == "public"]
        placed = sum(s.cutoff.admitted for s in public if s.cutoff)
        assert public and placed == loaded["placement"][code]["placed"] > 0


# ---------------------------------------------------------------- staff forms: CSV import, schools, fallback

HEADER = "number,name,id_number,birth_date,district,residence_tier,catchment,group_id,choices\n"


def applicants_csv(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


GOOD = applicants_csv("A-0001,王一,310101201305170011,2013-05-17,D1,1,S1,,P1;P2",
                      "A-0002,王二,310101201305170022,2013-05-17,D2,2,S2,T1,P2",
                      ",王三,310101201305170033,2013-05-17,D2,1,S2,T1,")


def count_applicants(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(applicants)) or 0)


def import_csv(conn: Connection, code: str, data: bytes, *, dry_run: bool = False) -> ImportSummary:
    return service.import_applicants(conn, principal=SYSTEM, campaign=code, data=data, secret_key=SECRET,
                                     dry_run=dry_run)


def test_a_dry_run_of_a_csv_registers_nobody(conn: Connection) -> None:
    world(conn)
    code = campaign(conn)
    dry = import_csv(conn, code, GOOD, dry_run=True)
    assert dry == ImportSummary(registered=3, with_choices=2, dry_run=True, numbers=[])
    assert count_applicants(conn) == 0


def test_a_csv_with_wrong_rows_registers_nobody_and_names_each_row(conn: Connection) -> None:
    world(conn)
    code = campaign(conn)
    bad = applicants_csv("A-0001,王一,310101201305170011,2013-13-17,D1,1,S1,,P1",
                         "A-0001,王二,12,2013-05-17,NOPE,x,P1,,S1",
                         "A-0003,王三,310101201305170033,2013-05-17,D2,1,S2,,P1;P1;P2")
    with pytest.raises(ValidationError) as error:
        import_csv(conn, code, bad)
    found = {(p.row, p.field) for p in error.value.problems}
    assert {(2, "birth_date"), (3, "residence_tier"), (4, "choices")} <= found
    assert all(p.row is not None for p in error.value.problems)
    assert count_applicants(conn) == 0


def test_a_csv_with_wrong_columns_names_them(conn: Connection) -> None:
    world(conn)
    code = campaign(conn)
    with pytest.raises(ValidationError) as error:
        import_csv(conn, code, b"name,who\nx,y\n")
    assert {p.field for p in error.value.problems} >= {"who", "id_number", "birth_date", "district"}


def test_a_csv_registers_every_row_with_its_number_group_and_choices(conn: Connection) -> None:
    world(conn)
    code = campaign(conn)
    done = import_csv(conn, code, GOOD)
    assert done.registered == 3 and done.numbers[:2] == ["A-0001", "A-0002"]
    rows = dict(conn.execute(select(applicants.c.number, applicants.c.group_id)).all())
    assert rows["A-0002"] == "T1" and len(rows) == 3
    found = queries.lookup(conn, code=code, number="A-0001", birth_date="2013-05-17", secret_key=SECRET)
    assert [c.school_id for c in found.choices] == ["P1", "P2"]


def test_a_csv_cannot_reuse_application_numbers(conn: Connection) -> None:
    world(conn)
    code = campaign(conn)
    import_csv(conn, code, GOOD)
    with pytest.raises(ValidationError) as error:  # the numbers are taken now
        import_csv(conn, code, GOOD)
    assert {(p.row, p.field) for p in error.value.problems} >= {(2, "number"), (3, "number")}


def test_a_csv_import_keeps_personal_data_out_of_the_audit_log(conn: Connection) -> None:
    world(conn)
    code = campaign(conn)
    import_csv(conn, code, GOOD)
    audit = " ".join(str(row) for row in conn.execute(text("SELECT * FROM audit_log")).all())
    assert "applicant.import" in audit
    for plain in ("王一", "310101201305170011", "2013-05-17"):
        assert plain not in audit


def test_choices_in_a_csv_wait_for_the_application_stage(conn: Connection) -> None:
    world(conn)
    service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
        code="R2020", year=2020, stage="primary_1", title_zh="登记", title_en="Registration", organiser="SH"))
    service.add_schools(conn, principal=SYSTEM, campaign="R2020",
                        schools=[service.SchoolSpec(unit="P1", capacity=1)])
    with pytest.raises(ValidationError) as error:
        service.import_applicants(conn, principal=SYSTEM, campaign="R2020", data=GOOD, secret_key=SECRET)
    assert "choices" in {p.field for p in error.value.problems}


def staff_page(client: Any, conn: Connection) -> tuple[str, str]:
    """A campaign open for applications, and the CSRF token of its organiser's logged-in session."""
    world(conn)
    code = campaign(conn)
    user = make_user(conn, "boss", role="commission_staff", capture=["SH"])
    return code, login(client, user.username)


def test_the_campaign_page_adds_a_school_program_with_its_districts(client: Any, conn: Connection) -> None:
    code, csrf = staff_page(client, conn)
    page = client.get(f"/admissions/{code}")
    assert page.status_code == 200 and 'action="/admissions/C2020/applicants/import"' in page.text
    added = client.post(f"/admissions/{code}/schools", follow_redirects=False, data={
        "csrf_token": csrf, "unit": "S3X", "capacity": "5", "kind": "public"})
    assert added.status_code == 404 or added.status_code == 422
    added = client.post(f"/admissions/{code}/schools", follow_redirects=False, data={
        "csrf_token": csrf, "unit": "S1", "capacity": "four", "kind": "public", "program": "boarding"})
    assert added.status_code == 422 and "capacity" in added.text
    added = client.post(f"/admissions/{code}/schools", follow_redirects=False, data={
        "csrf_token": csrf, "unit": "S1", "capacity": "4", "kind": "public", "program": "boarding",
        "districts": "D1, D2"})
    assert added.status_code == 303, added.text
    summary = queries.campaign(conn, code=code)
    boarding = next(s for s in summary.schools if s.school_id == "S1/boarding")
    assert (boarding.districts, boarding.capacity) == (["D1", "D2"], 4)


def test_the_campaign_page_sets_a_fallback_order_of_public_schools(client: Any, conn: Connection) -> None:
    code, csrf = staff_page(client, conn)
    service.add_schools(conn, principal=SYSTEM, campaign=code, schools=[
        service.SchoolSpec(unit="S1", capacity=4, kind="public", program="boarding", districts=("D1", "D2"))])
    fallback = client.post(f"/admissions/{code}/fallback", follow_redirects=False, data={
        "csrf_token": csrf, "district": "D1", "schools": "S1/boarding\nP1"})
    assert fallback.status_code == 422 and "P1" in fallback.text
    fallback = client.post(f"/admissions/{code}/fallback", follow_redirects=False, data={
        "csrf_token": csrf, "district": "D1", "schools": "S1/boarding\nS1"})
    assert fallback.status_code == 303
    assert queries.campaign(conn, code=code).fallback["D1"] == ["S1/boarding", "S1"]


def test_the_campaign_page_imports_a_csv_after_a_dry_run(client: Any, conn: Connection) -> None:
    code, csrf = staff_page(client, conn)
    url = f"/admissions/{code}/applicants/import"
    bad = applicants_csv("A-1,王一,310101201305170011,2013-05-17,D9,1,S1,,P1")
    failed = client.post(url, data={"csrf_token": csrf}, files={"file": ("a.csv", bad, "text/csv")})
    assert failed.status_code == 422 and "D9" in failed.text and "a.csv" in failed.text
    dry = client.post(url, data={"csrf_token": csrf, "dry_run": "on"},
                      files={"file": ("a.csv", GOOD, "text/csv")})
    assert dry.status_code == 200 and 'data-testid="import-summary"' in dry.text
    assert count_applicants(conn) == 0
    done = client.post(url, data={"csrf_token": csrf}, files={"file": ("a.csv", GOOD, "text/csv")})
    assert done.status_code == 200 and 'data-testid="import-summary"' in done.text  # the job's page
    assert "王一" in client.get(f"/admissions/{code}").text  # the campaign lists them
    assert count_applicants(conn) == 3
    empty = client.post(url, data={"csrf_token": csrf}, files={"file": ("a.csv", b"", "text/csv")})
    assert empty.status_code == 422


def test_a_change_after_the_placement_freeze_stops_the_placement(conn: Connection, tmp_path: Path) -> None:
    code, _made = drawn(conn, tmp_path)
    service.freeze_placement(conn, principal=SYSTEM, campaign=code, home=tmp_path)
    conn.execute(applicants.update().where(applicants.c.status != "admitted").values(residence_tier=5))
    with pytest.raises(IntegrityError):
        service.place(conn, principal=SYSTEM, campaign=code, sources=SOURCES, home=tmp_path)
