"""A rendered report as plain values: blocks of text, numbered figures with their provenance, charts.

The report engine (:mod:`jiaowei.reports.engine`) renders a template and reads its output into a
:class:`Document`; each writer (:mod:`~jiaowei.reports.outputs.html`, :mod:`~.outputs.docx`,
:mod:`~jiaowei.reports.outputs.pdf`) turns the same document into its format, so the three outputs say
the same thing. Pure: no database, no web.

Every number the data gave is a :class:`Figure`: the text shown (``86%``, ``18.66万``, ``1:159``,
``较去年增加14个``), numbered in order of first appearance, with the analytics queries that produced
it (:class:`Provenance`). In the text a figure is a :class:`FigureRef` to its number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlencode


@dataclass(frozen=True)
class Provenance:
    """One analytics query behind a figure: an indicator (or data element) at units for a period.

    ``query`` is the query string of ``GET /api/analytics`` (and of the pivot page ``/analytics``)
    that answers ``value``: ``dimension=dx:CODE&dimension=pe:2020&dimension=ou:310000``.
    """

    item: str  # the indicator's or data element's code
    item_name: str
    units: tuple[str, ...]  # unit codes
    unit_names: tuple[str, ...]
    period: str  # a period id: 2020, 2020SY, 202011 …
    value: float | None  # None: no value contributed
    synthetic: bool = False  # a synthetic value contributed

    @property
    def query(self) -> str:
        return urlencode([("dimension", f"dx:{self.item}"), ("dimension", f"pe:{self.period}"),
                          ("dimension", f"ou:{';'.join(self.units)}")])

    @property
    def api_url(self) -> str:
        return "/api/analytics?" + self.query


class FigureKind(StrEnum):
    VALUE = "value"  # one indicator's value: 86%
    CHANGE = "change"  # the same indicator against an earlier period: 较去年增加14个
    COMPARISON = "comparison"  # against a constant such as a national standard: 超出国家标准6个百分点
    TARGET = "target"  # against the indicator's target for the unit and period


@dataclass(frozen=True)
class Figure:
    """A number in the report: its text as shown and where it came from.

    ``sources`` has one query for a value or a comparison, two for a change (this period, then the
    base period). ``note`` names what a comparison is made against (``国家标准 80%``).
    """

    number: int  # 1-based, in order of first appearance
    kind: FigureKind
    text: str
    sources: tuple[Provenance, ...]
    note: str = ""

    @property
    def synthetic(self) -> bool:
        return any(s.synthetic for s in self.sources)

    @property
    def pivot_url(self) -> str:
        """The pivot page that shows this figure's numbers: every source's periods in one table."""
        first = self.sources[0]
        periods = list(dict.fromkeys(s.period for s in self.sources))
        items = list(dict.fromkeys(s.item for s in self.sources))
        return "/analytics?" + urlencode([("dimension", f"dx:{';'.join(items)}"),
                                          ("dimension", f"pe:{';'.join(periods)}"),
                                          ("dimension", f"ou:{';'.join(first.units)}"),
                                          ("rows", "ou"), ("columns", "pe")])


@dataclass(frozen=True)
class Text:
    text: str
    bold: bool = False
    italic: bool = False


@dataclass(frozen=True)
class FigureRef:
    """A figure in the text; its words are ``Document.figure(number).text``."""

    number: int


Run = Text | FigureRef
Runs = tuple[Run, ...]


@dataclass(frozen=True)
class Heading:
    level: int  # 1 to 3
    runs: Runs


@dataclass(frozen=True)
class Paragraph:
    runs: Runs


@dataclass(frozen=True)
class ListBlock:
    items: tuple[Runs, ...]
    ordered: bool = False


@dataclass(frozen=True)
class Table:
    """A table: a header row and body rows of cells, each cell a run of text and figures."""

    header: tuple[Runs, ...]
    rows: tuple[tuple[Runs, ...], ...]
    caption: str = ""


class ChartKind(StrEnum):
    BAR = "bar"
    LINE = "line"


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]  # one per category; None: no value


@dataclass(frozen=True)
class Chart:
    """A chart: categories (units or periods) on one axis, one or more series of numbers.

    ``figures`` are the numbers of the figures the chart draws (each bar or point is one), so the
    appendix lists a chart's provenance with the text's.
    """

    number: int  # 1-based, in order of appearance
    kind: ChartKind
    title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    value_label: str = ""  # what the axis counts: 人, %, 所 …
    figures: tuple[int, ...] = ()


Block = Heading | Paragraph | ListBlock | Table | Chart


@dataclass(frozen=True)
class Document:
    """A report as every writer takes it."""

    title: str
    language: str  # "zh" or "en"
    blocks: tuple[Block, ...]
    figures: tuple[Figure, ...] = ()
    subtitle: str = ""
    generated: dt.datetime | None = None
    synthetic_note: str = ""  # shown when a synthetic value contributed to a figure
    meta: dict[str, str] = field(default_factory=dict)  # template code, year, unit …

    def figure(self, number: int) -> Figure:
        return self.figures[number - 1]

    @property
    def charts(self) -> tuple[Chart, ...]:
        return tuple(b for b in self.blocks if isinstance(b, Chart))

    @property
    def synthetic(self) -> bool:
        return any(f.synthetic for f in self.figures)


def run_text(document: Document, runs: Runs) -> str:
    """A run of text and figures as plain text."""
    return "".join(r.text if isinstance(r, Text) else document.figure(r.number).text for r in runs)


def plain_text(document: Document) -> str:
    """The whole document as plain text, a line per block (what the tests read out of every format)."""
    lines = [document.title]
    for block in document.blocks:
        if isinstance(block, Heading | Paragraph):
            lines.append(run_text(document, block.runs))
        elif isinstance(block, ListBlock):
            lines.extend(run_text(document, item) for item in block.items)
        elif isinstance(block, Table):
            for row in (block.header, *block.rows):
                lines.append("\t".join(run_text(document, cell) for cell in row))
        else:
            lines.append(block.title)
    return "\n".join(lines)
