"""The ``dhis2.py`` client from PyPI against a live jiaowei server (uvicorn in a process of its own, on
a database of its own: a SQLite file, or a fresh database in the test PostgreSQL cluster): system
info, paged data elements, ``fields`` with ``paging=false``, a dataValueSets post and its read-back,
all with HTTP Basic as the client sends it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

import dhis2
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.indicators.metadata import service as metadata
from tests.browser.conftest import running_server
from tests.factories import PASSWORD, indicator_metadata, make_user, small_tree

EXTRA_ELEMENTS = [f"BOOKS_{n:02d}" for n in range(1, 10)]  # with the three of indicator_metadata: 12


def _database_url(engine: Engine, home: Path) -> str:
    """A database of the test's own, on the backend under test."""
    if engine.dialect.name == "sqlite":
        return f"sqlite:///{home / 'client.sqlite3'}"
    name = f"jiaowei_client_{uuid.uuid4().hex[:8]}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return engine.url.set(database=name).render_as_string(hide_password=False)


def _seed(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        small_tree(conn)
        indicator_metadata(conn)
        for code in EXTRA_ELEMENTS:
            metadata.save_data_element(conn, principal=SYSTEM, code=code, name_zh=f"图书{code[-2:]}",
                                       name_en=f"Books {code[-2:]}", value_type="INTEGER",
                                       aggregation_type="SUM")
        make_user(conn, "clerk", role="commission_staff", capture=["SH"])
    engine.dispose()


@pytest.fixture
def live(engine: Engine, tmp_path: Path) -> Iterator[str]:
    url = _database_url(engine, tmp_path)
    _seed(url)
    with running_server(url, tmp_path, "client-test-" + "x" * 32) as base:
        yield base


@pytest.mark.slow
def test_the_dhis2_client_reads_pages_posts_and_reads_back(live: str) -> None:
    api = dhis2.Api(live, "clerk", PASSWORD)
    assert api.get_info()["version"] == "2.40.0" and api.version_int == 40
    assert api.get_info()["jiaowei"] is True

    pages = list(api.get_paged("dataElements", page_size=5))
    assert [p["pager"]["page"] for p in pages] == [1, 2, 3] and pages[0]["pager"]["total"] == 12
    codes = [e["code"] for p in pages for e in p["dataElements"]]
    assert len(codes) == 12 and set(codes) == {"PUPILS", "TEACHERS", "RATE", *EXTRA_ELEMENTS}
    merged = api.get_paged("dataElements", page_size=7, merge=True)
    assert sorted(e["code"] for e in merged["dataElements"]) == sorted(codes)

    cut = api.get("dataElements", params={"fields": "id,name", "paging": "false"}).json()
    assert "pager" not in cut and len(cut["dataElements"]) == 12
    assert all(set(e) == {"id", "name"} for e in cut["dataElements"])
    assert {"Pupils", "Teachers", "Books 01"} <= {e["name"] for e in cut["dataElements"]}

    pupils = next(e["id"] for e in cut["dataElements"] if e["name"] == "Pupils")
    combos = api.get("categoryOptionCombos", params={"fields": "id,code", "paging": "false"}).json()
    male = next(c["id"] for c in combos["categoryOptionCombos"] if c["code"] == "M")
    values = {"dataSet": "SCHOOL_Y", "period": "2020", "orgUnit": "S1", "dataValues": [
        {"dataElement": pupils, "categoryOptionCombo": male, "value": "321"},
        {"dataElement": "TEACHERS", "value": "17", "comment": "含外聘"},
    ]}
    posted = api.post("dataValueSets", json=values).json()
    summary = posted.get("response", posted)  # DHIS2 2.38+ wraps the summary in a WebMessage
    assert summary["importCount"]["imported"] == 2, posted

    back = api.get("dataValueSets", params={"dataSet": "SCHOOL_Y", "period": "2020", "orgUnit": "S1"}).json()
    by_value = {v["value"]: v for v in back["dataValues"]}
    assert set(by_value) == {"321", "17"}
    assert by_value["321"]["dataElement"] in (pupils, "PUPILS")
    assert by_value["321"]["categoryOptionCombo"] in (male, "M")
    assert by_value["17"]["orgUnit"] == by_value["321"]["orgUnit"] and by_value["17"]["period"] == "2020"
    assert by_value["17"]["comment"] == "含外聘"

    with pytest.raises(dhis2.exceptions.RequestException) as refused:
        api.get("dataElements", params={"notAParameter": "1"})
    assert refused.value.code == 400 and "notAParameter" in refused.value.description
