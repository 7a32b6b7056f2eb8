"""The DOCX writer: the file opens in python-docx and says what the document says, with numbered
figures, the sources of the figures, Word's heading styles, an East Asian font and charts as pictures."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn

from jiaowei.reports.document import Document, plain_text
from jiaowei.reports.outputs.docx import to_docx
from jiaowei.reports.outputs.fonts import FontMissing
from jiaowei.settings import Settings, using
from tests.reports.test_writers import SPECIALS, chinese_report, english_report


def opened(document: Document) -> docx.document.Document:
    return docx.Document(io.BytesIO(to_docx(document)))


def all_text(word: docx.document.Document) -> str:
    lines = [p.text for p in word.paragraphs]
    lines += ["\t".join(cell.text for cell in row.cells) for table in word.tables for row in table.rows]
    return "\n".join(lines)


def test_the_file_holds_the_documents_text_with_numbered_figures():
    document = chinese_report()
    text = all_text(opened(document))
    numbered = {f.text: f"{f.text}[{f.number}]" for f in document.figures}
    for line in plain_text(document).splitlines():
        if line == "各区义务教育学校数":  # a chart's title is drawn in its picture
            continue
        for shown, with_number in numbered.items():
            line = line.replace(shown, with_number)
        assert line in text
    assert ("全市普惠性幼儿园覆盖率达到86%[1]，学校数较去年增加14个[2]；"
            "巩固率超出国家标准6个百分点[3]。") in text
    assert SPECIALS in text and "部分数值由合成数据得出。" in text


def test_figure_numbers_are_superscript():
    word = opened(chinese_report())
    runs = [r for p in word.paragraphs for r in p.runs]
    numbers = [r.text for r in runs if r.font.superscript]
    assert numbers[:4] == ["[1]", "[2]", "[3]", "[4]"]
    assert all(not r.font.superscript for r in runs if r.text in ("86%", "较去年增加14个"))


def test_the_appendix_lists_every_figure_with_its_queries():
    document = chinese_report()
    word = opened(document)
    headings = [p.text for p in word.paragraphs if p.style.name == "Heading 1"]
    assert headings == ["一、基本情况", "数据来源"]
    appendix = word.tables[-1]
    rows = [[cell.text for cell in row.cells] for row in appendix.rows]
    assert rows[0] == ["序号", "数字", "指标", "单位", "报告期", "分析查询"]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3", "4"]
    assert rows[2][1:5] == ["较去年增加14个", "SCHOOLS 学校数", "上海市", "2020 / 2019"]
    assert rows[2][5].split("\n") == [
        "/api/analytics?dimension=dx:SCHOOLS&dimension=pe:2020&dimension=ou:310000",
        "/api/analytics?dimension=dx:SCHOOLS&dimension=pe:2019&dimension=ou:310000"]
    assert rows[3][1] == "超出国家标准6个百分点 (国家标准 86.51%)"
    assert rows[4][1] == "37.7万 (合成数据)"  # a synthetic value contributed to it
    repeated = [table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None for table in word.tables]
    assert repeated == [True, True]  # the header rows come again on each page


def test_headings_use_words_styles_and_name_an_east_asian_font():
    word = opened(chinese_report())
    styles = {p.text: p.style.name for p in word.paragraphs}
    assert styles["2020年度工作情况报告"] == "Title" and styles["（一）在校学生"] == "Heading 2"
    assert styles["深化课程改革"] == "List Number" and styles["教师队伍建设"] == "List Bullet"
    for name, font in (("Normal", "宋体"), ("Heading 1", "黑体"), ("Heading 2", "黑体"), ("Title", "黑体")):
        fonts = word.styles[name].element.rPr.find(qn("w:rFonts"))
        assert fonts.get(qn("w:eastAsia")) == font, name
    assert word.core_properties.title == "2020年度工作情况报告"


def test_a_chart_is_an_inline_png_picture():
    word = opened(chinese_report())
    assert len(word.inline_shapes) == 1
    picture = word.inline_shapes[0]
    blip = picture._inline.graphic.graphicData.pic.blipFill.blip
    image = word.part.related_parts[blip.embed].image
    assert image.content_type == "image/png" and image.px_width > 1000
    assert 14 < picture.width.cm < 16
    assert "图 1（数据见“数据来源”中的 [2]）" in all_text(word)


def test_an_english_document_in_english():
    word = opened(english_report())
    text = all_text(word)
    assert "Coverage reached 86%[1]; schools are up 14 on last year[2]." in text
    assert "Sources of the figures" in text
    assert "No.\tFigure\tIndicator\tUnits\tPeriod\tAnalytics query" in text
    assert "Figure 1; its numbers are [2] in the sources of the figures" in text
    assert len(word.inline_shapes) == 1


def test_the_text_needs_no_cjk_font_but_a_chinese_chart_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("jiaowei.reports.outputs.fonts.SEARCH_DIRS", (str(tmp_path),))
    document = chinese_report()
    without_charts = Document(title=document.title, language="zh", figures=document.figures,
                              blocks=tuple(b for b in document.blocks if b not in document.charts))
    with using(Settings(cjk_font=tmp_path / "none.ttc")):
        assert "全市普惠性幼儿园覆盖率达到86%[1]" in all_text(opened(without_charts))
        with pytest.raises(FontMissing):
            to_docx(document)
        assert len(opened(english_report()).inline_shapes) == 1  # its chart has no CJK text
