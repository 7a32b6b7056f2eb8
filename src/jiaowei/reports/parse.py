"""A rendered template's HTML read into document blocks (pure: the standard library and the document model).

:func:`read_blocks` walks the HTML with :mod:`html.parser`:

- ``h1``–``h3`` are headings (``h4``–``h6`` count as ``h3``); the first ``h1`` is the document's
  title, not a block;
- ``p`` is a paragraph; ``ul`` / ``ol`` with their ``li`` a list (nested lists are flattened into it);
- ``table`` with ``caption``, ``tr``, ``th`` and ``td`` a table: its first row is the header when
  it is in ``thead`` or made only of ``th`` cells;
- ``strong`` / ``b`` make text bold, ``em`` / ``i`` italic; ``br`` is a line break;
- ``<span class="figure" data-figure="N">`` is a reference to figure N and
  ``<figure class="chart" data-chart="N">`` is chart N (their own text is the engine's, not read);
- any other tag keeps its text; text outside a block becomes a paragraph (``div`` and its kin end one).

Whitespace collapses as HTML does: a run of spaces and newlines is one space, none at the ends of a
block, and a line break between two Chinese characters is no space at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

from jiaowei.reports.document import (
    Block,
    Chart,
    Figure,
    FigureRef,
    Heading,
    ListBlock,
    Paragraph,
    Run,
    Runs,
    Table,
    Text,
)

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 3, "h5": 3, "h6": 3}
BREAKS = frozenset({"div", "section", "article", "header", "footer", "main", "aside", "nav", "blockquote",
                    "hr", "address", "pre", "dl", "dt", "dd", "figure", "figcaption"})
LINE_BREAK = "\u2028"  # a <br> while the runs are read (never collapsed)
_SPACE = re.compile(r"[ \t\n\r\f]+")
_WIDE = r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u3000-\u303f]"
_CJK_BREAK = re.compile(rf"(?<={_WIDE})[ \t\r\f]*\n[ \t\n\r\f]*(?={_WIDE})")
_LEADING_BREAK = re.compile(rf"^[ \t\r\f]*\n[ \t\n\r\f]*(?={_WIDE})")
_TRAILING_BREAK = re.compile(rf"(?<={_WIDE})[ \t\r\f]*\n[ \t\n\r\f]*$")
_WIDE_CHAR = re.compile(_WIDE)


def read_blocks(html: str, *, figures: Sequence[Figure] = (), charts: Mapping[int, Chart] | None = None
                ) -> tuple[str, tuple[Block, ...]]:
    """(title, blocks) of the HTML: the first ``h1``'s text and every other block in order."""
    reader = _Reader(figures, charts or {})
    reader.feed(html)
    reader.close()
    reader.finish()
    return reader.title or "", tuple(reader.blocks)


# ---------------------------------------------------------------- whitespace


def normalise(runs: Sequence[Run], figure_text: Callable[[int], str] = lambda number: "") -> Runs:
    """Runs with whitespace collapsed as HTML does, adjacent text of one style merged, no empty text.

    ``figure_text`` gives a figure's text, so that a line break between a Chinese character and a
    figure that starts (or ends) with one is no space either."""
    merged: list[Run] = []
    for run in runs:
        last = merged[-1] if merged else None
        same_style = isinstance(last, Text) and isinstance(run, Text) and (last.bold, last.italic) == (
            run.bold, run.italic)
        if same_style and isinstance(run, Text) and isinstance(last, Text):
            merged[-1] = Text(last.text + run.text, run.bold, run.italic)
        else:
            merged.append(run)
    out: list[Run] = []
    space_before = True  # at the start of a block, leading space goes
    for i, run in enumerate(merged):
        if isinstance(run, FigureRef):
            out.append(run)
            space_before = False
            continue
        before = _edge(merged[i - 1], figure_text, last=True) if i else ""
        after = _edge(merged[i + 1], figure_text, last=False) if i + 1 < len(merged) else ""
        text = _SPACE.sub(" ", _cjk_breaks(run.text, before, after))
        text = re.sub(f" ?{LINE_BREAK} ?", "\n", text)
        if space_before and text.startswith(" "):
            text = text[1:]
        if text:
            last = out[-1] if out else None
            if isinstance(last, Text) and (last.bold, last.italic) == (run.bold, run.italic):
                out[-1] = Text(last.text + text, run.bold, run.italic)  # what lay between them was empty
            else:
                out.append(Text(text, run.bold, run.italic))
            space_before = text.endswith((" ", "\n"))
    return _strip_end(out)


def _edge(run: Run, figure_text: Callable[[int], str], *, last: bool) -> str:
    """The last (or first) character of a run's text: what a line break next to it sits against."""
    text = run.text if isinstance(run, Text) else figure_text(run.number)
    text = text.strip(" \t\n\r\f")
    return (text[-1:] if last else text[:1]) if text else ""


