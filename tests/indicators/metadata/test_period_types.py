"""A DHIS2 metadata bundle may give its data sets and validation rules any of DHIS2's period types."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from jiaowei.indicators.metadata import bundle, queries
from jiaowei.indicators.periods import PeriodType
from tests.factories import small_tree
from tests.indicators.metadata.test_bundle import dhis2_document

DHIS2_TYPES = [
    "BiMonthly", "FinancialApril", "FinancialJuly", "FinancialOct", "FinancialNov", "SixMonthlyApril",
    "SixMonthlyNov", "WeeklyWednesday", "WeeklyThursday", "WeeklySaturday", "WeeklySunday", "BiWeekly",
]


@pytest.mark.parametrize("period_type", DHIS2_TYPES)
def test_a_data_set_of_each_dhis2_period_type_is_imported(conn: Connection, period_type: str) -> None:
    small_tree(conn)
    document = dhis2_document()
    document["dataSets"][0]["periodType"] = period_type
    document["validationRules"][0]["periodType"] = period_type
    report = bundle.import_bundle(conn, principal=SYSTEM, bundle=document)
    assert report["status"] == "OK"
    ds = queries.load_catalog(conn).data_set("SCHOOL_Y")
    assert ds is not None and ds.period_type == period_type == PeriodType(period_type).value


def test_an_unknown_period_type_is_refused_naming_the_accepted_ones(conn: Connection) -> None:
    small_tree(conn)
    document = dhis2_document()
    document["dataSets"][0]["periodType"] = "Fortnightly"
    with pytest.raises(ValidationError) as raised:
        bundle.import_bundle(conn, principal=SYSTEM, bundle=document)
    problem = next(p for p in raised.value.problems if p.value == "Fortnightly")
    assert problem.field is not None and problem.field.endswith("periodType")
    assert all(name in (problem.expected or "") for name in DHIS2_TYPES)
