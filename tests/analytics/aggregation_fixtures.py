"""Generated worlds for the aggregation tests, built through jiaowei's own services.

A world is a commission (``SH``, level 1), districts (level 2) and schools (level 3), some of
which move between districts on a given day; metadata with a two-category combo (sex × area)
and one element per aggregation type; and values saved through the values service. Tests ask
questions in codes (:class:`reference.Ask`); :func:`ask_engine` turns one into a
:class:`CubeQuery`, runs it and turns the cells back into codes, to compare with
:func:`reference.expected`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import Connection, select

from jiaowei.analytics.engine import cube_for
from jiaowei.analytics.indicators import indicator_cells
from jiaowei.analytics.model import Cell, CubeQuery, Measure
from jiaowei.auth.model import SYSTEM
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.model import AggregationType, ValueRow
from jiaowei.indicators.values import service as values_service
from jiaowei.registry import queries as registry
from jiaowei.registry import service as registry_service
from tests.analytics.reference import AGGREGATIONS, Ask, Expected, Term, Tree, Value, expected, indicator

ROOT = "SH"
CATEGORIES = {"SEX": ("M", "F"), "AREA": ("URBAN", "RURAL")}
COMBO_CATEGORIES = ("SEX", "AREA")
COCS = tuple(f"{sex}_{area}" for sex in CATEGORIES["SEX"] for area in CATEGORIES["AREA"])
ELEMENTS = {f"E_{kind}": kind for kind in AGGREGATIONS}  # one element per aggregation type
TEACHERS = "TEACHERS"  # default combo, SUM: an indicator's denominator
PERIOD_TYPES = ("Monthly", "Quarterly", "Yearly", "SchoolYear")
UNIT_TYPES = ("commission", "district_bureau", "primary_school")


def make_metadata(conn: Connection) -> None:
    """The categories, combo, elements and data sets every world uses (one data set per period type)."""
    for code, options in CATEGORIES.items():
        metadata.save_category(conn, principal=SYSTEM, code=code, name_zh=code, name_en=code,
                               options=[{"code": o, "name_zh": o, "name_en": o} for o in options])
    metadata.save_category_combo(conn, principal=SYSTEM, code="SEX_AREA", name_zh="性别地区",
                                 name_en="Sex and area", categories=list(COMBO_CATEGORIES))
    for code, kind in ELEMENTS.items():
        metadata.save_data_element(conn, principal=SYSTEM, code=code, name_zh=code, name_en=code,
                                   value_type="INTEGER", aggregation_type=kind, category_combo="SEX_AREA")
    metadata.save_data_element(conn, principal=SYSTEM, code=TEACHERS, name_zh="专任教师数",
                               name_en="Teachers", value_type="INTEGER", aggregation_type="SUM")
    for period_type in PERIOD_TYPES:
        metadata.save_data_set(conn, principal=SYSTEM, code=f"DS_{period_type.upper()}",
                               name_zh=period_type, name_en=period_type, period_type=period_type,
                               elements=[*ELEMENTS, TEACHERS], unit_types=list(UNIT_TYPES),
                               due_days=15, expiry_days=0)


def make_unit(conn: Connection, tree: Tree, code: str, parent: str | None) -> None:
    spec = registry_service.UnitSpec(
        code=code,
        name_zh=f"单位{code}",
        name_en=f"Unit {code}",
        type="commission" if parent is None else "district_bureau" if parent == ROOT else "primary_school",
        parent=parent,
        opened=dt.date(2000, 1, 1),
    )
    registry_service.create_unit(conn, principal=SYSTEM, spec=spec)
    tree.add(code, parent)


def move_unit(conn: Connection, tree: Tree, code: str, parent: str, effective: dt.date) -> None:
    registry_service.change_unit(conn, principal=SYSTEM, code=code, effective=effective,
                                 changes={"parent": parent})
    tree.move(code, parent, effective)


def make_tree(
    conn: Connection,
    schools: Mapping[str, str],
    moves: Iterable[tuple[str, dt.date, str]] = (),
    districts: Iterable[str] = (),
) -> Tree:
    """``SH`` → ``districts`` and those in ``schools`` (school → first district), then the moves."""
    tree = Tree()
    make_unit(conn, tree, ROOT, None)
    for district in sorted({*districts, *schools.values()}):
        make_unit(conn, tree, district, ROOT)
    for school, district in schools.items():
        make_unit(conn, tree, school, district)
    for school, effective, district in moves:
        move_unit(conn, tree, school, district, effective)
    return tree


def save_values(conn: Connection, values: Sequence[Value]) -> None:
    """Save ``values`` through the values service: the synthetic ones in an import of their own."""
    for synthetic in (False, True):
        rows = [
            ValueRow(data_element=v.element, period=v.period, org_unit=v.unit,
                     category_option_combo=None if v.element == TEACHERS else v.coc,
                     value=f"{v.number:g}", row=i)
            for i, v in enumerate((v for v in values if v.synthetic == synthetic), 1)
        ]
        if rows:
            summary = values_service.import_values(conn, principal=SYSTEM, rows=rows, source="test",
                                                   synthetic=synthetic, check_expiry=False)
            assert summary.status == "SUCCESS", summary.as_dict()


@dataclass(frozen=True)
class Ids:
    """Ids of what tests name by code: units, elements, option combos, categories and options."""

    units: dict[str, int]
    elements: dict[str, int]
    cocs: dict[str, int]
    categories: dict[str, int]
    options: dict[str, int]

    def code_of(self) -> dict[int, str]:
        return {v: k for k, v in self.units.items()}


def load_ids(conn: Connection, unit_codes: Iterable[str]) -> Ids:
    catalog = load_catalog(conn)
    options = store.category_options
    return Ids(
        units=registry.ids_of(conn, list(unit_codes)),
        elements={e.code: e.id for e in catalog.elements.values()},
        cocs={c.code: c.id for c in catalog.option_combos.values()},
        categories=dict(conn.execute(select(store.categories.c.code, store.categories.c.id)).all()),
        options=dict(conn.execute(select(options.c.code, options.c.id)).all()),
    )


def cube_query(ask: Ask, ids: Ids, *, periods: Sequence[str] | None = None) -> CubeQuery:
    """The engine's query for ``ask`` (all of ``periods`` when given, else ``ask.period``)."""
    measure = Measure(ids.elements[ask.element], ids.cocs[ask.coc] if ask.coc else None,
                      AggregationType(ask.aggregation))
    return CubeQuery(
        measures=(measure,),
        periods=tuple(pe.parse(p) for p in (periods or [ask.period])),
        units=tuple(ids.units[u] for u in ask.units),
        level=ask.level,
        under=tuple(ids.units[u] for u in ask.under),
        categories=tuple(ids.categories[c] for c in ask.categories),
        scope=None if ask.scope is None else frozenset(ids.units[u] for u in ask.scope),
    )


