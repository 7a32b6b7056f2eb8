"""The auth domain as the app and the command line see it: login pages, accounts and tokens."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import N_, CliGroup, Domain, NavEntry

DOMAIN = Domain(
    name="auth",
    api=("jiaowei.auth.api",),
    pages=("jiaowei.auth.pages", "jiaowei.auth.users_pages"),
    templates=Path(__file__).parent / "templates",
    tables="jiaowei.auth.store",
    cli=(
        CliGroup("user", "jiaowei.cli.accounts:users", order=10),
        CliGroup("token", "jiaowei.cli.accounts:tokens", order=20),
    ),
    nav=(
        # administrators (every action) and district staff (their district's unit reporters)
        NavEntry("users", N_("Users"), "/users", order=75, permission="users.reporters"),
        NavEntry("account", N_("My account"), "/me", order=90),
    ),
    audit_checks=("jiaowei.auth.audit_checks:check_users", "jiaowei.auth.audit_checks:check_tokens"),
)
