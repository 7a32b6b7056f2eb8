"""The registry's reads run a fixed number of statements however many units they return (issue 17,
part 3: each statement is a round trip on PostgreSQL, each id in an ``IN`` list a bound parameter).

A unit's newest state (``last_known``) and its state in a period (``unit_in_period``) used to take
three statements (identity, versions, path segments) per 500 units; the tree's children took a
second statement for their parents' codes and a third with every child's id for their own
children's counts; the unit list a statement for its parents' codes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.registry import queries, service
from tests.factories import make_unit, small_tree
from tests.statements import counting

DAY = dt.date(2021, 6, 1)


def _ids(conn: Connection, *codes: str) -> list[int]:
    found = queries.ids_of(conn, codes)
    return [found[c] for c in codes]


def _history(conn: Connection) -> None:
    """SH → D1, D2; S1 renamed and moved to D2 in mid-2020 and closed at the end of it; 12 more schools."""
    small_tree(conn)
    service.change_unit(conn, principal=SYSTEM, code="S1", effective=dt.date(2020, 7, 1),
                        changes={"parent": "D2", "name_en": "Moved"})
    service.close_unit(conn, principal=SYSTEM, code="S1", effective=dt.date(2021, 1, 1))
    for n in range(12):
        make_unit(conn, f"K{n:02d}", parent="D1" if n % 3 else "D2")


def test_last_known_and_a_unit_in_a_period_are_what_the_histories_say_in_one_statement(
        conn: Connection) -> None:
    _history(conn)
    ids = _ids(conn, "SH", "D1", "D2", "S1", "S2", *(f"K{n:02d}" for n in range(12)))
    histories = queries.histories(conn, ids)
    with counting(conn) as count:
        last = queries.last_known(conn, [*ids, 10_000_000])  # an unknown id is left out
    assert count.statements == 1
    assert last == {i: h.last() for i, h in histories.items()}
    periods = [(dt.date(2020, 1, 1), dt.date(2020, 6, 30)), (dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
               (dt.date(2020, 7, 1), dt.date(2020, 7, 1)), (dt.date(2021, 1, 1), dt.date(2021, 12, 31)),
               (dt.date(1990, 1, 1), dt.date(1990, 12, 31))]
    for first, end in periods:
        for unit_id in ids[:5]:
            with counting(conn) as count:
                found = queries.unit_in_period(conn, unit_id, first, end)
            assert count.statements == 1
            assert found == histories[unit_id].in_period(first, end), (unit_id, first, end)
    assert queries.unit_in_period(conn, ids[3], dt.date(2021, 1, 1), dt.date(2021, 12, 31)) is None


def test_the_last_paths_of_many_units_are_one_statement(conn: Connection) -> None:
    _history(conn)
    ids = _ids(conn, "S1", "S2", "K00", "K01")
    for day in (dt.date(1999, 1, 1), dt.date(2020, 8, 1), DAY):
        with counting(conn) as count:
            paths = queries.last_paths(conn, ids, day)
        assert count.statements == 1
        assert paths == {i: p for i in ids if (p := queries.last_path(conn, i, day)) is not None}


def test_the_childrens_rows_and_counts_are_one_statement_however_many_children(conn: Connection) -> None:
    _history(conn)
    make_unit(conn, "G1", parent="K01")
    with counting(conn) as few:
        below_d2 = queries.children(conn, principal=SYSTEM, code="D2", as_of=DAY)
    with counting(conn) as many:
        below_d1 = queries.children(conn, principal=SYSTEM, code="D1", as_of=DAY)
    assert len(below_d1) > len(below_d2)
    assert many.statements == few.statements == 2  # the unit's id, then its children with their counts
    assert many.parameters == few.parameters
    assert {n.code: n.children for n in below_d1 if n.children} == {"K01": 1}
    assert {n.parent for n in below_d1} == {"D1"}
    with counting(conn) as top:
        roots = queries.children(conn, principal=SYSTEM, code=None, as_of=DAY)
    assert top.statements == 1 and [(n.code, n.parent, n.children) for n in roots] == [("SH", None, 2)]


def test_the_unit_list_reads_its_parents_codes_with_its_rows(conn: Connection) -> None:
    _history(conn)
    with counting(conn) as count:
        page = queries.list_units(conn, principal=SYSTEM, as_of=DAY, limit=50)
    assert count.statements == 2  # how many, and the page with each unit's parent code
    parents = {u.code: u.parent for u in page.items}
    assert (parents["SH"], parents["D1"], parents["K01"], parents["K00"]) == (None, "SH", "D1", "D2")
    assert page.total == 16 and "S1" not in parents  # closed by then