def answer(cells: Iterable[Cell], ask: Ask, ids: Ids) -> Expected:
    """The engine's cells for ``ask``'s measure and period, in the reference's codes."""
    units = ids.code_of()
    options = {v: k for k, v in ids.options.items()}
    out: Expected = {}
    element, coc = ids.elements[ask.element], ids.cocs[ask.coc] if ask.coc else None
    for cell in cells:
        if (cell.element_id, cell.coc_id, cell.period) != (element, coc, ask.period):
            continue
        key = (units[cell.unit_id], tuple(options[o] for o in cell.breakdown))
        assert key not in out, f"two cells for {key}"
        out[key] = (cell.value, cell.synthetic)
    return out


def ask_engine(conn: Connection, ask: Ask, ids: Ids) -> Expected:
    """Run ``ask`` through ``cube_for(conn)`` and answer in codes."""
    return answer(cube_for(conn).query(cube_query(ask, ids)), ask, ids)


def assert_same(got: Expected, want: Expected, ask: Ask) -> None:
    """Equal keys, values within rounding, equal synthetic flags; the message names the case."""
    assert set(got) == set(want), f"{ask}: cells {sorted(got)} != expected {sorted(want)}"
    for key, (value, synthetic) in want.items():
        same = got[key][0] == pytest.approx(value, rel=1e-9, abs=1e-9)
        assert same, f"{ask} at {key}: {got[key][0]} != {value}"
        assert got[key][1] == synthetic, f"{ask} at {key}: synthetic {got[key][1]} != {synthetic}"


# ---------------------------------------------------------------- the standard world

SCHOOLS = {"S1": "D1", "S2": "D1", "S3": "D1", "S4": "D2", "S5": "D2"}
MOVES = (
    ("S3", dt.date(2020, 7, 1), "D2"),  # on a month's first day: January to June under D1
    ("S5", dt.date(2020, 8, 15), "D1"),  # inside August and 2020Q3: both count under D1
)
MONTHS = tuple([f"2020{m:02d}" for m in range(1, 13)] + [f"2021{m:02d}" for m in range(1, 9)])


@dataclass(frozen=True)
class World:
    tree: Tree
    values: tuple[Value, ...]
    ids: Ids


