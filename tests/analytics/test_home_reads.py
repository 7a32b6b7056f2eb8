"""The home page reads each thing once (issue 17, part 3: each statement is a round trip on PostgreSQL):
no savepoint, which would forget what the transaction has read (the charts read their unit again), and
a district's page checks its unit's scope, reads the period and the district's subtree once however many
forms it shows. Both databases."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from jiaowei.analytics import tiles
from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.targets import service as targets
from tests.factories import indicator_setup, make_user
from tests.indicators.targets.test_compute import load
from tests.statements import counting

TODAY = dt.date(2021, 3, 1)


def _seen(conn: Connection, principal: Principal) -> tuple[tiles.Home, list[str]]:
    tiles.home(conn, principal=principal, today=TODAY, language="zh")  # the engine's copy is made
    with counting(conn) as count:
        view = tiles.home(conn, principal=principal, today=TODAY, language="zh")
    return view, [s for s, _ in count.seen]


def _values(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("PUPILS", "S1", "M", "300"), ("TEACHERS", "S1", None, "20"), ("PUPILS", "S2", "M", "100"),
         ("TEACHERS", "S2", None, "10"))


def test_the_commission_s_charts_do_not_read_the_unit_again(conn: Connection) -> None:
    _values(conn)
    targets.set_target(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020", value=12)
    view, seen = _seen(conn, SYSTEM)
    assert view.kind == "commission" and len(view.charts) == 1
    assert not [s for s in seen if s.startswith(("SAVEPOINT", "RELEASE"))]
    assert len([s for s in seen if s.startswith("SELECT units.id FROM units WHERE units.code")]) <= 1


def _reads(seen: list[str], start: str) -> int:
    return sum(1 for s in seen if s.startswith(start))


def test_a_district_s_forms_share_its_scope_its_period_and_its_subtree(conn: Connection) -> None:
    _values(conn)
    district = make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    one, seen = _seen(conn, district)
    for n in range(3):
        metadata.save_data_set(conn, principal=SYSTEM, code=f"MORE{n}", name_zh=f"年报{n}",
                               name_en=f"Annual {n}", period_type="Yearly", elements=["PUPILS"],
                               unit_types=["primary_school"], due_days=15, expiry_days=0)
    four, grown = _seen(conn, district)
    assert one.kind == four.kind == "district"
    assert len(one.completeness) == 1 and len(four.completeness) == 4
    for start in ("SELECT unit_paths.path FROM unit_paths", "SELECT periods.id FROM periods WHERE",
                  "SELECT units.id, units.code"):
        assert _reads(grown, start) == _reads(seen, start), start