def _cjk_breaks(text: str, before: str, after: str) -> str:
    """The text without its line breaks between two Chinese characters (``before`` and ``after`` are
    the characters of the runs around it)."""
    wide_before, wide_after = bool(_WIDE_CHAR.match(before)), bool(_WIDE_CHAR.match(after))
    if not text.strip(" \t\n\r\f"):
        return "" if "\n" in text and wide_before and wide_after else text
    if wide_before:
        text = _LEADING_BREAK.sub("", text)
    if wide_after:
        text = _TRAILING_BREAK.sub("", text)
    return _CJK_BREAK.sub("", text)


def _strip_end(runs: list[Run]) -> Runs:
    while runs and isinstance(runs[-1], Text) and not runs[-1].text.rstrip(" "):
        runs.pop()
    if runs and isinstance(last := runs[-1], Text):
        runs[-1] = Text(last.text.rstrip(" "), last.bold, last.italic)
    return tuple(runs)


# ---------------------------------------------------------------- the reader


@dataclass
class _Table:
    rows: list[tuple[list[Runs], bool]] = field(default_factory=list)  # (cells, every cell a th or in thead)
    cells: list[Runs] | None = None
    all_th: bool = True
    head: bool = False
    caption: str = ""


class _Reader(HTMLParser):
    def __init__(self, figures: Sequence[Figure], charts: Mapping[int, Chart]) -> None:
        super().__init__(convert_charrefs=True)
        self.figures, self.charts = figures, charts
        self.title: str | None = None
        self.blocks: list[Block] = []
        self.runs: list[Run] = []  # the inline content being read
        self.leaf: str | None = None  # h1…h6, p, li, cell, caption; None: loose text
        self.bold = self.italic = 0
        self.skip: list[bool] = []  # per open span / figure: whether it is the engine's (text not read)
        self.items: list[Runs] = []
        self.list_depth, self.ordered = 0, False
        self.table: _Table | None = None
        self.table_depth = 0

    # ------------------------------------------------------------ text

    def _inline(self, run: Run) -> None:
        if any(self.skip):
            return
        if self.table is not None and self.leaf not in ("cell", "caption"):
            return  # whitespace between rows and cells
        if self.list_depth and self.leaf is None:
            return  # whitespace between items
        self.runs.append(run)

    def handle_data(self, data: str) -> None:
        self._inline(Text(data, self.bold > 0, self.italic > 0))

    def _take(self) -> Runs:
        runs, self.runs = normalise(self.runs, self._figure_text), []
        return runs

    def _flush_loose(self) -> None:
        if self.leaf is None and self.table is None and not self.list_depth:
            runs = self._take()
            if runs:
                self.blocks.append(Paragraph(runs))

    def _text_of(self, runs: Runs) -> str:
        return "".join(r.text if isinstance(r, Text) else self._figure_text(r.number) for r in runs)

    def _figure_text(self, number: int) -> str:
        return self.figures[number - 1].text if 0 < number <= len(self.figures) else ""

    # ------------------------------------------------------------ tags

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        classes = found.get("class", "").split()
        if tag in ("span", "figure"):
            self._special(tag, classes, found)
        elif tag in ("strong", "b"):
            self.bold += 1
        elif tag in ("em", "i"):
            self.italic += 1
        elif tag == "br":
            self._inline(Text(LINE_BREAK, self.bold > 0, self.italic > 0))
        elif tag in HEADINGS or tag == "p":
            self._open_leaf(tag)
        elif tag in ("ul", "ol"):
            self._open_list(tag == "ol")
        elif tag == "li" and self.list_depth:
            self._close_item()
            self.leaf = "li"
        elif tag == "table":
            self._open_table()
        elif self.table is not None and self.table_depth == 1:
            self._table_tag(tag)
        elif tag in BREAKS:
            self._flush_loose()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._inline(Text(LINE_BREAK, self.bold > 0, self.italic > 0))
        elif tag != "span" and tag != "figure":
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("span", "figure"):
            if self.skip:
                self.skip.pop()
            if tag == "figure":
                self._flush_loose()
        elif tag in ("strong", "b"):
            self.bold = max(0, self.bold - 1)
        elif tag in ("em", "i"):
            self.italic = max(0, self.italic - 1)
        elif tag in HEADINGS or tag == "p":
            self._close_leaf(tag)
        elif tag in ("ul", "ol") and self.list_depth:
            self._close_list()
        elif tag == "li" and self.list_depth:
            self._close_item()
        elif tag == "table" and self.table is not None:
            self._close_table()
        elif self.table is not None and self.table_depth == 1:
            self._table_end(tag)
        elif tag in BREAKS:
            self._flush_loose()

    def _special(self, tag: str, classes: list[str], found: dict[str, str]) -> None:
        """A figure reference or a chart (the engine's; their own text is not read), or a plain span."""
        if tag == "span" and "figure" in classes and found.get("data-figure", "").isdigit():
            self._inline(FigureRef(int(found["data-figure"])))
            self.skip.append(True)
        elif tag == "figure" and "chart" in classes and found.get("data-chart", "").isdigit():
            chart = self.charts.get(int(found["data-chart"]))
            if self.leaf in HEADINGS or self.leaf == "p":  # a figure ends a paragraph, as in HTML
                self._close_leaf(self.leaf)
            self._flush_loose()
            if chart is not None and not any(self.skip):
                self.blocks.append(chart)
            self.skip.append(True)
        else:
            if tag == "figure":
                self._flush_loose()
            self.skip.append(False)

    # ------------------------------------------------------------ headings and paragraphs

    def _open_leaf(self, tag: str) -> None:
        if self.leaf in ("li", "cell", "caption"):  # a paragraph inside an item or a cell: a line break
            if self.runs:
                self._inline(Text(LINE_BREAK))
            return
        self._flush_loose()
        if self.table is None and not self.list_depth:
            self.runs, self.leaf = [], tag

    def _close_leaf(self, tag: str) -> None:
        if self.leaf != tag and not (self.leaf in HEADINGS and tag in HEADINGS):
            return
        runs, self.leaf = self._take(), None
        if not runs:
            return
        if tag == "h1" and self.title is None:
            self.title = self._text_of(runs)
        elif tag in HEADINGS:
            self.blocks.append(Heading(HEADINGS[tag], runs))
        else:
            self.blocks.append(Paragraph(runs))

    # ------------------------------------------------------------ lists

    def _open_list(self, ordered: bool) -> None:
        if self.table is not None:
            return
        if not self.list_depth:
            self._flush_loose()
            self.items, self.ordered = [], ordered
        else:
            self._close_item()
        self.list_depth += 1

    def _close_item(self) -> None:
        if self.leaf == "li":
            runs = self._take()
            if runs:
                self.items.append(runs)
            self.leaf = None

    def _close_list(self) -> None:
        self._close_item()
        self.list_depth -= 1
        if not self.list_depth:
            if self.items:
                self.blocks.append(ListBlock(tuple(self.items), self.ordered))
            self.items = []

    # ------------------------------------------------------------ tables

    def _open_table(self) -> None:
        self.table_depth += 1
        if self.table is None and not self.list_depth:
            self._flush_loose()
            self.table = _Table()

    def _table_tag(self, tag: str) -> None:
        table = self.table
        assert table is not None
        if tag == "thead":
            table.head = True
        elif tag == "tr":
            self._end_row()
            table.cells, table.all_th = [], True
        elif tag in ("th", "td"):
            self._end_cell()
            if table.cells is None:
                table.cells, table.all_th = [], True
            table.all_th = table.all_th and tag == "th"
            self.leaf, self.runs = "cell", []
        elif tag == "caption":
            self.leaf, self.runs = "caption", []

    def _table_end(self, tag: str) -> None:
        table = self.table
        assert table is not None
        if tag in ("th", "td"):
            self._end_cell()
        elif tag == "tr":
            self._end_row()
        elif tag == "thead":
            self._end_row()
            table.head = False
        elif tag == "caption" and self.leaf == "caption":
            table.caption = self._text_of(self._take())
            self.leaf = None

    def _end_cell(self) -> None:
        if self.leaf == "cell" and self.table is not None and self.table.cells is not None:
            self.table.cells.append(self._take())
        self.leaf = None

    def _end_row(self) -> None:
        self._end_cell()
        table = self.table
        if table is not None and table.cells is not None:
            if table.cells:
                table.rows.append((table.cells, table.all_th or table.head))
            table.cells = None

    def _close_table(self) -> None:
        self.table_depth -= 1
        if self.table_depth:
            return
        self._end_row()
        table, self.table = self.table, None
        assert table is not None
        if not table.rows:
            return
        first, header_row = table.rows[0]
        header = tuple(first) if header_row else ()
        body = table.rows[1:] if header_row else table.rows
        self.blocks.append(Table(header, tuple(tuple(cells) for cells, _ in body), table.caption))

    # ------------------------------------------------------------ the end

    def finish(self) -> None:
        """Close what the HTML left open."""
        if self.table is not None:
            self.table_depth = 1
            self._close_table()
        while self.list_depth:
            self._close_list()
        if self.leaf in HEADINGS or self.leaf == "p":
            self._close_leaf(self.leaf)
        self.leaf = None
        self._flush_loose()
