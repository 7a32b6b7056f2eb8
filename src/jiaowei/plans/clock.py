"""The day every date rule of plans counts from (overdue, due soon, reminders, status).

Services never read the clock: they take ``today`` as an argument. The web layer and the command
line pass :func:`today` (``jiaowei.clock``: ``JIAOWEI_TODAY`` when it is set, otherwise the date in
the commission's time zone); pages and the API also accept ``as_of=YYYY-MM-DD``.
"""

from __future__ import annotations

from jiaowei.clock import today

__all__ = ["today"]
