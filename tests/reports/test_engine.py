"""The report engine through its interface: templates rendered into documents on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import NotFound
from jiaowei.i18n import translate
from jiaowei.reports.document import (
    Chart,
    ChartKind,
    FigureKind,
    FigureRef,
    Heading,
    Paragraph,
    Table,
    Text,
    plain_text,
)
from jiaowei.reports.engine import TemplateError, check_template
from tests.factories import make_user, token_for
from tests.reports.engine_world import build, render, texts


@pytest.fixture
def world(conn: Connection) -> Connection:
    build(conn)
    return conn


def refs(block: Any) -> list[int]:
    return [r.number for r in block.runs if isinstance(r, FigureRef)]


def test_figures_are_numbered_by_first_appearance_and_reused(world: Connection) -> None:
    document = render(world, "<p>{{ fig('PTR') }} {{ fig('PUPILS') }} {{ fig('PTR') }}</p>"
                             "<p>{{ fig('PUPILS', period='2019') }} {{ fig('PUPILS') }}</p>")
    first, second = document.blocks
    assert refs(first) == [1, 2, 1]
    assert refs(second) == [3, 2]
    assert texts(document) == ["12.8", "32万", "28.5万"]
    assert [f.number for f in document.figures] == [1, 2, 3]


def test_every_helper(world: Connection) -> None:
    body = """<h1>{{ year }}年{{ unit.name }}报告</h1>
<p>{{ period }} {{ previous_year }} {{ lang }} {{ unit.code }} {{ t('中文', 'English') }} {{ note }}</p>
<p>{{ fig('PUPILS') }}|{{ change('PUPILS', word='人') }}|{{ fig('PTR') }}|{{ fig('GIRLS_SHARE') }}|
{{- fig('TPR') }}</p>
<p>{{ change('GIRLS_SHARE') }}|{{ vs('GIRLS_SHARE', 48, '国家标准', 'the national standard') }}</p>
<p>{{ vs_target('GIRLS_SHARE') }}|{{ vs_target('PTR') }}|{{ value('TEACHERS') }}|
{{- value('TEACHERS', '2018') }}</p>
<p>{{ fig('GIRLS_SHARE', decimals=0) }}|{{ change('PUPILS', base='2019', unit='D1') }}|
{{- change('PUPILS', base='2020', period='2019') }}</p>
<ul>{% for i in indicators() %}<li>{{ i.code }} {{ i.name }} {{ i.display }}</li>{% endfor %}</ul>
<ol>{% for c in children() %}<li>{{ c.code }} {{ c.name }} {{ fig('PUPILS', unit=c) }}</li>{% endfor %}</ol>
"""
    document = render(world, body, note="额外")
    assert document.title == "2020年上海市教委报告"
    lines = plain_text(document).splitlines()
    assert lines[1] == "2020 2019 zh SH 中文 额外"
    assert lines[2] == "32万|较去年增加3.5万人|12.8|46.88%|1:13"
    assert lines[3] == "较去年下降2.24个百分点|低于国家标准1.12个百分点"
    assert lines[4] == "低于目标3.12个百分点|未设目标|25000.0|None"
    assert lines[5] == "47%|较去年增加3万|较2020年减少3.5万"
    assert lines[6:10] == ["GIRLS_SHARE 女生占比 percent", "PTR 生师比 number", "TPR 师生比 ratio",
                           "D1 单位D1 23万"]
    assert lines[10] == "D2 单位D2 9万"
    kinds = {f.text: f.kind for f in document.figures}
    assert kinds["较去年增加3.5万人"] is FigureKind.CHANGE
    assert kinds["低于国家标准1.12个百分点"] is FigureKind.COMPARISON
    assert kinds["低于目标3.12个百分点"] is FigureKind.TARGET
    by_text = {f.text: f for f in document.figures}
    assert by_text["低于国家标准1.12个百分点"].note == "国家标准 48%"
    assert by_text["低于目标3.12个百分点"].note == "目标 50%"
    change = by_text["较去年增加3.5万人"]
    assert [(s.period, s.value) for s in change.sources] == [("2020", 320000.0), ("2019", 285000.0)]
    assert change.sources[0].unit_names == ("上海市教委",) and change.sources[0].item_name == "在校学生数"


def test_english_output(world: Connection) -> None:
    body = """<h1>{{ unit.name }}, {{ year }}</h1>
