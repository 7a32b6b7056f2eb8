"""The day every date rule of plans counts from (overdue, due soon, reminders, status).

Services never read the clock: they take ``today`` as an argument. The web layer and the command
line pass :func:`today`, which is ``JIAOWEI_TODAY`` when it is set (tests and demos fix the date with
it) and the system's date in the commission's calendar otherwise; pages and the API also accept
``as_of=YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt

from jiaowei.settings import active_settings


def today() -> dt.date:
    return active_settings().today or dt.date.today()
