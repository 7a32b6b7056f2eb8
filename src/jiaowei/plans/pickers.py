"""Choices for the plans forms' pickers, so that nobody types a code: units, indicators, data elements.

Units are offered as an ``<input list=…>`` with a ``<datalist>`` (search as you type, by code or
name): the highest units of the user's scope and the units directly below them (for the commission:
itself, the districts, universities and hospitals; for a district: itself and its schools). A code
typed by hand is still accepted, and checked by the service as before. Also: the user's own unit (a
form's default), numeric data elements, the active users a manager may choose as reviewers, and the
form reader that keeps every value of a multi-select.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection

from jiaowei.auth import queries as users
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import in_scope, unit_filter
from jiaowei.indicators.metadata import queries as metadata
from jiaowei.indicators.model import ValueType
from jiaowei.indicators.targets import compute
from jiaowei.registry import queries as registry


@dataclass(frozen=True)
class Choice:
    code: str
    name: str  # in the page's language

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


def unit_choices(conn: Connection, principal: Principal, *, language: str, day: dt.date | None = None,
                 action: Action = Action.VIEW) -> list[Choice]:
    """The top units of the principal's scope for ``action`` (by code; an administrator's: the first
    unit of the tree) open on ``day`` and the units directly below them that the principal may see, at
    most :data:`jiaowei.registry.queries.MAX_PAGE` each, in tree order: one statement for them all (an
    administrator's: the top two levels of the tree, one statement in all), and no page counted (each
    statement is a round trip on PostgreSQL, issue 17)."""
    english = language == "en"
    day = day or registry.today()
    shown = registry.units_on_select(day).where(unit_filter(conn, principal, Action.VIEW, day))
    rows: Sequence[Any]
    if principal.unlimited:  # the first top of the tree by path, and the units below it
        rows = registry.tree_top(conn, day)
        tops = [rows[0].id] if rows else []
    else:
        codes = registry.codes_of(conn, principal.scope_for(action))
        tops = [i for i, c in sorted(codes.items(), key=lambda pair: pair[1]) if c]
        version = registry.UNIT_PARENT_ID.table.c  # both conditions on the versions: an index scan each
        rows = conn.execute(
            shown.where(version.unit_id.in_(tops) | version.parent_id.in_(tops)).order_by(registry.UNIT_PATH)
        ).all() if tops else []
    if not tops:
        return []
    out: dict[str, Choice] = {}
    for top in tops:
        below = [r for r in rows if r.parent_id == top and r.id != top][: registry.MAX_PAGE]
        for unit in [r for r in rows if r.id == top] + below:
            name = unit.name_en if english and unit.name_en else unit.name_zh
            out.setdefault(unit.code, Choice(unit.code, name))
    return list(out.values())


def indicator_choices(conn: Connection, *, language: str) -> list[Choice]:
    """Every indicator, by code."""
    english = language == "en"
    return [Choice(d.code, d.name_en if english and d.name_en else d.name_zh)
            for d in sorted(compute.all_indicators(conn), key=lambda d: d.code)]


def own_unit(conn: Connection, principal: Principal, *, action: Action = Action.VIEW) -> str:
    """The code of the principal's own unit, the one unit of their scope for ``action``; "" when
    they have none or several (an administrator, a user of two districts)."""
    scope = principal.scope_for(action)
    if principal.unlimited or len(scope) != 1:
        return ""
    return next(iter(registry.codes_of(conn, scope).values()), "")


def element_choices(conn: Connection, principal: Principal, *, language: str,
                    value_types: Collection[ValueType]) -> list[Choice]:
    """The data elements of one of ``value_types`` (the numeric ones, for a round's results), by code."""
    english = language == "en"
    catalog = metadata.read_catalog(conn, principal=principal)
    return [Choice(e.code, e.name_en if english and e.name_en else e.name_zh)
            for e in sorted(catalog.elements.values(), key=lambda e: e.code) if e.value_type in value_types]


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str
    role: str

    @property
    def label(self) -> str:
        return f"{self.display_name} ({self.username})" if self.display_name else self.username


MAX_PEOPLE = 1000


def user_choices(conn: Connection, principal: Principal, *, day: dt.date) -> list[Person]:
    """The active users the principal may see, by username: everyone for an administrator, else those
    whose every scope lies within the principal's view scope (users without a scope included, as they
    disclose no unit). At most ``MAX_PEOPLE``."""
    found: list[Person] = []
    inside: dict[str, bool] = {}
    offset = 0
    while len(found) < MAX_PEOPLE:
        page = users.search_users(conn, active=True, offset=offset, limit=users.MAX_PAGE)
        for user in page.items:
            codes = {*user.capture, *user.view}
            if principal.unlimited or all(_inside(conn, principal, c, day, inside) for c in codes):
                found.append(Person(user.username, user.display_name, user.role))
        offset += users.MAX_PAGE
        if offset >= page.total:
            break
    return found[:MAX_PEOPLE]


def _inside(conn: Connection, principal: Principal, code: str, day: dt.date, seen: dict[str, bool]) -> bool:
    if code not in seen:
        unit_id = registry.id_of(conn, code)
        path = None if unit_id is None else registry.last_path(conn, unit_id, day)
        seen[code] = path is not None and in_scope(conn, principal, Action.VIEW, path, day)
    return seen[code]


async def form_lists(request: Request) -> dict[str, list[str]]:
    """Every text field of a posted form with all its values (a multi-select posts one per choice)."""
    form = await request.form()
    found: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            found.setdefault(key, []).append(value)
    return found


FormLists = Annotated[dict[str, list[str]], Depends(form_lists)]


def split_codes(values: Sequence[str]) -> list[str]:
    """Codes from chosen values, each of which may also be codes typed one a line or separated by
    commas or spaces (the old text fields), in order, each once."""
    out: dict[str, None] = {}
    for value in values:
        for code in value.replace("，", " ").replace(",", " ").split():
            out.setdefault(code, None)
    return list(out)
