"""The attributes the form templates give their inputs reach the browser as plain values (issue 16).

The ``input`` macro takes ``attrs`` as a dict written with ``xmlattr``. Each form page that passes
attributes is rendered through the test client on both databases, its HTML parsed with
:mod:`html.parser`, and every input checked: the attributes the template asks for are there with
exactly those values, no attribute value carries a quote or an escaped quote, ``maxlength`` is a whole
number, ``min``/``max``/``step`` are numbers (or ``any``), and ``lang`` is a language tag.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.admissions import service as admissions
from jiaowei.analytics import dashboards
from jiaowei.auth.model import SYSTEM
from jiaowei.plans.appraisals import service as appraisals
from jiaowei.plans.ledger import service as ledger
from jiaowei.registry import groups
from tests.factories import login, make_user
from tests.plans.tasks_fixtures import build_plan

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "jiaowei"
LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?")
NUMBER = re.compile(r"-?\d+(\.\d+)?")

ADDRESS = {"maxlength": "64", "autocomplete": "off"}
NAMES = {"name_zh": {"maxlength": "200", "lang": "zh-CN"}, "name_en": {"maxlength": "200", "lang": "en"}}
NOTE = {"note": {"maxlength": "500"}}
NEW_PASSWORD = {"autocomplete": "new-password"}
THRESHOLD = {"step": "any", "min": "0", "max": "100"}


@dataclass(frozen=True)
class Form:
    """A page (its path, ``{...}`` filled from the seeded world) and the attributes of its inputs by id."""

    path: str
    templates: tuple[str, ...]
    inputs: dict[str, dict[str, str]]


FORMS = [
    Form("/units/new", ("unit_new.html", "_unit_fields.html"),
         {"code": ADDRESS, **NAMES, "parent": ADDRESS, **NOTE}),
    Form("/units/S1/edit", ("unit_edit.html",),
         {**NAMES, **NOTE, "close-merged_into": ADDRESS, "close-note": {"maxlength": "500"}}),
    Form("/groups/new", ("groups_new.html",), {"code": ADDRESS, **NAMES, **NOTE}),
    Form("/groups/G1", ("groups_detail.html",), NOTE),
    Form("/admissions/C2020", ("admissions_campaign.html",), {"school-capacity": {"min": "0"}}),
    Form("/dashboards/{dashboard}", ("dashboard_detail.html",),
         {"ou": {"maxlength": "64"}, "pe": {"maxlength": "16"}}),
    Form("/plans/new", ("plans_edit_plan.html",),
         {"year": {"min": "2000", "max": "2100", "step": "1"}, "title_zh": {"maxlength": "230"},
          "title_en": {"maxlength": "230"}}),
    Form("/plans/tasks/{task}/edit", ("plans_edit_item.html",),
         {"number": {"maxlength": "16"}, "title_zh": {"maxlength": "500"}, "title_en": {"maxlength": "500"},
          "owner": {"maxlength": "100"}, "milestones-0-title": {"maxlength": "500"},
          "links-0-target": {"inputmode": "decimal", "maxlength": "32"}}),
    Form("/plans/tasks/{task}?as_of=2020-07-01", ("plans_task.html",),
         {"r-percent": {"min": "0", "max": "100", "step": "1"}}),
    Form("/plans/rectification", ("rectification_ledger.html",),
         {"source": {"maxlength": "200"}, "measure_owner": {"maxlength": "200"}}),
    Form("/plans/rectification/findings/{finding}", ("rectification_finding.html",),
         {"owner": {"maxlength": "200"}}),
    Form("/plans/risks/new", ("risks_form.html",),
         {"title": {"maxlength": "230"}, "owner": {"maxlength": "100"}}),
    Form("/plans/appraisals/templates/new", ("appraisals_template_form.html",),
         {"excellent": THRESHOLD, "good": THRESHOLD, "fair": THRESHOLD}),
    Form("/plans/appraisals/new", ("appraisals_round_form.html",),
         {"year": {"min": "1900", "max": "2200"}, "leader-1": {"maxlength": "100", "autocomplete": "off"}}),
    Form("/users", ("users.html",),
         {"new-username": {"autocomplete": "off", "maxlength": "64"},
          "new-display_name": {"maxlength": "200"}, "new-password": NEW_PASSWORD,
          "new-repeat_password": NEW_PASSWORD}),
    Form("/me/password", ("password.html",),
         {"old_password": {"autocomplete": "current-password"}, "new_password": NEW_PASSWORD,
          "repeat_password": NEW_PASSWORD}),
]


class Inputs(HTMLParser):
    """Every ``<input>`` of a page: its attributes as the browser reads them, by id (or name)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            values = dict(attrs)
            self.found[values.get("id") or values.get("name") or f"#{len(self.found)}"] = values


