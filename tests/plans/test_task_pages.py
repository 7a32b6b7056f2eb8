"""The key tasks pages through the test client, on both databases: the board, a task's page and "my
tasks" for each role, the forms each role is shown, the forms' errors next to their fields, and both
languages (the Chinese pages keep no English)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.i18n import catalog, translate
from jiaowei.plans.tasks.model import STATUS_LABELS, Status
from tests.factories import login, make_user
from tests.pages_helpers import visible_text
from tests.plans.tasks_fixtures import PDF, Plan, build_plan, post_values

SRC = Path(__file__).resolve().parents[2] / "src" / "jiaowei"
LATE = translate("zh_CN", STATUS_LABELS[Status.LATE])
MID_YEAR = "2020-07-20"  # deploy (03-31) and advance (07-15) checkpoints are past; the assess one is not
# Latin words a Chinese page may show: file types, indicator and unit codes, user names, the language switch
LATIN_ALLOWED = {
    "PDF",
    "pdf",
    "Word",
    "Excel",
    "MB",
    "PTR",
    "jiaowei",
    "English",
    "planner",
    "dstaff",
    "viewer",
    "admin",
}


@pytest.fixture
def plan(browser: TestClient, conn: Connection) -> Plan:
    made = build_plan(conn)
    post_values(browser, conn)
    make_user(conn, "dstaff", role="district_staff", capture=["D1"])
    make_user(conn, "viewer", role="viewer", view=["SH"])
    make_user(conn, "admin")
    return made


def _as(browser: TestClient, username: str, lang: str = "zh_CN") -> str:
    browser.cookies.set("jiaowei_lang", lang)
    return login(browser, username)


def _main(html: str) -> str:
    return visible_text(html[html.index("<main") : html.index("</main>")])


def _forms(html: str) -> set[str]:
    """Which of the task page's forms the page shows."""
    found = set()
    for action in re.findall(r'<form method="post" action="([^"]+)"', html):
        found.add(action.rsplit("/", 1)[-1])
    return found - {"language", "logout"}


@pytest.mark.parametrize(
    ("who", "seen", "hidden"),
    [
        ("planner", ["建成托育点", "选址", "公共卫生"], []),
        ("admin", ["建成托育点", "选址", "公共卫生"], []),
        ("dstaff", ["建成托育点", "选址"], ["公共卫生"]),
        ("viewer", ["建成托育点", "选址", "公共卫生"], []),
    ],
)
def test_the_board_shows_each_role_the_tasks_in_its_scope(
    browser: TestClient, plan: Plan, who: str, seen: list[str], hidden: list[str]
) -> None:
    _as(browser, who)
    for by in ("section", "unit", "status"):
        response = browser.get("/plans", params={"year": "2020", "by": by, "as_of": MID_YEAR})
        assert response.status_code == 200, response.text
        text = _main(response.text)
        assert "2020年工作要点" in text
        assert all(word in text for word in seen), (by, text)
        assert not any(word in text for word in hidden), (by, text)
    assert 'id="section-chart"' in response.text and 'id="status-chart"' in response.text
    assert 'id="unit-chart"' in response.text and "/static/vendor/echarts/echarts.min.js" in response.text


def test_the_board_groups_by_section_lead_unit_and_status(browser: TestClient, plan: Plan) -> None:
    _as(browser, "planner")
    by_section = _main(browser.get("/plans", params={"by": "section", "as_of": MID_YEAR}).text)
    assert re.search(r"一 教育 \(2\).*建成托育点.*选址.*二 卫生 \(1\).*公共卫生", by_section)
    by_unit = _main(browser.get("/plans", params={"by": "unit", "as_of": MID_YEAR}).text)
    assert re.search(r"单位D1 \(1\).*建成托育点.*单位D2 \(1\).*公共卫生.*单位S1 \(1\).*选址", by_unit)
    by_status = browser.get("/plans", params={"by": "status", "as_of": MID_YEAR}).text
    # task 2 is past its deadline (06-30); the others missed their checkpoints: all three late
    assert re.search(LATE + r" \(3\)", _main(by_status))
    assert by_status.count('class="status status--late"') >= 3
    # the year defaults to the as-of day's year; an unknown view shows the sections
    assert "一 教育" in _main(browser.get("/plans", params={"by": "nonsense", "as_of": MID_YEAR}).text)


