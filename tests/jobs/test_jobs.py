"""Imports in the web UI run as jobs: start → poll → done, on both databases, through pages and API.

These run inline (the test's rolled-back transaction is one connection); ``test_threads.py`` runs
the same through worker threads on committed databases.
"""

from __future__ import annotations

import datetime as dt
import json

from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from jiaowei import clock
from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.store import data_values
from jiaowei.jobs import service
from jiaowei.jobs.model import Outcome, Progress
from jiaowei.registry import queries
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.factories import indicator_metadata, indicator_setup, login, make_user, small_tree
from tests.jobs.helpers import start, wait_for
from tests.pages_helpers import visible_text

GOOD = ("code,name_zh,name_en,type,parent,valid_from\n"
        "N1,新一小学,New One,primary_school,D1,2020-09-01\n"
        "N2,新二小学,New Two,primary_school,D2,2020-09-01\n").encode()
BAD = GOOD + "N3,坏学校,Castle,castle,D1,2020-09-01\n".encode()
HTML = {"accept": "text/html"}
EN = {**HTML, "accept-language": "en"}


def _units(conn: Connection, q: str = "New") -> int:
    return queries.list_units(conn, principal=SYSTEM, q=q).total


def _import_units(client: TestClient, csrf: str, body: bytes, **data: str) -> str:
    return start(client, "/units/import", data={"csrf_token": csrf, **data},
                 files={"file": ("units.csv", body, "text/csv")})


