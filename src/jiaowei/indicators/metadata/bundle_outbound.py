"""Metadata going out to DHIS2: what ``GET /api/metadata?idScheme=UID`` changes, and the warnings.

DHIS2 reads expressions by uid only (``#{deUid.cocUid}``), keeps option combos' ids only when a
bundle lists them under ``categoryOptionCombos`` (so every export lists them), requires short
names, and knows neither unit types nor the school year. With ``uids`` the bundle is rewritten
for DHIS2; either way the returned warnings name each object DHIS2 cannot take as jiaowei has it,
and why, so that nothing is lost in silence. Each warning is
``{klass, id, code, property, value, message}``, after DHIS2's errorReports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, select

from jiaowei import clock
from jiaowei.errors import M_
from jiaowei.indicators import store
from jiaowei.indicators.periods import PeriodType
from jiaowei.registry import queries as registry

Warning = dict[str, Any]
DHIS2_PERIOD_TYPES = frozenset(PeriodType) - {PeriodType.SCHOOL_YEAR}
_REFERENCE = re.compile(r"([#C])\{((?:[^\\}]|\\.)*)\}")
_EXPRESSIONS = {"indicators": ("numerator", "denominator"), "validationRules": ("leftSide", "rightSide")}
_SHORT_NAMED = ("categoryOptions", "dataElements", "indicators", "dataSets")


def outbound(conn: Connection, out: dict[str, Any], *, visible: Any, uids: bool) -> list[Warning]:
    """Rewrite ``out`` (an export bundle) for DHIS2 when ``uids``; the warnings either way.

    Option combos are listed on their own with their ids either way, so that an import (DHIS2's or
    jiaowei's) keeps the ids that data files name them by.
    """
    warnings: list[Warning] = []
    _option_combos(conn, out)
    if uids:
        _expressions_by_uid(conn, out, warnings)
        _units_of_types(conn, out, visible, warnings)
        _short_names(out)
    else:
        _by_code_warnings(out, warnings)
    for kind in ("dataSets", "validationRules"):
        for obj in out.get(kind, []):
            if obj.get("periodType") not in DHIS2_PERIOD_TYPES:
                warnings.append(_warning(kind, obj, "periodType", obj.get("periodType"), M_(
                    "DHIS2 has no period type {period_type}: DHIS2 refuses this object until it is "
                    "given one of its own period types", period_type=obj.get("periodType"))))
    for obj in out.get("indicators", []):
        if obj.get("display") == "ratio":
            warnings.append(_warning("indicators", obj, "indicatorType", "ratio", M_(
                "DHIS2 shows no 1:N ratios: DHIS2 shows this indicator as a plain number (factor 1)")))
    return warnings


def _warning(kind: str, obj: dict[str, Any] | None, field: str, value: Any, message: str) -> Warning:
    return {"klass": kind, "id": (obj or {}).get("id"), "code": (obj or {}).get("code"), "property": field,
            "value": value, "message": message}


def _expressions(out: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any], str]]:
    """(kind, object, property, holder, key) of each expression in the bundle."""
    for kind, fields in _EXPRESSIONS.items():
        for obj in out.get(kind, []):
            for name in fields:
                holder, key = (obj[name], "expression") if isinstance(obj.get(name), dict) else (obj, name)
                if isinstance(holder.get(key), str):
                    yield kind, obj, name, holder, key


def _by_code_warnings(out: dict[str, Any], warnings: list[Warning]) -> None:
    for kind in _EXPRESSIONS:
        if out.get(kind):
            warnings.append(_warning(kind, None, "expression", "CODE", M_(
                "the expressions name data elements by code, which DHIS2 does not read: "
                "export with idScheme=UID for DHIS2")))
    for obj in out.get("dataSets", []):
        if obj.get("unitTypes"):
            types = ", ".join(obj["unitTypes"])
            warnings.append(_warning("dataSets", obj, "unitTypes", obj["unitTypes"], M_(
                "DHIS2 has no unit types: the units of the types {types} are listed only with idScheme=UID",
                types=types)))


# ---------------------------------------------------------------- expressions by uid


def _expressions_by_uid(conn: Connection, out: dict[str, Any], warnings: list[Warning]) -> None:
    de, cocs = store.data_elements, store.category_option_combos
    # by code, and by uid where no code is the same (an expression imported from DHIS2 keeps its uids)
    rows = conn.execute(select(de.c.code, de.c.uid, de.c.combo_id)).all()
    elements = {r.uid: (r.uid, r.combo_id) for r in rows} | {r.code: (r.uid, r.combo_id) for r in rows}
    coc_rows = conn.execute(select(cocs.c.combo_id, cocs.c.code, cocs.c.uid)).all()
    combos = {(r.combo_id, r.uid): r.uid for r in coc_rows} | {(r.combo_id, r.code): r.uid for r in coc_rows}

    for kind, obj, name, holder, key in _expressions(out):
        def unknown(what: str, kind: str = kind, obj: dict[str, Any] = obj, name: str = name) -> None:
            warnings.append(_warning(kind, obj, name, what, M_(
                "{reference} has no DHIS2 id: it stays as it is, and DHIS2 will not find it",
                reference=what)))

        holder[key] = uid_expression(holder[key], elements, combos, unknown)


def uid_expression(
    text: str,
    elements: dict[str, tuple[str, int]],
    combos: dict[tuple[int, str], str],
    unknown: Callable[[str], None],
) -> str:
    """``text`` with each ``#{code}`` and ``#{code.combo}`` written with uids, as DHIS2 reads them.

    Constants (``C{code}``) and references to nothing saved are kept as they are and passed to
    ``unknown``. Everything else in the text is kept character for character.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(1) == "C":
            unknown(match.group(0))
            return match.group(0)
        parts = _split(match.group(2))
        found = elements.get(parts[0])
        combo = combos.get((found[1], parts[1])) if found and len(parts) == 2 else None
        if found is None or len(parts) > 2 or (len(parts) == 2 and combo is None):
            unknown(match.group(0))
            return match.group(0)
        return "#{" + found[0] + ("." + combo if combo else "") + "}"

    return _REFERENCE.sub(replace, text)


def _split(inner: str) -> list[str]:
    """The codes between ``#{`` and ``}``, split at dots that are not escaped, unescaped."""
    parts, current, escaped = [], [], False
    for char in inner:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    return [*parts, "".join(current)]


# ---------------------------------------------------------------- option combos, units, names


def _option_combos(conn: Connection, out: dict[str, Any]) -> None:
    """Option combos with their options' ids, and listed on their own so that DHIS2 keeps their ids."""
    if "categoryCombos" not in out:
        return
    opts, cats = store.category_options, store.categories
    by_category: dict[str, dict[str, str]] = {}
    for r in conn.execute(select(cats.c.uid.label("category"), opts.c.code, opts.c.uid)
                          .join(cats, cats.c.id == opts.c.category_id)):
        by_category.setdefault(r.category, {})[r.code] = r.uid
    listed = []
    for combo in out["categoryCombos"]:
        options: dict[str, str] = {}
        for category in combo.get("categories", []):
            options.update(by_category.get(category["id"], {}))
        for coc in combo.get("categoryOptionCombos", []):
            coc["categoryOptions"] = [{"id": options.get(o["code"]), **o} for o in coc["categoryOptions"]]
            listed.append({**coc, "categoryCombo": {"id": combo["id"], "code": combo["code"]}})
    out["categoryOptionCombos"] = listed


def _units_of_types(conn: Connection, out: dict[str, Any], visible: Any, warnings: list[Warning]) -> None:
    """Each data set's units by id and code: those it names, and those of its unit types today."""
    day = clock.today()
    for obj in out.get("dataSets", []):
        codes = {u["code"] for u in obj.get("organisationUnits", [])}
        ids: set[int] = set()
        if obj.get("unitTypes"):
            query = registry.units_on_select(day).where(registry.UNIT_TYPE.in_(obj["unitTypes"]))
            if visible is not None:
                query = query.where(registry.UNIT_ID.in_(visible))
            ids = {r.id for r in conn.execute(query)}
            warnings.append(_warning("dataSets", obj, "unitTypes", obj["unitTypes"], M_(
                "DHIS2 has no unit types: the {count} units of the types {types} open on {day} are listed; "
                "units that open later must be added to the data set in DHIS2",
                count=len(ids), types=", ".join(obj["unitTypes"]), day=day.isoformat())))
        units = registry.unit_codes()
        rows = conn.execute(select(units.c.code, units.c.uid).where(
            units.c.code.in_(sorted(codes)) | units.c.id.in_(sorted(ids))).order_by(units.c.code))
        obj["organisationUnits"] = [{"id": r.uid, "code": r.code} for r in rows]


def _short_names(out: dict[str, Any]) -> None:
    """DHIS2 requires a short name (at most 50 characters): the name, cut, where there is none."""
    for kind in _SHORT_NAMED:
        for obj in out.get(kind, []):
            if not obj.get("shortName"):
                obj["shortName"] = str(obj.get("name") or obj.get("code") or "")[:50]
