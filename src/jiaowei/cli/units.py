"""``jiaowei units``: import and export units as CSV or XLSX."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from jiaowei.auth.model import SYSTEM
from jiaowei.cli.common import out, progress_bar, transaction
from jiaowei.errors import NotFound, Problem, ValidationError
from jiaowei.registry import transfer

app = typer.Typer(help="Import and export units (CSV or XLSX).", no_args_is_help=True)


@app.command("import")
def import_units(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8) or XLSX file, header in row 1")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check and report, write nothing")] = False,
) -> None:
    """Import units: every row is checked first; if any is wrong, nothing is written (exit 2)."""
    if not file.is_file():
        raise NotFound(f"No file {str(file)!r}.")
    data = file.read_bytes()
    with progress_bar("Importing") as report, transaction() as conn:
        summary = transfer.import_units(conn, principal=SYSTEM, data=data, filename=file.name,
                                        dry_run=dry_run, progress=report)
    what = "Dry run, nothing written: would have" if dry_run else "Imported:"
    out.print(f"{what} created {summary.created}, changed {summary.changed}, closed {summary.closed}; "
              f"{summary.unchanged} unchanged.", highlight=False)


@app.command("export")
def export_units(
    out_file: Annotated[Path, typer.Option("--out", help="file to write")],
    format: Annotated[str, typer.Option("--format", help="csv or xlsx (default: from --out)")] = "",
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD (default today)")] = "",
) -> None:
    """Export every unit as it stood on a date, parents before children."""
    chosen = format or ("xlsx" if out_file.suffix.lower() == ".xlsx" else "csv")
    day = _date(as_of, "--as-of")
    with transaction() as conn:
        data = transfer.export_units(conn, principal=SYSTEM, as_of=day, format=chosen)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(data)
    out.print(f"Wrote {out_file} ({len(data)} bytes, {chosen}).", highlight=False)


def _date(text: str, option: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError("Invalid date.", [Problem("not a date", field=option, value=text,
                                                        expected="YYYY-MM-DD, e.g. 2020-09-01")]) from None
