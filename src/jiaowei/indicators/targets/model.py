"""What the target services answer: a target, a value against its target, a cascade's result.

Frozen values, no database, no web. ``as_dict`` gives each one's JSON shape (camelCase keys),
as :class:`jiaowei.indicators.model.ImportSummary` does; the routes and the analytics rows
call it, the pages read the attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
