"""The admissions domain as the app and the command line see it: campaigns and the lottery."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import N_, CliGroup, Domain, HomeCard, NavEntry

DOMAIN = Domain(
    name="admissions",
    api=("jiaowei.admissions.api",),
    pages=("jiaowei.admissions.pages",),
    templates=Path(__file__).parent / "templates",
    tables="jiaowei.admissions.store",
    audit_checks=("jiaowei.admissions.integrity.campaigns:check_campaigns",
                  "jiaowei.admissions.integrity.campaigns:check_applicants",
                  "jiaowei.admissions.integrity.lottery:check_lottery"),
    cli=(CliGroup("lottery", "jiaowei.cli.lottery:app", order=50),
         CliGroup("secret", "jiaowei.cli.secret:app", order=55)),
    nav=(
        NavEntry("admissions", N_("Admissions"), "/admissions", order=60),
        NavEntry("admissions", N_("Admissions results"), "/admissions/public", order=80, public=True),
    ),
    cards=(
        HomeCard("admissions", N_("Admissions"), N_("Simultaneous public-private enrolment and the lottery."),
                 "/admissions", order=90),
    ),
)
