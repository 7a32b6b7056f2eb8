"""The registry's history through the service, on both databases.

The same random operations as in test_registry_engine, now as service calls acting as
the system. The service must refuse exactly the operations that break the tree (and a
refused one leaves no trace); after every accepted one, the stored versions match the
oracle's, the ``unit_paths`` table equals the parent chains on every date, and
``list_units`` (by date, parent and subtree) shows the same tree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select

from jiaowei.auth.model import SYSTEM, Principal, Role
from jiaowei.errors import JiaoweiError, ValidationError
from jiaowei.registry import queries, service, store
from jiaowei.registry.model import VERSIONED_FIELDS, Segment, UnitVersion
from tests.registry.test_model import (
    Op,
    Versions,
    boundary_dates,
    chain,
    check_forest,
    day,
    open_on,
    path_on,
    tree_whole,
    trees,
)


def code(unit: int) -> str:
    return f"U{unit}"


@contextmanager
def rolled_back(conn: Connection) -> Iterator[None]:
    """One Hypothesis example: its writes vanish afterwards."""
    savepoint = conn.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()


def open_unit(conn: Connection, unit: int, v: UnitVersion, principal: Principal = SYSTEM) -> None:
    spec = service.UnitSpec(
        code=code(unit),
        name_zh=v.name_zh,
        name_en=v.name_en,
        type=v.type,
        parent=code(v.parent_id) if v.parent_id else None,
        opened=v.valid_from,
    )
    service.create_unit(conn, principal=principal, spec=spec)


def call_service(conn: Connection, op: Op, principal: Principal = SYSTEM) -> None:
    when = day(op.on)
    if op.kind == "open":
        open_unit(conn, op.unit, Op("open", op.unit, op.on, op.parent).apply({})[op.unit][0], principal)
    elif op.kind == "move":
        service.change_unit(
            conn,
            principal=principal,
            code=code(op.unit),
            effective=when,
            changes={"parent": code(op.parent) if op.parent else None},
        )
    elif op.kind == "rename":
        service.change_unit(
            conn,
            principal=principal,
            code=code(op.unit),
            effective=when,
            changes={"name_zh": op.name, "name_en": op.name},
        )
    elif op.kind == "close":
        service.close_unit(conn, principal=principal, code=code(op.unit), effective=when)
    else:
        service.merge_unit(conn, principal=principal, code=code(op.unit), into=code(op.parent or 0),
                           effective=when)


def expected_after(versions: Versions, op: Op) -> Versions | None:
    """The oracle: the versions after ``op``, or None if it must be refused."""
    try:
        after = op.apply(versions) if op.kind != "merge" else merged(versions, op)
    except ValueError:
        return None
    return after if tree_whole(after) else None


def merged(versions: Versions, op: Op) -> Versions:
    when = day(op.on)
    if op.parent is None or op.parent == op.unit or open_on(versions[op.parent], when) is None:
        raise ValueError("a unit merges into another unit open on the date")
    kids = [u for u, vs in versions.items() if (v := open_on(vs, when)) and v.parent_id == op.unit]
    for kid in kids:
        versions = Op("move", kid, op.on, op.parent).apply(versions)
    return Op("close", op.unit, op.on).apply(versions)


@st.composite
def ops(draw: st.DrawFn, units: list[int]) -> Op:
    kind = draw(st.sampled_from(["open", "move", "move", "rename", "close", "merge"]))
    parent = draw(st.sampled_from([None, *units]))
    on = draw(st.integers(0, 20))
    if kind == "open":
        return Op("open", max(units) + 1, on, parent)
    if kind == "merge":
        parent = draw(st.sampled_from(units))
    return Op(kind, draw(st.sampled_from(units)), on, parent, draw(st.sampled_from(["a", "b"])))


def stored(conn: Connection, ids: dict[int, int]) -> tuple[Versions, dict]:
    """Versions and path segments as stored, keyed (and paths written) in oracle unit numbers."""
    back = {db_id: unit for unit, db_id in ids.items()}
    versions = store.versions_of(conn, list(ids.values()))
    segments = store.segments_of(conn, list(ids.values()))

    def renumber(path: str) -> str:
        return "/" + "".join(f"{back[int(p)]}/" for p in path.strip("/").split("/"))

    return (
        {back[i]: [_renumbered(v, back) for v in vs] for i, vs in versions.items()},
        {
            back[i]: [type(s)(s.valid_from, s.valid_to, renumber(s.path)) for s in segs]
            for i, segs in segments.items()
        },
    )


def _renumbered(v: UnitVersion, back: dict[int, int]) -> UnitVersion:
    parent = back[v.parent_id] if v.parent_id else None
    return UnitVersion(
        v.valid_from, v.valid_to, parent, v.name_zh, v.name_en, v.type, v.ownership, v.sector, v.attributes
    )


def counts(conn: Connection) -> tuple[int, ...]:
    tables = (store.units, store.unit_versions, store.unit_paths, store.unit_events)
    return tuple(conn.scalar(select(func.count()).select_from(t)) or 0 for t in tables)


def check_listing(conn: Connection, versions: Versions, dates: list[dt.date]) -> None:
    for d in dates:
        page = queries.list_units(conn, principal=SYSTEM, as_of=d, limit=500)
        shown = {item.code: item.parent for item in page.items}
        expected = {
            code(u): (code(v.parent_id) if v.parent_id else None)
            for u, vs in versions.items()
            if (v := open_on(vs, d))
        }
        assert shown == expected, d
        for top in expected:
            below = queries.list_units(conn, principal=SYSTEM, as_of=d, descendants_of=top, limit=500)
            walked = {
                code(u)
                for u, vs in versions.items()
                if open_on(vs, d) and int(top[1:]) in (chain(versions, u, d) or [])
            }
            assert {item.code for item in below.items} == walked, (top, d)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=trees(), data=st.data())
def test_random_history_through_the_service_keeps_a_whole_tree(conn, start, data) -> None:
    with rolled_back(conn):
        for unit, vs in sorted(start.items()):
            open_unit(conn, unit, vs[0])
        versions = start
        ids = store.unit_ids_for(conn, [code(u) for u in versions])
        ids_by_unit = {u: ids[code(u)] for u in versions}
        for _ in range(data.draw(st.integers(1, 8), label="operations")):
            op = data.draw(ops(sorted(versions)), label="op")
            expected = expected_after(versions, op)
            before = counts(conn)
            try:
                with conn.begin_nested():
                    call_service(conn, op)
            except ValidationError as refused:
                assert expected is None, f"{op} refused though the oracle accepts it: {refused}"
                assert counts(conn) == before, f"refused {op} left rows behind"
                continue
            assert expected is not None, f"{op} accepted though it breaks the tree"
            versions = expected
            if op.kind == "open":
                ids_by_unit[op.unit] = store.unit_id_for(conn, code(op.unit))
            got_versions, got_paths = stored(conn, ids_by_unit)
            assert got_versions == versions
            check_forest(got_versions, got_paths)
            near = sorted({day(op.on) + dt.timedelta(days=k) for k in (-1, 0, 1)})
            check_listing(conn, versions, near if len(versions) > 3 else boundary_dates(versions))
        check_listing(conn, versions, boundary_dates(versions))


def state_on(versions: Versions, paths: dict[int, list[Segment]], unit: int, d: dt.date) -> tuple[Any, ...]:
    v = open_on(versions.get(unit, ()), d)
    fields = tuple(getattr(v, name) for name in VERSIONED_FIELDS) if v else None
    return fields, path_on(paths.get(unit, ()), d)


def scope_path(paths: dict[int, list[Segment]], unit: int, d: dt.date) -> str:
    """The scope unit's path on ``d``, or on its last day open before, or its first (as auth.scope does)."""
    segments = paths[unit]
    earlier = [s for s in segments if s.valid_from <= d]
    return (earlier[-1] if earlier else segments[0]).path


