"""The reports pages: the templates with the form that generates a report, a report shown in the page,
and the template editor with its preview.

A report viewed as HTML is rendered in the request (``/reports/view``): the page embeds the writer's
fragment, whose figures link to their pivot. DOCX and PDF are made by a background job (``reports.render``):
the job's page shows its progress, then the file to download (``jobs/files.py`` keeps it for the job's
owner alone and deletes it with the job). Every permission is checked by the service: a district's
staff render their own district's report only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import Connection

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.errors import M_, JiaoweiError, NotFound, Problem, ValidationError
from jiaowei.i18n import translate
from jiaowei.indicators.defaults import own_unit
from jiaowei.jobs import files
from jiaowei.jobs.model import Outcome
from jiaowei.jobs.pages import start_job
from jiaowei.jobs.runner import JobContext, Work
from jiaowei.plans.tasks import queries as plans
from jiaowei.registry import queries as registry
from jiaowei.registry.model import Unit
from jiaowei.reports import queries, service
from jiaowei.reports.document import Document
from jiaowei.reports.outputs import Format, Progress, output
from jiaowei.reports.outputs.html import to_html
from jiaowei.reports.queries import ReportTemplate
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.forms import N_, Form, in_language, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

KIND_LABELS = {"annual": N_("Annual work report"), "district": N_("District report"),
               "bulletin": N_("Indicator bulletin"), "custom": N_("Custom template")}
FORMATS = {"html": N_("View in the page (HTML)"), "docx": N_("Word document (DOCX)"), "pdf": N_("PDF file")}
REPORT_LANGUAGES = {"zh": N_("Chinese"), "en": N_("English")}
COMMISSION_KINDS = ("annual", "bulletin")  # reports of the whole commission: the unit is not asked
FIELDS = {"template": N_("Template"), "year": N_("Year"), "unit": N_("Unit"), "lang": N_("Language"),
          "format": N_("Format"), "code": N_("Code"), "name_zh": N_("Name (Chinese)"),
          "name_en": N_("Name (English)"), "body": N_("Template text")}
NOT_A_YEAR = N_("not a year")
A_YEAR = N_("a year such as 2020")
NOT_OFFERED = N_("not one of the choices")
RESERVED = N_("this code names the page for a new template")
TAKEN = N_("a template has this code already: open it to edit it")
CANNOT = N_("The report cannot be made.")
NOT_SAVED = N_("The template was not saved.")


@dataclass(frozen=True)
class Choice:
    """What the form asks for: a template, a year, a unit (empty: the template's default), a language,
    a format."""

    template: str
    year: int
    unit: str
    lang: str
    format: str = "html"

    def query(self) -> str:
        return urlencode({"template": self.template, "year": self.year, "unit": self.unit, "lang": self.lang})

    def filename(self) -> str:
        parts = (self.template, str(self.year), self.unit, self.lang)
        return "-".join(p for p in parts if p) + "." + self.format


def _report_language(lang: str) -> str:
    return "en" if lang == "en" else "zh"


def _default_year(conn: Connection) -> int:
    """The latest year with a plan (a report is about a year the commission planned), else last year."""
    found = plans.years(conn)
    return found[0] if found else clock.today().year - 1


def _year(raw: str, problems: list[Problem]) -> int:
    text = raw.strip()
    if text.isdigit() and len(text) == 4 and 1900 <= int(text) <= 2200:
        return int(text)
    problems.append(Problem(NOT_A_YEAR, field="year", value=raw, expected=A_YEAR))
    return 0


def _choice(values: dict[str, str], *, formats: tuple[str, ...] = tuple(FORMATS)) -> Choice:
    """The form's choice, or a ValidationError with a problem for each field that is wrong."""
    problems: list[Problem] = []
    year = _year(values.get("year", ""), problems)
    for name, offered in (("lang", tuple(REPORT_LANGUAGES)), ("format", formats)):
        if values.get(name, offered[0]) not in offered:
            problems.append(Problem(NOT_OFFERED, field=name, value=values.get(name),
                                    expected=", ".join(offered)))
    if not values.get("template"):
        problems.append(Problem(NOT_OFFERED, field="template", value="", expected=FIELDS["template"]))
    if problems:
        raise ValidationError(CANNOT, problems)
    return Choice(values["template"], year, values.get("unit", "").strip(), values.get("lang", "zh"),
                  values.get("format", "html"))


def _unit_for(template: ReportTemplate, choice: Choice) -> str | None:
    """The unit the service is asked for: none for the commission's reports (their kind's default)."""
    return None if template.kind in COMMISSION_KINDS else (choice.unit or None)


def _render(conn: Connection, user: Principal, choice: Choice, body: str | None = None,
            progress: Progress | None = None) -> Document:
    template = queries.get_template(conn, choice.template)
    return service.render(conn, principal=user, template=choice.template, year=choice.year,
                          unit=_unit_for(template, choice), language=choice.lang, today=clock.today(),
                          body=body, progress=progress)


def _fragment(document: Document) -> Markup:
    return Markup(to_html(document, standalone=False))  # the writer escapes every text it writes


def _shown(request: Request, error: JiaoweiError | None) -> dict[str, Any]:
    shown = in_language(error, language(request)) if error else None
    return {"error": shown, "errors": problems_by_field(shown)}


def _common(request: Request) -> dict[str, Any]:
    return {"active": "reports", "kind_labels": KIND_LABELS, "formats": FORMATS,
            "report_languages": REPORT_LANGUAGES, "fields": FIELDS, "commission_kinds": COMMISSION_KINDS}


# ---------------------------------------------------------------- the list and the form


def _index(request: Request, conn: Connection, user: Principal, values: dict[str, str] | None = None,
           error: JiaoweiError | None = None) -> HTMLResponse:
    templates = queries.list_templates(conn)
    chosen = {"template": templates[0].code if templates else "", "year": str(_default_year(conn)),
              "unit": own_unit(conn, user), "lang": _report_language(language(request)), "format": "html"}
    lang = language(request)
    options = {t.code: f"{t.name(lang)} · {translate(lang, KIND_LABELS.get(t.kind, t.kind))}"
               for t in templates}
    context = {**_common(request), **_shown(request, error), "templates": templates,
               "template_options": options,
               "values": {**chosen, **(values or {})}, "may_write": user.may(Action.REPORTS_WRITE)}
    return page(request, "reports/reports.html", context, error.status if error else 200)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, conn: Conn, user: User) -> HTMLResponse:
    """The report templates, and the form that generates a report from one."""
    return _index(request, conn, user)


