"""What the target services answer: a target, a value against its target, a cascade's result.

Frozen values, no database, no web. ``as_dict`` gives each one's JSON shape (camelCase keys),
as :class:`jiaowei.indicators.model.ImportSummary` does; the routes and the analytics rows
call it, the pages read the attributes. :func:`apportion` splits a count by shares (pure).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any


def apportion(total: float, weights: Sequence[float], *, decimals: int = 0) -> list[float]:
    """``total`` split in proportion to ``weights`` by the largest remainder method.

    Every part is a multiple of ``10 ** -decimals`` (whole numbers for ``decimals=0``) and the parts
    add up exactly to ``total`` rounded to ``decimals``: each part gets the whole steps of its exact
    share, and the steps left over go one each to the largest remainders (ties: the earlier weight).
    A weight of 0 gets 0. The weights are not negative, and at least one is positive.
    """
    if not weights or any(w < 0 or not math.isfinite(w) for w in weights) or not any(w > 0 for w in weights):
        raise ValueError("apportion needs finite weights, none negative and at least one positive")
    step = Fraction(1, 10**decimals)
    steps = round(Fraction(total) / step)
    sign, steps = (-1 if steps < 0 else 1), abs(steps)
    exact = [Fraction(w) for w in weights]
    whole = sum(exact)
    shares = [steps * w / whole for w in exact]
    parts = [math.floor(s) for s in shares]
    left = steps - sum(parts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return [round(float(sign * p * step), decimals) + 0.0 for p in parts]


@dataclass(frozen=True)
class Target:
    """An indicator's target at a unit for a period, as set (or cascaded) and shown."""

    indicator: str
    unit: str
    unit_name_zh: str
    unit_name_en: str
    period: str
    value: float
    formatted: str
    at_risk_margin: float
    benchmark: float | None
    benchmark_label: str
    cascaded_from: str | None  # the unit whose target this was copied from
    note: str
    set_by: str
    set_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "orgUnit": self.unit,
            "orgUnitName_zh": self.unit_name_zh,
            "orgUnitName_en": self.unit_name_en,
            "period": self.period,
            "value": self.value,
            "formatted": self.formatted,
            "atRiskMargin": self.at_risk_margin,
            "benchmark": self.benchmark,
            "benchmarkLabel": self.benchmark_label,
            "cascadedFrom": self.cascaded_from,
            "note": self.note,
            "setBy": self.set_by,
            "setAt": self.set_at,
        }


@dataclass(frozen=True)
class TargetEvaluation:
    """A value against the target for its unit and period."""

    value: float
    formatted: str
    at_risk_margin: float
    status: str
    benchmark: float | None
    benchmark_formatted: str | None
    benchmark_label: str
    meets_benchmark: bool | None
    cascaded_from: str | None
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "formatted": self.formatted,
            "atRiskMargin": self.at_risk_margin,
            "cascadedFrom": self.cascaded_from,
            "note": self.note,
        }

    def benchmark_dict(self) -> dict[str, Any] | None:
        if self.benchmark is None:
            return None
        return {
            "value": self.benchmark,
            "formatted": self.benchmark_formatted,
            "label": self.benchmark_label,
            "met": self.meets_benchmark,
        }


@dataclass(frozen=True)
class CascadeResult:
    """The targets a cascade wrote, the children that kept their own, and the basis period."""

    written: list[Target]
    kept: list[str]  # children whose own target was kept
    basis_period: str | None  # the period whose numerators gave the shares (current_share)

    def as_dict(self) -> dict[str, Any]:
        return {
            "targets": [t.as_dict() for t in self.written],
            "kept": self.kept,
            "basisPeriod": self.basis_period,
        }
