"""The Chinese UI is Chinese: each demo role's main pages, and error answers of the API, hold no English
prose when asked for zh-CN.

English prose is a run of two or more English words of three or more letters in a text node of the page
(or in a problem+json answer's title, detail and problems). Not prose: codes, user names, file names and
anything in ``<code>``, ``<kbd>``, ``<pre>``, ``<script>``, ``<style>`` and ``<textarea>`` (text being
edited, such as a report template's source); an English name stored beside
the Chinese one (a unit's ``name_en`` and every other ``*_en`` column: shown on purpose); and the
:data:`ALLOWED` phrases, each with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, column, inspect, select, table

from jiaowei.admissions import demo as admissions_demo
from jiaowei.db.engine import BoundDatabase
from jiaowei.demo import shanghai2020
from jiaowei.indicators import demo as indicators_demo
from jiaowei.plans import demo as plans_demo
from jiaowei.settings import Settings, using
from jiaowei.web.app import create_app
from tests.factories import login

ROLES = ("admin", "commission", "huangpu", "school", "viewer")
SCHOOL = "310101-PS-001"  # the school reporter's unit; its 2020SY after-school form is approved (read-only)

PAGES = (
    "/", "/units", "/units/310101", f"/units/{SCHOOL}", "/groups",
    f"/data/entry?ds=AFTER_SCHOOL&pe=2020SY&ou={SCHOOL}", "/data/entry?ds=KG_ANNUAL&pe=2020&ou=310101",
    "/data/approval", "/data/completeness", "/data/my-forms", "/data/daily",
    "/quality/validation", "/quality/outliers", "/indicators", "/indicators/AS_SCHOOLS", "/metadata",
    "/analytics", "/dashboards", "/plans", "/plans/risks", "/plans/rectification", "/plans/appraisals",
    "/plans/my", "/admissions", "/admissions/SH2020-P1", "/admissions/SH2020-TY", "/admissions/public",
    "/audit", "/jobs", "/me", "/users",
    "/reports", "/reports/templates/annual", "/reports/view?template=annual&year=2020",
    "/reports/view?template=district&year=2020&unit=310101",
)

# Phrases that are English on purpose in the Chinese UI, with the reason.
ALLOWED = {
    "Apache ECharts": "the name of the chart library, in the licences' footnote",
    "jiaowei": "the product's name",
    "jiaowei token create": "a command, typed as is (account page)",
}

SKIPPED_TAGS = {"code", "kbd", "pre", "samp", "script", "style", "template", "textarea"}
_WORD, _GAP = r"[A-Za-z][a-z]{2,}", r"[ \t,;:’'()]+"
PROSE = re.compile(rf"{_WORD}(?:{_GAP}(?:[A-Za-z]{{1,2}}{_GAP})*{_WORD})+")  # short words may join a run
BILINGUAL = re.compile(r"([\u3400-\u9fff][^/\u3400-\u9fff]*) / [^\u3400-\u9fff]*")  # 中文 / English
PATHS = re.compile(r"\S*[/@=]\S*")  # paths, addresses, e-mail and query text are not prose
CODES = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b|\b[a-z0-9_]+(?:, [a-z0-9_]+){2,}\b")  # a code, a list of codes


class _Text(HTMLParser):
    """The text nodes of a page outside code, scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skipping = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping and data.strip():
            self.parts.append(data.strip())