def test_the_board_counts_the_reminders_of_the_users_own_tasks(browser: TestClient, plan: Plan) -> None:
    _as(browser, "dstaff")
    html = browser.get("/plans", params={"as_of": MID_YEAR}).text
    # task 1 and (1): deploy and advance checkpoints overdue each; task 1's milestone 验收 is not yet due
    count = re.search(r'id="reminder-count">(\d+)<', html)
    assert count and int(count.group(1)) == 4
    later = browser.get("/plans", params={"as_of": "2020-11-20"}).text
    count = re.search(r'id="reminder-count">(\d+)<', later)
    assert count and int(count.group(1)) == 5  # the milestone 验收 (11-30) is now due within two weeks


@pytest.mark.parametrize(
    ("who", "forms"),
    [
        ("planner", {"report", "status"}),  # commission staff: capture SH, so it may report too
        ("admin", {"report", "status"}),
        ("dstaff", {"report"}),
        ("viewer", set()),
    ],
)
def test_the_task_page_shows_each_role_its_forms(
    browser: TestClient, plan: Plan, who: str, forms: set[str]
) -> None:
    _as(browser, who)
    response = browser.get(f"/plans/tasks/{plan.task1}", params={"as_of": MID_YEAR})
    assert response.status_code == 200
    assert _forms(response.text) == forms
    text = _main(response.text)
    for word in (
        "建成托育点",
        "单位D1",
        "单位S1",
        "张三",
        "2020-12-31",
        "方案",
        "验收",
        "年初部署",
        "年中推进",
        "年底考核",
        "PTR",
        "25",
    ):
        assert word in text or word in response.text, word
    assert LATE in text  # the checkpoints are overdue on 2020-07-20


def test_a_task_outside_the_scope_is_not_found(browser: TestClient, plan: Plan) -> None:
    _as(browser, "dstaff")
    assert browser.get(f"/plans/tasks/{plan.task2}").status_code == 404
    assert browser.get("/plans/tasks/nosuchtask").status_code == 404
    refused = browser.post(
        f"/plans/tasks/{plan.task2}/report",
        data={"csrf_token": _as(browser, "dstaff"), "stage": "advance", "percent": "50", "narrative": "x"},
    )
    assert refused.status_code == 404


def test_a_lead_unit_reports_and_the_commission_marks_the_task_at_risk(
    browser: TestClient, plan: Plan
) -> None:
    csrf = _as(browser, "dstaff")
    sent = browser.post(
        f"/plans/tasks/{plan.task1}/report",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "as_of": MID_YEAR,
            "stage": "advance",
            "percent": "40",
            "narrative": "已完成选址",
        },
        files=[("evidence", ("进展.pdf", PDF, "application/pdf"))],
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/plans/tasks/{plan.task1}?as_of={MID_YEAR}#timeline-title"
    page = browser.get(sent.headers["location"]).text
    assert "已完成选址" in page and "40%" in page and "待审核" in _main(page)
    link = re.search(r'<a href="(/plans/evidence/[^"]+)" download>进展.pdf</a>', page)
    assert link, page
    assert browser.get(link.group(1)).content == PDF

    csrf = _as(browser, "planner")
    page = browser.get(f"/plans/tasks/{plan.task1}", params={"as_of": MID_YEAR}).text
    action = re.search(r'action="(/plans/tasks/[^"]+/review)"', page)
    assert action and "review" in _forms(page)
    reviewed = browser.post(
        action.group(1),
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "as_of": MID_YEAR,
            "decision": "accept",
            "comment": "进度偏慢",
            "status": "at_risk",
            "reason": "选址滞后于计划",
        },
    )
    assert reviewed.status_code == 303, reviewed.text
    page = browser.get(reviewed.headers["location"]).text
    status = re.search(r'<span id="task-status">(.*?)</span>\s*</div>', page, re.S)
    assert status and translate("zh_CN", STATUS_LABELS[Status.AT_RISK]) in status.group(1)
    override = page[page.index('id="status-override"') :]
    override = visible_text(override[: override.index("</div>")])
    assert "选址滞后于计划" in override and "planner" in override
    assert "进度偏慢" in _main(page) and "已通过" in _main(page)
    assert "review" not in _forms(page)  # reviewed already: no second review form

    cleared = browser.post(
        f"/plans/tasks/{plan.task1}/status",
        follow_redirects=False,
        data={"csrf_token": csrf, "as_of": MID_YEAR, "status": "", "reason": ""},
    )
    assert cleared.status_code == 303
    assert 'id="status-override"' not in browser.get(cleared.headers["location"]).text


