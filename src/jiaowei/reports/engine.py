"""The report template language: a sandboxed Jinja template rendered into a :class:`Document`.

A template is HTML with Jinja tags (``{{ fig('HE_EMPLOYMENT_RATE') }}``, ``{% for u in children() %}``),
rendered in Jinja's :class:`~jinja2.sandbox.SandboxedEnvironment` with autoescape on and undefined
names refused. The helpers a template calls (:class:`Helpers`, each described in docs/reports.md,
"Writing a template") draw their numbers through :class:`~jiaowei.reports.figures.Figures`, so
every figure keeps the analytics query that produced it. The HTML the template produces is then
read into blocks (:mod:`jiaowei.reports.parse`); its first ``<h1>`` is the document's title.

Every error names the template's line: a syntax error (:func:`check_template`) and an error while
rendering (an undefined name, a helper refusing its arguments, any exception in the template) are a
:class:`TemplateError` whose problem has field ``body`` and the line number as its value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from jiaowei import clock
from jiaowei.analytics.response import period_name
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.domains import N_
from jiaowei.errors import M_, JiaoweiError, NotFound, Problem, ValidationError
from jiaowei.i18n import translate
from jiaowei.indicators import periods as pe
from jiaowei.indicators.model import Display
from jiaowei.registry import queries as registry
from jiaowei.reports.document import Chart, ChartKind, Document, Figure, Series
from jiaowei.reports.figures import Figures, Item, check_period
from jiaowei.reports.numbers import NO_VALUE, is_english
from jiaowei.reports.parse import read_blocks

Progress = Callable[[str, int, int], None]  # stage (an English N_ phrase), done, total (0: unknown)
TEMPLATE_FILE = "<template>"  # the file name Jinja gives a template's frames in a traceback
RENDERING = N_("Rendering the template")
READING = N_("Reading the report")
SYNTHETIC_NOTE = N_("Some figures in this report come from synthetic data: they illustrate the platform "
                    "and are not official figures.")


@dataclass(frozen=True)
class Context:
    """What a render is about: the template's code, the year, the report's unit, the language."""

    template: str  # the template's code
    year: int
    unit_code: str  # the report's unit (the commission for annual/bulletin; a district …)
    language: str  # "zh" or "en"
    today: dt.date
    extra: Mapping[str, Any] = field(default_factory=dict)  # more globals (plan sections, tasks, targets)


class TemplateError(ValidationError):
    """A template that cannot be read or rendered; its problem names the line (field ``body``)."""

    code = "report-template"
    title = N_("Template error")
    status = 422


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                lstrip_blocks=True)


def check_template(body: str) -> None:
    """Check the template's syntax; a :class:`TemplateError` naming the line of the first error."""
    try:
        _environment().parse(body)
    except jinja2.TemplateSyntaxError as error:
        raise _error(error.lineno, _said(error.message or str(error))) from None


# Jinja's own messages (English), in words the catalog translates; anything else keeps Jinja's text.
SYNTAX = (
    (re.compile(r"unexpected '(?P<found>.+)', expected '(?P<expected>.+)'"),
     N_("unexpected “{found}”, expected “{expected}”")),
    (re.compile(r"expected token '(?P<expected>.+)', got '(?P<found>.+)'"),
     N_("unexpected “{found}”, expected “{expected}”")),
    (re.compile(r"unexpected '(?P<found>.+)'"), N_("unexpected “{found}”")),
    (re.compile(r"unexpected end of template.*", re.I | re.S),
     N_("the template ends before a block is closed")),
    (re.compile(r"Encountered unknown tag '(?P<found>.+?)'.*", re.S), N_("unknown tag “{found}”")),
    (re.compile(r"'(?P<found>[^']+)' is undefined"), N_("“{found}” is not defined")),
)


def _said(text: str) -> str:
    """A Jinja message as a translatable message (the error's own text when it is not one of these)."""
    for pattern, message in SYNTAX:
        match = pattern.fullmatch(text.strip())
        if match:
            return M_(message, **match.groupdict())
    return text


def _error(line: int | None, text: str, expected: str | None = None) -> TemplateError:
    detail = (M_("Line {line}: {error}", line=line, error=text) if line is not None
              else M_("The template could not be rendered: {error}", error=text))
    return TemplateError(detail, [Problem(detail, field="body", value=line, expected=expected)])


def _template_line(traceback: TracebackType | None) -> int | None:
    """The line of the innermost template frame (Jinja rewrites them to the template's lines)."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == TEMPLATE_FILE:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _passes(error: Exception) -> bool:
    """Errors that are not the template's fault: permissions, a busy database, the database itself."""
    if isinstance(error, SQLAlchemyError):
        return True
    return isinstance(error, JiaoweiError) and not isinstance(error, ValidationError | NotFound)


