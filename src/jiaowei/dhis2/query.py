"""DHIS2's list parameters over plain dicts: ``fields``, ``filter`` with ``rootJunction``, ``order``
and paging (``paging``, ``page``, ``pageSize``, the pager with ``nextPage`` and ``prevPage``).

A pure engine: it takes the objects a route exported (lists of JSON-shaped dicts) and the
parameters as text, and gives back DHIS2's answer. Bad parameters raise
:class:`jiaowei.errors.ValidationError` naming the parameter and the part that is wrong. The rules
that differ from DHIS2 are listed in docs/dhis2.md ("The protocol").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jiaowei.errors import M_, Problem, ValidationError

PRESETS: dict[str, tuple[str, ...]] = {
    ":identifiable": ("id", "name", "code", "created", "lastUpdated"),
    ":nameable": ("id", "name", "shortName", "code", "description", "created", "lastUpdated"),
}
ALL = ("*", ":all", ":persisted", ":owner")
SIMPLE = ":simple"  # every field whose value is not an object or a list
DERIVED = {"displayName": "name", "displayShortName": "shortName", "displayDescription": "description"}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
DIRECTIONS = ("asc", "desc", "iasc", "idesc")
JUNCTIONS = ("AND", "OR")
NO_VALUE = frozenset({"null", "!null", "empty", "!empty"})
OPERATORS = (
    "eq", "!eq", "ne", "neq", "like", "!like", "$like", "!$like", "like$", "!like$", "ilike", "!ilike",
    "$ilike", "!$ilike", "ilike$", "!ilike$", "in", "!in", "null", "!null", "empty", "!empty",
    "gt", "ge", "lt", "le", "token", "!token",
)
BALANCED = M_("balanced brackets, e.g. id,name,dataSetElements[dataElement[id]]")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100_000


class BadParameter(ValidationError):
    """A query parameter that is malformed, unknown or unsupported: 400, as DHIS2 answers."""

    code = "bad-parameter"
    title = "Bad request"
    status = 400


def _bad(parameter: str, value: str, expected: str) -> ValidationError:
    return BadParameter(
        M_("The parameter {parameter} is not valid.", parameter=parameter),
        [Problem(M_("not valid"), field=parameter, value=value[:200], expected=expected)],
    )


# ---------------------------------------------------------------- fields


@dataclass(frozen=True)
class FieldSpec:
    """What ``fields`` keeps of one object: every field, presets, named fields (each with the spec of
    its nested objects) and exclusions."""

    everything: bool = False
    simple: bool = False
    named: Mapping[str, FieldSpec | None] = field(default_factory=dict)
    excluded: frozenset[str] = frozenset()


def _split_top(text: str, parameter: str) -> list[str]:
    """``a,b[c,d],e`` → ``["a", "b[c,d]", "e"]``; unbalanced brackets are a 400."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth < 0:
                raise _bad(parameter, text, BALANCED)
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise _bad(parameter, text, BALANCED)
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_fields(text: str | Sequence[str] | None) -> FieldSpec | None:
    """The spec of a ``fields`` parameter (repeated parameters are joined); None: every field."""
    joined = ",".join(text) if not isinstance(text, str) and text is not None else text
    if not joined or not joined.strip():
        return None
    return _fields_spec(joined, joined)


def _fields_spec(text: str, whole: str) -> FieldSpec:
    everything, simple, excluded = False, False, set()
    named: dict[str, FieldSpec | None] = {}
    for part in _split_top(text, "fields"):
        name, nested = _field_part(part, whole)
        if name.startswith("!"):
            excluded.add(name[1:])
        elif name in ALL:
            everything = True
        elif name == SIMPLE:
            simple = True
        elif name in PRESETS:
            named.update({n: named.get(n) for n in PRESETS[name]})
        else:
            named[name] = nested
    return FieldSpec(everything, simple, named, frozenset(excluded))


