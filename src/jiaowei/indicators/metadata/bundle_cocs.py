"""A bundle's ``categoryOptionCombos``: DHIS2's ids kept on the option combos jiaowei generates.

jiaowei generates a category combo's option combos itself (the cross product of its categories'
options, see ``combos``). A DHIS2 bundle lists them too, each with its ``id``, its
``categoryCombo`` and its ``categoryOptions``; data files then name disaggregations by those ids.
:func:`keep_option_combo_id` finds the generated option combo with the same options (one of each
category of the combo, in any order) and gives it the bundle's id. Its code stays as jiaowei makes
it (the option codes joined with ``_``); the bundle's code and name are not read. The default
option combo keeps DHIS2's usual id ``HllvX50cXC0``, whatever id the bundle gives it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Principal
from jiaowei.domains import N_
from jiaowei.errors import M_, ValidationError
from jiaowei.indicators import store
from jiaowei.indicators.metadata.bundle_read import Reader, ref_key
from jiaowei.indicators.model import DEFAULT

DEFAULT_COC = "HllvX50cXC0"
"""DHIS2's default option combo, which jiaowei has already under the same id."""


def keep_option_combo_id(
    conn: Connection, *, principal: Principal, data: Mapping[str, Any], aliases: Mapping[str, str]
) -> str:
    """Give the bundle's id to the generated option combo with the same options.

    ``aliases`` maps the bundle's category combo ids to saved codes (combos saved by this bundle
    under an id that was not theirs). Returns ``updated`` or ``ignored`` (the id was there already,
    or the bundle gives none); raises ValidationError naming the field when the combo is unknown,
    the options do not make one combination of it, or the id belongs to another option combo.
    """
    obj = Reader(data)
    uid = obj.uid()
    combo_ref = obj.ref("categoryCombo", required=True)
    refs = obj.refs("categoryOptions")
    if obj.problems:
        raise ValidationError(N_("Invalid category option combo."), obj.problems)
    if uid is None or uid == DEFAULT_COC or combo_ref is None:
        return "ignored"
    combo_id = _combo_id(conn, combo_ref, aliases)
    if combo_id is None:
        obj.problem(N_("unknown category combo"), "categoryCombo", ref_key(combo_ref),
                    N_("the code or id of a category combo saved or in the bundle"))
        raise ValidationError(N_("Invalid category option combo."), obj.problems)
    if combo_id == default_combo_id(conn):  # keeps DHIS2's usual default id, HllvX50cXC0
        return "ignored"
    row = _matching_row(conn, obj, combo_id, refs)
    if row is None:
        raise ValidationError(N_("Invalid category option combo."), obj.problems)
    if row.uid == uid:
        return "ignored"
    owner = conn.execute(
        select(store.category_option_combos.c.code).where(store.category_option_combos.c.uid == uid)
    ).scalar()
    if owner is not None:
        obj.problem(M_("the id is already the id of {owner!r}", owner=owner), "id", uid,
                    N_("an unused id, or the same code"))
        raise ValidationError(N_("Invalid category option combo."), obj.problems)
    table = store.category_option_combos
    conn.execute(update(table).where(table.c.id == row.id).values(uid=uid))
    audit.record(conn, actor=principal.username, action="update", entity="category_option_combo",
                 entity_key=row.code, before={"uid": row.uid}, after={"uid": uid})
    return "updated"


def default_combo_id(conn: Connection) -> int | None:
    combos = store.category_combos
    found = conn.execute(select(combos.c.id).where(combos.c.code == DEFAULT)).scalar()
    return None if found is None else int(found)


def _combo_id(conn: Connection, ref: Mapping[str, Any], aliases: Mapping[str, str]) -> int | None:
    combos = store.category_combos
    for column, key in ((combos.c.code, "code"), (combos.c.uid, "id")):
        value = ref.get(key)
        if isinstance(value, str) and value:
            found = conn.execute(select(combos.c.id).where(column == value)).scalar()
            if found is not None:
                return int(found)
    alias = aliases.get(str(ref.get("id") or ""))
    if alias is None:
        return None
    found = conn.execute(select(combos.c.id).where(combos.c.code == alias)).scalar()
    return None if found is None else int(found)


def _matching_row(conn: Connection, obj: Reader, combo_id: int, refs: Sequence[Mapping[str, Any]]) -> Any:
    """The generated option combo of ``combo_id`` whose options are ``refs``, or None (with a problem)."""
    link, opts = store.category_combo_categories, store.category_options
    category_ids = conn.execute(
        select(link.c.category_id).where(link.c.combo_id == combo_id).order_by(link.c.position)
    ).scalars().all()
    options = conn.execute(
        select(opts.c.category_id, opts.c.code, opts.c.uid).where(opts.c.category_id.in_(category_ids))
    ).all()
    chosen: dict[int, str] = {}
    for ref in refs:
        found = [o for o in options if o.uid == ref.get("id")] or [
            o for o in options if o.code == ref.get("code")
        ]
        if len(found) != 1 or found[0].category_id in chosen:
            chosen = {}
            break
        chosen[found[0].category_id] = found[0].code
    wanted = [chosen.get(c) for c in category_ids]
    cocs = store.category_option_combos
    rows = conn.execute(
        select(cocs.c.id, cocs.c.uid, cocs.c.code, cocs.c.options).where(cocs.c.combo_id == combo_id)
    ).all()
    match = next((r for r in rows if list(r.options) == wanted), None) if None not in wanted else None
    if match is None:
        codes = "; ".join(", ".join(r.options) for r in rows[:20])
        obj.problem(
            N_("not a combination of its category combo's options"),
            "categoryOptions",
            [ref_key(r) for r in refs],
            M_("one option of each category of the combo, e.g. {codes}", codes=codes or "-"),
        )
    return match