<p>{{ fig('PUPILS') }}, {{ change('PUPILS', word_en='pupils') }}; {{ fig('GIRLS_SHARE') }},
{{ change('GIRLS_SHARE') }}, {{ vs('GIRLS_SHARE', 48, '国家标准', 'the national standard') }};
{{ vs_target('GIRLS_SHARE') }}; {{ vs_target('PTR') }}; {{ fig('TPR') }}.</p>
{{ table(['PUPILS'], periods=['2019', '2020']) }}"""
    document = render(world, body, language="en")
    assert document.language == "en"
    assert document.title == "Commission, 2020"
    lines = plain_text(document).splitlines()
    assert lines[1] == ("320,000, up 35,000 pupils on last year; 46.88%, down 2.24 percentage points on last"
                        " year, 1.12 percentage points below the national standard; 3.12 percentage points"
                        " below the target; no target; 1:13.")
    assert lines[2:] == ["Indicator\t2019\t2020", "Pupils\t285,000\t320,000"]
    assert document.figures[0].sources[0].item_name == "Pupils"
    assert document.synthetic_note.startswith("Some figures in this report come from synthetic data")


def test_the_first_h1_is_the_title_and_not_a_block(world: Connection) -> None:
    document = render(world, "<h1>Title {{ fig('PTR') }}</h1><h2>Part</h2><h1>Again</h1><p>x</p>")
    assert document.title == "Title 12.8"
    assert document.blocks == (Heading(2, (Text("Part"),)), Heading(1, (Text("Again"),)),
                               Paragraph((Text("x"),)))
    assert document.meta == {"template": "test", "year": "2020", "unit": "SH", "language": "zh"}


def test_a_table_is_one_query_with_a_figure_in_every_cell(world: Connection) -> None:
    stages: list[tuple[str, int, int]] = []
    body = "{{ table(['PUPILS', 'PTR', 'GIRLS_SHARE'], periods=['2019', '2020'], caption='表 1') }}"
    document = render(world, body, progress=lambda *a: stages.append(a))
    table, = document.blocks
    assert isinstance(table, Table)
    assert table.caption == "表 1"
    assert plain_text(document).splitlines()[1:] == ["指标\t2019年\t2020年", "在校学生数\t28.5万\t32万",
                                                     "生师比\t11.9\t12.8", "女生占比\t49.12%\t46.88%"]
    assert all(isinstance(cell[0], FigureRef) for row in table.rows for cell in row[1:])
    assert [s for s in stages if s[0] == "Computing figures"] == [("Computing figures", 1, 0)]


def test_a_table_by_units_and_its_empty_cells(world: Connection) -> None:
    document = render(world, "{{ table(['PUPILS', 'TPR'], periods='2018', units=children()) }}"
                             "{{ table('PUPILS', units=['D1', 'D2']) }}")
    assert plain_text(document).splitlines()[1:] == [
        "指标\t单位D1\t单位D2", "在校学生数\t–\t–", "师生比\t–\t–",
        "指标\t单位D1\t单位D2", "在校学生数\t23万\t9万"]
    first = document.blocks[0]
    assert isinstance(first, Table)
    assert not any(isinstance(r, FigureRef) for r in first.rows[0][1])  # no value: no figure
    with pytest.raises(TemplateError) as caught:
        render(world, "\n{{ table('PUPILS', periods=['2019', '2020'], units=['D1', 'D2']) }}")
    assert caught.value.problems[0].value == 2


def test_charts_by_units_and_by_periods(world: Connection) -> None:
    stages: list[tuple[str, int, int]] = []
    body = """<p>{{ fig('PUPILS', unit='D2') }}</p>
{{ chart('PUPILS') }}
{{ chart('GIRLS_SHARE', by='periods', periods=['2019', '2020'], kind='line', title='女生') }}
{{ chart('TPR', units=['D1', 'D2'], periods=['2019', '2020']) }}"""
    document = render(world, body, progress=lambda *a: stages.append(a))
    pupils, girls, ratio = document.charts
    assert pupils == Chart(1, ChartKind.BAR, "在校学生数（2020年）", ("单位D1", "单位D2"),
                           pupils.series, "", (2, 1))
    assert [(s.name, s.values) for s in pupils.series] == [("2020年", (230000.0, 90000.0))]
    assert [document.figure(n).text for n in pupils.figures] == ["23万", "9万"]
    assert (girls.kind, girls.title, girls.categories, girls.value_label) == (
        ChartKind.LINE, "女生", ("2019年", "2020年"), "%")
    assert [(s.name, s.values) for s in girls.series] == [("上海市教委", (49.12, 46.88))]
    assert [s.name for s in ratio.series] == ["2019年", "2020年"]
    assert ratio.value_label == "1:N"
    assert ratio.series[1].values[0] == pytest.approx(230000 / 15000, rel=1e-3)  # N of 1:N
    assert len([s for s in stages if s[0] == "Computing figures"]) == 4  # one query per chart, one per fig


def test_a_chart_by_the_children_of_the_unit_is_one_query(world: Connection) -> None:
    stages: list[tuple[str, int, int]] = []
    document = render(world, "{{ chart('PUPILS') }}", progress=lambda *a: stages.append(a))
    assert len(document.charts[0].figures) == 2
    assert [s for s in stages if s[0] == "Computing figures"] == [("Computing figures", 1, 0)]


def test_a_synthetic_value_is_noted(world: Connection) -> None:
    assert render(world, "<p>{{ fig('PUPILS', unit='D1') }}</p>").synthetic_note == ""
    document = render(world, "<p>{{ fig('PUPILS', unit='D1') }}{{ fig('PUPILS', unit='D2') }}</p>")
    assert [f.synthetic for f in document.figures] == [False, True]
    assert document.synthetic_note == "本报告中部分数字来自合成数据：仅用于演示平台，并非官方数字。"


def test_output_is_escaped(world: Connection) -> None:
    document = render(world, "<p>{{ t('<b>粗</b>', 'x') }} {{ words }}</p>", words="<i>&</i>")
    assert document.blocks == (Paragraph((Text("<b>粗</b> <i>&</i>"),)),)


# ---------------------------------------------------------------- provenance


def test_every_figure_s_query_gives_its_value_through_the_api(world: Connection, client: TestClient) -> None:
    headers = token_for(world, make_user(world, "reader", role="viewer", view=["SH"]))
    body = """<p>{{ fig('PUPILS') }} {{ change('PUPILS') }} {{ fig('PTR', unit='D1') }} {{ fig('TPR') }}
{{ vs('GIRLS_SHARE', 48, '国家标准', 'the standard') }} {{ vs_target('GIRLS_SHARE') }}</p>
{{ chart('GIRLS_SHARE') }}"""
    document = render(world, body)
    sources = [s for f in document.figures for s in f.sources]
    assert len(sources) == 9
    for source in sources:
        response = client.get(source.api_url, headers=headers)
        assert response.status_code == 200, response.text
        rows = response.json()["rows"]
        assert [[float(r[-1])] for r in rows] == [[source.value]], source.query


# ---------------------------------------------------------------- scope


def test_a_district_user_renders_their_district_only(world: Connection) -> None:
    d1 = make_user(world, "d1staff", role="district_staff", capture=["D1"], view=["D1"])
    body = "<p>{{ unit.name }} {{ fig('PUPILS') }} {{ children() | length }}</p>"
    document = render(world, body, principal=d1, unit="D1")
    assert plain_text(document).splitlines()[1] == "单位D1 23万 1"
    with pytest.raises(NotFound):
        render(world, "<p>{{ fig('PUPILS') }}</p>", principal=d1)
    with pytest.raises(TemplateError) as caught:
        render(world, "<p>\n{{ fig('PUPILS', unit='SH') }}</p>", principal=d1, unit="D1")
    assert caught.value.problems[0].value == 2
    assert "SH" in caught.value.detail


def test_scope_limits_what_a_figure_counts(world: Connection) -> None:
    """The view scope limits the values counted too: only the unit's own subtree, as in the pivot."""
    d2 = make_user(world, "d2viewer", role="viewer", view=["D2"])
    assert texts(render(world, "{{ fig('PUPILS') }}", principal=d2, unit="D2")) == ["9万"]
    assert texts(render(world, "{{ fig('PUPILS') }}", principal=SYSTEM, unit="D2")) == ["9万"]