def text_nodes(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


@dataclass
class Demo:
    conn: Connection
    client: TestClient
    english_names: list[str]

    def english(self, texts: list[str]) -> list[str]:
        """The English prose in ``texts``, less names stored in English and the allowed phrases."""
        found = []
        for text in texts:
            text = CODES.sub(" ", PATHS.sub(" ", BILINGUAL.sub(r"\1", text)))
            for name in sorted([*ALLOWED, *self.english_names], key=len, reverse=True):
                if name in text:
                    text = re.sub(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", " ", text)
            found += [m.group() for m in PROSE.finditer(text)]
        return found


def _english_names(conn: Connection) -> list[str]:
    """Every English name stored beside a Chinese one (columns ``*_en``), longest first."""
    names: set[str] = set()
    inspector = inspect(conn)
    for name in inspector.get_table_names():
        for col in inspector.get_columns(name):
            if col["name"].endswith("_en"):
                found = conn.execute(select(column(col["name"])).select_from(table(name)).distinct())
                names.update(str(v) for (v,) in found if v and " " in str(v).strip())  # one word is no prose
    return sorted(names, key=len, reverse=True)


@pytest.fixture(scope="module")
def demo(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The whole demo, loaded once per module and database and rolled back at the end."""
    home: Path = tmp_path_factory.mktemp("zh-demo")
    settings = Settings(home=home, secret_key="test-secret-" + "x" * 32)
    connection = engine.connect()
    outer = connection.begin()
    with using(settings):
        shanghai2020.load(connection)
        admissions_demo.load(connection, home=home)
        indicators_demo.load(connection)
        plans_demo.load(connection)
    with TestClient(create_app(settings, database=BoundDatabase(connection))) as client:
        yield Demo(connection, client, _english_names(connection))
    outer.rollback()
    connection.close()


def _as(demo: Demo, username: str) -> TestClient:
    client = demo.client
    client.cookies.clear()
    client.headers.update({"accept": "text/html", "accept-language": "zh-CN"})
    login(client, username, shanghai2020.PASSWORD)
    return client


@pytest.mark.parametrize("username", ROLES)
def test_every_main_page_is_chinese_for_each_role(demo: Demo, username: str) -> None:
    client = _as(demo, username)
    english: dict[str, list[str]] = {}
    for path in PAGES:
        response = client.get(path)
        assert response.status_code in ((200,) if username == "admin" else (200, 403, 404)), path
        if found := demo.english(text_nodes(response.text)):
            english[path] = found
    assert not english, f"English prose in the zh-CN pages of {username}: {english}"


def _problem_texts(body: dict[str, Any]) -> list[str]:
    texts = [body.get("title", ""), body.get("detail", "")]
    for problem in body.get("problems", []):
        texts += [problem.get("message", ""), problem.get("expected") or ""]
    return texts


BAD_UNITS = "code,name_zh,name_en,type\nX1,甲,A,castle\nX2,乙,B,castle\n".encode()  # two unknown types
API_ERRORS = [
    ("get", "/api/units/NO-SUCH-UNIT", None, 404),
    ("get", "/api/units?as_of=yesterday", None, 422),
    ("post", "/api/dataValues", {"dataElement": "AS_PUPILS", "period": "2020SY", "orgUnit": "310101-PS-099",
                                 "value": "many"}, 422),
    ("post", "/api/dataValues", {"dataElement": "AS_PUPILS", "period": "2020SY", "orgUnit": SCHOOL,
                                 "value": "12"}, 422),
    ("post", "/api/dataValues", {"dataElement": "NO_SUCH", "period": "2020SY", "orgUnit": SCHOOL,
                                 "value": "12"}, 422),
    ("get", "/api/nothing-here", None, 404),
    ("post", "/api/units/import?filename=units.csv", BAD_UNITS, 422),
]


def _api(demo: Demo, method: str, path: str, body: Any, language: str = "zh-CN") -> Any:
    client = _as(demo, "admin")
    csrf = client.get("/").text.split('name="csrf-token" content="')[1].split('"')[0]
    headers = {"accept": "application/json", "accept-language": language, "x-csrf-token": csrf}
    if isinstance(body, bytes):
        return client.request(method, path, content=body, headers={**headers, "content-type": "text/csv"})
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "status"), API_ERRORS)
def test_api_errors_answer_in_chinese_when_asked(demo: Demo, method: str, path: str, body: Any,
                                                 status: int) -> None:
    response = _api(demo, method, path, body)
    assert response.status_code == status, response.text
    assert not demo.english(_problem_texts(response.json())), response.json()


def test_a_value_that_is_not_a_number_is_refused_in_chinese(demo: Demo) -> None:
    cell = {"dataElement": "KG_CHILDREN", "period": "2020", "orgUnit": "310101-KG-001",
            "categoryOptionCombo": "PUBLIC", "value": "many"}
    chinese = _api(demo, "post", "/api/dataValues", cell).json()
    assert chinese["detail"] == "数值未保存：数据项 KG_CHILDREN：不是数字。", chinese
    assert chinese["problems"][0]["expected"] == "整数，如 120"
    english = _api(demo, "post", "/api/dataValues", cell, language="en").json()
    assert english["detail"] == "The value was not saved: not a number for data element KG_CHILDREN."


def test_a_refused_import_says_so_in_chinese(demo: Demo) -> None:
    path = "/api/units/import?filename=units.csv"
    assert _api(demo, "post", path, BAD_UNITS).json()["detail"] == "文件中有 2 个问题；未导入任何内容。"
    assert _api(demo, "post", path, BAD_UNITS, language="en").json()["detail"] == (
        "2 problems in the file; nothing was imported.")


def test_an_approved_form_says_why_it_is_read_only_in_chinese(demo: Demo) -> None:
    page = _as(demo, "school").get(f"/data/entry?ds=AFTER_SCHOOL&pe=2020SY&ou={SCHOOL}").text
    shown = " ".join(text_nodes(page))
    assert "此表单只读：数据集 AFTER_SCHOOL 在 2020SY 期已审核并锁定；请先撤销审核" in shown


def test_the_cell_history_names_the_change_in_chinese(demo: Demo) -> None:
    """entry.js shows a history line as 修改数值：256 → 900, the label read from the form's data-msg-*."""
    page = _as(demo, "school").get(f"/data/entry?ds=AFTER_SCHOOL&pe=2020SY&ou={SCHOOL}").text
    assert 'data-msg-update="修改数值"' in page and 'data-msg-create="新增数值"' in page
    script = (Path(__file__).resolve().parents[2] / "src/jiaowei/web/static/entry.js").read_text("utf-8")
    assert "changeLabel(c.change)" in script


@pytest.mark.parametrize(("username", "name"), [
    ("admin", "系统管理员"), ("school", "黄浦区小学填报员（合成）"), ("huangpu", "黄浦区教育局工作人员")])
def test_the_greeting_names_the_demo_user_in_chinese(demo: Demo, username: str, name: str) -> None:
    assert f"{name}，您好。" in " ".join(text_nodes(_as(demo, username).get("/").text))


def test_api_errors_stay_english_when_no_language_is_named(demo: Demo) -> None:
    """Programs that name no language get the English source text, stable to match on."""
    client = demo.client
    client.cookies.clear()
    response = client.get("/api/units/NO-SUCH-UNIT", headers={"accept": "application/json",
                                                              "accept-language": ""})
    assert response.status_code in (401, 404) and response.json()["title"] in ("Not found", "Login required")


def test_the_heuristic_finds_english_and_lets_names_pass() -> None:
    found = Demo(None, None, ["Huangpu District"]).english(  # type: ignore[arg-type]
        ["数据集 AFTER_SCHOOL：not a number for data element", "黄浦区（Huangpu District）",
         "单位代码 310101", "国家标准80% / national standard 80%", "见 /api/units/new-unit",
         "应为 commission, district_bureau, university, primary_school"])
    assert found == ["not a number for data element"]
