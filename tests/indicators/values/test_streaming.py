"""Files read as they stream and imported in batches (``exchange.import_path``, the CLI's path):
the same stored values, history, digest and summary as the whole file read at once, on both databases.

``stream_above=0`` streams these small files and ``batch_size=7`` cuts them into many batches.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from jiaowei.indicators import store
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ImportStrategy, ImportSummary
from jiaowei.indicators.values import exchange
from jiaowei.indicators.values import service as values
from jiaowei.registry import service as registry
from tests.factories import indicator_setup

FIRST = dt.date(2020, 1, 1)
CLOSED = dt.date(2020, 1, 20)  # S2 is closed from this day on
BATCH = 7


def daily_values(days: int = 30) -> list[dict[str, Any]]:
    return [{"dataElement": "CASES", "period": (FIRST + dt.timedelta(days=d)).strftime("%Y%m%d"),
             "orgUnit": unit, "value": str(d * 3 + j)}
            for d in range(days) for j, unit in enumerate(("S1", "S2"))]


def setup(conn: Connection) -> None:
    indicator_setup(conn)
    metadata.save_data_element(conn, principal=SYSTEM, code="CASES", name_zh="病例", name_en="Cases")
    metadata.save_data_set(conn, principal=SYSTEM, code="DAILY", name_zh="每日", name_en="Daily",
                           period_type="Daily", elements=["CASES"], unit_types=["primary_school"])


def json_file(folder: Path, items: list[dict[str, Any]], **top: Any) -> Path:
    path = folder / "values.json"
    path.write_text(json.dumps({**top, "dataValues": items}, indent=1))
    return path


def csv_file(folder: Path, items: list[dict[str, Any]]) -> Path:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["dataelement", "period", "orgunit", "catoptcombo", "attroptcombo", "value"])
    writer.writerows([i["dataElement"], i["period"], i["orgUnit"], "", "", i["value"]] for i in items)
    path = folder / "values.csv"
    path.write_text(text.getvalue())
    return path


def dxf2_file(folder: Path, items: list[dict[str, Any]], **top: str) -> Path:
    path = folder / "values.xml"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0"'
                    + "".join(f' {name}="{text}"' for name, text in top.items()) + ">\n"
                    + "".join("  <dataValue " + " ".join(f'{name}="{text}"' for name, text in item.items())
                              + "/>\n" for item in items) + "</dataValueSet>\n")
    return path


def state(conn: Connection) -> tuple[list[Any], list[Any], list[Any]]:
    """Every stored value, every history row and every write's file digest, periods by their code
    (PostgreSQL does not give back the ids of periods rolled back, so the writes' digests differ)."""
    dv, h, p = store.data_values, store.data_value_history, store.periods
    stored = conn.execute(select(p.c.code, dv.c.unit_id, dv.c.data_element_id, dv.c.coc_id, dv.c.value,
                                 dv.c.comment).join_from(dv, p, dv.c.period_id == p.c.id)
                          .order_by(p.c.code, dv.c.unit_id)).all()
    history = conn.execute(select(p.c.code, h.c.unit_id, h.c.change, h.c.value_before, h.c.value_after)
                           .join_from(h, p, h.c.period_id == p.c.id)
                           .order_by(p.c.code, h.c.unit_id, h.c.import_id)).all()
    digests = conn.execute(select(store.data_imports.c.file_digest, store.data_imports.c.source)
                           .order_by(store.data_imports.c.id)).all()
    return list(stored), list(history), list(digests)


def both_ways(conn: Connection, path: Path, **options: Any) -> tuple[ImportSummary, ImportSummary, Any, Any]:
    """The summary and state after importing ``path`` streamed in batches, then read whole (undone after)."""
    results = []
    for streamed in (True, False):
        savepoint = conn.begin_nested()
        if streamed:
            summary = exchange.import_path(conn, principal=SYSTEM, path=path, stream_above=0,
                                           batch_size=BATCH, **options)
        else:
            summary = exchange.import_file(conn, principal=SYSTEM, data=path.read_bytes(), filename=path.name,
                                           **options)
        results.append((summary, state(conn), values.verify_imports(conn)))
        savepoint.rollback()
    (streamed_summary, streamed_state, problems), (whole_summary, whole_state, _) = results
    assert problems == []  # the history hashes to the digest in the audit entry
    return streamed_summary, whole_summary, streamed_state, whole_state


def counts(summary: ImportSummary) -> dict[str, Any]:
    d = summary.as_dict()
    return {"status": d["status"], **d["importCount"],
            "conflicts": [(c.row, c.field, c.value, str(c.reason)) for c in summary.conflicts]}


@pytest.mark.parametrize("make", [json_file, csv_file, dxf2_file])
def test_a_file_in_many_batches_stores_what_the_whole_file_stores(conn: Connection, tmp_path: Path,
                                                                  make: Any) -> None:
    setup(conn)
    earlier = daily_values(3)
    for item in earlier[:3]:
        item["value"] = "100"  # stored before: these three change, the next three stay as they are
    values.import_values(conn, principal=SYSTEM, source="test", rows=exchange.read_rows(
        conn, data=json.dumps({"dataValues": earlier}).encode(), format="dhis2-json"))
    path = make(tmp_path, daily_values())
    streamed, whole, streamed_state, whole_state = both_ways(conn, path)
    assert counts(streamed) == counts(whole)
    assert (streamed.imported, streamed.updated, streamed.ignored) == (54, 3, 3)
    assert streamed_state == whole_state and len(streamed_state[0]) == 60


@pytest.mark.parametrize("make", [json_file, dxf2_file])
def test_a_conflict_in_the_last_batch_leaves_nothing_written(conn: Connection, tmp_path: Path,
                                                             make: Any) -> None:
    setup(conn)
    items = daily_values()
    items[-1] = {**items[-1], "dataElement": "NOPE"}  # row 60, in the ninth batch: eight written before it
    path = make(tmp_path, items)
    streamed, whole, streamed_state, whole_state = both_ways(conn, path)
    assert counts(streamed) == counts(whole)
    assert streamed.status == "ERROR" and streamed.ignored == 60 and streamed.imported == 0
    assert [(c.row, c.field, c.value) for c in streamed.conflicts] == [(60, "dataElement", "NOPE")]
    assert streamed_state == whole_state == ([], [], [])


@pytest.mark.parametrize("make", [json_file, dxf2_file])
def test_valid_only_writes_the_valid_rows_of_every_batch(conn: Connection, tmp_path: Path, make: Any) -> None:
    setup(conn)
    registry.close_unit(conn, principal=SYSTEM, code="S2", effective=CLOSED)
    path = make(tmp_path, daily_values())
    streamed, whole, streamed_state, whole_state = both_ways(conn, path, valid_only=True)
    assert counts(streamed) == counts(whole)
    assert (streamed.status, streamed.imported, streamed.ignored) == ("WARNING", 49, 11)
    assert streamed_state == whole_state and len(streamed_state[0]) == 49


def test_a_value_repeated_in_a_later_batch_names_its_first_row(conn: Connection, tmp_path: Path) -> None:
    setup(conn)
    items = daily_values()
    items.append({**items[2], "value": "7"})  # row 61 repeats row 3, eight batches later
    streamed, whole, streamed_state, whole_state = both_ways(conn, json_file(tmp_path, items))
    assert counts(streamed) == counts(whole)
    assert [(c.row, c.field, str(c.reason)) for c in streamed.conflicts] == [
        (61, "dataValue", "the same value appears again (first in row 3)")]
    assert streamed_state == whole_state == ([], [], [])


def test_a_dry_run_and_a_deletion_in_batches(conn: Connection, tmp_path: Path) -> None:
    setup(conn)
    path = json_file(tmp_path, daily_values())
    streamed, whole, streamed_state, whole_state = both_ways(conn, path, dry_run=True)
    assert counts(streamed) == counts(whole) and streamed.imported == 60
    assert streamed_state == whole_state == ([], [], [])
    exchange.import_path(conn, principal=SYSTEM, path=path, stream_above=0, batch_size=BATCH)
    streamed, whole, streamed_state, whole_state = both_ways(conn, path, strategy=ImportStrategy.DELETE)
    assert counts(streamed) == counts(whole) and streamed.deleted == 60
    assert streamed_state == whole_state and streamed_state[0] == []


def test_the_documents_own_period_and_unit_stand_for_each_value(conn: Connection, tmp_path: Path) -> None:
    setup(conn)
    items = [{"dataElement": "CASES", "value": str(d)} for d in range(20)]
    path = json_file(tmp_path, items, dataSet="DAILY", period="20200105", orgUnit="S1")
    summary = exchange.import_path(conn, principal=SYSTEM, path=path, stream_above=0, batch_size=BATCH)
    assert [(c.row, str(c.reason)) for c in summary.conflicts][:1] == [
        (2, "the same value appears again (first in row 1)")]
    path = json_file(tmp_path, items[:1], dataSet="DAILY", period="20200105", orgUnit="S1")
    summary = exchange.import_path(conn, principal=SYSTEM, path=path, stream_above=0, batch_size=BATCH)
    assert (summary.status, summary.imported) == ("SUCCESS", 1)


def test_a_problem_in_a_late_row_of_the_file_refuses_it_whole(conn: Connection, tmp_path: Path) -> None:
    setup(conn)
    items: list[Any] = daily_values()
    items[45] = {"dataElement": "CASES", "period": 2020, "orgUnit": "S1"}
    path = json_file(tmp_path, items)
    savepoint = conn.begin_nested()
    with pytest.raises(ValidationError) as raised:
        exchange.import_path(conn, principal=SYSTEM, path=path, stream_above=0, batch_size=BATCH)
    savepoint.rollback()
    assert [(p.row, p.field, p.value) for p in raised.value.problems] == [(46, "period", 2020)]
    with pytest.raises(ValidationError) as whole:
        exchange.import_file(conn, principal=SYSTEM, data=path.read_bytes(), filename=path.name)
    assert [(p.row, p.field, p.value) for p in whole.value.problems] == [(46, "period", 2020)]


def test_a_default_after_the_values_is_a_problem_not_ignored(conn: Connection, tmp_path: Path) -> None:
    setup(conn)
    path = tmp_path / "late.json"
    path.write_text('{"dataValues": [{"dataElement": "CASES", "orgUnit": "S1", "value": "1"}], '
                    '"period": "20200105"}')
    with pytest.raises(ValidationError) as raised:
        exchange.import_path(conn, principal=SYSTEM, path=path, stream_above=0)
    assert [(p.row, p.field) for p in raised.value.problems] == [(1, "period"), (None, "period")]
    assert "must come before dataValues" in str(raised.value.problems[1].message)


def test_a_small_file_is_read_whole_as_before(conn: Connection, tmp_path: Path) -> None:
    setup(conn)
    path = json_file(tmp_path, daily_values(3))
    summary = exchange.import_path(conn, principal=SYSTEM, path=path)
    assert (summary.status, summary.imported) == ("SUCCESS", 6)
    assert conn.execute(select(func.count()).select_from(store.data_values)).scalar_one() == 6


def test_a_file_out_of_key_order_updating_stored_values(conn: Connection, tmp_path: Path) -> None:
    """Batches whose keys go back (the digest is then read back from the history) and updates
    beside creates (the history of the created values leaves the updated ones out)."""
    setup(conn)
    values.import_values(conn, principal=SYSTEM, source="test", rows=exchange.read_rows(
        conn, data=json.dumps({"dataValues": daily_values(20)}).encode(), format="dhis2-json"))
    items = [{**item, "value": str(int(item["value"]) + 1)} for item in reversed(daily_values())]
    streamed, whole, streamed_state, whole_state = both_ways(conn, json_file(tmp_path, items))
    assert counts(streamed) == counts(whole)
    assert (streamed.imported, streamed.updated) == (20, 40)
    assert streamed_state == whole_state
    assert [change for _, _, change, *_ in streamed_state[1]].count("CREATE") == 40 + 20


@pytest.mark.parametrize("text", ["a\\u0000b", "\\ud800", "ok\\u00e9"])
def test_escaped_text_is_refused_as_in_the_whole_file(conn: Connection, tmp_path: Path, text: str) -> None:
    setup(conn)
    path = tmp_path / "escaped.json"
    path.write_text('{"dataValues": [{"dataElement": "CASES", "period": "20200105", "orgUnit": "S1", '
                    f'"value": "1", "comment": "{text}"}}]}}')
    outcomes = []
    for streamed in (True, False):
        savepoint = conn.begin_nested()
        try:
            if streamed:
                summary = exchange.import_path(conn, principal=SYSTEM, path=path, stream_above=0)
            else:
                summary = exchange.import_file(conn, principal=SYSTEM, data=path.read_bytes(),
                                               filename=path.name)
            outcomes.append(summary.status)
        except ValidationError as error:
            outcomes.append([(p.row, p.field) for p in error.problems])
        savepoint.rollback()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == ("SUCCESS" if text.startswith("ok") else [(1, "comment")])


def test_a_dxf2_documents_defaults_and_completion_as_in_the_whole_file(conn: Connection,
                                                                       tmp_path: Path) -> None:
    setup(conn)
    items = [{"dataElement": "CASES", "value": str(d)} for d in range(20)]
    path = dxf2_file(tmp_path, items, dataSet="DAILY", period="20200105", orgUnit="S1",
                     completeDate="2020-01-06")
    streamed, whole, streamed_state, whole_state = both_ways(conn, path)
    assert (streamed.status, streamed.ignored, len(streamed.conflicts)) == ("ERROR", 20, 19)
    assert [(c.row, str(c.reason)) for c in streamed.conflicts][:1] == [
        (2, "the same value appears again (first in row 1)")]
    assert streamed_state == whole_state == ([], [], [])
    path = dxf2_file(tmp_path, [{"dataElement": "CASES", "value": "4"}], dataSet="DAILY",
                     period="20200105", orgUnit="S1", completeDate="2020-01-06")
    streamed, whole, streamed_state, whole_state = both_ways(conn, path)
    assert counts(streamed) == counts(whole) and (streamed.status, streamed.imported) == ("SUCCESS", 1)
    assert streamed_state == whole_state and len(streamed_state[0]) == 1
    exchange.import_path(conn, principal=SYSTEM, path=path, stream_above=0, batch_size=BATCH)
    complete = conn.execute(select(func.count()).select_from(store.completions)).scalar_one()
    assert complete == 1


@pytest.mark.parametrize("top", [{"dataSet": "NOPE"}, {"completeDate": "soon"},
                                 {"completeDate": "2020-01-06"}])
def test_a_dxf2_documents_refused_header_as_in_the_whole_file(conn: Connection, tmp_path: Path,
                                                              top: dict[str, str]) -> None:
    setup(conn)
    path = dxf2_file(tmp_path, daily_values(), **top)
    streamed, whole, streamed_state, whole_state = both_ways(conn, path)
    assert counts(streamed) == counts(whole) and streamed.status == "ERROR"
    fields = {c.field for c in streamed.conflicts}
    assert fields == {"dataSet" if "dataSet" in top else "completeDate"}
    assert len(streamed.conflicts) == (60 if "dataSet" in top else 1)
    assert streamed_state == whole_state == ([], [], [])


_GOOD = b'<dataValue dataElement="CASES" period="20200105" orgUnit="S1" value="1"/>'


@pytest.mark.parametrize("body", [_GOOD + b'<dataValue period="20200106" orgUnit="S1" value="\xff"/>',
                                  _GOOD + b'<other/><dataValue dataElement="CASES" followUp="maybe"/>',
                                  _GOOD[:-2] + b">"])
def test_a_dxf2_problem_late_in_the_file_refuses_it_whole(conn: Connection, tmp_path: Path,
                                                          body: bytes) -> None:
    setup(conn)
    path = tmp_path / "bad.xml"
    path.write_bytes(b'<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0">\n'
                     + b"".join(f'<dataValue dataElement="CASES" period="2020010{d}" orgUnit="S2" '
                                f'value="{d}"/>\n'.encode() for d in range(1, 10))
                     + body + b"\n</dataValueSet>")
    outcomes = []
    for streamed in (True, False):
        savepoint = conn.begin_nested()
        with pytest.raises(ValidationError) as raised:
            if streamed:
                exchange.import_path(conn, principal=SYSTEM, path=path, stream_above=0, batch_size=BATCH)
            else:
                exchange.import_file(conn, principal=SYSTEM, data=path.read_bytes(), filename=path.name)
        outcomes.append([(p.row, p.field, p.value, str(p.message)) for p in raised.value.problems])
        assert state(conn) == ([], [], [])
        savepoint.rollback()
    assert outcomes[0] == outcomes[1] and outcomes[0]


@pytest.mark.parametrize("make", [json_file, csv_file, dxf2_file])
def test_units_named_by_uid_as_in_the_whole_file(conn: Connection, tmp_path: Path, make: Any) -> None:
    """A unit named by its DHIS2 uid is that unit, as in a whole file; a conflict of its row shows the
    uid as the file wrote it (S2, closed from the 20th, named by uid)."""
    from jiaowei.registry import queries as registry_queries

    setup(conn)
    registry.close_unit(conn, principal=SYSTEM, code="S2", effective=CLOSED)
    units = registry_queries.unit_codes("u")
    uid = conn.execute(select(units.c.uid).where(units.c.code == "S2")).scalar_one()
    items = [{**item, "orgUnit": uid} if item["orgUnit"] == "S2" else item for item in daily_values()]
    streamed, whole, streamed_state, whole_state = both_ways(conn, make(tmp_path, items), valid_only=True)
    assert counts(streamed) == counts(whole)
    assert (streamed.status, streamed.imported, streamed.ignored) == ("WARNING", 49, 11)
    assert {(c.field, c.value) for c in streamed.conflicts} == {("orgUnit", uid)}
    assert streamed_state == whole_state and len(streamed_state[0]) == 49


def test_a_large_api_upload_streams_from_a_spooled_file(client: Any, conn: Connection, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload of ``STREAM_ABOVE`` bytes or more is imported as it streams (the same answer as held
    whole), with an id scheme too; the spooled file is gone once answered."""
    import tempfile

    from tests.factories import make_user, token_for

    setup(conn)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    headers = token_for(conn, make_user(conn, "dataadmin"))
    late = b'{"dataValues": [{"dataElement": "CASES", "orgUnit": "S1", "value": "1"}], "period": "20200105"}'
    answers = []
    for threshold, params in ((0, {}), (exchange.STREAM_ABOVE, {}), (0, {"idScheme": "CODE"})):
        monkeypatch.setattr(exchange, "STREAM_ABOVE", threshold)
        for data in (json.dumps({"dataValues": daily_values()}).encode(), late):
            savepoint = conn.begin_nested()
            response = client.post("/api/dataValueSets", content=data, headers=headers, params=params)
            answers.append((response.status_code, response.json().get("response", response.json())))
            savepoint.rollback()
            assert list(tmp_path.iterdir()) == []
    assert answers[0] == answers[2] == answers[4] and answers[0][0] == 200
    # only the streamed reader wants a file's period before its values (docs/dhis2.md): proof it streamed
    assert answers[1][0] == answers[5][0] == 422 and answers[3][0] == 200
