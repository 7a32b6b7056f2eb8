"""Categories and category combos: their options, the option combos generated from them, and the
checks that keep combinations with data values from changing.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Principal
from jiaowei.db.engine import inserted_id
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, NotFound, Problem, ValidationError
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import OptionCombo, load_catalog
from jiaowei.indicators.metadata.writing import audit_saved, name_problems, require_writer, upsert
from jiaowei.indicators.model import DEFAULT, MAX_COMBINATIONS, new_uid


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
    require_writer(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = name_problems(spec, M_("category"))
    problems += _option_problems(options)
    if problems:
        raise ValidationError(M_("The category {code!r} cannot be saved.", code=code), problems)
    cat_id, created = upsert(conn, store.categories, {**spec, "uid": uid})
    if not created:
        _check_options_kept(conn, cat_id, code, [o["code"] for o in options])
    _write_options(conn, cat_id, options)
    audit_saved(conn, principal, "category", code, created, {**spec, "options": [o["code"] for o in options]})
    return cat_id


def _option_problems(options: Sequence[Mapping[str, str]]) -> list[Problem]:
    problems: list[Problem] = []
    if not options:
        problems.append(
            Problem(
                N_("a category needs at least one option"),
                field="categoryOptions",
                value=[],
                expected=N_("one or more options"),
            )
        )
    seen: set[str] = set()
    for i, option in enumerate(options, 1):
        problems += name_problems(option, M_("category option"), row=i)
        if option.get("code") in seen:
            problems.append(Problem(N_("duplicate option code"), row=i, field="code",
                                    value=option.get("code")))
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
            M_("The options of category {code!r} cannot change: data values use its combinations.",
               code=code),
            [
                Problem(
                    N_("options differ from the saved ones"),
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
        Problem(N_("unknown category"), row=i, field="categories", value=c,
                expected=N_("the code of a category"))
        for i, c in enumerate(codes, 1)
        if c not in found
    ]
    if len(set(codes)) != len(codes):
        problems.append(Problem(N_("a category appears twice"), field="categories", value=list(codes)))
    if problems:
        raise ValidationError(N_("The category combo's categories are not valid."), problems)
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
    require_writer(principal)
    spec = {"code": code, "name_zh": name_zh, "name_en": name_en}
    problems = name_problems(spec, M_("category combo"))
    if problems:
        raise ValidationError(M_("The category combo {code!r} cannot be saved.", code=code), problems)
    ids = _category_ids(conn, categories)
    count = count_combinations(conn, categories=categories)
    if count > MAX_COMBINATIONS:
        raise ValidationError(
            M_("The category combo {code!r} would have {count:,} combinations.", code=code, count=count),
            [
                Problem(
                    N_("too many combinations"),
                    field="categories",
                    value=list(categories),
                    expected=M_("at most {most:,} combinations", most=MAX_COMBINATIONS),
                )
            ],
        )
    combo_id, created = upsert(conn, store.category_combos, {**spec, "uid": uid})
    link = store.category_combo_categories
    old = (
        conn.execute(select(link.c.category_id).where(link.c.combo_id == combo_id).order_by(link.c.position))
        .scalars()
        .all()
    )
    if list(old) != ids:
        if not created and _combo_has_data(conn, combo_id):
            raise Conflict(M_("The categories of combo {code!r} cannot change: data values use it.",
                              code=code))
        conn.execute(delete(link).where(link.c.combo_id == combo_id))
        for position, cat_id in enumerate(ids):
            conn.execute(insert(link).values(combo_id=combo_id, position=position, category_id=cat_id))
    _generate_option_combos(conn, combo_id)
    audit_saved(conn, principal, "category_combo", code, created, {**spec, "categories": list(categories)})
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


def combo_id_for(conn: Connection, code: str | None, row: int | None = None) -> int:
    if code in (None, "", DEFAULT):
        return ensure_default_combo(conn)
    found = conn.execute(
        select(store.category_combos.c.id).where(
            (store.category_combos.c.code == code) | (store.category_combos.c.uid == code)
        )
    ).scalar()
    if found is None:
        raise ValidationError(
            N_("Unknown category combo."),
            [
                Problem(
                    N_("unknown category combo"),
                    row=row,
                    field="categoryCombo",
                    value=code,
                    expected=N_("the code of a saved category combo, or default"),
                )
            ],
        )
    return int(found)


def delete_category(conn: Connection, *, principal: Principal, code: str) -> None:
    """Delete a category and its options; refused while a category combo uses it."""
    require_writer(principal)
    found = conn.execute(select(store.categories.c.id).where(store.categories.c.code == code)).scalar()
    if found is None:
        raise NotFound(M_("No category with code {code!r}.", code=code))
    link = store.category_combo_categories
    used = conn.execute(
        select(store.category_combos.c.code)
        .join(link, link.c.combo_id == store.category_combos.c.id)
        .where(link.c.category_id == found)
        .order_by(store.category_combos.c.code)
    ).scalars().all()
    if used:
        raise Conflict(
            M_("The category {code!r} is used by category combos and cannot be deleted.", code=code),
            [Problem(N_("used by category combos"), field="categoryCombos", value=list(used))],
        )
    conn.execute(delete(store.category_options).where(store.category_options.c.category_id == found))
    conn.execute(delete(store.categories).where(store.categories.c.id == found))
    audit.record(conn, actor=principal.username, action="delete", entity="category", entity_key=code)


def delete_category_combo(conn: Connection, *, principal: Principal, code: str) -> None:
    """Delete a category combo and its option combos; refused while data elements use it."""
    require_writer(principal)
    combos = store.category_combos
    found = conn.execute(select(combos.c.id).where(combos.c.code == code)).scalar()
    if found is None:
        raise NotFound(M_("No category combo with code {code!r}.", code=code))
    if code == DEFAULT:
        raise Conflict(N_("The default category combo cannot be deleted."))
    used = conn.execute(
        select(store.data_elements.c.code).where(store.data_elements.c.combo_id == found).order_by("code")
    ).scalars().all()
    if used:
        raise Conflict(
            M_("The category combo {code!r} is used by data elements and cannot be deleted.", code=code),
            [Problem(N_("used by data elements"), field="dataElements", value=list(used))],
        )
    cocs = select(store.category_option_combos.c.id).where(store.category_option_combos.c.combo_id == found)
    if _combo_has_data(conn, found) or conn.execute(
        select(store.min_max.c.unit_id).where(store.min_max.c.coc_id.in_(cocs)).limit(1)
    ).first():
        raise Conflict(M_("The category combo {code!r} has data values and cannot be deleted.", code=code))
    conn.execute(delete(store.category_option_combos).where(store.category_option_combos.c.combo_id == found))
    link = store.category_combo_categories
    conn.execute(delete(link).where(link.c.combo_id == found))
    conn.execute(delete(combos).where(combos.c.id == found))
    audit.record(conn, actor=principal.username, action="delete", entity="category_combo", entity_key=code)


@dataclass(frozen=True)
class CategorySummary:
    """A category and its number of options."""

    code: str
    name_zh: str
    name_en: str
    options: int


@dataclass(frozen=True)
class ComboSummary:
    """A category combo, its categories (codes, in order) and its option combos."""

    code: str
    name_zh: str
    name_en: str
    categories: list[str]
    option_combos: list[OptionCombo]


def list_categories(conn: Connection) -> list[CategorySummary]:
    """Every category with its number of options, by code (for forms and the combination preview)."""
    cats, opts = store.categories, store.category_options
    query = (
        select(cats.c.code, cats.c.name_zh, cats.c.name_en, func.count(opts.c.id).label("options"))
        .outerjoin(opts, opts.c.category_id == cats.c.id)
        .group_by(cats.c.id, cats.c.code, cats.c.name_zh, cats.c.name_en)
        .order_by(cats.c.code)
    )
    return [CategorySummary(r.code, r.name_zh, r.name_en, int(r.options)) for r in conn.execute(query)]


def list_category_combos(conn: Connection) -> list[ComboSummary]:
    """Every category combo with its categories (codes, in order) and its option combos."""
    catalog = load_catalog(conn)
    combos = store.category_combos
    rows = conn.execute(
        select(combos.c.id, combos.c.code, combos.c.name_zh, combos.c.name_en).order_by(combos.c.code)
    )
    return [
        ComboSummary(
            code=r.code,
            name_zh=r.name_zh,
            name_en=r.name_en,
            categories=list(catalog.combo_categories.get(r.id, ())),
            option_combos=catalog.cocs_of(r.id),
        )
        for r in rows
    ]
