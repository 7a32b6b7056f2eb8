"""Data elements, data sets, indicators and validation rules: saved one at a time by code
(with every expression parsed and checked), and deleted while no data uses them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select

from jiaowei.audit import service as audit
from jiaowei.auth.model import Principal
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, NotFound, Problem, ValidationError
from jiaowei.indicators import expressions, store
from jiaowei.indicators.expressions import MissingValueStrategy, Operator
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.metadata.combos import combo_id_for
from jiaowei.indicators.metadata.writing import (
    audit_saved,
    enum_problem,
    name_problems,
    now,
    require_writer,
    upsert,
)
from jiaowei.indicators.model import DEFAULT, AggregationType, Display, Importance, ValueType
from jiaowei.indicators.periods import PeriodType
from jiaowei.registry import queries as registry
from jiaowei.registry.model import UnitType


def save_data_element(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    name_zh: str,
    name_en: str,
    value_type: str = "INTEGER",
    aggregation_type: str = "SUM",
    category_combo: str | None = None,
    short_name: str = "",
    description: str = "",
    zero_is_significant: bool = False,
    uid: str | None = None,
) -> int:
    require_writer(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = name_problems({**spec, "short_name": short_name, "description": description},
                              M_("data element"))
    problems += [
        p
        for p in (
            enum_problem(ValueType, value_type, "valueType"),
            enum_problem(AggregationType, aggregation_type, "aggregationType"),
        )
        if p
    ]
    if problems:
        raise ValidationError(M_("The data element {code!r} cannot be saved.", code=code), problems)
    combo_id = combo_id_for(conn, category_combo)
    table = store.data_elements
    old = conn.execute(
        select(table.c.id, table.c.combo_id, table.c.value_type).where(table.c.code == code)
    ).first()
    if (
        old is not None
        and (old.combo_id != combo_id or old.value_type != value_type)
        and _element_has_data(conn, old.id)
    ):
        raise Conflict(
            M_("The data element {code!r} has data values: its category combo and value type cannot change.",
               code=code),
            [
                Problem(
                    N_("would change with data present"),
                    field="categoryCombo/valueType",
                    value=[category_combo or DEFAULT, value_type],
                )
            ],
        )
    values = {
        **spec,
        "uid": uid,
        "short_name": short_name or name_en[:100],
        "description": description,
        "value_type": value_type,
        "aggregation_type": aggregation_type,
        "combo_id": combo_id,
        "zero_is_significant": zero_is_significant,
        "created_at": now(),
    }
    element_id, created = upsert(conn, table, values)
    audit_saved(
        conn,
        principal,
        "data_element",
        code,
        created,
        {k: v for k, v in values.items() if k not in ("uid", "created_at", "combo_id")}
        | {"category_combo": category_combo or DEFAULT},
    )
    return element_id


def _element_has_data(conn: Connection, element_id: int) -> bool:
    return (
        conn.execute(
            select(store.data_values.c.value)
            .where(store.data_values.c.data_element_id == element_id)
            .limit(1)
        ).first()
        is not None
    )


def save_data_set(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    name_zh: str,
    name_en: str,
    period_type: str,
    elements: Sequence[str],
    unit_types: Sequence[str] = (),
    units: Sequence[str] = (),
    due_days: int = 15,
    expiry_days: int = 0,
    description: str = "",
    uid: str | None = None,
) -> int:
    """Create or update a data set: its elements (in form order), who reports it, when it is due."""
    require_writer(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = name_problems({**spec, "description": description}, M_("data set"))
    problems += [p for p in [enum_problem(PeriodType, period_type, "periodType")] if p]
    problems += [p for t in unit_types if (p := enum_problem(UnitType, t, "unitTypes"))]
    for name, value in (("timelyDays", due_days), ("expiryDays", expiry_days)):
        if not isinstance(value, int) or not 0 <= value <= 3660:
            problems.append(Problem("out of range", field=name, value=value, expected=N_("0 to 3660 days")))
    element_ids = _element_ids(conn, elements, problems)
    unit_ids = _unit_ids(conn, units, problems)
    if problems:
        raise ValidationError(M_("The data set {code!r} cannot be saved.", code=code), problems)
    values = {
        **spec,
        "uid": uid,
        "period_type": period_type,
        "due_days": due_days,
        "expiry_days": expiry_days,
        "unit_types": sorted(set(unit_types)),
        "description": description,
        "created_at": now(),
    }
    ds_id, created = upsert(conn, store.data_sets, values)
    conn.execute(delete(store.data_set_elements).where(store.data_set_elements.c.data_set_id == ds_id))
    for position, element_id in enumerate(element_ids):
        conn.execute(
            insert(store.data_set_elements).values(
                data_set_id=ds_id, data_element_id=element_id, position=position
            )
        )
    conn.execute(delete(store.data_set_units).where(store.data_set_units.c.data_set_id == ds_id))
    for unit_id in sorted(set(unit_ids)):
        conn.execute(insert(store.data_set_units).values(data_set_id=ds_id, unit_id=unit_id))
    audit_saved(
        conn,
        principal,
        "data_set",
        code,
        created,
        {
            **spec,
            "period_type": period_type,
            "elements": list(elements),
            "unit_types": sorted(set(unit_types)),
            "units": sorted(set(units)),
            "due_days": due_days,
            "expiry_days": expiry_days,
        },
    )
    return ds_id


def _element_ids(conn: Connection, codes: Sequence[str], problems: list[Problem]) -> list[int]:
    table = store.data_elements
    found = dict(conn.execute(select(table.c.code, table.c.id).where(table.c.code.in_(list(codes)))).all())
    found |= dict(conn.execute(select(table.c.uid, table.c.id).where(table.c.uid.in_(list(codes)))).all())
    for i, c in enumerate(codes, 1):
        if c not in found:
            problems.append(
                Problem(
                    "unknown data element",
                    row=i,
                    field="dataSetElements",
                    value=c,
                    expected=N_("the code of a saved data element"),
                )
            )
    return [found[c] for c in codes if c in found]


def _unit_ids(conn: Connection, codes: Sequence[str], problems: list[Problem]) -> list[int]:
    found = registry.ids_of(conn, codes)
    for i, c in enumerate(codes, 1):
        if c not in found:
            problems.append(
                Problem(
                    "unknown unit",
                    row=i,
                    field="organisationUnits",
                    value=c,
                    expected=N_("the code of a unit in the registry"),
                )
            )
    return [found[c] for c in codes if c in found]


def save_indicator(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    name_zh: str,
    name_en: str,
    numerator: str,
    denominator: str = "1",
    display: str = "percent",
    decimals: int = 1,
    numerator_description: str = "",
    denominator_description: str = "",
    description: str = "",
    higher_is_better: bool = True,
    uid: str | None = None,
) -> int:
    """Create or update an indicator; both expressions are parsed (and their elements checked)."""
    require_writer(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = name_problems({**spec, "description": description,
                              "numerator_description": numerator_description,
                              "denominator_description": denominator_description}, M_("indicator"))
    problems += [p for p in [enum_problem(Display, display, "display")] if p]
    if not isinstance(decimals, int) or not 0 <= decimals <= 6:
        problems.append(Problem("out of range", field="decimals", value=decimals, expected="0 to 6"))
    problems += check_expression(conn, numerator, "numerator") + check_expression(
        conn, denominator, "denominator"
    )
    if problems:
        raise ValidationError(M_("The indicator {code!r} cannot be saved.", code=code), problems)
    values = {
        **spec,
        "uid": uid,
        "numerator": numerator,
        "denominator": denominator,
        "display": display,
        "decimals": decimals,
        "numerator_description": numerator_description,
        "denominator_description": denominator_description,
        "description": description,
        "higher_is_better": higher_is_better,
    }
    indicator_id, created = upsert(conn, store.indicators, values)
    audit_saved(conn, principal, "indicator", code, created, {k: v for k, v in values.items() if k != "uid"})
    return indicator_id


def check_expression(conn: Connection, text: str, field: str) -> list[Problem]:
    """Problems with an expression: its syntax, then every element or combo it names."""
    try:
        parsed = expressions.parse(text, field=field)
    except ValidationError as error:
        return error.problems
    catalog = load_catalog(conn)
    problems = []
    for ref in sorted(expressions.references(parsed), key=str):
        element = catalog.element(ref.element)
        if element is None:
            problems.append(
                Problem(
                    N_("unknown data element in expression"),
                    field=field,
                    value=ref.element,
                    expected=N_("the code of a saved data element"),
                )
            )
        elif ref.combo is not None and catalog.option_combo(element, ref.combo) is None:
            known = ", ".join(c.code for c in catalog.cocs_of(element.combo_id))
            problems.append(
                Problem(
                    M_("data element {element} has no option combo {combo!r}",
                       element=ref.element, combo=ref.combo),
                    field=field,
                    value=ref.combo,
                    expected=known,
                )
            )
    return problems


def save_validation_rule(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    name_zh: str,
    name_en: str,
    left: str,
    operator: str,
    right: str,
    period_type: str = "Yearly",
    importance: str = "MEDIUM",
    left_missing: str = "NEVER_SKIP",
    right_missing: str = "NEVER_SKIP",
    description: str = "",
    instruction: str = "",
    uid: str | None = None,
) -> int:
    require_writer(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = name_problems({**spec, "description": description, "instruction": instruction},
                             M_("validation rule"))
    problems += [
        p
        for p in (
            enum_problem(Operator, operator, "operator"),
            enum_problem(Importance, importance, "importance"),
            enum_problem(PeriodType, period_type, "periodType"),
            enum_problem(MissingValueStrategy, left_missing, "leftSide.missingValueStrategy"),
            enum_problem(MissingValueStrategy, right_missing, "rightSide.missingValueStrategy"),
        )
        if p
    ]
    problems += check_expression(conn, left, "leftSide.expression")
    problems += check_expression(conn, right, "rightSide.expression")
    if problems:
        raise ValidationError(M_("The validation rule {code!r} cannot be saved.", code=code), problems)
    values = {
        **spec,
        "uid": uid,
        "left_expression": left,
        "operator": operator,
        "right_expression": right,
        "period_type": period_type,
        "importance": importance,
        "left_missing": left_missing,
        "right_missing": right_missing,
        "description": description,
        "instruction": instruction,
    }
    rule_id, created = upsert(conn, store.validation_rules, values)
    after = {k: v for k, v in values.items() if k != "uid"}
    audit_saved(conn, principal, "validation_rule", code, created, after)
    return rule_id


def delete_object(conn: Connection, *, principal: Principal, kind: str, code: str) -> None:
    """Delete a data element, data set, indicator or validation rule; refused while data uses it."""
    require_writer(principal)
    tables = {
        "dataElements": store.data_elements,
        "dataSets": store.data_sets,
        "indicators": store.indicators,
        "validationRules": store.validation_rules,
    }
    table = tables[kind]
    found = conn.execute(select(table.c.id).where(table.c.code == code)).scalar()
    if found is None:
        raise NotFound(M_("No {kind} with code {code!r}.", kind=kind[:-1], code=code))
    if kind == "dataElements" and _element_has_data(conn, found):
        raise Conflict(M_("The data element {code!r} has data values and cannot be deleted.", code=code))
    if kind == "dataElements":
        conn.execute(
            delete(store.data_set_elements).where(store.data_set_elements.c.data_element_id == found)
        )
        conn.execute(delete(store.min_max).where(store.min_max.c.data_element_id == found))
    conn.execute(delete(table).where(table.c.id == found))
    audit.record(conn, actor=principal.username, action="delete", entity=kind, entity_key=code)
