"""Reads of stored data values: one cell, a value's history, exports, and the entry page's lists.

Every read that names units checks the principal may see them (or, for lists, selects only
the units in the principal's scope).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, func, select

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit, unit_filter
from jiaowei.db.among import among
from jiaowei.db.kept import kept_rows
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, load_catalog
from jiaowei.indicators.model import DEFAULT, ValueRow
from jiaowei.indicators.values.checking import stored_periods, today
from jiaowei.registry import queries as registry


@dataclass(frozen=True)
class StoredCell:
    """One stored value with its comment and flag, who stored it and when."""

    value: str
    comment: str | None
    followup: bool
    stored_by: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class Change:
    """One change of a value in its history (the API sends it as it is)."""

    change: str
    value_before: str | None
    value_after: str | None
    comment: str | None
    followup: bool | None
    actor: str
    at: str
    source: str
    import_id: int


def read_cell(conn: Connection, *, row: ValueRow) -> StoredCell | None:
    """The stored value of the cell a row names, with who stored it and when; None if empty."""
    catalog = load_catalog(conn)
    element = catalog.element(row.data_element)
    coc = catalog.option_combo(element, row.category_option_combo) if element else None
    period_id = conn.execute(select(store.periods.c.id).where(store.periods.c.code == row.period)).scalar()
    unit_id = registry.id_of(conn, row.org_unit)
    if element is None or coc is None or period_id is None or unit_id is None:
        return None
    dv, imports = store.data_values, store.data_imports
    found = conn.execute(
        select(dv, imports.c.actor, imports.c.at.label("updated_at"))
        .join(imports, imports.c.id == dv.c.import_id)
        .where(
            dv.c.period_id == period_id,
            dv.c.unit_id == unit_id,
            dv.c.data_element_id == element.id,
            dv.c.coc_id == coc.id,
        )
    ).first()
    if found is None:
        return None
    return StoredCell(
        value=found.value,
        comment=found.comment,
        followup=bool(found.followup),
        stored_by=found.stored_by or found.actor,
        updated_at=_aware(found.updated_at),
    )




def _visible_units(
    conn: Connection, principal: Principal, unit_code: str, children: bool, day: dt.date
) -> list[int]:
    unit_id = registry.id_of(conn, unit_code)
    if unit_id is None:
        raise NotFound(M_("No unit with code {code!r}.", code=unit_code))
    require_unit(conn, principal, Action.VIEW, unit_id, day, unit_code)
    return registry.subtree_ids(conn, unit_id, day) if children else [unit_id]


def export_values(
    conn: Connection,
    *,
    principal: Principal,
    data_set: str | None = None,
    periods: Sequence[str] = (),
    units: Sequence[str] = (),
    children: bool = False,
    since: dt.datetime | None = None,
    include_deleted: bool = False,
) -> list[ValueRow]:
    """Stored values of a data set (or all elements), periods and units the principal may see, each
    with when it was created and last updated. ``since``: only values changed at or after it (DHIS2's
    ``lastUpdated``); ``include_deleted``: deleted values too, as they were, with ``deleted`` true."""
    require_action(principal, Action.VIEW)
    catalog = load_catalog(conn)
    problems: list[Problem] = []
    ds = catalog.data_set(data_set) if data_set else None
    if data_set and ds is None:
        problems.append(
            Problem(N_("unknown data set"), field="dataSet", value=data_set, expected=N_("a data set code"))
        )
    problems += [
        Problem("not a period", field="period", value=p, expected=N_("e.g. 2020 or 202011"))
        for p in periods
        if not pe.is_valid(p)
    ]
    if not units:
        problems.append(
            Problem(N_("name at least one unit"), field="orgUnit", value=None, expected=N_("a unit code"))
        )
    if problems:
        raise ValidationError(N_("The export cannot be made with these parameters."), problems)
    wanted = [pe.parse(p) for p in periods]
    period_rows = _period_rows(conn, wanted)
    out: list[ValueRow] = []
    for code in units if not period_rows else ():  # nothing to export, but a unit out of sight is refused
        _visible_units(conn, principal, code, False, today())
    times = _ImportTimes(conn)
    since_utc = since.astimezone(dt.UTC) if since else None  # an aware moment: PostgreSQL compares it
    for period_id, code, end in period_rows:
        unit_ids = sorted({u for c in units for u in _visible_units(conn, principal, c, children, end)})
        found = _values_of(conn, catalog, ds, period_id, code, unit_ids, since_utc, times)
        if include_deleted:
            deleted = _deleted_of(conn, catalog, ds, period_id, code, unit_ids, since_utc, times)
            found = sorted([*found, *deleted], key=_export_order)
        out += found
    return [dataclasses.replace(r, row=i) for i, r in enumerate(out, 1)] if include_deleted else out


def _export_order(row: ValueRow) -> tuple[str, str, str]:
    return row.org_unit, row.data_element, row.category_option_combo or ""


class _ImportTimes:
    """When each import was made, read once per import, in DHIS2's timestamp format (UTC)."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.known = conn, dict[int, str]()

    def shown(self, import_id: int | None, at: dt.datetime | None = None) -> str | None:
        if import_id is None:
            return None
        if import_id not in self.known:
            if at is None:
                imports = store.data_imports
                at = self.conn.execute(select(imports.c.at).where(imports.c.id == import_id)).scalar()
            self.known[import_id] = dhis2_timestamp(at) if at is not None else ""
        return self.known[import_id] or None


