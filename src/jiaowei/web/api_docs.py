"""The API's documentation pages, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, from vendored files.

Both libraries are pinned minified builds under ``web/static/vendor/`` (versions and SHA-256 in
``vendor/VERSIONS.json``, refreshed by ``scripts/vendor-assets``), so the pages load nothing from
outside the server. Swagger UI is started by ``static/api-docs.js`` rather than FastAPI's inline
script, and ReDoc starts itself from its ``<redoc>`` element: the pages run no inline script.

They and ``/openapi.json`` are served when ``JIAOWEI_API_DOCS`` says so (default: in development, not
in production); otherwise each answers 404, as a path that does not exist.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jiaowei.errors import M_, NotFound
from jiaowei.web.headers import DOCS_PATHS

router = APIRouter(include_in_schema=False)
SWAGGER, REDOC = DOCS_PATHS
VENDOR = "/static/vendor"

_SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{vendor}/swagger-ui-dist/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{vendor}/swagger-ui-dist/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""

_REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<redoc spec-url="{openapi}"></redoc>
<script src="{vendor}/redoc/redoc.standalone.js"></script>
</body>
</html>
"""


def _fill(template: str, request: Request, name: str) -> HTMLResponse:
    if not request.app.state.settings.api_docs_served:
        raise NotFound(M_("Nothing at {path}.", path=request.url.path))
    title = escape(f"{request.app.title} – {name}")
    openapi = escape(request.app.openapi_url or "/openapi.json")
    return HTMLResponse(template.format(title=title, openapi=openapi, vendor=VENDOR))


@router.get(SWAGGER, response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over the OpenAPI document: try each route with your token."""
    return _fill(_SWAGGER_PAGE, request, "Swagger UI")


@router.get(REDOC, response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over the OpenAPI document: the whole API on one page."""
    return _fill(_REDOC_PAGE, request, "ReDoc")
