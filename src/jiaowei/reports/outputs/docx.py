"""A report as a Word document (python-docx), for commissions to edit in Word.

Headings use Word's own heading styles, so the navigation pane and a table of contents work. The
styles name an East Asian font (``w:eastAsia``: 宋体 for the text, 黑体 for titles and headings), so
Word shows the Chinese text in a Chinese font whatever its Latin font is. Every figure is its text
followed by a superscript ``[n]``, and the sources of the figures close the document: number, text,
indicator, units, period and the analytics queries (two for a change). Charts are PNG pictures,
drawn by Typst (:func:`jiaowei.reports.outputs.pdf.chart_png`), so they need the CJK font when they show
Chinese text; the text itself does not (Word has its own fonts).
"""

from __future__ import annotations

import io
import re

from docx import Document as new_document
from docx.document import Document as WordDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.styles.style import BaseStyle
from docx.table import _Cell, _Row
from docx.text.paragraph import Paragraph as WordParagraph

from jiaowei.reports.document import (
    Chart,
    Document,
    FigureRef,
    Heading,
    ListBlock,
    Paragraph,
    Runs,
    Table,
    Text,
)
from jiaowei.reports.outputs import (
    SOURCES_COLUMNS,
    SOURCES_TITLE,
    STAGE_CHARTS,
    STAGE_WRITING,
    Progress,
    chart_caption,
    generated_line,
    readable_query,
    say,
    source_rows,
    tick,
)
from jiaowei.reports.outputs.pdf import chart_png

TEXT_FONT = "宋体"  # SimSun: the East Asian font of the body text
HEADING_FONT = "黑体"  # SimHei: titles and headings
CHART_WIDTH_CM = 15.0
# What XML 1.0 cannot hold (python-docx refuses it): control characters and lone surrogates.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def to_docx(document: Document, *, progress: Progress | None = None) -> bytes:
    """The document as a .docx file. Raises FontMissing when a chart has CJK text and no CJK font is
    found (the charts are pictures typeset with it)."""
    word = new_document()
    _styles(word, document.language)
    word.core_properties.title = _x(document.title)
    word.core_properties.language = "zh-CN" if document.language == "zh" else "en"
    _title(word, document)
    charts_done, total = 0, len(document.charts)
    tick(progress, STAGE_CHARTS, 0, total)
    for block in document.blocks:
        _block(word, document, block)
        if isinstance(block, Chart):
            charts_done += 1
            tick(progress, STAGE_CHARTS, charts_done, total)
    if document.figures:
        _sources(word, document)
    tick(progress, STAGE_WRITING, 0, 1)
    out = io.BytesIO()
    word.save(out)
    tick(progress, STAGE_WRITING, 1, 1)
    return out.getvalue()


def _styles(word: WordDocument, language: str) -> None:
    """The East Asian font (and language) on the styles the writer uses."""
    styles = word.styles
    _east_asian(styles["Normal"], TEXT_FONT, language)
    for name in ("Title", "Subtitle", "Heading 1", "Heading 2", "Heading 3"):
        _east_asian(styles[name], HEADING_FONT, language)
    styles["Normal"].font.size = Pt(11)  # type: ignore[attr-defined]


def _east_asian(style: BaseStyle, font: str, language: str) -> None:
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), font)
    for theme in ("w:eastAsiaTheme",):  # a theme font would win over the named one
        fonts.attrib.pop(qn(theme), None)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = rpr.makeelement(qn("w:lang"), {})
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")
    lang.set(qn("w:val"), "zh-CN" if language == "zh" else "en-US")


def _title(word: WordDocument, document: Document) -> None:
    word.add_heading(_x(document.title), level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
    for line in (document.subtitle, generated_line(document)):
        if line:
            word.add_paragraph(_x(line), style="Subtitle").alignment = WD_ALIGN_PARAGRAPH.CENTER
    if document.synthetic_note:
        word.add_paragraph().add_run(_x(document.synthetic_note)).italic = True


def _block(word: WordDocument, document: Document, block: object) -> None:
    if isinstance(block, Heading):
        _runs(word.add_heading(level=min(max(block.level, 1), 3)), document, block.runs)
    elif isinstance(block, Paragraph):
        _runs(word.add_paragraph(), document, block.runs)
    elif isinstance(block, ListBlock):
        style = "List Number" if block.ordered else "List Bullet"
        for item in block.items:
            _runs(word.add_paragraph(style=style), document, item)
    elif isinstance(block, Table):
        _table(word, document, block)
    else:
        assert isinstance(block, Chart)
        _chart(word, document, block)


def _runs(paragraph: WordParagraph, document: Document, runs: Runs) -> WordParagraph:
    for run in runs:
        if isinstance(run, Text):
            made = paragraph.add_run(_x(run.text))
            made.bold, made.italic = run.bold or None, run.italic or None
        else:
            _figure(paragraph, document, run)
    return paragraph


def _figure(paragraph: WordParagraph, document: Document, ref: FigureRef) -> None:
    figure = document.figure(ref.number)
    paragraph.add_run(_x(figure.text))
    paragraph.add_run(f"[{figure.number}]").font.superscript = True


def _table(word: WordDocument, document: Document, table: Table) -> None:
    if table.caption:
        word.add_paragraph(_x(table.caption), style="Caption")
    columns = max([len(table.header), *(len(row) for row in table.rows)], default=1)
    made = word.add_table(rows=0, cols=columns)
    made.style = word.styles["Table Grid"]
    for index, row in enumerate((table.header, *table.rows)):
        cells = made.add_row().cells
        for cell, runs in zip(cells, row, strict=False):
            _cell(cell, document, runs, bold=index == 0)
    if table.header:
        _repeat_on_each_page(made.rows[0])


def _cell(cell: _Cell, document: Document, runs: Runs, *, bold: bool = False) -> None:
    paragraph = _runs(cell.paragraphs[0], document, runs)
    if bold:
        for run in paragraph.runs:
            run.bold = True


def _chart(word: WordDocument, document: Document, chart: Chart) -> None:
    png = chart_png(chart, language=document.language, width_cm=CHART_WIDTH_CM)
    word.add_picture(io.BytesIO(png), width=Cm(CHART_WIDTH_CM))
    word.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    word.add_paragraph(chart_caption(document, chart), style="Caption").alignment = WD_ALIGN_PARAGRAPH.CENTER


def _sources(word: WordDocument, document: Document) -> None:
    word.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    word.add_heading(say(document, SOURCES_TITLE), level=1)
    table = word.add_table(rows=1, cols=len(SOURCES_COLUMNS))
    table.style = word.styles["Table Grid"]
    for cell, column in zip(table.rows[0].cells, SOURCES_COLUMNS, strict=True):
        cell.paragraphs[0].add_run(say(document, column)).bold = True
    _repeat_on_each_page(table.rows[0])
    for row in source_rows(document):
        values = (str(row.number), row.figure, row.indicator, row.units, row.period,
                  "\n".join(readable_query(q) for q in row.queries))
        for cell, value in zip(table.add_row().cells, values, strict=True):
            cell.paragraphs[0].add_run(_x(value)).font.size = Pt(8)


def _repeat_on_each_page(row: _Row) -> None:
    """Make ``row`` a header row, repeated at the top of each page the table runs onto."""
    properties = row._tr.get_or_add_trPr()
    properties.append(properties.makeelement(qn("w:tblHeader"), {}))


def _x(text: str) -> str:
    return _NOT_XML.sub("", text)