def inputs(html: str) -> dict[str, dict[str, str | None]]:
    parser = Inputs()
    parser.feed(html)
    parser.close()
    return parser.found


def plain_value_problems(key: str, attrs: dict[str, str | None]) -> list[str]:
    """What is wrong with one input's attributes, as readable lines (empty: nothing)."""
    wrong = [f"{key} {name}={value!r}" for name, value in attrs.items()
             if value is not None and ('"' in value or "&quot;" in value or "'" in value)]
    checks = {"maxlength": re.compile(r"\d+"), "lang": LANGUAGE_TAG, "min": NUMBER, "max": NUMBER,
              "step": re.compile(rf"any|{NUMBER.pattern}")}
    for name, pattern in checks.items():
        value = attrs.get(name)
        if name in attrs and (value is None or not pattern.fullmatch(value)):
            wrong.append(f"{key} {name}={value!r} is not a valid value")
    return wrong


@pytest.fixture
def world(conn: Connection) -> dict[str, str]:
    """The 2020 plan's world (SH → D1, D2 → S1, S2; indicators; a plan with tasks), a unit group, a
    campaign taking applications, a dashboard, a rectification finding and an appraisal template."""
    plan = build_plan(conn)
    groups.create_group(conn, principal=SYSTEM, code="G1", name_zh="组", name_en="Group", members=["S1"])
    admissions.create_campaign(conn, principal=SYSTEM, spec=admissions.CampaignSpec(
        code="C2020", year=2020, stage="primary_1", title_zh="2020年小学招生", title_en="Primary 2020",
        organiser="SH", max_choices=2))
    admin = make_user(conn, "boss")
    board = dashboards.create_dashboard(conn, principal=admin, name_zh="我的看板", name_en="My board")
    finding = ledger.record_finding(
        conn, principal=SYSTEM, source_kind="巡视", source="2020年市委巡视", found_on=dt.date(2020, 4, 15),
        unit="S1", severity="严重", text="即知即改不到位")
    appraisals.create_template(conn, principal=SYSTEM, name_zh="述职评议",
                               criteria=[{"name_zh": "党建", "weight": 1}])
    return {"task": plan.task1, "dashboard": board.uid, "finding": finding}


@pytest.fixture
def admin(browser: TestClient, world: dict[str, str]) -> TestClient:
    login(browser, "boss")
    return browser


@pytest.mark.parametrize("form", FORMS, ids=[f.path.split("?")[0] for f in FORMS])
def test_each_form_gives_its_inputs_the_attributes_its_template_asks_for(
    admin: TestClient, world: dict[str, str], form: Form
) -> None:
    page = admin.get(form.path.format(**world))
    assert page.status_code == 200, page.text[:2000]
    found = inputs(page.text)
    for key, expected in form.inputs.items():
        assert key in found, f"{form.path}: no input {key!r} (inputs: {sorted(found)})"
        assert {name: found[key].get(name) for name in expected} == expected, key
    problems = [line for key, attrs in found.items() for line in plain_value_problems(key, attrs)]
    assert problems == []
    assert "&amp;quot;" not in page.text and "=&#34;" not in page.text


def test_every_template_that_passes_attributes_is_rendered_above() -> None:
    """A new form that passes ``attrs`` gets its page in :data:`FORMS`, and every ``attrs`` is a dict."""
    passing = {path: text for path in TEMPLATES.rglob("*.html")
               if "attrs=" in (text := path.read_text(encoding="utf-8")) and path.name != "_macros.html"}
    assert {path.name for path in passing} <= {name for f in FORMS for name in f.templates}
    for path, text in passing.items():
        assert re.findall(r"attrs=(?!\{)", text) == [], path.name


@pytest.mark.parametrize(("attrs", "wrong"), [
    ({"maxlength": '"200"'}, ["x maxlength='\"200\"'", "x maxlength='\"200\"' is not a valid value"]),
    ({"lang": "&quot;en&quot;"}, ["x lang='&quot;en&quot;'", "x lang='&quot;en&quot;' is not a valid value"]),
    ({"min": "zero", "step": "any", "lang": "zh-CN"}, ["x min='zero' is not a valid value"]),
    ({"maxlength": "64", "lang": "en", "max": "100", "step": "0.5"}, []),
])
def test_the_check_finds_escaped_and_invalid_values(attrs: dict[str, str | None], wrong: list[str]) -> None:
    assert plain_value_problems("x", attrs) == wrong
