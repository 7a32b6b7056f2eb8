"""The metadata catalog: every data element, option combo and data set, read once into plain
lookups by code and uid for the fast paths (imports, forms, rule runs, computations).

A transaction reads it once: :func:`load_catalog` keeps it on the connection until the transaction
ends or the connection runs any statement but a ``SELECT`` (a write, a savepoint, DDL), so a page
that asks for it in several places, or an annual report with a query per figure, pays for it once.

And the process keeps it across requests (:func:`kept_across_requests`, :mod:`jiaowei.db.kept`):
triggers (migration 0018) set the ``catalog`` row of ``metadata_stamps`` to a new random value in the
transaction of every write to the catalog's tables, so a request reads the stamps (one statement)
and reads the catalog's five statements only when no catalog was kept under that stamp (each
statement a round trip on PostgreSQL; issue 17). The indicators' definitions (``targets/compute.py``)
are kept the same way. Callers treat both as read-only: one catalog serves every request and thread
of the process.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, select

from jiaowei.db.kept import forget_kept as forget_kept  # the tests' name for it
from jiaowei.db.kept import kept, stamps
from jiaowei.db.memo import per_transaction
from jiaowei.indicators import store
from jiaowei.indicators.model import DEFAULT, AggregationType, ValueType

T = TypeVar("T")


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
    """The catalog as ``conn``'s transaction sees it (read once per transaction and kept by the
    process under the metadata stamp, see above)."""
    return per_transaction(conn, "indicators.catalog",
                           lambda: kept_across_requests(conn, "catalog", lambda: _read_catalog(conn)))


def metadata_stamp(conn: Connection) -> str | None:
    """The stamp of the catalog's tables as ``conn``'s transaction sees it (:func:`jiaowei.db.kept.stamps`:
    read once per transaction with every other area's stamp)."""
    return stamps(conn).get("catalog")


def kept_across_requests(conn: Connection, name: str, read: Callable[[], T]) -> T:
    """``read()``, or what it returned for an earlier request of this process under the catalog's
    stamp (:func:`jiaowei.db.kept.kept`). ``read`` must read only the catalog's tables (migration 0018)."""
    return kept(conn, "catalog", name, read)


def _read_catalog(conn: Connection) -> Catalog:
    catalog = Catalog()
    combos, links, cats = store.category_combos, store.category_combo_categories, store.categories
    rows = conn.execute(  # each combo with its categories' codes in order (one statement, not three)
        select(combos.c.id, combos.c.code, cats.c.code.label("category"))
        .select_from(combos.outerjoin(links, links.c.combo_id == combos.c.id)
                     .outerjoin(cats, cats.c.id == links.c.category_id))
        .order_by(combos.c.id, links.c.position)
    ).all()
    for combo_id, group in itertools.groupby(rows, key=lambda r: r.id):
        found = list(group)
        catalog.combos[combo_id] = found[0].code
        if found[0].category is not None:
            catalog.combo_categories[combo_id] = tuple(r.category for r in found)
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
    units: dict[int, set[int]] = {}
    for r in conn.execute(select(store.data_set_units)):
        units.setdefault(r.data_set_id, set()).add(r.unit_id)
    sets, members = store.data_sets, store.data_set_elements
    rows = conn.execute(  # each data set once per element, in order (one statement, not two)
        select(sets, members.c.data_element_id.label("member"))
        .select_from(sets.outerjoin(members, members.c.data_set_id == sets.c.id))
        .order_by(sets.c.code, members.c.position)
    ).all()
    for _, group in itertools.groupby(rows, key=lambda row: row.id):
        found = list(group)
        r = found[0]
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
            tuple(m.member for m in found if m.member is not None),
        )
        catalog.data_sets[r.id] = ds
        catalog.data_set_by_key[r.code] = ds
        catalog.data_set_by_key[r.uid] = ds
