"""Each campaign keeps its number of applicants on its row (``campaigns.applicant_count``), so that the
campaign list counts nothing (issue 17, part 3: the correlated count grew with the applicants, 0.8 ms a
statement on PostgreSQL for the demo's 11,000). The services keep it; ``jiaowei audit verify`` reports a
number that disagrees with the rows; migration 0019 fills it from the rows that exist."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, func, select, text, update

from jiaowei.admissions import queries, service
from jiaowei.admissions.store import applicants, campaigns
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import alembic_config
from jiaowei.errors import ValidationError
from tests.admissions.test_campaign import GOOD, SECRET, applicants_csv, campaign, import_csv, person, world
from tests.admissions.test_reconcile import admissions_mismatches
from tests.conftest import BACKENDS
from tests.migrations import empty_database
from tests.statements import counting


def _register(conn: Connection, code: str, numbers: range) -> None:
    service.register_applicants(conn, principal=SYSTEM, campaign=code, secret_key=SECRET,
                                people=[person(n, "D1" if n % 2 else "D2") for n in numbers])


def _listed(conn: Connection) -> dict[str, int]:
    return {c.code: c.applicants for c in queries.list_campaigns(conn)}


def _rows(conn: Connection, code: str) -> int:
    return int(conn.scalar(select(func.count()).select_from(applicants).join(
        campaigns, campaigns.c.id == applicants.c.campaign_id).where(campaigns.c.code == code)) or 0)


def test_the_count_follows_each_registration(conn: Connection) -> None:
    world(conn)
    campaign(conn, "A")
    campaign(conn, "B")
    assert _listed(conn) == {"A": 0, "B": 0}
    _register(conn, "A", range(3))
    _register(conn, "A", range(3, 5))
    _register(conn, "B", range(1))
    assert _listed(conn) == {"A": 5, "B": 1}
    import_csv(conn, "A", GOOD, dry_run=True)  # rolled back with its savepoint
    with pytest.raises(ValidationError):
        import_csv(conn, "A", applicants_csv("A-0009,王九,310101201305170099,2013-13-17,D1,1,S1,,P1"))
    assert _listed(conn) == {"A": 5, "B": 1}
    import_csv(conn, "A", GOOD)
    assert _listed(conn) == {"A": 8, "B": 1} == {code: _rows(conn, code) for code in ("A", "B")}
    assert queries.campaign(conn, code="A").applicants == 8  # the campaign page reads the same number


def test_the_list_runs_one_statement_that_reads_no_applicant(conn: Connection) -> None:
    """One statement over the campaigns, the same for 2 applicants as for 12: nothing is counted."""
    world(conn)
    campaign(conn, "A")
    campaign(conn, "B")
    seen = []
    for numbers in (range(2), range(2, 12)):
        _register(conn, "A", numbers)
        with counting(conn) as count:
            listed = _listed(conn)
        seen.append((count.statements, count.parameters))
        assert listed == {"A": numbers.stop, "B": 0}
        assert not [s for s, _ in count.seen if "applicants" in s], count.seen
    assert seen[0] == seen[1] == (1, 0), seen


def test_audit_verify_reports_a_count_that_disagrees_with_the_rows(conn: Connection) -> None:
    world(conn)
    campaign(conn, "A")
    _register(conn, "A", range(3))
    assert admissions_mismatches(conn) == []
    conn.execute(update(campaigns).where(campaigns.c.code == "A").values(applicant_count=7))
    found = [m for m in admissions_mismatches(conn) if m.table == "campaigns"]
    assert [(m.key, m.reason) for m in found] == [("A", "applicant_count is 7, but it has 3 applicants")]
    assert found[0].said_in("zh_CN") == "记录的报名人数为 7，实有报名者 3 人"


ROWS = (
    "INSERT INTO units (id, code, synthetic, created_at, uid) VALUES (1, 'SH', false, :at, 'a0000000001')",
    *(f"INSERT INTO campaigns (id, code, year, stage, title_zh, title_en, status, organiser_id,"
      f" max_choices, mechanism, multiples, fallback, synthetic, created_at) VALUES ({i}, 'C{i}', 2020,"
      f" 'primary_1', '招生', 'Admissions', 'registration', 1, 2, 'parallel', 'ignore', '{{}}', false, :at)"
      for i in (1, 2, 3)),
    *(f"INSERT INTO applicants (campaign_id, number, applicant_id, name_sealed, id_number_sealed,"
      f" birth_check, district_id, residence_tier, catchment, group_id, status, synthetic, created_at) VALUES"
      f" ({c}, '{n}', 'A{n}', 'x', 'x', 'x', 1, 1, '', '', 'registered', false, :at)"
      for c, n in ((1, 1), (1, 2), (1, 3), (3, 4))),
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0019_counts_the_applicants_already_there(request: pytest.FixtureRequest, tmp_path: Path,
                                                            backend: str) -> None:
    url = empty_database(request, tmp_path, backend, "campaigns_0019")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0019-1")
            for sql in ROWS:
                conn.execute(text(sql), {"at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)})
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0019")
            counts = dict(conn.execute(select(campaigns.c.code, campaigns.c.applicant_count)).all())
    finally:
        engine.dispose()
    assert counts == {"C1": 3, "C2": 0, "C3": 1}
