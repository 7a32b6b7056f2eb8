"""DHIS2's id schemes for data values: which identifier a file (in) or an export (out) uses.

``idScheme`` sets every object's scheme, and ``dataElementIdScheme``, ``orgUnitIdScheme``,
``categoryOptionComboIdScheme`` and ``attributeOptionComboIdScheme`` override it for theirs:
``UID``, ``CODE`` or ``NAME`` (DHIS2's names, any case). ADX names a value's disaggregation by its
categories (attribute names) and their options (attribute values), and a group by its ``dataSet``:
those follow ``idScheme`` (DHIS2's ``categoryIdScheme``, ``categoryOptionIdScheme`` and
``dataSetIdScheme`` default to it), both ways (:class:`CategoryNames`). With no scheme asked, an
import matches the code, else the uid (units too), and an export writes codes. ``NAME`` matches the
English or the Chinese name and writes the English one (DHIS2's ``name``; the Chinese one is its
translation); a name that names two objects is a conflict.

:func:`resolve_rows` turns the identifiers of a file into codes before the import checks it (a
row whose identifier names nothing, or several things, becomes a conflict naming its row, field
and value); :func:`encode_rows` writes exported codes in the asked schemes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, or_, select

from jiaowei.errors import M_
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, Element, OptionCombo
from jiaowei.indicators.model import DEFAULT, ImportConflict, ValueRow, carried_in_annotation
from jiaowei.registry import queries as registry


class IdScheme(StrEnum):
    UID = "UID"
    CODE = "CODE"
    NAME = "NAME"


@dataclass(frozen=True)
class IdSchemes:
    """The scheme of each kind of identifier; None: jiaowei's default (code, else uid)."""

    data_element: IdScheme | None = None
    org_unit: IdScheme | None = None
    category_option_combo: IdScheme | None = None
    attribute_option_combo: IdScheme | None = None
    data_set: IdScheme | None = None  # a file's dataSet
    category: IdScheme | None = None  # ADX: a category, as an attribute's name
    category_option: IdScheme | None = None  # ADX: an option, as that attribute's value

    @classmethod
    def of(
        cls,
        id_scheme: str | None = None,
        *,
        data_element: str | None = None,
        org_unit: str | None = None,
        category_option_combo: str | None = None,
        attribute_option_combo: str | None = None,
    ) -> IdSchemes:
        """The schemes DHIS2's parameters ask for (each defaults to ``idScheme``)."""

        def pick(own: str | None) -> IdScheme | None:
            chosen = own or id_scheme
            return IdScheme(chosen.upper()) if chosen else None

        return cls(pick(data_element), pick(org_unit), pick(category_option_combo),
                   pick(attribute_option_combo), pick(None), pick(None), pick(None))

    @property
    def default(self) -> bool:
        """Whether a row's identifiers are in jiaowei's default (code, else uid)."""
        return not any((self.data_element, self.org_unit, self.category_option_combo,
                        self.attribute_option_combo))


def _keys(scheme: IdScheme, uid: str, code: str, name_en: str, name_zh: str) -> tuple[str, ...]:
    """The identifiers an object answers to in a scheme."""
    if scheme is IdScheme.UID:
        return (uid,)
    if scheme is IdScheme.CODE:
        return (code,)
    return tuple({name_en, name_zh} - {""})


def _out(scheme: IdScheme | None, uid: str, code: str, name_en: str) -> str:
    if scheme is IdScheme.UID:
        return uid
    if scheme is IdScheme.NAME:
        return name_en
    return code


# ---------------------------------------------------------------- in


