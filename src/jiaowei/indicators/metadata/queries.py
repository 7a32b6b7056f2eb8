"""Metadata reads, the subpackage's public read API: the catalog, category combos and their
previews, object counts, and DHIS2 metadata exports (``bundle_export``).

Every function a view calls takes keyword arguments and checks the principal may read (or, for
the new-combo form, write) metadata. ``catalog.load_catalog`` reads everything once into plain
lookups for the fast paths (imports, forms, rule runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators.metadata.bundle_export import count_objects, export_bundle, export_objects
from jiaowei.indicators.metadata.catalog import Catalog, load_catalog
from jiaowei.indicators.metadata.combos import (
    CategorySummary,
    ComboSummary,
    count_combinations,
    list_categories,
    list_category_combos,
)
from jiaowei.indicators.metadata.objects import check_expression
from jiaowei.indicators.model import MAX_COMBINATIONS

__all__ = [
    "ComboPreview",
    "categories_for_new_combo",
    "category_combos",
    "check_expression",
    "count_combinations",
    "count_new_combo",
    "export_bundle",
    "export_objects",
    "list_categories",
    "list_category_combos",
    "load_catalog",
    "object_counts",
    "preview_combo",
    "read_catalog",
]

MAX_CATEGORIES = 20
"""A combo preview names at most this many categories."""


@dataclass(frozen=True)
class ComboPreview:
    """How many option combos a combo of these categories would have, and the limit."""

    categories: list[str]
    combinations: int
    limit: int


def preview_combo(conn: Connection, *, principal: Principal, categories: Sequence[str]) -> ComboPreview:
    """How many option combos a combo of ``categories`` would have, before it is saved."""
    require_action(principal, Action.VIEW)
    if len(categories) > MAX_CATEGORIES:
        raise ValidationError(
            N_("Too many categories."),
            [
                Problem(
                    N_("too many categories"),
                    field="categories",
                    value=len(categories),
                    expected=M_("at most {most}", most=MAX_CATEGORIES),
                )
            ],
        )
    count = count_combinations(conn, categories=categories)
    return ComboPreview(list(categories), count, MAX_COMBINATIONS)


def count_new_combo(conn: Connection, *, principal: Principal, categories: Sequence[str]) -> int:
    """The number of combinations of a new combo's chosen categories (the form's preview)."""
    require_action(principal, Action.METADATA_WRITE)
    if not categories:
        raise ValidationError(
            N_("Choose at least one category."),
            [Problem(N_("no category chosen"), field="categories", expected=N_("one or more categories"))],
        )
    return count_combinations(conn, categories=categories)


def categories_for_new_combo(conn: Connection, *, principal: Principal) -> list[CategorySummary]:
    """The categories a new combo may be made of (for a principal who may write metadata)."""
    require_action(principal, Action.METADATA_WRITE)
    return list_categories(conn)


def category_combos(conn: Connection, *, principal: Principal) -> list[ComboSummary]:
    """Every category combo with its categories and option combos."""
    require_action(principal, Action.VIEW)
    return list_category_combos(conn)


def read_catalog(conn: Connection, *, principal: Principal) -> Catalog:
    """The catalog of data elements, option combos and data sets, for a principal who may see it."""
    require_action(principal, Action.VIEW)
    return load_catalog(conn)


def object_counts(conn: Connection, *, principal: Principal) -> dict[str, int]:
    """How many objects of each kind are saved, for a principal who may see them."""
    require_action(principal, Action.VIEW)
    return count_objects(conn)
