"""The registry's public read API: units as they stood on a day or in a period.

Every other domain reads units through this module, never through :mod:`jiaowei.registry.store`; a
layering test holds that line. A read-only unit of work (a GET) answers the look-ups from the image of
the registry the process keeps (:func:`jiaowei.registry.store.image`, decision 0022). It offers

- typed results (defined in :mod:`jiaowei.registry.model`, importable from here): :class:`Unit`
  (a unit on a day or in a period) and :class:`UnitHistory` (every version and path segment of a unit);
- look-ups: :func:`unit_on`, :func:`units_on`, :func:`unit_in_period`, :func:`last_known`,
  :func:`histories`, :func:`ids_of`, :func:`id_of`, :func:`codes_of`, :func:`check_unit_codes`,
  :func:`subtree_ids`, :func:`path_on`, :func:`last_path`, :func:`last_paths`, :func:`versions_of`,
  :func:`segments_of`, :func:`tree_top`;
- for domains that join units into their own SQL, small selectable builders instead of the
  tables: :func:`units_on_select` with its columns (``UNIT_ID``, ``UNIT_CODE``, ``UNIT_TYPE``,
  ``UNIT_OWNERSHIP``, ``UNIT_PARENT_ID``, ``UNIT_PATH``), :func:`unit_codes`,
  :func:`unit_ids_on_select`, :func:`in_paths` and :func:`count_rows`.

The registry's own browsing use cases (:func:`list_units`, :func:`children`, :func:`get_unit`),
which apply the principal's scope and answer the API and the pages, are here too; they return the
typed results of :mod:`jiaowei.registry.model` (``UnitSummary``, ``TreeNode``, ``UnitDetail``), and
the unit picker's search and browsing (:func:`search_units`, :func:`browse_units`, ``UnitFound``).
A unit's record read through a scope shows only the periods in which the unit stood within it
(:func:`trim_versions`, :func:`scope_spans_on`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, func, null, or_, select
from sqlalchemy.sql import Subquery
from sqlalchemy.sql.elements import ColumnElement

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import (
    Span,
    require_action,
    require_unit,
    scope_paths,
    scope_spans,
    scope_spans_of,
    unit_filter,
)
from jiaowei.db.among import among
from jiaowei.db.memo import per_transaction
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.paging import Page
from jiaowei.registry import store
from jiaowei.registry.model import (
    FOREVER,
    Ancestor,
    Ownership,
    Segment,
    TreeNode,
    Unit,
    UnitDetail,
    UnitEventShown,
    UnitFound,
    UnitHistory,
    UnitSummary,
    UnitType,
    UnitVersion,
    VersionShown,
    choices,
    path_ids,
)
from jiaowei.registry.store import image, unit_events, unit_paths, unit_versions, units
from jiaowei.text import control_character, escaped, initials_at

MAX_PAGE = 500

# ---------------------------------------------------------------- builders for other domains' SQL

UNIT_ID = units.c.id
"""The unit id column of :func:`units_on_select`."""
UNIT_CODE = units.c.code
"""The unit code column of :func:`units_on_select`."""
UNIT_TYPE = unit_versions.c.type
"""The unit type (on the select's day) column of :func:`units_on_select`."""
UNIT_OWNERSHIP = unit_versions.c.ownership
"""The ownership (on the select's day) column of :func:`units_on_select`."""
UNIT_PARENT_ID = unit_versions.c.parent_id
"""The parent id (on the select's day) column of :func:`units_on_select`."""
UNIT_PATH = unit_paths.c.path
"""The path (on the select's day) column of :func:`units_on_select`; order by it for tree order."""
UNIT_DEPTH = unit_paths.c.depth
"""The depth (on the select's day; 1 at the top of the tree) column of :func:`units_on_select`."""

units_on_select = store.units_on_select
"""``units_on_select(day)``: a select of the units open on ``day``, one row each, with columns
``id, code, synthetic, parent_id, name_zh, name_en, type, ownership, sector, attributes, path, depth``.
Narrow it with ``.where()`` over the ``UNIT_*`` columns, :func:`in_paths` or a scope filter."""

in_paths = store.in_paths
"""``in_paths(paths)``: a condition on :func:`units_on_select` (or :func:`unit_ids_on_select`)
keeping the units under any of ``paths``, the path's own unit included."""

count_rows = store.count_rows
"""``count_rows(conn, query)``: how many rows a select returns, ignoring its order."""


def unit_codes(name: str = "unit_codes") -> Subquery:
    """A selectable of every unit's ``id``, ``code`` and ``uid`` (DHIS2's id), to join them onto rows
    keyed by unit id.

    Use ``name`` to join it twice in one query (for example the unit and its parent).
    """
    return select(units.c.id, units.c.code, units.c.uid).subquery(name)


def unit_ids_on_select(day: dt.date) -> Any:
    """A select of the ids of the units open on ``day`` (add a scope filter with ``.where()``)."""
    return select(unit_paths.c.unit_id).where(store.valid_on(unit_paths, day))


_unit_from_row = store.unit_from_row

units_under = store.units_under
"""``units_under(conn, day, paths)``: the units open on ``day`` under any of ``paths``, in tree order
(from the registry the process keeps, in a read-only request)."""


# ---------------------------------------------------------------- look-ups


def id_of(conn: Connection, code: str) -> int | None:
    """The id of the unit with ``code``, or None. Read once per transaction (:mod:`jiaowei.db.memo`): a
    page names the same unit in several of its parts (a report: six), each a round trip on PostgreSQL."""
    if (kept := image(conn, codes=[code])) is not None:
        return kept.ids_by_code[code]
    return per_transaction(conn, f"registry.id_of:{code}", lambda: store.unit_id_for(conn, code))


def ids_of(conn: Connection, codes: Iterable[str]) -> dict[str, int]:
    """Ids of the codes that name units (codes naming none are left out)."""
    codes = set(codes)
    if (kept := image(conn, codes=codes)) is not None:
        return {code: kept.ids_by_code[code] for code in codes}
    return store.unit_ids_for(conn, codes)


def codes_of(conn: Connection, ids: Iterable[int | None]) -> dict[int, str]:
    """Codes of the unit ids (None and unknown ids are left out)."""
    wanted = sorted({i for i in ids if i is not None})
    if (kept := image(conn, ids=wanted)) is not None:
        return {i: kept.identities[i][0] for i in wanted}
    out: dict[int, str] = {}
    for part in among(conn, units.c.id, wanted):
        out.update(dict(conn.execute(select(units.c.id, units.c.code).where(part)).all()))
    return out


def check_unit_codes(
    conn: Connection, codes: Sequence[str], *, field: str
) -> tuple[dict[str, int], list[Problem]]:
    """Ids of the codes that name units, and a problem (naming ``field``) for each code that names none."""
    found = ids_of(conn, codes)
    problems = [
        Problem("no such unit", field=field, value=code, expected="the code of an existing unit")
        for code in codes
        if code not in found
    ]
    return found, problems


def unit_on(conn: Connection, unit_id: int, day: dt.date) -> Unit | None:
    """The unit as it stood on ``day``; None if it was not open that day. Read once per transaction
    for the same unit and day, as :func:`id_of`."""

    def read() -> Unit | None:
        found = units_on(conn, day, ids=[unit_id])
        return found[0] if found else None

    return per_transaction(conn, f"registry.unit_on:{unit_id}@{day.isoformat()}", read)


def units_on(conn: Connection, day: dt.date, *, ids: Iterable[int] | None = None,
             types: Iterable[str] | None = None, ownership: str | None = None, parent_id: int | None = None,
             top_level: bool = False, attributes: bool = True) -> list[Unit]:
    """Units open on ``day``, by code, optionally only those with the ids, of the types, with the
    ownership, under the parent (``parent_id``) or at the top of the tree (``top_level``).
    ``attributes=False`` lets the SQL leave each unit's attributes empty (thousands of units read
    faster); the image has them."""
    ids = None if ids is None else list(ids)
    if (kept := image(conn, ids=ids or ())) is not None:
        return kept.units_on(day, ids=ids, types=types, ownership=ownership, parent_id=parent_id,
                             top_level=top_level)
    query = units_on_select(day)
    if not attributes:
        query = query.with_only_columns(
            *(c if c.name != "attributes" else null().label("attributes") for c in query.selected_columns)
        )
    if types is not None:
        query = query.where(UNIT_TYPE.in_(sorted(set(types))))
    if ownership is not None:
        query = query.where(ownership == UNIT_OWNERSHIP)
    if parent_id is not None:
        query = query.where(parent_id == UNIT_PARENT_ID)
    if top_level:
        query = query.where(UNIT_PARENT_ID.is_(None))
    if ids is None:
        return [_unit_from_row(r) for r in conn.execute(query.order_by(UNIT_CODE))]
    rows: list[Any] = []
    for part in among(conn, UNIT_ID, sorted(set(ids))):
        rows += conn.execute(query.where(part)).all()
    return sorted((_unit_from_row(r) for r in rows), key=lambda u: u.code)


def tree_top(conn: Connection, day: dt.date) -> list[Unit]:
    """The first unit at the top of the tree (by path) open on ``day`` and the units directly below it
    (at most :data:`MAX_PAGE`), in tree order: an administrator's unit picker, in one statement."""
    if (kept := image(conn)) is not None:
        return kept.tree_top(day, MAX_PAGE)
    rows = conn.execute(units_on_select(day).where(UNIT_DEPTH <= 2).order_by(UNIT_PATH)).all()
    if not rows:
        return []
    return [_unit_from_row(r) for r in [rows[0], *[r for r in rows if r.parent_id == rows[0].id][:MAX_PAGE]]]


def histories(conn: Connection, ids: Iterable[int]) -> dict[int, UnitHistory]:
    """Every version and path segment of each unit, by id (unknown ids are left out)."""
    wanted = sorted(set(ids))
    if (kept := image(conn, ids=wanted)) is not None:
        return {i: UnitHistory(i, *kept.identities[i], kept.versions[i], kept.segments.get(i, ()))
                for i in wanted if kept.versions.get(i)}
    codes = _identities(conn, wanted)
    versions = store.versions_of(conn, wanted)
    segments = store.segments_of(conn, wanted)
    return {
        i: UnitHistory(i, code, synthetic, tuple(versions[i]), tuple(segments[i]))
        for i, (code, synthetic) in codes.items()
        if versions[i]
    }


def _identities(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, bool]]:
    out: dict[int, tuple[str, bool]] = {}
    for part in among(conn, units.c.id, ids):
        rows = conn.execute(select(units.c.id, units.c.code, units.c.synthetic).where(part))
        out.update({r.id: (r.code, bool(r.synthetic)) for r in rows})
    return out