def check_only_scope_changed(before: tuple[Versions, dict], after: tuple[Versions, dict], scope: int) -> None:
    edges = {x for vs in after[0].values() for v in vs for x in (v.valid_from, v.valid_to)} | {
        x
        for ps in (before[1], after[1])
        for segs in ps.values()
        for s in segs
        for x in (s.valid_from, s.valid_to)
    }
    for d in sorted(e + dt.timedelta(days=k) for e in edges if e != dt.date.max for k in (-1, 0)):
        for unit in after[0]:
            old, new = state_on(*before, unit, d), state_on(*after, unit, d)
            if old == new:
                continue
            for (_, paths), path in ((before, old[1]), (after, new[1])):
                assert path is None or path.startswith(scope_path(paths, scope, d)), (unit, d, old, new)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=trees(), data=st.data())
def test_a_scoped_user_changes_nothing_outside_their_scope_on_any_date(conn, start, data) -> None:
    with rolled_back(conn):
        for unit, vs in sorted(start.items()):
            open_unit(conn, unit, vs[0])
        ids = {u: store.unit_id_for(conn, code(u)) for u in start}
        for _ in range(data.draw(st.integers(0, 6), label="history")):  # the administrator's doing
            op = data.draw(ops(sorted(ids)), label="history op")
            try:
                with conn.begin_nested():
                    call_service(conn, op)
            except ValidationError:
                continue
            if op.kind == "open":
                ids[op.unit] = store.unit_id_for(conn, code(op.unit))
        scope = data.draw(st.sampled_from(sorted(ids)), label="scope")
        inside = sorted(
            u for u, segs in stored(conn, ids)[1].items() if any(f"/{scope}/" in g.path for g in segs)
        )
        leaving, to = [u for u in inside if u != scope], [u for u in ids if u not in inside]
        exodus = None
        if leaving and to:  # a unit leaves the actor's scope some day: the case that matters
            exodus = Op(
                "move",
                data.draw(st.sampled_from(leaving)),
                data.draw(st.integers(1, 20)),
                data.draw(st.sampled_from(to)),
            )
            try:
                with conn.begin_nested():
                    call_service(conn, exodus)
                event("a unit leaves the scope")
            except ValidationError:
                exodus = None
        actor = Principal(
            user_id=None, username="scoped", role=Role.DISTRICT_STAFF, capture=frozenset({ids[scope]})
        )
        for n in range(data.draw(st.integers(1, 8), label="operations")):
            before = stored(conn, ids)
            ever_in = sorted(u for u, segs in before[1].items() if any(f"/{scope}/" in g.path for g in segs))
            op = data.draw(ops(ever_in or sorted(ids)), label="op")  # units the actor once held
            op = Op(op.kind, op.unit if op.kind != "open" else max(ids) + 1, op.on, op.parent, op.name)
            if n == 0 and exodus and op.kind != "open":  # first, the leaving unit before it leaves
                op = Op(op.kind, exodus.unit, data.draw(st.integers(0, exodus.on - 1)), op.parent, op.name)
            elif n == 0 and exodus:  # or a new unit under it
                op = Op("open", op.unit, data.draw(st.integers(0, exodus.on - 1)), exodus.unit)
            try:
                with conn.begin_nested():
                    call_service(conn, op, actor)
            except JiaoweiError as refused:
                event(f"scoped {op.kind} refused: {refused.code}")
                assert stored(conn, ids) == before
                continue
            event(f"scoped {op.kind} accepted")
            if op.kind == "open":
                ids[op.unit] = store.unit_id_for(conn, code(op.unit))
            after = stored(conn, ids)
            check_forest(*after)
            check_only_scope_changed(before, after, scope)
