"""The data of the indicator page's charts, computed on the server: the value of each unit below
(with its target) as bars, and the unit's values over the years as a line. The page embeds it as
JSON for ``web/static/charts.js``; no chart reads the database by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from jiaowei.i18n import translate
from jiaowei.indicators.model import Display
from jiaowei.indicators.targets.compute import IndicatorValue
from jiaowei.registry import queries as registry


def plotted(value: float | None, display: str, decimals: int) -> float | None:
    """The number a chart shows: the value as the table shows it, the N of ``1:N`` for ratios."""
    if value is None:
        return None
    if display == Display.RATIO:
        return round(1 / value, decimals) if value > 0 else None
    return round(value, decimals)


def _name(unit: registry.Unit, language: str) -> str:
    return unit.name_en if language == "en" and unit.name_en else unit.name_zh


def _series(rows: Sequence[IndicatorValue], name: str, kind: str, *, target: bool = False) -> dict[str, Any]:
    d = rows[0].indicator
    if target:
        data = [plotted(r.target.value, d.display, d.decimals) if r.target else None for r in rows]
        labels = [r.target.formatted if r.target else "–" for r in rows]
    else:
        data = [plotted(r.value, d.display, d.decimals) for r in rows]
        labels = [r.formatted for r in rows]
    return {"name": name, "kind": kind, "data": data, "labels": labels}


def _axis(display: str) -> str:
    return {"percent": "%", "per_mille": "‰", "ratio": "1:N"}.get(display, "")


def children_chart(rows: Sequence[IndicatorValue], *, language: str) -> dict[str, Any] | None:
    """Bars of the units below ``rows[0]`` that have a value, ticks for their targets, and a line
    for the unit's own target; None when no unit below has a value."""
    head, below = rows[0], [r for r in rows[1:] if r.value is not None]
    if not below:
        return None
    _ = partial(translate, language)
    d = head.indicator
    series = [_series(below, _("Value"), "bar")]
    if any(r.target for r in below):
        series.append(_series(below, _("Target"), "target", target=True))
    ranked = sorted(below, key=lambda r: r.value or 0.0)
    label = _("{indicator} for the {count} units below {unit}, {period}: from {low} ({low_unit}) to "
              "{high} ({high_unit}).").format(
        indicator=d.name_en if language == "en" and d.name_en else d.name_zh, count=len(below),
        unit=_name(head.unit, language), period=head.period, low=ranked[0].formatted,
        low_unit=_name(ranked[0].unit, language), high=ranked[-1].formatted,
        high_unit=_name(ranked[-1].unit, language))
    chart: dict[str, Any] = {
        "kind": "bar", "axis": _axis(d.display), "label": label,
        "categories": [_name(r.unit, language) for r in below], "series": series,
    }
    if head.target:
        name = _("Target for {unit}").format(unit=_name(head.unit, language))
        chart["line"] = {"name": name, "value": plotted(head.target.value, d.display, d.decimals),
                         "label": head.target.formatted}
        chart["label"] += " " + _("{name}: {value}.").format(name=name, value=head.target.formatted)
    return chart


def trajectory_chart(rows: Sequence[IndicatorValue], *, language: str) -> dict[str, Any] | None:
    """A line of the unit's value over the periods of ``rows``, with its targets; None unless two
    periods have a value (one point makes no line)."""
    shown = [r for r in rows if r.value is not None or r.target is not None]
    if sum(r.value is not None for r in shown) < 2:
        return None
    _ = partial(translate, language)
    d = shown[0].indicator
    series = [_series(shown, _("Value"), "line")]
    if any(r.target for r in shown):
        series.append(_series(shown, _("Target"), "dashed", target=True))
    values = ", ".join(f"{r.period}: {r.formatted}" for r in shown if r.value is not None)
    label = _("{indicator} at {unit} over the years: {values}.").format(
        indicator=d.name_en if language == "en" and d.name_en else d.name_zh,
        unit=_name(shown[0].unit, language), values=values)
    return {"kind": "line", "axis": _axis(d.display), "label": label,
            "categories": [r.period for r in shown], "series": series}
