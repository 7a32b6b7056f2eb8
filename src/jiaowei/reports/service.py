"""Reports: render a template into a document, and save or reset templates.

:func:`render` decides the report's unit (the registry's root for the annual report and the bulletin;
a district user's own district for the district report), refuses a unit outside the principal's view
scope, gives the template the year's plan, the tasks the unit leads and its targets
(:mod:`jiaowei.reports.sources`), and lets the engine compute every figure through the analytics
engine. Rendering unsaved text (the editor's preview) needs ``reports.write``, as saving does;
saving checks that the body compiles and is audited. Services never commit.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import in_scope, require_action
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.registry import queries as registry
from jiaowei.reports import engine, sources
from jiaowei.reports.document import Document
from jiaowei.reports.queries import ReportTemplate, builtin_templates, get_template
from jiaowei.reports.store import report_templates
from jiaowei.text import text_problem

CODE = re.compile(r"[A-Za-z0-9_-]{1,50}")
MAX_BODY = 200_000  # characters
MAX_NAME = 200
LANGUAGES = {"zh": "zh", "zh_CN": "zh", "zh-CN": "zh", "en": "en"}
ENTITY = "report_template"


# ---------------------------------------------------------------- rendering


def render(conn: Connection, *, principal: Principal, template: str, year: int, unit: str | None = None,
           language: str, today: dt.date, body: str | None = None,
           progress: engine.Progress | None = None) -> Document:
    """The report of ``template`` for the year at the unit, in the language (``zh`` or ``en``).

    ``body`` renders that text instead of the stored one (the editor's preview, nothing saved); it
    needs ``reports.write``, as saving it would: the text is anyone's until a commission user saved it.
    """
    require_action(principal, Action.VIEW if body is None else Action.REPORTS_WRITE)
    found = get_template(conn, template)
    lang = _language(language)
    day = _year_end(year)
    code = unit if unit else _default_unit(conn, principal, found.kind, day)
    _require_view(conn, principal, code, day)
    context = engine.Context(template=found.code, year=year, unit_code=code, language=lang, today=today,
                             extra=_extra(conn, principal, year, code, lang, today, progress))
    return engine.render_document(conn, principal=principal, body=found.body if body is None else body,
                                  context=context, progress=progress)


def _extra(conn: Connection, principal: Principal, year: int, unit: str, language: str, today: dt.date,
           progress: engine.Progress | None) -> dict[str, Any]:
    """What a template reads besides figures: ``sections`` (the plan), ``tasks`` (those the report's unit
    leads), ``targets`` (the unit's targets for the year) and ``districts`` (the codes of the districts
    under the unit). Task statuses are told as they stood at the end of the year (or today, if sooner)."""
    report = progress or (lambda stage, done, total: None)
    report(N_("the plan and the targets"), 0, 1)
    today = min(today, dt.date(year, 12, 31))
    extra = {
        "sections": sources.plan_sections(conn, principal=principal, year=year, language=language,
                                          today=today),
        "tasks": sources.tasks_led_by(conn, principal=principal, year=year, unit_code=unit,
                                      language=language, today=today),
        "targets": sources.unit_targets(conn, principal=principal, year=year, unit_code=unit,
                                        language=language),
        "districts": sources.districts_under(conn, unit_code=unit, year=year),
    }
    report(N_("the plan and the targets"), 1, 1)
    return extra


def _language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValidationError(M_("Unknown language {language!r}.", language=language), [
            Problem(N_("no such language"), field="language", value=language, expected="zh, en")])
    return LANGUAGES[language]


def _year_end(year: int) -> dt.date:
    if not 1900 <= year <= 2100:
        raise ValidationError(M_("No report for the year {year}.", year=year), [
            Problem(N_("not a year"), field="year", value=year,
                    expected=N_("a year from 1900 to 2100, e.g. 2020"))])
    return dt.date(year, 12, 31)


def _default_unit(conn: Connection, principal: Principal, kind: str, day: dt.date) -> str:
    """The district report's unit: the principal's own district; the others': the registry's root."""
    if kind == "district":
        own = _own_district(conn, principal, day)
        if own is None:
            raise ValidationError(M_("Name the district the report is about."), [
                Problem(N_("your account is not a district's"), field="unit", value=None,
                        expected=N_("the code of a district, e.g. 310101"))])
        return own
    roots = conn.execute(registry.units_on_select(day).where(registry.UNIT_PARENT_ID.is_(None))
                         .order_by(registry.UNIT_CODE)).all()
    if not roots:
        raise NotFound(M_("The registry has no unit on {day}.", day=day.isoformat()))
    return str(roots[0].code)


def _own_district(conn: Connection, principal: Principal, day: dt.date) -> str | None:
    ids = sorted(principal.capture | principal.view)
    own = [u for u in registry.units_on(conn, day, ids=ids) if u.type == sources.DISTRICT]
    return own[0].code if len(own) == 1 else None


def _require_view(conn: Connection, principal: Principal, code: str, day: dt.date) -> None:
    """The unit must exist and lie in the principal's view scope (403 otherwise: a report is refused)."""
    unit_id = registry.known_id(conn, code, "unit")
    path = registry.last_path(conn, unit_id, day) or ""
    if not in_scope(conn, principal, Action.VIEW, path, day):
        raise PermissionDenied(M_("The report of unit {code!r} lies outside your view scope.", code=code))


# ---------------------------------------------------------------- saving and resetting


def save_template(conn: Connection, *, principal: Principal, code: str, body: str, name_zh: str | None = None,
                  name_en: str | None = None, now: dt.datetime) -> ReportTemplate:
    """Save the template's text (an edit of a built-in one, or a custom template, created when new)."""
    require_action(principal, Action.REPORTS_WRITE)
    _check(code, body, name_zh, name_en)
    engine.check_template(body)
    before = _saved(conn, code)
    current = _current(conn, code)
    values = {
        "kind": current.kind if current else "custom",
        "name_zh": name_zh if name_zh else (current.name_zh if current else code),
        "name_en": name_en if name_en is not None else (current.name_en if current else ""),
        "body": body, "updated_at": now, "updated_by": principal.username,
    }
    if before is None:
        conn.execute(insert(report_templates).values(code=code, **values))
    else:
        conn.execute(update(report_templates).where(report_templates.c.code == code).values(**values))
    audit.record(conn, actor=principal.username, action="create" if before is None else "update",
                 entity=ENTITY, entity_key=code, before=before, after=_audited(values))
    return get_template(conn, code)


def reset_template(conn: Connection, *, principal: Principal, code: str) -> None:
    """A built-in template back to the package's text; a custom template deleted."""
    require_action(principal, Action.REPORTS_WRITE)
    before = _saved(conn, code)
    if before is None:
        if code in builtin_templates():
            return  # already the package's text
        raise NotFound(M_("No report template with code {code!r}.", code=code))
    conn.execute(delete(report_templates).where(report_templates.c.code == code))
    action = "reset" if code in builtin_templates() else "delete"
    audit.record(conn, actor=principal.username, action=action, entity=ENTITY, entity_key=code, before=before)


def _current(conn: Connection, code: str) -> ReportTemplate | None:
    try:
        return get_template(conn, code)
    except NotFound:
        return None


def _saved(conn: Connection, code: str) -> dict[str, Any] | None:
    row = conn.execute(select(report_templates).where(report_templates.c.code == code)).first()
    return None if row is None else _audited(row._asdict())


def _audited(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values[k] for k in ("kind", "name_zh", "name_en", "body")}


def _check(code: str, body: str, name_zh: str | None, name_en: str | None) -> None:
    problems = []
    if not CODE.fullmatch(code or ""):
        problems.append(Problem(N_("not a template code"), field="code", value=code,
                                expected=N_("1 to 50 letters, digits, _ or -, e.g. annual_short")))
    if len(body) > MAX_BODY:
        problems.append(Problem(N_("the template is too long"), field="body", value=len(body),
                                expected=M_("at most {count} characters", count=MAX_BODY)))
    for field, name in (("name_zh", name_zh), ("name_en", name_en)):
        if name is not None and len(name) > MAX_NAME:
            problems.append(Problem(N_("the name is too long"), field=field, value=name[:50] + "…",
                                    expected=M_("at most {count} characters", count=MAX_NAME)))
    texts = (("body", body, True), ("name_zh", name_zh, False), ("name_en", name_en, False))
    problems += [p for f, v, m in texts if (p := text_problem(v, field=f, multiline=m))]
    if problems:
        raise ValidationError(M_("The report template cannot be saved."), problems)