def unit_in_period(conn: Connection, unit_id: int, first: dt.date, last: dt.date) -> Unit | None:
    """The unit as it stood last within ``first`` to ``last`` (both included); None if not open then.

    What ``histories(conn, [unit_id])[unit_id].in_period(first, last)`` gives, in one statement.
    """
    if (kept := image(conn, ids=[unit_id])) is not None:
        return kept.last_within(unit_id, first, last + dt.timedelta(days=1))
    query = store.last_known_select((first, last + dt.timedelta(days=1)))
    row = conn.execute(query.where(unit_versions.c.unit_id == unit_id)).first()
    return _unit_from_row(row) if row is not None and row.path is not None else None


def last_known(conn: Connection, ids: Iterable[int]) -> dict[int, Unit]:
    """Each unit as it stood last (its newest names, also when it is closed), by id: what
    ``histories(conn, ids)[i].last()`` gives, read in one statement (not three) however many ids."""
    ids = set(ids)
    if (kept := image(conn, ids=ids)) is not None:
        return {i: unit for i in ids if (unit := kept.last_within(i)) is not None}
    query = store.last_known_select()
    return {r.id: _unit_from_row(r) for part in among(conn, unit_versions.c.unit_id, sorted(ids))
            for r in conn.execute(query.where(part))}