@router.post("/reports/generate")
def generate(request: Request, background: BackgroundTasks, conn: Conn, user: User, form: Form) -> Response:
    """HTML: the report in the page. DOCX or PDF: a background job, whose page shows its progress and
    then the file to download."""
    try:
        choice = _choice(form)
        template = queries.get_template(conn, choice.template)
    except (ValidationError, NotFound) as error:
        return _index(request, conn, user, form, error)
    if choice.format == "html":
        return see_other(f"/reports/view?{choice.query()}")
    return start_job(request, conn, background, principal=user, kind="reports.render",
                     title=N_("Report"), back="/reports", filename=choice.filename(), dry_run=False,
                     work=_report_work(user, replace(choice, unit=_unit_for(template, choice) or "")))


def _report_work(user: Principal, choice: Choice) -> Work:
    """The job: render the report (reading only), write it in its format, keep the file for the owner."""

    def work(context: JobContext) -> Outcome:
        with context.transaction(write=False) as conn:
            document = _render(conn, user, choice, progress=context.report)
        made = output(document, format=Format(choice.format), progress=context.report)
        kept = files.keep(context.job_id, choice.filename(), made.data)
        return Outcome(counts=((N_("Figures"), len(document.figures)), (N_("Charts"), len(document.charts))),
                       note=M_("{title} is ready: {file}.", title=document.title, file=kept.filename))

    return work


# ---------------------------------------------------------------- a report in the page


@router.get("/reports/view", response_class=HTMLResponse)
def view_page(request: Request, conn: Conn, user: User,
              template: str = Query("", max_length=50), year: str = Query("", max_length=8),
              unit: str = Query("", max_length=64), lang: str = Query("", max_length=8)) -> HTMLResponse:
    """A report in the page, its figures linked to their pivot, with buttons to download it as a file."""
    values = {"template": template, "year": year, "unit": unit,
              "lang": lang or _report_language(language(request)), "format": "html"}
    try:
        choice = _choice(values)
        document = _render(conn, user, choice)
    except (ValidationError, NotFound) as error:
        return _index(request, conn, user, values, error)
    context = {**_common(request), "document": document, "fragment": _fragment(document), "choice": choice,
               "template": queries.get_template(conn, choice.template),
               "unit": _unit(conn, document.meta.get("unit", ""), choice.year)}
    return page(request, "reports/report_view.html", context)


