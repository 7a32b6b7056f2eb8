"""The plans domain as the app and the command line see it."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import N_, CliGroup, Domain, HomeCard, NavEntry

DOMAIN = Domain(
    name="plans",
    api=("jiaowei.plans.evidence.api", "jiaowei.plans.tasks.api", "jiaowei.plans.appraisals.api",
         "jiaowei.plans.ledger.api", "jiaowei.plans.risks.api", "jiaowei.plans.workbook_api"),
    pages=("jiaowei.plans.evidence.pages", "jiaowei.plans.tasks.edit_pages", "jiaowei.plans.tasks.pages",
           "jiaowei.plans.appraisals.pages",
           "jiaowei.plans.ledger.pages", "jiaowei.plans.risks.pages", "jiaowei.plans.workbook_pages"),
    templates=Path(__file__).parent / "templates",
    tables=tuple(f"jiaowei.plans.{part}.store"
                 for part in ("evidence", "tasks", "appraisals", "ledger", "risks")),
    cli=(CliGroup("plans", "jiaowei.cli.plans:app", order=67),),
    nav=(NavEntry("plans", N_("Key tasks"), "/plans", order=58),),
    cards=(HomeCard("plans", N_("Key tasks"), N_("Key tasks of the year: deploy, advance, assess."), "/plans",
                    order=80),
           HomeCard("appraisals", N_("Appraisals"),
                    N_("Year-end appraisals: criteria, reviewers, scores, grades."), "/plans/appraisals",
                    order=82),
           HomeCard("rectification", N_("Rectification ledger"),
                    N_("Inspection findings, their measures, and the re-check."), "/plans/rectification",
                    order=84),
           HomeCard("risks", N_("Risk register"), N_("Major risks on a 5×5 matrix, with their reviews."),
                    "/plans/risks", order=86),),
)