def versions_of(conn: Connection, ids: Sequence[int]) -> dict[int, list[UnitVersion]]:
    """Each unit's versions, oldest first, by id."""
    if (kept := image(conn, ids=ids)) is not None:
        return {i: list(kept.versions.get(i, ())) for i in ids}
    return store.versions_of(conn, ids)


def segments_of(conn: Connection, ids: Iterable[int]) -> dict[int, list[Segment]]:
    """Each unit's path segments, oldest first, by id."""
    ids = list(ids)
    if (kept := image(conn, ids=ids)) is not None:
        return {i: list(kept.segments.get(i, ())) for i in ids}
    return store.segments_of(conn, ids)


def path_on(conn: Connection, unit_id: int, day: dt.date) -> str | None:
    """The unit's path on ``day``; None if it was not open then."""
    if (kept := image(conn, ids=[unit_id])) is not None:
        return kept.path_on(unit_id, day)
    return store.path_on(conn, unit_id, day)


def last_path(conn: Connection, unit_id: int, day: dt.date) -> str | None:
    """The unit's path on ``day``, or on its last day open before ``day``."""
    if (kept := image(conn, ids=[unit_id])) is not None:
        return kept.last_path(unit_id, day)
    return store.last_path(conn, unit_id, day)


def last_paths(conn: Connection, ids: Iterable[int], day: dt.date) -> dict[int, str]:
    """:func:`last_path` of each unit, by id, in one statement (units with no path then are left out)."""
    ids = set(ids)
    if (kept := image(conn, ids=ids)) is not None:
        return {i: path for i in ids if (path := kept.last_path(i, day)) is not None}
    return store.last_paths(conn, ids, day)