class _Resolver:
    """Looks each distinct identifier up once; a miss or an ambiguity is a refusal (field, reason)."""

    def __init__(self, conn: Connection, catalog: Catalog, schemes: IdSchemes, rows: Sequence[ValueRow]):
        self.catalog, self.schemes = catalog, schemes
        self.elements: dict[str, list[Element]] = {}
        if schemes.data_element:
            for e in catalog.elements.values():
                for key in _keys(schemes.data_element, e.uid, e.code, e.name_en, e.name_zh):
                    self.elements.setdefault(key, []).append(e)
        self.combos: dict[tuple[int, str], list[OptionCombo]] = {}
        for scheme in {schemes.category_option_combo, schemes.attribute_option_combo} - {None}:
            for c in catalog.option_combos.values():
                for key in _keys(scheme, c.uid, c.code, c.name_en, c.name_zh):  # type: ignore[arg-type]
                    found = self.combos.setdefault((c.combo_id, f"{scheme}:{key}"), [])
                    found.append(c)
        self.units = (
            unit_codes_by(conn, {r.org_unit for r in rows}, schemes.org_unit) if schemes.org_unit else {}
        )

    def element(self, key: str) -> str | tuple[str, str]:
        if self.schemes.data_element is None:
            return key
        return _one([e.code for e in self.elements.get(key, [])], "dataElement", self.schemes.data_element)

    def combo(self, element_key: str, key: str | None) -> str | None | tuple[str, str]:
        scheme = self.schemes.category_option_combo
        element = self.catalog.element(element_key)
        if scheme is None or key in (None, "") or element is None:
            return key
        found = [c.code for c in self.combos.get((element.combo_id, f"{scheme}:{key}"), [])]
        return _one(found, "categoryOptionCombo", scheme)

    def attribute(self, key: str | None) -> str | None | tuple[str, str]:
        scheme = self.schemes.attribute_option_combo
        if scheme is None or key in (None, ""):
            return key
        default = self.catalog.option_combos.get(self.catalog.default_coc)
        if default is not None and key in _keys(scheme, default.uid, default.code, default.name_en,
                                                default.name_zh):
            return None
        return key  # the import refuses it: jiaowei keeps the default attribute option combo only

    def unit(self, key: str) -> str | tuple[str, str]:
        if self.schemes.org_unit is None:
            return key
        return _one(self.units.get(key, []), "orgUnit", self.schemes.org_unit)


def _one(codes: list[str], field: str, scheme: IdScheme) -> str | tuple[str, str]:
    """The one code found, or (field, reason) when none or several were."""
    distinct = sorted(set(codes))
    if len(distinct) == 1:
        return distinct[0]
    if not distinct:
        return field, M_("nothing has this identifier in the {scheme} id scheme", scheme=scheme.value)
    return field, M_("the {scheme} names several objects: {codes}", scheme=scheme.value.lower(),
                     codes=", ".join(distinct[:5]))


def resolve_rows(
    conn: Connection, catalog: Catalog, rows: Sequence[ValueRow], schemes: IdSchemes
) -> tuple[list[ValueRow], list[ImportConflict]]:
    """The rows with their identifiers as codes, and a conflict for each row whose identifier
    names nothing (or several things) in its scheme."""
    if schemes.default:
        return _units_by_code_else_uid(conn, rows), []
    resolver = _Resolver(conn, catalog, schemes, rows)
    out: list[ValueRow] = []
    conflicts: list[ImportConflict] = []
    for row in rows:
        element, unit = resolver.element(row.data_element), resolver.unit(row.org_unit)
        combo = resolver.combo(element, row.category_option_combo) if isinstance(element, str) else None
        attribute = resolver.attribute(row.attribute_option_combo)
        refused = [(found, shown) for found, shown in (
            (element, row.data_element), (unit, row.org_unit), (combo, row.category_option_combo),
            (attribute, row.attribute_option_combo)) if isinstance(found, tuple)]
        if refused:
            (field, reason), shown = refused[0]
            expected = M_("an identifier in the {scheme} id scheme", scheme=_scheme_of(schemes, field))
            conflicts.append(ImportConflict(row.row, field, shown, reason, expected))
            continue
        out.append(dataclasses.replace(row, data_element=element, org_unit=unit,  # type: ignore[arg-type]
                                       category_option_combo=combo,  # type: ignore[arg-type]
                                       attribute_option_combo=attribute))  # type: ignore[arg-type]
    return out, conflicts


def _units_by_code_else_uid(conn: Connection, rows: Sequence[ValueRow]) -> list[ValueRow]:
    """With no scheme asked, a unit is its code, else its DHIS2 uid (as elements and combos are):
    the rows whose unit is named by uid get its code; the rest are as written."""
    by_uid = unit_codes_by_key(conn, {r.org_unit for r in rows})
    if all(key == code for key, code in by_uid.items()):
        return list(rows)
    return [
        row if by_uid.get(row.org_unit, row.org_unit) == row.org_unit
        else dataclasses.replace(row, org_unit=by_uid[row.org_unit])
        for row in rows
    ]


def unit_codes_by_key(conn: Connection, keys: Iterable[str]) -> dict[str, str]:
    """Each key that names a unit, by code or else by DHIS2 uid, with that unit's code (keys that
    name none are left out)."""
    wanted = set(keys)
    found = {code: code for code in registry.ids_of(conn, wanted)}
    missing = sorted(wanted - found.keys())
    if missing:
        found.update({uid: codes[0] for uid, codes in _units_by_uid(conn, missing).items()})
    return found