# ---------------------------------------------------------------- errors name the line


def problem(error: TemplateError) -> tuple[Any, str | None]:
    found, = error.problems
    assert found.field == "body"
    return found.value, found.message


def test_a_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template("<h1>x</h1>\n<p>ok</p>\n<p>{{ fig('A' }}</p>\n")
    assert caught.value.status == 422 and caught.value.code == "report-template"
    line, message = problem(caught.value)
    assert line == 3
    assert str(caught.value.detail).startswith("Line 3: ")
    assert translate("zh_CN", caught.value.detail) == "第 3 行：此处不应出现“}”，应为“)”"
    check_template("<p>{{ fig('A') }}</p>")  # a good one passes


def test_a_syntax_error_stops_a_render(world: Connection) -> None:
    with pytest.raises(TemplateError) as caught:
        render(world, "<p>\n\n{% for x in y %}</p>")
    assert problem(caught.value)[0] == 3


@pytest.mark.parametrize(("body", "line", "words"), [
    ("<p>{{ year }}</p>\n<p>{{ nothing }}</p>", 2, "“nothing” is not defined"),
    ("<p>\n\n\n{{ fig('NO_SUCH') }}</p>", 4, "'NO_SUCH'"),
    ("{% for i in [1] %}\n<p>{{ 1 / 0 }}</p>\n{% endfor %}", 2, "division by zero"),
    ("<p>{{ fig('PTR', period='twenty') }}</p>", 1, "'twenty'"),
    ("\n{{ chart('PTR', by='schools') }}", 2, "'schools'"),
    ("\n\n{{ chart('PTR', kind='pie') }}", 3, "'pie'"),
    ("<p>{{ fig.__globals__ }}</p>", 1, "__globals__"),
])
def test_a_rendering_error_names_the_line(world: Connection, body: str, line: int, words: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(world, body)
    found, message = problem(caught.value)
    assert found == line
    assert str(caught.value.detail).startswith(f"Line {line}: ")
    assert words in str(caught.value.detail)


def test_an_unknown_code_names_what_exists(world: Connection) -> None:
    with pytest.raises(TemplateError) as caught:
        render(world, "{{ fig('NO_SUCH') }}")
    assert "GIRLS_SHARE, PTR, TPR" in str(caught.value.detail)
    expected = "an indicator (GIRLS_SHARE, PTR, TPR) or a data element's code"
    assert caught.value.problems[0].expected == expected


def test_a_template_error_is_translated(world: Connection, client: TestClient) -> None:
    from jiaowei.i18n import translate

    with pytest.raises(TemplateError) as caught:
        render(world, "\n{{ fig('NO_SUCH') }}")
    shown = translate("zh_CN", caught.value.detail)
    assert shown.startswith("第 2 行：没有代码为 'NO_SUCH' 的指标或数据项")
