"""The analytics engine's copy: offline, kept current from the change feed, rebuilt when the store
goes back (a rollback, a restore), and re-derived when the tree changes. Both databases."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import Connection

from jiaowei.analytics import cube as cube_module
from jiaowei.analytics.engine import cube_for, forget
from jiaowei.analytics.model import CubeQuery, Measure
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.indicators import periods as pe
from jiaowei.indicators.metadata import queries as metadata
from jiaowei.indicators.model import AggregationType, ValueRow
from jiaowei.indicators.values import service as values
from jiaowei.registry import service as registry
from jiaowei.registry.store import unit_id_for
from tests.factories import indicator_setup, make_unit


def load(conn: Connection, *items: tuple[str, str, str], period: str = "2020") -> None:
    rows = [
        ValueRow(data_element=de, period=period, org_unit=ou, category_option_combo=None, value=v, row=i)
        for i, (de, ou, v) in enumerate(items, 1)
    ]
    assert values.import_values(conn, principal=SYSTEM, rows=rows, source="dhis2-json").status == "SUCCESS"


def uid(conn: Connection, code: str) -> int:
    found = unit_id_for(conn, code)
    assert found is not None
    return found


def monthly_and_quarterly(conn: Connection) -> None:
    """``VISITS``, collected monthly (data set ``M``) and quarterly (``Q``)."""
    from jiaowei.indicators.metadata import service

    service.save_data_element(
        conn,
        principal=SYSTEM,
        code="VISITS",
        name_zh="就诊人次",
        name_en="Visits",
        value_type="INTEGER",
        aggregation_type="SUM",
    )
    for code, period_type in (("M", "Monthly"), ("Q", "Quarterly")):
        service.save_data_set(
            conn,
            principal=SYSTEM,
            code=code,
            name_zh=code,
            name_en=code,
            period_type=period_type,
            elements=["VISITS"],
            unit_types=["primary_school"],
            due_days=15,
            expiry_days=0,
        )


def teachers(
    conn: Connection, *units: str, period: str = "2020", element_code: str = "TEACHERS"
) -> dict[str, float]:
    element = metadata.load_catalog(conn).element(element_code)
    assert element is not None
    ids = {uid(conn, u): u for u in units}
    query = CubeQuery((Measure(element.id, None, AggregationType.SUM),), (pe.parse(period),), tuple(ids))
    return {ids[c.unit_id]: c.value for c in cube_for(conn).query(query)}


def test_the_engine_never_downloads_an_extension() -> None:
    db = cube_module.connect()
    settings = dict(
        db.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('autoinstall_known_extensions',"
            " 'autoload_known_extensions', 'allow_community_extensions', 'allow_unsigned_extensions')"
        ).fetchall()
    )
    assert settings == dict.fromkeys(settings, "false") and len(settings) == 4
    with pytest.raises(duckdb.Error):  # httpfs is not built in; loading it would need a download
        db.execute("LOAD httpfs")


def test_a_saved_value_is_in_the_next_answer_without_a_rebuild(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("TEACHERS", "S1", "10"), ("TEACHERS", "S2", "7"))
    assert teachers(conn, "SH", "D1", "D2") == {"SH": 17, "D1": 10, "D2": 7}
    cube = cube_for(conn).cube
    before = cube.state("watermark")
    load(conn, ("TEACHERS", "S1", "12"))
    assert teachers(conn, "SH", "D1") == {"SH": 19, "D1": 12}
    assert int(cube.state("watermark") or 0) > int(before or 0)
    values.import_values(
        conn,
        principal=SYSTEM,
        source="dhis2-json",
        rows=[
            ValueRow(
                data_element="TEACHERS",
                period="2020",
                org_unit="S2",
                category_option_combo=None,
                value=None,
                row=1,
                deleted=True,
            )
        ],
    )
    assert teachers(conn, "SH", "D2") == {"SH": 12}


def test_a_rolled_back_write_leaves_the_answer_as_the_store_is(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("TEACHERS", "S1", "10"))
    assert teachers(conn, "SH") == {"SH": 10}
    with conn.begin_nested() as savepoint:
        load(conn, ("TEACHERS", "S1", "99"), ("TEACHERS", "S2", "5"))
        assert teachers(conn, "SH") == {"SH": 104}
        savepoint.rollback()
    assert teachers(conn, "SH") == {"SH": 10}
    load(conn, ("TEACHERS", "S2", "1"))  # a new import may take the rolled-back one's id
    assert teachers(conn, "SH", "D2") == {"SH": 11, "D2": 1}


def test_a_copy_read_before_any_value_is_rebuilt_when_values_come(conn: Connection) -> None:
    """A copy made while the store had no values still knew its periods; after a rollback a new
    period may take a rolled-back one's id, so the first values rebuild the copy."""
    from jiaowei.indicators.approval import service as approval

    indicator_setup(conn)
    with conn.begin_nested() as savepoint:
        approval.approve(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2021", unit="S1")
        assert teachers(conn, "SH", period="2021") == {}  # the copy now knows period 2021, and no value
        savepoint.rollback()
    load(conn, ("TEACHERS", "S1", "10"))  # period 2020 may take 2021's rolled-back id
    assert teachers(conn, "SH", "S1") == {"SH": 10, "S1": 10}


def test_a_move_counts_each_value_under_the_parent_of_its_own_period(conn: Connection) -> None:
    indicator_setup(conn)
    monthly_and_quarterly(conn)
    for month, number in (("202003", "3"), ("202006", "6"), ("202009", "9")):
        load(conn, ("VISITS", "S1", number), period=month)
    assert visits(conn, "D1", "D2", period="2020") == {"D1": 18}
    registry.change_unit(
        conn, principal=SYSTEM, code="S1", effective=dt.date(2020, 8, 15), changes={"parent": "D2"}
    )
    assert visits(conn, "D1", "D2", "SH", period="2020") == {"D1": 9, "D2": 9, "SH": 18}
    assert visits(conn, "D1", "D2", period="2020Q3") == {"D2": 9}
    # A quarter with the move inside it counts under the parent on the quarter's last day.
    load(conn, ("VISITS", "S1", "30"), period="2020Q3")
    assert visits(conn, "D1", "D2", period="2020Q3") == {"D2": 39}
    assert visits(conn, "D1", "D2", period="2020") == {"D1": 9, "D2": 39}


def visits(conn: Connection, *units: str, period: str) -> dict[str, float]:
    return teachers(conn, *units, period=period, element_code="VISITS")


def test_forgetting_the_copy_removes_its_file_and_the_next_read_rebuilds(conn: Connection) -> None:
    indicator_setup(conn)
    make_unit(conn, "S9", parent="D2")
    load(conn, ("TEACHERS", "S9", "4"))
    path = cube_for(conn).cube.path
    assert path.exists()
    forget(conn.engine)
    assert not path.exists()
    assert teachers(conn, "D2") == {"D2": 4}


def test_a_reader_whose_snapshot_is_older_than_the_copy_does_not_rebuild_it(tmp_path: Path) -> None:
    """SQLite: a read that began before the latest write committed sees fewer imports than the copy
    applied. The copy is ahead, not wrong: it is kept (a rebuild per such read would thrash)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    upgrade(engine)
    try:
        with engine.begin() as conn:
            indicator_setup(conn)
            load(conn, ("TEACHERS", "S1", "10"))
        with engine.connect() as old:
            old.begin()
            assert teachers(old, "SH") == {"SH": 10}  # its snapshot begins here
            with engine.begin() as conn:
                load(conn, ("TEACHERS", "S1", "11"))
            with engine.connect() as new:
                assert teachers(new, "SH") == {"SH": 11}
            imports = "SELECT max(id) FROM data_imports"
            with engine.connect() as new:
                assert old.exec_driver_sql(imports).scalar() < new.exec_driver_sql(imports).scalar()
            rebuilds = cube_for(old).cube.rebuilds
            assert teachers(old, "SH") == {"SH": 11}  # the copy, ahead of the old snapshot
            assert cube_for(old).cube.rebuilds == rebuilds
    finally:
        forget(engine)
        engine.dispose()


def test_readers_on_many_threads_while_values_are_written(tmp_path: Path) -> None:
    """Each request thread refreshes and reads the one copy; none fails, none sees a value go back."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    upgrade(engine)
    errors: list[BaseException] = []
    seen: dict[int, list[float]] = {}

    def read(worker: int) -> None:
        try:
            for _ in range(15):
                with engine.connect() as conn:
                    seen.setdefault(worker, []).append(teachers(conn, "SH").get("SH", 0.0))
        except BaseException as error:  # reported below, with the worker's results
            errors.append(error)

    try:
        with engine.begin() as conn:
            indicator_setup(conn)
            load(conn, ("TEACHERS", "S1", "1"))
        workers = [threading.Thread(target=read, args=(n,)) for n in range(4)]
        for worker in workers:
            worker.start()
        for number in range(2, 12):
            with engine.begin() as conn:
                load(conn, ("TEACHERS", "S1", str(number)))
        for worker in workers:
            worker.join()
        assert errors == []
        for answers in seen.values():
            assert answers == sorted(answers) and len(answers) == 15
        with engine.connect() as conn:
            assert teachers(conn, "SH") == {"SH": 11}
    finally:
        forget(engine)
        engine.dispose()


def test_a_query_naming_thousands_of_units_gives_each_its_own_value(conn: Connection) -> None:
    """Long lists of units go to DuckDB as a table, not as SQL text: more than 64 schools here."""
    indicator_setup(conn)
    schools = [make_unit(conn, f"T{n:03d}", parent="D1") for n in range(70)]
    load(conn, *[("TEACHERS", code, str(n)) for n, code in enumerate(schools, 1)])
    got = teachers(conn, *schools, "D1")
    assert got == {**{code: n for n, code in enumerate(schools, 1)}, "D1": sum(range(1, 71))}


def test_the_columns_answer_holds_the_same_cells_as_the_objects(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("TEACHERS", "S1", "10"), ("TEACHERS", "S2", "7"), ("RATE", "S1", "80"), ("RATE", "S2", "60"))
    catalog = metadata.load_catalog(conn)
    teachers_id, rate_id = (catalog.element(code).id for code in ("TEACHERS", "RATE"))  # type: ignore[union-attr]
    query = CubeQuery(
        (Measure(teachers_id, None, AggregationType.SUM), Measure(rate_id, None, AggregationType.AVERAGE)),
        (pe.parse("2020"), pe.parse("2021")),
        level=2,
    )
    cube = cube_for(conn)
    cells = {(c.element_id, c.unit_id, c.period, c.value) for c in cube.query(query)}
    columns = cube.query_columns(query)
    from_columns = {
        (int(e), int(u), query.periods[int(p)].id, float(v))
        for e, u, p, v in zip(
            columns["element_id"], columns["unit_id"], columns["period"], columns["value"], strict=True
        )
    }
    assert cells == from_columns and len(cells) == 4
    assert set(columns["coc_id"].tolist()) == {-1}
    empty = cube.query_columns(CubeQuery((), (pe.parse("2020"),), level=2))
    assert all(len(column) == 0 for column in empty.values())
