"""The XLSX data entry template: one data set's form for one unit and period, and reading it back.

Sheet :data:`SHEET` holds the data set, unit and period codes in grey named cells
(:data:`DEFINED_NAMES`) and a table of one line for each data element and option combo: grey
codes and names, then the value and comment to fill in. Every text cell is written as text, never
as a formula (see :func:`jiaowei.text.xlsx_cell`). :func:`write_xlsx` is the ``xlsx``
writer of :func:`jiaowei.indicators.values.formats.write`; :func:`read_template` its reader.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators.model import DEFAULT, INTEGER_TYPES, NUMERIC_TYPES, ValueRow, ValueType
from jiaowei.indicators.values.formats.common import add_problem, json_value, raise_any
from jiaowei.text import xlsx_cell
from jiaowei.workbooks import open_workbook

# openpyxl (about 130 ms to import) is imported inside the functions that use it, so that
# the command line and the requests that never touch a workbook do not pay for it.

SHEET = "data"
DEFINED_NAMES = {"JW_DATASET": "$B$2", "JW_UNIT": "$B$3", "JW_PERIOD": "$B$4", "JW_TABLE": "$A$7"}
"""Named cells of the template: data set, unit and period codes, and the header of the value table."""
TEMPLATE_COLUMNS = ("element", "combo", "element_name", "combo_name", "value", "comment")
_XLSX = "XLSX template"
_GREY = "D9D9D9"
_LABELS = {
    "zh_CN": {"title": "数据填报表", "data_set": "数据集", "unit": "填报单位", "period": "报告期",
              "note": "只填写“数值”和“备注”两列；请勿修改灰色单元格。",
              "columns": ("数据元代码", "分类组合代码", "数据元", "分类组合", "数值", "备注"),
              "invalid": "数值不符合该数据元的类型"},
    "en": {"title": "Data entry form", "data_set": "Data set", "unit": "Unit", "period": "Period",
           "note": "Fill in only the value and comment columns; do not change the grey cells.",
           "columns": ("Element code", "Combo code", "Data element", "Category combo", "Value", "Comment"),
           "invalid": "The value does not fit the data element's type"},
}


@dataclass
class TemplateRow:
    """One line of the template: a data element in one category option combo."""

    element_code: str
    element_name: str
    combo_code: str = DEFAULT
    combo_name: str = ""
    value_type: str = ValueType.TEXT
    value: str | None = None
    comment: str | None = None


@dataclass
class TemplateForm:
    """What a template is pre-filled with: one data set's values for one unit and one period."""

    data_set: str
    data_set_name: str
    period: str
    unit: str
    unit_name: str
    language: str = "zh_CN"
    rows: list[TemplateRow] = field(default_factory=list)
    period_name: str = ""


def write_template(path_or_buffer: str | os.PathLike[str] | BinaryIO, *, form: TemplateForm) -> None:
    """Write the XLSX data entry template of ``form`` (sheet :data:`SHEET`, cells :data:`DEFINED_NAMES`).

    Grey columns hold the codes read back; only value and comment are for filling in. The value
    column checks whole numbers, numbers, percentages and true/false as the value type asks.
    """
    from openpyxl import Workbook
    from openpyxl.workbook.defined_name import DefinedName

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    labels = _LABELS.get(form.language, _LABELS["zh_CN"])
    _template_head(sheet, form, labels)
    _template_table(sheet, form.rows, labels)
    for name, cell in DEFINED_NAMES.items():
        book.defined_names[name] = DefinedName(name, attr_text=f"'{SHEET}'!{cell}")
    book.save(path_or_buffer)  # type: ignore[arg-type]  # openpyxl takes paths and binary buffers


def _template_head(sheet: Any, form: TemplateForm, labels: dict[str, Any]) -> None:
    from openpyxl.styles import Font

    xlsx_cell(sheet, 1, 1, f"{labels['title']}: {form.data_set_name}").font = Font(bold=True, size=14)
    for row, (label, code, name) in enumerate([(labels["data_set"], form.data_set, form.data_set_name),
                                                (labels["unit"], form.unit, form.unit_name),
                                                (labels["period"], form.period, form.period_name)], 2):
        xlsx_cell(sheet, row, 1, label).font = Font(bold=True)
        _grey(xlsx_cell(sheet, row, 2, code))
        xlsx_cell(sheet, row, 3, name)
    xlsx_cell(sheet, 5, 1, labels["note"]).font = Font(italic=True, color="C00000")


