"""The reports API (JSON): templates, and reports rendered in a format.

``GET /api/reports/templates`` lists the templates; ``GET``/``PUT``/``DELETE /api/reports/templates/{code}``
reads, saves (``reports.write``) and resets one. ``GET /api/reports/{template}`` renders a report for a
year and a unit as a file (HTML, DOCX or PDF); ``GET /api/reports/{template}/figures`` gives every figure
of it with its provenance: the analytics queries that produced it and their values.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from jiaowei import clock
from jiaowei.auth.model import Principal
from jiaowei.reports import queries, service
from jiaowei.reports.document import Document, Figure, Provenance
from jiaowei.reports.outputs import Format, output
from jiaowei.reports.queries import ReportTemplate
from jiaowei.web.deps import Conn, User

router = APIRouter(prefix="/api/reports", tags=["reports"])

Code = Annotated[str, Path(max_length=50, description="the template's code: annual, district, bulletin …")]
Year = Annotated[int, Query(ge=1900, le=2200, description="the report's year, e.g. 2020")]
Unit = Annotated[str | None, Query(max_length=64, description=(
    "the report's unit code; default: the commission for annual reports and bulletins, your own district "
    "for a district report"))]
Lang = Annotated[str, Query(pattern="^(zh|en)$", description="the report's language: zh or en")]
Responses = dict[int | str, dict[str, Any]]
FILE: Responses = {
    200: {"description": "The report as a file (Content-Disposition: attachment)",
          "content": {"text/html": {}, "application/pdf": {},
                      "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {}}},
    503: {"description": "A PDF was asked for and no CJK font is installed on the server",
          "content": {"application/problem+json": {}}},
}


class TemplateOut(BaseModel):
    code: str
    kind: str = Field(description="annual, district, bulletin or custom")
    name_zh: str
    name_en: str
    builtin: bool = Field(description="the package has a template with this code")
    edited: bool = Field(description="a saved edit stands for the package's text (always, for a custom one)")
    updated_at: dt.datetime | None = Field(description="when it was last saved; null: the package's text")
    updated_by: str = Field(description="who saved it last (a username)")
    body: str | None = Field(default=None, description="the template's text (one template only)")


class TemplateList(BaseModel):
    templates: list[TemplateOut]


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(max_length=200_000, description="the template: HTML with Jinja, see docs/reports.md")
    name_zh: str | None = Field(default=None, max_length=200, description="required for a new template")
    name_en: str | None = Field(default=None, max_length=200)


class SourceOut(BaseModel):
    item: str = Field(description="the indicator's or data element's code")
    itemName: str
    units: list[str] = Field(description="unit codes")
    unitNames: list[str]
    period: str
    value: float | None = Field(description="what the query answers; null: no value")
    synthetic: bool = Field(description="a synthetic value contributed")
    query: str = Field(description="the query string of GET /api/analytics (and of the pivot page)")
    analytics: str = Field(description="the whole address of the query: GET it for the same value")


class FigureOut(BaseModel):
    number: int = Field(description="1-based, in order of first appearance")
    kind: str = Field(description="value, change, comparison or target")
    text: str = Field(description="the figure as the report shows it, e.g. 86% or 较去年增加14个")
    note: str = Field(description="what a comparison is made against, e.g. 国家标准 80%")
    synthetic: bool
    pivot: str = Field(description="the pivot page that shows the figure's numbers")
    sources: list[SourceOut] = Field(description="one query for a value, two for a change (now, then base)")


class FiguresOut(BaseModel):
    template: str
    title: str
    language: str
    year: int
    unit: str = Field(description="the report's unit code")
    synthetic: bool = Field(description="a synthetic value contributed to a figure")
    figures: list[FigureOut]


def template_out(template: ReportTemplate, *, with_body: bool) -> TemplateOut:
    return TemplateOut(code=template.code, kind=template.kind, name_zh=template.name_zh,
                       name_en=template.name_en, builtin=template.builtin, edited=template.edited,
                       updated_at=template.updated_at, updated_by=template.updated_by,
                       body=template.body if with_body else None)


def source_out(source: Provenance) -> SourceOut:
    return SourceOut(item=source.item, itemName=source.item_name, units=list(source.units),
                     unitNames=list(source.unit_names), period=source.period, value=source.value,
                     synthetic=source.synthetic, query=source.query, analytics=source.api_url)


def figure_out(figure: Figure) -> FigureOut:
    return FigureOut(number=figure.number, kind=figure.kind.value, text=figure.text, note=figure.note,
                     synthetic=figure.synthetic, pivot=figure.pivot_url,
                     sources=[source_out(s) for s in figure.sources])


def render(conn: Connection, user: Principal, *, template: str, year: int, unit: str | None,
           lang: str) -> Document:
    return service.render(conn, principal=user, template=template, year=year, unit=unit or None,
                          language=lang, today=clock.today())


def file_name(template: str, year: int, document: Document, lang: str, extension: str) -> str:
    unit = document.meta.get("unit", "")
    return "-".join(p for p in (template, str(year), unit, lang) if p) + "." + extension.lstrip(".")


def attachment(data: bytes, *, media_type: str, filename: str) -> Response:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


# ---------------------------------------------------------------- templates


@router.get("/templates", response_model=TemplateList)
def list_templates(conn: Conn, user: User) -> TemplateList:
    """Every report template: the built-in ones (or their saved edits), then the custom ones."""
    return TemplateList(templates=[template_out(t, with_body=False) for t in queries.list_templates(conn)])


@router.get("/templates/{code}", response_model=TemplateOut)
def get_template(conn: Conn, user: User, code: Code) -> TemplateOut:
    """One template with its text."""
    return template_out(queries.get_template(conn, code), with_body=True)


@router.put("/templates/{code}", response_model=TemplateOut)
def save_template(conn: Conn, user: User, code: Code, body: TemplateBody) -> TemplateOut:
    """Save a template's text (and names), or create a custom template with a new code (``reports.write``).
    A template that does not compile is refused (422) with a problem naming its line."""
    saved = service.save_template(conn, principal=user, code=code, body=body.body, name_zh=body.name_zh,
                                  name_en=body.name_en, now=clock.now())
    return template_out(saved, with_body=True)


@router.delete("/templates/{code}", status_code=204)
def reset_template(conn: Conn, user: User, code: Code) -> Response:
    """A built-in template back to the package's text; a custom template is deleted (``reports.write``)."""
    service.reset_template(conn, principal=user, code=code)
    return Response(status_code=204)


