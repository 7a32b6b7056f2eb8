"""The pivot as shown, as a CSV (UTF-8 with BOM, for spreadsheet programs) or an XLSX workbook.

Both hold the same table as the page: the row dimensions' titles and the column labels as the
header, one line per row, the row totals and the line of column totals where the page shows them
("—" where a total may not be added up). Numbers stay numbers (XLSX cells of type number, CSV
without thousands separators); text is guarded against formulas. Titles and names are in the
reader's language, so a zh-CN reader's workbook has Chinese headers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from jiaowei.analytics.pivot.table import NO_TOTAL, Pivot, PivotCell
from jiaowei.text import csv_cell, xlsx_cell
from jiaowei.workbooks import HEADER_FILL, fit_widths

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Labels:
    """The translated words the files need."""

    title: str
    total: str
    dimension_titles: dict[str, str]
    filters: list[tuple[str, str]]  # (dimension title, its items' names)


def _header(pivot: Pivot, labels: Labels) -> list[str]:
    head = [labels.dimension_titles.get(d, d) for d in pivot.row_dimensions]
    head += [" / ".join(c) for c in pivot.column_labels]
    if pivot.row_totals:
        head.append(labels.total)
    return head


def _number(cell: PivotCell | None) -> float | int | str | None:
    if cell is None:
        return None
    if cell.value is None:
        return NO_TOTAL if cell.text == NO_TOTAL else None
    return int(cell.value) if float(cell.value).is_integer() else cell.value


def table_lines(pivot: Pivot, labels: Labels) -> list[list[Any]]:
    """The header line, then each row's labels and numbers, then the column totals (if shown)."""
    lines: list[list[Any]] = [_header(pivot, labels)]
    for row in pivot.rows:
        line: list[Any] = [*row.labels, *(_number(c) for c in row.cells)]
        if pivot.row_totals:
            line.append(_number(row.total))
        lines.append(line)
    if pivot.column_totals is not None:
        pad = [labels.total] + [""] * (len(pivot.row_dimensions) - 1)
        line = [*pad, *(_number(c) for c in pivot.column_totals)]
        if pivot.row_totals:
            line.append(_number(pivot.grand_total))
        lines.append(line)
    return lines


def to_csv(pivot: Pivot, labels: Labels) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for line in table_lines(pivot, labels):
        writer.writerow(["" if v is None else csv_cell(v) if isinstance(v, str) else v for v in line])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(pivot: Pivot, labels: Labels) -> bytes:
    """A workbook of one sheet: the title and filters above the table, headers bold and frozen,
    numbers as numbers, each column as wide as its widest cell."""
    from openpyxl import Workbook  # imported here: slow to import, and only XLSX files need it
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = labels.title[:31]
    xlsx_cell(sheet, 1, 1, labels.title).font = Font(bold=True, size=14)
    for n, (title, items) in enumerate(labels.filters, 2):
        xlsx_cell(sheet, n, 1, title).font = Font(bold=True)
        xlsx_cell(sheet, n, 2, items)
    top = len(labels.filters) + 3
    lines = table_lines(pivot, labels)
    grey = PatternFill("solid", fgColor=HEADER_FILL)
    for r, line in enumerate(lines, top):
        for c, value in enumerate(line, 1):
            cell = xlsx_cell(sheet, r, c, value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                cell.number_format = "#,##0" if isinstance(value, int) else "#,##0.####"
            elif value == NO_TOTAL:
                cell.alignment = Alignment(horizontal="right")
            if r == top or c <= len(pivot.row_dimensions):
                cell.font = Font(bold=True)
            if r == top:
                cell.fill = grey
    fit_widths(sheet, lines)  # as every workbook jiaowei writes (jiaowei.workbooks)
    sheet.freeze_panes = sheet.cell(top + 1, len(pivot.row_dimensions) + 1)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
