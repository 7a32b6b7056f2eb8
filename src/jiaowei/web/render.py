"""Server-rendered pages: one Jinja environment over every domain's templates, and the navigation."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from jiaowei import __version__, clock, domains
from jiaowei.i18n import LANGUAGES, translate
from jiaowei.indicators.defaults import recent_periods
from jiaowei.web.deps import language

SEARCHED = domains.with_templates()
DOMAINS = tuple(domain.name for domain in SEARCHED)  # whose templates the pages render, in search order

environment = Environment(
    loader=ChoiceLoader([FileSystemLoader(str(domain.templates)) for domain in SEARCHED]),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals["navigation"] = domains.navigation()
environment.filters["local_time"] = clock.local  # a stored UTC time in the commission's time zone
environment.globals["recent_periods"] = recent_periods  # what the period picker offers (_pickers.html)


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
        "today": clock.today().isoformat(),
        "time_zone": clock.zone().key,  # the commission's: <meta name="time-zone"> for scripts showing times
        "version": __version__,
        **(context or {}),
    }
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code=status)
