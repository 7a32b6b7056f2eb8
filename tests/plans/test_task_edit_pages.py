"""The forms that create a plan and create or edit its items, through the test client on both databases:
commission staff make a plan, a section and a task with supporting units, milestones and linked
indicators, then edit the task; a bad field shows next to its own input and nothing is written; district
users and viewers are refused; the Chinese forms keep no English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.i18n import catalog
from tests.factories import login, make_user
from tests.pages_helpers import visible_text
from tests.plans.tasks_fixtures import Plan, build_plan

SRC = Path(__file__).resolve().parents[2] / "src" / "jiaowei"
LATIN_ALLOWED = {"PTR", "jiaowei", "English", "planner", "YYYY", "MM", "DD"}
TASK = {
    "kind": "task",
    "number": "3",
    "title_zh": "建成普惠托育点",
    "title_en": "Open affordable childcare points",
    "description": "新建托育点",
    "lead_unit": "D1",
    "supporting_units[0]": "S1",
    "supporting_units[1]": "",
    "supporting_units[2]": "D2",
    "owner": "李四",
    "deadline": "2021-12-31",
    "outcome": "",
    "milestones[0].title": "选址",
    "milestones[0].due": "2021-03-31",
    "milestones[0].done_on": "2021-03-20",
    "milestones[1].title": "",
    "milestones[1].due": "",
    "milestones[1].done_on": "",
    "milestones[2].title": "验收",
    "milestones[2].due": "2021-11-30",
    "milestones[2].done_on": "",
    "links[0].indicator": "PTR",
    "links[0].unit": "D1",
    "links[0].period": "2021",
    "links[0].target": "25",
    "links[1].indicator": "",
    "links[1].unit": "",
    "links[1].period": "",
    "links[1].target": "",
    "checkpoints.deploy": "2021-04-10",
    "checkpoints.advance": "2021-07-15",
    "checkpoints.assess": "",
}


@pytest.fixture
def plan(browser: TestClient, conn: Connection) -> Plan:
    made = build_plan(conn)
    make_user(conn, "dstaff", role="district_staff", capture=["D1"])
    make_user(conn, "viewer", role="viewer", view=["SH"])
    return made


def _as(browser: TestClient, username: str, lang: str = "zh_CN") -> str:
    browser.cookies.set("jiaowei_lang", lang)
    return login(browser, username)


def _main(html: str) -> str:
    return visible_text(html[html.index("<main") : html.index("</main>")])


def _value(html: str, name: str) -> str | None:
    found = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', html)
    return found.group(1) if found else None


def _new_task(browser: TestClient, csrf: str, section: str, **changed: str) -> str:
    data = {**TASK, "csrf_token": csrf, "year": "2021", "parent": section, **changed}
    made = browser.post("/plans/tasks/new", data=data, follow_redirects=False)
    assert made.status_code == 303, made.text
    location = made.headers["location"]
    assert re.fullmatch(r"/plans/tasks/\w+", location), location
    return location.rsplit("/", 1)[-1]


def _new_plan_and_section(browser: TestClient, csrf: str) -> str:
    made = browser.post(
        "/plans/new",
        data={"csrf_token": csrf, "year": "2021", "title_zh": "2021年工作要点", "title_en": "Key tasks 2021"},
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == "/plans?year=2021", made.text
    form = browser.get("/plans/tasks/new", params={"year": "2021", "kind": "section"})
    assert form.status_code == 200 and 'id="lead_unit"' not in form.text  # a section has no units
    section = browser.post(
        "/plans/tasks/new",
        data={
            "csrf_token": csrf,
            "year": "2021",
            "kind": "section",
            "parent": "",
            "number": "一",
            "title_zh": "民生",
            "title_en": "Livelihoods",
        },
        follow_redirects=False,
    )
    assert section.status_code == 303, section.text
    found = re.fullmatch(r"/plans/tasks/new\?year=2021&parent=(\w+)&kind=task", section.headers["location"])
    assert found, section.headers  # next: the section's first task
    return found.group(1)


def test_commission_staff_create_a_plan_a_section_and_a_task_then_edit_it(
    browser: TestClient, plan: Plan
) -> None:
    csrf = _as(browser, "planner")
    assert "/plans/new" in browser.get("/plans", params={"year": "2020"}).text
    again = browser.post("/plans/new", data={"csrf_token": csrf, "year": "2020", "title_zh": "重复"})
    assert again.status_code == 409 and 'id="year-error"' in again.text and "该年度已有计划" in again.text
    section = _new_plan_and_section(browser, csrf)
    form = browser.get("/plans/tasks/new", params={"year": "2021", "parent": section, "kind": "task"}).text
    assert f'<option value="{section}" selected>' in form and '<datalist id="plan-units">' in form
    assert '<option value="PTR">' in form and _value(form, "checkpoints.deploy") == "2021-03-31"
    uid = _new_task(browser, csrf, section)

    page = browser.get(f"/plans/tasks/{uid}", params={"as_of": "2021-05-01"}).text
    text = _main(page)
    for word in (
        "建成普惠托育点",
        "单位D1",
        "单位S1",
        "单位D2",
        "李四",
        "2021-12-31",
        "选址",
        "验收",
        "2021-03-20",
    ):
        assert word in text, word
    assert 'id="task-version">1<' in page and f'href="/plans/tasks/{uid}/edit"' in page
    assert f"parent={uid}&amp;kind=subtask" in page  # add a sub-task
    assert "2021-04-10" in text and "25" in text  # the deploy checkpoint moved; the link's target

    edit = browser.get(f"/plans/tasks/{uid}/edit").text
    assert _value(edit, "title_zh") == "建成普惠托育点" and _value(edit, "lead_unit") == "D1"
    assert _value(edit, "supporting_units[0]") == "D2" and _value(edit, "supporting_units[1]") == "S1"
    assert _value(edit, "milestones[1].title") == "验收" and _value(edit, "milestones[4].title") == ""
    assert _value(edit, "links[0].target") == "25" and '<option value="PTR" selected>' in edit
    assert _value(edit, "checkpoints.deploy") == "2021-04-10"
    changed = {
        **TASK,
        "csrf_token": csrf,
        "parent": section,
        "title_zh": "建成53个普惠托育点",
        "milestones[2].done_on": "2021-11-25",
        "links[0].target": "",
        "supporting_units[2]": "",
    }  # D2 no longer supports
    saved = browser.post(f"/plans/tasks/{uid}/edit", data=changed, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/plans/tasks/{uid}", saved.text
    page = browser.get(f"/plans/tasks/{uid}", params={"as_of": "2021-12-01"}).text
    assert 'id="task-version">2<' in page and "建成53个普惠托育点" in _main(page)
    assert "2021-11-25" in _main(page) and "单位D2" not in _main(page)
    assert _value(browser.get(f"/plans/tasks/{uid}/edit").text, "links[0].target") == ""

    heading = browser.get(f"/plans/tasks/{section}/edit").text
    assert _value(heading, "title_zh") == "民生" and 'id="lead_unit"' not in heading
    renamed = browser.post(
        f"/plans/tasks/{section}/edit",
        data={"csrf_token": csrf, "kind": "section", "parent": "", "number": "一", "title_zh": "保障民生"},
        follow_redirects=False,
    )
    assert renamed.status_code == 303 and renamed.headers["location"] == "/plans?year=2021"
    assert "一 保障民生" in _main(browser.get(renamed.headers["location"]).text)

    sub = browser.get("/plans/tasks/new", params={"year": "2021", "parent": uid, "kind": "subtask"})
    assert sub.status_code == 200 and f'<option value="{uid}" selected>' in sub.text


def test_a_bad_field_shows_next_to_its_input_and_nothing_is_written(browser: TestClient, plan: Plan) -> None:
    csrf = _as(browser, "planner")
    section = _new_plan_and_section(browser, csrf)
    uid = _new_task(browser, csrf, section)
    bad = {
        **TASK,
        "csrf_token": csrf,
        "parent": section,
        "title_zh": "改过的标题",
        "deadline": "2021-13-01",
        "milestones[0].title": "",
        "milestones[0].due": "",
        "milestones[0].done_on": "",
        "milestones[1].title": "中期",
        "milestones[1].due": "年中",
        "lead_unit": "NOSUCH",
        "links[1].indicator": "PTR",
        "links[1].target": "五十",
    }
    refused = browser.post(f"/plans/tasks/{uid}/edit", data=bad)
    assert refused.status_code == 422, refused.text
    html = refused.text
    for id_ in ("deadline-error", "milestones-1-due-error", "lead_unit-error", "links-1-target-error"):
        assert f'id="{id_}"' in html, id_
    assert 'id="milestones-0-due-error"' not in html  # the blank row (the service's first) is not blamed
    assert 'aria-invalid="true"' in html and 'class="alert alert--error"' in html
    assert _value(html, "title_zh") == "改过的标题" and _value(html, "milestones[1].due") == "年中"
    assert _value(html, "lead_unit") == "NOSUCH"  # the form keeps what was typed
    page = browser.get(f"/plans/tasks/{uid}").text
    assert "建成普惠托育点" in _main(page) and "改过的标题" not in page and 'id="task-version">1<' in page

    no_title = browser.post(
        "/plans/tasks/new",
        data={**TASK, "csrf_token": csrf, "year": "2021", "parent": section, "title_zh": " "},
    )
    assert no_title.status_code == 422 and 'id="title_zh-error"' in no_title.text
    no_parent = browser.post(
        "/plans/tasks/new", data={**TASK, "csrf_token": csrf, "year": "2021", "parent": ""}
    )
    assert no_parent.status_code == 422 and 'id="parent-error"' in no_parent.text
    board = _main(browser.get("/plans", params={"year": "2021", "as_of": "2021-02-01"}).text)
    assert board.count("建成普惠托育点") == 1


@pytest.mark.parametrize("who", ["dstaff", "viewer"])
def test_district_users_and_viewers_are_refused_the_forms(browser: TestClient, plan: Plan, who: str) -> None:
    csrf = _as(browser, who)
    assert browser.get("/plans/new").status_code == 403
    assert (
        browser.post("/plans/new", data={"csrf_token": csrf, "year": "2031", "title_zh": "x"}).status_code
        == 403
    )
    assert browser.get("/plans/tasks/new", params={"year": "2020"}).status_code == 403
    data = {**TASK, "csrf_token": csrf, "year": "2020", "parent": plan.education, "lead_unit": "D1"}
    assert browser.post("/plans/tasks/new", data=data).status_code == 403
    assert browser.get(f"/plans/tasks/{plan.task1}/edit").status_code == 403
    assert browser.post(f"/plans/tasks/{plan.task1}/edit", data=data).status_code == 403
    task = browser.get(f"/plans/tasks/{plan.task1}").text
    board = browser.get("/plans", params={"year": "2020"}).text
    assert "/edit" not in task and "/plans/tasks/new" not in task + board and "/plans/new" not in board
    assert "建成托育点" in _main(task)  # unchanged: version 1
    assert 'id="task-version">1<' in task


def test_the_forms_speak_both_languages(browser: TestClient, plan: Plan) -> None:
    csrf = _as(browser, "planner")
    pages = [
        browser.get("/plans/new").text,
        browser.get("/plans/tasks/new", params={"year": "2020", "kind": "section"}).text,
        browser.get("/plans/tasks/new", params={"year": "2020", "parent": plan.education}).text,
        browser.get(f"/plans/tasks/{plan.task1}/edit").text,
        browser.get("/plans", params={"year": "2020"}).text,
        browser.post(
            f"/plans/tasks/{plan.task1}/edit",
            data={**TASK, "csrf_token": csrf, "parent": plan.education, "deadline": "2020-02-30"},
        ).text,
    ]
    for html in pages:
        text = re.sub(r"<code>.*?</code>", " ", html[html.index("<main") : html.index("</main>")], flags=re.S)
        words = set(re.findall(r"[A-Za-z]{2,}", visible_text(text))) - LATIN_ALLOWED
        assert not words, words
    assert "新建计划" in _main(pages[0]) and "配合单位 1" in _main(pages[3]) and "不是日期" in pages[5]
    _as(browser, "planner", "en")
    english = _main(browser.get(f"/plans/tasks/{plan.task1}/edit").text)
    assert "Supporting unit 1" in english and "Linked indicators" in english and "Milestones" in english


def test_every_string_of_the_forms_has_a_chinese_translation() -> None:
    zh = catalog("zh_CN")
    messages: set[str] = set()
    for name in ("plans_edit_plan.html", "plans_edit_item.html", "plans_board.html", "plans_task.html"):
        messages |= {found[1] for found in extract_from_file("jinja2", SRC / "plans" / "templates" / name)}
    messages |= {
        found[1]
        for found in extract_from_file(
            "python",
            SRC / "plans" / "tasks" / "edit_pages.py",
            keywords={"N_": None, "_": None, "translate": (2,)},
        )
    }
    missing = sorted(m for m in messages if isinstance(m, str) and m not in zh)
    assert len(messages) > 40 and not missing, f"untranslated: {missing}"
