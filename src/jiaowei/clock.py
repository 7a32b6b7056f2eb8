"""The commission's clock: the day date rules count from, and times shown in its time zone.

Services never read the clock: they take ``today`` (or ``now``) as an argument. The web layer and
the command line pass :func:`today`, which is ``JIAOWEI_TODAY`` when it is set (tests and demos fix
the date with it) and otherwise the date in the commission's time zone (``JIAOWEI_TIME_ZONE``,
default Asia/Shanghai). Times are stored in UTC and shown with :func:`local` in that zone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from jiaowei.settings import active_settings


def zone() -> ZoneInfo:
    return ZoneInfo(active_settings().time_zone)


def now() -> dt.datetime:
    """The current moment (UTC); on ``JIAOWEI_TODAY``, that day at the present time of day."""
    moment = dt.datetime.now(dt.UTC)
    fixed = active_settings().today
    if fixed is None:
        return moment
    local_moment = moment.astimezone(zone())
    return local_moment.replace(year=fixed.year, month=fixed.month, day=fixed.day).astimezone(dt.UTC)


def today() -> dt.date:
    fixed = active_settings().today
    return fixed if fixed is not None else dt.datetime.now(zone()).date()


def local(moment: dt.datetime | str | None, *, seconds: bool = False) -> str:
    """``moment`` (aware, naive meaning UTC, or ISO text) as ``YYYY-MM-DD HH:MM`` in the commission's zone."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone()).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
