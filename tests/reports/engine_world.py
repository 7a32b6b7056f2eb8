"""A small world for the report engine's tests: a commission, two districts, a school in each, two years.

``PUPILS`` (by sex), ``TEACHERS``, the indicators ``PTR`` (number, 1 decimal), ``GIRLS_SHARE``
(percent, 2 decimals) and ``TPR`` (ratio) for 2019 and 2020; D2's school's values are synthetic.
At the commission in 2020: 320000 pupils (32万), 25000 teachers, PTR 12.8, GIRLS_SHARE 46.88%, TPR
1:13; in 2019: 285000 pupils, PTR 11.9, GIRLS_SHARE 49.12%. GIRLS_SHARE has a 2020 target of 50 at SH.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.targets import service as targets
from jiaowei.indicators.values import service as values
from jiaowei.reports.document import Document
from jiaowei.reports.engine import Context, Progress, render_document
from tests.factories import indicator_setup

TODAY = dt.date(2021, 3, 1)
VALUES = {  # (unit, period): (pupils male, pupils female, teachers)
    ("S1", "2020"): (120000, 110000, 15000),
    ("S2", "2020"): (50000, 40000, 10000),
    ("S1", "2019"): (100000, 100000, 14000),
    ("S2", "2019"): (45000, 40000, 10000),
}
SYNTHETIC = {"S2"}


def build(conn: Connection) -> None:
    indicator_setup(conn)
    metadata.save_indicator(conn, principal=SYSTEM, code="GIRLS_SHARE", name_zh="女生占比",
                            name_en="Share of girls", numerator="#{PUPILS.F}", denominator="#{PUPILS}",
                            display="percent", decimals=2)
    metadata.save_indicator(conn, principal=SYSTEM, code="TPR", name_zh="师生比",
                            name_en="Teachers to pupils", numerator="#{TEACHERS}", denominator="#{PUPILS}",
                            display="ratio", decimals=0)
    for synthetic in (False, True):
        rows = []
        for (unit, period), (male, female, teachers) in VALUES.items():
            if (unit in SYNTHETIC) != synthetic:
                continue
            rows += [ValueRow("PUPILS", period, unit, "M", value=str(male)),
                     ValueRow("PUPILS", period, unit, "F", value=str(female)),
                     ValueRow("TEACHERS", period, unit, value=str(teachers))]
        rows = [ValueRow(r.data_element, r.period, r.org_unit, r.category_option_combo, value=r.value, row=i)
                for i, r in enumerate(rows, 1)]
        summary = values.import_values(conn, principal=SYSTEM, rows=rows, source="test", synthetic=synthetic)
        assert summary.status == "SUCCESS", summary.as_dict()
    targets.set_target(conn, principal=SYSTEM, indicator="GIRLS_SHARE", unit="SH", period="2020", value=50)


def render(conn: Connection, body: str, *, principal: Principal = SYSTEM, unit: str = "SH",
           language: str = "zh", year: int = 2020, progress: Progress | None = None,
           **extra: Any) -> Document:
    context = Context(template="test", year=year, unit_code=unit, language=language, today=TODAY, extra=extra)
    return render_document(conn, principal=principal, body=body, context=context, progress=progress)


def texts(document: Document) -> list[str]:
    """The text of every figure, in order of number."""
    return [f.text for f in document.figures]
