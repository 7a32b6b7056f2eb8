"""``jiaowei lottery``: commit to a pool, draw, verify a draw, correct it; RFC 3797 selection.

See docs/lottery.md for the published algorithm and how anyone can verify a draw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jiaowei.admissions import case, proof, rfc3797
from jiaowei.admissions.placement import report
from jiaowei.cli.common import out
from jiaowei.errors import IntegrityError, NotFound, Problem

app = typer.Typer(help="The publicly verifiable admissions lottery (docs/lottery.md).", no_args_is_help=True)
PLACEMENT_HELP = "report by district who is left without a place (automatic when case.json's title says 统筹)"


def _say(text: str) -> None:
    out.print(text, highlight=False, markup=False, soft_wrap=True)


def _placement(out_dir: Path, asked: bool) -> None:
    """For a placement (统筹) bundle: children placed and left without a place, by district, loudly."""
    if not (asked or report.is_placement(out_dir)):
        return
    found = report.bundle_report(out_dir)
    if not found.unplaced:
        _say(f"Placement placed every child: {found.placed} placed, 0 without a place.")
        return
    out.print(f"[bold red]Placement left {found.unplaced} child(ren) without a place, in "
              f"{len(found.short)} district(s):[/]", highlight=False, soft_wrap=True)
    table = Table("district", "placed", "without a place", title=None)
    for d in found.districts:
        style = "bold red" if d.unplaced else ""
        table.add_row(d.district, str(d.placed), f"[{style}]{d.unplaced}[/]" if style else "0")
    if out.is_terminal:
        out.print(table)
    else:  # a log or a pipe: whole lines
        for d in found.districts:
            _say(f"  {d.district}  placed {d.placed}  without a place {d.unplaced}"
                 + ("  <-- NOT PLACED" if d.unplaced else ""))


@app.command("commit")
def commit(case_dir: Annotated[Path, typer.Argument(help="the case directory")]) -> None:
    """Check the case and print its pool_digest (alone on the last line), to publish before the seed."""
    checked = case.read_case(case_dir, need_seed=False)
    _say(f"{len(checked.case.applicants)} applicants, {len(checked.case.schools)} schools; "
         "publish this pool_digest before the seed exists:")
    _say(checked.pool_digest)


@app.command("draw")
def draw(
    case_dir: Annotated[Path, typer.Argument(help="the case directory")],
    out_dir: Annotated[Path, typer.Option("--out", help="new or empty directory for the proof bundle")],
    placement: Annotated[bool, typer.Option("--placement", help=PLACEMENT_HELP)] = False,
) -> None:
    """Check every input, draw, and write results, cutoffs, transcript, manifest and inputs/."""
    manifest = proof.run_draw(case_dir, out_dir)
    _say(f"Drawn: {out_dir}")
    _say(f"pool_digest: {manifest['pool_digest']}")
    _say(f"seed: {manifest['seed']}")
    _placement(out_dir, placement)


@app.command("verify")
def verify(
    out_dir: Annotated[Path, typer.Argument(help="a proof bundle written by `jiaowei lottery draw`")],
    pool_digest: Annotated[str, typer.Option("--pool-digest", help="the pool_digest published before the "
                                             "draw, to compare with")] = "",
    placement: Annotated[bool, typer.Option("--placement", help=PLACEMENT_HELP)] = False,
) -> None:
    """Re-derive every output from inputs/; exit 0 only if all are byte-identical (9 otherwise)."""
    if not out_dir.is_dir():
        raise NotFound(f"No directory {str(out_dir)!r}.")
    differences = proof.verify(out_dir)
    if differences:
        raise IntegrityError(f"The draw does not verify; first difference: {differences[0]}",
                             [Problem(d) for d in differences[1:20]])
    manifest = json.loads((out_dir / case.MANIFEST).read_bytes())
    if pool_digest and pool_digest.strip().lower() != manifest["pool_digest"]:
        raise IntegrityError(f"manifest.json field pool_digest is {manifest['pool_digest']}, "
                             f"not the published {pool_digest}.")
    corrections = out_dir / "corrections"
    count = len(list(corrections.iterdir())) if corrections.is_dir() else 0
    _say(f"OK: every output is byte-identical ({count} correction(s) checked).")
    _say(f"pool_digest: {manifest['pool_digest']}")
    _say(f"seed: {manifest['seed']}")
    _placement(out_dir, placement)


@app.command("correct")
def correct(
    out_dir: Annotated[Path, typer.Argument(help="a verified proof bundle")],
    sources: Annotated[list[str], typer.Option("--source", help="new public randomness (repeat)")],
    reason: Annotated[str, typer.Option("--reason", help="the decision this correction carries out")],
    additions: Annotated[Path | None, typer.Option(
        "--additions", help="directory with applicants.csv, priorities.csv, seats.csv added by decision")
    ] = None,
) -> None:
    """Add a correction: a new draw for the free and added seats among everyone not yet placed."""
    manifest = proof.run_correction(out_dir, sources, reason, additions)
    number = manifest["correction"]["number"]
    _say(f"Correction {number} written to {out_dir / 'corrections' / str(number)}")
    _say(f"pool_digest: {manifest['pool_digest']}")
    _say(f"seed: {manifest['seed']}")


@app.command("rfc3797")
def select(
    pool: Annotated[Path, typer.Option("--pool", help="file with one name per line, numbered from 1")],
    sources: Annotated[list[str], typer.Option("--source", help="numbers of one source, e.g. '2 5 12 8 10'")],
    count: Annotated[int, typer.Option("--count", help="how many names to select")],
) -> None:
    """Select names exactly as IETF RFC 3797 does; prints them in order with their numbers."""
    if not pool.is_file():
        raise NotFound(f"No pool file {str(pool)!r}.")
    names = rfc3797.read_pool(pool.read_bytes(), pool.name)
    _say(f"key: {rfc3797.key_string(sources)}")
    _say("index  MD5                               div  number  name")
    for s in rfc3797.select(names, sources, count):
        _say(f"{s.index:>5}  {s.digest}  {s.remaining:>4}  {s.number:>6}  {s.name}")
