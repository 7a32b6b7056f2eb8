"""Reads of the daily health dashboard: a daily data set's reports on one day below a unit.

The reporting rate is the completeness report's (:mod:`jiaowei.indicators.approval.completeness`):
a report is received when it is registered complete or when the unit has values of the data set
that day, and it is on time when it arrived by the due date (a data set due in 0 days: that same
day). Alerts are the validation rules of the daily period type over the data set's elements
(:mod:`jiaowei.indicators.quality.queries`) broken that day by a report received; a count that
must stay zero is such a rule (``#{HEALTH_CASES} <= 0`` in the demo).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, select, union

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.daily.model import Alert, DailyHealth, DayRate, Missing, Named, Total, Value
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, load_catalog
from jiaowei.indicators.model import numeric
from jiaowei.indicators.quality import queries as quality
from jiaowei.indicators.targets.compute import default_unit
from jiaowei.registry import queries as registry

TREND_DAYS = 30
DAILY = pe.PeriodType.DAILY.value
_DAY = re.compile(r"[0-9]{4}-?[0-9]{2}-?[0-9]{2}")


# ---------------------------------------------------------------- what a request names


def daily_data_sets(catalog: Catalog) -> list[DataSet]:
    """The data sets reported per day, by code."""
    unique = {ds.id: ds for ds in catalog.data_sets.values() if ds.period_type == DAILY}
    return sorted(unique.values(), key=lambda ds: ds.code)


def daily_data_set(catalog: Catalog, code: str | None) -> DataSet:
    """The daily data set ``code`` names, or the first daily data set."""
    daily = daily_data_sets(catalog)
    if not code:
        if not daily:
            raise NotFound(
                N_("No data set is reported per day."),
                [Problem(N_("no daily data set"), field="ds",
                         expected=N_("a data set of period type Daily"))],
            )
        return daily[0]
    ds = catalog.data_set(code)
    expected = "a daily data set: " + (", ".join(d.code for d in daily) or "none yet")
    if ds is None:
        raise NotFound(
            M_("No data set with code {code!r}.", code=code),
            [Problem(N_("unknown data set"), field="ds", value=code, expected=expected)],
        )
    if ds.period_type != DAILY:
        raise ValidationError(
            M_("Data set {data_set} is reported per {period_type} period, not per day.",
               data_set=ds.code, period_type=ds.period_type),
            [Problem(N_("not a daily data set"), field="ds", value=code, expected=expected)],
        )
    return ds


def parse_day(text: str) -> dt.date:
    """A day written ``2020-12-01`` or ``20201201``."""
    if _DAY.fullmatch(text):
        digits = text.replace("-", "")
        try:
            return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            pass
    raise ValidationError(
        M_("{text!r} is not a day.",
           text=text), [Problem(N_("not a day"), field="day", value=text, expected=N_("e.g. 2020-12-01"))]
    )


def latest_day(conn: Connection, ds: DataSet, today: dt.date) -> dt.date | None:
    """The latest day up to ``today`` on which any unit reported the data set (values or registration)."""
    days = _reporting_days(conn, ds, dt.date.min, today)
    return days[-1] if days else None


def _reporting_days(conn: Connection, ds: DataSet, first: dt.date, last: dt.date) -> list[dt.date]:
    """Days in [first, last] on which any unit reported the data set: values or a registration."""
    p, dv, c = store.periods, store.data_values, store.completions
    used = union(
        select(dv.c.period_id).where(dv.c.data_element_id.in_(list(ds.element_ids))),
        select(c.c.period_id).where(c.c.data_set_id == ds.id),
    ).subquery()
    query = (
        select(p.c.start_date)
        .where(p.c.type == DAILY, p.c.start_date >= first, p.c.start_date <= last)
        .where(p.c.id.in_(select(used.c.period_id)))
        .order_by(p.c.start_date)
    )
    return list(conn.execute(query).scalars())


def _open_unit(conn: Connection, principal: Principal, code: str, day: dt.date) -> None:
    """The unit must exist, be in the principal's view (else: not found) and be open on the day."""
    unit_id = registry.id_of(conn, code)
    if unit_id is None:
        raise NotFound(
            M_("No unit with code {code!r}.", code=code),
            [Problem(M_("unknown unit"), field="ou", value=code, expected=M_("the code of a unit"))],
        )
    require_unit(conn, principal, Action.VIEW, unit_id, day, code)
    if registry.unit_on(conn, unit_id, day) is None:
        raise ValidationError(
            M_("Unit {code} was not open on {day}.", code=code, day=day.isoformat()),
            [
                Problem(
                    N_("the unit was not open that day"), field="ou", value=code,
                    expected=N_("a unit open that day")
                )
            ],
        )


