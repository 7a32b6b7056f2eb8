"""``jiaowei analytics``, run as a subprocess the way operators run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from tests.analytics.test_api import VALUES
from tests.cli.test_cli import cli_env, jiaowei
from tests.factories import indicator_setup, make_user


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A SQLite database with the small tree, the indicator metadata, a district user and values."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        indicator_setup(conn)
        make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    engine.dispose()
    environment = cli_env(tmp_path / "home", url)
    (tmp_path / "values.json").write_text(json.dumps({"dataValues": VALUES}), encoding="utf-8")
    jiaowei(environment, "data", "import", str(tmp_path / "values.json"))
    return environment


def test_csv_is_the_apis_grid(env: dict[str, str]) -> None:
    result = jiaowei(
        env,
        "analytics",
        "--dx",
        "PUPILS,TEACHERS",
        "--ou",
        "LEVEL-2",
        "--filter",
        "pe:2020",
        "--csv",
        "--locale",
        "en",
    )
    assert result.stdout.splitlines() == [
        "Data,Organisation unit,Value",
        "PUPILS,D1,230",
        "PUPILS,D2,90",
        "TEACHERS,D1,15",
        "TEACHERS,D2,10",
    ]


def test_the_table_names_items_and_a_user_sees_their_part(env: dict[str, str]) -> None:
    everyone = jiaowei(env, "analytics", "--dx", "PTR", "--pe", "2020", "--ou", "SH;LEVEL-2")
    lines = [line for line in everyone.stdout.splitlines() if "生师比" in line]  # the level-2 units under SH
    assert len(lines) == 2 and "单位D1" in lines[0] and "15.3" in lines[0] and "9.0" in lines[1]
    assert "组织机构" in everyone.stdout
    district = jiaowei(
        env, "analytics", "--dx", "PUPILS", "--pe", "2020", "--ou", "LEVEL-2", "--user", "d1staff", "--csv"
    )
    assert district.stdout.splitlines()[1:] == ["PUPILS,2020,D1,230"]


def test_a_bad_item_exits_2_naming_it(env: dict[str, str]) -> None:
    result = jiaowei(env, "analytics", "--dx", "NOPE", "--pe", "2020", "--ou", "SH", expect=2)
    assert "NOPE" in result.stderr and "dx" in result.stderr