def test_the_forms_show_their_errors_next_to_their_fields_and_write_nothing(
    browser: TestClient, plan: Plan
) -> None:
    csrf = _as(browser, "dstaff")
    bad = browser.post(
        f"/plans/tasks/{plan.task1}/report",
        data={
            "csrf_token": csrf,
            "as_of": MID_YEAR,
            "stage": "advance",
            "percent": "一百二",
            "narrative": "半年进展稳步推进",
        },
        files=[("evidence", ("进展.pdf", PDF, "application/pdf"))],
    )
    assert bad.status_code == 422
    assert re.search(r'id="r-percent-error"', bad.text) and 'aria-invalid="true"' in bad.text
    assert (
        'value="一百二"' in bad.text and ">半年进展稳步推进</textarea>" in bad.text
    )  # the form keeps what was typed
    bad_file = browser.post(
        f"/plans/tasks/{plan.task1}/report",
        data={
            "csrf_token": csrf,
            "as_of": MID_YEAR,
            "stage": "advance",
            "percent": "50",
            "narrative": "半年进展稳步推进",
        },
        files=[("evidence", ("page.html", b"<html><script>x</script></html>", "text/html"))],
    )
    assert bad_file.status_code == 422 and 'id="evidence-error"' in bad_file.text
    page = browser.get(f"/plans/tasks/{plan.task1}", params={"as_of": MID_YEAR}).text
    assert "半年进展稳步推进" not in _main(page) and "/plans/evidence/" not in page  # nothing half-written

    csrf = _as(browser, "planner")
    no_reason = browser.post(
        f"/plans/tasks/{plan.task1}/status",
        data={"csrf_token": csrf, "as_of": MID_YEAR, "status": "at_risk", "reason": " "},
    )
    assert no_reason.status_code == 422 and 'id="o-reason-error"' in no_reason.text
    assert "<details open" in no_reason.text
    assert 'id="status-override"' not in no_reason.text


def test_my_tasks_lists_the_users_own_tasks_and_what_is_due(browser: TestClient, plan: Plan) -> None:
    _as(browser, "dstaff")
    response = browser.get("/plans/my", params={"as_of": MID_YEAR})
    assert response.status_code == 200
    overdue = response.text[response.text.index('id="overdue"') :]
    overdue = overdue[: overdue.index("</ul>")]
    assert visible_text(overdue).count("天") == 4 and "年中推进" in overdue and "公共卫生" not in overdue
    mine = response.text[response.text.index('id="my-tasks"') :]
    mine = visible_text(mine[: mine.index("</table>")])
    assert "建成托育点" in mine and "选址" in mine and "公共卫生" not in mine
    only_s1 = _main(browser.get("/plans/my", params={"as_of": MID_YEAR, "unit": "S1"}).text)
    assert "选址" in only_s1 and "建成托育点" in only_s1  # S1 supports task 1 and leads (1)
    early = browser.get("/plans/my", params={"as_of": "2020-01-02"}).text
    assert 'id="overdue"' not in early and 'id="due-soon"' not in early
    assert browser.get("/plans/my", params={"as_of": "2020-13-01"}).status_code == 422


