"""The analytics domain as the app and the command line see it."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import N_, CliGroup, Domain, HomeCard, NavEntry

DOMAIN = Domain(
    name="analytics",
    api=("jiaowei.analytics.api", "jiaowei.analytics.dashboard_api"),
    pages=("jiaowei.analytics.dashboard_pages", "jiaowei.analytics.pivot.pages"),
    templates=Path(__file__).parent / "templates",
    tables="jiaowei.analytics.store",
    cli=(CliGroup("analytics", "jiaowei.cli.analytics:app", order=65),),
    nav=(NavEntry("analytics", N_("Analytics"), "/analytics", order=55),
         NavEntry("dashboards", N_("Dashboards"), "/dashboards", order=57),),
    cards=(HomeCard("analytics", N_("Analytics"),
                    N_("Pivot tables and charts, fresh to the second; drill down to the stored values."),
                    "/analytics", order=70),
           HomeCard("dashboards", N_("Dashboards"), N_("Saved pivot tables, charts and indicator tiles."),
                    "/dashboards", order=75),),
)
