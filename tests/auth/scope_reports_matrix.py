"""Lines of the scope matrix (tests/auth/test_scope_matrix.py) for issue 14's reports routes: a D1 user
(district staff) asks for the reports of D2, S2 and SH, and for the annual report (the commission's, SH):
each is refused (403) before anything is rendered, whether asked of the API, of the pages or of a job
(the job's page answers with the job's 403). The templates are readable; changing them needs
``reports.write``, which district staff lack. A job's file is its owner's alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NO_JOB = "/jobs/0123456789abcdef01234567/file"


def _reports(call: Any, path: str, out: str) -> list[Any]:
    """The district report of ``out``, and the annual report and bulletin (SH's), in every format; the
    page ``/reports/view`` takes the template as a parameter."""

    def ask(template: str, **params: str) -> Any:
        if path == "/reports/view":
            return call("GET", path, params={"template": template, **params}, status=403)
        return call("GET", path.format(t=template), params=params, status=403)

    return [
        *(ask("district", year="2020", unit=out, **f) for f in ({}, {"format": "docx"}, {"lang": "en"})),
        *(ask(t, year="2020") for t in ("annual", "bulletin")),
    ]


def _generate(call: Any, out: str) -> list[Any]:
    form = {"template": "district", "year": "2020", "unit": out, "lang": "zh"}
    return [
        call("POST", "/reports/generate", data={**form, "format": "html"}, status=303),  # to /reports/view
        call("POST", "/reports/generate", data={**form, "format": "pdf"}, status=403),  # the job's page
        call("POST", "/reports/generate", data={**form, "template": "annual", "format": "docx"}, status=403),
    ]


def _editor(call: Any, out: str) -> list[Any]:
    body = f"<h1>{out}</h1><p>{{{{ fig('PUPILS', unit='{out}') }}}}</p>"
    return [call("POST", "/reports/templates/district",
                 data={"action": action, "body": body, "year": "2020", "unit": out, "lang": "zh"}, status=403)
            for action in ("preview", "save", "reset")]


def matrix(call: Any) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    """(method, path) -> the calls a D1 user makes with the out-of-district code out."""
    body = lambda out: {"body": f"<h1>{out}</h1>", "name_zh": out}  # noqa: E731
    return {
        ("GET", "/api/reports/templates"): lambda out: [call("GET", "/api/reports/templates", status=200)],
        ("GET", "/api/reports/templates/{code}"): lambda out: [
            call("GET", "/api/reports/templates/district", status=200),
            call("GET", f"/api/reports/templates/{out}", status=404)],
        ("PUT", "/api/reports/templates/{code}"): lambda out: [
            call("PUT", "/api/reports/templates/district", json=body(out), status=403),
            call("PUT", f"/api/reports/templates/{out}", json=body(out), status=403)],
        ("DELETE", "/api/reports/templates/{code}"): lambda out: [
            call("DELETE", "/api/reports/templates/district", status=403)],
        ("GET", "/api/reports/{template}"): lambda out: _reports(call, "/api/reports/{t}", out),
        ("GET", "/api/reports/{template}/figures"): lambda out: _reports(call, "/api/reports/{t}/figures",
                                                                          out),
        ("GET", "/reports"): lambda out: [call("GET", "/reports", status=200)],
        ("POST", "/reports/generate"): lambda out: _generate(call, out),
        ("GET", "/reports/view"): lambda out: _reports(call, "/reports/view", out),
        ("GET", "/reports/templates/new"): lambda out: [call("GET", "/reports/templates/new", status=200)],
        ("POST", "/reports/templates/new"): lambda out: [
            call("POST", "/reports/templates/new", data={"code": f"X{out}", "name_zh": out,
                                                         "body": f"<h1>{out}</h1>"}, status=403)],
        ("GET", "/reports/templates/{code}"): lambda out: [
            call("GET", "/reports/templates/district", status=200),
            call("GET", f"/reports/templates/{out}", status=404)],
        ("POST", "/reports/templates/{code}"): lambda out: _editor(call, out),
        ("GET", "/jobs/{job_id}/file"): lambda out: [call("GET", NO_JOB, status=404)],
    }
