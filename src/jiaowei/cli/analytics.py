"""``jiaowei analytics``: the answer of ``GET /api/analytics`` as a table, or as CSV with ``--csv``.

    jiaowei analytics --dx PUPILS,PTR --pe 2020 --ou SH,LEVEL-2
    jiaowei analytics --dx PUPILS --pe LAST_5_YEARS --filter ou:D1 --csv --user wang
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Connection

from jiaowei import clock
from jiaowei.analytics import request as analytics_request
from jiaowei.analytics.response import Grid
from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.cli.common import out, transaction
from jiaowei.i18n import DEFAULT_LANGUAGE

app = typer.Typer(help="Aggregated values, as GET /api/analytics answers them.", invoke_without_command=True)

@app.callback()
def analytics(
    dx: Annotated[str, typer.Option("--dx", help="data: element codes, ELEMENT.COMBO, indicators, "
                                                  "DATASET.REPORTING_RATE; joined by ',' or ';'")] = "",
    pe: Annotated[str, typer.Option(
        "--pe", help="periods: 2020, 2020Q3, 2020SY, THIS_YEAR, LAST_5_YEARS …")] = "",
    ou: Annotated[str, typer.Option("--ou", help="units: codes, LEVEL-n, UNIT;LEVEL-n, USER_ORGUNIT, "
                                                  "OU_GROUP-code")] = "",
    dimension: Annotated[list[str] | None, typer.Option(
        "--dimension", help="another dimension, e.g. SEX:M;F (repeatable)")] = None,
    filter: Annotated[list[str] | None, typer.Option(  # noqa: A002
        "--filter", help="a filter, e.g. pe:2020 or ou:D1 (repeatable)")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="print CSV instead of a table")] = False,
    user: Annotated[str, typer.Option(
        "--user", help="answer as this user sees it (default: all units)")] = "",
    include_num_den: Annotated[bool, typer.Option(
        "--include-num-den", help="numerator, denominator …")] = False,
    skip_rounding: Annotated[bool, typer.Option("--skip-rounding", help="values unrounded")] = False,
    aggregation_type: Annotated[str, typer.Option("--aggregation-type", help="SUM, AVERAGE, LAST …")] = "",
    output_id_scheme: Annotated[str, typer.Option("--output-id-scheme", help="CODE, UID or NAME")] = "",
    relative_period_date: Annotated[str, typer.Option(
        "--relative-period-date", help="YYYY-MM-DD relative periods count from (default today)")] = "",
    locale: Annotated[str, typer.Option("--locale", help="zh or en (names)")] = "",
) -> None:
    """Aggregate values by data, period and unit (DHIS2's analytics parameters)."""
    params = [("dimension", f"{name}:{items.replace(',', ';')}") for name, items in (("dx", dx), ("pe", pe),
                                                                                   ("ou", ou)) if items]
    params += [("dimension", d) for d in dimension or []] + [("filter", f) for f in filter or []]
    options = {
        "includeNumDen": "true" if include_num_den else "",
        "skipRounding": "true" if skip_rounding else "",
        "aggregationType": aggregation_type,
        "outputIdScheme": output_id_scheme,
        "relativePeriodDate": relative_period_date,
        "locale": locale,
    }
    params += [(k, v) for k, v in options.items() if v]
    parsed = analytics_request.parse(params)
    from jiaowei.analytics import service  # noqa: PLC0415 (here, so that `jiaowei --help` need not load DuckDB)

    with transaction(write=False) as conn:
        principal = _principal(conn, user)
        language = parsed.language or principal.language or DEFAULT_LANGUAGE
        grid = service.run(conn, principal=principal, request=replace(parsed, language=language),
                           today=clock.today())
    if csv:
        out.print(grid.as_csv(), end="", highlight=False, markup=False, soft_wrap=True)
    else:
        out.print(table(grid))


def _principal(conn: Connection, username: str) -> Principal:
    if not username:
        return SYSTEM
    return auth.principal_for(conn, user_id=auth.user_id_for(conn, username=username))


def table(grid: Grid) -> Table:
    """The grid as a Rich table: item names in the dimension columns, numbers right-aligned."""
    shown = Table(*[h.column for h in grid.headers], show_lines=False)
    for column, header in zip(shown.columns, grid.headers, strict=True):
        column.justify = "left" if header.meta else "right"
    for row in grid.rows:
        shown.add_row(*[grid.name(v) if h.meta else v for v, h in zip(row, grid.headers, strict=True)])
    return shown