def _field_part(part: str, whole: str) -> tuple[str, FieldSpec | None]:
    """``name`` or ``name[sub,fields]`` (or ``name(sub)``): the name and the nested spec."""
    cut = min((i for i in (part.find("["), part.find("(")) if i >= 0), default=-1)
    name, nested = (part, None) if cut < 0 else (part[:cut].strip(), part[cut + 1 : -1])
    if cut >= 0 and part[-1] not in "])":
        raise _bad("fields", whole, M_("a name followed by its fields in brackets, e.g. "
                                        "categoryCombo[id,name]"))
    bare = name[1:] if name.startswith("!") else name
    if not (bare in ALL or bare in PRESETS or bare == SIMPLE or NAME.match(bare)):
        raise _bad("fields", whole, M_("field names, presets (*, :all, :identifiable, :nameable, :simple) "
                                        "and name[fields]; not {part!r}", part=part[:60]))
    return name, (_fields_spec(nested, whole) if nested is not None and nested.strip() else None)


def select_fields(obj: Any, spec: FieldSpec | None) -> Any:
    """The object cut to ``spec`` (lists of objects are cut element by element)."""
    if spec is None:
        return obj
    if isinstance(obj, list):
        return [select_fields(item, spec) for item in obj]
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    if spec.everything:
        out.update(obj)
    elif spec.simple:
        out.update({k: v for k, v in obj.items() if not isinstance(v, dict | list)})
    for name, nested in spec.named.items():
        value = _field_value(obj, name)
        if value is not _MISSING:
            out[name] = select_fields(value, nested) if nested is not None else value
    for name in spec.excluded:
        out.pop(name, None)
    return out


_MISSING = object()


def _field_value(obj: Mapping[str, Any], name: str) -> Any:
    """The field's value; DHIS2's display fields fall back to the field they display."""
    if name in obj:
        return obj[name]
    if name in DERIVED and DERIVED[name] in obj:
        return obj[DERIVED[name]]
    return _MISSING


# ---------------------------------------------------------------- filter


@dataclass(frozen=True)
class Filter:
    """One ``property:operator:value`` filter."""

    path: tuple[str, ...]
    operator: str
    value: str = ""


def parse_filter(text: str) -> Filter:
    """One filter; an unknown operator or a missing value is a 400 naming it."""
    prop, _, rest = text.partition(":")
    operator, colon, value = rest.partition(":")
    if not PROPERTY.match(prop):
        raise _bad("filter", text, M_("property:operator:value, e.g. name:like:school"))
    if operator not in OPERATORS:
        raise BadParameter(
            M_("Unknown filter operator {operator!r}.", operator=operator[:40]),
            [Problem(M_("unknown operator"), field="filter", value=text[:200],
                     expected=", ".join(OPERATORS))],
        )
    if operator not in NO_VALUE and not colon:
        raise _bad("filter", text, M_("a value after the operator {operator}", operator=operator))
    if operator in ("in", "!in") and not (value.startswith("[") and value.endswith("]")):
        raise _bad("filter", text, M_("a list in brackets, e.g. code:in:[A,B]"))
    return Filter(tuple(prop.split(".")), operator, value)


