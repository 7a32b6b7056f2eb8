"""One handler turns every JiaoweiError into problem+json (API) or an error page (browser).

Text in a problem may come from the request (a value, a field name): :func:`json_safe` writes a
lone surrogate there as its escape (``\\ud800``), so that the answer can always be encoded.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jiaowei.db.engine import is_busy
from jiaowei.errors import (
    M_,
    JiaoweiError,
    NotAuthenticated,
    NotFound,
    Problem,
    ServiceUnavailable,
    ValidationError,
)
from jiaowei.i18n import translate
from jiaowei.text import text_problem
from jiaowei.web.deps import asked_language, language
from jiaowei.web.forms import in_language
from jiaowei.web.render import page

PROBLEM = "application/problem+json"


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "html" not in request.headers.get("accept", "html")


def problem_body(error: JiaoweiError, request: Request) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://jiaowei.example/problems/{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail or error.title,
        "instance": request.url.path,
    }
    if error.problems:
        body["problems"] = [p.as_dict() for p in error.problems]
    return body


def respond(request: Request, error: JiaoweiError) -> Response:
    _make_safe(error)
    if isinstance(error, ServiceUnavailable):
        error.detail = translate(language(request), error.detail)
    response: Response
    if wants_json(request):
        asked = asked_language(request)  # detail, title and problems in the language the request names
        body = problem_body(in_language(error, asked) if asked else error, request)
        if asked:
            body["title"] = translate(asked, error.title)
        response = JSONResponse(body, status_code=error.status, media_type=PROBLEM)
    elif isinstance(error, NotAuthenticated):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    else:
        shown = in_language(error, language(request))
        response = page(request, "error.html", {"error": shown}, status=error.status)
    if retry_after := getattr(error, "retry_after", None):  # a busy database (503), a throttled login (429)
        response.headers["Retry-After"] = str(retry_after)
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(JiaoweiError)
    async def _jiaowei(request: Request, exc: JiaoweiError) -> Response:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [_request_problem(e) for e in exc.errors()]
        return respond(request, ValidationError(M_("The request is not valid."), problems))

    @app.exception_handler(OperationalError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    def _busy(request: Request, exc: Exception) -> Response:
        """A wait for the database that ran out, raised past the transaction (e.g. by a handler), or a
        connection the server closed during the request (the pool opens a new one for the next)."""
        if getattr(exc, "connection_invalidated", False):
            lost = M_("The connection to the database was lost; try again.")
            return respond(request, ServiceUnavailable(lost))
        if not is_busy(exc):
            raise exc
        return respond(request, ServiceUnavailable(M_("The database is busy; try again in a few seconds.")))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return respond(request, NotFound(M_("Nothing at {path}.", path=request.url.path)))
        error = JiaoweiError(str(exc.detail))
        error.status = exc.status_code  # type: ignore[misc]
        error.title = str(exc.detail)  # type: ignore[misc]
        return respond(request, error)


def _request_problem(error: Any) -> Problem:
    """A problem of pydantic's; text the request gave with a control character or lone surrogate
    is named as such (pydantic refuses a lone surrogate as "not a valid string")."""
    field = ".".join(str(p) for p in error.get("loc", ())[1:]) or None
    found = text_problem(error.get("input"), field=field or "body", multiline=True)
    if found is not None and _SURROGATE.search(error["input"]):
        return Problem(found.message, field=field, value=found.value, expected=found.expected)
    return Problem(str(error.get("msg", "invalid")), field=field, value=_printable(error.get("input")))


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def json_safe(value: Any) -> Any:
    """``value`` (JSON-like) with every lone surrogate in its text written as an escape."""
    if isinstance(value, str):
        return _SURROGATE.sub(_escape, value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _escape(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"


def _make_safe(error: JiaoweiError) -> None:
    """Escape lone surrogates in what the answer shows of ``error`` (JSON and pages alike)."""
    error.detail = json_safe(error.detail)
    error.problems = [Problem(**json_safe(p.as_dict())) for p in error.problems]


def _printable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)[:200]


_PROBLEM_ITEM = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "row": {"type": "integer"},
        "field": {"type": "string"},
        "value": {},
        "expected": {"type": "string"},
    },
}
_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "problems": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemItem"}},
    },
}
_API_ERRORS = {
    "400": "Malformed request (e.g. a body that is not JSON)",
    "401": "Not authenticated",
    "403": "Permission denied",
    "404": "Not found, or outside your scope",
    "422": "Invalid input: each problem names its row, field and value",
    "503": "The database stayed busy longer than a request waits; retry after Retry-After seconds",
}
_WRITE_ERRORS = {
    "408": "The body did not arrive in time (JIAOWEI_BODY_TIMEOUT_SECONDS)",
    "409": "Conflict with the stored state (e.g. the code exists already, or the step is done)",
    "413": "The body is larger than the route accepts (JIAOWEI_MAX_BODY_BYTES, JIAOWEI_MAX_UPLOAD_BYTES)",
}


def document_problems(app: FastAPI) -> None:
    """Describe errors in the OpenAPI document as they are sent: application/problem+json."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Problem"], components["ProblemItem"] = _PROBLEM, _PROBLEM_ITEM
        content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                if path.startswith("/api/") and not path.startswith("/api/health"):
                    for status, description in _API_ERRORS.items():
                        responses[status] = {"description": description, "content": content}
                if path.startswith("/api/") and method != "get":
                    for status, description in _WRITE_ERRORS.items():
                        documented = responses.setdefault(status, {"description": description})
                        documented.setdefault("content", content)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
