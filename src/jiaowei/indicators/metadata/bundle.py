"""DHIS2's metadata JSON into the metadata services (``bundle_export`` writes it back out).

:func:`import_bundle` reads a DHIS2 metadata document (``categoryOptions``, ``categories``,
``categoryCombos``, ``categoryOptionCombos``, ``dataElements``, ``dataSets``, ``indicators``,
``validationRules``), in that order so that every reference points at something already saved,
all or nothing. Objects and references are matched by ``code``, falling back to ``id`` (the uid).
``bundle_export`` writes the same shape, so an export imports into an empty database as the same
metadata. A ``categoryOptionCombos`` entry gives its id to the option combo jiaowei generated with
the same options (``bundle_cocs``).

Kinds jiaowei does not import (``dataElementGroups``, ``legendSets``, ``users``, …) are skipped and
reported: a type report each, with ``ignored`` = how many and a warning (DHIS2's E6002), and the
report's status is ``WARNING``. With ``skip_unsupported=False`` such a kind refuses the bundle.
``system`` and ``date``, which DHIS2 puts in every export, are not kinds.

Expressions: DHIS2 names data elements and option combos by uid (``#{deUid.cocUid}``); each
reference to a saved object is written with its code instead (escaped as ``expressions.to_text``
escapes them), so that what jiaowei stores reads the same whatever ids its objects carry. A
reference to nothing saved is left as it is and refused by the service's check, naming the field.

Names: DHIS2's ``name`` is the English name; a ``translations`` entry for ``zh_CN`` (or ``zh``)
and property ``NAME`` is the Chinese one (the ``name`` when there is none). jiaowei's own
``name_zh``/``name_en`` are accepted as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.exc import DBAPIError

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.dhis2.units import ORG_UNIT_KINDS, import_org_units, unit_code_for
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, JiaoweiError, Problem, ValidationError
from jiaowei.indicators import expressions, store
from jiaowei.indicators.metadata import bundle_cocs, combos, objects
from jiaowei.indicators.metadata.bundle_export import EXPORTERS, KINDS, TABLES
from jiaowei.indicators.metadata.bundle_read import Reader, ref_key, short, translation
from jiaowei.indicators.metadata.catalog import Element, OptionCombo, load_catalog
from jiaowei.indicators.metadata.writing import name_problems
from jiaowei.indicators.model import DEFAULT, check_code
from jiaowei.registry import queries as registry
from jiaowei.text import escaped

NOT_KINDS = frozenset({"system", "date", "jiaowei:warnings"})
"""Keys DHIS2 puts in every export that are not kinds of metadata (and jiaowei's export warnings)."""
READ_ONLY = frozenset({"indicatorTypes"})
"""Kinds that are read (indicatorTypes, for their factors), never saved."""
OPTION_COMBOS = "categoryOptionCombos"
MAX_OBJECTS = 50_000
MAX_PROBLEMS = 200
DEFAULT_UIDS = frozenset({"bjDvmb4bfuf", "GLevLNI9wkl", "xYerKDKCefk", "HllvX50cXC0"})
"""DHIS2's default category combo, category, option and option combo: jiaowei has its own."""
FACTOR_DISPLAY = {1: "number", 100: "percent", 1000: "per_mille"}


@dataclass
class Context:
    """What converting an object needs besides the object: the connection and the bundle's lookups."""

    conn: Connection
    options: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # categoryOptions by code and id
    factors: dict[str, Any] = field(default_factory=dict)  # indicatorTypes' factors by code and id
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> bundle id -> saved code
    elements: dict[str, Element] | None = None  # saved data elements by code, then uid (read once)
    option_combos: Callable[[int], list[OptionCombo]] | None = None  # a combo's option combos


# ---------------------------------------------------------------- the shape of a bundle


def supported_kinds() -> tuple[str, ...]:
    """Every kind a bundle may carry that jiaowei imports or reads."""
    return (*ORG_UNIT_KINDS, *KINDS[:3], OPTION_COMBOS, *KINDS[3:], *READ_ONLY)


@dataclass
class Shape:
    """A bundle's lists by kind, and the kinds jiaowei skips with how many objects each has."""

    lists: dict[str, list[Any]]
    skipped: dict[str, int]


def check_shape(bundle: Any) -> Shape:
    """The bundle's lists by kind; raises naming every key or list that is not as expected."""
    if not isinstance(bundle, Mapping):
        raise ValidationError(
            N_("A metadata bundle is a JSON object."),
            [Problem(N_("not an object"), value=type(bundle).__name__,
                     expected='{"dataElements": [...], ...}')],
        )
    problems, shape, total, known = [], Shape({}, {}), 0, supported_kinds()
    for key, value in bundle.items():
        if key in NOT_KINDS:
            continue
        if not isinstance(value, list) or not all(isinstance(o, Mapping) for o in value):
            problems.append(
                Problem(
                    N_("not a list of objects"), field=str(key)[:100], value=short(value),
                    expected=N_("a JSON array of objects")
                )
            )
        elif key in known:
            shape.lists[key] = value
            total += len(value)
        else:
            shape.skipped[str(key)[:100]] = len(value)
    if total > MAX_OBJECTS:
        problems.append(
            Problem(N_("too many objects"), value=total, expected=M_("at most {most:,} in one bundle",
                                                                 most=MAX_OBJECTS))
        )
    if problems:
        raise ValidationError(N_("The metadata bundle is not valid."), problems)
    return shape


# ---------------------------------------------------------------- DHIS2 objects → service arguments


def _identity(obj: Reader) -> dict[str, Any]:
    """code, uid and names of any object."""
    code, uid = obj.code(), obj.uid()
    translated, name = translation(obj, "NAME"), obj.text("name")
    name_zh, name_en = obj.text("name_zh"), obj.text("name_en")
    return {
        "code": code,
        "name_zh": name_zh or translated or name or name_en,
        "name_en": name_en or name or translated or name_zh,
        "uid": uid,
    }


def is_default(kind: str, data: Mapping[str, Any]) -> bool:
    """DHIS2's own default combo, category or option, which jiaowei has already."""
    if data.get("id") in DEFAULT_UIDS or data.get("code") == DEFAULT:
        return True
    return kind != "dataElements" and data.get("name") == DEFAULT and not data.get("code")


def _lookup(conn: Connection, table: Table, ref: Mapping[str, Any]) -> str | None:
    """The code of the row that ``ref`` ({code} or {id}) names, or None."""
    for column, key in ((table.c.code, "code"), (table.c.uid, "id")):
        value = ref.get(key)
        if isinstance(value, str) and value:
            found = conn.execute(select(table.c.code).where(column == value)).scalar()
            if found is not None:
                return str(found)
    return None


def _reference(
    obj: Reader, ctx: Context, table: Table, ref: Mapping[str, Any], field: str, what: str
) -> str | None:
    code = _lookup(ctx.conn, table, ref)
    if code is None and isinstance(ref.get("id"), str):  # an id of the bundle, on an object saved before
        code = ctx.aliases.get(table.name, {}).get(ref["id"])
    if code is None:
        obj.problem(
            M_("unknown {what}",
               what=what), field, ref_key(ref), M_("the code or id of a {what} saved or in the bundle",
                                                   what=what)
        )
    return code


def option_spec(
    ctx: Context, obj: Reader, category_code: str | None, ref: Mapping[str, Any], i: int
) -> dict[str, Any] | None:
    """One option of a category: from the bundle's categoryOptions, inline, or as saved."""
    key = ref_key(ref)
    defined = ctx.options.get(key) or ctx.options.get(str(ref.get("id") or ""))
    merged = Reader({**(defined or {}), **ref}, prefix=f"categoryOptions[{i}]")
    spec = _identity(merged)
    obj.problems += merged.problems
    if spec["name_zh"] and spec["name_en"]:
        return spec
    saved = _saved_option(ctx.conn, category_code, ref)
    if saved is None:
        obj.problem(
            N_("unknown category option"),
            f"categoryOptions[{i}]",
            key,
            N_("an option listed in categoryOptions, or one with a name"),
        )
        return None
    return saved


def _saved_option(
    conn: Connection, category_code: str | None, ref: Mapping[str, Any]
) -> dict[str, Any] | None:
    opts, cats = store.category_options, store.categories
    query = select(opts.c.code, opts.c.uid, opts.c.name_zh, opts.c.name_en).join(
        cats, cats.c.id == opts.c.category_id
    )
    code, uid = ref.get("code"), ref.get("id")
    candidates = []
    if isinstance(code, str) and category_code:
        candidates.append(query.where(cats.c.code == category_code, opts.c.code == code))
    if isinstance(uid, str):
        candidates.append(query.where(opts.c.uid == uid))
    if isinstance(code, str):
        candidates.append(query.where(opts.c.code == code).order_by(opts.c.id))
    for candidate in candidates:
        row = conn.execute(candidate.limit(1)).first()
        if row is not None:
            return {"code": row.code, "name_zh": row.name_zh, "name_en": row.name_en, "uid": row.uid}
    return None


def category_spec(ctx: Context, obj: Reader) -> dict[str, Any]:
    spec = _identity(obj)
    refs = obj.refs("categoryOptions")
    options = [option_spec(ctx, obj, spec["code"], ref, i) for i, ref in enumerate(refs)]
    return {**spec, "options": [o for o in options if o is not None]}


def combo_spec(ctx: Context, obj: Reader) -> dict[str, Any]:
    spec = _identity(obj)
    kind = obj.text("dataDimensionType") or "DISAGGREGATION"
    if kind != "DISAGGREGATION":
        obj.problem(N_("only disaggregation combos are imported"), "dataDimensionType", kind,
                    "DISAGGREGATION")
    categories = [
        _reference(obj, ctx, store.categories, ref, f"categories[{i}]", "category")
        for i, ref in enumerate(obj.refs("categories"))
    ]
    return {**spec, "categories": [c for c in categories if c]}


def element_spec(ctx: Context, obj: Reader) -> dict[str, Any]:
    spec = _identity(obj)
    domain = obj.text("domainType") or "AGGREGATE"
    if domain != "AGGREGATE":
        obj.problem(N_("only aggregate data elements are imported"), "domainType", domain, "AGGREGATE")
    combo_ref = obj.ref("categoryCombo")
    combo = None
    if combo_ref is not None and not is_default("categoryCombos", combo_ref):
        combo = _reference(obj, ctx, store.category_combos, combo_ref, "categoryCombo", "category combo")
    return {
        **spec,
        "value_type": obj.text("valueType") or "INTEGER",
        "aggregation_type": obj.text("aggregationType") or "SUM",
        "category_combo": combo,
        "short_name": obj.text("shortName", max_len=100) or str(spec["name_en"])[:100],
        "description": obj.text("description", max_len=50_000),
        "zero_is_significant": obj.flag("zeroIsSignificant", False),
    }


def data_set_spec(ctx: Context, obj: Reader) -> dict[str, Any]:
    spec = _identity(obj)
    elements = []
    for i, member in enumerate(obj.list_of("dataSetElements")):
        ref = Reader(member, prefix=f"dataSetElements[{i}]").ref("dataElement", required=True)
        if ref is None:
            obj.problem("no dataElement", f"dataSetElements[{i}].dataElement", short(member), '{"code": …}')
            continue
        code = _reference(obj, ctx, store.data_elements, ref, f"dataSetElements[{i}]", "data element")
        if code:
            elements.append(code)
    units = _unit_codes(ctx.conn, obj)
    return {
        **spec,
        "period_type": obj.text("periodType", required=True),
        "elements": elements,
        "units": sorted(set(units)),
        "unit_types": sorted(set(obj.strings("unitTypes"))),
        "due_days": obj.integer("timelyDays", 15, 0, 3660),
        "expiry_days": obj.integer("expiryDays", 0, 0, 3660),
        "description": obj.text("description", max_len=50_000),
    }


def _unit_codes(conn: Connection, obj: Reader) -> list[str]:
    """The codes of the units a data set names: by DHIS2 id or code, else an id read as a code."""
    refs = obj.refs("organisationUnits")
    found = [unit_code_for(conn, ref) for ref in refs]
    known = set(registry.ids_of(conn, [ref_key(ref) for ref in refs]))
    codes = []
    for i, (ref, code) in enumerate(zip(refs, found, strict=True)):
        if code is None and ref_key(ref) not in known:
            obj.problem("unknown unit", f"organisationUnits[{i}]", ref_key(ref),
                        "the code of a unit in the registry")
        else:
            codes.append(code or ref_key(ref))
    return codes


def indicator_spec(ctx: Context, obj: Reader) -> dict[str, Any]:
    spec = _identity(obj)
    return {
        **spec,
        "numerator": coded(ctx, obj.text("numerator", required=True, max_len=20_000)),
        "denominator": coded(ctx, obj.text("denominator", max_len=20_000) or "1"),
        "display": _display(ctx, obj),
        "decimals": obj.integer("decimals", 1, 0, 6),
        "numerator_description": obj.text("numeratorDescription"),
        "denominator_description": obj.text("denominatorDescription"),
        "description": obj.text("description", max_len=50_000),
        "higher_is_better": obj.flag("higherIsBetter", True),
    }


def _display(ctx: Context, obj: Reader) -> str:
    display = obj.text("display")
    if display:
        return display
    kind = obj.ref("indicatorType", identified=False)
    if kind is None:
        return "percent"
    factor = kind.get("factor", ctx.factors.get(ref_key(kind)))
    if isinstance(factor, int | float) and not isinstance(factor, bool) and int(factor) in FACTOR_DISPLAY:
        return FACTOR_DISPLAY[int(factor)]
    obj.problem(
        N_("unknown indicator type"),
        "indicatorType",
        short(kind),
        N_("an indicatorType with factor 1, 100 or 1000, or a display (percent, per_mille, ratio, number)"),
    )
    return "percent"


def rule_spec(ctx: Context, obj: Reader) -> dict[str, Any]:
    spec = _identity(obj)
    sides = {}
    for side in ("leftSide", "rightSide"):
        found = obj.ref(side, required=True, identified=False)
        part = Reader(found or {}, prefix=side)
        sides[side] = (
            coded(ctx, part.text("expression", required=found is not None, max_len=20_000)),
            part.text("missingValueStrategy") or "NEVER_SKIP",
        )
        obj.problems += part.problems
    return {
        **spec,
        "left": sides["leftSide"][0],
        "left_missing": sides["leftSide"][1],
        "operator": obj.text("operator", required=True),
        "right": sides["rightSide"][0],
        "right_missing": sides["rightSide"][1],
        "period_type": obj.text("periodType") or "Yearly",
        "importance": obj.text("importance") or "MEDIUM",
        "description": obj.text("description", max_len=50_000),
        "instruction": obj.text("instruction", max_len=50_000),
    }


_REFERENCE = re.compile(r"([#C])\{((?:[^\\}]|\\.)*)\}")
"""``#{…}`` or ``C{…}`` in an expression's text, escapes included."""


def coded(ctx: Context, text: Any) -> Any:
    """``text`` with each ``#{de.coc}`` that names saved objects by uid written with their codes.

    Codes win over uids, as everywhere in a bundle; a data element saved before under another id
    is found by the bundle's id too. Constants, references to nothing saved and text that does not
    parse are kept as they are: the service's check refuses them, naming the field and the value.
    """
    if not isinstance(text, str) or "#{" not in text:
        return text
    try:
        expressions.parse(text)
    except ValidationError:
        return text
    elements = _saved_elements(ctx)
    aliases = ctx.aliases.get(store.data_elements.name, {})

    def replace(match: re.Match[str]) -> str:
        parts = _unescaped_parts(match.group(2))
        element = elements.get(parts[0]) or elements.get(aliases.get(parts[0], ""))
        if match.group(1) == "C" or element is None or len(parts) > 2:
            return match.group(0)
        written = expressions.escape_code(element.code)
        if len(parts) == 1:
            return "#{" + written + "}"
        combo = _option_combo_code(ctx, element, parts[1])
        if combo is None:
            return match.group(0)
        return "#{" + written + "." + expressions.escape_code(combo) + "}"

    return _REFERENCE.sub(replace, text)


def _saved_elements(ctx: Context) -> dict[str, Element]:
    if ctx.elements is None:  # read once a bundle's elements are saved: indicators and rules come after
        catalog = load_catalog(ctx.conn)
        by_uid = {e.uid: e for e in catalog.elements.values()}
        ctx.elements = by_uid | {e.code: e for e in catalog.elements.values()}
        ctx.option_combos = catalog.cocs_of
    return ctx.elements


def _option_combo_code(ctx: Context, element: Element, key: str) -> str | None:
    cocs = ctx.option_combos(element.combo_id) if ctx.option_combos else []
    found = next((c for c in cocs if c.code == key), None) or next((c for c in cocs if c.uid == key), None)
    return None if found is None else found.code


def _unescaped_parts(inner: str) -> list[str]:
    """The codes between ``#{`` and ``}``, split at the dots that are not escaped, unescaped."""
    parts, current, escaping = [], [], False
    for char in inner:
        if escaping or char not in "\\.":
            current.append(char)
            escaping = False
        elif char == "\\":
            escaping = True
        else:
            parts.append("".join(current))
            current = []
    return [*parts, "".join(current)]


SPECS: dict[str, Callable[[Context, Reader], dict[str, Any]]] = {
    "categories": category_spec,
    "categoryCombos": combo_spec,
    "dataElements": element_spec,
    "dataSets": data_set_spec,
    "indicators": indicator_spec,
    "validationRules": rule_spec,
}
SAVERS: dict[str, Callable[..., int]] = {
    "categories": combos.save_category,
    "categoryCombos": combos.save_category_combo,
    "dataElements": objects.save_data_element,
    "dataSets": objects.save_data_set,
    "indicators": objects.save_indicator,
    "validationRules": objects.save_validation_rule,
}


def comparable(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec without uids (which never change on update), to tell an update from a no-op."""
    out = {k: v for k, v in spec.items() if k != "uid"}
    if "options" in out:
        out["options"] = [{k: v for k, v in o.items() if k != "uid"} for o in out["options"]]
    return out


# ---------------------------------------------------------------- import


@dataclass
class Stats:
    created: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        total = self.created + self.updated + self.ignored + self.deleted
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "ignored": self.ignored,
            "total": total,
        }


@dataclass
class Run:
    conn: Connection
    principal: Principal
    ctx: Context
    stats: dict[str, Stats] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    conflicts_only: bool = True

    def fail(self, kind: str, index: int, error: JiaoweiError) -> None:
        self.conflicts_only = self.conflicts_only and isinstance(error, Conflict)
        problems = error.problems or [Problem(error.detail or error.title)]
        self.problems += [_placed(kind, index, p) for p in problems]


def _placed(kind: str, index: int, problem: Problem) -> Problem:
    """A service's problem, placed in the bundle: ``dataSets[2].dataSetElements[0]``, row 3."""
    place = f"{kind}[{index}]"
    field_name = {"name_en": "name", "name_zh": "translations"}.get(problem.field or "", problem.field)
    if field_name and field_name.startswith(place):
        where = field_name
    elif field_name:
        where = f"{place}.{field_name}" + (f"[{problem.row - 1}]" if problem.row else "")
    else:
        where = place
    return Problem(
        problem.message, row=index + 1, field=where, value=problem.value, expected=problem.expected
    )


class BundleRefused(ValidationError):
    """A bundle whose objects have problems: nothing was written (the API answers DHIS2's 409)."""


class BundleConflict(Conflict):
    """A bundle refused only because saved data forbids its changes (the API answers DHIS2's 409)."""


def import_bundle(
    conn: Connection,
    *,
    principal: Principal,
    bundle: dict[str, Any],
    dry_run: bool = False,
    skip_unsupported: bool = True,
) -> dict[str, Any]:
    """Import a DHIS2 metadata bundle, all or nothing; returns DHIS2's import report.

    Kinds jiaowei does not import are skipped and reported (status ``WARNING``), or refuse the
    bundle when ``skip_unsupported`` is false. Raises :class:`BundleRefused`
    (:class:`BundleConflict` when every failure is a change data forbids) whose problems name
    ``kind[index].field``, the row (index + 1) and the value; nothing is written then, nor on a
    dry run.
    """
    require_action(principal, Action.METADATA_WRITE)
    shape = check_shape(bundle)
    run = Run(conn, principal, Context(conn))
    if not skip_unsupported:
        run.problems += [_unsupported(kind) for kind in shape.skipped]
        run.conflicts_only = not run.problems
    savepoint = conn.begin_nested()
    try:
        if not run.problems:
            _import_lists(run, shape.lists)
    except BaseException:
        savepoint.rollback()
        raise
    if run.problems:
        savepoint.rollback()
        error = BundleConflict if run.conflicts_only else BundleRefused
        count = len(run.problems)
        raise error(
            M_("Nothing was imported: the bundle has {count} problem(s).", count=count),
            run.problems[:MAX_PROBLEMS],
        )
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return report(run.stats, dry_run=dry_run, skipped=shape.skipped)


def _unsupported(kind: str) -> Problem:
    return Problem(N_("not a kind of metadata jiaowei imports"), field=kind,
                   expected=", ".join(supported_kinds()))


def report(stats: Mapping[str, Stats], *, dry_run: bool, skipped: Mapping[str, int]) -> dict[str, Any]:
    """DHIS2's import report: a type report per kind, one per skipped kind with its warning."""
    total = Stats(
        sum(s.created for s in stats.values()),
        sum(s.updated for s in stats.values()),
        sum(s.ignored for s in stats.values()) + sum(skipped.values()),
        sum(s.deleted for s in stats.values()),
    )
    order = (*ORG_UNIT_KINDS, *KINDS[:3], OPTION_COMBOS, *KINDS[3:])
    reports = [{"klass": kind, "stats": stats[kind].as_dict()} for kind in order if kind in stats]
    return {
        "responseType": "ImportReport",
        "status": "WARNING" if skipped else "OK",
        "dryRun": dry_run,
        "stats": total.as_dict(),
        "typeReports": reports + [_skipped_report(kind, count) for kind, count in skipped.items()],
    }


def _skipped_report(kind: str, count: int) -> dict[str, Any]:
    warning = {
        "message": M_("{kind} is not a kind of metadata jiaowei imports: its {count} object(s) were skipped.",
                      kind=kind, count=count),
        "mainKlass": kind,
        "errorCode": "E6002",
        "errorProperty": None,
        "value": kind,
    }
    return {
        "klass": kind,
        "stats": Stats(ignored=count).as_dict(),
        "objectReports": [{"klass": kind, "index": 0, "errorReports": [warning]}],
    }


def _import_lists(run: Run, lists: dict[str, list[Any]]) -> None:
    units = {kind: lists[kind] for kind in ORG_UNIT_KINDS if kind in lists}
    if units:  # first: data sets name the units
        stats, problems = import_org_units(run.conn, principal=run.principal, lists=units)
        for kind, counts in stats.items():
            run.stats[kind] = Stats(counts.get("created", 0), counts.get("updated", 0),
                                    counts.get("ignored", 0), counts.get("deleted", 0))
        if problems:
            run.problems += problems
            run.conflicts_only = False
            return
    run.ctx.factors = _factors(lists.get("indicatorTypes", []))
    saved_options = _saved_option_names(run.conn)
    if "categoryOptions" in lists:
        _read_options(run, lists["categoryOptions"])
    for kind in KINDS[1:]:
        if kind in lists:
            run.stats[kind] = Stats()
            seen: set[str] = set()
            for index, data in enumerate(lists[kind]):
                if len(run.problems) >= MAX_PROBLEMS:
                    return
                _import_one(run, kind, index, data, seen)
        if kind == "categoryCombos" and OPTION_COMBOS in lists:
            _keep_option_combo_ids(run, lists[OPTION_COMBOS])
    if "categoryOptions" in lists:
        run.stats["categoryOptions"] = _option_stats(run.conn, lists["categoryOptions"], saved_options)


def _keep_option_combo_ids(run: Run, cocs: list[Mapping[str, Any]]) -> None:
    stats = run.stats[OPTION_COMBOS] = Stats()
    aliases = run.ctx.aliases.get(store.category_combos.name, {})
    for index, data in enumerate(cocs):
        try:
            with run.conn.begin_nested():
                outcome = bundle_cocs.keep_option_combo_id(
                    run.conn, principal=run.principal, data=data, aliases=aliases
                )
        except JiaoweiError as error:
            run.fail(OPTION_COMBOS, index, error)
            continue
        setattr(stats, outcome, getattr(stats, outcome) + 1)


def _factors(types: list[Mapping[str, Any]]) -> dict[str, Any]:
    found = {}
    for t in types:
        for key in ("code", "id"):
            if isinstance(t.get(key), str):
                found[t[key]] = t.get("factor")
    return found


def _read_options(run: Run, options: list[Mapping[str, Any]]) -> None:
    for index, data in enumerate(options):
        if is_default("categoryOptions", data):
            continue
        obj = Reader(data)
        spec = _identity(obj)
        problems = obj.problems + [p for p in name_problems(spec, M_("category option")) if p]
        if problems:
            run.fail("categoryOptions", index, ValidationError(N_("Invalid category option."), problems))
            continue
        run.ctx.options[spec["code"]] = data
        if spec["uid"]:
            run.ctx.options[spec["uid"]] = data


def _saved_option_names(conn: Connection) -> dict[str, tuple[str, str]]:
    opts = store.category_options
    rows = conn.execute(select(opts.c.code, opts.c.name_zh, opts.c.name_en).order_by(opts.c.id.desc())).all()
    return {r.code: (r.name_zh, r.name_en) for r in rows}


def _option_stats(
    conn: Connection, options: list[Mapping[str, Any]], before: dict[str, tuple[str, str]]
) -> Stats:
    """Options are saved with the categories that list them; those no category lists are ignored."""
    after = _saved_option_names(conn)
    stats = Stats()
    for data in options:
        spec = _identity(Reader(data))
        code = spec["code"]
        if code not in after or is_default("categoryOptions", data):
            stats.ignored += 1
        elif code not in before:
            stats.created += 1
        elif before[code] != after[code]:
            stats.updated += 1
        else:
            stats.ignored += 1
    return stats


def _import_one(run: Run, kind: str, index: int, data: Mapping[str, Any], seen: set[str]) -> None:
    stats = run.stats[kind]
    if kind in ("categories", "categoryCombos") and is_default(kind, data):
        stats.ignored += 1
        return
    try:
        with run.conn.begin_nested():
            outcome = _save(run, kind, data, seen)
    except JiaoweiError as error:
        run.fail(kind, index, error)
        return
    except DBAPIError as error:
        run.fail(
            kind,
            index,
            ValidationError(
                N_("The database refused the object."),
                [Problem(N_("refused by the database"), value=str(error.orig)[:300])],
            ),
        )
        return
    setattr(stats, outcome, getattr(stats, outcome) + 1)


def _save(run: Run, kind: str, data: Mapping[str, Any], seen: set[str]) -> str:
    obj = Reader(data)
    spec = SPECS[kind](run.ctx, obj)
    code = spec["code"]
    if isinstance(code, str) and code in seen:
        obj.problem(N_("appears twice in the bundle"), "code", code, N_("each code once per list"))
    seen.add(str(code))
    if (bad := check_code(code, field="code")) is not None:  # before the code is looked up
        shown = escaped(code) if isinstance(code, str) else code  # a lone surrogate, written as \ud800
        obj.problems.append(Problem(bad.message, field=bad.field, value=shown, expected=bad.expected))
        raise ValidationError(N_("Invalid object."), obj.problems)
    _check_uid(run.conn, TABLES[kind], obj, code, spec["uid"])
    if spec["uid"] and isinstance(code, str):
        run.ctx.aliases.setdefault(TABLES[kind].name, {})[spec["uid"]] = code
    if obj.problems:
        raise ValidationError(N_("Invalid object."), obj.problems)
    current = current_spec(run.conn, kind, code)
    if current is not None and comparable(current) == comparable(spec):
        return "ignored"
    SAVERS[kind](run.conn, principal=run.principal, **spec)
    return "created" if current is None else "updated"


def _check_uid(conn: Connection, table: Table, obj: Reader, code: Any, uid: str | None) -> None:
    if uid is None:
        return
    owner = conn.execute(select(table.c.code).where(table.c.uid == uid)).scalar()
    if owner is not None and owner != code:
        obj.problem(M_("the id is already the id of {owner!r}", owner=owner), "id", uid,
                    N_("an unused id, or the same code"))


def current_spec(conn: Connection, kind: str, code: Any) -> dict[str, Any] | None:
    """The saved object as the arguments that would save it again, or None if there is none."""
    if not isinstance(code, str):
        return None
    found = EXPORTERS[kind](conn, [code], None)
    if not found:
        return None
    obj = Reader(found[0])
    return SPECS[kind](Context(conn), obj)
