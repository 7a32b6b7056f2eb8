"""Server-rendered pages: one Jinja environment over every domain's templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from jiaowei import __version__
from jiaowei.i18n import LANGUAGES, translate
from jiaowei.web.deps import language

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("web", "auth", "registry", "audit", "admissions", "indicators")

environment = Environment(
    loader=ChoiceLoader([FileSystemLoader(str(ROOT / d / "templates")) for d in DOMAINS]),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    lang = language(request)
    values = {
        "request": request,
        "lang": lang,
        "languages": LANGUAGES,
        "_": lambda message, **kw: translate(lang, message).format(**kw) if kw else translate(lang, message),
        "principal": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf", ""),
        "today": dt.date.today().isoformat(),
        "version": __version__,
        **(context or {}),
    }
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code=status)
