"""What every metadata write shares: the permission check, the checks of codes, names and
enumerations, the insert-or-update by code, and the audit entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.db.engine import inserted_id
from jiaowei.errors import M_, Problem
from jiaowei.indicators.model import check_code, choices, new_uid
from jiaowei.text import text_problems


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def require_writer(principal: Principal) -> None:
    """Refuse unless the principal may write metadata."""
    require_action(principal, Action.METADATA_WRITE)


DESCRIPTIONS = ("description", "numerator_description", "denominator_description", "instruction")
"""Text of several lines: tabs and line breaks pass (see :func:`jiaowei.text.text_problems`)."""


def name_problems(spec: Mapping[str, Any], kind: str, row: int | None = None) -> list[Problem]:
    problems = []
    for key in ("name_zh", "name_en"):
        value = spec.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > 230:
            problems.append(
                Problem(
                    M_("the {kind} needs a name", kind=kind),
                    row=row,
                    field=key,
                    value=value,
                    expected="text of 1 to 230 characters",
                )
            )
    problems += text_problems(spec, ("name_zh", "name_en", "short_name", *DESCRIPTIONS), row=row,
                              multiline=DESCRIPTIONS)
    code_problem = check_code(spec.get("code"), field="code", row=row)
    return ([code_problem] if code_problem else []) + problems


def enum_problem(enum: Any, value: Any, field: str, row: int | None = None) -> Problem | None:
    if value not in {m.value for m in enum}:
        return Problem(M_("unknown {field}",
                          field=field), row=row, field=field, value=value, expected=choices(enum))
    return None


def upsert(conn: Connection, table: Any, values: dict[str, Any]) -> tuple[int, bool]:
    """Insert or update the row with ``values['code']``; returns (id, created)."""
    found = conn.execute(select(table.c.id, table.c.uid).where(table.c.code == values["code"])).first()
    if found is None:
        values = {"uid": values.get("uid") or new_uid(), **{k: v for k, v in values.items() if k != "uid"}}
        return inserted_id(conn.execute(insert(table).values(**values))), True
    values = {k: v for k, v in values.items() if k not in ("uid", "created_at")}
    conn.execute(update(table).where(table.c.id == found.id).values(**values))
    return int(found.id), False


def audit_saved(
    conn: Connection, principal: Principal, entity: str, code: str, created: bool, after: Any
) -> None:
    """The audit entry of a saved object: ``create`` or ``update`` with what it now is."""
    audit.record(
        conn,
        actor=principal.username,
        action="create" if created else "update",
        entity=entity,
        entity_key=code,
        after=after,
    )