# ---------------------------------------------------------------- the dashboard


def daily_health(
    conn: Connection,
    *,
    principal: Principal,
    data_set: str | None = None,
    day: str | None = None,
    unit: str | None = None,
    today: dt.date | None = None,
) -> DailyHealth:
    """The dashboard of a daily data set (default: the first) on a day (default: the latest day up
    to today with reports) below a unit (default: the user's own)."""
    require_action(principal, Action.VIEW)
    catalog = load_catalog(conn)
    ds = daily_data_set(catalog, data_set)
    the_day = (
        parse_day(day)
        if day
        else latest_day(conn, ds, today or clock.today()) or (today or clock.today())
    )
    code = unit or default_unit(conn, principal, the_day)
    if code is None:
        raise NotFound(N_("You can see no unit; ask an administrator for a view scope."))
    _open_unit(conn, principal, code, the_day)
    period = pe.containing(pe.PeriodType.DAILY, the_day)
    found = completeness.reports(conn, principal=principal, data_set=ds.code, period=period.id, unit=code)
    received = [u for u in found.expected if u.id in found.arrived]
    raw = _values(conn, catalog, ds, period.id, [u.id for u in received])
    return DailyHealth(
        data_set=Named(ds.code, ds.name_zh, ds.name_en),
        unit=Named(found.root.code, found.root.name_zh, found.root.name_en),
        day=the_day.isoformat(),
        period=period.id,
        due=found.due.isoformat(),
        today=_rate(found),
        not_reported=_missing(conn, ds, found),
        alerts=_alerts(conn, catalog, principal, ds, period.id, received, raw),
        totals=_totals(catalog, ds, raw),
        trend=_trend(conn, principal, ds, the_day, code),
    )


def _rate(found: completeness.Reports) -> DayRate:
    expected = len(found.expected)
    received = sum(u.id in found.arrived for u in found.expected)
    on_time = sum(found.on_time(u.id) for u in found.expected)
    return DayRate(
        day=found.period.start.isoformat(),
        period=found.period.id,
        expected=expected,
        received=received,
        on_time=on_time,
        received_percent=_percent(received, expected),
        on_time_percent=_percent(on_time, expected),
    )


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def entry_link(ds: str, period: str, unit: str) -> str:
    """The data entry form of the unit for the data set and period."""
    return "/data/entry?" + urlencode({"ds": ds, "pe": period, "ou": unit})


def _missing(conn: Connection, ds: DataSet, found: completeness.Reports) -> list[Missing]:
    late = sorted((u for u in found.expected if u.id not in found.arrived), key=lambda u: u.code)
    parents = {p.id: p for p in registry.units_on(conn, found.period.end, ids=[u.parent_id for u in late])}
    out = []
    for u in late:
        parent = parents.get(u.parent_id)
        out.append(
            Missing(
                unit=u.code,
                name_zh=u.name_zh,
                name_en=u.name_en,
                parent=parent.code if parent else None,
                parent_name_zh=parent.name_zh if parent else None,
                parent_name_en=parent.name_en if parent else None,
                entry=entry_link(ds.code, found.period.id, u.code),
            )
        )
    return out


Raw = dict[int, dict[tuple[int, int], float]]  # unit id -> (element id, coc id) -> number


