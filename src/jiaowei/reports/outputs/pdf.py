"""A report as PDF, typeset by Typst (decision 0019), and a chart as PNG for the DOCX writer.

The Typst source is generated from the document's blocks in code mode: every text of the report is
a Typst string literal (``"…"``, only ``\\`` and ``"`` escaped), never markup, so no character of
a report can start a Typst command. Figures carry a superscript number ``[n]``, charts are the SVG of
:mod:`~jiaowei.reports.outputs.charts` as images, and the sources of the figures close the document. A4,
the title in the header from the second page, "page n of N" in the footer.

Chinese text needs a CJK font (:mod:`~jiaowei.reports.outputs.fonts`): without one, :class:`FontMissing` is
raised instead of a PDF of boxes. A document with no CJK character is typeset with Typst's own font.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import typst

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
    plain_text,
)
from jiaowei.reports.outputs import (
    PAGE_LABEL,
    SOURCES_COLUMNS,
    SOURCES_TITLE,
    STAGE_CHARTS,
    STAGE_TYPESETTING,
    Progress,
    chart_caption,
    charts,
    generated_line,
    readable_query,
    say,
    source_rows,
    tick,
)
from jiaowei.reports.outputs.fonts import FontMissing, cjk_font, needs_cjk

LATIN_FONT = "Libertinus Serif"  # built into Typst: for a document without CJK text, if no CJK font is found
ZERO_WIDTH_SPACE = "\u200b"  # lets a long code or query break


def to_pdf(document: Document, *, progress: Progress | None = None) -> bytes:
    """The document as an A4 PDF. Raises FontMissing when it has CJK text and no CJK font is found."""
    family, fonts = _font(_all_text(document))
    total = len(document.charts)
    tick(progress, STAGE_CHARTS, 0, total)
    source = _source(document, family, progress)
    tick(progress, STAGE_TYPESETTING, 0, 1)
    made = _timestamp(document.generated)
    data = typst.compile(source.encode("utf-8"), font_paths=fonts, ignore_system_fonts=True, format="pdf",
                         timestamp=made)
    tick(progress, STAGE_TYPESETTING, 1, 1)
    return data


def _timestamp(generated: dt.datetime | None) -> dt.datetime | None:
    """The PDF's creation time as Typst takes it: UTC, whole seconds (None: Typst's own clock)."""
    if generated is None or generated.tzinfo is None:
        return None
    return generated.astimezone(dt.UTC).replace(microsecond=0)


def chart_png(chart: Chart, *, language: str, width_cm: float = 16.0, ppi: int = 200) -> bytes:
    """The chart as a PNG exactly its size (a one-chart Typst page without margins)."""
    family, fonts = _font(" ".join([chart.title, chart.value_label, *chart.categories,
                                    *(s.name for s in chart.series)]))
    drawn = charts.svg(chart, font_family=family, language=language)
    source = ("#set page(width: auto, height: auto, margin: 0pt)\n"
              f'#image(bytes({_s(drawn)}), format: "svg", width: {width_cm}cm)\n')
    return typst.compile(source.encode("utf-8"), font_paths=fonts, ignore_system_fonts=True,
                         format="png", ppi=ppi)


def _font(text: str) -> tuple[str, typst.Fonts]:
    """The family to typeset ``text`` with, and the fonts Typst is given (never the system's)."""
    try:
        font = cjk_font()
    except FontMissing:
        if needs_cjk(text):
            raise
        return LATIN_FONT, typst.Fonts(include_system_fonts=False, include_embedded_fonts=True)
    return font.family, font.typst_fonts()


def _all_text(document: Document) -> str:
    words = [say(document, w) for w in (*SOURCES_COLUMNS, SOURCES_TITLE, PAGE_LABEL)]
    rows = [f"{r.figure} {r.indicator} {r.units}" for r in source_rows(document)]
    labels = [f"{c.value_label} {' '.join(c.categories)} {' '.join(s.name for s in c.series)}"
              for c in document.charts]
    return "\n".join([plain_text(document), document.subtitle, document.synthetic_note,
                      generated_line(document), *words, *rows, *labels])


def _source(document: Document, family: str, progress: Progress | None) -> str:
    lines = [_preamble(document, family), *_title(document)]
    charts_done = 0
    for block in document.blocks:
        lines.append(_block(document, block, family))
        if isinstance(block, Chart):
            charts_done += 1
            tick(progress, STAGE_CHARTS, charts_done, len(document.charts))
    if document.figures:
        lines.append(_sources(document))
    return "\n\n".join(lines) + "\n"


def _preamble(document: Document, family: str) -> str:
    lang = '"zh", region: "cn"' if document.language == "zh" else '"en"'
    page_label = _s(say(document, PAGE_LABEL))
    return "\n".join([
        f"#set document(title: {_s(document.title)})",
        "#set page(paper: \"a4\", margin: (x: 2.2cm, y: 2.6cm),",
        "  header: context if here().page() > 1 { set text(size: 8pt, fill: gray)",
        f"    align(right, {_s(document.title)}) }},",
        "  footer: context { set text(size: 8pt, fill: gray)",
        f"    align(center, {page_label}.replace(\"{{page}}\", str(here().page()))",
        "      .replace(\"{pages}\", str(counter(page).final().first()))) })",
        f"#set text(font: ({_s(family)}, {_s(LATIN_FONT)}), size: 10.5pt, lang: {lang},",
        "  cjk-latin-spacing: none)",  # no space added between Chinese and Latin: the text reads as written
        "#set par(justify: true, leading: 0.9em, spacing: 1.2em)",
        "#show heading: set block(above: 1.4em, below: 0.8em)",
        "#show table: set par(justify: false)",
        "#show heading.where(level: 1): set text(size: 15pt)",
        "#show heading.where(level: 2): set text(size: 12.5pt)",
        "#show heading.where(level: 3): set text(size: 11pt)",
        "#let fig(n, t) = [#t#super(\"[\" + str(n) + \"]\")]",
    ])


def _title(document: Document) -> list[str]:
    out = [f"#align(center, text(size: 20pt, weight: \"bold\", {_s(document.title)}))"]
    for line in (document.subtitle, generated_line(document)):
        if line:
            out.append(f"#align(center, text(size: 12pt, fill: luma(80), {_s(line)}))")
    if document.synthetic_note:
        out.append("#block(fill: rgb(\"#fff8e0\"), inset: 8pt, width: 100%, "
                   f"emph({_s(document.synthetic_note)}))")
    return out


def _block(document: Document, block: object, family: str) -> str:
    if isinstance(block, Heading):
        return f"#heading(level: {min(max(block.level, 1), 3)}, {_runs(document, block.runs)})"
    if isinstance(block, Paragraph):
        return f"#par({_runs(document, block.runs)})"
    if isinstance(block, ListBlock):
        kind = "enum" if block.ordered else "list"
        return f"#{kind}({', '.join(_runs(document, item) for item in block.items)})"
    if isinstance(block, Table):
        return _table(document, block)
    assert isinstance(block, Chart)
    drawn = charts.svg(block, font_family=family, language=document.language)
    return (f"#figure(image(bytes({_s(drawn)}), format: \"svg\", width: 100%), "
            f"caption: {_s(chart_caption(document, block))}, numbering: none, kind: \"chart\", "
            f"supplement: none)")


def _runs(document: Document, runs: Runs) -> str:
    """Code that makes the runs' content: ``("text", fig(1, "86%"), strong("…"), ).join()``."""
    return "(" + "".join(f"{_run(document, run)}, " for run in runs) + ").join()"


def _run(document: Document, run: Text | FigureRef) -> str:
    if isinstance(run, FigureRef):
        figure = document.figure(run.number)
        return f"fig({figure.number}, {_s(figure.text)})"
    text = _s(run.text)
    text = f"strong({text})" if run.bold else text
    return f"emph({text})" if run.italic else text


def _table(document: Document, table: Table) -> str:
    columns = max([len(table.header), *(len(row) for row in table.rows)], default=1)
    header = ", ".join(f"strong({_runs(document, cell)})" for cell in table.header)
    body = ", ".join(_runs(document, cell) for row in table.rows for cell in _pad(row, columns))
    made = f"table(columns: {columns}, inset: 5pt, table.header({header}), {body})"
    if not table.caption:
        return f"#{made}"
    return (f"#figure({made}, caption: figure.caption(position: top, {_s(table.caption)}), "
            "kind: table, numbering: none, supplement: none)")


def _pad(row: Iterable[Runs], columns: int) -> list[Runs]:
    cells = list(row)
    return cells + [()] * (columns - len(cells))


def _sources(document: Document) -> str:
    header = ", ".join(f"strong({_s(say(document, c))})" for c in SOURCES_COLUMNS)
    cells = []
    for row in source_rows(document):
        queries = ", linebreak(), ".join(_s(_breakable(readable_query(q))) for q in row.queries)
        cells.extend([_s(str(row.number)), _s(row.figure), _s(_breakable(row.indicator)), _s(row.units),
                      _s(row.period), f"({queries}, ).join()"])
    return "\n".join([
        "#pagebreak()",
        f"#heading(level: 1, {_s(say(document, SOURCES_TITLE))})",
        "#text(size: 8pt, table(columns: (auto, 1fr, 1.3fr, 1fr, auto, 2fr), inset: 4pt,",
        f"  table.header({header}), {', '.join(cells)}))",
    ])


def _breakable(text: str) -> str:
    """Codes and queries with a break allowed after ``_ & ; = :``, so a narrow column can hold them."""
    return re.sub(r"([_&;=:])(?=\S)", "\\1" + ZERO_WIDTH_SPACE, text)


def _s(text: str) -> str:
    """``text`` as a Typst string literal."""
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif 0xD800 <= ord(char) <= 0xDFFF:  # a lone surrogate cannot be written as UTF-8
            out.append("\ufffd")
        elif ord(char) < 0x20 or char in "\u2028\u2029":
            out.append(f"\\u{{{ord(char):x}}}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
