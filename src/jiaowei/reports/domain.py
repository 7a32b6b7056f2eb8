"""The reports domain as the app and the command line see it."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import N_, CliGroup, Domain, HomeCard, NavEntry

DOMAIN = Domain(
    name="reports",
    api=("jiaowei.reports.api",),
    pages=("jiaowei.reports.pages",),
    templates=Path(__file__).parent / "templates",
    tables="jiaowei.reports.store",
    cli=(CliGroup("report", "jiaowei.cli.report:app", order=68),),
    nav=(NavEntry("reports", N_("Reports"), "/reports", order=62),),
    cards=(HomeCard("reports", N_("Reports"), N_("The annual report, its figures drawn from the data."),
                    "/reports", order=100),),
)
