"""The writers' shared document and the HTML output: figures link to their pivots, charts are inline
SVG, the standalone page loads nothing from a server; :func:`output` answers every format.

The documents are built by hand (no engine, no database): :func:`chinese_report` and
:func:`english_report` are also what the DOCX, PDF and font tests write out.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from html.parser import HTMLParser

import pytest

from jiaowei.reports.document import (
    Chart,
    ChartKind,
    Document,
    Figure,
    FigureKind,
    FigureRef,
    Heading,
    ListBlock,
    Paragraph,
    Provenance,
    Series,
    Table,
    Text,
)
from jiaowei.reports.outputs import Format, output
from jiaowei.reports.outputs.html import to_html

SPECIALS = 'Typst and HTML: \\ # * _ ` $ < > @ [ ] ~ = - + / " \' & <script>alert(1)</script> #pagebreak()'


def _source(item: str, name: str, period: str, value: float, *, synthetic: bool = False,
            unit: str = "上海市") -> Provenance:
    return Provenance(item=item, item_name=name, units=("310000",), unit_names=(unit,), period=period,
                      value=value, synthetic=synthetic)


def chinese_report() -> Document:
    figures = (
        Figure(1, FigureKind.VALUE, "86%",
               (_source("PRESCHOOL_PUBLIC_RATE", "普惠性幼儿园覆盖率", "2020", 86),)),
        Figure(2, FigureKind.CHANGE, "较去年增加14个",
               (_source("SCHOOLS", "学校数", "2020", 845), _source("SCHOOLS", "学校数", "2019", 831))),
        Figure(3, FigureKind.COMPARISON, "超出国家标准6个百分点",
               (_source("RETENTION", "九年义务教育巩固率", "2020", 92.51),), note="国家标准 86.51%"),
        Figure(4, FigureKind.VALUE, "37.7万",
               (_source("PUPILS", "在校学生数", "2020", 377000, synthetic=True),)),
    )
    blocks = (
        Heading(1, (Text("一、基本情况"),)),
        Paragraph((Text("全市普惠性幼儿园覆盖率达到"), FigureRef(1), Text("，学校数"), FigureRef(2),
                   Text("；巩固率"), FigureRef(3), Text("。"))),
        Heading(2, (Text("（一）在校学生"),)),
        Paragraph((Text("在校学生", bold=True), FigureRef(4), Text("，", italic=True))),
        ListBlock(((Text("深化课程改革"),), (Text("推进集团化办学 "), FigureRef(1))), ordered=True),
        ListBlock(((Text("教师队伍建设"),),)),
        Table(header=((Text("指标"),), (Text("数值"),)),
              rows=(((Text("学校数"),), (FigureRef(2),)), ((Text("巩固率"),), (FigureRef(3),))),
              caption="主要指标"),
        Chart(1, ChartKind.BAR, "各区义务教育学校数",
              ("黄浦区", "徐汇区", "浦东新区（含临港新片区）", "静安区"),
              (Series("2020年", (120, 95, None, 60)),), value_label="所", figures=(2,)),
        Paragraph((Text(SPECIALS),)),
    )
    return Document(title="2020年度工作情况报告", subtitle="上海市教育委员会", language="zh", blocks=blocks,
                    figures=figures, generated=dt.datetime(2021, 1, 15, 9, 30, tzinfo=dt.UTC),
                    synthetic_note="部分数值由合成数据得出。")


def english_report() -> Document:
    figures = (
        Figure(1, FigureKind.VALUE, "86%", (_source("PRESCHOOL_PUBLIC_RATE", "Public kindergarten coverage",
                                                    "2020", 86, unit="Shanghai"),)),
        Figure(2, FigureKind.CHANGE, "up 14 on last year",
               (_source("SCHOOLS", "Schools", "2020", 845, unit="Shanghai"),
                _source("SCHOOLS", "Schools", "2019", 831, unit="Shanghai"))),
    )
    blocks = (
        Heading(1, (Text("1. Overview"),)),
        Paragraph((Text("Coverage reached "), FigureRef(1), Text("; schools are "), FigureRef(2), Text("."))),
        Chart(1, ChartKind.LINE, "Schools by year", ("2017", "2018", "2019", "2020"),
              (Series("Schools", (820, None, 831, 845)),), value_label="schools", figures=(2,)),
    )
    return Document(title="Annual work report 2020", language="en", blocks=blocks, figures=figures)


class _Links(HTMLParser):
    """The figure links of a page: (href, title, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[list[str]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and "figure" in (values.get("class") or "").split():
            self.found.append([values.get("href") or "", values.get("title") or "", ""])
            self._open = True

    def handle_endtag(self, tag: str) -> None:
        self._open = self._open and tag != "a"

    def handle_data(self, data: str) -> None:
        if self._open:
            self.found[-1][2] += data


def figure_links(page: str) -> list[list[str]]:
    parser = _Links()
    parser.feed(page)
    return parser.found


def test_every_figure_links_to_its_pivot_in_analytics_with_what_it_is_as_its_title():
    document = chinese_report()
    links = figure_links(to_html(document, standalone=False))
    shown = {text: (href, title) for href, title, text in links}
    assert set(shown) == {f.text for f in document.figures}
    for figure in document.figures:
        href, title = shown[figure.text]
        assert href == figure.pivot_url and href.startswith("/analytics?dimension=dx%3A")
        source = figure.sources[0]
        periods = " / ".join(s.period for s in figure.sources)
        assert title.split(" · ") == [source.item_name, "上海市", periods]
    assert shown["较去年增加14个"][1].endswith("2020 / 2019")


def test_the_standalone_page_needs_nothing_from_a_server():
    page = to_html(chinese_report(), standalone=True)
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page and "<style>" in page
    assert "http" not in page and "/static" not in page and "<script" not in page
    assert not re.search(r"\ssrc=|<link\b|@import|url\(", page)
    assert page.count("<svg") == 1 and "各区义务教育学校数" in page


def test_the_fragment_is_the_article_the_web_page_embeds():
    fragment = to_html(chinese_report(), standalone=False)
    assert fragment.startswith('<article class="report" lang="zh-CN">') and fragment.endswith("</article>")
    assert "<html" not in fragment and "<style" not in fragment
    assert "<h1>2020年度工作情况报告</h1>" in fragment and "<h2>一、基本情况</h2>" in fragment
    assert "<h3>（一）在校学生</h3>" in fragment and "<strong>在校学生</strong>" in fragment
    assert "<ol><li>深化课程改革</li>" in fragment and "<ul><li>教师队伍建设</li></ul>" in fragment
    assert "<caption>主要指标</caption>" in fragment and "部分数值由合成数据得出。" in fragment
    assert 'class="figure synthetic"' in fragment  # 37.7万 came from a synthetic value


def test_text_is_escaped_never_markup():
    fragment = to_html(chinese_report(), standalone=False)
    assert "<script>" not in fragment
    assert unescape(re.sub(r"<[^>]+>", "", fragment)).count(SPECIALS) == 1


def test_the_sources_of_the_figures_are_a_collapsed_table_in_the_documents_language():
    fragment = to_html(chinese_report(), standalone=False)
    sources = fragment[fragment.index('<details class="sources">'):]
    assert "<summary>数据来源</summary>" in sources
    for header in ("序号", "指标", "单位", "报告期"):
        assert f"<th>{header}</th>" in sources
    assert sources.count("<tr id=") == 4
    assert "/api/analytics?dimension=dx:SCHOOLS&amp;dimension=pe:2019&amp;dimension=ou:310000" in sources
    assert "超出国家标准6个百分点 (国家标准 86.51%)" in sources
    assert "<td>37.7万 (合成数据)</td>" in sources
    english = to_html(english_report(), standalone=True)
    assert "<summary>Sources of the figures</summary>" in english and '<html lang="en">' in english
    assert "数据来源" not in english and "图 1" not in english and "Figure 1;" in english


@pytest.mark.parametrize(("format", "media_type", "magic"), [
    (Format.HTML, "text/html; charset=utf-8", b"<!DOCTYPE html>"),
    (Format.DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK"),
    (Format.PDF, "application/pdf", b"%PDF-"),
])
def test_output_writes_each_format_and_reports_its_progress(format: Format, media_type: str, magic: bytes):
    seen: list[tuple[str, int, int]] = []
    made = output(english_report(), format=format, progress=lambda *step: seen.append(step))
    assert made.data.startswith(magic) and made.media_type == media_type and made.extension == format.value
    assert seen and all(0 <= done <= total for _, done, total in seen)
    assert seen[-1][1] == seen[-1][2]  # it ends finished
    if format is not Format.HTML:
        assert ("Drawing the charts", 1, 1) in seen


def test_a_charts_caption_names_its_figures_with_runs_as_ranges():
    document = english_report()
    chart = Chart(3, ChartKind.BAR, "t", ("a",), (Series("s", (1.0,)),), figures=(7, 3, 4, 5, 9, 10))
    page = to_html(Document(title="t", language="en", blocks=(chart,), figures=document.figures),
                   standalone=False)
    assert "<figcaption>Figure 3; its numbers are [3]–[5], [7], [9]–[10] in the sources of the" in page