def standard_values(seed: int = 10) -> list[Value]:
    """Monthly values of every element per aggregation type at the schools (2020-01 to 2021-08), about
    half the cells filled, one in ten synthetic; yearly values of ``E_NONE`` at a district and a school."""
    rng = random.Random(seed)
    out = [
        Value(school, month, element, coc, float(rng.randint(0, 50)), rng.random() < 0.1)
        for element in ELEMENTS
        for school in SCHOOLS
        for month in MONTHS
        for coc in COCS
        if rng.random() < 0.5
    ]
    out += [Value("D1", "2020", "E_NONE", "F_URBAN", 7.0), Value("S1", "2020", "E_NONE", "M_RURAL", 5.0),
            Value("S1", "2020", "E_NONE", "F_RURAL", 4.0, True)]
    return out


def standard_world(conn: Connection) -> World:
    """Metadata, ``SH`` → D1 (S1, S2, S3), D2 (S4, S5) with :data:`MOVES`, and :func:`standard_values`."""
    make_metadata(conn)
    tree = make_tree(conn, SCHOOLS, MOVES)
    values = standard_values()
    save_values(conn, values)
    return World(tree, tuple(values), load_ids(conn, tree.parents))


def check(conn: Connection, world: World, ask: Ask, extra: Sequence[Value] = ()) -> Expected:
    """The engine's answer to ``ask``, asserted equal to the reference's; returned for more checks."""
    got = ask_engine(conn, ask, world.ids)
    assert_same(got, expected(ask, [*world.values, *extra], world.tree, COMBO_CATEGORIES), ask)
    return got


# ---------------------------------------------------------------- indicators

FACTOR = {"number": 1.0, "percent": 100.0, "per_mille": 1000.0}


@dataclass(frozen=True)
class IndicatorSpec:
    """A sum-over-sum indicator: the terms of its numerator and denominator, and its display."""

    code: str
    numerator: tuple[Term, ...]
    denominator: tuple[Term, ...]
    display: str = "number"

    @staticmethod
    def text(terms: Sequence[Term]) -> str:
        return " + ".join(f"#{{{t.element}.{t.coc}}}" if t.coc else f"#{{{t.element}}}" for t in terms)

    def save(self, conn: Connection) -> None:
        metadata.save_indicator(conn, principal=SYSTEM, code=self.code, name_zh=self.code, name_en=self.code,
                                numerator=self.text(self.numerator), denominator=self.text(self.denominator),
                                display=self.display, decimals=2)


IndicatorAnswer = dict[tuple[str, str, str], tuple[float | None, bool]]  # (indicator, unit, period)


def engine_indicators(
    conn: Connection, world: World, specs: Sequence[IndicatorSpec], periods: Sequence[str],
    units: Sequence[str] = (), scope: frozenset[str] | None = None, *, level: int | None = None,
    under: Sequence[str] = (),
) -> IndicatorAnswer:
    """``indicator_cells`` for saved ``specs`` (at ``units``, or at ``level`` under ``under``), in codes."""
    table = store.indicators
    rows = conn.execute(select(table).where(table.c.code.in_([s.code for s in specs]))).all()
    codes = {r.id: r.code for r in rows}
    unit_codes = world.ids.code_of()
    got = indicator_cells(
        cube_for(conn), load_catalog(conn), indicators=rows, periods=[pe.parse(p) for p in periods],
        units=[world.ids.units[u] for u in units], level=level, under=[world.ids.units[u] for u in under],
        scope=None if scope is None else frozenset(world.ids.units[u] for u in scope),
    )
    return {(codes[i], unit_codes[u], p): (cell.value, cell.synthetic) for (i, u, p), cell in got.items()}


def reference_indicators(
    world: World, specs: Sequence[IndicatorSpec], periods: Sequence[str], units: Sequence[str],
    scope: frozenset[str] | None = None,
) -> IndicatorAnswer:
    aggregations = {**ELEMENTS, TEACHERS: "SUM"}
    out: IndicatorAnswer = {}
    for spec in specs:
        for period in periods:
            for unit in units:
                found = indicator(spec.numerator, spec.denominator, FACTOR[spec.display],
                                  aggregations=aggregations, values=world.values, tree=world.tree,
                                  period=period, unit=unit, scope=scope)
                if found is not None:
                    out[(spec.code, unit, period)] = found
    return out


def assert_same_indicators(got: IndicatorAnswer, want: IndicatorAnswer) -> None:
    assert set(got) == set(want), f"cells {sorted(set(got) ^ set(want))} differ"
    for key, (value, synthetic) in want.items():
        if value is None:
            assert got[key][0] is None, f"{key}: {got[key][0]} != None"
        else:
            assert got[key][0] == pytest.approx(value, rel=1e-9), f"{key}: {got[key][0]} != {value}"
        assert got[key][1] == synthetic, f"{key}: synthetic {got[key][1]} != {synthetic}"
