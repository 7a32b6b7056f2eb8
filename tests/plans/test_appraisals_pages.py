"""The appraisal pages on both databases: a manager makes a template and a round through the forms,
a reviewer scores through the scoring form (with an evidence file), errors come back on the form,
and after the close the round page shows ranks, grades and both charts, in Chinese and in English."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.factories import indicator_setup, login, make_unit, make_user
from tests.pages_helpers import visible_text

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class Session:
    client: TestClient
    csrf: str

    def get(self, url: str, status: int = 200, **kw: object) -> str:
        response = self.client.get(url, follow_redirects=False, **kw)  # type: ignore[arg-type]
        assert response.status_code == status, response.text[:2000]
        return response.text

    def post(self, url: str, data: dict[str, str | list[str]], status: int = 303, **kw: object) -> str:
        response = self.client.post(url, data={**data, "csrf_token": self.csrf}, follow_redirects=False,
                                    **kw)  # type: ignore[arg-type]
        assert response.status_code == status, response.text[:2000]
        return response.headers.get("location", "") if status == 303 else response.text


def session(client: TestClient, username: str, lang: str = "zh_CN") -> Session:
    other = TestClient(client.app)
    other.headers["accept"] = "text/html"
    csrf = login(other, username)
    other.cookies.set("jiaowei_lang", lang)
    return Session(other, csrf)


@pytest.fixture
def people(client: TestClient, conn: Connection) -> dict[str, Session]:
    indicator_setup(conn)
    make_unit(conn, "S3", parent="D1", name_zh="三校", name_en="School Three")
    make_user(conn, "staff", role="commission_staff", capture=["SH"])
    make_user(conn, "r1", role="viewer")
    make_user(conn, "r2", role="viewer")
    make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    return {name: session(client, name) for name in ("staff", "r1", "r2", "d1staff")}


def uids(html: str, pattern: str) -> list[str]:
    return re.findall(pattern, html)


def make_round(staff: Session) -> str:
    form = {"name_zh": "高校党委年度述职评议", "name_en": "Annual review", "excellent": "90", "good": "80",
            "fair": "60", "name_zh-1": "党建引领", "name_en-1": "Party leadership", "weight-1": "40",
            "min-1": "0", "max-1": "40", "name_zh-2": "事业发展", "name_en-2": "Development",
            "weight-2": "60", "min-2": "0", "max-2": "60"}
    assert staff.post("/plans/appraisals/templates/new", form) == "/plans/appraisals"
    listing = staff.get("/plans/appraisals")
    assert "高校党委年度述职评议" in listing and "党建引领" in listing
    template = uids(staff.get("/plans/appraisals/new"), r'<option value="(\w{11})"')[0]
    location = staff.post("/plans/appraisals/new", {
        "template": template, "year": "2020", "deadline": "2099-12-31", "title_zh": "2020年度述职评议",
        "title_en": "2020 annual review", "subjects": "S1 : r1 r2\nS2\nS3 张书记", "reviewers": "r1",
        "dataElement": "RATE"})
    assert location.startswith("/plans/appraisals/")
    return location.rsplit("/", 1)[1]


def score(reviewer: Session, round_uid: str, unit_name: str, party: str, work: str, status: int = 303,
          files: dict[str, tuple[str, bytes, str]] | None = None) -> str:
    page = reviewer.get(f"/plans/appraisals/{round_uid}")
    subject = re.search(rf'/subjects/(\w{{11}})">{unit_name}', page)
    assert subject, page
    form_page = reviewer.get(f"/plans/appraisals/{round_uid}/subjects/{subject.group(1)}")
    party_id, work_id = uids(form_page, r'name="score-(\w{11})"')
    data = {f"score-{party_id}": party, f"comment-{party_id}": "材料翔实", f"score-{work_id}": work}
    files = {f"evidence-{party_id}": files["evidence"]} if files else None
    return reviewer.post(f"/plans/appraisals/{round_uid}/subjects/{subject.group(1)}", data, status,
                         files=files)


def test_a_round_from_the_forms_to_its_results(people: dict[str, Session]) -> None:
    staff, r1, r2 = people["staff"], people["r1"], people["r2"]
    round_uid = make_round(staff)
    progress = visible_text(staff.get(f"/plans/appraisals/{round_uid}"))
    assert "r1 0/2" in progress and "r2 0/2" in progress and "单位S2" in progress
    # the reviewer's form: a score outside the scale comes back naming subject, criterion and range
    refused = score(r1, round_uid, "单位S1", "41", "50", status=422)
    assert "单位S1 · 党建引领: 0–40" in refused and "超出" in visible_text(refused)
    assert score(r1, round_uid, "单位S1", "36", "54",
                 files={"evidence": ("材料.png", PNG, "image/png")}) == f"/plans/appraisals/{round_uid}"
    assert score(r2, round_uid, "单位S1", "30", "48") == f"/plans/appraisals/{round_uid}"
    score(r1, round_uid, "单位S2", "40", "60")
    score(r1, round_uid, "三校 · 张书记", "20", "30")
    mine = r2.get(f"/plans/appraisals/{round_uid}")
    assert "单位S2" not in mine and "单位S1" in mine  # only r2's own assignment
    reviewer_form = r1.get(f"/plans/appraisals/{round_uid}/subjects/"
                           + re.findall(r"/subjects/(\w{11})", r1.get(f"/plans/appraisals/{round_uid}"))[0])
    assert 'value="36"' in reviewer_form and "材料.png" in reviewer_form, visible_text(reviewer_form)
    # managers see who has scored, no score
    open_page = staff.get(f"/plans/appraisals/{round_uid}")
    assert "r1 2/2" in visible_text(open_page) and "r2 2/2" in visible_text(open_page)
    assert 'id="results"' not in open_page and "材料翔实" not in open_page
    assert staff.post(f"/plans/appraisals/{round_uid}/close", {}) == f"/plans/appraisals/{round_uid}"
    closed = staff.get(f"/plans/appraisals/{round_uid}")
    text = visible_text(closed)
    # S2 100.00 优秀 rank 1; S1 (33 of 40, 51 of 60) 84.00 良好 rank 2; 张书记 (20, 30) 50.00 较差 rank 3
    rows = re.findall(r"<tr>\s*<td[^>]*>(\d)</td>\s*<th[^>]*>([^<]+)</th>.*?(\d+\.\d\d)</td>\s*<td[^>]*>"
                      r"<span[^>]*>([^<]+)</span>", closed, re.S)
    assert [(rank, name.strip(), total, grade) for rank, name, total, grade in rows] == [
        ("1", "单位S2", "100.00", "优秀"), ("2", "单位S1", "84.00", "良好"),
        ("3", "三校 · 张书记", "50.00", "较差")]
    charts = [json.loads(c.replace("&#34;", '"').replace("&#39;", "'"))
              for c in re.findall(r"data-chart='([^']+)'", closed)]
    assert [c["kind"] for c in charts] == ["bar", "pie"]
    assert charts[0]["series"][0]["data"] == [100.0, 84.0, 50.0]
    assert charts[1]["categories"] == ["优秀", "良好", "一般", "较差"]
    assert charts[1]["series"][0]["data"] == [1, 1, 0, 1]
    assert "等级分布" in text and "材料.png" in text  # the evidence, for the manager, once closed


def test_the_round_page_speaks_english(client: TestClient, people: dict[str, Session]) -> None:
    round_uid = make_round(people["staff"])
    score(people["r1"], round_uid, "单位S2", "40", "60")
    people["staff"].post(f"/plans/appraisals/{round_uid}/close", {})
    english = session(client, "staff", lang="en")
    text = visible_text(english.get(f"/plans/appraisals/{round_uid}"))
    for words in ("Results", "Weighted total", "Excellent", "Grade distribution", "Incomplete", "Rank"):
        assert words in text
    assert "Appraisals" in visible_text(english.get("/plans/appraisals"))


def test_the_forms_show_their_errors_and_refuse_those_who_may_not(people: dict[str, Session]) -> None:
    staff, d1 = people["staff"], people["d1staff"]
    bad = staff.post("/plans/appraisals/templates/new", {"name_zh": "", "name_zh-1": "甲", "weight-1": "0"},
                     422)
    assert 'aria-invalid="true"' in bad and "权重" in visible_text(bad)
    round_uid = make_round(staff)
    template = uids(staff.get("/plans/appraisals/new"), r'<option value="(\w{11})"')[0]
    refused = staff.post("/plans/appraisals/new", {"template": template, "year": "2020", "title_zh": "x",
                                                   "deadline": "2020-12-31", "subjects": "NOPE: ghost"}, 422)
    assert "NOPE" in refused and "ghost" in refused
    d1.get("/plans/appraisals/new", 403)
    d1.get("/plans/appraisals/templates/new", 403)
    d1.get(f"/plans/appraisals/{round_uid}", 404)  # open, and not theirs to review
    d1.post(f"/plans/appraisals/{round_uid}/close", {}, 403)
    assert round_uid not in d1.get("/plans/appraisals")


def test_the_round_form_offers_units_people_and_elements_in_scope_by_name(
        client: TestClient, conn: Connection, people: dict[str, Session]) -> None:
    make_round(people["staff"])  # a template to choose
    make_user(conn, "d1boss", role="commission_staff", capture=["D1"])
    make_user(conn, "s2rep", role="unit_reporter", capture=["S2"])
    boss = session(client, "d1boss")
    form = boss.get("/plans/appraisals/new")
    units = re.search(r'<select id="subject_units"[^>]*>(.*?)</select>', form, re.S)
    assert units is not None
    assert re.findall(r'<option value="(\w+)">([^<]+)</option>', units.group(1)) == [
        ("D1", "单位D1 (D1)"), ("S1", "单位S1 (S1)"), ("S3", "三校 (S3)")]  # nothing of D2 or S2
    reviewers = re.search(r'<select id="reviewers"[^>]*>(.*?)</select>', form, re.S)
    assert reviewers is not None
    offered = re.findall(r'<option value="(\w+)">', reviewers.group(1))
    assert {"r1", "r2", "d1staff", "d1boss"} <= set(offered)
    assert "s2rep" not in offered and "staff" not in offered  # their scopes lie outside D1
    elements = re.search(r'<select id="dataElement"[^>]*>(.*?)</select>', form, re.S)
    assert elements is not None
    assert re.findall(r'<option value="(\w*)">', elements.group(1)) == ["", "PUPILS", "RATE", "TEACHERS"]
    template = uids(form, r'<option value="(\w{11})"')[0]
    made = boss.post("/plans/appraisals/new", {
        "template": template, "year": "2020", "deadline": "2099-12-31", "title_zh": "区内述职评议",
        "subject_units": ["S1", "S3"], "leader_unit-1": "S1", "leader-1": "李校长", "reviewers": ["r1", "r2"],
        "dataElement": "RATE"})
    shown = visible_text(boss.get(made))
    for words in ("单位S1", "三校", "单位S1 · 李校长"):
        assert words in shown, words
    assert shown.count("r1 0/2") == 3 and shown.count("r2 0/2") == 3  # each reviews the three subjects
    refused = boss.post("/plans/appraisals/new", {
        "template": template, "year": "2020", "deadline": "2099-12-31", "title_zh": "x",
        "subject_units": ["S2"], "reviewers": ["r1"]}, 422)
    assert "S2" in refused and re.search(r'<option value="r1" selected>', refused)
