"""Small helpers shared by the HTML pages: form fields, safe redirects, cookies."""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from jiaowei.domains import N_ as N_  # the marker, re-exported for the pages
from jiaowei.errors import JiaoweiError, Problem
from jiaowei.i18n import translate


async def form_fields(request: Request) -> dict[str, str]:
    """The text fields of a posted form (files are read by the handler itself)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


Form = Annotated[dict[str, str], Depends(form_fields)]


def local_path(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def problems_by_field(error: JiaoweiError | None) -> dict[str, list[Problem]]:
    """The problems of an error, keyed by field ("" for those without one)."""
    found: dict[str, list[Problem]] = defaultdict(list)
    for problem in error.problems if error else []:
        found[problem.field or ""].append(problem)
    return dict(found)


def in_language(error: JiaoweiError, lang: str) -> JiaoweiError:
    """A copy of ``error`` with its detail, and each problem's message and expectation, in ``lang``."""
    shown = copy.copy(error)
    shown.detail = translate(lang, error.detail)
    shown.problems = [Problem(translate(lang, p.message), row=p.row, field=p.field, value=p.value,
                              expected=translate(lang, p.expected) if p.expected else None)
                      for p in error.problems]
    return shown