def dhis2_timestamp(at: dt.datetime) -> str:
    """A moment as DHIS2 writes a value's ``created``/``lastUpdated``: ``2020-01-01T10:00:00.000+0000``."""
    utc = _aware(at).astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _same_key(table: Any, other: Any) -> list[Any]:
    return [table.c[name] == other.c[name] for name in ("period_id", "unit_id", "data_element_id", "coc_id",
                                                          "aoc_id")]


def _created(kind: Any) -> Any:
    """The import that last created the value of a row of ``kind`` (its history's last CREATE)."""
    h = store.data_value_history.alias("created_h")
    return (
        select(func.max(h.c.import_id))
        .where(*_same_key(h, kind), h.c.change == "CREATE", h.c.import_id <= kind.c.import_id)
        .scalar_subquery()
    )



def _period_rows(conn: Connection, wanted: Sequence[pe.Period]) -> list[tuple[int, str, dt.date]]:
    if wanted:
        return stored_periods(conn, [p.id for p in wanted])
    table = store.periods
    query = select(table.c.id, table.c.code, table.c.end_date).order_by(table.c.start_date, table.c.code)
    return [(r.id, r.code, r.end_date) for r in conn.execute(query)]


def _values_of(
    conn: Connection,
    catalog: Catalog,
    ds: DataSet | None,
    period_id: int,
    period: str,
    unit_ids: Sequence[int],
    since: dt.datetime | None = None,
    times: _ImportTimes | None = None,
) -> list[ValueRow]:
    dv, units, imports = store.data_values, registry.unit_codes(), store.data_imports
    times = times or _ImportTimes(conn)
    out: list[ValueRow] = []
    for units_in in among(conn, dv.c.unit_id, unit_ids):
        query = (
            select(dv, units.c.code.label("unit_code"), imports.c.actor, imports.c.at,
                   _created(dv).label("created_id"))
            .join(units, units.c.id == dv.c.unit_id)
            .join(imports, imports.c.id == dv.c.import_id)
            .where(dv.c.period_id == period_id, units_in)
            .order_by(units.c.code, dv.c.data_element_id, dv.c.coc_id)
        )
        if ds is not None:
            query = query.where(dv.c.data_element_id.in_(ds.element_ids))
        if since is not None:
            query = query.where(imports.c.at >= since)
        for r in conn.execute(query):
            updated = times.shown(r.import_id, r.at)
            element = catalog.elements[r.data_element_id]
            out.append(
                ValueRow(
                    data_element=element.code,
                    period=period,
                    org_unit=r.unit_code,
                    category_option_combo=catalog.option_combos[r.coc_id].code,
                    attribute_option_combo=catalog.option_combos[r.aoc_id].code,
                    value=r.value,
                    stored_by=r.stored_by or r.actor,
                    comment=r.comment,
                    followup=bool(r.followup),
                    row=len(out) + 1,
                    created=times.shown(r.created_id) or updated,
                    last_updated=updated,
                )
            )
    return out


