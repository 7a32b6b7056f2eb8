"""Reads of report templates: the built-in ones of the package, overlaid by the edits staff saved.

A built-in template (``reports/builtin/templates.json`` names them; each body is
``builtin/<code>.html.j2``) is read from the package until someone saves an edit: the edit is then
a row of ``report_templates`` with the same code, and :attr:`ReportTemplate.edited` is true.
Templates staff create themselves are rows of kind ``custom``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from jiaowei.db.memo import per_transaction
from jiaowei.errors import M_, NotFound
from jiaowei.reports.store import report_templates

BUILTIN = Path(__file__).parent / "builtin"
KINDS = ("annual", "district", "bulletin", "custom")


@dataclass(frozen=True)
class ReportTemplate:
    """A template as the editor and the renderer see it."""

    code: str
    kind: str  # annual | district | bulletin | custom
    name_zh: str
    name_en: str
    body: str
    builtin: bool  # the package has a template with this code
    edited: bool  # a saved edit stands for the package's text (or a custom template)
    updated_at: dt.datetime | None  # None: the package's text, never edited
    updated_by: str

    def name(self, language: str) -> str:
        """The name in ``language`` (``zh``, ``zh_CN`` or ``en``); Chinese when there is no English one."""
        return self.name_en if language.startswith("en") and self.name_en else self.name_zh

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "kind": self.kind, "name_zh": self.name_zh, "name_en": self.name_en,
                "body": self.body, "builtin": self.builtin, "edited": self.edited,
                "updated_at": self.updated_at.isoformat() if self.updated_at else None,
                "updated_by": self.updated_by}


@cache
def builtin_templates() -> dict[str, ReportTemplate]:
    """The package's templates by code, in the order ``templates.json`` lists them."""
    listed = json.loads((BUILTIN / "templates.json").read_text(encoding="utf-8"))
    return {t["code"]: ReportTemplate(t["code"], t["kind"], t["name_zh"], t["name_en"],
                                      (BUILTIN / f"{t['code']}.html.j2").read_text(encoding="utf-8"),
                                      builtin=True, edited=False, updated_at=None, updated_by="")
            for t in listed}


def _from_row(row: Any) -> ReportTemplate:
    builtin = row.code in builtin_templates()
    return ReportTemplate(row.code, row.kind, row.name_zh, row.name_en, row.body, builtin=builtin,
                          edited=True, updated_at=_aware(row.updated_at), updated_by=row.updated_by)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives back naive times; they were stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def list_templates(conn: Connection) -> list[ReportTemplate]:
    """Every template: the built-in ones first (an edit in place of the package's text), then the custom
    ones by code."""
    rows = conn.execute(select(report_templates).order_by(report_templates.c.code))
    saved = {r.code: _from_row(r) for r in rows}
    builtin = [saved.pop(code, template) for code, template in builtin_templates().items()]
    return builtin + list(saved.values())


def get_template(conn: Connection, code: str) -> ReportTemplate:
    """The template with ``code`` (its saved edit if there is one); NotFound naming the code. Read once
    per transaction (the report page asks for it three times, each a round trip on PostgreSQL)."""
    row = per_transaction(conn, f"reports.template:{code}", lambda: conn.execute(
        select(report_templates).where(report_templates.c.code == code)).first())
    if row is not None:
        return _from_row(row)
    found = builtin_templates().get(code)
    if found is None:
        raise NotFound(M_("No report template with code {code!r}.", code=code))
    return found
