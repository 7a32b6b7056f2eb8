"""The registry domain as the app and the command line see it: units and groups."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import N_, CliGroup, Domain, HomeCard, NavEntry

DOMAIN = Domain(
    name="registry",
    api=("jiaowei.registry.api", "jiaowei.registry.groups_api", "jiaowei.registry.search_api"),
    pages=("jiaowei.registry.pages", "jiaowei.registry.groups_pages"),
    templates=Path(__file__).parent / "templates",
    tables="jiaowei.registry.store",
    audit_checks=("jiaowei.registry.audit_checks:check_units", "jiaowei.registry.audit_checks:check_groups"),
    cli=(CliGroup("units", "jiaowei.cli.units:app", order=40),),
    nav=(
        NavEntry("registry", N_("Unit registry"), "/units", order=10),
        # only for those who may write the registry (viewers and unit reporters see neither)
        NavEntry("import", N_("Import"), "/units/import", order=20, permission="registry.write"),
        NavEntry("groups", N_("Groups"), "/groups", order=30, permission="registry.write"),
    ),
    cards=(
        HomeCard("registry", N_("Unit registry"), N_("Every unit of the system as a hierarchy, on any date."),
                 "/units", order=10),
    ),
)
