"""Metadata out, as DHIS2 JSON: one object, one kind or a whole bundle, in the shape that
``bundle.import_bundle`` reads back. A principal limits the data sets' units to those it may see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, func, select

from jiaowei import clock
from jiaowei.auth.model import SYSTEM, Action, Principal
from jiaowei.auth.scope import require_action, unit_filter
from jiaowei.dhis2.units import ORG_UNIT_KINDS, export_org_units
from jiaowei.domains import N_
from jiaowei.errors import Problem, ValidationError
from jiaowei.indicators import store
from jiaowei.indicators.metadata import bundle_outbound
from jiaowei.indicators.metadata.bundle_read import ZH_LOCALES
from jiaowei.indicators.model import DEFAULT
from jiaowei.registry import queries as registry

KINDS = (
    "categoryOptions",
    "categories",
    "categoryCombos",
    "dataElements",
    "dataSets",
    "indicators",
    "validationRules",
)
"""The kinds a bundle may carry, in the order they are imported."""
EXPORTED_KINDS = (*ORG_UNIT_KINDS, *KINDS)
"""The kinds GET /api/metadata exports: organisation units (the registry's), then the indicators'."""
DISPLAY_FACTOR = {"number": 1, "ratio": 1, "percent": 100, "per_mille": 1000}
INDICATOR_TYPES = {  # display -> uid (stable, so that a second export updates the same types), names
    "percent": ("jwIndTypPct", "Percent", "百分比"),
    "per_mille": ("jwIndTypPml", "Per mille", "千分比"),
    "ratio": ("jwIndTypRat", "Ratio (shown 1:N)", "比（1:N）"),
    "number": ("jwIndTypNum", "Number", "数值"),
}
"""DHIS2 indicator types, one for each way jiaowei shows an indicator (its ``display``)."""
ID_SCHEMES = ("CODE", "UID")
WARNINGS = "jiaowei:warnings"
"""The key of the export's list of what DHIS2 cannot take as jiaowei has it."""
TABLES: dict[str, Table] = {
    "categories": store.categories,
    "categoryCombos": store.category_combos,
    "dataElements": store.data_elements,
    "dataSets": store.data_sets,
    "indicators": store.indicators,
    "validationRules": store.validation_rules,
}


def _names_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.uid,
        "code": row.code,
        "name": row.name_en,
        "translations": [{"locale": ZH_LOCALES[0], "property": "NAME", "value": row.name_zh}],
    }


def _rows(conn: Connection, table: Table, keys: Sequence[str] | None) -> list[Any]:
    query = select(table).order_by(table.c.code)
    if keys is not None:
        query = query.where(table.c.code.in_(list(keys)) | table.c.uid.in_(list(keys)))
    return list(conn.execute(query).all())


def export_options(
    conn: Connection, keys: Sequence[str] | None, principal: Principal | None
) -> list[dict[str, Any]]:
    opts, cats = store.category_options, store.categories
    query = select(opts).join(cats, cats.c.id == opts.c.category_id).order_by(cats.c.code, opts.c.position)
    out, seen = [], set()
    for row in conn.execute(query):
        if row.code not in seen:  # an option code shared by two categories is listed once
            seen.add(row.code)
            out.append(_names_out(row))
    return out


def export_categories(
    conn: Connection, keys: Sequence[str] | None, principal: Principal | None
) -> list[dict[str, Any]]:
    opts = store.category_options
    out = []
    for row in _rows(conn, store.categories, keys):
        options = conn.execute(
            select(opts.c.uid, opts.c.code).where(opts.c.category_id == row.id).order_by(opts.c.position)
        ).all()
        out.append(
            {
                **_names_out(row),
                "dataDimensionType": "DISAGGREGATION",
                "categoryOptions": [{"id": o.uid, "code": o.code} for o in options],
            }
        )
    return out


def export_combos(
    conn: Connection, keys: Sequence[str] | None, principal: Principal | None
) -> list[dict[str, Any]]:
    link, cats, cocs = store.category_combo_categories, store.categories, store.category_option_combos
    out = []
    for row in _rows(conn, store.category_combos, keys):
        if row.code == DEFAULT:
            continue
        categories = conn.execute(
            select(cats.c.uid, cats.c.code)
            .join(link, link.c.category_id == cats.c.id)
            .where(link.c.combo_id == row.id)
            .order_by(link.c.position)
        ).all()
        combos = conn.execute(select(cocs).where(cocs.c.combo_id == row.id).order_by(cocs.c.position)).all()
        out.append(
            {
                **_names_out(row),
                "dataDimensionType": "DISAGGREGATION",
                "categories": [{"id": c.uid, "code": c.code} for c in categories],
                "categoryOptionCombos": [
                    {**_names_out(c), "categoryOptions": [{"code": o} for o in c.options]} for c in combos
                ],
            }
        )
    return out