def test_the_pages_speak_english(browser: TestClient, plan: Plan) -> None:
    _as(browser, "planner", "en")
    board = _main(browser.get("/plans", params={"as_of": MID_YEAR}).text)
    assert "Key tasks 2020" in board and "Open childcare points" in board and "Late" in board
    task = _main(browser.get(f"/plans/tasks/{plan.task1}", params={"as_of": MID_YEAR}).text)
    assert "Deploy (start of year)" in task and "Set the status by hand" in task and "Report progress" in task
    assert "Lead unit" in task and "Unit D1" in task
    assert "My tasks" in _main(browser.get("/plans/my", params={"as_of": MID_YEAR}).text)


def test_the_chinese_pages_keep_no_english(browser: TestClient, plan: Plan) -> None:
    csrf = _as(browser, "dstaff")
    browser.post(
        f"/plans/tasks/{plan.task1}/report",
        data={
            "csrf_token": csrf,
            "as_of": MID_YEAR,
            "stage": "advance",
            "percent": "40",
            "narrative": "已完成选址",
        },
        files=[("evidence", ("进展.pdf", PDF, "application/pdf"))],
    )
    csrf = _as(browser, "planner")
    pages = [
        browser.get("/plans", params={"as_of": MID_YEAR, "by": by}).text
        for by in ("section", "unit", "status")
    ]
    pages += [
        browser.get(f"/plans/tasks/{uid}", params={"as_of": MID_YEAR}).text
        for uid in (plan.task1, plan.sub1, plan.task2)
    ]
    pages.append(browser.get("/plans/my", params={"as_of": MID_YEAR}).text)
    pages.append(
        browser.post(
            f"/plans/tasks/{plan.task1}/report",
            data={  # a form with its error
                "csrf_token": csrf,
                "as_of": MID_YEAR,
                "stage": "assess",
                "percent": "120",
                "narrative": "全部完成",
            },
        ).text
    )
    for html in pages:
        text = re.sub(r"<code>.*?</code>", " ", html[html.index("<main") : html.index("</main>")], flags=re.S)
        words = set(re.findall(r"[A-Za-z]{2,}", visible_text(text))) - LATIN_ALLOWED
        assert not words, words


def test_every_string_of_the_task_pages_has_a_chinese_translation() -> None:
    zh = catalog("zh_CN")
    mine = [(f"templates/plans_{name}.html", "jinja2") for name in ("board", "task", "my", "macros")]
    templates = extract_from_dir(SRC / "plans", mine)
    messages = {found[2] for found in templates}
    for module in ("pages.py", "charts.py", "model.py"):
        messages |= {
            found[1]
            for found in extract_from_file(
                "python",
                SRC / "plans" / "tasks" / module,
                keywords={"N_": None, "_": None, "translate": (2,)},
            )
        }
    missing = sorted(m for m in messages if isinstance(m, str) and m not in zh)
    assert len(messages) > 60 and not missing, f"untranslated: {missing}"


def test_without_a_plan_the_pages_say_so(browser: TestClient, conn: Connection) -> None:
    make_user(conn, "admin")
    _as(browser, "admin")
    board = browser.get("/plans")
    assert board.status_code == 200 and "尚无工作计划" in _main(board.text)
    mine = browser.get("/plans/my")
    assert mine.status_code == 200 and "本单位今年没有牵头或配合的任务" in _main(mine.text)
    assert browser.get("/plans", params={"year": "2031"}).status_code == 404


def test_the_home_page_reminds_of_what_is_due_on_key_tasks(conn, browser, settings):
    """The home page lists what is overdue or due within two weeks on the tasks the user sees."""
    from tests.plans.tasks_fixtures import build_plan

    build_plan(conn)
    user = make_user(conn, role="district_staff", capture=["D1"])
    login(browser, user.username)
    browser.app.state.settings = settings.model_copy(update={"today": dt.date(2020, 12, 10)})
    text = browser.get("/").text
    assert "重点任务提醒" in text and "建成托育点" in text  # task 1 (D1): milestone 验收 overdue
    assert "/plans/my" in text
    browser.app.state.settings = settings.model_copy(update={"today": dt.date(2020, 1, 2)})
    assert "重点任务提醒" not in browser.get("/").text  # nothing due within two weeks of 2 January
