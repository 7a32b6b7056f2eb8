"""Report templates and rendering through the service the web pages and the CLI call, on both databases:
the built-in templates and edits of them, custom templates, what saving refuses, the audit trail, and
which unit a report is about (and who may read it)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection

from jiaowei.audit import service as audit
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import NotFound, PermissionDenied, ValidationError
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import service as values
from jiaowei.reports import queries, service
from jiaowei.reports.document import FigureRef, plain_text
from jiaowei.reports.engine import TemplateError
from tests.factories import indicator_setup, make_user

NOW = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)
TODAY = dt.date(2020, 12, 31)
BODY = ("<h1>{{ unit.name }} {{ year }}</h1>\n"
        "<p>{{ t('生师比', 'Pupils per teacher') }} {{ fig('PTR') }}</p>\n")
ROWS = [("PUPILS", "S1", "M", "120"), ("PUPILS", "S1", "F", "110"), ("TEACHERS", "S1", None, "15"),
        ("PUPILS", "S2", "M", "50"), ("PUPILS", "S2", "F", "40"), ("TEACHERS", "S2", None, "10")]


@pytest.fixture
def tree(conn: Connection) -> dict[str, str]:
    """The small tree (SH → D1, D2 → S1, S2) with the 2020 pupils and teachers of its two schools."""
    codes = indicator_setup(conn)
    rows = [ValueRow(data_element=e, period="2020", org_unit=u, category_option_combo=c, value=v)
            for e, u, c, v in ROWS]
    summary = values.import_values(conn, principal=SYSTEM, rows=rows, source="test", check_expiry=False)
    assert summary.imported == len(ROWS)
    return codes


def test_the_three_built_in_templates_are_listed_from_the_package(conn: Connection) -> None:
    found = queries.list_templates(conn)
    assert [(t.code, t.kind) for t in found] == [("annual", "annual"), ("district", "district"),
                                                  ("bulletin", "bulletin")]
    assert all(t.builtin and not t.edited and t.updated_at is None for t in found)
    annual = queries.get_template(conn, "annual")
    assert (annual.name("zh"), annual.name("en")) == ("年度工作情况报告", "Annual work report")
    assert 'fig("HE_GRADUATE_COUNT")' in annual.body


def test_an_unknown_template_is_not_found_naming_its_code(conn: Connection) -> None:
    with pytest.raises(NotFound, match="nope"):
        queries.get_template(conn, "nope")


def test_an_edit_stands_for_the_package_text_until_reset_and_both_are_audited(conn: Connection) -> None:
    staff = make_user(conn, "staff", role="commission_staff")
    saved = service.save_template(conn, principal=staff, code="annual", body=BODY, now=NOW)
    assert (saved.kind, saved.builtin, saved.edited, saved.body) == ("annual", True, True, BODY)
    assert (saved.name_zh, saved.updated_by, saved.updated_at) == ("年度工作情况报告", "staff", NOW)
    assert queries.get_template(conn, "annual").body == BODY
    assert [t.code for t in queries.list_templates(conn)] == ["annual", "district", "bulletin"]
    service.reset_template(conn, principal=staff, code="annual")
    back = queries.get_template(conn, "annual")
    assert not back.edited and back.body == queries.builtin_templates()["annual"].body
    trail = audit.history(conn, entity="report_template", entity_key="annual")
    assert sorted(e.action for e in trail) == ["create", "reset"]


def test_a_custom_template_is_created_listed_and_deleted(conn: Connection) -> None:
    saved = service.save_template(conn, principal=SYSTEM, code="ptr-note_1", body=BODY, name_zh="生师比简报",
                                  name_en="PTR note", now=NOW)
    assert (saved.kind, saved.builtin, saved.name("en")) == ("custom", False, "PTR note")
    again = service.save_template(conn, principal=SYSTEM, code="ptr-note_1", body=BODY + "<p>2</p>", now=NOW)
    assert again.name_zh == "生师比简报" and again.body.endswith("<p>2</p>")  # names kept
    assert [t.code for t in queries.list_templates(conn)][-1] == "ptr-note_1"
    service.reset_template(conn, principal=SYSTEM, code="ptr-note_1")
    with pytest.raises(NotFound):
        queries.get_template(conn, "ptr-note_1")
    with pytest.raises(NotFound):
        service.reset_template(conn, principal=SYSTEM, code="ptr-note_1")


@pytest.mark.parametrize("code", ["", "a b", "x" * 51, "年报", "a/b"])
def test_a_bad_code_is_refused_naming_the_field(conn: Connection, code: str) -> None:
    with pytest.raises(ValidationError) as refused:
        service.save_template(conn, principal=SYSTEM, code=code, body=BODY, now=NOW)
    assert [p.field for p in refused.value.problems] == ["code"]


def test_a_template_that_does_not_compile_is_refused_naming_the_line(conn: Connection) -> None:
    body = "<h1>ok</h1>\n<p>fine</p>\n<p>{% if year %}never closed</p>\n"
    with pytest.raises(TemplateError) as refused:
        service.save_template(conn, principal=SYSTEM, code="broken", body=body, now=NOW)
    (problem,) = refused.value.problems
    assert problem.field == "body" and problem.value in (3, 4)
    with pytest.raises(NotFound):
        queries.get_template(conn, "broken")  # nothing saved


@pytest.mark.parametrize("role", ["district_staff", "unit_reporter", "viewer"])
def test_only_administrators_and_commission_staff_save_or_reset(conn: Connection, role: str) -> None:
    indicator_setup(conn)
    someone = make_user(conn, role=role, capture=["D1"])
    with pytest.raises(PermissionDenied, match="reports.write"):
        service.save_template(conn, principal=someone, code="annual", body=BODY, now=NOW)
    with pytest.raises(PermissionDenied):
        service.reset_template(conn, principal=someone, code="annual")


def test_a_preview_renders_unsaved_text_at_the_root_by_default(conn: Connection, tree: object) -> None:
    document = service.render(conn, principal=SYSTEM, template="annual", year=2020, language="en",
                              today=TODAY, body=BODY)
    assert document.title == "Commission 2020"
    assert document.meta["unit"] == "SH"
    (figure,) = document.figures
    assert figure.text == "12.8" and figure.sources[0].units == ("SH",)  # (230 + 90) / (15 + 10)
    assert "Pupils per teacher" in plain_text(document)
    assert queries.get_template(conn, "annual").body != BODY  # the preview saved nothing


def test_the_district_report_needs_a_district_unless_the_user_has_one(conn: Connection,
                                                                      tree: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as refused:
        service.render(conn, principal=SYSTEM, template="district", year=2020, language="zh", today=TODAY,
                       body=BODY)
    assert [p.field for p in refused.value.problems] == ["unit"]
    service.save_template(conn, principal=SYSTEM, code="district", body=BODY, now=NOW)
    d1 = make_user(conn, "d1", role="district_staff", capture=["D1"])
    mine = service.render(conn, principal=d1, template="district", year=2020, language="zh", today=TODAY)
    assert mine.meta["unit"] == "D1" and mine.figures[0].text == "15.3"  # 230 pupils / 15 teachers


def test_a_district_user_is_refused_the_root_and_another_district(conn: Connection,
                                                                  tree: dict[str, str]) -> None:
    d1 = make_user(conn, "d1", role="district_staff", capture=["D1"])
    for template, unit in (("annual", None), ("bulletin", None), ("district", "D2")):
        with pytest.raises(PermissionDenied, match="outside your view scope"):
            service.render(conn, principal=d1, template=template, unit=unit, year=2020, language="zh",
                           today=TODAY)


def test_only_those_who_may_edit_templates_render_unsaved_text(conn: Connection, tree: object) -> None:
    d1 = make_user(conn, "d1", role="district_staff", capture=["D1"])
    with pytest.raises(PermissionDenied, match=r"\(reports.write\)") as refused:
        service.render(conn, principal=d1, template="district", year=2020, language="zh", today=TODAY,
                       body=BODY)
    assert refused.value.status == 403
    staff = make_user(conn, "staff", role="commission_staff", view=["SH"])
    previewed = service.render(conn, principal=staff, template="district", unit="D1", year=2020,
                               language="zh", today=TODAY, body=BODY)
    assert previewed.figures[0].text == "15.3"


@pytest.mark.parametrize(("field", "given"), [("unit", {"unit": "NOPE"}), ("year", {"year": 1492}),
                                               ("language", {"language": "fr"})])
def test_a_bad_unit_year_or_language_is_refused_naming_the_field(conn: Connection, tree: object, field: str,
                                                                 given: dict[str, object]) -> None:
    arguments: dict[str, object] = {"template": "annual", "year": 2020, "language": "zh", "body": BODY,
                                    **given}
    with pytest.raises(ValidationError) as refused:
        service.render(conn, principal=SYSTEM, today=TODAY, **arguments)  # type: ignore[arg-type]
    assert field in [p.field for p in refused.value.problems]


def test_the_figures_of_a_render_are_in_the_text(conn: Connection, tree: dict[str, str]) -> None:
    document = service.render(conn, principal=SYSTEM, template="annual", year=2020, language="zh",
                              today=TODAY, body=BODY)
    refs = [r for b in document.blocks for r in getattr(b, "runs", ()) if isinstance(r, FigureRef)]
    assert [r.number for r in refs] == [1]
    assert "生师比 12.8" in plain_text(document)


PLAN_BODY = """<h1>{{ year }}</h1>
{% for s in sections %}<h2>{{ s.number }} {{ s.title }}</h2>
{% for task in s.tasks %}<p>{{ task.number }} {{ task.title }} / {{ task.outcome }} /
{{ task.status_label }} / {{ task.lead_units | join(",") }} / {{ task.indicators | join(",") }} /
{{ task.subtasks | length }}</p>
{% endfor %}{% endfor %}
<h2>led</h2>{% for task in tasks %}<p>led: {{ task.title }}</p>{% endfor %}
<h2>targets</h2>{% for target in targets %}
<p>{{ target.indicator }} {{ target.period }} {{ target.formatted }}</p>
{% endfor %}
"""


@pytest.fixture
def plan(conn: Connection, tree: dict[str, str]) -> None:
    """A 2020 plan: a section with a task led by D1 (linked to PTR, with a sub-task) and one led by D2;
    a 2020 PTR target of 14 at D1."""
    from jiaowei.indicators.targets import service as targets
    from jiaowei.plans.tasks import service as plans

    plans.create_plan(conn, principal=SYSTEM, year=2020, title_zh="2020年重点工作")
    section = plans.save_item(conn, principal=SYSTEM, year=2020, parent=None, kind="section", number="一",
                              title_zh="办好教育", title_en="Good schools")
    d1 = plans.save_item(conn, principal=SYSTEM, year=2020, parent=section, kind="task", number="1",
                         title_zh="提高师资", title_en="More teachers", lead_unit="D1", outcome="师资增加",
                         links=[{"indicator": "PTR", "period": "2020", "target": 16}])
    plans.save_item(conn, principal=SYSTEM, year=2020, parent=d1, kind="subtask", number="(1)",
                    title_zh="招聘教师", lead_unit="S1")
    plans.save_item(conn, principal=SYSTEM, year=2020, parent=section, kind="task", number="2",
                    title_zh="二区任务", title_en="District two's task", lead_unit="D2")
    targets.set_target(conn, principal=SYSTEM, indicator="PTR", unit="D1", period="2020", value=14.0)


def test_templates_read_the_plan_the_tasks_a_unit_leads_and_its_targets(conn: Connection, plan: None) -> None:
    document = service.render(conn, principal=SYSTEM, template="district", unit="D1", year=2020,
                              language="zh", today=TODAY, body=PLAN_BODY)
    text = plain_text(document)
    assert "一 办好教育" in text
    assert "1 提高师资 / 师资增加 / 逾期 / 单位D1 / PTR / 1" in text  # no progress reported by the year end
    assert "2 二区任务" in text
    assert "led: 提高师资" in text and "led: 招聘教师" in text and "led: 二区任务" not in text
    assert "PTR 2020 14.0" in text


def test_a_district_user_sees_only_the_tasks_within_their_scope(conn: Connection, plan: None) -> None:
    service.save_template(conn, principal=SYSTEM, code="district", body=PLAN_BODY, now=NOW)
    d1 = make_user(conn, "d1", role="district_staff", capture=["D1"])
    document = service.render(conn, principal=d1, template="district", year=2020, language="en",
                              today=TODAY)
    text = plain_text(document)
    assert "1 More teachers" in text and "District two's task" not in text
    assert "led: More teachers" in text
