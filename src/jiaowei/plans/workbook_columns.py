"""The columns of the plans workbook (sheets ``tasks`` and ``findings``) with their labels.

A downloaded workbook's header shows the labels in the reader's language; an uploaded one may name a
column by its code (``deadline``) or its label in English or Chinese (Deadline, 完成时限), as
:func:`jiaowei.workbooks.column_codes` reads them. Pure: no database, no web framework.
"""

from __future__ import annotations

from jiaowei.domains import N_
from jiaowei.workbooks import Column

TASKS = (
    Column("year", N_("Year")), Column("number", N_("Item number")),
    Column("parent_number", N_("Parent item number")), Column("kind", N_("Kind")),
    Column("title_zh", N_("Chinese title")), Column("title_en", N_("English title")),
    Column("lead_unit", N_("Lead unit")), Column("supporting_units", N_("Supporting units")),
    Column("owner", N_("Owner")), Column("deadline", N_("Deadline")),
    Column("description", N_("Description")), Column("indicators", N_("Indicators")),
    Column("status", N_("Status")),
)
FINDINGS = (
    Column("finding", N_("Finding")), Column("source_kind", N_("Source kind")),
    Column("source", N_("Source")), Column("found_on", N_("Found on")), Column("unit", N_("Unit")),
    Column("severity", N_("Severity")),
    Column("text", N_("Finding text")), Column("measure", N_("Measure")),
    Column("measure_owner", N_("Measure owner")), Column("measure_deadline", N_("Measure deadline")),
    Column("measure_state", N_("Measure state")),
)
NOTES = (Column("column", N_("Column")), Column("what", N_("What it holds")))
SHEETS = {"tasks": TASKS, "findings": FINDINGS}


def columns(kind: str, codes: tuple[str, ...]) -> tuple[Column, ...]:
    """The columns of sheet ``kind`` with these codes, in their order."""
    by_code = {c.code: c for c in SHEETS[kind]}
    return tuple(by_code[code] for code in codes)