def _deleted_of(
    conn: Connection,
    catalog: Catalog,
    ds: DataSet | None,
    period_id: int,
    period: str,
    unit_ids: Sequence[int],
    since: dt.datetime | None,
    times: _ImportTimes,
) -> list[ValueRow]:
    """Values deleted and not written again: the last change of their history is a DELETE, which
    keeps the value, comment and flag they had. ``lastUpdated`` is when they were deleted."""
    h, dv, imports = store.data_value_history, store.data_values, store.data_imports
    units = registry.unit_codes()
    later = store.data_value_history.alias("later")
    out: list[ValueRow] = []
    for units_in in among(conn, h.c.unit_id, unit_ids):
        query = (
            select(h, units.c.code.label("unit_code"), imports.c.actor, imports.c.at,
                   _created(h).label("created_id"))
            .join(units, units.c.id == h.c.unit_id)
            .join(imports, imports.c.id == h.c.import_id)
            .where(h.c.period_id == period_id, units_in,
                   h.c.change == "DELETE",
                   ~exists().where(*_same_key(later, h), later.c.import_id > h.c.import_id),
                   ~exists().where(*_same_key(dv, h)))
        )
        if ds is not None:
            query = query.where(h.c.data_element_id.in_(ds.element_ids))
        if since is not None:
            query = query.where(imports.c.at >= since)
        for r in conn.execute(query):
            deleted_at = times.shown(r.import_id, r.at)
            out.append(ValueRow(
                data_element=catalog.elements[r.data_element_id].code,
                period=period,
                org_unit=r.unit_code,
                category_option_combo=catalog.option_combos[r.coc_id].code,
                attribute_option_combo=catalog.option_combos[r.aoc_id].code,
                value=r.value_before,
                stored_by=r.actor,
                comment=r.comment,
                followup=bool(r.followup),
                deleted=True,
                created=times.shown(r.created_id) or deleted_at,
                last_updated=deleted_at,
            ))
    return out


def history(
    conn: Connection,
    *,
    principal: Principal,
    data_element: str,
    period: str,
    org_unit: str,
    category_option_combo: str | None = None,
) -> list[Change]:
    """Every change of one value, newest first."""
    catalog = load_catalog(conn)
    element = catalog.element(data_element)
    coc = catalog.option_combo(element, category_option_combo) if element else None
    period_id = conn.execute(select(store.periods.c.id).where(store.periods.c.code == period)).scalar()
    if element is None or coc is None:
        raise NotFound(
            M_("No data element {data_element!r} with option combo {combo!r}.",
               data_element=data_element, combo=category_option_combo or DEFAULT)
        )
    day = pe.parse(period).end if pe.is_valid(period) else today()
    _visible_units(conn, principal, org_unit, False, day)
    unit_id = registry.id_of(conn, org_unit)
    h, imports = store.data_value_history, store.data_imports
    rows = conn.execute(
        select(h, imports.c.actor, imports.c.at, imports.c.source)
        .join(imports, imports.c.id == h.c.import_id)
        .where(
            h.c.period_id == (period_id or 0),
            h.c.unit_id == unit_id,
            h.c.data_element_id == element.id,
            h.c.coc_id == coc.id,
        )
        .order_by(h.c.import_id.desc())
    ).all()
    return [
        Change(
            change=r.change,
            value_before=r.value_before,
            value_after=r.value_after,
            comment=r.comment,
            followup=r.followup,
            actor=r.actor,
            at=_aware(r.at).isoformat(),
            source=r.source,
            import_id=r.import_id,
        )
        for r in rows
    ]


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------- forms and the entry page


def form_problems(
    ds: DataSet | None, ds_code: str, period: str, *, ds_field: str, period_field: str
) -> list[Problem]:
    """What is wrong with naming a form (data set and period), for the entry page and the template."""
    problems = []
    if ds is None:
        problems.append(
            Problem(N_("unknown data set"), field=ds_field, value=ds_code, expected=N_("a data set code"))
        )
    if not pe.is_valid(period):
        problems.append(
            Problem("not a period", field=period_field, value=period,
                    expected=N_("e.g. 2020, 2020SY, 202011"))
        )
    elif ds is not None and pe.parse(period).type.value != ds.period_type:
        problems.append(
            Problem(
                M_("data set {data_set} is collected per {period_type} period",
                   data_set=ds_code, period_type=ds.period_type),
                field=period_field,
                value=period,
                expected=M_("a {period_type} period", period_type=ds.period_type),
            )
        )
    return problems