def test_a_units_import_runs_as_a_job_and_ends_with_its_counts(client: TestClient, conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(client, "wang")
    job_id = _import_units(client, csrf, GOOD)
    job = wait_for(client, job_id)
    assert job["status"] == "succeeded" and job["kind"] == "units.import" and not job["dryRun"]
    assert {c["label"]: c["value"] for c in job["counts"]} == {"Created": 2, "Changed": 0, "Unchanged": 0,
                                                               "Closed": 0}
    assert job["percent"] == 100 and job["filename"] == "units.csv" and job["page"] == f"/jobs/{job_id}"
    assert _units(conn) == 2
    page = client.get(f"/jobs/{job_id}", headers={**HTML, "accept-language": "zh-CN"})
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "导入完成" in text and "新增 2" in text, text  # Import complete; Created 2
    assert 'href="/units/import"' in page.text and 'data-finished="true"' in page.text


def test_a_dry_run_job_says_so_plainly_and_saves_nothing(client: TestClient, conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(client, "wang")
    job_id = _import_units(client, csrf, GOOD, dry_run="on")
    job = wait_for(client, job_id)
    assert job["status"] == "succeeded" and job["dryRun"] is True
    assert {c["label"]: c["value"] for c in job["counts"]}["Created"] == 2
    assert _units(conn) == 0
    text = visible_text(client.get(f"/jobs/{job_id}", headers=EN).text)
    assert "Dry run: the file is checked, nothing is saved" in text
    assert "Dry run: nothing was saved" in text and "Created 2" in text


def test_a_failed_job_lists_each_problem_translated_and_writes_nothing(client: TestClient,
                                                                       conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(client, "wang")
    job_id = _import_units(client, csrf, BAD)
    job = wait_for(client, job_id)
    assert job["status"] == "failed" and job["counts"] is None
    failure = job["failure"]
    assert failure["status"] == 422 and failure["problemCount"] == 1
    assert [(p["row"], p["field"], p["value"]) for p in failure["problems"]] == [(4, "type", "castle")]
    assert _units(conn) == 0  # the two good rows were not imported either
    assert failure["detail"] == "1 problem in the file; nothing was imported."  # English unless asked
    asked = client.get(f"/api/jobs/{job_id}", params={"lang": "zh_CN"}).json()["failure"]
    assert asked["detail"] == "文件中有 1 个问题；未导入任何内容。" and asked["title"] == "输入有误"
    page = client.get(f"/jobs/{job_id}", headers={**HTML, "accept-language": "zh-CN"})
    assert page.status_code == 422  # what the import itself answers
    text = visible_text(page.text)
    assert "未导入任何数据" in text and "castle" in text, text  # Nothing was imported
    row = next(r for r in page.text.split("<tr>") if "castle" in r)
    assert ">4<" in row and "<code>type</code>" in row


def test_a_failure_while_writing_rolls_back_every_row_written_before_it(client: TestClient,
                                                                        conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(client, "wang")
    before = _units(conn, "S1")
    # N1 opens under D1 on 2020-09-01 (written first); then D1 closes on 2020-06-01 while it has a child:
    # refused while writing, after N1 was written.
    body = ("code,name_zh,name_en,type,parent,valid_from,valid_to\n"
            "N1,新一小学,New One,primary_school,D1,2020-09-01,\n"
            "D1,,,,,,2020-06-01\n").encode()
    job = wait_for(client, _import_units(client, csrf, body))
    assert job["status"] == "failed", job
    assert _units(conn) == 0 and _units(conn, "S1") == before
    assert queries.get_unit(conn, principal=SYSTEM, code="D1", as_of=clock.today()).code == "D1"


def test_a_job_is_its_owners_alone(client: TestClient, conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "wang")
    make_user(conn, "li")  # an administrator too: still not theirs
    csrf = login(client, "wang")
    job_id = _import_units(client, csrf, GOOD, dry_run="on")
    assert wait_for(client, job_id)["status"] == "succeeded"
    other = TestClient(client.app)
    login(other, "li")
    assert other.get(f"/api/jobs/{job_id}").status_code == 404
    assert other.get(f"/jobs/{job_id}", headers=HTML).status_code == 404
    assert other.get("/api/jobs/nope").status_code == 404
    assert client.get(f"/jobs/{job_id}", headers=HTML).status_code == 200
    assert f'href="/jobs/{job_id}"' in client.get("/jobs", headers=HTML).text  # My imports
    assert f"/jobs/{job_id}" not in other.get("/jobs", headers=HTML).text


def test_a_data_values_job_counts_what_it_imported(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    make_user(conn, "wang")
    csrf = login(client, "wang")
    values = [{"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "15"},
              {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "M",
               "value": "120"}]
    form = {"csrf_token": csrf, "ds": "SCHOOL_Y", "pe": "2020", "ou": "S1"}
    job = wait_for(client, start(client, "/data/entry/upload", data=form, files={
        "file": ("v.json", json.dumps({"dataValues": values}).encode(), "application/json")}))
    assert job["status"] == "succeeded" and job["kind"] == "data.import"
    assert {c["label"]: c["value"] for c in job["counts"]} == {"Imported": 2, "Updated": 0, "Deleted": 0,
                                                               "Ignored": 0}
    assert _stored(conn) == 2
    page = client.get(job["page"], headers=HTML)
    assert 'href="/data/entry?ds=SCHOOL_Y&amp;pe=2020&amp;ou=S1"' in page.text  # back to the form


def test_a_data_values_job_with_a_conflict_writes_nothing(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    make_user(conn, "wang")
    csrf = login(client, "wang")
    values = [{"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "15"},
              {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "many"}]
    job = wait_for(client, start(client, "/data/entry/upload", data={"csrf_token": csrf}, files={
        "file": ("v.json", json.dumps({"dataValues": values}).encode(), "application/json")}))
    assert job["status"] == "failed" and job["failure"]["status"] == 409
    assert [(p["row"], p["value"]) for p in job["failure"]["problems"]] == [(2, "many")]
    assert _stored(conn) == 0
    page = client.get(job["page"], headers=EN)
    assert page.status_code == 409 and "Nothing was imported." in visible_text(page.text)


def test_a_plans_workbook_job(client: TestClient, conn: Connection) -> None:
    from tests.plans.test_workbook import book, count, plan_items

    small_tree(conn)
    indicator_metadata(conn)
    make_user(conn, "staff", role="commission_staff", capture=["SH"])
    csrf = login(client, "staff")
    job_id = start(client, "/plans/import", data={"csrf_token": csrf},
                   files={"file": ("p.xlsx", book(), "application/octet-stream")})
    job = wait_for(client, job_id)
    assert job["status"] == "succeeded" and job["kind"] == "plans.import"
    assert {c["label"]: c["value"] for c in job["counts"]}["Items created"] == 5
    assert count(conn, plan_items) == 5
    refused = client.post("/plans/import", data={"csrf_token": csrf}, files={"file": ("p.xlsx", b"", "x")})
    assert refused.status_code == 422  # no file: refused at once, no job


def test_an_applicants_job_says_what_a_dry_run_would_do(client: TestClient, conn: Connection) -> None:
    from tests.admissions.test_campaign import GOOD as APPLICANTS
    from tests.admissions.test_campaign import campaign, count_applicants, world

    world(conn)
    code = campaign(conn)
    csrf = login(client, make_user(conn, "boss", role="commission_staff", capture=["SH"]).username)
    url = f"/admissions/{code}/applicants/import"
    dry = wait_for(client, start(client, url, data={"csrf_token": csrf, "dry_run": "on"},
                                 files={"file": ("a.csv", APPLICANTS, "text/csv")}))
    assert dry["kind"] == "admissions.applicants.import" and dry["dryRun"] and count_applicants(conn) == 0
    assert dry["counts"][0] == {"label": "Applicants", "value": 3} and "3 applicants would be" in dry["note"]
    done = wait_for(client, start(client, url, data={"csrf_token": csrf},
                                  files={"file": ("a.csv", APPLICANTS, "text/csv")}))
    assert done["status"] == "succeeded" and done["note"] is None and count_applicants(conn) == 3
    again = client.get(done["page"], headers={**HTML, "accept-language": "zh-CN"})
    assert 'href="/admissions/C2020#import-title"' in again.text and "导入完成" in again.text


def test_a_user_who_may_not_import_gets_403_and_no_job(client: TestClient, conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "reader", role="viewer", view=["SH"])
    csrf = login(client, "reader")
    response = client.post("/units/import", data={"csrf_token": csrf}, follow_redirects=False,
                           files={"file": ("units.csv", GOOD, "text/csv")})
    assert response.status_code == 403


def test_a_job_left_running_by_a_stopped_server_is_failed_when_the_app_starts(
        db, settings: Settings, conn: Connection) -> None:
    small_tree(conn)
    user = make_user(conn, "wang")
    job_id = service.create_job(conn, principal=user, kind="units.import", title="Import units",
                                back="/units/import", filename="u.csv", dry_run=False, now=clock.now())
    service.mark_running(conn, job_id=job_id, now=clock.now())
    with TestClient(create_app(settings, database=db)) as restarted:
        login(restarted, "wang")
        job = restarted.get(f"/api/jobs/{job_id}").json()
        page = restarted.get(f"/jobs/{job_id}", headers=EN)
    assert job["status"] == "failed" and "server stopped" in job["failure"]["detail"]
    assert "Start the import again" in visible_text(page.text)


def test_a_job_that_ended_long_ago_is_forgotten_when_the_app_starts(
        db, settings: Settings, conn: Connection) -> None:
    user = make_user(conn, "wang")
    old, recent = (service.create_job(conn, principal=user, kind="units.import", title="Import units",
                                      back="/units/import", filename="u.csv", dry_run=True, now=clock.now())
                   for _ in range(2))
    for job_id, days in ((old, service.KEEP_DAYS + 1), (recent, service.KEEP_DAYS - 1)):
        service.mark_succeeded(conn, job_id=job_id, outcome=Outcome((("Created", 1),)),
                               progress=Progress("done"), now=clock.now() - dt.timedelta(days=days))
    with TestClient(create_app(settings, database=db)) as restarted:
        login(restarted, "wang")
        assert restarted.get(f"/api/jobs/{old}").status_code == 404
        assert restarted.get(f"/api/jobs/{recent}").json()["counts"] == [{"label": "Created", "value": 1}]


def _stored(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(data_values)) or 0)
