"""A refused metadata bundle as DHIS2 answers it: a 409 ``ImportReport`` with ``errorReports``.

DHIS2 answers a metadata import it refuses with ``status: ERROR``, the stats (everything
ignored) and, per kind, an object report per refused object whose ``errorReports`` each carry a
message, the kind (``mainKlass``), an error code (DHIS2's E-codes: E4000 a required property is
missing, E5002 an invalid reference, E5003 a value another object has, E4001 too long, E4030
refused because other objects or data use it; E4000 otherwise), the property and the value.
jiaowei's own problem list (row, field, value, expected) is kept beside it under ``problems``,
with ``title`` and ``detail`` as in its problem+json. Pure: no database, no web framework.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jiaowei.errors import Conflict, JiaoweiError, Problem

PLACE = re.compile(r"^(?P<kind>[A-Za-z]+)\[(?P<index>\d+)\](?:\.(?P<property>.*))?$")
"""Where a problem is: ``dataElements[2].categoryCombo``."""

CODES = (
    ("unknown", "E5002"),
    ("not a combination", "E5002"),
    ("missing", "E4000"),
    ("needs a", "E4000"),
    ("appears twice", "E5003"),
    ("the id is already", "E5003"),
    ("not text of the right length", "E4001"),
    ("too many", "E4007"),
)
"""DHIS2's error code for a problem, by how jiaowei's message (its English original) begins."""

REFUSED_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "DHIS2's ImportReport (status ERROR, typeReports with errorReports) and "
        "jiaowei's problems beside it; nothing was written",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["responseType", "status", "stats", "typeReports", "problems"],
                    "properties": {
                        "responseType": {"type": "string", "enum": ["ImportReport"]},
                        "status": {"type": "string", "enum": ["ERROR"]},
                        "stats": {"type": "object"},
                        "typeReports": {"type": "array", "items": {"type": "object"}},
                        "problems": {"type": "array",
                                     "items": {"$ref": "#/components/schemas/ProblemItem"}},
                    },
                }
            }
        },
    }
}
"""The OpenAPI description of the answer to a refused bundle."""


def error_code(problem: Problem, conflict: bool) -> str:
    """DHIS2's E-code for one of jiaowei's problems."""
    message = str(problem.message)
    for start, code in CODES:
        if message.startswith(start):
            return code
    return "E4030" if conflict else "E4000"


def _place(problem: Problem) -> tuple[str, int | None, str | None]:
    found = PLACE.match(problem.field or "")
    if found is None:
        return (problem.field or "metadata"), None, None
    return found["kind"], int(found["index"]), found["property"]


def _counts(document: Any) -> dict[str, int]:
    if not isinstance(document, Mapping):
        return {}
    return {str(k): len(v) for k, v in document.items() if isinstance(v, list)}


def _uid(document: Any, kind: str, index: int | None) -> Any:
    objects = document.get(kind) if isinstance(document, Mapping) else None
    if index is None or not isinstance(objects, list) or index >= len(objects):
        return None
    found = objects[index]
    return found.get("id") if isinstance(found, Mapping) else None


def refusal_report(error: JiaoweiError, document: Any, shown: JiaoweiError | None = None) -> dict[str, Any]:
    """The body of DHIS2's 409 for a refused bundle, with jiaowei's problems beside it.

    ``shown`` is ``error`` in the language the request asks for (the same problems, translated):
    the error codes are read from the original, the messages shown from the translation.
    """
    conflict = isinstance(error, Conflict)
    shown = shown or error
    codes = [error_code(p, conflict) for p in error.problems]
    objects: dict[str, dict[int | None, list[dict[str, Any]]]] = {}
    for problem, code in zip(shown.problems, codes, strict=True):
        kind, index, prop = _place(problem)
        objects.setdefault(kind, {}).setdefault(index, []).append({
            "message": " ".join(str(part) for part in (problem.message, problem.expected) if part),
            "mainKlass": kind,
            "errorCode": code,
            "errorProperty": prop,
            "value": problem.value,
        })
    counts = _counts(document)
    type_reports = [
        {
            "klass": kind,
            "stats": _stats(counts.get(kind, 0)),
            "objectReports": [
                {"klass": kind, "index": index or 0, "uid": _uid(document, kind, index),
                 "errorReports": reports}
                for index, reports in by_index.items()
            ],
        }
        for kind, by_index in objects.items()
    ]
    return {
        "responseType": "ImportReport",
        "httpStatus": "Conflict",
        "httpStatusCode": 409,
        "status": "ERROR",
        "title": shown.title,
        "detail": shown.detail or shown.title,
        "stats": _stats(sum(counts.values())),
        "typeReports": type_reports,
        "problems": [p.as_dict() for p in shown.problems],
    }


def _stats(ignored: int) -> dict[str, int]:
    return {"created": 0, "updated": 0, "deleted": 0, "ignored": ignored, "total": ignored}
