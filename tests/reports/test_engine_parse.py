"""A rendered template's HTML read into document blocks (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jiaowei.reports.document import (
    Chart,
    ChartKind,
    Figure,
    FigureKind,
    FigureRef,
    Heading,
    ListBlock,
    Paragraph,
    Series,
    Table,
    Text,
)
from jiaowei.reports.parse import normalise, read_blocks

FIGURES = (Figure(1, FigureKind.VALUE, "86%", ()), Figure(2, FigureKind.VALUE, "较去年增加14个", ()))
CHART = Chart(1, ChartKind.BAR, "学生数", ("D1", "D2"), (Series("2020", (1.0, 2.0)),))


def blocks(html: str) -> tuple[object, ...]:
    return read_blocks(html, figures=FIGURES, charts={1: CHART})[1]


def test_headings_paragraphs_and_the_title() -> None:
    title, found = read_blocks("<h1>报告 <span class='figure' data-figure='1'>x</span></h1><h2>一</h2>"
                               "<h3>二</h3><h5>三</h5><p>正文</p><h1>Again</h1>", figures=FIGURES)
    assert title == "报告 86%"
    assert found == (Heading(2, (Text("一"),)), Heading(3, (Text("二"),)), Heading(3, (Text("三"),)),
                     Paragraph((Text("正文"),)), Heading(1, (Text("Again"),)))


def test_bold_italic_and_figures() -> None:
    found = blocks('<p>a <strong>b <em>c</em></strong> <i>d</i> <span class="figure" data-figure="2">'
                   '<b>ignored</b></span>.</p>')
    assert found == (Paragraph((Text("a "), Text("b ", bold=True), Text("c", bold=True, italic=True),
                                Text(" "), Text("d", italic=True), Text(" "), FigureRef(2), Text("."))),)


def test_whitespace_collapses_as_in_html() -> None:
    found = blocks("<p>\n   one\t two  \n three <br/>\n four<br>five   </p>")
    assert found == (Paragraph((Text("one two three\nfour\nfive"),)),)


def test_a_line_break_between_chinese_characters_is_no_space() -> None:
    found = blocks('<p>全市普惠性学前教育\n   覆盖率为\n<span class="figure" data-figure="1"></span>，\n'
                   '<span class="figure" data-figure="2"></span>\n。English\nwords 中文</p>')
    assert found == (Paragraph((Text("全市普惠性学前教育覆盖率为 "), FigureRef(1), Text("，"), FigureRef(2),
                                Text("。English words 中文"))),)


def test_lists_ordered_and_nested() -> None:
    found = blocks("<ol>\n<li>one</li>\n<li>two<ul><li>two a</li></ul></li><li> three </li></ol>"
                   "<ul><li>x</li></ul>")
    items = ((Text("one"),), (Text("two"),), (Text("two a"),), (Text("three"),))
    assert found == (ListBlock(items, ordered=True), ListBlock(((Text("x"),),)))


def test_tables_with_and_without_a_header() -> None:
    found = blocks("""<table><caption>表 1 <b>数</b></caption>
<thead><tr><th>指标</th><th>2020年</th></tr></thead>
<tbody><tr><th>覆盖率</th><td><span class="figure" data-figure="1">86%</span></td></tr>
<tr><td>空</td><td></td></tr></tbody></table>
<table><tr><td>a</td><td>b</td></tr></table>""")
    assert found == (
        Table(((Text("指标"),), (Text("2020年"),)),
              (((Text("覆盖率"),), (FigureRef(1),)), ((Text("空"),), ())), caption="表 1 数"),
        Table((), (((Text("a"),), (Text("b"),)),)),
    )


def test_a_chart_is_a_block_of_its_own() -> None:
    found = blocks('<p>before <figure class="chart" data-chart="1"><figcaption>学生数</figcaption></figure>'
                   ' after</p><figure class="chart" data-chart="9"></figure><figure><img>caption</figure>')
    assert found == (Paragraph((Text("before"),)), CHART, Paragraph((Text("after"),)),
                     Paragraph((Text("caption"),)))


def test_loose_text_and_other_tags_keep_their_text() -> None:
    found = blocks("intro <a href='x'>link</a><div>first</div><section><span>second</span></section>tail")
    assert found == (Paragraph((Text("intro link"),)), Paragraph((Text("first"),)),
                     Paragraph((Text("second"),)), Paragraph((Text("tail"),)))


def test_what_the_html_leaves_open_is_closed() -> None:
    assert blocks("<p>open <b>bold") == (Paragraph((Text("open "), Text("bold", bold=True))),)
    assert blocks("<ul><li>a<li>b") == (ListBlock(((Text("a"),), (Text("b"),))),)
    assert blocks("<table><tr><td>a") == (Table((), (((Text("a"),),),)),)


def test_entities_are_read() -> None:
    assert blocks("<p>&lt;b&gt; &amp; &#x4e2d;</p>") == (Paragraph((Text("<b> & 中"),)),)


WORDS = st.text(alphabet=st.sampled_from(list("ab中文 \n\t")), max_size=30)


@given(st.lists(st.tuples(WORDS, st.booleans()), max_size=6))
def test_normalised_runs_have_no_double_spaces_or_ends(parts: list[tuple[str, bool]]) -> None:
    runs = normalise([Text(text, bold=bold) for text, bold in parts])
    joined = "".join(r.text for r in runs if isinstance(r, Text))
    assert "  " not in joined and "\t" not in joined and "\n" not in joined
    assert joined == joined.strip(" ")
    assert all(isinstance(r, Text) and r.text for r in runs)
    assert normalise(runs) == runs
