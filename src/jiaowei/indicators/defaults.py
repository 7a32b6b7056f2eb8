"""Defaults from the user: the unit, data set and period a data page starts from (decision 0016).

A reporter with one unit who opens data entry without choosing gets their unit's current form
(:func:`entry_form`): the first data set (by code) their unit reports, in the most recent period
of its type that is still open for them. Approval, completeness and data quality pages start
from the user's own unit (:func:`own_unit`: the one unit of a reporter's scope, else the highest
unit they can see) and the data set's current period (:func:`current_period`: the latest period of
its type with values up to today, else the one containing today). The period picker offers
:func:`recent_periods`. Nothing here writes; every read goes through the user's scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.errors import JiaoweiError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import DataSet, load_catalog
from jiaowei.indicators.targets.compute import default_unit
from jiaowei.indicators.values import service as values
from jiaowei.registry import queries as registry

OFFERED = {  # how many periods of each type the period picker offers, the current one first
    pe.PeriodType.DAILY: 31,
    pe.PeriodType.WEEKLY: 13,
    pe.PeriodType.MONTHLY: 24,
    pe.PeriodType.QUARTERLY: 12,
    pe.PeriodType.SIXMONTHLY: 10,
    pe.PeriodType.YEARLY: 12,
    pe.PeriodType.SCHOOL_YEAR: 12,
}
LOOK_BACK = 3  # how many periods before the current one a reporter's open form is looked for


@dataclass(frozen=True)
class PeriodChoice:
    """A period the picker offers: its identifier and its first and last day."""

    id: str
    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


@dataclass(frozen=True)
class FormChoice:
    """A data entry form: data set, period and unit codes."""

    data_set: str
    period: str
    unit: str


def recent_periods(period_type: str, today: dt.date | None = None) -> list[PeriodChoice]:
    """The periods of ``period_type`` the picker offers, the one containing today first; none for an
    unknown type."""
    try:
        kind = pe.PeriodType(period_type)
        current = pe.containing(kind, today or clock.today())
    except (ValueError, JiaoweiError):
        return []
    found = []
    for n in range(OFFERED.get(kind, 12)):
        try:
            period = pe.shift(current, -n)
        except JiaoweiError:  # before the first supported year
            break
        found.append(PeriodChoice(period.id, period.start, period.end))
    return found


def own_unit(conn: Connection, principal: Principal, today: dt.date | None = None) -> str:
    """The user's own unit: the one unit of their capture scope, else the highest unit they can see;
    "" when they see none."""
    day = today or clock.today()
    if not principal.unlimited and len(principal.capture) == 1:
        (unit_id,) = principal.capture
        unit = registry.unit_on(conn, unit_id, day)
        if unit is not None:
            return unit.code
    return default_unit(conn, principal, day) or ""


def current_period(conn: Connection, data_set: str, today: dt.date | None = None) -> str:
    """The data set's current period: the latest of its type, begun by today, that holds values of
    its elements; else the one containing today. "" for an unknown data set."""
    day = today or clock.today()
    ds = load_catalog(conn).data_set(data_set) if data_set else None
    if ds is None:
        return ""
    latest = _latest_with_values(conn, ds, day)
    return latest or pe.containing(pe.PeriodType(ds.period_type), day).id


def _latest_with_values(conn: Connection, ds: DataSet, day: dt.date) -> str | None:
    periods, dv = store.periods, store.data_values
    if not ds.element_ids:
        return None
    newest = (
        select(func.max(periods.c.start_date))
        .join(dv, dv.c.period_id == periods.c.id)
        .where(periods.c.type == ds.period_type, periods.c.start_date <= day,
               dv.c.data_element_id.in_(ds.element_ids))
        .scalar_subquery()
    )
    query = select(periods.c.code).where(periods.c.type == ds.period_type, periods.c.start_date == newest)
    return conn.execute(query.limit(1)).scalar()


def entry_form(conn: Connection, *, principal: Principal, today: dt.date | None = None) -> FormChoice | None:
    """The form a reporter with one unit opens by default: the first data set (by code) the unit
    reports, in the latest of the current and the :data:`LOOK_BACK` previous periods that is open
    for them (else the current one). None for anyone else, or a unit that reports nothing."""
    day = today or clock.today()
    if principal.unlimited or not principal.may(Action.DATA_CAPTURE) or len(principal.capture) != 1:
        return None
    (unit_id,) = principal.capture
    unit = registry.unit_on(conn, unit_id, day)
    if unit is None:
        return None
    catalog = load_catalog(conn)
    reported = sorted(
        (ds for ds in {d.id: d for d in catalog.data_sets.values()}.values()
         if unit.type in ds.unit_types or unit_id in ds.unit_ids),
        key=lambda ds: ds.code,
    )
    if not reported:
        return None
    ds = reported[0]
    return FormChoice(ds.code, _open_period(conn, principal, ds, unit_id, day), unit.code)


def _open_period(conn: Connection, principal: Principal, ds: DataSet, unit_id: int, day: dt.date) -> str:
    current = pe.containing(pe.PeriodType(ds.period_type), day)
    for n in range(LOOK_BACK + 1):
        try:
            period = pe.shift(current, -n)
        except JiaoweiError:
            break
        state = values.form_state(conn, principal=principal, data_set=ds, period=period, unit_id=unit_id)
        if state.editable:
            return period.id
    return current.id


def filled(conn: Connection, principal: Principal, *, ds: str, pe: str, ou: str,
           today: dt.date | None = None) -> tuple[str, str, str]:
    """Data set, period and unit codes of a filter form with the empty ones filled in: the first data
    set by code, its :func:`current_period` and the user's :func:`own_unit`."""
    day = today or clock.today()
    ds = ds or first_data_set(conn)
    return ds, pe or current_period(conn, ds, day), ou or own_unit(conn, principal, day)


def first_data_set(conn: Connection) -> str:
    """The code of the first data set by code (the first a data set select offers); "" when none."""
    codes = sorted({d.code for d in load_catalog(conn).data_sets.values()})
    return codes[0] if codes else ""
