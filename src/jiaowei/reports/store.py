"""The report templates table: templates edited by commission staff.

A built-in template (``reports/builtin/``) is read from the package until someone saves an edit;
the edit is then a row here with the same code, and resetting the template deletes the row.
Templates staff create themselves are rows with kind ``custom``.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Table, Text

from jiaowei.db.base import metadata

report_templates = Table(
    "report_templates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(50), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # annual | district | bulletin | custom
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(150), nullable=False),  # the username
)
