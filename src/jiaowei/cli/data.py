"""``jiaowei data``: import and export data values in every exchange format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jiaowei.auth.model import SYSTEM
from jiaowei.cli.common import out, problem_table, progress_bar, transaction
from jiaowei.errors import NotFound
from jiaowei.indicators.model import ImportStrategy
from jiaowei.indicators.values import exchange

app = typer.Typer(
    help="Import and export data values (DHIS2 JSON/CSV, ADX, XLSX templates).", no_args_is_help=True
)

FORMATS = "dhis2-json, dhis2-csv, dxf2, adx or xlsx"


@app.command("import")
def import_values(
    file: Annotated[
        Path, typer.Argument(help="a dataValueSets JSON, CSV or XML (DXF2), ADX or a filled-in XLSX template")
    ],
    format: Annotated[str, typer.Option("--format", help=f"{FORMATS} (default: detected)")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check and report, write nothing")] = False,
    valid_only: Annotated[
        bool, typer.Option("--valid-only", help="import the valid rows of a file with conflicts")
    ] = False,
    delete: Annotated[bool, typer.Option("--delete", help="delete the values the file names")] = False,
) -> None:
    """Import data values: every row is checked first; with conflicts nothing is written (exit 2)."""
    if not file.is_file():
        raise NotFound(f"No file {str(file)!r}.")
    strategy = ImportStrategy.DELETE if delete else ImportStrategy.CREATE_AND_UPDATE
    with progress_bar("Importing") as report, transaction() as conn:
        summary = exchange.import_path(  # a large JSON or CSV file streams: memory stays flat
            conn,
            principal=SYSTEM,
            path=file,
            format=format or None,
            dry_run=dry_run,
            valid_only=valid_only,
            strategy=strategy,
            progress=lambda done: report("checking rows", done, 0),
        )
    if summary.conflicts:
        out.print(problem_table([c.as_problem() for c in summary.conflicts[:200]]))
    what = "Dry run, nothing written: would have" if dry_run else "Data values:"
    out.print(
        f"{summary.status}. {what} imported {summary.imported}, updated {summary.updated}, "
        f"deleted {summary.deleted}, ignored {summary.ignored}; {len(summary.conflicts)} conflicts.",
        highlight=False,
    )
    if summary.status == "ERROR":
        raise typer.Exit(2)


@app.command("export")
def export_values(
    out_file: Annotated[Path, typer.Option("--out", help="file to write")],
    format: Annotated[
        str, typer.Option("--format", help=FORMATS)
    ] = "dhis2-json",
    data_set: Annotated[str, typer.Option("--data-set", help="data set code (default: every element)")] = "",
    period: Annotated[
        list[str] | None, typer.Option("--period", help="period id, e.g. 2020; repeatable")
    ] = None,
    unit: Annotated[list[str] | None, typer.Option("--unit", help="unit code; repeatable")] = None,
    children: Annotated[bool, typer.Option("--children", help="include every unit below")] = False,
) -> None:
    """Export stored values; ``--format xlsx`` writes the pre-filled template of one form."""
    with progress_bar("Exporting") as report, transaction() as conn:
        report("reading values", 0, 0)
        if format == "xlsx":
            exported = exchange.template(
                conn, principal=SYSTEM, data_set=data_set, period=(period or [""])[0], unit=(unit or [""])[0]
            )
        else:
            exported = exchange.export_file(
                conn,
                principal=SYSTEM,
                format=format,
                data_set=data_set or None,
                periods=period or [],
                units=unit or [],
                children=children,
            )
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(exported.data)
    out.print(f"Wrote {out_file} ({len(exported.data)} bytes, {format}).", highlight=False)
