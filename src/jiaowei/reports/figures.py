"""The figures of one render, each computed through the analytics engine.

:class:`Figures` asks :func:`jiaowei.analytics.service.run` for every value, as ``GET
/api/analytics`` would with ``dimension=dx:CODE&dimension=pe:PERIOD&dimension=ou:UNIT``, so a
figure's :class:`~jiaowei.reports.document.Provenance` re-run through the API (or the pivot page)
answers the same value: a report and a pivot can never disagree. The principal's view scope is the
analytics engine's: a unit outside it is refused as unknown.

Values are fetched in batches (:meth:`Figures.load`: a table or a chart of 16 districts is one
query) and kept for the render. Figures are numbered in order of first appearance; asking for the
same figure again gives the same number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from jiaowei.analytics.request import DATA, PERIOD, UNIT, AnalyticsRequest, Dimension
from jiaowei.analytics.response import Grid, period_name
from jiaowei.analytics.service import run
from jiaowei.auth.model import Principal
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.model import Display
from jiaowei.indicators.targets.compute import all_indicators
from jiaowei.indicators.targets.queries import targets_of
from jiaowei.reports.document import Figure, FigureKind, Provenance
from jiaowei.reports.numbers import (
    NO_VALUE,
    change_phrase,
    comparison_phrase,
    difference_text,
    format_value,
    is_english,
)

Progress = Callable[[str, int, int], None]
Key = tuple[str, str, str]  # item code, period id, unit code
COMPUTING = N_("Computing figures")
ELEMENT_DECIMALS = 2  # at most, for a data element's value (a whole number shows none)


@dataclass(frozen=True)
class Item:
    """An indicator or a data element (or an operand ``ELEMENT.COMBO``) as figures show it."""

    code: str
    name_zh: str
    name_en: str
    display: str  # an indicator's display; "number" for a data element
    decimals: int | None  # None: a data element (decimals from its value)
    higher_is_better: bool = True

    @property
    def is_indicator(self) -> bool:
        return self.decimals is not None

    def name(self, language: str) -> str:
        return self.name_en if is_english(language) else self.name_zh

    def decimals_for(self, value: float | None) -> int:
        """The indicator's decimals; for a data element, those its value needs (at most 2)."""
        return needed_decimals(value) if self.decimals is None else self.decimals


def needed_decimals(value: float | None) -> int:
    """The decimals a number needs, at most 2: 120 → 0, 86.5 → 1."""
    if value is None or float(value).is_integer():
        return 0
    text = repr(round(float(value), ELEMENT_DECIMALS))
    return min(len(text.partition(".")[2]), ELEMENT_DECIMALS)


def _items(conn: Connection) -> dict[str, Item]:
    """Every indicator and data element (and each element's option combos), by code."""
    found: dict[str, Item] = {}
    catalog = load_catalog(conn)
    for element in catalog.elements.values():
        found[element.code] = Item(element.code, element.name_zh, element.name_en, Display.NUMBER, None)
        for coc in catalog.cocs_of(element.combo_id):
            if coc.id != catalog.default_coc:
                found[f"{element.code}.{coc.code}"] = Item(
                    f"{element.code}.{coc.code}", f"{element.name_zh} {coc.name_zh}",
                    f"{element.name_en} {coc.name_en}", Display.NUMBER, None)
    for d in all_indicators(conn):
        found[d.code] = Item(d.code, d.name_zh, d.name_en, d.display, d.decimals, d.higher_is_better)
    return found


def check_period(text: str) -> str:
    """A fixed period id (``2020``, ``2020SY``, ``202011``); a :class:`ValidationError` otherwise."""
    try:
        return pe.parse(str(text)).id
    except ValidationError:
        raise ValidationError(M_("Not a period: {text!r}.", text=text), [
            Problem(N_("not a period"), field="period", value=text,
                    expected=N_("a period id, e.g. 2020, 2020SY, 202011"))]) from None


