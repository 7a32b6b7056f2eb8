"""``jiaowei metadata``: import and export the indicators metadata as DHIS2 JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from jiaowei.auth.model import SYSTEM
from jiaowei.cli.common import out, transaction
from jiaowei.errors import NotFound, Problem, ValidationError
from jiaowei.indicators.metadata import queries
from jiaowei.indicators.metadata import service as metadata

app = typer.Typer(
    help="Import and export metadata (data elements, data sets, indicators…) as DHIS2 JSON.",
    no_args_is_help=True,
)


@app.command("import")
def import_metadata(
    file: Annotated[Path, typer.Argument(help='a DHIS2 metadata JSON file, e.g. {"dataElements": [...]}')],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check and report, write nothing")] = False,
) -> None:
    """Import a metadata bundle, all or nothing (exit 2 naming each object and field at fault)."""
    if not file.is_file():
        raise NotFound(f"No file {str(file)!r}.")
    try:
        document = json.loads(file.read_bytes())
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, NaN, nested too deeply
        raise ValidationError(
            "The file is not JSON.",
            [Problem(str(error), field="file", value=file.name, expected="a DHIS2 metadata JSON document")],
        ) from None
    with transaction() as conn:
        report = metadata.import_bundle(conn, principal=SYSTEM, bundle=document, dry_run=dry_run)
    stats = report["stats"]
    what = "Dry run, nothing written:" if dry_run else "Metadata:"
    out.print(
        f"{what} created {stats['created']}, updated {stats['updated']}, ignored {stats['ignored']} "
        f"of {stats['total']} objects.",
        highlight=False,
    )
    for skipped in (t for t in report["typeReports"] if t.get("objectReports")):  # kinds jiaowei skips
        out.print(f"Skipped {skipped['klass']}: {skipped['stats']['ignored']} objects.", highlight=False)


@app.command("export")
def export_metadata(
    out_file: Annotated[Path, typer.Option("--out", help="file to write")],
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="e.g. dataElements; repeatable (default all)")
    ] = None,
) -> None:
    """Export the metadata as a DHIS2 bundle that `jiaowei metadata import` (or DHIS2) reads back."""
    with transaction(write=False) as conn:
        document = queries.export_bundle(conn, kinds=kind or None)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    counts = ", ".join(f"{len(v)} {k}" for k, v in document.items() if isinstance(v, list))
    out.print(f"Wrote {out_file}: {counts}.", highlight=False)