def _leaves(obj: Any, path: Sequence[str]) -> list[Any]:
    """Every value at ``path``, walking into nested objects and through lists."""
    if isinstance(obj, list):
        return [leaf for item in obj for leaf in _leaves(item, path)]
    if not path:
        return [obj]
    if not isinstance(obj, dict):
        return []
    value = _field_value(obj, path[0])
    return [] if value is _MISSING else _leaves(value, path[1:])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(value: Any, wanted: str) -> int | None:
    """-1, 0 or 1 as ``value`` is below, equal to or above ``wanted`` (None: they do not compare)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = _number(wanted)
        if number is None:
            return None
        return (value > number) - (value < number)
    text = _text(value)
    return (text > wanted) - (text < wanted)


def _like(value: Any, wanted: str, *, fold: bool, where: str) -> bool:
    if value is None or isinstance(value, dict | list):
        return False
    text, needle = _text(value), wanted
    if fold:
        text, needle = text.casefold(), needle.casefold()
    if where == "start":
        return text.startswith(needle)
    if where == "end":
        return text.endswith(needle)
    return needle in text


def _positive(operator: str) -> tuple[str, bool]:
    """The operator without its negation, and whether it was negated."""
    if operator in ("ne", "neq"):
        return "eq", True
    if operator.startswith("!"):
        return operator[1:], True
    return operator, False


def _one_matches(value: Any, operator: str, wanted: str) -> bool:
    if operator == "eq":
        return _compare(value, wanted) == 0
    if operator in ("gt", "ge", "lt", "le"):
        order = _compare(value, wanted)
        if order is None:
            return False
        return {"gt": order > 0, "ge": order >= 0, "lt": order < 0, "le": order <= 0}[operator]
    if operator == "in":
        return any(_compare(value, item.strip()) == 0 for item in wanted[1:-1].split(","))
    if operator == "token":
        words = _text(value).casefold() if value is not None else ""
        return all(token in words for token in wanted.casefold().split())
    fold = operator.lstrip("$").rstrip("$").startswith("i")
    where = "start" if operator.startswith("$") else "end" if operator.endswith("$") else "any"
    return _like(value, wanted, fold=fold, where=where)


def matches(obj: Mapping[str, Any], condition: Filter) -> bool:
    """Whether the object passes the filter; a negated operator holds where its positive form does not,
    so ``eq`` and ``ne`` split every list in two."""
    operator, negated = _positive(condition.operator)
    if condition.path == ("identifiable",):
        leaves = [obj.get(key) for key in ("id", "code", "name")]
    else:
        leaves = _leaves(obj, condition.path)
    if operator in ("null", "empty"):
        held = all(leaf is None or leaf in ("", [], {}) for leaf in leaves)
    else:
        held = any(_one_matches(leaf, operator, condition.value) for leaf in leaves)
    return held != negated


# ---------------------------------------------------------------- order


@dataclass(frozen=True)
class Order:
    path: tuple[str, ...]
    direction: str = "asc"


def parse_order(texts: Iterable[str]) -> list[Order]:
    """``name:asc,code:idesc`` (repeated parameters are read in turn)."""
    out = []
    for text in texts:
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            prop, _, direction = part.partition(":")
            if not PROPERTY.match(prop) or (direction or "asc") not in DIRECTIONS:
                raise _bad("order", part, M_("property:asc, desc, iasc or idesc, e.g. name:asc"))
            out.append(Order(tuple(prop.split(".")), direction or "asc"))
    return out


def _sort_key(obj: Mapping[str, Any], order: Order) -> tuple[int, int, Any]:
    leaves = [leaf for leaf in _leaves(obj, order.path) if leaf is not None]
    if not leaves or isinstance(leaves[0], dict | list):
        return (1, 0, "")  # missing values last, whatever the direction
    value = leaves[0]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, 0, float(value))
    text = _text(value)
    return (0, 1, text.casefold() if order.direction.startswith("i") else text)


def sort_objects(objects: Sequence[Mapping[str, Any]], orders: Sequence[Order]) -> list[Mapping[str, Any]]:
    """Sorted by each order in turn; stable, so equal objects keep their order."""
    out = list(objects)
    for order in reversed(orders):
        present = [o for o in out if _sort_key(o, order)[0] == 0]
        missing = [o for o in out if _sort_key(o, order)[0] == 1]
        present.sort(key=lambda o: _sort_key(o, order)[1:], reverse=order.direction.endswith("desc"))
        out = present + missing
    return out


# ---------------------------------------------------------------- the whole list


@dataclass(frozen=True)
class ListParameters:
    """A list route's DHIS2 parameters, read from the query string."""

    fields: FieldSpec | None = None
    filters: tuple[Filter, ...] = ()
    junction: str = "AND"
    orders: tuple[Order, ...] = ()
    paging: bool = True
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


