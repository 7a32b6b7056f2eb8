"""The indicators domain as the app and the command line see it: one entry per subpackage."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import N_, CliGroup, Domain, HomeCard, NavEntry

DOMAIN = Domain(
    name="indicators",
    api=(
        "jiaowei.indicators.values.api",
        "jiaowei.indicators.approval.api",
        "jiaowei.indicators.metadata.api",
        "jiaowei.indicators.quality.api",
        "jiaowei.indicators.targets.api",
        "jiaowei.indicators.daily.api",
    ),
    pages=(
        "jiaowei.indicators.values.pages",
        "jiaowei.indicators.approval.pages",
        "jiaowei.indicators.metadata.pages",
        "jiaowei.indicators.quality.pages",
        "jiaowei.indicators.targets.pages",
        "jiaowei.indicators.daily.pages",
    ),
    templates=Path(__file__).parent / "templates",
    tables="jiaowei.indicators.store",
    audit_checks=tuple(
        f"jiaowei.indicators.audit_checks:{name}"
        for name in ("data_values", "approvals", "completions", "lock_exceptions", "targets",
                     "indicator_facts")
    ),
    cli=(
        CliGroup("data", "jiaowei.cli.data:app", order=60),
        CliGroup("metadata", "jiaowei.cli.metadata:app", order=70),
    ),
    nav=(
        NavEntry("my_forms", N_("My forms"), "/data/my-forms", order=35, permission="data.capture"),
        NavEntry("data", N_("Data entry"), "/data/entry", order=40),
        NavEntry("quality", N_("Data quality"), "/quality/validation", order=42, permission="data.approve"),
        NavEntry("approval", N_("Approval"), "/data/approval", order=44, permission="data.approve"),
        NavEntry("indicators", N_("Indicators"), "/indicators", order=50),
    ),
    cards=(
        HomeCard(
            "data", N_("Data entry"),
            N_("Each unit's forms, cell by cell or as a filled-in XLSX template; DHIS2 files in and out."),
            "/data/entry", order=20,
        ),
        HomeCard("daily", N_("Campus daily health"),
                 N_("Who reported today, who did not, and any rule broken."),
                 "/data/daily", order=25),
        HomeCard("quality", N_("Data quality"),
                 N_("Validation rules, outliers and min–max bounds over any units."),
                 "/quality/validation", order=30, permission="data.approve"),
        HomeCard("approval", N_("Approval"),
                 N_("Completeness, timeliness and approval of each level's data."),
                 "/data/approval", order=40, permission="data.approve"),
        HomeCard("indicators", N_("Indicators"),
                 N_("Targets and indicators collected from every unit each period."),
                 "/indicators", order=50),
        HomeCard("metadata", N_("Metadata"),
                 N_("Data elements, data sets, disaggregations and indicators, exchanged with DHIS2."),
                 "/metadata", order=60),
    ),
)