def subtree_ids(conn: Connection, unit_id: int, day: dt.date) -> list[int]:
    """Ids of the unit and everything below it on ``day``; empty when it is not open that day."""
    return store.subtree_ids(conn, unit_id, day)


def unit_count(conn: Connection) -> int:
    """How many units the registry holds, open or closed."""
    return int(conn.scalar(select(func.count()).select_from(units)) or 0)


# ---------------------------------------------------------------- browsing, for the registry's views


def today() -> dt.date:
    return clock.today()


def _summary_fields(row: Any, parent_codes: Mapping[int, str]) -> dict[str, Any]:
    """The fields of a :class:`UnitSummary` from a row of :func:`units_on_select` (or a :class:`Unit`)."""
    return {
        "code": row.code,
        "name_zh": row.name_zh,
        "name_en": row.name_en,
        "type": row.type,
        "ownership": row.ownership,
        "sector": row.sector,
        "parent": parent_codes.get(row.parent_id) if row.parent_id else None,
        "level": row.depth,
        "attributes": dict(row.attributes or {}),
        "synthetic": bool(row.synthetic),
    }


def list_units(
    conn: Connection,
    *,
    principal: Principal,
    as_of: dt.date | None = None,
    type: str | None = None,
    parent: str | None = None,
    descendants_of: str | None = None,
    ownership: str | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[UnitSummary]:
    """Units visible to ``principal`` as they stood on ``as_of``, paged."""
    day = as_of or today()
    problems = _filter_problems(type=type, ownership=ownership, offset=offset, limit=limit)
    if problems:
        raise ValidationError(N_("The unit list cannot be filtered that way."), problems)
    if not q and (kept := image(conn)) is not None:
        return _list_units_image(conn, kept, principal=principal, day=day, type=type, parent=parent,
                                 descendants_of=descendants_of, ownership=ownership, offset=offset,
                                 limit=limit)
    query = units_on_select(day).where(unit_filter(conn, principal, Action.VIEW, day))
    if type:
        query = query.where(type == UNIT_TYPE)
    if ownership:
        query = query.where(ownership == UNIT_OWNERSHIP)
    if parent:
        query = query.where(known_id(conn, parent, "parent") == UNIT_PARENT_ID)
    if descendants_of:
        path = path_on(conn, known_id(conn, descendants_of, "descendants_of"), day)
        query = query.where(in_paths([path] if path else []))
    if q:
        query = query.where(_matching(q))
    total = count_rows(conn, query)
    above = units.alias("parent_unit")  # each row's parent code in the same statement
    rows = conn.execute(query.outerjoin(above, above.c.id == UNIT_PARENT_ID)
                        .add_columns(above.c.code.label("parent_code"))
                        .order_by(UNIT_PATH).offset(offset).limit(limit)).all()
    parents = {r.parent_id: r.parent_code for r in rows if r.parent_id}
    return Page([UnitSummary(**_summary_fields(r, parents)) for r in rows], total, offset, limit)


def _list_units_image(conn: Connection, kept: store.Image, *, principal: Principal, day: dt.date,
                      type: str | None, parent: str | None, descendants_of: str | None, ownership: str | None,
                      offset: int, limit: int) -> Page[UnitSummary]:
    """:func:`list_units` (without ``q``) from the image: the same page, without a statement."""
    require_action(principal, Action.VIEW)
    ranges = [""] if principal.unlimited else scope_paths(conn, principal, Action.VIEW, day)
    if descendants_of:  # the subtree within the scope: the deeper of each two nested paths
        path = path_on(conn, known_id(conn, descendants_of, "descendants_of"), day)
        ranges = [] if not path else [path if path.startswith(r) else r for r in ranges
                                      if path.startswith(r) or r.startswith(path)]
    parent_id = known_id(conn, parent, "parent") if parent else None
    found = [u for u in kept.under(day, ranges) if (not type or u.type == type)
             and (not ownership or u.ownership == ownership)
             and (parent_id is None or u.parent_id == parent_id)]
    shown = found[offset:offset + limit]
    parents = {u.parent_id: kept.identities[u.parent_id][0] for u in shown if u.parent_id is not None}
    return Page([UnitSummary(**_summary_fields(u, parents)) for u in shown], len(found), offset, limit)


def _matching(q: str) -> ColumnElement[bool]:
    like = f"%{q}%"
    v = unit_versions
    return or_(units.c.code.ilike(like), v.c.name_zh.like(like), v.c.name_en.ilike(like))


def _filter_problems(*, type: str | None, ownership: str | None, offset: int, limit: int) -> list[Problem]:
    problems = []
    if type and type not in {t.value for t in UnitType}:
        problems.append(Problem(N_("unknown unit type"), field="type", value=type,
                                expected=choices(UnitType)))
    if ownership and ownership not in {o.value for o in Ownership}:
        problems.append(
            Problem(N_("unknown ownership"), field="ownership", value=ownership, expected=choices(Ownership))
        )
    if offset < 0:
        problems.append(Problem(N_("offset must not be negative"), field="offset", value=offset,
                                expected=">= 0"))
    if not 1 <= limit <= MAX_PAGE:
        problems.append(
            Problem("limit out of range", field="limit", value=limit, expected=M_("1 to {most}",
                                                                                  most=MAX_PAGE))
        )
    return problems


def known_id(conn: Connection, code: str, field_name: str) -> int:
    """The id of the unit with ``code``; a validation error naming ``field_name`` if there is none."""
    unit_id = id_of(conn, code)
    if unit_id is None:
        raise ValidationError(
            N_("Unknown unit."),
            [Problem("no such unit", field=field_name, value=code, expected="the code of an existing unit")],
        )
    return unit_id


def visible_id(
    conn: Connection, principal: Principal, code: str, day: dt.date, action: Action = Action.VIEW
) -> int:
    """The id of the unit with ``code``, if ``principal`` may perform ``action`` on it on ``day``."""
    unit_id = id_of(conn, code)
    if unit_id is None:
        raise NotFound(M_("No unit with code {code!r}.", code=code))
    require_unit(conn, principal, action, unit_id, day, code)
    return unit_id


def children(
    conn: Connection, *, principal: Principal, code: str | None, as_of: dt.date | None = None
) -> list[TreeNode]:
    """Children of a unit on a date (or the principal's top units when ``code`` is None)."""
    day = as_of or today()
    query = units_on_select(day).where(unit_filter(conn, principal, Action.VIEW, day))
    query = query.add_columns(_child_count(day).label("children"))
    if code is not None:
        unit_id = visible_id(conn, principal, code, day)
        query = query.where(unit_id == UNIT_PARENT_ID)
    elif principal.unlimited:
        query = query.where(UNIT_PARENT_ID.is_(None))
    else:
        roots = scope_paths(conn, principal, Action.VIEW, day)
        top = [p for p in roots if not any(p != o and p.startswith(o) for o in roots)]
        query = query.where(UNIT_PATH.in_(top))
    rows = conn.execute(query.order_by(UNIT_CODE)).all()
    parents = ({unit_id: code} if code is not None
               else codes_of(conn, {r.parent_id for r in rows if r.parent_id}))
    return [TreeNode(**_summary_fields(r, parents), children=r.children) for r in rows]


def _child_count(day: dt.date) -> Any:
    """How many units were directly below the row's unit on ``day``: counted in the row's own statement,
    an index search each (not a second statement with an ``IN`` list of every row's id)."""
    kids = unit_versions.alias("kids")
    return (
        select(func.count())
        .select_from(kids)
        .where(kids.c.parent_id == UNIT_ID, kids.c.valid_from <= day, kids.c.valid_to > day)
        .scalar_subquery()
    )


def _child_counts(conn: Connection, ids: list[int], day: dt.date) -> dict[int, int]:
    v = unit_versions
    query = select(v.c.parent_id, func.count()).where(store.valid_on(v, day)).group_by(v.c.parent_id)
    return {r[0]: r[1] for part in among(conn, v.c.parent_id, ids)
            for r in conn.execute(query.where(part))}


def get_unit(
    conn: Connection, *, principal: Principal, code: str, as_of: dt.date | None = None
) -> UnitDetail:
    """One unit: its state on ``as_of`` (if open then), ancestors, every version and event.

    A principal limited by scope sees only the part of the record from the periods in which
    the unit stood within their scope: the versions cut to those periods, the events in them.
    """
    day = as_of or today()
    unit_id = visible_id(conn, principal, code, day)
    unit = conn.execute(select(units).where(units.c.id == unit_id)).one()
    spans = scope_spans(conn, principal, Action.VIEW, unit_id)
    whole = store.versions_of(conn, [unit_id])[unit_id]
    versions = whole if spans is None else trim_versions(whole, spans)
    if not versions:
        raise NotFound(M_("No unit with code {code!r}.", code=code))
    current = next((v for v in versions if v.covers(day)), None)
    path = last_path(conn, unit_id, day) or ""
    codes, names = _codes_and_names(conn, {v.parent_id for v in versions} | set(path_ids(path)), day)
    shown = _version_shown(current or versions[-1], codes)
    return UnitDetail(
        code=unit.code,
        synthetic=bool(unit.synthetic),
        open_on_date=current is not None,
        as_of=day,
        opened=versions[0].valid_from,
        closed=_end(versions[-1].valid_to) if versions[-1].valid_to == whole[-1].valid_to else None,
        name_zh=shown.name_zh,
        name_en=shown.name_en,
        type=shown.type,
        ownership=shown.ownership,
        sector=shown.sector,
        parent=shown.parent,
        attributes=shown.attributes,
        level=max(len(path_ids(path)) - 1, 0),
        ancestors=_ancestors(path, codes, names),
        versions=tuple(_version_shown(v, codes) for v in versions),
        events=_events(conn, unit_id, spans),
    )


def trim_versions(versions: Sequence[UnitVersion], spans: Sequence[Span]) -> list[UnitVersion]:
    """The parts of the versions that fall within the periods ``spans``, oldest first."""
    out = []
    for v in versions:
        for start, end in spans:
            if v.valid_from < end and start < v.valid_to:
                out.append(replace(v, valid_from=max(v.valid_from, start), valid_to=min(v.valid_to, end)))
    return out


def scope_spans_on(
    conn: Connection, *, principal: Principal, ids: Iterable[int], day: dt.date
) -> dict[int, Span]:
    """For a principal limited by scope, the period around ``day`` in which each unit stood within
    the scope, by id (units not within it on ``day`` are left out); empty for an administrator."""
    spans = scope_spans_of(conn, principal, Action.VIEW, ids)
    if spans is None:
        return {}
    return {
        unit_id: span
        for unit_id, periods in spans.items()
        for span in periods
        if span[0] <= day < span[1]
    }


def _within(day: dt.date, spans: Sequence[Span] | None) -> bool:
    return spans is None or any(start <= day < end for start, end in spans)


def _end(valid_to: dt.date) -> dt.date | None:
    return None if valid_to == FOREVER else valid_to


def _ancestors(path: str, codes: Mapping[int, str],
               names: Mapping[int, tuple[str, str]]) -> tuple[Ancestor, ...]:
    return tuple(Ancestor(codes[i], *names.get(i, ("", ""))) for i in path_ids(path)[:-1])


def _codes_and_names(
    conn: Connection, ids: Iterable[int | None], day: dt.date
) -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
    """:func:`codes_of` the units, and :func:`_names` of those with a version begun by ``day``: one
    statement where the two took two."""
    v, newer = unit_versions, unit_versions.alias("newer")
    newest = select(func.max(newer.c.valid_from)).where(newer.c.unit_id == units.c.id,
                                                        newer.c.valid_from <= day).scalar_subquery()
    query = select(units.c.id, units.c.code, v.c.name_zh, v.c.name_en).select_from(
        units.outerjoin(v, (v.c.unit_id == units.c.id) & (v.c.valid_from == newest))
    )
    codes: dict[int, str] = {}
    names: dict[int, tuple[str, str]] = {}
    for part in among(conn, units.c.id, sorted({i for i in ids if i is not None})):
        for r in conn.execute(query.where(part)):
            codes[r.id] = r.code
            if r.name_zh is not None:
                names[r.id] = (r.name_zh, r.name_en)
    return codes, names


def _names(conn: Connection, ids: set[int], day: dt.date) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    v = unit_versions
    rows = conn.execute(
        select(v.c.unit_id, v.c.name_zh, v.c.name_en, v.c.valid_from)
        .where(v.c.unit_id.in_(ids), v.c.valid_from <= day)
        .order_by(v.c.valid_from)
    )
    return {r.unit_id: (r.name_zh, r.name_en) for r in rows}


def version_dict(v: UnitVersion, codes: Mapping[int, str]) -> dict[str, Any]:
    """A version's fields as the audit log records them, its parent by code."""
    return {
        "name_zh": v.name_zh,
        "name_en": v.name_en,
        "type": v.type,
        "ownership": v.ownership,
        "sector": v.sector,
        "parent": codes.get(v.parent_id) if v.parent_id else None,
        "attributes": dict(v.attributes),
    }


def _version_shown(v: UnitVersion, codes: Mapping[int, str]) -> VersionShown:
    return VersionShown(
        valid_from=v.valid_from,
        valid_to=_end(v.valid_to),
        name_zh=v.name_zh,
        name_en=v.name_en,
        type=v.type,
        ownership=v.ownership,
        sector=v.sector,
        parent=codes.get(v.parent_id) if v.parent_id else None,
        attributes=dict(v.attributes),
    )


def _events(conn: Connection, unit_id: int, spans: Sequence[Span] | None) -> tuple[UnitEventShown, ...]:
    """The unit's events, only those effective within ``spans`` (all when None)."""
    rows = conn.execute(
        select(unit_events)
        .where(unit_events.c.unit_id == unit_id)
        .order_by(unit_events.c.effective, unit_events.c.id)
    ).all()
    rows = [r for r in rows if _within(r.effective, spans)]
    related = codes_of(conn, {r.related_unit_id for r in rows if r.related_unit_id})
    return tuple(
        UnitEventShown(
            kind=r.kind,
            effective=r.effective,
            detail=r.detail,
            related=related.get(r.related_unit_id),
            note=r.note,
            recorded_by=r.recorded_by,
        )
        for r in rows
    )


# ---------------------------------------------------------------- for the analytics engine


def path_rows(conn: Connection) -> list[Any]:
    """Every path segment: (unit_id, path, valid_from, valid_to), for the analytics engine's copy."""
    query = select(unit_paths.c.unit_id, unit_paths.c.path, unit_paths.c.valid_from, unit_paths.c.valid_to)
    return list(conn.execute(query.order_by(unit_paths.c.unit_id, unit_paths.c.valid_from)))


def hierarchy_stamp(conn: Connection) -> str:
    """Changes whenever the tree does: segments counted, their last start, the last unit event and when
    it was recorded (every change of a parent is a unit event and rewrites segments). The analytics
    engine uses the registry's stamp (migration 0020) instead, and this where a database has none."""
    last = select(unit_events.c.id, unit_events.c.recorded_at).order_by(unit_events.c.id.desc()).limit(1)
    row = conn.execute(select(
        func.count().label("segments"), func.max(unit_paths.c.valid_from).label("last_from"),
        last.with_only_columns(unit_events.c.id).scalar_subquery().label("event_id"),
        last.with_only_columns(unit_events.c.recorded_at).scalar_subquery().label("event_at"),
    ).select_from(unit_paths)).one()
    event = row.event_id is not None
    return f"{row.segments}|{row.last_from}|{row.event_id if event else 0}|{row.event_at if event else ''}"


def group_set_members(conn: Connection, set_ids: Sequence[int]) -> list[tuple[int, int, int]]:
    """(group set id, group id, unit id) for every member of a group in the sets."""
    if not set_ids:
        return []
    sm, gm = store.unit_group_set_members, store.unit_group_members
    query = (
        select(sm.c.set_id, gm.c.group_id, gm.c.unit_id)
        .join(gm, gm.c.group_id == sm.c.group_id)
        .where(sm.c.set_id.in_(sorted(set_ids)))
    )
    return [(int(r.set_id), int(r.group_id), int(r.unit_id)) for r in conn.execute(query)]


def group_set_named(conn: Connection, code: str) -> tuple[Any, list[Any]] | None:
    """The group set with ``code`` (id, code, name_zh, name_en) and its groups (the same, by code); None."""
    s, g, m = store.unit_group_sets, store.unit_groups, store.unit_group_set_members
    found = conn.execute(select(s.c.id, s.c.code, s.c.name_zh, s.c.name_en).where(s.c.code == code)).first()
    if found is None:
        return None
    query = select(g.c.id, g.c.code, g.c.name_zh, g.c.name_en).join(m, m.c.group_id == g.c.id)
    return found, list(conn.execute(query.where(m.c.set_id == found.id).order_by(g.c.code)))


# ---------------------------------------------------------------- search, for the unit picker

MAX_QUERY = 64
MAX_FOUND = 50
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_TYPED = _LETTERS | frozenset("0123456789")


def search_units(
    conn: Connection, *, principal: Principal, q: str, as_of: dt.date | None = None, limit: int = 20
) -> Page[UnitFound]:
    """Units open on ``as_of`` within the principal's view scope whose code, Chinese or English
    name, or the pinyin initials of the Chinese name (``hpq`` for 黄浦区) hold ``q``.

    Best first: the code itself, then codes, names and initials that begin with ``q``, then those
    that hold it; higher units before lower ones. Letters and digits alone may be pinyin initials,
    which no SQL index knows, so for them every unit of the scope is read and matched here (the
    initials of a name are computed once per process); other text is matched in SQL first.
    """
    day = as_of or clock.today()
    needle = _search_text(q, limit)
    query = units_on_select(day).with_only_columns(
        UNIT_ID, UNIT_CODE, unit_versions.c.name_zh, unit_versions.c.name_en, UNIT_TYPE, UNIT_PARENT_ID,
        unit_paths.c.depth, maintain_column_froms=False,
    ).where(unit_filter(conn, principal, Action.VIEW, day))
    if not set(needle) <= _TYPED:
        query = query.where(_holding(needle))
    ranked = sorted(
        (rank, r.depth, r.code, r) for r in conn.execute(query) if (rank := _rank(r, needle)) is not None
    )
    return Page(_found(conn, [r for *_, r in ranked[:limit]], day), len(ranked), 0, limit)


def browse_units(
    conn: Connection, *, principal: Principal, parent: str | None, as_of: dt.date | None = None
) -> list[UnitFound]:
    """The units directly below ``parent`` on ``as_of`` (the principal's highest units when None)."""
    day = as_of or clock.today()
    nodes = children(conn, principal=principal, code=parent, as_of=day)
    ids = ids_of(conn, [n.parent for n in nodes if n.parent])
    names = _names(conn, set(ids.values()), day)
    return [_unit_found(n.code, n.name_zh, n.name_en, n.type, n.level, n.parent,
                        names.get(ids.get(n.parent or "", 0), ("", "")), n.children) for n in nodes]


def _search_text(q: str, limit: int) -> str:
    needle = q.strip().casefold()
    problems = []
    if not 1 <= len(needle) <= MAX_QUERY or control_character(needle):
        expected = M_("1 to {count} characters: a unit code, a name or pinyin initials", count=MAX_QUERY)
        problems.append(Problem(N_("not a search text"), field="q", value=escaped(q), expected=expected))
    if not 1 <= limit <= MAX_FOUND:
        expected = M_("1 to {count}", count=MAX_FOUND)
        problems.append(Problem(N_("limit out of range"), field="limit", value=limit, expected=expected))
    if problems:
        raise ValidationError(N_("The unit search cannot be run with this text."), problems)
    return needle


def _holding(needle: str) -> ColumnElement[bool]:
    like = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(UNIT_CODE.ilike(like, escape="\\"), unit_versions.c.name_zh.like(like, escape="\\"),
               unit_versions.c.name_en.ilike(like, escape="\\"))


def _rank(row: Any, needle: str) -> int | None:
    """0 the code itself, 1 a code that begins so, 2 a name or initials that begin so, 3 holding it."""
    code = row.code.casefold()
    texts = (row.name_zh.casefold(), row.name_en.casefold())
    begins, holds = initials_at(row.name_zh, needle) if set(needle) <= _TYPED else (False, False)
    if code == needle:
        return 0
    if code.startswith(needle):
        return 1
    if begins or any(t.startswith(needle) for t in texts):
        return 2
    if holds or needle in code or any(needle in t for t in texts):
        return 3
    return None


def _found(conn: Connection, rows: Sequence[Any], day: dt.date) -> list[UnitFound]:
    parents = {r.parent_id for r in rows if r.parent_id}
    codes, names = _codes_and_names(conn, parents, day)
    counts = _child_counts(conn, [r.id for r in rows], day)
    return [_unit_found(r.code, r.name_zh, r.name_en, r.type, r.depth, codes.get(r.parent_id),
                        names.get(r.parent_id, ("", "")), counts.get(r.id, 0)) for r in rows]


def _unit_found(code: str, name_zh: str, name_en: str, type: str, level: int, parent: str | None,
                parent_names: tuple[str, str], children: int) -> UnitFound:
    return UnitFound(code=code, name_zh=name_zh, name_en=name_en, type=type, level=level, parent=parent,
                     parent_name_zh=parent_names[0], parent_name_en=parent_names[1], children=children)
