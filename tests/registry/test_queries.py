"""The registry's public read API, as other domains use it: typed units on a day or in a period."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select

from jiaowei.auth.model import SYSTEM
from jiaowei.registry import queries, service
from tests.factories import make_unit, small_tree

DAY = dt.date(2020, 1, 1)


def _id(conn: Connection, code: str) -> int:
    found = queries.id_of(conn, code)
    assert found is not None
    return found


def test_a_unit_on_a_day_is_typed_with_its_path_and_parent(conn: Connection) -> None:
    small_tree(conn)
    s1 = queries.unit_on(conn, _id(conn, "S1"), DAY)
    assert s1 is not None
    assert (s1.code, s1.name_en, s1.type) == ("S1", "Unit S1", "primary_school")
    assert s1.parent_id == _id(conn, "D1")
    assert s1.ancestor_ids == [_id(conn, "SH"), _id(conn, "D1")]
    assert queries.unit_on(conn, s1.id, dt.date(1999, 12, 31)) is None


def test_units_on_a_day_filter_by_ids_type_parent_and_top(conn: Connection) -> None:
    small_tree(conn)
    make_unit(conn, "P1", parent="D1", ownership="private")
    assert [u.code for u in queries.units_on(conn, DAY)] == ["D1", "D2", "P1", "S1", "S2", "SH"]
    assert [u.code for u in queries.units_on(conn, DAY, types=["district_bureau"])] == ["D1", "D2"]
    assert [u.code for u in queries.units_on(conn, DAY, parent_id=_id(conn, "D1"))] == ["P1", "S1"]
    assert [u.code for u in queries.units_on(conn, DAY, ownership="private")] == ["P1"]
    assert [u.code for u in queries.units_on(conn, DAY, top_level=True)] == ["SH"]
    ids = [_id(conn, "S2"), _id(conn, "D1")]
    assert [u.code for u in queries.units_on(conn, DAY, ids=ids)] == ["D1", "S2"]
    assert queries.units_on(conn, DAY, ids=[]) == []


def test_codes_ids_and_the_check_of_codes(conn: Connection) -> None:
    small_tree(conn)
    ids = queries.ids_of(conn, ["S1", "D2", "NOPE"])
    assert set(ids) == {"S1", "D2"}
    assert queries.codes_of(conn, [*ids.values(), None]) == {v: k for k, v in ids.items()}
    found, problems = queries.check_unit_codes(conn, ["S1", "NOPE"], field="view_scope")
    assert found == {"S1": ids["S1"]}
    assert [(p.field, p.value) for p in problems] == [("view_scope", "NOPE")]


def test_a_moved_unit_over_a_period_and_after_it_closes(conn: Connection) -> None:
    small_tree(conn)
    s1 = _id(conn, "S1")
    service.change_unit(conn, principal=SYSTEM, code="S1", effective=dt.date(2020, 7, 1),
                        changes={"parent": "D2", "name_en": "Moved"})
    service.close_unit(conn, principal=SYSTEM, code="S1", effective=dt.date(2021, 1, 1))
    first_half = queries.unit_in_period(conn, s1, dt.date(2020, 1, 1), dt.date(2020, 6, 30))
    year = queries.unit_in_period(conn, s1, dt.date(2020, 1, 1), dt.date(2020, 12, 31))
    assert first_half is not None and year is not None
    assert (first_half.parent_id, first_half.name_en) == (_id(conn, "D1"), "Unit S1")
    assert (year.parent_id, year.name_en) == (_id(conn, "D2"), "Moved")
    assert year.path == queries.path_on(conn, s1, dt.date(2020, 12, 31))
    assert queries.unit_in_period(conn, s1, dt.date(2021, 1, 1), dt.date(2021, 12, 31)) is None
    last = queries.last_known(conn, [s1])[s1]
    assert (last.code, last.name_en, last.parent_id) == ("S1", "Moved", _id(conn, "D2"))
    history = queries.histories(conn, [s1])[s1]
    assert [v.name_en for v in history.versions] == ["Unit S1", "Moved"]


def test_subtrees_and_builders_for_other_domains_sql(conn: Connection) -> None:
    small_tree(conn)
    d1 = _id(conn, "D1")
    assert sorted(queries.subtree_ids(conn, d1, DAY)) == sorted([d1, _id(conn, "S1")])
    path = queries.path_on(conn, d1, DAY)
    assert path is not None
    under = conn.execute(queries.unit_ids_on_select(DAY).where(queries.in_paths([path]))).scalars().all()
    assert sorted(under) == sorted([d1, _id(conn, "S1")])
    codes = queries.unit_codes()
    assert conn.execute(select(codes.c.code).where(codes.c.id == d1)).scalar() == "D1"
    rows = conn.execute(queries.units_on_select(DAY).where(queries.UNIT_TYPE == "district_bureau")
                        .order_by(queries.UNIT_PATH)).all()
    assert [r.code for r in rows] == ["D1", "D2"]
    assert queries.unit_count(conn) == 5