def export_elements(
    conn: Connection, keys: Sequence[str] | None, principal: Principal | None
) -> list[dict[str, Any]]:
    combos = {
        r.id: r
        for r in conn.execute(
            select(store.category_combos.c.id, store.category_combos.c.uid, store.category_combos.c.code)
        )
    }
    out = []
    for row in _rows(conn, store.data_elements, keys):
        combo = combos[row.combo_id]
        out.append(
            {
                **_names_out(row),
                "shortName": row.short_name,
                "description": row.description,
                "domainType": "AGGREGATE",
                "valueType": row.value_type,
                "aggregationType": row.aggregation_type,
                "zeroIsSignificant": bool(row.zero_is_significant),
                "categoryCombo": {"id": combo.uid, "code": combo.code},
            }
        )
    return out


def export_data_sets(
    conn: Connection, keys: Sequence[str] | None, principal: Principal | None
) -> list[dict[str, Any]]:
    members, des = store.data_set_elements, store.data_elements
    visible = _visible_units(conn, principal)
    out = []
    for row in _rows(conn, store.data_sets, keys):
        elements = conn.execute(
            select(des.c.uid, des.c.code)
            .join(members, members.c.data_element_id == des.c.id)
            .where(members.c.data_set_id == row.id)
            .order_by(members.c.position)
        ).all()
        units = _units_of(conn, row.id, visible)
        out.append(
            {
                **_names_out(row),
                "periodType": row.period_type,
                "timelyDays": row.due_days,
                "expiryDays": row.expiry_days,
                "description": row.description,
                "dataSetElements": [{"dataElement": {"id": e.uid, "code": e.code}} for e in elements],
                "organisationUnits": [{"code": u} for u in units],
                "unitTypes": list(row.unit_types or []),
            }
        )
    return out


def _visible_units(conn: Connection, principal: Principal | None) -> Any:
    """A select of the unit ids the principal may see today (None: every unit)."""
    if principal is None or principal.unlimited:
        return None
    day = clock.today()
    return registry.unit_ids_on_select(day).where(unit_filter(conn, principal, Action.VIEW, day))


def _units_of(conn: Connection, data_set_id: int, visible: Any) -> list[str]:
    link, units = store.data_set_units, registry.unit_codes()
    query = (
        select(units.c.code)
        .join(link, link.c.unit_id == units.c.id)
        .where(link.c.data_set_id == data_set_id)
        .order_by(units.c.code)
    )
    if visible is not None:
        query = query.where(units.c.id.in_(visible))
    return list(conn.execute(query).scalars())


def export_indicators(
    conn: Connection, keys: Sequence[str] | None, principal: Principal | None
) -> list[dict[str, Any]]:
    return [
        {
            **_names_out(row),
            "description": row.description,
            "numerator": row.numerator,
            "numeratorDescription": row.numerator_description,
            "denominator": row.denominator,
            "denominatorDescription": row.denominator_description,
            "decimals": row.decimals,
            "indicatorType": indicator_type_ref(row.display),
            "display": row.display,
            "higherIsBetter": bool(row.higher_is_better),
        }
        for row in _rows(conn, store.indicators, keys)
    ]


def indicator_type_ref(display: str) -> dict[str, Any]:
    uid = INDICATOR_TYPES.get(display, INDICATOR_TYPES["number"])[0]
    return {"id": uid, "code": display, "factor": DISPLAY_FACTOR.get(display, 1)}


def export_indicator_types() -> list[dict[str, Any]]:
    """DHIS2's indicatorTypes that the indicators refer to by id."""
    return [
        {
            "id": uid,
            "code": display,
            "name": name_en,
            "factor": DISPLAY_FACTOR[display],
            "number": DISPLAY_FACTOR[display] == 1,
            "translations": [{"locale": ZH_LOCALES[0], "property": "NAME", "value": name_zh}],
        }
        for display, (uid, name_en, name_zh) in INDICATOR_TYPES.items()
    ]