# ---------------------------------------------------------------- reports


@router.get("/{template}", responses=FILE, response_class=Response)
def report_file(conn: Conn, user: User, template: Code, year: Year, unit: Unit = None, lang: Lang = "zh",
                format: Annotated[Format, Query(description="html, docx or pdf")] = Format.HTML) -> Response:
    """The report as a file: a whole HTML page, a Word document or a PDF. Only units in your scope: a
    district's staff get their district's report, not the annual report or another district's (403)."""
    document = render(conn, user, template=template, year=year, unit=unit, lang=lang)
    made = output(document, format=format)
    return attachment(made.data, media_type=made.media_type,
                      filename=file_name(template, year, document, lang, made.extension))


@router.get("/{template}/figures", response_model=FiguresOut)
def report_figures(conn: Conn, user: User, template: Code, year: Year, unit: Unit = None,
                   lang: Lang = "zh") -> FiguresOut:
    """Every figure of the report, machine-readable: its text, kind and the analytics queries behind it
    with their values (re-run a source's ``analytics`` address for the same value)."""
    document = render(conn, user, template=template, year=year, unit=unit, lang=lang)
    return FiguresOut(template=template, title=document.title, language=document.language, year=year,
                      unit=document.meta.get("unit", unit or ""), synthetic=document.synthetic,
                      figures=[figure_out(f) for f in document.figures])
