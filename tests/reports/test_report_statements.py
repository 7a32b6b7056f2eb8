"""A report's reads (issue 17, part 3: each statement is a round trip on PostgreSQL): each figure asks
the analytics engine, and a figure more at units and periods the report already named costs no
statement (the indicators, units and change-feed markers are read once per transaction); the report
page reads its template once. Both databases."""

from __future__ import annotations

from sqlalchemy import Connection

from jiaowei.reports.queries import get_template
from tests.reports.engine_world import render, texts
from tests.reports.test_engine import world  # noqa: F401 - the fixture
from tests.statements import counting

ONE = "<p>{{ fig('PTR') }}</p>"
FIVE = ("<p>{{ fig('PTR') }} {{ fig('PUPILS') }} {{ fig('TEACHERS') }} {{ fig('GIRLS_SHARE') }} "
        "{{ fig('TPR') }}</p>")


def test_a_figure_more_costs_no_statement(world: Connection) -> None:  # noqa: F811
    render(world, ONE)  # the first read of the transaction applies the loads to the engine's copy
    with counting(world) as one:
        assert texts(render(world, ONE)) == ["12.8"]
    with counting(world) as five:
        assert texts(render(world, FIVE)) == ["12.8", "32万", "2.5万", "46.88%", "1:13"]
    assert five.statements == one.statements


def test_the_page_reads_its_template_once(conn: Connection) -> None:
    with counting(conn) as count:
        first = get_template(conn, "annual")
        assert get_template(conn, "annual") == first  # the page, the service and the page again
    assert count.statements == 1
