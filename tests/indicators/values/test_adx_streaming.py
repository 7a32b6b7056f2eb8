"""ADX read as it streams (``exchange.import_path``, the CLI's path for a file of 32 MB or more): the
same summary, conflicts, refusals, completions, stored values and history as the whole document
read at once, on DHIS2's own ADX samples (tests/fixtures/dhis2/adx) and on files built from them.

``stream_above=0`` streams these small files and ``batch_size=2`` cuts them into many batches.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from jiaowei.indicators import store
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ImportSummary
from jiaowei.indicators.values import exchange
from jiaowei.indicators.values import service as values
from tests.factories import make_unit, make_user, token_for
from tests.indicators.values.test_streaming import counts, state

ADX = Path(__file__).parents[2] / "fixtures" / "dhis2" / "adx"
SAMPLES = sorted(path.name for path in ADX.glob("*.xml"))
BATCH = 2
HEAD = b'<adx xmlns="urn:ihe:qrph:adx:2015" exported="2020-01-01T00:00:00Z">\n'


def dhis2_metadata(conn: Connection) -> None:
    """The metadata DHIS2's ADX samples name: data set ``Malaria`` (MAL01, MAL02, MAL04 integers,
    MAL03 text) at unit 342, and ``MalariaDS`` (``Malaria numeric`` by sex and age, ``Malaria
    text``) at units 123 and 456, both monthly."""
    for unit in ("342", "123", "456"):
        make_unit(conn, unit)
    for code, value_type in (("MAL01", "INTEGER"), ("MAL02", "INTEGER"), ("MAL03", "TEXT"),
                             ("MAL04", "INTEGER"), ("Malaria text", "TEXT")):
        metadata.save_data_element(conn, principal=SYSTEM, code=code, name_zh=f"疟疾{code}",
                                   name_en=f"Malaria {code}", value_type=value_type,
                                   aggregation_type="SUM" if value_type == "INTEGER" else "NONE")
    for code, options in (("Sex_category", ("FFFFFFFFFFF", "MMMMMMMMMMM")),
                          ("Age_category", ("under555555", "over5555555"))):
        metadata.save_category(conn, principal=SYSTEM, code=code, name_zh=code, name_en=code,
                               options=[{"code": o, "name_zh": o, "name_en": o} for o in options])
    metadata.save_category_combo(conn, principal=SYSTEM, code="Sex_Age", name_zh="性别年龄",
                                 name_en="Sex, age", categories=["Sex_category", "Age_category"])
    metadata.save_data_element(conn, principal=SYSTEM, code="Malaria numeric", name_zh="疟疾数",
                               name_en="Malaria numeric", category_combo="Sex_Age")
    for code, elements in (("Malaria", ["MAL01", "MAL02", "MAL03", "MAL04"]),
                           ("MalariaDS", ["Malaria numeric", "Malaria text"])):
        metadata.save_data_set(conn, principal=SYSTEM, code=code, name_zh=code, name_en=code,
                               period_type="Monthly", elements=elements, unit_types=["primary_school"],
                               due_days=15, expiry_days=0)


def completions(conn: Connection) -> list[Any]:
    c, p = store.completions, store.periods
    query = select(c.c.data_set_id, p.c.code, c.c.unit_id).join_from(c, p, c.c.period_id == p.c.id)
    return sorted(conn.execute(query).all())


Outcome = tuple[dict[str, Any] | list[Any], Any, list[Any]]


def both_ways(conn: Connection, path: Path, **options: Any) -> tuple[Outcome, Outcome]:
    """What importing ``path`` streamed in batches, then read whole, gives: the summary's counts and
    conflicts (or the problems raised), the stored state and the completions; each undone after."""
    results: list[Outcome] = []
    for streamed in (True, False):
        savepoint = conn.begin_nested()
        try:
            summary: ImportSummary = (
                exchange.import_path(conn, principal=SYSTEM, path=path, stream_above=0, batch_size=BATCH,
                                     **options) if streamed else
                exchange.import_file(conn, principal=SYSTEM, data=path.read_bytes(), filename=path.name,
                                     **options))
            shown: dict[str, Any] | list[Any] = counts(summary)
        except ValidationError as error:
            shown = [str(error.detail), *((p.row, p.field, p.value, str(p.message)) for p in error.problems)]
        assert values.verify_imports(conn) == []  # the history hashes to the digest in the audit entry
        results.append((shown, state(conn), completions(conn)))
        savepoint.rollback()
    return results[0], results[1]


@pytest.mark.parametrize("valid_only", [False, True])
@pytest.mark.parametrize("name", SAMPLES)
def test_dhis2s_samples_stream_as_they_read_whole(conn: Connection, tmp_path: Path, name: str,
                                                  valid_only: bool) -> None:
    dhis2_metadata(conn)
    streamed, whole = both_ways(conn, ADX / name, valid_only=valid_only)
    assert streamed == whole


def test_the_samples_are_those_the_tests_expect() -> None:
    assert SAMPLES == ["adx_data_sample1.xml", "adx_data_sample2.xml", "exportA.adx.xml", "importA.adx.xml",
                       "importDates.adx.xml"]


def test_a_sample_with_its_refusals_and_its_completion(conn: Connection) -> None:
    """``adx_data_sample1.xml``: the first group (attribute combo McDonalds, unknown to jiaowei) is
    refused and says its form is complete; the second group's values, MAL03's from its annotation,
    are imported with atomicMode=NONE."""
    dhis2_metadata(conn)
    (streamed, stored, _), whole = both_ways(conn, ADX / "adx_data_sample1.xml", valid_only=True)
    assert (streamed, stored) == whole[:2]
    assert isinstance(streamed, dict) and (streamed["status"], streamed["imported"]) == ("WARNING", 4)
    assert {row for row, *_ in streamed["conflicts"]} == {1, 2, 3, 4, 5, 6, 11, 12, 13}
    assert "Some qualifying text here on the datavalue" in [value for *_, value, _ in stored[0]]


def write(folder: Path, groups: list[bytes]) -> Path:
    path = folder / "values.adx.xml"
    path.write_bytes(HEAD + b"".join(groups) + b"</adx>\n")
    return path


def group(month: int, body: bytes, unit: str = "342", extra: bytes = b' dataSet="Malaria"') -> bytes:
    return (f'<group orgUnit="{unit}" period="2015-{month:02d}-01/P1M"'.encode() + extra + b">\n" + body
            + b"</group>\n")


NUMBERS = b'<dataValue dataElement="MAL01" value="32"/><dataValue dataElement="MAL02" value="20"/>\n'
TEXT = (b'<dataValue dataElement="MAL03" value="0"><annotation>qualifying &amp; text</annotation>'
        b"</dataValue>\n")


def test_a_year_of_groups_with_completions_in_many_batches(conn: Connection, tmp_path: Path) -> None:
    dhis2_metadata(conn)
    groups = [group(m, NUMBERS + TEXT, extra=b' dataSet="Malaria" dataSetComplete="true"' if m % 2 else
                    b' dataSet="Malaria" completeDate="2015-06-17"') for m in range(1, 13)]
    streamed, whole = both_ways(conn, write(tmp_path, groups))
    assert streamed == whole
    shown, stored, complete = streamed
    assert isinstance(shown, dict) and (shown["status"], shown["imported"]) == ("SUCCESS", 36)
    assert len(stored[0]) == 36 and len(complete) == 12


@pytest.mark.parametrize("late", [
    b'<dataValue dataElement="MAL03" value="0"/>',  # a text value without <annotation>
    b'<dataValue dataElement="NOPE" value="1"/>',  # an element the import does not know
])
def test_a_refusal_in_the_last_group_leaves_nothing_written(conn: Connection, tmp_path: Path,
                                                            late: bytes) -> None:
    dhis2_metadata(conn)
    groups = [group(m, NUMBERS, extra=b' dataSet="Malaria" dataSetComplete="true"') for m in range(1, 7)]
    path = write(tmp_path, [*groups, group(7, NUMBERS + late)])
    streamed, whole = both_ways(conn, path)
    assert streamed == whole
    shown, stored, complete = streamed
    assert isinstance(shown, dict) and shown["status"] == "ERROR" and shown["ignored"] == 15
    assert [row for row, *_ in shown["conflicts"]] == [15]
    assert stored == ([], [], []) and complete == []
    streamed, whole = both_ways(conn, path, valid_only=True)
    assert streamed == whole and len(streamed[1][0]) == 14 and len(streamed[2]) == 6


def test_a_group_refused_by_its_data_set_and_a_completion_that_names_no_form(conn: Connection,
                                                                           tmp_path: Path) -> None:
    dhis2_metadata(conn)
    path = write(tmp_path, [group(1, NUMBERS), group(2, NUMBERS, extra=b' dataSet="Nowhere"'),
                            group(3, NUMBERS, extra=b' dataSet="MalariaDS"'),
                            group(4, NUMBERS, extra=b' completeDate="2015-06-17"'), group(5, NUMBERS)])
    streamed, whole = both_ways(conn, path, valid_only=True)
    assert streamed == whole
    shown = streamed[0]
    assert isinstance(shown, dict)
    assert [(row, field) for row, field, *_ in shown["conflicts"]] == [
        (3, "dataSet"), (4, "dataSet"), (5, "dataElement"), (6, "dataElement"), (7, "completeDate")]
    assert shown["imported"] == 6  # the group whose completion names no form keeps its values


@pytest.mark.parametrize(("late", "row"), [
    (b'<dataValue value="1"/>', 17),  # no dataElement
    (b'<dataValue dataElement="MAL01" value="1" followup="maybe"/>', 17),
    (b'<other/>', 15),  # an unknown element is a problem at its group's first row
])
def test_a_problem_late_in_the_file_refuses_it_whole(conn: Connection, tmp_path: Path, late: bytes,
                                                     row: int) -> None:
    dhis2_metadata(conn)
    path = write(tmp_path, [group(m, NUMBERS) for m in range(1, 8)] + [group(8, NUMBERS + late)])
    streamed, whole = both_ways(conn, path)
    assert streamed == whole
    assert isinstance(streamed[0], list) and streamed[0][1][0] == row and streamed[1] == ([], [], [])


@pytest.mark.parametrize("document", [
    b'<dataValueSet xmlns="urn:ihe:qrph:adx:2015"/>',
    HEAD + group(1, NUMBERS) + group(2, NUMBERS)[:-3],
    HEAD + group(1, NUMBERS) + b'<group orgUnit="342" period="2015-02-01/P1M">\xff</group></adx>',
    b'<!DOCTYPE adx [<!ENTITY x "y">]>' + HEAD + b"</adx>",
])
def test_an_unreadable_document_is_refused_as_read_whole(conn: Connection, tmp_path: Path,
                                                         document: bytes) -> None:
    dhis2_metadata(conn)
    path = tmp_path / "bad.adx"
    path.write_bytes(document)
    streamed, whole = both_ways(conn, path, format="adx")
    assert streamed == whole and isinstance(streamed[0], list)
    assert streamed[0][0] == "The file is not readable as ADX."


def test_a_unit_named_by_uid_as_read_whole(conn: Connection, tmp_path: Path) -> None:
    from jiaowei.registry import queries as registry
    from jiaowei.registry import service as units

    dhis2_metadata(conn)
    units.close_unit(conn, principal=SYSTEM, code="342", effective=dt.date(2015, 3, 1))
    table = registry.unit_codes("u")
    uid = conn.execute(select(table.c.uid).where(table.c.code == "342")).scalar_one()
    path = write(tmp_path, [group(m, NUMBERS + TEXT, unit=uid) for m in range(1, 5)])
    streamed, whole = both_ways(conn, path, valid_only=True)
    assert streamed == whole
    shown = streamed[0]
    assert isinstance(shown, dict) and (shown["status"], shown["imported"]) == ("WARNING", 6)
    assert {(field, value) for _, field, value, _ in shown["conflicts"]} == {("orgUnit", uid)}


# ---------------------------------------------------------------- uploads to the API stream too


def post_both_ways(client: TestClient, conn: Connection, data: bytes, monkeypatch: pytest.MonkeyPatch,
                   folder: Path, **params: str) -> list[tuple[int, Any, Any, list[Any]]]:
    """The answer, stored state and completions after posting ``data`` spooled and streamed (every
    upload is large when ``STREAM_ABOVE`` is 0), then held whole as before; each undone after."""
    folder.mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))  # where the spooled file goes
    results = []
    for threshold in (0, exchange.STREAM_ABOVE):
        monkeypatch.setattr(exchange, "STREAM_ABOVE", threshold)
        savepoint = conn.begin_nested()
        response = client.post("/api/dataValueSets", content=data, params={"format": "adx", **params})
        body = response.json()
        results.append((response.status_code, body.get("response", body), state(conn), completions(conn)))
        savepoint.rollback()
        assert list(folder.iterdir()) == []  # the spooled file is deleted once the request is answered
    return results


@pytest.mark.parametrize("atomic_mode", ["ALL", "NONE"])
def test_a_large_upload_streams_and_answers_as_held_whole(client: TestClient, conn: Connection,
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                          atomic_mode: str) -> None:
    dhis2_metadata(conn)
    client.headers.update(token_for(conn, make_user(conn, "dataadmin")))
    spooled, whole = post_both_ways(client, conn, (ADX / "adx_data_sample1.xml").read_bytes(), monkeypatch,
                                    tmp_path / "spool", atomicMode=atomic_mode)
    assert spooled == whole
    assert spooled[0] == (409 if atomic_mode == "ALL" else 200)
    complete = b' dataSet="Malaria" dataSetComplete="true"'
    groups = [group(m, NUMBERS + TEXT, extra=complete) for m in range(1, 4)]
    spooled, whole = post_both_ways(client, conn, HEAD + b"".join(groups) + b"</adx>", monkeypatch,
                                    tmp_path / "spool", atomicMode=atomic_mode)
    assert spooled == whole and spooled[0] == 200 and len(spooled[2][0]) == 9 and len(spooled[3]) == 3


def test_an_unreadable_large_upload_is_refused_before_the_transaction(
    client: TestClient, conn: Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dhis2_metadata(conn)
    client.headers.update(token_for(conn, make_user(conn, "dataadmin")))
    late = group(1, NUMBERS) + group(2, NUMBERS + b'<dataValue dataElement="MAL01" followup="maybe"/>')
    for document in (HEAD + late + b"</adx>", HEAD + late):
        spooled, whole = post_both_ways(client, conn, document, monkeypatch, tmp_path / "spool")
        assert spooled == whole and spooled[0] == 422
