"""The home page's reads (issue 17, part 3: each statement is a round trip on PostgreSQL): a tile more
costs no statement (which targets were cascaded is one query for every tile, the unit is not read again
for the tiles, the charts share the unit and its children). Both databases."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from jiaowei.analytics import tiles
from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.targets import service as targets
from tests.factories import indicator_setup
from tests.indicators.targets.test_compute import load
from tests.statements import counting

TODAY = dt.date(2021, 3, 1)


def home(conn: Connection) -> tiles.Home:
    return tiles.home(conn, principal=SYSTEM, today=TODAY, language="zh")


def with_target(view: tiles.Home) -> list[str]:
    return [t.indicator.code for t in view.tiles if t.target is not None]


def test_a_tile_more_costs_no_statement(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("PUPILS", "S1", "M", "300"), ("TEACHERS", "S1", None, "20"), ("PUPILS", "S2", "M", "100"),
         ("TEACHERS", "S2", None, "10"))
    codes = ["PTR", "PTR_B", "PTR_C", "PTR_D", "PTR_E"]
    for code in codes[1:]:
        metadata.save_indicator(conn, principal=SYSTEM, code=code, name_zh=code, name_en=code, decimals=1,
                                numerator="#{PUPILS}", denominator="#{TEACHERS}", display="number")
    for code in codes[:2]:
        targets.set_target(conn, principal=SYSTEM, indicator=code, unit="SH", period="2020", value=12)
    home(conn)  # the first read of the transaction applies the loads to the engine's copy
    with counting(conn) as two:
        view = home(conn)
    assert with_target(view) == codes[:2] and len(view.charts) == 2

    for code in codes[2:]:
        targets.set_target(conn, principal=SYSTEM, indicator=code, unit="SH", period="2020", value=12)
    home(conn)
    with counting(conn) as five:
        view = home(conn)
    assert with_target(view) == codes and len(view.charts) == 2
    assert five.statements == two.statements
