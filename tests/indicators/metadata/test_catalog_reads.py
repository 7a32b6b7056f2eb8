"""The metadata catalog is read once per transaction, and again after anything is written."""

from __future__ import annotations

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.metadata.catalog import forget_kept, load_catalog
from tests.factories import indicator_metadata
from tests.statements import counting


def _new_element(conn: Connection, code: str) -> None:
    metadata.save_data_element(conn, principal=SYSTEM, code=code, name_zh=f"新{code}", name_en=f"New {code}",
                               value_type="INTEGER", aggregation_type="SUM")


def test_a_second_read_in_the_transaction_runs_no_statement_and_a_write_is_seen(conn: Connection) -> None:
    indicator_metadata(conn)
    first = load_catalog(conn)
    with counting(conn) as count:
        assert load_catalog(conn) is first
    assert count.statements == 0
    _new_element(conn, "LATER")
    after = load_catalog(conn)
    assert after is not first and after.element("LATER") is not None and first.element("LATER") is None


def test_a_rolled_back_savepoint_is_not_seen_either(conn: Connection) -> None:
    indicator_metadata(conn)
    savepoint = conn.begin_nested()
    _new_element(conn, "GONE")
    assert load_catalog(conn).element("GONE") is not None
    savepoint.rollback()
    assert load_catalog(conn).element("GONE") is None and load_catalog(conn).element("PUPILS") is not None


def test_the_catalog_is_five_statements_whatever_it_holds(conn: Connection) -> None:
    forget_kept(conn.engine)  # another test may have left this stamp's catalog in the process
    with counting(conn) as empty:
        assert load_catalog(conn).elements == {}
    indicator_metadata(conn)
    with counting(conn) as count:
        catalog = load_catalog(conn)
    assert count.statements == empty.statements == 7  # the stamp; combos with their categories, option
    # combos, elements, data sets with their elements, and the data sets' units; the stamp again
    assert catalog.combo_categories == {c: ("SEX",) for c, code in catalog.combos.items() if code == "BY_SEX"}
    school = catalog.data_set("SCHOOL_Y")
    assert school is not None
    assert [catalog.elements[i].code for i in school.element_ids] == ["PUPILS", "TEACHERS", "RATE"]
