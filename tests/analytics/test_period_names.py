"""Periods of DHIS2's other types are named by their span in pivot tables and charts, not by a bare year."""

from __future__ import annotations

import pytest

from jiaowei.analytics.response import period_name
from jiaowei.indicators import periods as pe


@pytest.mark.parametrize(("identifier", "zh", "en"), [
    ("2020", "2020年", "2020"),
    ("2020Nov", "2019年11月–2020年10月", "November 2019 - October 2020"),
    ("202002B", "2020年3月–2020年4月", "March 2020 - April 2020"),
    ("2020AprilS1", "2020年4月–2020年9月", "April 2020 - September 2020"),
    ("2020SunW1", "2019-12-29至2020-01-04", "2019-12-29 - 2020-01-04"),
])
def test_a_period_is_named_by_its_span(identifier: str, zh: str, en: str) -> None:
    period = pe.parse(identifier)
    assert period_name(period, "zh_CN") == zh
    assert period_name(period, "en") == en
