"""A report :class:`~jiaowei.reports.document.Document` as a file: HTML, DOCX or PDF.

:func:`output` is what the web pages and the command line call; the writers are
:mod:`~jiaowei.reports.outputs.html`, :mod:`~jiaowei.reports.outputs.docx` and
:mod:`~jiaowei.reports.outputs.pdf`. The
words the writers add around the report's own text (the appendix of figures, captions, page
labels) are here, translated when the document is in Chinese, so the three formats say the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote

from jiaowei.domains import N_
from jiaowei.errors import M_
from jiaowei.i18n import translate
from jiaowei.reports.document import Chart, Document, Figure

# (stage, done, total): the stage is an English N_ phrase, translated where it is shown.
Progress = Callable[[str, int, int], None]

SOURCES_TITLE = N_("Sources of the figures")
SOURCES_COLUMNS = (N_("No."), N_("Figure"), N_("Indicator"), N_("Units"), N_("Period"),
                   N_("Analytics query"))
PAGE_LABEL = N_("Page {page} of {pages}")  # {page} and {pages} are filled in by the PDF itself
SYNTHETIC = N_("Synthetic data")  # after a figure a synthetic value contributed to, in the appendix
STAGE_WRITING = N_("Writing the report")
STAGE_CHARTS = N_("Drawing the charts")
STAGE_TYPESETTING = N_("Typesetting the PDF")


class Format(StrEnum):
    HTML = "html"
    DOCX = "docx"
    PDF = "pdf"


MEDIA_TYPES = {
    Format.HTML: "text/html; charset=utf-8",
    Format.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Format.PDF: "application/pdf",
}


@dataclass(frozen=True)
class Output:
    data: bytes
    media_type: str
    extension: str


def output(document: Document, *, format: Format, progress: Progress | None = None) -> Output:
    """``document`` written in ``format``. A PDF (and a DOCX with charts) needs a CJK font when the
    document has Chinese text: :class:`jiaowei.reports.outputs.fonts.FontMissing` (503) without one."""
    # Imported here, not at the top: the writers import this module's words and Progress.
    from jiaowei.reports.outputs.docx import to_docx
    from jiaowei.reports.outputs.html import to_html
    from jiaowei.reports.outputs.pdf import to_pdf

    if format is Format.HTML:
        tick(progress, STAGE_WRITING, 0, 1)
        data = to_html(document, standalone=True).encode("utf-8")
        tick(progress, STAGE_WRITING, 1, 1)
    elif format is Format.DOCX:
        data = to_docx(document, progress=progress)
    else:
        data = to_pdf(document, progress=progress)
    return Output(data=data, media_type=MEDIA_TYPES[format], extension=format.value)


def tick(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def say(document: Document, message: str) -> str:
    """A fixed word or message in the document's language (Chinese for ``zh``, else English)."""
    return translate("zh_CN", message) if document.language == "zh" else str(message)


def chart_caption(document: Document, chart: Chart) -> str:
    """``Figure 2``, and which figures of the appendix the chart's numbers are."""
    if not chart.figures:
        return say(document, M_("Figure {number}", number=chart.number))
    return say(document, M_("Figure {number}; its numbers are {figures} in the sources of the figures",
                            number=chart.number, figures=number_ranges(chart.figures)))


def number_ranges(numbers: tuple[int, ...]) -> str:
    """``[3], [5]–[8]``: figure numbers, a run of consecutive ones as a range."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"[{r[0]}]" if len(r) == 1 else f"[{r[0]}]–[{r[-1]}]" for r in runs)


def generated_line(document: Document) -> str:
    if document.generated is None:
        return ""
    return say(document, M_("Generated on {date}", date=document.generated.strftime("%Y-%m-%d %H:%M")))


@dataclass(frozen=True)
class SourceRow:
    """A line of the appendix: a figure and the analytics queries behind it."""

    number: int
    figure: str
    indicator: str
    units: str
    period: str
    queries: tuple[str, ...]  # /api/analytics?… one per source (two for a change)
    synthetic: bool


def source_rows(document: Document) -> list[SourceRow]:
    return [_source_row(document, figure) for figure in document.figures]


def _source_row(document: Document, figure: Figure) -> SourceRow:
    separator = "、" if document.language == "zh" else ", "
    items = dict.fromkeys(f"{s.item} {s.item_name}".strip() for s in figure.sources)
    units = dict.fromkeys(separator.join(s.unit_names or s.units) for s in figure.sources)
    periods = dict.fromkeys(s.period for s in figure.sources)
    text = f"{figure.text} ({figure.note})" if figure.note else figure.text
    text = f"{text} ({say(document, SYNTHETIC)})" if figure.synthetic else text
    return SourceRow(number=figure.number, figure=text, indicator="; ".join(items),
                     units="; ".join(units), period=" / ".join(periods),
                     queries=tuple(s.api_url for s in figure.sources), synthetic=figure.synthetic)


def readable_query(url: str) -> str:
    """An analytics URL as people read it: ``/api/analytics?dimension=dx:CODE&dimension=pe:2020``."""
    return unquote(url)


def figure_title(document: Document, figure: Figure) -> str:
    """What a figure is, in a line: ``indicator · units · period`` (the HTML link's tooltip)."""
    row = _source_row(document, figure)
    names = dict.fromkeys(s.item_name or s.item for s in figure.sources)
    return " · ".join(part for part in ("; ".join(names), row.units, row.period) if part)
