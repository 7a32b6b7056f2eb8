"""The audit domain as the app and the command line see it: the audit log."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import N_, CliGroup, Domain, NavEntry

DOMAIN = Domain(
    name="audit",
    api=("jiaowei.audit.api",),
    pages=("jiaowei.audit.pages",),
    templates=Path(__file__).parent / "templates",
    tables="jiaowei.audit.store",
    cli=(CliGroup("audit", "jiaowei.cli.audit:audit", order=30),),
    nav=(NavEntry("audit", N_("Audit log"), "/audit", order=70, permission="audit.read"),),
)