def _positive_int(name: str, text: str | None, default: int, most: int) -> int:
    if text is None or text == "":
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise _bad(name, text, M_("a whole number from 1 to {most}", most=most))
    return int(text)


def _paging(text: str | None) -> bool:
    if text is None or text.lower() == "true":
        return True
    if text.lower() == "false":
        return False
    raise _bad("paging", text, "true, false")


def read_parameters(query: Sequence[tuple[str, str]]) -> ListParameters:
    """The parameters from the query string's (name, value) pairs; repeated ones are all read."""
    def every(name: str) -> list[str]:
        return [v for k, v in query if k == name]

    def last(name: str) -> str | None:
        found = every(name)
        return found[-1] if found else None

    junction = (last("rootJunction") or "AND").upper()
    if junction not in JUNCTIONS:
        raise _bad("rootJunction", junction, "AND, OR")
    return ListParameters(
        fields=parse_fields(every("fields")),
        filters=tuple(parse_filter(f) for f in every("filter") if f),
        junction=junction,
        orders=tuple(parse_order(every("order"))),
        paging=_paging(last("paging")),
        page=_positive_int("page", last("page"), 1, 1_000_000),
        page_size=_positive_int("pageSize", last("pageSize"), DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    )


def _check_properties(objects: Sequence[Mapping[str, Any]], params: ListParameters) -> None:
    """A filter or order on a property no object has is a 400 (DHIS2: "unknown property")."""
    if not objects:
        return
    known = {key for obj in objects for key in obj} | set(DERIVED) | {"identifiable"}
    paths = [("filter", f.path) for f in params.filters] + [("order", o.path) for o in params.orders]
    for name, path in paths:
        if path[0] not in known:
            raise _bad(name, ".".join(path), M_("a property of the objects, e.g. {some}",
                                                some=", ".join(sorted(known)[:12])))


def filter_objects(objects: Sequence[Mapping[str, Any]], params: ListParameters) -> list[Mapping[str, Any]]:
    if not params.filters:
        return list(objects)
    join: Callable[[Iterable[bool]], bool] = all if params.junction == "AND" else any
    return [obj for obj in objects if join(matches(obj, f) for f in params.filters)]


def page_url(url: str, page: int) -> str:
    """The same request's URL with ``page`` set (DHIS2's ``nextPage`` and ``prevPage``)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("page", str(page))])))


def pager(total: int, page: int, page_size: int, url: str) -> dict[str, Any]:
    count = max(1, math.ceil(total / page_size))
    out: dict[str, Any] = {"page": page, "pageCount": count, "total": total, "pageSize": page_size}
    if page < count:
        out["nextPage"] = page_url(url, page + 1)
    if page > 1:
        out["prevPage"] = page_url(url, min(page - 1, count))
    return out


def answer_list(
    objects: Sequence[Mapping[str, Any]], params: ListParameters, *, key: str, url: str
) -> dict[str, Any]:
    """DHIS2's list answer: filtered, ordered, paged (with its pager unless ``paging=false``) and cut to
    ``fields``."""
    _check_properties(objects, params)
    chosen = sort_objects(filter_objects(objects, params), params.orders)
    if not params.paging:
        return {key: [select_fields(obj, params.fields) for obj in chosen]}
    start = (params.page - 1) * params.page_size
    shown = chosen[start : start + params.page_size]
    return {"pager": pager(len(chosen), params.page, params.page_size, url),
            key: [select_fields(obj, params.fields) for obj in shown]}


def answer_one(obj: Mapping[str, Any], query: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """One object cut to the request's ``fields``."""
    cut: dict[str, Any] = select_fields(dict(obj), parse_fields([v for k, v in query if k == "fields"]))
    return cut