def export_rules(
    conn: Connection, keys: Sequence[str] | None, principal: Principal | None
) -> list[dict[str, Any]]:
    return [
        {
            **_names_out(row),
            "description": row.description,
            "instruction": row.instruction,
            "importance": row.importance,
            "operator": row.operator,
            "periodType": row.period_type,
            "leftSide": {"expression": row.left_expression, "missingValueStrategy": row.left_missing},
            "rightSide": {"expression": row.right_expression, "missingValueStrategy": row.right_missing},
        }
        for row in _rows(conn, store.validation_rules, keys)
    ]


Exporter = Callable[[Connection, Sequence[str] | None, Principal | None], list[dict[str, Any]]]
EXPORTERS: dict[str, Exporter] = {
    "categoryOptions": export_options,
    "categories": export_categories,
    "categoryCombos": export_combos,
    "dataElements": export_elements,
    "dataSets": export_data_sets,
    "indicators": export_indicators,
    "validationRules": export_rules,
}


def export_bundle(
    conn: Connection,
    *,
    kinds: Sequence[str] | None = None,
    principal: Principal | None = None,
    id_scheme: str = "CODE",
) -> dict[str, Any]:
    """The metadata as a DHIS2 bundle. A principal limits the data sets' units to those it may see.

    ``id_scheme="UID"`` writes it for DHIS2 (see :mod:`.bundle_outbound`): expressions name data
    elements and option combos by uid, data sets list the units of their unit types, and the
    organisation units come along unless ``kinds`` says otherwise (with ``CODE`` only when asked).
    Either way option combos are listed with their ids, and ``jiaowei:warnings`` names each object
    DHIS2 cannot take as jiaowei has it, and why.
    """
    if principal is not None:
        require_action(principal, Action.VIEW)
    scheme = check_id_scheme(id_scheme)
    # jiaowei to jiaowei (CODE), units move with the registry's own files; DHIS2 (UID) needs them here
    chosen = check_kinds(kinds) if kinds is not None or scheme == "UID" else list(KINDS)
    out: dict[str, Any] = {
        "system": {"name": "jiaowei"},
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out.update(export_org_units(conn, principal=principal or SYSTEM,
                                kinds=[k for k in chosen if k in ORG_UNIT_KINDS]))
    if "indicators" in chosen:
        out["indicatorTypes"] = export_indicator_types()
    for kind in chosen:
        if kind in EXPORTERS:
            out[kind] = EXPORTERS[kind](conn, None, principal)
    out[WARNINGS] = bundle_outbound.outbound(conn, out, visible=_visible_units(conn, principal),
                                             uids=scheme == "UID")
    return out


def check_id_scheme(id_scheme: str) -> str:
    """``CODE`` or ``UID`` (any case); anything else is refused, naming both."""
    scheme = id_scheme.upper()
    if scheme not in ID_SCHEMES:
        raise ValidationError(
            N_("Unsupported id scheme."),
            [Problem(N_("unsupported"), field="idScheme", value=id_scheme[:100],
                     expected=", ".join(ID_SCHEMES))],
        )
    return scheme


def check_kinds(kinds: Sequence[str] | None, known: Sequence[str] = EXPORTED_KINDS) -> list[str]:
    """The kinds asked for, in import order (categories bring their options along)."""
    if kinds is None:
        return list(known)
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise ValidationError(
            N_("Unknown kind of metadata."),
            [
                Problem("unknown kind", field="kinds", value=k[:100], expected=", ".join(known))
                for k in unknown[:20]
            ],
        )
    wanted = set(kinds) | ({"categoryOptions"} if "categories" in kinds else set())
    return [k for k in known if k in wanted]


def export_objects(
    conn: Connection, *, kind: str, keys: Sequence[str] | None = None, principal: Principal | None = None
) -> list[dict[str, Any]]:
    """Objects of one kind (those with ``keys`` as code or uid, when given), as DHIS2 JSON."""
    if principal is not None:
        require_action(principal, Action.VIEW)
    check_kinds([kind], KINDS)
    return EXPORTERS[kind](conn, keys, principal)


def count_objects(conn: Connection) -> dict[str, int]:
    """How many objects of each kind are saved (the default combo not counted)."""
    found = {}
    for kind, table in TABLES.items():
        query = select(func.count()).select_from(table)
        if kind == "categoryCombos":
            query = query.where(table.c.code != DEFAULT)
        found[kind] = int(conn.execute(query).scalar_one())
    return found
