"""Metadata use cases that write, the entry point of the subpackage for changes: categories,
category combos, data elements, data sets, indicators and validation rules, created, updated or
deleted by code one at a time (``combos``, ``objects``) or as a DHIS2 metadata bundle
(``bundle``). The reads the metadata pages and routes show are in ``queries``.

Every function takes keyword arguments, checks the principal may write metadata, writes the
audit log and never commits.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.errors import M_, NotFound
from jiaowei.indicators.metadata.bundle import import_bundle
from jiaowei.indicators.metadata.bundle_export import TABLES
from jiaowei.indicators.metadata.combos import (
    delete_category,
    delete_category_combo,
    ensure_default_combo,
    save_category,
    save_category_combo,
)
from jiaowei.indicators.metadata.objects import (
    delete_object,
    save_data_element,
    save_data_set,
    save_indicator,
    save_validation_rule,
)

__all__ = [
    "delete_by_key",
    "delete_category",
    "delete_category_combo",
    "delete_object",
    "ensure_default_combo",
    "import_bundle",
    "save_category",
    "save_category_combo",
    "save_data_element",
    "save_data_set",
    "save_indicator",
    "save_validation_rule",
]


def delete_by_key(conn: Connection, *, principal: Principal, kind: str, key: str) -> None:
    """Delete the object of ``kind`` whose code or uid is ``key``; refused while it is in use."""
    table = TABLES[kind]
    code = conn.execute(select(table.c.code).where((table.c.code == key) | (table.c.uid == key))).scalar()
    if code is None:
        require_action(principal, Action.METADATA_WRITE)
        raise NotFound(M_("No {kind} with code or id {key!r}.", kind=kind[:-1], key=key))
    if kind == "categories":
        delete_category(conn, principal=principal, code=code)
    elif kind == "categoryCombos":
        delete_category_combo(conn, principal=principal, code=code)
    else:
        delete_object(conn, principal=principal, kind=kind, code=code)
