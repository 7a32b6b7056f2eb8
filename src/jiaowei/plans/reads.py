"""What the plans modules' reads share, so that a page's statements do not grow with what it lists (each
statement is a round trip on PostgreSQL, issue 17): the units' paths read at once for the scope checks
(ids as one parameter: :mod:`jiaowei.db.among`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Connection

from jiaowei.registry import queries as registry


def paths_near(conn: Connection, unit_ids: Iterable[int], day: dt.date) -> dict[int, str | None]:
    """Each unit's path on ``day``, else on its last day open before it, else its first path (it opened
    later); None when it has none. One read of their path segments however many units (a register or a
    round lists many)."""
    out: dict[int, str | None] = {}
    for unit_id, segments in registry.segments_of(conn, sorted(set(unit_ids))).items():
        started = [s for s in segments if s.valid_from <= day]  # oldest first
        out[unit_id] = started[-1].path if started else segments[0].path if segments else None
    return out
