"""Checking what a plan item, a progress report or a review is given, before anything is written.

Each function returns the cleaned values or adds one :class:`jiaowei.errors.Problem` per fault (naming
the field and the value) to the list it is given; the service raises them together.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem
from jiaowei.indicators import periods as pe
from jiaowei.indicators.targets import compute
from jiaowei.plans.tasks.model import Stage, Status
from jiaowei.registry import queries as registry
from jiaowei.text import text_problem

MAX_TITLE = 500
MAX_NUMBER = 16
MAX_OWNER = 100
MAX_TEXT = 20_000
MAX_MILESTONES = 50
MAX_LINKS = 20
DATE_EXPECTED = "a date YYYY-MM-DD, e.g. 2020-06-30"


@dataclass(frozen=True)
class MilestoneSpec:
    title: str
    due: dt.date | None
    done_on: dt.date | None


@dataclass(frozen=True)
class LinkSpec:
    indicator_id: int
    unit_id: int | None
    period: str
    target: float | None


def text(
    value: Any,
    field: str,
    problems: list[Problem],
    *,
    required: bool = False,
    limit: int = MAX_TEXT,
    multiline: bool = False,
) -> str:
    """The text stripped; a problem when it is missing (if required), too long or holds control characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        problems.append(Problem("not text", field=field, value=value, expected="text"))
        return ""
    cleaned = value.strip()
    if required and not cleaned:
        problems.append(
            Problem("required", field=field, value=value, expected=M_("text of 1 to {limit} characters",
                                                                      limit=limit))
        )
    elif len(cleaned) > limit:
        problems.append(
            Problem("too long", field=field, value=cleaned[:40] + "…",
                    expected=M_("at most {limit} characters", limit=limit))
        )
    elif bad := text_problem(cleaned, field=field, multiline=multiline):
        problems.append(bad)
    return cleaned


def date(value: Any, field: str, problems: list[Problem]) -> dt.date | None:
    """A date given as a date or as ``YYYY-MM-DD`` text; None for None or empty text."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(Problem("not a date", field=field, value=value, expected=DATE_EXPECTED))
        return None


def unit(conn: Connection, code: str | None, field: str, problems: list[Problem]) -> int | None:
    if code is None or code == "":
        return None
    found = registry.id_of(conn, str(code))
    if found is None:
        problems.append(
            Problem("no such unit", field=field, value=code, expected="the code of an existing unit")
        )
    return found


def units(
    conn: Connection, codes: Sequence[str], field: str, lead: int | None, problems: list[Problem]
) -> list[int]:
    out: list[int] = []
    for i, code in enumerate(codes):
        found = unit(conn, code, f"{field}[{i}]", problems)
        if found is not None and found != lead and found not in out:
            out.append(found)
    return out


def milestones(given: Sequence[Mapping[str, Any]], problems: list[Problem]) -> list[MilestoneSpec]:
    if len(given) > MAX_MILESTONES:
        problems.append(
            Problem(
                N_("too many milestones"),
                field="milestones",
                value=len(given),
                expected=M_("at most {most}", most=MAX_MILESTONES),
            )
        )
        return []
    out = []
    for i, m in enumerate(given):
        where = f"milestones[{i}]"
        if not isinstance(m, Mapping):
            problems.append(
                Problem(N_("not a milestone"), field=where, value=m, expected='{"title", "due", "done_on"}')
            )
            continue
        out.append(
            MilestoneSpec(
                text(m.get("title"), f"{where}.title", problems, required=True, limit=MAX_TITLE),
                date(m.get("due"), f"{where}.due", problems),
                date(m.get("done_on"), f"{where}.done_on", problems),
            )
        )
    return out


def links(
    conn: Connection, given: Sequence[Mapping[str, Any]], year: int, problems: list[Problem]
) -> list[LinkSpec]:
    if len(given) > MAX_LINKS:
        problems.append(
            Problem(
                N_("too many linked indicators"), field="links", value=len(given),
                expected=M_("at most {most}", most=MAX_LINKS),
            )
        )
        return []
    indicators = {d.code: d.id for d in compute.all_indicators(conn)}
    out = []
    for i, k in enumerate(given):
        where = f"links[{i}]"
        if not isinstance(k, Mapping):
            problems.append(
                Problem(
                    N_("not a linked indicator"),
                    field=where,
                    value=k,
                    expected='{"indicator", "unit", "period", "target"}',
                )
            )
            continue
        code = k.get("indicator")
        indicator = indicators.get(str(code)) if code is not None else None
        if indicator is None:
            problems.append(
                Problem(
                    "no such indicator",
                    field=f"{where}.indicator",
                    value=code,
                    expected="the code of an indicator",
                )
            )
        where_unit = unit(conn, k.get("unit"), f"{where}.unit", problems)
        period = _period(k.get("period"), year, f"{where}.period", problems)
        target = _number(k.get("target"), f"{where}.target", problems)
        if indicator is not None:
            out.append(LinkSpec(indicator, where_unit, period, target))
    return out


def _period(value: Any, year: int, field: str, problems: list[Problem]) -> str:
    if value is None or value == "":
        return str(year)
    try:
        return pe.parse(str(value)).id
    except Exception:
        problems.append(
            Problem("not a period", field=field, value=value, expected="a period, e.g. 2020 or 2020SY")
        )
        return str(value)


def _number(value: Any, field: str, problems: list[Problem]) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        problems.append(Problem("not a number", field=field, value=value, expected="a number, e.g. 53"))
        return None
    return number


def checkpoints(given: Mapping[str, Any], problems: list[Problem]) -> dict[str, dt.date]:
    out = {}
    for stage, due in given.items():
        if stage not in {s.value for s in Stage}:
            problems.append(
                Problem(
                    N_("no such checkpoint"),
                    field="checkpoints",
                    value=stage,
                    expected=N_("deploy, advance or assess"),
                )
            )
            continue
        found = date(due, f"checkpoints.{stage}", problems)
        if found is not None:
            out[stage] = found
    return out


def status(value: Any, problems: list[Problem]) -> Status | None:
    if value is None or value == "":
        return None
    try:
        return Status(str(value))
    except ValueError:
        problems.append(
            Problem(N_("no such status"), field="status", value=value,
                    expected=N_("on_track, at_risk, late or done"))
        )
        return None