def _values(conn: Connection, catalog: Catalog, ds: DataSet, period: str, unit_ids: Sequence[int]) -> Raw:
    """The numeric values of the data set's elements that day at the units."""
    out: Raw = {u: {} for u in unit_ids}
    pid = conn.execute(select(store.periods.c.id).where(store.periods.c.code == period)).scalar()
    if pid is None or not ds.element_ids:
        return out
    dv = store.data_values
    for start in range(0, len(unit_ids), 500):
        rows = conn.execute(
            select(dv.c.unit_id, dv.c.data_element_id, dv.c.coc_id, dv.c.value).where(
                dv.c.period_id == pid,
                dv.c.unit_id.in_(list(unit_ids[start : start + 500])),
                dv.c.data_element_id.in_(list(ds.element_ids)),
            )
        )
        for unit_id, element_id, coc_id, text in rows:
            number = numeric(catalog.elements[element_id].value_type, text)
            if number is not None:
                cell = (element_id, coc_id)
                out[unit_id][cell] = out[unit_id].get(cell, 0.0) + number
    return out


def _totals(catalog: Catalog, ds: DataSet, raw: Raw) -> list[Total]:
    sums: dict[int, float] = {}
    for cells in raw.values():
        for (element_id, _coc), number in cells.items():
            sums[element_id] = sums.get(element_id, 0.0) + number
    out = []
    for element_id in ds.element_ids:
        e = catalog.elements[element_id]
        out.append(Total(e.code, e.name_zh, e.name_en, sums.get(element_id)))
    return out


def _alerts(
    conn: Connection,
    catalog: Catalog,
    principal: Principal,
    ds: DataSet,
    period: str,
    received: Sequence[Any],
    raw: Raw,
) -> list[Alert]:
    """The daily rules over the data set's elements broken by a report received that day."""
    rules = {r.code: r for r in quality.load_rules(conn, catalog, data_set=ds, period_type=DAILY)}
    if not rules or not received:
        return []
    ids = {u.code: u.id for u in received}
    codes = sorted(ids)
    out = []
    for start in range(0, len(codes), quality.MAX_PAIRS):
        broken = quality.run_rules(
            conn,
            principal=principal,
            units=codes[start : start + quality.MAX_PAIRS],
            periods=[period],
            children=False,
            rules=sorted(rules),
            data_set=ds.code,
        )
        out += [_alert(catalog, ds, v, rules[v.rule], raw.get(ids[v.unit], {})) for v in broken]
    return sorted(out, key=lambda a: (a.unit, a.rule))


def _alert(
    catalog: Catalog,
    ds: DataSet,
    v: quality.Violation,
    rule: quality.Rule,
    cells: dict[tuple[int, int], float],
) -> Alert:
    values = []
    for ref in sorted(rule.refs, key=lambda r: (r.element, r.combo or "")):
        element = catalog.element(ref.element)
        if element is None:
            continue
        coc = catalog.option_combo(element, ref.combo) if ref.combo else None
        numbers = [n for (e, c), n in cells.items() if e == element.id and (coc is None or c == coc.id)]
        name_zh, name_en = quality.cell_labels(element, coc) if coc else (element.name_zh, element.name_en)
        values.append(Value(element.code, name_zh, name_en, sum(numbers) if numbers else None))
    return Alert(
        unit=v.unit,
        name_zh=v.unit_name_zh,
        name_en=v.unit_name_en,
        rule=v.rule,
        rule_name_zh=v.rule_name_zh,
        rule_name_en=v.rule_name_en,
        importance=v.importance,
        values=values,
        message_zh=v.message_zh,
        message_en=v.message_en,
        entry=entry_link(ds.code, v.period, v.unit),
    )


def _trend(conn: Connection, principal: Principal, ds: DataSet, day: dt.date, unit: str) -> list[DayRate]:
    """The rate on each reporting day of the 30 days up to ``day`` (and on ``day`` itself)."""
    first = day - dt.timedelta(days=TREND_DAYS - 1)
    days = sorted(set(_reporting_days(conn, ds, first, day)) | {day})
    out = []
    for d in days:
        period = pe.containing(pe.PeriodType.DAILY, d)
        try:
            found = completeness.reports(
                conn, principal=principal, data_set=ds.code, period=period.id, unit=unit, tree=False
            )
        except ValidationError:  # the unit was not open that day
            continue
        out.append(_rate(found))
    return out
