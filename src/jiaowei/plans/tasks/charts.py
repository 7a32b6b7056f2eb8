"""The data of the key tasks' charts, computed on the server for ``web/static/charts.js``: the board's
progress by section and by lead unit and its status distribution, and a task's linked indicators
against their targets over the years (values from the analytics engine, as the queries give them).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from jiaowei.i18n import translate
from jiaowei.plans.tasks.model import STATUS_LABELS, Status
from jiaowei.plans.tasks.views import Board, LinkView, Tally

STATUS_COLOURS = {
    Status.ON_TRACK: "#1a6b2f",
    Status.AT_RISK: "#d99a00",
    Status.LATE: "#b3261e",
    Status.DONE: "#33415c",
}  # as the status badges (jiaowei.css)


def _progress_chart(tallies: Sequence[Tally], *, label: str, language: str) -> dict[str, Any] | None:
    """Bars of each group's mean progress (0–100%); None when no group has a task."""
    shown = [t for t in tallies if t.percent is not None and any(t.counts.values())]
    if not shown:
        return None
    _ = partial(translate, language)
    names = [t.label_en if language == "en" and t.label_en else t.label_zh for t in shown]
    values = [t.percent for t in shown]
    summary = "; ".join(f"{name}: {value}%" for name, value in zip(names, values, strict=True))
    return {
        "kind": "bar",
        "axis": "%",
        "min": 0,
        "max": 100,
        "label": f"{label}: {summary}.",
        "categories": names,
        "series": [
            {"name": _("Progress"), "kind": "bar", "data": values, "labels": [f"{v}%" for v in values]}
        ],
    }


def section_chart(board: Board, *, language: str) -> dict[str, Any] | None:
    return _progress_chart(
        board.by_section, label=translate(language, "Progress by section"), language=language
    )


def unit_chart(board: Board, *, language: str) -> dict[str, Any] | None:
    return _progress_chart(
        board.by_unit, label=translate(language, "Progress by lead unit"), language=language
    )


def status_chart(board: Board, *, language: str) -> dict[str, Any] | None:
    """A pie of the tasks by status; None when the board shows no task."""
    counts = [(s, board.by_status.get(s.value, 0)) for s in Status]
    counts = [(s, n) for s, n in counts if n]
    if not counts:
        return None
    _ = partial(translate, language)
    names = [_(STATUS_LABELS[s]) for s, _n in counts]
    values = [n for _s, n in counts]
    summary = "; ".join(f"{name}: {value}" for name, value in zip(names, values, strict=True))
    return {
        "kind": "pie",
        "label": _("Tasks by status") + f": {summary}.",
        "categories": names,
        "series": [
            {
                "name": _("Tasks"),
                "kind": "bar",
                "data": values,
                "labels": [str(v) for v in values],
                "colors": [STATUS_COLOURS[s] for s, _n in counts],
            }
        ],
    }


def _plotted(value: float | None, ratio: bool) -> float | None:
    """The number a chart shows: the value, or the N of ``1:N`` for a ratio indicator."""
    if value is None:
        return None
    if ratio:
        return round(1 / value, 2) if value > 0 else None
    return round(value, 4)


def link_chart(link: LinkView, *, language: str) -> dict[str, Any] | None:
    """The linked indicator's value per year as bars, its target as ticks; None without any value."""
    points = [p for p in link.series if p.value is not None or p.target is not None]
    if link.hidden or not any(p.value is not None for p in points):
        return None
    _ = partial(translate, language)
    ratio = link.formatted.startswith("1:") or link.target_formatted.startswith("1:")
    name = link.name_en if language == "en" and link.name_en else link.name_zh
    unit = link.unit.name_en if language == "en" and link.unit.name_en else link.unit.name_zh
    series: list[dict[str, Any]] = [
        {
            "name": _("Value"),
            "kind": "bar",
            "data": [_plotted(p.value, ratio) for p in points],
            "labels": [p.formatted for p in points],
        }
    ]
    if any(p.target is not None for p in points):
        series.append(
            {
                "name": _("Target"),
                "kind": "target",
                "data": [_plotted(p.target, ratio) for p in points],
                "labels": [_target_label(p.target, link) for p in points],
            }
        )
    values = ", ".join(f"{p.period}: {p.formatted}" for p in points if p.value is not None)
    label = _("{indicator} at {unit} against the target {target}: {values}.").format(
        indicator=name, unit=unit, target=link.target_formatted, values=values
    )
    return {
        "kind": "bar",
        "axis": "1:N" if ratio else "",
        "label": label,
        "categories": [p.period for p in points],
        "series": series,
    }


def _target_label(target: float | None, link: LinkView) -> str:
    if target is None:
        return "–"
    if target == link.target:
        return link.target_formatted
    return f"{target:g}"
