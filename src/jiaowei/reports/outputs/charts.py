"""A report's chart as SVG: vertical bars or lines, value labels, a title and the axis label.

Pure: a :class:`~jiaowei.reports.document.Chart` in, SVG text out. The HTML writer puts the SVG in
the page; the PDF writer hands it to Typst as an image (Typst draws its text with the font family
given here); the DOCX writer has Typst turn it into a PNG. A ``None`` value leaves a gap: no bar,
a break in the line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from html import escape

from jiaowei.reports.document import Chart, ChartKind
from jiaowei.reports.numbers import format_value

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP = 64, 16, 44
COLOURS = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6")
FONT_SIZE = 11
SVG_NS = "http://www.w3.org/2000/svg"


@dataclass(frozen=True)
class _Frame:
    """The plot area in pixels and the value scale."""

    left: float
    top: float
    width: float
    height: float
    low: float
    high: float
    rotate: bool  # category labels turned to fit

    def y(self, value: float) -> float:
        return self.top + self.height * (self.high - value) / (self.high - self.low)

    def slot(self, count: int) -> float:
        return self.width / max(count, 1)


def svg(chart: Chart, *, font_family: str, language: str) -> str:
    """The chart as a standalone SVG document (``WIDTH`` by ``HEIGHT`` pixels)."""
    frame = _frame(chart)
    parts = [
        f'<svg xmlns="{SVG_NS}" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'font-family="{_attr(font_family)}" font-size="{FONT_SIZE}" role="img" '
        f'aria-label="{_attr(chart.title)}">',
        f"<title>{_text(chart.title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">'
        f"{_text(chart.title)}</text>",
        *_legend(chart),
        *_axes(chart, frame, language),
        *(_bars(chart, frame, language) if chart.kind is ChartKind.BAR else _lines(chart, frame, language)),
        "</svg>",
    ]
    return "\n".join(parts)


def _label(value: float, language: str) -> str:
    """A value label as the report writes a number (``37.7万``, ``1.2亿``; ``186,600``), with the
    decimals the value needs, at most two: ``86``, ``92.51``, ``0.5``."""
    decimals = next(d for d in (0, 1, 2) if round(value, d) == round(value, 2))
    return format_value(value, display="number", decimals=decimals, language=language)


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """About how wide ``text`` is drawn: a CJK character is square, others about half as wide."""
    return sum(size if ord(c) >= 0x2E80 else size * 0.6 for c in text)


def _frame(chart: Chart) -> _Frame:
    values = [v for s in chart.series for v in s.values if v is not None]
    low, high = _scale(min([0.0, *values]), max([0.0, *values]))
    slot = (WIDTH - LEFT - RIGHT) / max(len(chart.categories), 1)
    rotate = any(text_width(c) > slot - 4 for c in chart.categories)
    longest = max((text_width(c) for c in chart.categories), default=0.0)
    bottom = min(40 + longest * 0.6, 130) if rotate else 34
    top = TOP + (18 if len(chart.series) > 1 else 0)
    return _Frame(left=LEFT, top=top, width=WIDTH - LEFT - RIGHT, height=HEIGHT - top - bottom,
                  low=low, high=high, rotate=rotate)


def _scale(low: float, high: float) -> tuple[float, float]:
    """Round ends for the value axis, with room above the highest value for its label."""
    if high - low < 1e-9:  # one value (or values too close to tell apart): a unit of room
        return (low, low + 1)
    step = _step((high - low) / 5)
    return (math.floor(low / step) * step, math.ceil(high * 1.08 / step) * step)


def _step(rough: float) -> float:
    power = 10 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough)


def _legend(chart: Chart) -> list[str]:
    if len(chart.series) < 2:
        return []
    out, x = [], float(LEFT)
    for index, series in enumerate(chart.series):
        colour = COLOURS[index % len(COLOURS)]
        out.append(f'<rect x="{x:.1f}" y="32" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14:.1f}" y="41">{_text(series.name)}</text>')
        x += 28 + text_width(series.name)
    return out


def _axes(chart: Chart, frame: _Frame, language: str) -> list[str]:
    step = _step((frame.high - frame.low) / 5)
    ticks = [frame.low + i * step for i in range(round((frame.high - frame.low) / step) + 1)]
    out = []
    for tick in ticks:
        y = frame.y(tick)
        out.append(f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.left + frame.width}" y2="{y:.1f}" '
                   f'stroke="#dddddd"/>')
        out.append(f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555555">'
                   f"{_text(_label(tick, language))}</text>")
    base = frame.y(max(frame.low, 0.0))
    out.append(f'<line x1="{frame.left}" y1="{base:.1f}" x2="{frame.left + frame.width}" y2="{base:.1f}" '
               f'stroke="#333333"/>')
    if chart.value_label:
        out.append(f'<text x="16" y="{frame.top + frame.height / 2:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 16 {frame.top + frame.height / 2:.1f})" fill="#555555">'
                   f"{_text(chart.value_label)}</text>")
    out.extend(_categories(chart, frame))
    return out


def _categories(chart: Chart, frame: _Frame) -> list[str]:
    out, slot, y = [], frame.slot(len(chart.categories)), frame.top + frame.height + 16
    for index, category in enumerate(chart.categories):
        x = frame.left + slot * (index + 0.5)
        if frame.rotate:
            out.append(f'<text x="{x:.1f}" y="{y - 4:.1f}" text-anchor="end" '
                       f'transform="rotate(-40 {x:.1f} {y - 4:.1f})">{_text(category)}</text>')
        else:
            out.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{_text(category)}</text>')
    return out


def _bars(chart: Chart, frame: _Frame, language: str) -> list[str]:
    out, slot = [], frame.slot(len(chart.categories))
    width = slot * 0.7 / max(len(chart.series), 1)
    base = frame.y(max(frame.low, 0.0))
    for s_index, series in enumerate(chart.series):
        colour = COLOURS[s_index % len(COLOURS)]
        for index, value in enumerate(series.values[: len(chart.categories)]):
            if value is None:
                continue
            x, y = frame.left + slot * (index + 0.15) + width * s_index, frame.y(value)
            out.append(f'<rect x="{x:.1f}" y="{min(y, base):.1f}" width="{width:.1f}" '
                       f'height="{abs(base - y):.1f}" fill="{colour}"/>')
            out.append(_value_label(x + width / 2, min(y, base) - 4, value, language))
    return out


def _lines(chart: Chart, frame: _Frame, language: str) -> list[str]:
    out, slot = [], frame.slot(len(chart.categories))
    for s_index, series in enumerate(chart.series):
        colour = COLOURS[s_index % len(COLOURS)]
        points = [(frame.left + slot * (i + 0.5), frame.y(v), v)
                  for i, v in enumerate(series.values[: len(chart.categories)]) if v is not None]
        for run in _runs(series.values[: len(chart.categories)]):
            line = " ".join(f"{frame.left + slot * (i + 0.5):.1f},{frame.y(v):.1f}" for i, v in run)
            out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, value in points:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
            out.append(_value_label(x, y - 7, value, language))
    return out


def _runs(values: tuple[float | None, ...]) -> list[list[tuple[int, float]]]:
    """The stretches of consecutive values (a ``None`` breaks the line)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((index, value))
    return [run for run in runs if run]


def _value_label(x: float, y: float, value: float, language: str) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" font-size="10">'
            f"{_text(_label(value, language))}</text>")


def _text(value: str) -> str:
    return escape(_CONTROL.sub("", value), quote=False)


def _attr(value: str) -> str:
    return escape(_CONTROL.sub("", value), quote=True)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML
