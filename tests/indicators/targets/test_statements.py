"""The indicator pages' reads (issue 17, part 3: each statement is a round trip on PostgreSQL): a unit's
table costs the same statements however many units stand below it (on PostgreSQL with their ids as one
parameter), what a page reads in several parts (the indicators, the unit, its children) is read once
per transaction, and the home page's charts ask which targets were cascaded in one query. Both
databases."""

from __future__ import annotations

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.targets import compute, queries
from jiaowei.indicators.targets import service as targets
from jiaowei.registry.store import unit_id_for
from tests.factories import indicator_setup, make_unit
from tests.indicators.targets.test_compute import load
from tests.statements import counting


def table(conn: Connection, unit: str) -> dict[str, float | None]:
    rows = compute.indicator_table(conn, principal=SYSTEM, indicator="PTR", unit=unit, period="2020")
    return {r.unit.code: r.value for r in rows}


def test_a_units_table_costs_the_same_whatever_stands_below_it(conn: Connection) -> None:
    indicator_setup(conn)
    schools = [make_unit(conn, parent="D2") for _ in range(8)]
    load(conn, *(("TEACHERS", s, None, "2") for s in ["S1", *schools]),
         *(("PUPILS", s, "M", "30") for s in ["S1", *schools]))
    table(conn, "SH")  # the first read of the transaction applies the loads to the engine's copy

    with counting(conn) as one:
        assert table(conn, "D1") == {"D1": 15.0, "S1": 15.0}
    with counting(conn) as nine:
        assert table(conn, "D2") == {"D2": 15.0, **dict.fromkeys(schools, 15.0)} | {"S2": None}
    assert nine.statements == one.statements
    if conn.dialect.name == "postgresql":
        assert nine.parameters == one.parameters  # the ids as one array, not a parameter each

    with counting(conn) as again:
        table(conn, "D2")  # another part of the page: the indicator, the unit and its children are known
    assert again.statements == 2  # the published facts and the targets


def test_the_indicators_are_read_once_per_transaction(conn: Connection) -> None:
    indicator_setup(conn)
    with counting(conn) as count:
        everything = compute.all_indicators(conn)
        assert compute.load_indicator(conn, "PTR") == everything[0]
        assert compute.load_indicator(conn, everything[0].uid) == everything[0]  # by DHIS2's id too
        everything.clear()  # the caller's own list
        assert [d.code for d in compute.all_indicators(conn)] == ["PTR"]
    assert count.statements == 3  # the metadata stamp, the indicators, the stamp again (before the process
    # keeps them under it: tests/indicators/metadata/test_catalog_stamp.py)
    stored = conn.execute(compute.store.indicators.select()).one()
    assert compute.load_indicator(conn, "PTR").uid == stored.uid
    metadata.save_indicator(conn, principal=SYSTEM, code="AAA", name_zh="甲", name_en="A", numerator="1",
                            denominator="1", display="number", decimals=0)
    assert [d.code for d in compute.all_indicators(conn)] == ["AAA", "PTR"]  # a write forgets them


def test_which_targets_were_cascaded_is_one_query(conn: Connection) -> None:
    indicator_setup(conn)
    for code in ("AAA", "BBB"):
        metadata.save_indicator(conn, principal=SYSTEM, code=code, name_zh=code, name_en=code, numerator="1",
                                denominator="1", display="number", decimals=0)
    for code in ("PTR", "AAA", "BBB"):
        targets.set_target(conn, principal=SYSTEM, indicator=code, unit="SH", period="2020", value=10,
                           at_risk_margin=1)
    targets.set_target(conn, principal=SYSTEM, indicator="AAA", unit="D1", period="2020", value=10,
                       at_risk_margin=1)  # set at the district, not cascaded
    targets.cascade(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020", method="same")
    ids = {d.code: d.id for d in compute.all_indicators(conn)}
    every = list(ids.values())
    sh, d1 = unit_id_for(conn, "SH"), unit_id_for(conn, "D1")
    assert sh is not None and d1 is not None
    with counting(conn) as count:
        found = queries.cascaded_from(conn, unit_id=sh, indicator_ids=every, periods=["2020", "2021"])
    assert found == {(ids["PTR"], "2020")}
    assert count.statements == 1
    assert queries.cascaded_from(conn, unit_id=d1, indicator_ids=every, periods=["2020"]) == set()