def _rendering_error(error: Exception) -> TemplateError:
    expected = None
    if isinstance(error, JiaoweiError):
        text: str = error.detail or error.title
        expected = next((p.expected for p in error.problems if p.expected), None)
    else:
        text = _said(getattr(error, "message", None) or str(error) or type(error).__name__)
    return _error(_template_line(error.__traceback__), text, expected)


def render_document(conn: Connection, *, principal: Principal, body: str, context: Context,
                    progress: Progress | None = None) -> Document:
    """Render the template for the context into a document (see the module's description).

    The report's unit must be one the principal may view (otherwise :class:`NotFound`, as everywhere
    a unit is outside a scope); each figure is limited to the principal's view scope by the
    analytics engine, which refuses a unit outside it (a :class:`TemplateError` naming the line).
    """
    require_action(principal, Action.VIEW)
    last_day = dt.date(context.year, 12, 31)
    unit_id = registry.visible_id(conn, principal, context.unit_code, last_day)
    check_template(body)
    language = "en" if is_english(context.language) else "zh"
    figures = Figures(conn, principal=principal, language=language, today=context.today, progress=progress)
    helpers = Helpers(conn, principal=principal, context=context, language=language, unit_id=unit_id,
                      figures=figures)
    if progress is not None:
        progress(RENDERING, 0, 0)
    html = _render(body, {**helpers.globals(), **context.extra})
    if progress is not None:
        progress(READING, figures.queries, figures.queries)
    return _document(html, context, language, figures, helpers.charts)


def _render(body: str, variables: dict[str, Any]) -> str:
    try:
        return _environment().from_string(body).render(variables)
    except jinja2.TemplateSyntaxError as error:  # a template the sandbox refuses to compile
        raise _error(error.lineno, error.message or str(error)) from None
    except Exception as error:
        if _passes(error):
            raise
        raise _rendering_error(error) from error


def _document(html: str, context: Context, language: str, figures: Figures,
              charts: Mapping[int, Chart]) -> Document:
    title, blocks = read_blocks(html, figures=figures.figures, charts=charts)
    note = translate("en" if language == "en" else "zh_CN", SYNTHETIC_NOTE) if figures.synthetic else ""
    return Document(
        title=title,
        language=language,
        blocks=blocks,
        figures=figures.figures,
        generated=clock.now().astimezone(clock.zone()).replace(microsecond=0),  # shown in local time
        synthetic_note=note,
        meta={"template": context.template, "year": str(context.year), "unit": context.unit_code,
              "language": language},
    )


# ---------------------------------------------------------------- the helpers a template calls


@dataclass(frozen=True)
class UnitRef:
    """A unit as a template sees it: ``unit.code``, ``unit.name`` (in the report's language)."""

    code: str
    name: str


@dataclass(frozen=True)
class IndicatorRef:
    """An indicator (or data element) as a template sees it: ``.code``, ``.name``, ``.display``."""

    code: str
    name: str
    display: str
    decimals: int | None


NO_TARGET = N_("no target")
INDICATOR = N_("Indicator")
CHART_BY = ("units", "periods")
VALUE_LABELS = {"percent": "%", "per_mille": "‰", "ratio": "1:N"}
YEARS_IN_A_CHART = 5  # periods of a chart by periods, by default: the report's year and the four before


def _codes(given: Any) -> list[str]:
    """A code, or a list of codes or of things with a ``code`` (units from ``children()``), as codes."""
    if given is None:
        return []
    if isinstance(given, str) or hasattr(given, "code"):
        given = [given]
    return [str(getattr(g, "code", g)) for g in given]


def _refused(message: str, field_name: str, value: Any, expected: str) -> ValidationError:
    return ValidationError(message, [Problem(message, field=field_name, value=value, expected=expected)])


