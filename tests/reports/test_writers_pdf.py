"""The PDF writer: the text extracted with pypdfium2 is the document's, the sources of the figures close
it, its Chinese is drawn in glyphs (not boxes), and without a CJK font it refuses with a clear message."""

from __future__ import annotations

import datetime as dt
import itertools
import string
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pypdfium2 as pdfium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiaowei.i18n import translate
from jiaowei.reports.document import Document, Paragraph, Text
from jiaowei.reports.outputs.fonts import FontMissing
from jiaowei.reports.outputs.pdf import to_pdf
from jiaowei.settings import Settings, using
from tests.reports.test_writers import SPECIALS, chinese_report, english_report


def pages_text(data: bytes) -> list[str]:
    """Each page's text, with the line breaks and the break opportunities of long queries taken out."""
    pdf = pdfium.PdfDocument(data)
    try:
        texts = [page.get_textpage().get_text_range() for page in pdf]
        # pdfium reads a hyphen at the end of a line as U+FFFE
        return [text.replace("\r\n", "").replace("\u200b", "").replace("\ufffe", "-") for text in texts]
    finally:
        pdf.close()


def test_the_text_and_the_figures_are_in_the_pdf():
    pages = pages_text(to_pdf(chinese_report()))
    body = "".join(pages[:-1])
    assert "2020年度工作情况报告" in body and "上海市教育委员会" in body
    assert "部分数值由合成数据得出。" in body
    assert ("全市普惠性幼儿园覆盖率达到86%[1]，学校数较去年增加14个[2]；"
            "巩固率超出国家标准6个百分点[3]。") in body
    assert "在校学生37.7万[4]" in body and "深化课程改革" in body and "学校数较去年增加14个[2]" in body
    assert SPECIALS.replace(" ", "") in body.replace(" ", "")  # Typst's specials are text, not markup
    assert "各区义务教育学校数" in body and "浦东新区（含临港新片区）" in body  # the chart's SVG text
    assert "图 1（数据见“数据来源”中的 [2]）" in body
    assert f"第 1 页，共 {len(pages)} 页" in pages[0] and len(pages) >= 2


def test_the_last_page_lists_every_figure_with_its_queries():
    document = chinese_report()
    appendix = pages_text(to_pdf(document))[-1]
    assert appendix.startswith("2020年度工作情况报告数据来源")  # the header, then the heading
    assert "序号数字指标单位报告期分析查询" in appendix.replace(" ", "")
    for figure in document.figures:
        assert figure.text in appendix
        for source in figure.sources:
            assert f"dimension=dx:{source.item}&dimension=pe:{source.period}&dimension=ou:310000" in appendix
    assert "2 较去年增加14个 SCHOOLS 学校数 上海市 2020 / 2019 /api/analytics?" in appendix
    assert "3 超出国家标准6个百分点 (国家标准 86.51%)RETENTION 九年义务教育巩固率" in appendix


def test_an_english_document():
    pages = pages_text(to_pdf(english_report()))
    assert "Coverage reached 86%[1]; schools are up 14 on last year[2]." in pages[0]
    assert "Page 1 of 2" in pages[0] and "Sources of the figures" in pages[1]
    assert "No. Figure Indicator Units Period Analytics query" in pages[1]


def _glyphs(data: bytes, characters: str) -> dict[str, np.ndarray]:
    """The rendered box of the first occurrence of each character on the first page, top-left
    aligned and cut to the smallest box, in grey levels (0 black)."""
    pdf = pdfium.PdfDocument(data)
    try:
        page, scale = pdf[0], 4
        text, image = page.get_textpage(), page.render(scale=scale, grayscale=True).to_numpy()
        image = image.reshape(image.shape[0], image.shape[1], -1)[:, :, 0]
        boxes = {}
        for index in range(text.count_chars()):
            char = text.get_text_range(index, 1)
            if len(char) == 1 and char in characters and char not in boxes:
                left, bottom, right, top = text.get_charbox(index)
                height = page.get_height()
                boxes[char] = (int(left * scale), int((height - top) * scale),
                               int(right * scale), int((height - bottom) * scale))
        width = min(r - left for left, _, r, _ in boxes.values())
        tall = min(b - t for _, t, _, b in boxes.values())
        return {c: image[t:t + tall, left:left + width].copy() for c, (left, t, _, _) in boxes.items()}
    finally:
        pdf.close()


def test_chinese_is_drawn_in_glyphs_not_boxes():
    characters = "年度工作情况报告"
    glyphs = _glyphs(to_pdf(chinese_report()), characters)
    assert set(glyphs) == set(characters)
    for char, glyph in glyphs.items():
        ink = (glyph < 128).mean()
        assert glyph.size > 400 and 0.05 < ink < 0.7, (char, ink)
    # Boxes (the font's missing-glyph shape) would all look alike: a pixel or two apart at most.
    inked = [glyph < 128 for glyph in glyphs.values()]
    assert min((a != b).mean() for a, b in itertools.combinations(inked, 2)) > 0.15


def test_without_a_cjk_font_the_pdf_is_refused_with_a_message_that_says_how_to_fix_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    empty = tmp_path / "fonts"
    empty.mkdir()
    monkeypatch.setattr("jiaowei.reports.outputs.fonts.SEARCH_DIRS", (str(empty),))
    with using(Settings(cjk_font=tmp_path / "nowhere.ttc")), pytest.raises(FontMissing) as raised:
        to_pdf(chinese_report())
    error = raised.value
    assert error.status == 503 and error.code == "font-missing"
    assert "No CJK font was found" in error.detail
    assert f"JIAOWEI_CJK_FONT={tmp_path / 'nowhere.ttc'}" in error.detail
    assert str(empty) in error.detail and "apt install fonts-noto-cjk" in error.detail
    assert "fonts-wqy-microhei" in error.detail
    chinese = translate("zh_CN", error.detail)
    assert chinese.startswith("未找到中文字体") and str(empty) in chinese


def test_a_document_without_cjk_text_needs_no_cjk_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("jiaowei.reports.outputs.fonts.SEARCH_DIRS", (str(tmp_path),))
    with using(Settings(cjk_font=None)):
        pages = pages_text(to_pdf(english_report()))
    assert "Coverage reached 86%[1]" in pages[0]


def test_an_empty_document():
    pages = pages_text(to_pdf(Document(title="空报告", language="zh", blocks=())))
    assert pages == ["空报告第 1 页，共 1 页"]


@settings(max_examples=30, deadline=None)
@given(st.text(string.ascii_letters + string.digits + string.punctuation + " 年度报告，。（）《》·",
               max_size=60))
def test_any_text_is_printed_as_it_is_written(text: str):
    document = Document(title="题", language="zh", blocks=(Paragraph((Text(text),)),))
    printed = pages_text(to_pdf(document))[0]
    assert printed.replace(" ", "").startswith("题" + text.replace(" ", ""))


def test_the_pdf_is_dated_when_the_report_was_generated():
    generated = dt.datetime(2021, 1, 15, 9, 30, 12, 345678, tzinfo=ZoneInfo("Asia/Shanghai"))
    pdf = pdfium.PdfDocument(to_pdf(replace(chinese_report(), generated=generated)))
    try:
        assert pdf.get_metadata_dict()["CreationDate"] == "D:20210115013012Z"
        assert pdf.get_metadata_dict()["Title"] == "2020年度工作情况报告"
        assert "生成于 2021-01-15 09:30" in pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
