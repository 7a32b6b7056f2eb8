"""The unit picker of the plans pages reads its units in one statement (issue 17, part 3: each statement
is a round trip on PostgreSQL): for an administrator, the top two levels of the tree at once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.plans.pickers import unit_choices
from tests.factories import make_unit
from tests.statements import counting


def test_an_administrator_s_picker_is_the_first_top_and_the_units_below_it_in_one_statement(
        conn: Connection) -> None:
    top = make_unit(conn, "A0", type="commission", name_zh="甲委")
    below = [make_unit(conn, f"A0{i}", parent=top, type="district_bureau") for i in range(3)]
    make_unit(conn, "A0X", parent=below[0], type="primary_school")  # two levels down: not offered
    make_unit(conn, "A1", type="commission")  # a later top (by path): not offered
    make_unit(conn, "A09", parent=top, type="district_bureau", opened=dt.date(2030, 1, 1))  # not open yet
    with counting(conn) as count:
        choices = unit_choices(conn, SYSTEM, language="zh_CN", day=dt.date(2020, 6, 1))
    assert count.statements == 1
    assert [c.code for c in choices] == [top, *below]
