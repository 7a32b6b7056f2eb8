"""Reading one object of a DHIS2 metadata bundle: typed fields, each problem named by its field.

A bundle is free-form JSON, so every field is checked for its type before a service sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem
from jiaowei.indicators.model import UID

ZH_LOCALES = ("zh_CN", "zh", "zh-CN", "zh_Hans")
"""Translation locales read as the Chinese name (the first is written)."""
UID_EXPECTED = "11 characters: a letter, then letters or digits"


def short(value: Any) -> Any:
    """A value fit to echo in a problem."""
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)[:200]


def ref_key(ref: Mapping[str, Any]) -> str:
    """The code of a reference, else its id."""
    for key in ("code", "id"):
        if isinstance(ref.get(key), str) and ref[key]:
            return str(ref[key])
    return ""


class Reader:
    """One JSON object; each accessor returns a typed value and records a problem if it cannot."""

    def __init__(self, data: Mapping[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix
        self.problems: list[Problem] = []

    def problem(self, message: str, field: str, value: Any, expected: str | None = None) -> None:
        where = f"{self.prefix}.{field}" if self.prefix else field
        self.problems.append(Problem(message, field=where, value=short(value), expected=expected))

    def text(self, key: str, *, required: bool = False, max_len: int = 230) -> str:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                self.problem("missing", key, None, "text")
            return ""
        if not isinstance(value, str) or len(value) > max_len:
            self.problem(
                N_("not text of the right length"), key, value, M_("text of at most {max_len:,} characters",
                                                                   max_len=max_len)
            )
            return ""
        return value

    def code(self) -> str | None:
        value = self.data.get("code") or self.data.get("id")
        if not isinstance(value, str):
            self.problem(N_("needs a code (or an id)"), "code", value, N_("a code such as PUPILS"))
            return None
        return value

    def uid(self) -> str | None:
        value = self.data.get("id")
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not UID.match(value):
            self.problem("not a DHIS2 id", "id", value, UID_EXPECTED)
            return None
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(N_("not a whole number in range"), key, value,
                         M_("a whole number from {low} to {high}", low=low, high=high))
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem("not true or false", key, value, "true or false")
            return default
        return value

    def ref(self, key: str, *, required: bool = False, identified: bool = True) -> Mapping[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem("missing", key, None, "an object")
            return None
        if not isinstance(value, Mapping) or (identified and not ref_key(value)):
            self.problem(N_("not a reference"), key, value, N_('{"code": "…"} or {"id": "…"}'))
            return None
        return value

    def list_of(self, key: str) -> list[Mapping[str, Any]]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.problem("not a list of objects", key, value, "a JSON array of objects")
            return []
        return value

    def refs(self, key: str) -> list[Mapping[str, Any]]:
        found = []
        for i, item in enumerate(self.list_of(key)):
            if ref_key(item):
                found.append(item)
            else:
                self.problem(N_("not a reference"), f"{key}[{i}]", item, N_('{"code": "…"} or {"id": "…"}'))
        return found

    def strings(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(N_("not a list of text"), key, value,
                         N_('a JSON array of text, e.g. ["primary_school"]'))
            return []
        return value


def translation(obj: Reader, prop: str) -> str:
    """The Chinese translation of property ``prop`` (e.g. NAME), or ""."""
    items = obj.data.get("translations")
    if items is None:
        return ""
    if not isinstance(items, list):
        obj.problem(
            N_("not a list of translations"),
            "translations",
            items,
            '[{"locale": "zh_CN", "property": "NAME", "value": "…"}]',
        )
        return ""
    for item in items:
        if isinstance(item, Mapping) and item.get("locale") in ZH_LOCALES and item.get("property") == prop:
            reader = Reader(item, prefix="translations")
            value = reader.text("value")
            obj.problems += reader.problems
            return value
    return ""
