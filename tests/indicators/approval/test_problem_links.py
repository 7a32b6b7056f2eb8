"""One click from a validation problem to its form with the cell focused: the links of the data quality
pages and the cells the data entry page names for its own check results; on both databases."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.quality import outliers
from jiaowei.indicators.values import service as values
from tests.factories import indicator_setup, login, make_user

FORM = "/data/entry?ds=SCHOOL_Y&amp;pe=2020&amp;ou=S1"


def rule(conn: Connection, code: str, left: str, right: str) -> None:
    metadata.save_validation_rule(conn, principal=SYSTEM, code=code, name_zh=f"规则{code}",
                                  name_en=f"Rule {code}", left=left, operator="less_than_or_equal_to",
                                  right=right)


@pytest.fixture
def staff(client: TestClient, conn: Connection) -> TestClient:
    """S1's 2020 form breaks two rules; D1's staff is logged in."""
    indicator_setup(conn)
    cells = (("TEACHERS", None, "500"), ("PUPILS", "M", "120"), ("PUPILS", "F", "110"))
    rows = [ValueRow(data_element=de, category_option_combo=co, org_unit="S1", period="2020", value=v, row=i)
            for i, (de, co, v) in enumerate(cells, 1)]
    assert values.import_values(conn, principal=SYSTEM, rows=rows, source="dhis2-json").status == "SUCCESS"
    rule(conn, "TEACHERS_LE_PUPILS", "#{TEACHERS}", "#{PUPILS}")
    rule(conn, "GIRLS_LE_100", "#{PUPILS.F}", "100")
    make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    client.headers["accept"] = "text/html"
    login(client, "d1staff")
    return client


def links(page: str) -> list[str]:
    return re.findall(r'<a class="violation__cell" href="([^"]+)"', page)


def test_each_validation_problem_opens_its_form_at_its_cell(staff: TestClient) -> None:
    found = staff.get("/quality/validation", params={"ou": "D1", "start": "2020-01-01", "end": "2020-12-31"})
    assert found.status_code == 200
    assert sorted(links(found.text)) == [f"{FORM}#cell-PUPILS.F", f"{FORM}#cell-TEACHERS.default"]


def test_the_form_names_the_cells_its_problems_point_at(staff: TestClient) -> None:
    form = staff.get("/data/entry", params={"ds": "SCHOOL_Y", "pe": "2020", "ou": "S1"})
    assert form.status_code == 200
    assert 'id="cell-TEACHERS.default"' in form.text and 'id="cell-PUPILS.F"' in form.text
    named = re.search(r'data-rule-cells="([^"]*)"', form.text)
    assert named is not None
    assert json.loads(html.unescape(named.group(1))) == {
        "GIRLS_LE_100": "PUPILS.F", "TEACHERS_LE_PUPILS": "TEACHERS.default"}


def test_an_outlier_opens_its_form_at_its_cell(staff: TestClient, conn: Connection) -> None:
    outliers.set_min_max(conn, principal=SYSTEM, unit="S1", element="TEACHERS", coc=None, min_value=1,
                         max_value=100)
    found = staff.get("/quality/outliers", params={"ou": "D1", "start": "2020-01-01", "end": "2020-12-31",
                                                    "ds": "SCHOOL_Y", "algorithm": "MIN_MAX"})
    assert found.status_code == 200, found.text
    assert links(found.text) == [f"{FORM}#cell-TEACHERS.default"]
