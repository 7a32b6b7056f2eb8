"""The list of domains, and the shape of the descriptor each one declares in its ``domain.py``.

A domain says once what it brings: its API and page routers, its templates folder, its tables, its
command-line groups, its navigation entries and its home-page cards. The app (``web/app.py``), the
template loader (``web/render.py``), the navigation (``base.html``), the home page (``web/pages.py``),
the migrations (``db/tables.py``) and the command line (``cli/main.py``) loop over :data:`ALL`, so
adding a domain means adding its folder, its ``domain.py`` and one line here.

Routers, tables and command groups are named by module, not imported: the command line must start
without importing the web framework, and the app imports routers only when it is built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any

# The domain modules, in the order their routers are matched (API routers of every domain first,
# then page routers, each in this order). A new domain adds its module here.
ALL = (
    "jiaowei.auth.domain",
    "jiaowei.registry.domain",
    "jiaowei.audit.domain",
    "jiaowei.admissions.domain",
    "jiaowei.indicators.domain",
    "jiaowei.analytics.domain",
    "jiaowei.plans.domain",
    "jiaowei.reports.domain",
    "jiaowei.jobs.domain",
    "jiaowei.dhis2.domain",
    "jiaowei.web.domain",
)

# The domain whose templates hold the frame of every page (base.html, error.html): searched first,
# so that no domain's template can shadow it.
SHELL = "web"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class NavEntry:
    """A link in the navigation bar; ``key`` is the ``active`` value of the pages it highlights."""

    key: str
    title: str
    href: str
    order: int
    permission: str | None = None  # shown only to principals who may do this
    public: bool = False  # shown only to visitors who are not logged in


@dataclass(frozen=True)
class HomeCard:
    """A card on the home page; ``href`` is None while the module is not built yet."""

    key: str
    title: str
    description: str
    href: str | None
    order: int
    permission: str | None = None  # shown only to principals who may do this (as NavEntry)


@dataclass(frozen=True)
class CliGroup:
    """A ``jiaowei <name>`` command group; ``app`` names a ``typer.Typer`` as ``module:attribute``."""

    name: str
    app: str
    order: int


@dataclass(frozen=True)
class Domain:
    """What one domain brings to the app, the pages and the command line."""

    name: str
    api: tuple[str, ...] = ()  # modules with a JSON ``router``, in matching order
    pages: tuple[str, ...] = ()  # modules with an HTML ``router``, in matching order
    templates: Path | None = None
    # the module (or modules, for a domain whose parts each keep their own) whose import defines its tables
    tables: str | tuple[str, ...] | None = None
    cli: tuple[CliGroup, ...] = ()
    nav: tuple[NavEntry, ...] = ()
    cards: tuple[HomeCard, ...] = ()
    # ``module:function`` checks that recompute live tables from history and the audit chain
    # (see jiaowei.audit.reconcile)
    audit_checks: tuple[str, ...] = ()


# Home cards of the modules that are not built yet; a module's card moves to its domain.py when it is.
PLANNED: tuple[HomeCard, ...] = ()


@cache
def domains() -> tuple[Domain, ...]:
    """Every domain's descriptor, in the order of :data:`ALL`."""
    return tuple(importlib.import_module(module).DOMAIN for module in ALL)


def load(reference: str) -> Any:
    """The object named ``module:attribute``, or the module itself when there is no attribute."""
    module, _, attribute = reference.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def router_modules() -> list[str]:
    """The modules whose routers the app includes, in matching order: every API router, then pages."""
    every = domains()
    return [*chain.from_iterable(d.api for d in every), *chain.from_iterable(d.pages for d in every)]


def with_templates() -> list[Domain]:
    """The domains that have templates, in the order they are searched: the shell's first."""
    ordered = sorted(domains(), key=lambda domain: domain.name != SHELL)
    return [domain for domain in ordered if domain.templates is not None]


def table_modules() -> list[str]:
    named = (domain.tables for domain in domains() if domain.tables is not None)
    return [module for tables in named for module in ((tables,) if isinstance(tables, str) else tables)]


def cli_groups() -> list[CliGroup]:
    return sorted(chain.from_iterable(d.cli for d in domains()), key=lambda group: group.order)


def navigation() -> list[NavEntry]:
    return sorted(chain.from_iterable(d.nav for d in domains()), key=lambda entry: entry.order)


def home_cards() -> list[HomeCard]:
    """The home page's cards: every domain's, and those of the modules not built yet."""
    cards = chain(chain.from_iterable(d.cards for d in domains()), PLANNED)
    return sorted(cards, key=lambda card: card.order)
