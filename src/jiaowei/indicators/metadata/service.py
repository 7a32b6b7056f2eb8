"""Metadata use cases: categories, category combos, data elements, data sets, indicators and
validation rules, created or updated by code, one at a time or as a DHIS2 metadata bundle.

Every function takes keyword arguments, checks the principal may write metadata, writes the
audit log and never commits. :func:`load_catalog` reads everything once into plain lookups for
the fast paths (imports, forms, rule runs).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.db.engine import inserted_id
from jiaowei.errors import Conflict, NotFound, Problem, ValidationError
from jiaowei.indicators import store
from jiaowei.indicators.model import (
    DEFAULT,
    MAX_COMBINATIONS,
    AggregationType,
    Display,
    Importance,
    ValueType,
    check_code,
    choices,
    new_uid,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------- the catalog


@dataclass(frozen=True)
class Element:
    id: int
    uid: str
    code: str
    name_zh: str
    name_en: str
    value_type: ValueType
    aggregation_type: AggregationType
    combo_id: int
    zero_is_significant: bool


@dataclass(frozen=True)
class OptionCombo:
    id: int
    uid: str
    code: str
    combo_id: int
    name_zh: str
    name_en: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class DataSet:
    id: int
    uid: str
    code: str
    name_zh: str
    name_en: str
    period_type: str
    due_days: int
    expiry_days: int
    unit_types: frozenset[str]
    unit_ids: frozenset[int]
    element_ids: tuple[int, ...]


@dataclass
class Catalog:
    """Every data element, option combo and data set, with lookups by code and uid."""

    elements: dict[int, Element] = field(default_factory=dict)
    element_by_key: dict[str, Element] = field(default_factory=dict)
    combos: dict[int, str] = field(default_factory=dict)  # combo id -> code
    combo_categories: dict[int, tuple[str, ...]] = field(default_factory=dict)  # category codes
    option_combos: dict[int, OptionCombo] = field(default_factory=dict)
    coc_by_key: dict[tuple[int, str], OptionCombo] = field(default_factory=dict)  # (combo id, code|uid)
    data_sets: dict[int, DataSet] = field(default_factory=dict)
    data_set_by_key: dict[str, DataSet] = field(default_factory=dict)
    default_coc: int = 0

    def element(self, key: str) -> Element | None:
        return self.element_by_key.get(key)

    def option_combo(self, element: Element, key: str | None) -> OptionCombo | None:
        return self.coc_by_key.get((element.combo_id, key or DEFAULT))

    def cocs_of(self, combo_id: int) -> list[OptionCombo]:
        return [c for c in self.option_combos.values() if c.combo_id == combo_id]

    def data_set(self, key: str) -> DataSet | None:
        return self.data_set_by_key.get(key)

    def data_sets_with(self, element_id: int) -> list[DataSet]:
        return [ds for ds in self.data_sets.values() if element_id in ds.element_ids]


def load_catalog(conn: Connection) -> Catalog:
    catalog = Catalog()
    for r in conn.execute(select(store.category_combos.c.id, store.category_combos.c.code)):
        catalog.combos[r.id] = r.code
    cats = dict(conn.execute(select(store.categories.c.id, store.categories.c.code)).all())
    links = conn.execute(select(store.category_combo_categories).order_by("combo_id", "position")).all()
    for combo_id, group in itertools.groupby(links, key=lambda r: r.combo_id):
        catalog.combo_categories[combo_id] = tuple(cats[r.category_id] for r in group)
    for r in conn.execute(select(store.category_option_combos).order_by("combo_id", "position")):
        coc = OptionCombo(r.id, r.uid, r.code, r.combo_id, r.name_zh, r.name_en, tuple(r.options))
        catalog.option_combos[r.id] = coc
        catalog.coc_by_key[(r.combo_id, r.code)] = coc
        catalog.coc_by_key[(r.combo_id, r.uid)] = coc
        if r.code == DEFAULT and catalog.combos.get(r.combo_id) == DEFAULT:
            catalog.default_coc = r.id
    for r in conn.execute(select(store.data_elements)):
        element = Element(
            r.id,
            r.uid,
            r.code,
            r.name_zh,
            r.name_en,
            ValueType(r.value_type),
            AggregationType(r.aggregation_type),
            r.combo_id,
            bool(r.zero_is_significant),
        )
        catalog.elements[r.id] = element
        catalog.element_by_key[r.code] = element
        catalog.element_by_key[r.uid] = element
    _load_data_sets(conn, catalog)
    return catalog


def _load_data_sets(conn: Connection, catalog: Catalog) -> None:
    members: dict[int, list[int]] = {}
    for r in conn.execute(select(store.data_set_elements).order_by("data_set_id", "position")):
        members.setdefault(r.data_set_id, []).append(r.data_element_id)
    units: dict[int, set[int]] = {}
    for r in conn.execute(select(store.data_set_units)):
        units.setdefault(r.data_set_id, set()).add(r.unit_id)
    for r in conn.execute(select(store.data_sets).order_by(store.data_sets.c.code)):
        ds = DataSet(
            r.id,
            r.uid,
            r.code,
            r.name_zh,
            r.name_en,
            r.period_type,
            r.due_days,
            r.expiry_days,
            frozenset(r.unit_types or []),
            frozenset(units.get(r.id, set())),
            tuple(members.get(r.id, [])),
        )
        catalog.data_sets[r.id] = ds
        catalog.data_set_by_key[r.code] = ds
        catalog.data_set_by_key[r.uid] = ds


# ---------------------------------------------------------------- writing, one object at a time


def _require(principal: Principal) -> None:
    require_action(principal, Action.METADATA_WRITE)


def _names(spec: Mapping[str, Any], kind: str, row: int | None = None) -> list[Problem]:
    problems = []
    for key in ("name_zh", "name_en"):
        value = spec.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > 230:
            problems.append(
                Problem(
                    f"the {kind} needs a name",
                    row=row,
                    field=key,
                    value=value,
                    expected="text of 1 to 230 characters",
                )
            )
    code_problem = check_code(spec.get("code"), field="code", row=row)
    return ([code_problem] if code_problem else []) + problems


def _enum_problem(enum: Any, value: Any, field: str, row: int | None = None) -> Problem | None:
    if value not in {m.value for m in enum}:
        return Problem(f"unknown {field}", row=row, field=field, value=value, expected=choices(enum))
    return None


def _upsert(conn: Connection, table: Any, values: dict[str, Any]) -> tuple[int, bool]:
    """Insert or update the row with ``values['code']``; returns (id, created)."""
    found = conn.execute(select(table.c.id, table.c.uid).where(table.c.code == values["code"])).first()
    if found is None:
        values = {"uid": values.get("uid") or new_uid(), **{k: v for k, v in values.items() if k != "uid"}}
        return inserted_id(conn.execute(insert(table).values(**values))), True
    values = {k: v for k, v in values.items() if k not in ("uid", "created_at")}
    conn.execute(update(table).where(table.c.id == found.id).values(**values))
    return int(found.id), False


def _audit(conn: Connection, principal: Principal, entity: str, code: str, created: bool, after: Any) -> None:
    audit.record(
        conn,
        actor=principal.username,
        action="create" if created else "update",
        entity=entity,
        entity_key=code,
        after=after,
    )


def save_category(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    name_zh: str,
    name_en: str,
    options: Sequence[Mapping[str, str]],
    uid: str | None = None,
) -> int:
    """Create or update a category with its options (each ``code``, ``name_zh``, ``name_en``)."""
    _require(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = _names(spec, "category")
    problems += _option_problems(options)
    if problems:
        raise ValidationError(f"The category {code!r} cannot be saved.", problems)
    cat_id, created = _upsert(conn, store.categories, {**spec, "uid": uid})
    if not created:
        _check_options_kept(conn, cat_id, code, [o["code"] for o in options])
    _write_options(conn, cat_id, options)
    _audit(conn, principal, "category", code, created, {**spec, "options": [o["code"] for o in options]})
    return cat_id


def _option_problems(options: Sequence[Mapping[str, str]]) -> list[Problem]:
    problems: list[Problem] = []
    if not options:
        problems.append(
            Problem(
                "a category needs at least one option",
                field="categoryOptions",
                value=[],
                expected="one or more options",
            )
        )
    seen: set[str] = set()
    for i, option in enumerate(options, 1):
        problems += _names(option, "category option", row=i)
        if option.get("code") in seen:
            problems.append(Problem("duplicate option code", row=i, field="code", value=option.get("code")))
        seen.add(str(option.get("code")))
    return problems


def _check_options_kept(conn: Connection, cat_id: int, code: str, new_codes: list[str]) -> None:
    old = (
        conn.execute(
            select(store.category_options.c.code).where(store.category_options.c.category_id == cat_id)
        )
        .scalars()
        .all()
    )
    if list(old) != list(new_codes) and _category_has_data(conn, cat_id):
        raise Conflict(
            f"The options of category {code!r} cannot change: data values use its combinations.",
            [
                Problem(
                    "options differ from the saved ones",
                    field="categoryOptions",
                    value=new_codes,
                    expected=", ".join(old),
                )
            ],
        )


def _category_has_data(conn: Connection, cat_id: int) -> bool:
    combos = select(store.category_combo_categories.c.combo_id).where(
        store.category_combo_categories.c.category_id == cat_id
    )
    cocs = select(store.category_option_combos.c.id).where(
        store.category_option_combos.c.combo_id.in_(combos)
    )
    return (
        conn.execute(
            select(store.data_values.c.value).where(store.data_values.c.coc_id.in_(cocs)).limit(1)
        ).first()
        is not None
    )


def _write_options(conn: Connection, cat_id: int, options: Sequence[Mapping[str, str]]) -> None:
    table = store.category_options
    existing = dict(conn.execute(select(table.c.code, table.c.id).where(table.c.category_id == cat_id)).all())
    keep = {o["code"] for o in options}
    conn.execute(delete(table).where(table.c.category_id == cat_id, table.c.code.not_in(keep)))
    for position, option in enumerate(options):
        values = {"name_zh": option["name_zh"], "name_en": option["name_en"], "position": position}
        if option["code"] in existing:
            conn.execute(update(table).where(table.c.id == existing[option["code"]]).values(**values))
        else:
            conn.execute(
                insert(table).values(
                    uid=option.get("uid") or new_uid(), category_id=cat_id, code=option["code"], **values
                )
            )
    for combo_id in (
        conn.execute(
            select(store.category_combo_categories.c.combo_id).where(
                store.category_combo_categories.c.category_id == cat_id
            )
        )
        .scalars()
        .all()
    ):
        _generate_option_combos(conn, combo_id)


def count_combinations(conn: Connection, *, categories: Sequence[str]) -> int:
    """How many option combos a combo of ``categories`` would have: shown before it is saved."""
    ids = _category_ids(conn, categories)
    total = 1
    for cat_id in ids:
        total *= conn.execute(
            select(func.count())
            .select_from(store.category_options)
            .where(store.category_options.c.category_id == cat_id)
        ).scalar_one()
    return total


def _category_ids(conn: Connection, codes: Sequence[str]) -> list[int]:
    found = dict(
        conn.execute(
            select(store.categories.c.code, store.categories.c.id).where(
                store.categories.c.code.in_(list(codes))
            )
        ).all()
    )
    problems = [
        Problem("unknown category", row=i, field="categories", value=c, expected="the code of a category")
        for i, c in enumerate(codes, 1)
        if c not in found
    ]
    if len(set(codes)) != len(codes):
        problems.append(Problem("a category appears twice", field="categories", value=list(codes)))
    if problems:
        raise ValidationError("The category combo's categories are not valid.", problems)
    return [found[c] for c in codes]


def save_category_combo(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    name_zh: str,
    name_en: str,
    categories: Sequence[str],
    uid: str | None = None,
) -> int:
    """Create or update a combo of ``categories`` (in order) and generate its option combos."""
    _require(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = _names(spec, "category combo")
    if problems:
        raise ValidationError(f"The category combo {code!r} cannot be saved.", problems)
    ids = _category_ids(conn, categories)
    count = count_combinations(conn, categories=categories)
    if count > MAX_COMBINATIONS:
        raise ValidationError(
            f"The category combo {code!r} would have {count:,} combinations.",
            [
                Problem(
                    "too many combinations",
                    field="categories",
                    value=list(categories),
                    expected=f"at most {MAX_COMBINATIONS:,} combinations",
                )
            ],
        )
    combo_id, created = _upsert(conn, store.category_combos, {**spec, "uid": uid})
    link = store.category_combo_categories
    old = (
        conn.execute(select(link.c.category_id).where(link.c.combo_id == combo_id).order_by(link.c.position))
        .scalars()
        .all()
    )
    if list(old) != ids:
        if not created and _combo_has_data(conn, combo_id):
            raise Conflict(f"The categories of combo {code!r} cannot change: data values use it.")
        conn.execute(delete(link).where(link.c.combo_id == combo_id))
        for position, cat_id in enumerate(ids):
            conn.execute(insert(link).values(combo_id=combo_id, position=position, category_id=cat_id))
    _generate_option_combos(conn, combo_id)
    _audit(conn, principal, "category_combo", code, created, {**spec, "categories": list(categories)})
    return combo_id


def _combo_has_data(conn: Connection, combo_id: int) -> bool:
    cocs = select(store.category_option_combos.c.id).where(
        store.category_option_combos.c.combo_id == combo_id
    )
    return (
        conn.execute(
            select(store.data_values.c.value).where(store.data_values.c.coc_id.in_(cocs)).limit(1)
        ).first()
        is not None
    )


def _generate_option_combos(conn: Connection, combo_id: int) -> None:
    """Make the combo's option combos the cross product of its categories' options, in order."""
    link, opts, cocs = store.category_combo_categories, store.category_options, store.category_option_combos
    cat_ids = (
        conn.execute(select(link.c.category_id).where(link.c.combo_id == combo_id).order_by(link.c.position))
        .scalars()
        .all()
    )
    per_category = [
        conn.execute(
            select(opts.c.code, opts.c.name_zh, opts.c.name_en)
            .where(opts.c.category_id == c)
            .order_by(opts.c.position)
        ).all()
        for c in cat_ids
    ]
    wanted = {}
    for position, product in enumerate(itertools.product(*per_category)):
        codes = [o.code for o in product]
        code = "_".join(codes) if codes else DEFAULT
        wanted[code] = {
            "name_zh": "，".join(o.name_zh for o in product) or "默认",
            "name_en": ", ".join(o.name_en for o in product) or "default",
            "options": codes,
            "position": position,
        }
    existing = dict(conn.execute(select(cocs.c.code, cocs.c.id).where(cocs.c.combo_id == combo_id)).all())
    stale = [i for c, i in existing.items() if c not in wanted]
    if stale:
        conn.execute(delete(cocs).where(cocs.c.id.in_(stale)))
    for code, values in wanted.items():
        if code in existing:
            conn.execute(update(cocs).where(cocs.c.id == existing[code]).values(**values))
        else:
            conn.execute(insert(cocs).values(uid=new_uid(), combo_id=combo_id, code=code, **values))


def ensure_default_combo(conn: Connection) -> int:
    """The ``default`` category combo (no disaggregation), created on first use."""
    found = conn.execute(
        select(store.category_combos.c.id).where(store.category_combos.c.code == DEFAULT)
    ).scalar()
    if found is not None:
        return int(found)
    combo_id = inserted_id(
        conn.execute(
            insert(store.category_combos).values(
                uid="bjDvmb4bfuf", code=DEFAULT, name_zh="默认", name_en="default"
            )
        )
    )
    conn.execute(
        insert(store.category_option_combos).values(
            uid="HllvX50cXC0",
            combo_id=combo_id,
            code=DEFAULT,
            name_zh="默认",
            name_en="default",
            options=[],
            position=0,
        )
    )
    return combo_id


def _combo_id(conn: Connection, code: str | None, row: int | None = None) -> int:
    if code in (None, "", DEFAULT):
        return ensure_default_combo(conn)
    found = conn.execute(
        select(store.category_combos.c.id).where(
            (store.category_combos.c.code == code) | (store.category_combos.c.uid == code)
        )
    ).scalar()
    if found is None:
        raise ValidationError(
            "Unknown category combo.",
            [
                Problem(
                    "unknown category combo",
                    row=row,
                    field="categoryCombo",
                    value=code,
                    expected="the code of a saved category combo, or default",
                )
            ],
        )
    return int(found)


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
    _require(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = _names(spec, "data element")
    problems += [
        p
        for p in (
            _enum_problem(ValueType, value_type, "valueType"),
            _enum_problem(AggregationType, aggregation_type, "aggregationType"),
        )
        if p
    ]
    if problems:
        raise ValidationError(f"The data element {code!r} cannot be saved.", problems)
    combo_id = _combo_id(conn, category_combo)
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
            f"The data element {code!r} has data values: its category combo and value type cannot change.",
            [
                Problem(
                    "would change with data present",
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
        "created_at": _now(),
    }
    element_id, created = _upsert(conn, table, values)
    _audit(
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
    from jiaowei.indicators.periods import PeriodType
    from jiaowei.registry.model import UnitType

    _require(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = _names(spec, "data set")
    problems += [p for p in [_enum_problem(PeriodType, period_type, "periodType")] if p]
    problems += [p for t in unit_types if (p := _enum_problem(UnitType, t, "unitTypes"))]
    for name, value in (("timelyDays", due_days), ("expiryDays", expiry_days)):
        if not isinstance(value, int) or not 0 <= value <= 3660:
            problems.append(Problem("out of range", field=name, value=value, expected="0 to 3660 days"))
    element_ids = _element_ids(conn, elements, problems)
    unit_ids = _unit_ids(conn, units, problems)
    if problems:
        raise ValidationError(f"The data set {code!r} cannot be saved.", problems)
    values = {
        **spec,
        "uid": uid,
        "period_type": period_type,
        "due_days": due_days,
        "expiry_days": expiry_days,
        "unit_types": sorted(set(unit_types)),
        "description": description,
        "created_at": _now(),
    }
    ds_id, created = _upsert(conn, store.data_sets, values)
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
    _audit(
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
                    expected="the code of a saved data element",
                )
            )
    return [found[c] for c in codes if c in found]


def _unit_ids(conn: Connection, codes: Sequence[str], problems: list[Problem]) -> list[int]:
    from jiaowei.registry.store import units

    found = dict(conn.execute(select(units.c.code, units.c.id).where(units.c.code.in_(list(codes)))).all())
    for i, c in enumerate(codes, 1):
        if c not in found:
            problems.append(
                Problem(
                    "unknown unit",
                    row=i,
                    field="organisationUnits",
                    value=c,
                    expected="the code of a unit in the registry",
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
    _require(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = _names(spec, "indicator")
    problems += [p for p in [_enum_problem(Display, display, "display")] if p]
    if not isinstance(decimals, int) or not 0 <= decimals <= 6:
        problems.append(Problem("out of range", field="decimals", value=decimals, expected="0 to 6"))
    problems += check_expression(conn, numerator, "numerator") + check_expression(
        conn, denominator, "denominator"
    )
    if problems:
        raise ValidationError(f"The indicator {code!r} cannot be saved.", problems)
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
    indicator_id, created = _upsert(conn, store.indicators, values)
    _audit(conn, principal, "indicator", code, created, {k: v for k, v in values.items() if k != "uid"})
    return indicator_id


def check_expression(conn: Connection, text: str, field: str) -> list[Problem]:
    """Problems with an expression: its syntax, then every element or combo it names."""
    from jiaowei.indicators import expressions

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
                    "unknown data element in expression",
                    field=field,
                    value=ref.element,
                    expected="the code of a saved data element",
                )
            )
        elif ref.combo is not None and catalog.option_combo(element, ref.combo) is None:
            known = ", ".join(c.code for c in catalog.cocs_of(element.combo_id))
            problems.append(
                Problem(
                    f"data element {ref.element} has no option combo {ref.combo!r}",
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
    from jiaowei.indicators.expressions import MissingValueStrategy, Operator
    from jiaowei.indicators.periods import PeriodType

    _require(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = _names(spec, "validation rule")
    problems += [
        p
        for p in (
            _enum_problem(Operator, operator, "operator"),
            _enum_problem(Importance, importance, "importance"),
            _enum_problem(PeriodType, period_type, "periodType"),
            _enum_problem(MissingValueStrategy, left_missing, "leftSide.missingValueStrategy"),
            _enum_problem(MissingValueStrategy, right_missing, "rightSide.missingValueStrategy"),
        )
        if p
    ]
    problems += check_expression(conn, left, "leftSide.expression")
    problems += check_expression(conn, right, "rightSide.expression")
    if problems:
        raise ValidationError(f"The validation rule {code!r} cannot be saved.", problems)
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
    rule_id, created = _upsert(conn, store.validation_rules, values)
    _audit(conn, principal, "validation_rule", code, created, {k: v for k, v in values.items() if k != "uid"})
    return rule_id


def delete_object(conn: Connection, *, principal: Principal, kind: str, code: str) -> None:
    """Delete a data element, data set, indicator or validation rule; refused while data uses it."""
    _require(principal)
    tables = {
        "dataElements": store.data_elements,
        "dataSets": store.data_sets,
        "indicators": store.indicators,
        "validationRules": store.validation_rules,
    }
    table = tables[kind]
    found = conn.execute(select(table.c.id).where(table.c.code == code)).scalar()
    if found is None:
        raise NotFound(f"No {kind[:-1]} with code {code!r}.")
    if kind == "dataElements" and _element_has_data(conn, found):
        raise Conflict(f"The data element {code!r} has data values and cannot be deleted.")
    if kind == "dataElements":
        conn.execute(
            delete(store.data_set_elements).where(store.data_set_elements.c.data_element_id == found)
        )
        conn.execute(delete(store.min_max).where(store.min_max.c.data_element_id == found))
    conn.execute(delete(table).where(table.c.id == found))
    audit.record(conn, actor=principal.username, action="delete", entity=kind, entity_key=code)


def delete_category(conn: Connection, *, principal: Principal, code: str) -> None:
    """Delete a category and its options; refused while a category combo uses it."""
    _require(principal)
    found = conn.execute(select(store.categories.c.id).where(store.categories.c.code == code)).scalar()
    if found is None:
        raise NotFound(f"No category with code {code!r}.")
    link = store.category_combo_categories
    used = conn.execute(
        select(store.category_combos.c.code)
        .join(link, link.c.combo_id == store.category_combos.c.id)
        .where(link.c.category_id == found)
        .order_by(store.category_combos.c.code)
    ).scalars().all()
    if used:
        raise Conflict(
            f"The category {code!r} is used by category combos and cannot be deleted.",
            [Problem("used by category combos", field="categoryCombos", value=list(used))],
        )
    conn.execute(delete(store.category_options).where(store.category_options.c.category_id == found))
    conn.execute(delete(store.categories).where(store.categories.c.id == found))
    audit.record(conn, actor=principal.username, action="delete", entity="category", entity_key=code)


def delete_category_combo(conn: Connection, *, principal: Principal, code: str) -> None:
    """Delete a category combo and its option combos; refused while data elements use it."""
    _require(principal)
    combos = store.category_combos
    found = conn.execute(select(combos.c.id).where(combos.c.code == code)).scalar()
    if found is None:
        raise NotFound(f"No category combo with code {code!r}.")
    if code == DEFAULT:
        raise Conflict("The default category combo cannot be deleted.")
    used = conn.execute(
        select(store.data_elements.c.code).where(store.data_elements.c.combo_id == found).order_by("code")
    ).scalars().all()
    if used:
        raise Conflict(
            f"The category combo {code!r} is used by data elements and cannot be deleted.",
            [Problem("used by data elements", field="dataElements", value=list(used))],
        )
    cocs = select(store.category_option_combos.c.id).where(store.category_option_combos.c.combo_id == found)
    if _combo_has_data(conn, found) or conn.execute(
        select(store.min_max.c.unit_id).where(store.min_max.c.coc_id.in_(cocs)).limit(1)
    ).first():
        raise Conflict(f"The category combo {code!r} has data values and cannot be deleted.")
    conn.execute(delete(store.category_option_combos).where(store.category_option_combos.c.combo_id == found))
    link = store.category_combo_categories
    conn.execute(delete(link).where(link.c.combo_id == found))
    conn.execute(delete(combos).where(combos.c.id == found))
    audit.record(conn, actor=principal.username, action="delete", entity="category_combo", entity_key=code)


def list_categories(conn: Connection) -> list[dict[str, Any]]:
    """Every category with its number of options, by code (for forms and the combination preview)."""
    cats, opts = store.categories, store.category_options
    query = (
        select(cats.c.code, cats.c.name_zh, cats.c.name_en, func.count(opts.c.id).label("options"))
        .outerjoin(opts, opts.c.category_id == cats.c.id)
        .group_by(cats.c.id, cats.c.code, cats.c.name_zh, cats.c.name_en)
        .order_by(cats.c.code)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def list_category_combos(conn: Connection) -> list[dict[str, Any]]:
    """Every category combo with its categories (codes, in order) and its option combos."""
    catalog = load_catalog(conn)
    combos = store.category_combos
    rows = conn.execute(
        select(combos.c.id, combos.c.code, combos.c.name_zh, combos.c.name_en).order_by(combos.c.code)
    )
    return [
        {
            "code": r.code,
            "name_zh": r.name_zh,
            "name_en": r.name_en,
            "categories": list(catalog.combo_categories.get(r.id, ())),
            "option_combos": catalog.cocs_of(r.id),
        }
        for r in rows
    ]