class Helpers:
    """The functions and values every template gets (documented in docs/reports.md)."""

    def __init__(self, conn: Connection, *, principal: Principal, context: Context, language: str,
                 unit_id: int, figures: Figures) -> None:
        self.conn, self.principal, self.context = conn, principal, context
        self.language, self.figures = language, figures
        self.day = dt.date(context.year, 12, 31)
        self.period = str(context.year)
        found = registry.unit_on(conn, unit_id, self.day) or registry.last_known(conn, [unit_id])[unit_id]
        self.unit = UnitRef(found.code, found.name_en if language == "en" else found.name_zh)
        self.charts: dict[int, Chart] = {}

    def globals(self) -> dict[str, Any]:
        year = self.context.year
        helpers = (self.t, self.fig, self.value, self.change, self.diff, self.vs, self.vs_target,
                   self.indicators, self.children, self.table, self.chart)
        return {"year": year, "period": self.period, "previous_year": year - 1, "unit": self.unit,
                "lang": self.language, **{h.__name__: h for h in helpers}}

    def _where(self, period: Any, unit: Any) -> tuple[str, str]:
        return (str(period) if period is not None else self.period,
                str(getattr(unit, "code", unit)) if unit is not None else self.unit.code)

    @staticmethod
    def _span(figure: Figure) -> Markup:
        return Markup('<span class="figure" data-figure="{}">{}</span>').format(figure.number, figure.text)

    # ------------------------------------------------------------ words and single figures

    def t(self, zh: str, en: str) -> str:
        """The Chinese or the English text, in the report's language."""
        return en if self.language == "en" else zh

    def fig(self, code: str, period: Any = None, unit: Any = None, decimals: int | None = None) -> Markup:
        """A VALUE figure: ``86%``, ``18.66万``, ``1:159`` (``decimals`` overrides the indicator's)."""
        return self._span(self.figures.value(code, *self._where(period, unit), decimals=decimals))

    def value(self, code: str, period: Any = None, unit: Any = None) -> float | None:
        """The raw value (a number, or None when no value contributed); no figure."""
        return self.figures.source(code, *self._where(period, unit)).value

    def change(self, code: str, base: Any = None, period: Any = None, unit: Any = None, word: str = "",
               word_en: str = "") -> Markup:
        """A CHANGE figure against ``base`` (default: the period before): ``较去年增加14个``."""
        at, where = self._where(period, unit)
        before = str(base) if base is not None else pe.previous_period(pe.parse(check_period(at))).id
        return self._span(self.figures.change(code, at, before, where, word=word, word_en=word_en))

    def diff(self, code: str, base: Any = None, period: Any = None, unit: Any = None) -> Markup:
        """A CHANGE figure written as the bare difference (``14``, ``1.1万``; ``-3`` for a fall), for
        a sentence that says the verb itself: ``较去年分别增加{{ diff("A") }}个和{{ diff("B") }}个``."""
        at, where = self._where(period, unit)
        before = str(base) if base is not None else pe.previous_period(pe.parse(check_period(at))).id
        return self._span(self.figures.change(code, at, before, where, bare=True))

    def vs(self, code: str, standard: float, label_zh: str, label_en: str, period: Any = None,
           unit: Any = None, word: str = "", word_en: str = "") -> Markup:
        """A COMPARISON figure against a constant: ``超出国家标准6个百分点`` (noted ``国家标准 80%``)."""
        at, where = self._where(period, unit)
        found = self.figures.comparison(code, standard, at, where, label_zh, label_en, word, word_en)
        return self._span(found)

    def vs_target(self, code: str, period: Any = None, unit: Any = None, word: str = "",
                  word_en: str = "") -> Markup | str:
        """A TARGET figure against the indicator's target for the unit and period, or ``未设目标``."""
        found = self.figures.target(code, *self._where(period, unit), word=word, word_en=word_en)
        if found is None:
            return translate("en" if self.language == "en" else "zh_CN", NO_TARGET)
        return self._span(found)

    # ------------------------------------------------------------ lists

    def indicators(self, codes: Any = None) -> list[IndicatorRef]:
        """The indicators named (all of them by default, by code), for loops."""
        found = self.figures.indicators() if codes is None else [self.figures.item(c) for c in _codes(codes)]
        return [IndicatorRef(i.code, i.name(self.language), i.display, i.decimals) for i in found]

    def children(self, unit: Any = None) -> list[UnitRef]:
        """The units directly under a unit (default: the report's) on the year's last day, by code."""
        code = self._where(None, unit)[1]
        found = registry.children(self.conn, principal=self.principal, code=code, as_of=self.day)
        return [UnitRef(n.code, n.name_en if self.language == "en" else n.name_zh) for n in found]

    # ------------------------------------------------------------ tables and charts

    def table(self, codes: Any, periods: Any = None, units: Any = None, caption: str = "") -> Markup:
        """A table: a row per indicator, a column per period (or per unit), each cell a figure."""
        items = [self.figures.item(c) for c in _codes(codes)]
        at = [check_period(p) for p in _codes(periods)] or [self.period]
        where = _codes(units) or [self.unit.code]
        if len(at) > 1 and len(where) > 1:
            raise _refused(N_("A table has a column per period or per unit: give several periods or several "
                              "units, not both."), "units", ", ".join(where), N_("one period, or one unit"))
        self.figures.load([i.code for i in items], at, where)
        places = [(p, u) for p in at for u in where]
        heads = [self._column_name(p, u, by_unit=len(where) > 1) for p, u in places]
        header = Markup("").join(Markup("<th>{}</th>").format(h) for h in
                                  [translate(self._i18n, INDICATOR), *heads])
        rows = Markup("").join(
            Markup("<tr><th>{}</th>{}</tr>").format(
                i.name(self.language), Markup("").join(self._cell(i.code, p, u) for p, u in places))
            for i in items)
        shown = Markup("<caption>{}</caption>").format(caption) if caption else Markup("")
        return Markup('<table class="report-table">{}<thead><tr>{}</tr></thead><tbody>{}</tbody></table>'
                      ).format(shown, header, rows)

    @property
    def _i18n(self) -> str:
        return "en" if self.language == "en" else "zh_CN"

    def _column_name(self, period: str, unit: str, *, by_unit: bool) -> str:
        return self.figures.unit_name(unit) if by_unit else self._period_name(period)

    def _cell(self, code: str, period: str, unit: str) -> Markup:
        if self.figures.source(code, period, unit).value is None:
            return Markup("<td>{}</td>").format(NO_VALUE)
        return Markup("<td>{}</td>").format(self._span(self.figures.value(code, period, unit)))

    def chart(self, code: str, by: str = "units", periods: Any = None, units: Any = None, kind: str = "bar",
              title: str | None = None, value_label: str | None = None) -> Markup:
        """A chart of one indicator: by units (default: the report unit's children; a series per period)
        or by periods (default: the year and the four before; a series per unit). Each point is a figure."""
        item = self.figures.item(code)
        drawn = self._chart_kind(kind)
        if by not in CHART_BY:
            raise _refused(M_("A chart is drawn by units or by periods, not {by!r}.", by=by), "by", by,
                           "units, periods")
        if by == "units":
            at = [check_period(p) for p in _codes(periods)] or [self.period]
            where = _codes(units) or [u.code for u in self.children()]
        else:
            first = self.context.year - YEARS_IN_A_CHART + 1
            years = [str(y) for y in range(first, self.context.year + 1)]
            at = [check_period(p) for p in _codes(periods)] or years
            where = _codes(units) or [self.unit.code]
        self.figures.load([item.code], at, where)
        categories, series, numbers = self._points(item, at, where, by_unit=by == "units")
        number = len(self.charts) + 1
        name = title if title is not None else self._chart_title(item, at, by)
        label = value_label if value_label is not None else VALUE_LABELS.get(item.display, "")
        self.charts[number] = Chart(number, drawn, name, categories, series, label, tuple(numbers))
        return Markup('<figure class="chart" data-chart="{}"><figcaption>{}</figcaption></figure>').format(
            number, name)

    @staticmethod
    def _chart_kind(kind: str) -> ChartKind:
        try:
            return ChartKind(kind)
        except ValueError:
            raise _refused(M_("A chart is a bar or a line chart, not {kind!r}.", kind=kind), "kind", kind,
                           "bar, line") from None

    def _points(self, item: Item, at: list[str], where: list[str], *, by_unit: bool
                ) -> tuple[tuple[str, ...], tuple[Series, ...], list[int]]:
        """Categories, a series per period (by units) or per unit (by periods), and the points' figures."""
        numbers: list[int] = []
        series = []
        for line in at if by_unit else where:
            values: list[float | None] = []
            for point in where if by_unit else at:
                period, unit = (line, point) if by_unit else (point, line)
                found = self.figures.source(item.code, period, unit).value
                if found is not None:
                    numbers.append(self.figures.value(item.code, period, unit).number)
                    found = 1 / found if item.display == Display.RATIO and found else found  # N of 1:N
                values.append(found)
            name = self._period_name(line) if by_unit else self.figures.unit_name(line)
            series.append(Series(name, tuple(values)))
        if by_unit:
            return tuple(self.figures.unit_name(u) for u in where), tuple(series), numbers
        return tuple(self._period_name(p) for p in at), tuple(series), numbers

    def _period_name(self, period: str) -> str:
        return period_name(pe.parse(period), self.language)

    def _chart_title(self, item: Item, at: list[str], by: str) -> str:
        name = item.name(self.language)
        if by != "units" or len(at) != 1:
            return name
        shown = self._period_name(at[0])
        return f"{name}, {shown}" if self.language == "en" else f"{name}（{shown}）"
