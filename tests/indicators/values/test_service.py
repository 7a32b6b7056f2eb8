"""Importing, saving, exporting data values through the service, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, func, select

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import PermissionDenied, ValidationError
from jiaowei.indicators import store
from jiaowei.indicators.model import ImportStrategy, ValueRow
from jiaowei.indicators.values import service as values
from jiaowei.indicators.values import writing
from tests.factories import indicator_setup, make_user


def rows(*items: tuple[str, str, str, str | None, str]) -> list[ValueRow]:
    return [
        ValueRow(data_element=de, period="2020", org_unit=ou, category_option_combo=coc, value=v, row=i)
        for i, (de, ou, _p, coc, v) in enumerate(items, 1)
    ]


SAMPLE = rows(
    ("PUPILS", "S1", "2020", "M", "120"),
    ("PUPILS", "S1", "2020", "F", "110"),
    ("TEACHERS", "S1", "2020", None, "15"),
    ("PUPILS", "S2", "2020", "M", "80"),
)


def count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(store.data_values)).scalar_one()


def test_import_then_reimport_changes_nothing(conn: Connection) -> None:
    indicator_setup(conn)
    first = values.import_values(conn, principal=SYSTEM, rows=SAMPLE, source="dhis2-json")
    assert (first.imported, first.updated, first.ignored, first.deleted) == (4, 0, 0, 0)
    assert first.status == "SUCCESS" and count(conn) == 4
    history = conn.execute(select(func.count()).select_from(store.data_value_history)).scalar_one()
    again = values.import_values(conn, principal=SYSTEM, rows=SAMPLE, source="dhis2-json")
    assert (again.imported, again.updated, again.ignored) == (0, 0, 4)
    assert conn.execute(select(func.count()).select_from(store.data_value_history)).scalar_one() == history


def test_update_and_delete_are_counted_and_kept_in_history(conn: Connection) -> None:
    indicator_setup(conn)
    values.import_values(conn, principal=SYSTEM, rows=SAMPLE, source="dhis2-json")
    changed = rows(("PUPILS", "S1", "2020", "M", "121"), ("TEACHERS", "S1", "2020", None, "15.0"))
    summary = values.import_values(conn, principal=SYSTEM, rows=changed, source="dhis2-csv")
    assert (summary.imported, summary.updated, summary.ignored) == (0, 1, 1)  # 15.0 is the integer 15
    gone = values.import_values(
        conn, principal=SYSTEM, rows=changed[:1], source="dhis2-csv", strategy=ImportStrategy.DELETE
    )
    assert gone.deleted == 1 and count(conn) == 3
    trail = values.history(
        conn, principal=SYSTEM, data_element="PUPILS", period="2020", org_unit="S1", category_option_combo="M"
    )
    assert [(h.change, h.value_before, h.value_after) for h in trail] == [
        ("DELETE", "121", None),
        ("UPDATE", "120", "121"),
        ("CREATE", None, "120"),
    ]


def test_a_file_with_conflicts_writes_nothing_unless_valid_rows_are_asked_for(conn: Connection) -> None:
    indicator_setup(conn)
    bad = [
        *SAMPLE,
        ValueRow(
            data_element="PUPILS", period="2020", org_unit="S1", category_option_combo="X", value="3", row=5
        ),
        ValueRow(data_element="TEACHERS", period="2020", org_unit="S2", value="many", row=6),
        ValueRow(data_element="NOPE", period="2020", org_unit="S2", value="1", row=7),
        ValueRow(data_element="TEACHERS", period="2020-13", org_unit="S2", value="1", row=8),
        ValueRow(data_element="TEACHERS", period="2020", org_unit="ZZ", value="1", row=9),
        ValueRow(data_element="TEACHERS", period="202001", org_unit="S2", value="1", row=10),
    ]
    summary = values.import_values(conn, principal=SYSTEM, rows=bad, source="dhis2-json")
    assert summary.status == "ERROR" and count(conn) == 0
    found = {(c.row, c.field, c.value) for c in summary.conflicts}
    assert found == {
        (5, "categoryOptionCombo", "X"),
        (6, "value", "many"),
        (7, "dataElement", "NOPE"),
        (8, "period", "2020-13"),
        (9, "orgUnit", "ZZ"),
        (10, "period", "202001"),
    }
    by_row = {c.row: c for c in summary.conflicts}
    assert by_row[5].expected == "M, F" and "whole number" in (by_row[6].expected or "")
    partial = values.import_values(conn, principal=SYSTEM, rows=bad, source="dhis2-json", valid_only=True)
    assert partial.status == "WARNING" and partial.imported == 4 and partial.ignored == 6 and count(conn) == 4


def test_dry_run_reports_without_writing(conn: Connection) -> None:
    indicator_setup(conn)
    summary = values.import_values(conn, principal=SYSTEM, rows=SAMPLE, source="dhis2-json", dry_run=True)
    assert summary.imported == 4 and summary.dry_run and count(conn) == 0
    assert conn.execute(select(func.count()).select_from(store.periods)).scalar_one() == 0


def test_duplicate_rows_in_one_file_are_conflicts(conn: Connection) -> None:
    indicator_setup(conn)
    summary = values.import_values(conn, principal=SYSTEM, rows=[*SAMPLE, SAMPLE[0]], source="dhis2-json")
    assert [(c.row, c.field) for c in summary.conflicts] == [(1, "dataValue")]
    assert "first in row 1" in summary.conflicts[0].reason


def test_a_district_user_cannot_write_another_districts_values_even_inside_a_file(conn: Connection) -> None:
    indicator_setup(conn)
    d1 = make_user(conn, "d1", role="district_staff", capture=["D1"])
    summary = values.import_values(conn, principal=d1, rows=SAMPLE, source="dhis2-json")
    assert [(c.row, c.field, c.value) for c in summary.conflicts] == [(4, "orgUnit", "S2")]
    assert "scope" in summary.conflicts[0].reason and count(conn) == 0
    viewer = make_user(conn, "viewer1", role="viewer", view=["SH"])
    with pytest.raises(PermissionDenied):
        values.import_values(conn, principal=viewer, rows=SAMPLE[:1], source="form")


def test_save_value_normalises_and_refuses_with_the_reason(conn: Connection) -> None:
    indicator_setup(conn)
    values.save_value(
        conn, principal=SYSTEM, data_element="RATE", period="2020", org_unit="S1", value="86.50"
    )
    cell = values.read_cell(conn, row=ValueRow(data_element="RATE", period="2020", org_unit="S1"))
    assert cell is not None and cell.value == "86.5"
    with pytest.raises(ValidationError) as caught:
        values.save_value(
            conn, principal=SYSTEM, data_element="RATE", period="2020", org_unit="S1", value="120"
        )
    assert caught.value.problems[0].field == "value" and caught.value.problems[0].value == "120"
    values.save_value(
        conn,
        principal=SYSTEM,
        data_element="RATE",
        period="2020",
        org_unit="S1",
        value="",
        comment="checked with the head teacher",
        followup=True,
    )
    cell = values.read_cell(conn, row=ValueRow(data_element="RATE", period="2020", org_unit="S1"))
    assert (
        cell is not None
        and cell.value == "86.5"
        and cell.followup
        and cell.comment is not None
        and cell.comment.startswith("checked")
    )


def test_export_returns_what_was_imported_within_scope(conn: Connection) -> None:
    indicator_setup(conn)
    values.import_values(conn, principal=SYSTEM, rows=SAMPLE, source="dhis2-json")
    everything = values.export_values(
        conn, principal=SYSTEM, data_set="SCHOOL_Y", periods=["2020"], units=["SH"], children=True
    )
    assert sorted(
        (r.org_unit, r.data_element, r.category_option_combo, r.value) for r in everything
    ) == sorted((r.org_unit, r.data_element, r.category_option_combo or "default", r.value) for r in SAMPLE)
    d1 = make_user(conn, "d1v", role="district_staff", capture=["D1"])
    mine = values.export_values(conn, principal=d1, periods=["2020"], units=["D1"], children=True)
    assert {r.org_unit for r in mine} == {"S1"}


def test_large_imports_copy_their_history_in_one_statement(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    indicator_setup(conn)
    monkeypatch.setattr(writing, "BULK", 2)
    values.import_values(conn, principal=SYSTEM, rows=SAMPLE, source="dhis2-json")
    changes = conn.execute(
        select(store.data_value_history.c.change, store.data_value_history.c.value_after)
    ).all()
    assert sorted(changes) == sorted(("CREATE", r.value) for r in SAMPLE)
    trail = values.history(
        conn, principal=SYSTEM, data_element="PUPILS", period="2020", org_unit="S2", category_option_combo="M"
    )
    assert [(h.change, h.value_after, h.actor) for h in trail] == [("CREATE", "80", "system")]


def test_every_write_is_one_entry_of_the_audit_chain_with_the_digest_of_its_changes(conn: Connection) -> None:
    from jiaowei.audit import service as audit
    from jiaowei.audit.store import audit_log

    indicator_setup(conn)
    before = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    values.import_values(conn, principal=SYSTEM, rows=SAMPLE, source="dhis2-json", file_digest="ab" * 32)
    entries = conn.execute(select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)).all()
    assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == before + 1
    imports = conn.execute(select(store.data_imports)).all()
    assert len(imports) == 1 and imports[0].changes_digest in entries[0].after
    assert imports[0].file_digest == "ab" * 32 and audit.verify(conn).ok


def test_a_changed_history_row_no_longer_matches_the_audited_digest(conn: Connection) -> None:
    from sqlalchemy import update

    indicator_setup(conn)
    values.import_values(conn, principal=SYSTEM, rows=SAMPLE, source="dhis2-json")
    values.import_values(
        conn, principal=SYSTEM, rows=rows(("PUPILS", "S1", "2020", "M", "125")), source="form"
    )
    assert values.verify_imports(conn) == []
    h = store.data_value_history
    conn.execute(update(h).where(h.c.change == "UPDATE").values(value_before="99"))
    last = conn.execute(select(func.max(store.data_imports.c.id))).scalar_one()
    assert values.verify_imports(conn) == [
        f"write {last}: its history no longer matches the digest in the audit log"
    ]
