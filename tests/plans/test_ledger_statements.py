"""The ledger page reads the findings once and the unit choices once (issue 17, part 3: each statement
is a round trip on PostgreSQL): the overdue measures, the rates by unit and by source and the record
form's units reuse what the page has read."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.factories import login, make_user
from tests.plans.test_rectification_pages import LEDGER, seed
from tests.statements import counting


def _statements(browser: TestClient, conn: Connection, params: dict[str, str]) -> tuple[int, list[str]]:
    with counting(conn) as count:
        page = browser.get(LEDGER, params=params)
    assert page.status_code == 200, page.text
    assert "修订议事规则" in page.text
    return count.statements, [s for s, _ in count.seen]


def _reads(seen: list[str], table: str) -> int:
    return sum(1 for s in seen if s.startswith("SELECT") and f" FROM {table} " in f"{s} ")


def test_the_ledger_reads_the_findings_and_the_unit_choices_once(browser: TestClient,
                                                                  conn: Connection) -> None:
    seed(conn)
    make_user(conn, "staff", role="commission_staff", capture=["SH"])
    login(browser, "staff")
    total, seen = _statements(browser, conn, {"as_of": "2020-07-02"})
    assert _reads(seen, "rectification_findings") == 1
    assert _reads(seen, "rectification_measures") == 1
    pickers = [s for s in seen if "unit_versions.parent_id IN" in s]
    assert len(pickers) == 1  # one unit picker, one statement: the scope's unit and the units below it
    assert not [s for s in seen if s.startswith("SELECT count(*)")]  # the picker counts no pages
    assert total <= 24, total
    # a filter on the source: the shown findings, and once more the unit's findings for the rates
    _, filtered = _statements(browser, conn, {"as_of": "2020-07-02", "source": "2020年市委巡视"})
    assert _reads(filtered, "rectification_findings") == 2