def _template_table(sheet: Any, rows: list[TemplateRow], labels: dict[str, Any]) -> None:
    from openpyxl.styles import Font

    header = _table_row()
    for column, title in enumerate(labels["columns"], 1):
        xlsx_cell(sheet, header, column, title).font = Font(bold=True)
    validations = _validations(labels)
    for number, line in enumerate(rows, header + 1):
        _template_line(sheet, number, line, validations)
    for validation in validations.values():
        if validation.sqref:
            sheet.add_data_validation(validation)
    for letter, width in zip("ABCDEF", (16, 16, 36, 24, 14, 30), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = sheet.cell(header + 1, 1)


def _template_line(sheet: Any, number: int, line: TemplateRow, validations: dict[str, Any]) -> None:
    from openpyxl.styles import Protection

    grey = (line.element_code, line.combo_code, line.element_name, line.combo_name)
    for column, text in enumerate(grey, 1):
        _grey(xlsx_cell(sheet, number, column, text))
    value = xlsx_cell(sheet, number, 5, _cell_value(line.value_type, line.value))
    comment = xlsx_cell(sheet, number, 6, line.comment)
    for cell in (value, comment):
        cell.protection = Protection(locked=False)
    if line.value_type in validations:
        validations[line.value_type].add(value)
    else:
        value.number_format = "@"


def _table_row() -> int:
    return int(DEFINED_NAMES["JW_TABLE"].rsplit("$", 1)[1])


def _grey(cell: Any) -> None:
    from openpyxl.styles import PatternFill

    cell.fill = PatternFill("solid", fgColor=_GREY)
    cell.number_format = "@"


def _validations(labels: dict[str, Any]) -> dict[str, Any]:
    from openpyxl.worksheet.datavalidation import DataValidation

    def check(kind: str, low: str | None, high: str) -> DataValidation:
        if low is None:
            return DataValidation(type=kind, formula1=high, allow_blank=True, showErrorMessage=True,
                                  error=labels["invalid"])
        return DataValidation(type=kind, operator="between", formula1=low, formula2=high, allow_blank=True,
                              showErrorMessage=True, error=labels["invalid"])

    return {ValueType.INTEGER: check("whole", "-999999999999999", "999999999999999"),
            ValueType.INTEGER_POSITIVE: check("whole", "1", "999999999999999"),
            ValueType.INTEGER_ZERO_OR_POSITIVE: check("whole", "0", "999999999999999"),
            ValueType.INTEGER_NEGATIVE: check("whole", "-999999999999999", "-1"),
            ValueType.NUMBER: check("decimal", "-999999999999999", "999999999999999"),
            ValueType.UNIT_INTERVAL: check("decimal", "0", "1"),
            ValueType.PERCENTAGE: check("decimal", "0", "100"),
            ValueType.BOOLEAN: check("list", None, '"true,false"'),
            ValueType.TRUE_ONLY: check("list", None, '"true"'),
            ValueType.LETTER: check("textLength", "1", "1")}


def _cell_value(value_type: str, value: str | None) -> Any:
    """A current value as the cell holds it: numbers as numbers (so Excel does not flag them)."""
    if value is None or value_type not in NUMERIC_TYPES:
        return value
    try:
        number = int(value) if value_type in INTEGER_TYPES else float(value)
    except ValueError:
        return value
    return number if abs(number) < 1e15 else value  # Excel keeps 15 digits: a larger one stays text


def read_template(data: bytes) -> list[ValueRow]:
    """The values of a filled-in template, one row for each table line with an element code.

    An empty value cell reads as ``value=None`` ("no value"): the caller decides what that
    means (the service deletes a stored value). ``row`` is the sheet row.
    """
    with open_workbook(data, filename="", expected=_TEMPLATE_EXPECTED) as book:
        cells = _named_cells(book)
        head = {name: _cell_text(sheet.cell(row, column).value)
                for name, (sheet, row, column) in cells.items() if name != "JW_TABLE"}
        _require_head(head)
        sheet, header, _ = cells["JW_TABLE"]
        return _template_rows(sheet, header, head["JW_UNIT"] or "", head["JW_PERIOD"] or "")


_GREY_EXPECTED = "the code the template was downloaded with"
_TEMPLATE_EXPECTED = "a data entry template downloaded from jiaowei, saved as .xlsx"


def _named_cells(book: Any) -> dict[str, tuple[Any, int, int]]:
    """Each of :data:`DEFINED_NAMES` as (sheet, row, column); a workbook without them is refused."""
    from openpyxl.utils.cell import coordinate_to_tuple

    cells = {}
    for name in DEFINED_NAMES:
        defined = book.defined_names.get(name)
        destination = next(iter(defined.destinations), None) if defined is not None else None
        if destination is None or destination[0] not in book.sheetnames:
            raise ValidationError(N_("The workbook is not a jiaowei data entry template."), [
                Problem(M_("the named cell {name} is missing",
                           name=name), field=name, expected=_TEMPLATE_EXPECTED)])
        cells[name] = (book[destination[0]], *coordinate_to_tuple(destination[1].replace("$", "")))
    return cells


def _require_head(head: dict[str, str | None]) -> None:
    problems = [Problem(N_("the grey cell is empty"), field=name, expected=_GREY_EXPECTED)
                for name, text in head.items() if not text]
    if problems:
        raise ValidationError(N_("The template's grey cells were changed."), problems)


def _template_rows(sheet: Any, header: int, unit: str, period: str) -> list[ValueRow]:
    rows: list[ValueRow] = []
    problems: list[Problem] = []
    lines = sheet.iter_rows(min_row=header + 1, max_col=len(TEMPLATE_COLUMNS), values_only=True)
    for number, line in enumerate(lines, header + 1):
        element, combo, _, _, value, comment = (_cell_text(v) for v in (*line, *[None] * 6)[:6])
        if element is None and combo is None:
            continue
        if element is None:
            add_problem(problems, Problem(N_("the element code is empty"), row=number, field="element",
                                          expected=_GREY_EXPECTED), _XLSX)
        rows.append(ValueRow(element or "", period, unit, combo, None, value, comment=comment, row=number))
    raise_any(problems, _XLSX)
    return rows


def _cell_text(value: Any) -> str | None:
    """A cell as text: numbers without a trailing ``.0``, booleans true/false, empty as None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json_value(value) if isinstance(value, int) or math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value).strip() if value is not None else ""
    return text or None


def write_xlsx(rows: Iterable[ValueRow], out: BinaryIO, *, form: TemplateForm | None = None,
               data_set: str = "", language: str = "zh_CN") -> None:
    """Write ``rows`` as a template: into ``form``'s lines when given, else a plain one of their own.

    Without a form the rows must share one unit and one period; names are the codes and every
    value is text.
    """
    rows = [row for row in rows if not row.deleted]
    form = _with_values(form, rows) if form is not None else _form_of(rows, data_set, language)
    write_template(out, form=form)


def _with_values(form: TemplateForm, rows: list[ValueRow]) -> TemplateForm:
    given = {(row.data_element, row.category_option_combo or DEFAULT): row for row in rows}
    lines = [replace(line, value=given[key].value, comment=given[key].comment)
             if (key := (line.element_code, line.combo_code)) in given else line for line in form.rows]
    return replace(form, rows=lines)


def _form_of(rows: list[ValueRow], data_set: str, language: str) -> TemplateForm:
    places = {(row.org_unit, row.period) for row in rows}
    if len(places) != 1:
        raise ValidationError(N_("An XLSX template holds the values of one unit in one period."), [
            Problem(M_("the values are for {count} unit-period pairs", count=len(places)), field="xlsx",
                    expected=N_("values of one unit and one period, or another format"))])
    ((unit, period),) = places
    lines = [TemplateRow(row.data_element, row.data_element, row.category_option_combo or DEFAULT,
                         row.category_option_combo or DEFAULT, ValueType.TEXT, row.value, row.comment)
             for row in rows]
    return TemplateForm(data_set, data_set, period, unit, unit, language, lines)
