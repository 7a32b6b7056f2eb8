"""Scopes applied inside queries, in one place.

Every read or write of units goes through :func:`unit_filter` (for queries over
``unit_paths``) or :func:`require_unit` (for one unit). Views never check scopes
themselves. :func:`scope_spans` tells when a unit stood within a scope, so that reading its
record through the scope shows only those periods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Connection, true
from sqlalchemy.sql.elements import ColumnElement

from jiaowei.auth.model import ACTION_LABELS, ROLE_LABELS, Action, Principal
from jiaowei.db import memo
from jiaowei.errors import M_, NotFound, PermissionDenied
from jiaowei.registry import store
from jiaowei.registry.model import Segment, path_ids

Span = tuple[dt.date, dt.date]
"""A period ``[from, to)``."""


def require_action(principal: Principal, action: Action) -> None:
    if not principal.may(action):
        raise PermissionDenied(
            M_("The role {role} may not {action} ({code}).", role=ROLE_LABELS[principal.role.value],
               action=ACTION_LABELS[action.value], code=action.value)
        )


def scope_paths(conn: Connection, principal: Principal, action: Action, day: dt.date) -> list[str]:
    paths = []
    for unit_id in sorted(principal.scope_for(action)):
        path = _path_near(conn, unit_id, day)
        if path:
            paths.append(path)
    return paths


def _path_near(conn: Connection, unit_id: int, day: dt.date) -> str | None:
    """The unit's path on ``day``, else on its last day open before it, else its first path; read once
    per transaction (:func:`jiaowei.db.memo.per_transaction`): a page checks the same scope units on
    the same day many times (a district's home page checks its unit for each form, each check reading
    the scope's paths again), and each statement is a round trip on PostgreSQL (issue 17)."""
    return memo.per_transaction(conn, f"auth.scope.path:{unit_id}@{day.isoformat()}",
                                lambda: store.last_path(conn, unit_id, day) or _first_path(conn, unit_id))


def _first_path(conn: Connection, unit_id: int) -> str | None:
    segs = store.segments_of(conn, [unit_id])[unit_id]
    return segs[0].path if segs else None


def scope_spans(conn: Connection, principal: Principal, action: Action, unit_id: int) -> list[Span] | None:
    """The periods in which the unit stood within the principal's scope, oldest first.

    None when the principal is not limited by scope. A unit is within the scope while its
    path passes through a unit of the scope; a record read through a scope shows only these
    periods (see :func:`jiaowei.registry.queries.get_unit`).
    """
    spans = scope_spans_of(conn, principal, action, [unit_id])
    return None if spans is None else spans[unit_id]


def scope_spans_of(
    conn: Connection, principal: Principal, action: Action, unit_ids: Iterable[int]
) -> dict[int, list[Span]] | None:
    """:func:`scope_spans` of each unit, by id; None when the principal is not limited by scope."""
    if principal.unlimited:
        return None
    scope = principal.scope_for(action)
    return {
        unit_id: _spans([g for g in segments if scope.intersection(path_ids(g.path))])
        for unit_id, segments in store.segments_of(conn, unit_ids).items()
    }


def _spans(segments: Iterable[Segment]) -> list[Span]:
    """The periods the segments cover, adjoining ones joined."""
    spans: list[Span] = []
    for segment in segments:
        if spans and spans[-1][1] == segment.valid_from:
            spans[-1] = (spans[-1][0], segment.valid_to)
        else:
            spans.append((segment.valid_from, segment.valid_to))
    return spans


def unit_filter(
    conn: Connection, principal: Principal, action: Action, day: dt.date
) -> ColumnElement[bool]:
    """A WHERE clause on ``unit_paths`` limiting rows to the principal's scope on ``day``."""
    require_action(principal, action)
    if principal.unlimited:
        return true()
    return store.in_paths(scope_paths(conn, principal, action, day))


def in_scope(conn: Connection, principal: Principal, action: Action, path: str, day: dt.date) -> bool:
    if principal.unlimited:
        return True
    return any(path.startswith(p) for p in scope_paths(conn, principal, action, day))


def require_unit(
    conn: Connection, principal: Principal, action: Action, unit_id: int, day: dt.date, code: str
) -> None:
    """Raise unless the principal may perform ``action`` on the unit on ``day``.

    A unit outside the view scope is reported as not found, so that its existence is
    not disclosed.
    """
    require_action(principal, action)
    if principal.unlimited:
        return
    path = _path_near(conn, unit_id, day)
    if path is None or not in_scope(conn, principal, Action.VIEW, path, day):
        raise NotFound(M_("No unit with code {code!r}.", code=code))
    if not in_scope(conn, principal, action, path, day):
        raise PermissionDenied(M_("Unit {code!r} is outside your capture scope.", code=code))
