"""``jiaowei report``: the annual report, a district report or an indicator bulletin, as a file."""

from __future__ import annotations

import typer

app = typer.Typer(help="Reports generated from the data: annual, district, bulletin.", no_args_is_help=True)