class Figures:
    """The figures of one render, in order of first appearance (see the module's description)."""

    def __init__(self, conn: Connection, *, principal: Principal, language: str, today: dt.date,
                 progress: Progress | None = None) -> None:
        self.conn, self.principal, self.language, self.today = conn, principal, language, today
        self.progress = progress
        self.queries = 0  # analytics queries asked so far
        self._items: dict[str, Item] | None = None
        self._sources: dict[Key, Provenance] = {}
        self._unit_names: dict[str, str] = {}
        self._numbers: dict[tuple[object, ...], int] = {}
        self._figures: list[Figure] = []

    # ------------------------------------------------------------ items and values

    def item(self, code: str) -> Item:
        """The indicator or data element with ``code``; a :class:`ValidationError` naming what exists."""
        found = self._all().get(str(code))
        if found is None:
            indicators = sorted(c for c, i in self._all().items() if i.is_indicator)
            known = ", ".join(indicators) or "–"
            raise ValidationError(M_("No indicator or data element {code!r}; the indicators are {known}.",
                                     code=code, known=known), [
                Problem(N_("no such indicator or data element"), field="code", value=code,
                        expected=M_("an indicator ({known}) or a data element's code", known=known))])
        return found

    def load(self, codes: Iterable[str], periods: Iterable[str], units: Iterable[str]) -> None:
        """Fetch every (code, period, unit) not yet known in one analytics query."""
        codes = [self.item(c).code for c in dict.fromkeys(codes)]
        periods = [check_period(p) for p in dict.fromkeys(periods)]
        units = list(dict.fromkeys(str(u) for u in units))
        wanted = [(c, p, u) for c in codes for p in periods for u in units if (c, p, u) not in self._sources]
        if not wanted:
            return
        dx, pe_, ou = (list(dict.fromkeys(k[i] for k in wanted)) for i in range(3))
        request = AnalyticsRequest(dimensions=(Dimension(DATA, tuple(dx)), Dimension(PERIOD, tuple(pe_)),
                                               Dimension(UNIT, tuple(ou))),
                                   language="en" if is_english(self.language) else "zh_CN")
        grid = run(self.conn, principal=self.principal, request=request, today=self.today)
        self.queries += 1
        if self.progress is not None:
            self.progress(COMPUTING, self.queries, 0)
        self._read(grid, wanted)

    def _read(self, grid: Grid, wanted: Sequence[Key]) -> None:
        columns = [grid.index(DATA), grid.index(PERIOD), grid.index(UNIT)]
        values = {tuple(row[i] for i in columns): grid.number(row) for row in grid.rows}
        self._unit_names.update((u, grid.name(u)) for u in grid.dimensions.get(UNIT, []))
        for key in wanted:
            code, period, unit = key
            value = values.get(key)
            self._sources[key] = Provenance(
                item=code, item_name=self.item(code).name(self.language), units=(unit,),
                unit_names=(grid.name(unit),), period=period, value=value,
                synthetic=value is not None and key in grid.synthetic)

    def unit_name(self, unit: str) -> str:
        """The name of a unit a query answered for, in the report's language (its code if none did)."""
        return self._unit_names.get(str(unit), str(unit))

    def indicators(self) -> list[Item]:
        """Every indicator, by code."""
        return sorted((i for i in self._all().values() if i.is_indicator), key=lambda i: i.code)

    def _all(self) -> dict[str, Item]:
        if self._items is None:
            self._items = _items(self.conn)
        return self._items

    def source(self, code: str, period: str, unit: str) -> Provenance:
        """The analytics query behind ``code`` at ``unit`` for ``period``, with its value."""
        key = (self.item(code).code, check_period(period), str(unit))
        if key not in self._sources:
            self.load([key[0]], [key[1]], [key[2]])
        return self._sources[key]

    # ------------------------------------------------------------ figures

    @property
    def figures(self) -> tuple[Figure, ...]:
        return tuple(self._figures)

    @property
    def synthetic(self) -> bool:
        return any(f.synthetic for f in self._figures)

    def _figure(self, key: tuple[object, ...], build: Callable[[int], Figure]) -> Figure:
        number = self._numbers.get(key)
        if number is None:
            number = self._numbers[key] = len(self._figures) + 1
            self._figures.append(build(number))
        return self._figures[number - 1]

    def value(self, code: str, period: str, unit: str, decimals: int | None = None) -> Figure:
        """A VALUE figure: ``86%``, ``18.66万``, ``1:159``."""
        found = self.source(code, period, unit)
        item = self.item(code)
        places = item.decimals_for(found.value) if decimals is None else int(decimals)
        text = format_value(found.value, display=item.display, decimals=places, language=self.language)
        return self._figure((FigureKind.VALUE, *self._key(found), places),
                            lambda n: Figure(n, FigureKind.VALUE, text, (found,)))

    def change(self, code: str, period: str, base: str, unit: str, word: str = "",
               word_en: str = "", bare: bool = False) -> Figure:
        """A CHANGE figure against ``base``: ``较去年增加14个`` (two sources: the period, then the base);
        ``bare``: the difference alone (``14``)."""
        now, before = self.source(code, period, unit), self.source(code, base, unit)
        item = self.item(code)
        text = NO_VALUE
        if now.value is not None and before.value is not None:
            places = max(item.decimals_for(now.value), item.decimals_for(before.value))
            if bare:
                text = difference_text(now.value, before.value, display=item.display, decimals=places,
                                       language=self.language)
            else:
                text = change_phrase(now.value, before.value, display=item.display, decimals=places,
                                     language=self.language, word=word, word_en=word_en,
                                     base_label=self._base_label(now.period, before.period))
        return self._figure((FigureKind.CHANGE, *self._key(now), before.period, word, word_en, bare),
                            lambda n: Figure(n, FigureKind.CHANGE, text, (now, before)))

    def _base_label(self, period: str, base: str) -> str | None:
        """None (``去年`` / ``last year``) when the base is the year before a yearly period."""
        p, b = pe.parse(period), pe.parse(base)
        if p.type in (pe.PeriodType.YEARLY, pe.PeriodType.SCHOOL_YEAR) and pe.previous_period(p) == b:
            return None
        return period_name(b, "en" if is_english(self.language) else "zh")

    def comparison(self, code: str, standard: float, period: str, unit: str, label_zh: str, label_en: str,
                   word: str = "", word_en: str = "", kind: FigureKind = FigureKind.COMPARISON) -> Figure:
        """A COMPARISON figure against a constant: ``超出国家标准6个百分点``, noted ``国家标准 80%``."""
        found = self.source(code, period, unit)
        item = self.item(code)
        places = item.decimals_for(found.value)
        standard = float(standard)
        label = label_en.removeprefix("the ") if is_english(self.language) else label_zh
        ratio = item.display == Display.RATIO and standard > 0
        shown = format_value(standard, display=item.display, language=self.language,
                             decimals=needed_decimals(1 / standard if ratio else standard))
        text = NO_VALUE
        if found.value is not None:
            text = comparison_phrase(found.value, standard, display=item.display, decimals=places,
                                     language=self.language, label_zh=label_zh, label_en=label_en,
                                     word=word, word_en=word_en)
        return self._figure((kind, *self._key(found), standard, label_zh, label_en, word, word_en),
                            lambda n: Figure(n, kind, text, (found,), note=f"{label} {shown}"))

    def target(self, code: str, period: str, unit: str, word: str = "", word_en: str = "") -> Figure | None:
        """A TARGET figure against the indicator's target for the unit and period; None without one."""
        item = self.item(code)
        if not item.is_indicator:
            return None
        found = targets_of(self.conn, principal=self.principal, indicator=item.code, unit=str(unit),
                           period=check_period(period))
        if not found:
            return None
        return self.comparison(code, found[0].value, period, unit, "目标", "the target", word, word_en,
                               kind=FigureKind.TARGET)

    @staticmethod
    def _key(found: Provenance) -> tuple[str, str, str]:
        return found.item, found.period, found.units[0]
