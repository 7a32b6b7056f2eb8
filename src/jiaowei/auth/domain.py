"""The auth domain as the app and the command line see it: login pages, accounts and tokens."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import CliGroup, Domain

DOMAIN = Domain(
    name="auth",
    pages=("jiaowei.auth.pages",),
    templates=Path(__file__).parent / "templates",
    tables="jiaowei.auth.store",
    cli=(
        CliGroup("user", "jiaowei.cli.accounts:users", order=10),
        CliGroup("token", "jiaowei.cli.accounts:tokens", order=20),
    ),
)
