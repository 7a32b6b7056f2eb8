"""What an audit entry changed, for people: field → old → new, with labels from the catalog.

Pure: takes an entry's ``before`` and ``after`` (decoded JSON) and returns the fields that differ,
their values as short text, long values marked to be folded. Field names and kinds of object that
the catalog knows get a label (marked with ``N_`` here, translated where they are shown); any other
name is shown as it is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jiaowei.domains import N_

LONG = 120  # a value longer than this (in characters) is folded on the page
HIDDEN = "•••"
YES, NO = N_("Yes"), N_("No")  # a boolean value, shown translated
OTHER = N_("Other")  # the kinds of object beyond the ten most frequent, in the chart
SECRET = frozenset({"password", "password_hash", "token_hash", "secret"})

FIELD_LABELS = {
    "name_zh": N_("Chinese name"), "name_en": N_("English name"), "parent": N_("Parent unit"),
    "type": N_("Type"), "ownership": N_("Ownership"), "sector": N_("Sector"), "opened": N_("Opened"),
    "closed": N_("Closed"), "effective": N_("Effective from"), "merged_into": N_("Merged into"),
    "versions": N_("Versions"), "attributes": N_("Attributes"), "members": N_("Members"),
    "role": N_("Role"), "active": N_("Active"), "display_name": N_("Display name"),
    "capture": N_("Capture units"), "view": N_("View units"), "password": N_("Password"),
    "status": N_("Status"), "value": N_("Value"), "dataSet": N_("Data set"), "period": N_("Period"),
    "orgUnit": N_("Unit"), "organisationUnit": N_("Unit"), "unit": N_("Unit"), "reason": N_("Reason"),
    "code": N_("Code"), "note": N_("Note"), "title": N_("Title"), "description": N_("Description"),
    "deadline": N_("Deadline"), "title_zh": N_("Chinese name"), "title_en": N_("English name"),
    "groups": N_("Groups"),
}

ENTITY_LABELS = {
    "unit": N_("Unit"), "unit_group": N_("Unit group"), "unit_group_set": N_("Unit group set"),
    "user": N_("User"), "api_token": N_("API token"), "campaign": N_("Campaign"),
    "applicant": N_("Applicant"), "appeal": N_("Appeal"), "approval": N_("Approval"),
    "completion": N_("Completion registration"), "data_values": N_("Data values import"),
    "data_element": N_("Data element"), "data_set": N_("Data set"), "indicator": N_("Indicator"),
    "indicator_fact": N_("Indicator fact"), "target": N_("Target"), "category": N_("Category"),
    "category_combo": N_("Category combination"), "validation_rule": N_("Validation rule"),
    "min_max": N_("Min–max range"), "lock_exception": N_("Lock exception"), "dashboard": N_("Dashboard"),
    "evidence_attachment": N_("Evidence"), "plans": N_("Plans"), "plan_items": N_("Task"),
    "plan_reports": N_("Plan report"),
    "rectification_findings": N_("Rectification finding"),
    "rectification_measures": N_("Rectification measure"), "appraisal_templates": N_("Appraisal template"),
    "appraisal_rounds": N_("Appraisal round"), "appraisal_subjects": N_("Appraisal subject"),
    "risks": N_("Risk"), "risk_reviews": N_("Risk review"),
}


@dataclass(frozen=True)
class Change:
    """One field that differs: ``path`` the field's names (nested fields have more than one), each
    with its label; ``old``/``new`` the values as text (None: no value)."""

    path: tuple[str, ...]
    labels: tuple[str, ...]
    old: str | None
    new: str | None

    @property
    def long(self) -> bool:
        return len(self.old or "") > LONG or len(self.new or "") > LONG


def label(field: str) -> str:
    """A field's label (a catalog message), or its name when the catalog has none."""
    return FIELD_LABELS.get(field, field)


def entity_label(entity: str) -> str:
    """A kind of object's label (a catalog message), or its name when the catalog has none."""
    return ENTITY_LABELS.get(entity, entity)


def text(value: Any) -> str | None:
    """A value as short text: strings as they are, booleans as :data:`YES`/:data:`NO` (catalog
    messages: the page translates them), numbers as JSON, objects as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return YES if value else NO
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def changes(before: Any, after: Any) -> list[Change]:
    """The fields that differ between ``before`` and ``after``; every field of the one that exists
    when the other is none (a creation or a deletion). A value that is not an object is one change."""
    objects = (before is None or isinstance(before, dict)) and (after is None or isinstance(after, dict))
    if objects and (before is not None or after is not None):
        return _fields(before or {}, after or {}, ())
    if before == after:
        return []
    return [Change((), (), _shown("", before), _shown("", after))]


def _fields(before: dict[str, Any], after: dict[str, Any], path: tuple[str, ...]) -> list[Change]:
    found: list[Change] = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if name in before and name in after and old == new:
            continue
        if _empty(old) and _empty(new):  # e.g. a new unit's attributes: {} (nothing to read)
            continue
        where = (*path, name)
        if isinstance(old, dict) and isinstance(new, dict):
            found.extend(_fields(old, new, where))
            continue
        labels = tuple(label(part) for part in where)
        found.append(Change(where, labels, _shown(name, old), _shown(name, new)))
    return found


def _shown(field: str, value: Any) -> str | None:
    if value is not None and field in SECRET:
        return HIDDEN
    return text(value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}