def form_values(
    conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str
) -> dict[tuple[str, str | None], ValueRow]:
    """The stored values of one form, by (element code, option combo code)."""
    rows = export_values(conn, principal=principal, data_set=data_set, periods=[period], units=[unit])
    return {(r.data_element, r.category_option_combo): r for r in rows}


@dataclass(frozen=True)
class UnitChoice:
    """A unit the entry page offers for a data set."""

    code: str
    name_zh: str
    name_en: str


def unit_choices(conn: Connection, *, principal: Principal, data_set: str) -> list[UnitChoice]:
    """Up to 500 units that report the data set and that the principal may enter data for (or see)."""
    ds = load_catalog(conn).data_set(data_set) if data_set else None
    if ds is None:
        return []
    day = clock.today()
    action = Action.DATA_CAPTURE if principal.may(Action.DATA_CAPTURE) else Action.VIEW
    query = registry.units_on_select(day).where(unit_filter(conn, principal, action, day))
    query = query.where(
        registry.UNIT_TYPE.in_(sorted(ds.unit_types)) | registry.UNIT_ID.in_(sorted(ds.unit_ids))
    )
    rows = conn.execute(query.order_by(registry.UNIT_PATH).limit(500)).all()
    return [UnitChoice(r.code, r.name_zh, r.name_en) for r in rows]


def any_synthetic(conn: Connection, period: str, unit_id: int) -> bool:
    """Whether any stored value of the unit in the period is synthetic (labelled on the page). A
    read-only request keeps the answer per process under the ``imports`` stamp (decision 0023): values
    change only with an import (a form's save is one), which writes a row of ``data_imports``."""
    dv = store.data_values
    query = (
        select(dv.c.value)
        .join(store.periods, store.periods.c.id == dv.c.period_id)
        .where(store.periods.c.code == period, dv.c.unit_id == unit_id, dv.c.synthetic.is_(True))
        .limit(1)
    )
    return bool(kept_rows(conn, "imports", f"values.synthetic:{period}:{unit_id}", query))


def unit_name(conn: Connection, unit_id: int, zh: bool) -> str:
    unit = registry.last_known(conn, [unit_id]).get(unit_id)
    return "" if unit is None else (unit.name_zh if zh else unit.name_en)


# ---------------------------------------------------------------- sync


_DURATION = re.compile(r"(\d{1,9})([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def changed_since(last_updated: str | None, duration: str | None) -> dt.datetime | None:
    """The moment (UTC) DHIS2's ``lastUpdated`` (a date, or a date and time; without a zone, in the
    commission's time zone) or else ``lastUpdatedDuration`` (``10d``, ``2h``, ``30m``, ``45s``
    before now) names; None when neither is given."""
    if last_updated:
        try:
            moment = dt.datetime.fromisoformat(last_updated.replace("Z", "+00:00"))
            return (moment if moment.tzinfo else moment.replace(tzinfo=clock.zone())).astimezone(dt.UTC)
        except (ValueError, OverflowError):
            raise ValidationError(N_("The export cannot be made with these parameters."), [
                Problem(N_("not a date or date and time"), field="lastUpdated", value=last_updated,
                        expected=N_("e.g. 2020-01-31 or 2020-01-31T10:00:00"))]) from None
    if duration:
        found = _DURATION.fullmatch(duration)
        before = _before_now(int(found[1]), found[2]) if found else None
        if before is None:
            raise ValidationError(N_("The export cannot be made with these parameters."), [
                Problem(M_("Duration is not valid: `{duration}`", duration=duration),
                        field="lastUpdatedDuration", value=duration,
                        expected=N_("a number and d, h, m or s, e.g. 10d or 2h"))])
        return before
    return None


def _before_now(amount: int, unit: str) -> dt.datetime | None:
    """``amount`` days, hours, minutes or seconds before now; None beyond the calendar."""
    try:
        return clock.now() - dt.timedelta(**{_UNITS[unit]: amount})
    except OverflowError:
        return None
