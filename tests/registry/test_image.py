"""A read-only unit of work answers the registry's look-ups from the image the process keeps under the
``registry`` stamp (migration 0020, jiaowei.registry.store.image): the same answers as the SQL, no statement
once the image is kept but the stamps' one, and a write seen by the next request."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Connection, text

from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.db.engine import BoundDatabase
from jiaowei.db.kept import forget_kept
from jiaowei.registry import queries, service
from jiaowei.registry.model import Unit
from jiaowei.registry.store import image
from tests.factories import make_unit, make_user, small_tree
from tests.migrations import stamp_triggers
from tests.statements import counting

CODES = ("SH", "D1", "D2", "S1", "S2", "P1", "K1", "K2", "LATE")
DAYS = (dt.date(1999, 12, 31), dt.date(2000, 1, 1), dt.date(2020, 6, 30), dt.date(2020, 7, 1),
        dt.date(2020, 12, 31), dt.date(2021, 1, 1), dt.date(2021, 3, 1), dt.date(2030, 1, 1))
PERIODS = ((dt.date(2020, 1, 1), dt.date(2020, 6, 30)), (dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
           (dt.date(2020, 7, 1), dt.date(2020, 7, 1)), (dt.date(2021, 1, 1), dt.date(2021, 12, 31)),
           (dt.date(1990, 1, 1), dt.date(1990, 12, 31)))


def _history(conn: Connection) -> None:
    """Renames, moves (a subtree with them), a closed unit, a unit opened late, attributes."""
    small_tree(conn)
    make_unit(conn, "P1", parent="D1", ownership="private", attributes={"普惠": True})
    make_unit(conn, "K1", parent="S1", type="kindergarten")
    make_unit(conn, "K2", parent="D2", type="kindergarten")
    make_unit(conn, "LATE", parent="D2", opened=dt.date(2021, 3, 1))
    service.change_unit(conn, principal=SYSTEM, code="S1", effective=dt.date(2020, 7, 1),
                        changes={"parent": "D2", "name_en": "Moved"})
    service.change_unit(conn, principal=SYSTEM, code="D1", effective=dt.date(2020, 12, 31),
                        changes={"name_zh": "新名"})
    service.close_unit(conn, principal=SYSTEM, code="S2", effective=dt.date(2021, 1, 1))


def _answers(conn: Connection) -> dict[str, Any]:
    ids = queries.ids_of(conn, [*CODES, "NOPE"])
    every = [*sorted(ids.values()), 10_000_000]  # an unknown id is left out or empty, as the SQL leaves it
    d1, d2 = ids["D1"], ids["D2"]
    out: dict[str, Any] = {
        "ids": ids,
        "id_of": [queries.id_of(conn, c) for c in (*CODES, "NOPE")],
        "codes": queries.codes_of(conn, [*every, None]),
        "histories": queries.histories(conn, every),
        "versions": queries.versions_of(conn, every),
        "segments": queries.segments_of(conn, every),
        "last_known": queries.last_known(conn, every),
        "in_period": [queries.unit_in_period(conn, i, first, last) for i in every for first, last in PERIODS],
    }
    for day in DAYS:
        out[f"on {day}"] = [
            queries.units_on(conn, day),
            queries.units_on(conn, day, ids=every),
            queries.units_on(conn, day, ids=[d1]),
            queries.units_on(conn, day, types=["kindergarten", "district_bureau"]),
            queries.units_on(conn, day, ownership="private"),
            queries.units_on(conn, day, parent_id=d2),
            queries.units_on(conn, day, parent_id=d1, types=["primary_school"]),
            queries.units_on(conn, day, top_level=True),
            [queries.unit_on(conn, i, day) for i in every],
            [queries.path_on(conn, i, day) for i in every],
            [queries.last_path(conn, i, day) for i in every],
            queries.last_paths(conn, every, day),
            queries.tree_top(conn, day),
            [queries.units_under(conn, day, [path]) for i in every
             if (path := queries.path_on(conn, i, day))],
            queries.units_under(conn, day, [p for i in (d1, d2) if (p := queries.path_on(conn, i, day))]),
            [sorted(queries.subtree_ids(conn, i, day)) for i in every],
            [queries.units_under(conn, day, [""], depth=depth) for depth in (1, 2, 3)],
        ]
    return out


def test_the_image_answers_what_the_sql_answers(db: BoundDatabase, conn: Connection) -> None:
    _history(conn)
    by_sql = _answers(conn)  # the test's transaction may write: the SQL answers
    assert image(conn) is None
    with db.reading_on(conn):
        assert image(conn) is not None
        by_image = _answers(conn)
    for key in by_sql:
        assert by_image[key] == by_sql[key], key
    assert [u.code for u in by_sql[f"on {dt.date(2020, 7, 1)}"][5]] == ["K2", "S1", "S2"]  # S1 moved there
    levels = by_sql[f"on {dt.date(2020, 7, 1)}"][-1]
    assert [u.code for u in levels[0]] == ["SH"] and {u.code for u in levels[1]} == {"D1", "D2"}
    assert [u.code for u in by_sql[f"on {dt.date(2021, 3, 1)}"][0]] == [  # by code: LATE open, S2 closed
        "D1", "D2", "K1", "K2", "LATE", "P1", "S1", "SH"]


def _pages(conn: Connection, principals: list[Principal]) -> list[Any]:
    out = []
    for principal in principals:
        for day in (dt.date(2020, 7, 1), dt.date(2021, 3, 1)):
            for filters in ({}, {"type": "kindergarten"}, {"ownership": "private"}, {"parent": "D2"},
                            {"descendants_of": "SH"}, {"descendants_of": "D2"}, {"descendants_of": "S1"},
                            {"descendants_of": "D2", "type": "primary_school"}, {"offset": 2, "limit": 3}):
                out.append(queries.list_units(conn, principal=principal, as_of=day, **filters))
    return out


def test_the_unit_list_from_the_image_is_the_sql_s(db: BoundDatabase, conn: Connection) -> None:
    _history(conn)
    principals = [SYSTEM, make_user(conn, role="district_staff", view=["D2"]),
                  make_user(conn, role="district_staff", view=["S1", "D1", "K2"])]  # nested till July
    by_sql = _pages(conn, principals)
    with db.reading_on(conn):
        assert image(conn) is not None
        by_image = _pages(conn, principals)
    assert by_image == by_sql
    assert {p.total for p in by_sql} > {0, 1}


def _reads(count: Any) -> list[str]:
    return [re.sub(r" (WHERE|ORDER BY) .*", "", s) for s, _ in count.seen if s.startswith("SELECT")]


def test_a_later_read_runs_the_stamps_statement_and_nothing_else(db: BoundDatabase, conn: Connection) -> None:
    _history(conn)
    forget_kept(conn.engine)
    s1 = queries.id_of(conn, "S1")
    assert s1 is not None
    with db.reading_on(conn), counting(conn) as first:
        queries.unit_on(conn, s1, dt.date(2020, 7, 1))
    assert len(_reads(first)) == 5  # the stamps; units, versions and paths (the image); the stamps again
    with db.reading_on(conn), counting(conn) as later:
        unit = queries.unit_on(conn, s1, dt.date(2020, 7, 1))
        assert queries.codes_of(conn, [s1]) == {s1: "S1"} and queries.id_of(conn, "D2") is not None
    assert unit is not None and unit.name_en == "Moved"
    assert _reads(later) == ["SELECT metadata_stamps.area, metadata_stamps.stamp FROM metadata_stamps"]


def test_a_write_is_seen_by_the_next_read(db: BoundDatabase, conn: Connection) -> None:
    _history(conn)
    day = dt.date(2022, 1, 1)
    with db.reading_on(conn):
        before = {u.code for u in queries.units_on(conn, day)}
    with db.transaction():
        make_unit(conn, "NEW", parent="D1")
        service.change_unit(conn, principal=SYSTEM, code="K2", effective=dt.date(2021, 6, 1),
                            changes={"name_en": "Renamed"})
    with db.reading_on(conn):
        after = {u.code: u for u in queries.units_on(conn, day)}
    assert set(after) == before | {"NEW"}
    assert after["K2"].name_en == "Renamed"


def test_a_write_the_services_did_not_make_changes_the_stamp_too(db: BoundDatabase, conn: Connection) -> None:
    _history(conn)
    with db.reading_on(conn):
        assert _k1(conn).name_en == "Unit K1"
    conn.execute(text("UPDATE unit_versions SET name_en = 'Raw' WHERE unit_id = "
                      "(SELECT id FROM units WHERE code = 'K1')"))
    with db.reading_on(conn):
        assert _k1(conn).name_en == "Raw"


def _k1(conn: Connection) -> Unit:
    [k1] = queries.units_on(conn, dt.date(2022, 1, 1), ids=queries.ids_of(conn, ["K1"]).values())
    return k1


def test_every_registry_table_has_the_triggers(conn: Connection) -> None:
    tables = {"units", "unit_versions", "unit_paths"}
    found = stamp_triggers(conn, "registry")
    assert found == {(t, e) for t in tables for e in ("INSERT", "UPDATE", "DELETE")}


def test_a_unit_the_image_does_not_know_is_read_from_the_tables(db: BoundDatabase, conn: Connection) -> None:
    """Under READ COMMITTED a GET's later statement may name a unit created after it read the stamps."""
    _history(conn)
    s1 = queries.id_of(conn, "S1")
    with db.reading_on(conn):
        assert image(conn, ids=[s1], codes=["S1"]) is not None
        assert image(conn, ids=[s1, 10_000_000]) is None and image(conn, codes=["S1", "NEW"]) is None
        with counting(conn) as count:
            assert queries.id_of(conn, "NEW") is None and queries.codes_of(conn, [10_000_000]) == {}
        assert len([s for s, _ in count.seen if " FROM units WHERE units." in s]) == 2  # by the tables