def _unit(conn: Connection, code: str, year: int) -> Unit | None:
    """The report's unit on the year's last day (the service has checked it lies in the user's scope)."""
    unit_id = registry.id_of(conn, code) if code else None
    return registry.unit_on(conn, unit_id, dt.date(year, 12, 31)) if unit_id is not None else None


# ---------------------------------------------------------------- the editor


def _editor(request: Request, conn: Connection, user: Principal, *, template: ReportTemplate | None,
            values: dict[str, str], preview: Document | None = None, error: JiaoweiError | None = None,
            notice: str = "") -> HTMLResponse:
    context = {**_common(request), **_shown(request, error), "template": template, "values": values,
               "may_write": user.may(Action.REPORTS_WRITE), "notice": notice,
               "preview": preview, "fragment": _fragment(preview) if preview else None}
    return page(request, "reports/template_edit.html", context, error.status if error else 200)


def _editor_values(conn: Connection, request: Request, template: ReportTemplate | None) -> dict[str, str]:
    base = {"year": str(_default_year(conn)), "unit": "", "lang": _report_language(language(request))}
    if template is None:
        return {**base, "code": "", "name_zh": "", "name_en": "", "body": ""}
    return {**base, "code": template.code, "name_zh": template.name_zh, "name_en": template.name_en,
            "body": template.body}


NOTICES = {"saved": N_("The template was saved."), "reset": N_("The template is the built-in text again.")}


@router.get("/reports/templates/new", response_class=HTMLResponse)
def new_template_page(request: Request, conn: Conn, user: User) -> HTMLResponse:
    """The editor for a new custom template."""
    return _editor(request, conn, user, template=None, values=_editor_values(conn, request, None))


@router.get("/reports/templates/{code}", response_class=HTMLResponse)
def template_page(request: Request, conn: Conn, user: User, code: str,
                  done: str = Query("", max_length=8)) -> HTMLResponse:
    """A template's text and names; with ``reports.write``: preview, save, reset to the built-in text."""
    template = queries.get_template(conn, code[:50])
    return _editor(request, conn, user, template=template, values=_editor_values(conn, request, template),
                   notice=NOTICES.get(done, ""))


@router.post("/reports/templates/new")
def create_template(request: Request, conn: Conn, user: User, form: Form) -> Response:
    """Save a new custom template (then its page, which offers the preview)."""
    code = form.get("code", "").strip()
    codes = {t.code for t in queries.list_templates(conn)}
    taken = RESERVED if code == "new" else TAKEN if code in codes else ""
    if taken:
        error = ValidationError(NOT_SAVED, [Problem(taken, field="code", value=code)])
        return _editor(request, conn, user, template=None, values=form, error=error)
    return _edit(request, conn, user, None, code, {**form, "action": "save"})


@router.post("/reports/templates/{code}")
def edit_template(request: Request, conn: Conn, user: User, code: str, form: Form) -> Response:
    """Preview, save or reset a template."""
    template = queries.get_template(conn, code[:50])
    if form.get("action") == "reset":
        service.reset_template(conn, principal=user, code=template.code)
        gone = not template.builtin
        return see_other("/reports" if gone else f"/reports/templates/{template.code}?done=reset")
    return _edit(request, conn, user, template, template.code, form)


def _edit(request: Request, conn: Connection, user: Principal, template: ReportTemplate | None, code: str,
          form: dict[str, str]) -> Response:
    """Save the posted text (then the editor again), or render it unsaved into the page (preview); a
    refused text is shown again with the problem beside the editor."""
    values = {**_editor_values(conn, request, template), **form, "code": code}
    try:
        with conn.begin_nested():
            if form.get("action") == "save":
                saved = service.save_template(conn, principal=user, code=code, body=form.get("body", ""),
                                              name_zh=form.get("name_zh") or None,
                                              name_en=form.get("name_en") or None, now=clock.now())
                return see_other(f"/reports/templates/{saved.code}?done=saved")
            assert template is not None  # a new template is saved, never previewed
            preview = _render(conn, user, _choice({**values, "template": template.code}, formats=("html",)),
                              body=form.get("body", ""))
    except (ValidationError, NotFound) as error:
        return _editor(request, conn, user, template=template, values=values, error=error)
    return _editor(request, conn, user, template=template, values=values, preview=preview)