def _scheme_of(schemes: IdSchemes, field: str) -> str:
    scheme = {"dataElement": schemes.data_element, "orgUnit": schemes.org_unit,
              "categoryOptionCombo": schemes.category_option_combo}.get(field)
    return scheme.value if scheme else IdScheme.CODE.value


def unit_codes_by(conn: Connection, keys: Iterable[str], scheme: IdScheme) -> dict[str, list[str]]:
    """The codes of the units each key names in ``scheme`` (a name as it stands today)."""
    wanted = sorted(set(keys))
    if scheme is IdScheme.CODE:
        return {code: [code] for code in registry.ids_of(conn, wanted)}
    if scheme is IdScheme.UID:
        return _units_by_uid(conn, wanted)
    found: dict[str, list[str]] = {}
    query = registry.units_on_select(registry.today())
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        columns = query.selected_columns
        names = query.where(or_(columns.name_zh.in_(chunk), columns.name_en.in_(chunk)))
        for r in conn.execute(names):
            for name in {r.name_zh, r.name_en} & set(chunk):
                found.setdefault(name, []).append(r.code)
    return found


def _units_by_uid(conn: Connection, uids: Sequence[str]) -> dict[str, list[str]]:
    """The code of each unit uid (DHIS2's id) that names a unit."""
    codes = registry.unit_codes("by_uid")
    found: dict[str, list[str]] = {}
    for start in range(0, len(uids), 500):
        chunk = uids[start : start + 500]
        for code, uid in conn.execute(select(codes.c.code, codes.c.uid).where(codes.c.uid.in_(chunk))):
            found[uid] = [code]
    return found


# ---------------------------------------------------------------- out


def encode_rows(
    conn: Connection, catalog: Catalog, rows: list[ValueRow], schemes: IdSchemes
) -> list[ValueRow]:
    """Exported rows (identifiers as codes) with their identifiers in the asked schemes."""
    if schemes.default:
        return rows
    elements = {e.code: e for e in catalog.elements.values()}
    combos = {(c.combo_id, c.code): c for c in catalog.option_combos.values()}
    units = _unit_names(conn, {r.org_unit for r in rows}, schemes.org_unit)
    out = []
    for row in rows:
        element = elements[row.data_element]
        coc = combos.get((element.combo_id, row.category_option_combo or DEFAULT))
        aoc = catalog.option_combos.get(catalog.default_coc)
        out.append(dataclasses.replace(
            row,
            data_element=_out(schemes.data_element, element.uid, element.code, element.name_en),
            org_unit=units.get(row.org_unit, row.org_unit),
            category_option_combo=_combo_out(schemes.category_option_combo, coc,
                                             row.category_option_combo),
            attribute_option_combo=_combo_out(schemes.attribute_option_combo, aoc,
                                              row.attribute_option_combo),
        ))
    return out


def _combo_out(scheme: IdScheme | None, coc: OptionCombo | None, code: str | None) -> str | None:
    return code if coc is None or scheme is None else _out(scheme, coc.uid, coc.code, coc.name_en)


def _unit_names(conn: Connection, codes: set[str], scheme: IdScheme | None) -> dict[str, str]:
    if scheme in (None, IdScheme.CODE):
        return {}
    ids = registry.ids_of(conn, codes)
    if scheme is IdScheme.UID:
        units = registry.unit_codes("uid_of")
        wanted = sorted(ids.values())
        uids: dict[int, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(units.c.id, units.c.uid).where(units.c.id.in_(chunk))
            uids.update({unit_id: uid for unit_id, uid in conn.execute(query)})
        return {code: uids[i] for code, i in ids.items() if i in uids}
    known = registry.last_known(conn, ids.values())
    return {code: known[i].name_en for code, i in ids.items() if i in known}




# ---------------------------------------------------------------- ADX: categories, options, data sets


@dataclass(frozen=True)
class CategoryNames:
    """Categories and their options in the schemes asked, both ways (ADX's attribute names and values).

    ``category_in``/``option_in`` turn what a file says into codes (an unknown key stays as it is,
    for the import to refuse); ``category_out``/``option_out`` turn codes into what an export says.
    """

    category_in: dict[str, str]
    option_in: dict[tuple[str, str], str]  # (category code, key): option code
    category_out: dict[str, str]
    option_out: dict[tuple[str, str], str]  # (category code, option code): key

    def codes(self, attributes: dict[str, str]) -> dict[str, str]:
        """ADX attributes ``{category: option}`` as ``{category code: option code}``."""
        out = {}
        for name, option in attributes.items():
            category = self.category_in.get(name, name)
            out[category] = self.option_in.get((category, option), option)
        return out

    def keys(self, options: dict[str, str]) -> dict[str, str]:
        """``{category code: option code}`` as ADX attributes in the schemes."""
        return {self.category_out.get(c, c): self.option_out.get((c, o), o) for c, o in options.items()}


def category_names(conn: Connection, schemes: IdSchemes) -> CategoryNames | None:
    """Categories and options in ``schemes`` (None when both are codes: nothing to translate)."""
    category, option = schemes.category, schemes.category_option
    if category in (None, IdScheme.CODE) and option in (None, IdScheme.CODE):
        return None
    names = CategoryNames({}, {}, {}, {})
    by_id: dict[int, str] = {}
    for r in conn.execute(select(store.categories)):
        by_id[r.id] = r.code
        names.category_out[r.code] = _out(category, r.uid, r.code, r.name_en)
        for key in _keys(category or IdScheme.CODE, r.uid, r.code, r.name_en, r.name_zh):
            names.category_in.setdefault(key, r.code)
    for r in conn.execute(select(store.category_options)):
        code = by_id[r.category_id]
        names.option_out[(code, r.code)] = _out(option, r.uid, r.code, r.name_en)
        for key in _keys(option or IdScheme.CODE, r.uid, r.code, r.name_en, r.name_zh):
            names.option_in.setdefault((code, key), r.code)
    return names


def element_finder(catalog: Catalog, scheme: IdScheme | None) -> dict[str, Element] | None:
    """Elements by their key in ``scheme`` (None: by code or uid, the catalog's own lookup)."""
    if scheme in (None, IdScheme.UID, IdScheme.CODE):
        return None
    found: dict[str, Element] = {}
    for e in catalog.elements.values():
        for key in _keys(scheme, e.uid, e.code, e.name_en, e.name_zh):  # type: ignore[arg-type]
            found.setdefault(key, e)
    return found


def data_set_finder(catalog: Catalog, scheme: IdScheme | None) -> dict[str, DataSet] | None:
    """Data sets by their key in ``scheme`` (None: by code or uid, the catalog's own lookup)."""
    if scheme in (None, IdScheme.UID, IdScheme.CODE):
        return None
    found: dict[str, DataSet] = {}
    for ds in catalog.data_sets.values():
        for key in _keys(scheme, ds.uid, ds.code, ds.name_en, ds.name_zh):  # type: ignore[arg-type]
            found.setdefault(key, ds)
    return found


def data_set_out(catalog: Catalog, key: str | None, scheme: IdScheme | None) -> str | None:
    """The data set ``key`` (code or uid) names, in ``scheme`` (as given when it names none)."""
    ds = catalog.data_set(key) if key else None
    return key if ds is None or scheme is None else _out(scheme, ds.uid, ds.code, ds.name_en)


@dataclass(frozen=True)
class AdxOut:
    """What writing ADX in the schemes asked needs, keyed by the exported (encoded) identifiers: each
    element's option combos as category attributes, and whether its values go in ``<annotation>``."""

    combos: dict[tuple[str, str], dict[str, str]]  # (element, combo) as exported: {category: option}
    annotated: dict[str, bool]  # element as exported: its values go in <annotation>

    def combo_attributes(self, element: str, combo: str) -> dict[str, str] | None:
        return self.combos.get((element, combo))

    def in_annotation(self, element: str) -> bool | None:
        return self.annotated.get(element)


def adx_out(conn: Connection, catalog: Catalog, schemes: IdSchemes) -> AdxOut:
    """Each element and option combo as :func:`encode_rows` writes them in ``schemes``, with the category
    attributes (categories and options in their schemes) ADX writes for the combo (none for ``default``)."""
    names = category_names(conn, schemes)
    out = AdxOut({}, {})
    cocs: dict[int, list[OptionCombo]] = {}
    for coc in catalog.option_combos.values():
        cocs.setdefault(coc.combo_id, []).append(coc)
    for e in catalog.elements.values():
        element = _out(schemes.data_element, e.uid, e.code, e.name_en)
        out.annotated[element] = carried_in_annotation(e.value_type)
        categories = catalog.combo_categories.get(e.combo_id, ())
        for coc in cocs.get(e.combo_id, []):
            options = {} if coc.code == DEFAULT else dict(zip(categories, coc.options, strict=False))
            combo = _combo_out(schemes.category_option_combo, coc, coc.code) or coc.code
            out.combos[(element, combo)] = names.keys(options) if names else options
    return out
