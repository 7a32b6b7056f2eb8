"""Who placement (统筹) left without a place, by district: from the database and from a proof bundle.

Placement must place every child the lottery did not admit. When it does not, the campaign page
shows an alert with the counts by district (:func:`campaign_report`) and ``jiaowei lottery draw``
/ ``verify`` print the same table for a placement bundle (:func:`bundle_report`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from jiaowei.admissions.queries import applicant_tally
from jiaowei.admissions.store import campaign_row
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.registry import queries as registry

PLACED_STATUSES = ("placement", "appeals", "closed")
PLACEMENT_MARK = "统筹"  # the title of every placement case jiaowei writes (drawing.placement_case) has it


@dataclass(frozen=True)
class DistrictPlacement:
    """One district's children in placement: placed, and left without a place."""

    district: str
    name_zh: str
    name_en: str
    placed: int
    unplaced: int


@dataclass(frozen=True)
class PlacementReport:
    """Placement's outcome by district (districts with someone in placement, by code)."""

    done: bool  # placement has run
    districts: list[DistrictPlacement]

    @property
    def placed(self) -> int:
        return sum(d.placed for d in self.districts)

    @property
    def unplaced(self) -> int:
        return sum(d.unplaced for d in self.districts)

    @property
    def short(self) -> list[DistrictPlacement]:
        """The districts where someone is without a place, most first."""
        return sorted((d for d in self.districts if d.unplaced), key=lambda d: (-d.unplaced, d.district))


def campaign_report(conn: Connection, *, principal: Principal, code: str) -> PlacementReport:
    """Counts of placed and unplaced applicants by district (counts only: no identity is read)."""
    require_action(principal, Action.VIEW)
    row = campaign_row(conn, code)
    if row.status not in PLACED_STATUSES:
        return PlacementReport(done=False, districts=[])
    by_district: dict[int, dict[str, int]] = {}
    for r in applicant_tally(conn, row.id):  # the campaign page has read it already
        if r.status in ("placed", "unplaced"):
            by_district.setdefault(r.district_id, {})[r.status] = r.applicants
    names = registry.last_known(conn, by_district)
    return PlacementReport(done=True, districts=sorted(
        (DistrictPlacement(district=names[i].code, name_zh=names[i].name_zh, name_en=names[i].name_en,
                           placed=c.get("placed", 0), unplaced=c.get("unplaced", 0))
         for i, c in by_district.items()), key=lambda d: d.district))


def is_placement(bundle: Path) -> bool:
    """Whether a proof bundle (or case directory) is a placement: its case.json title says 统筹."""
    for path in (bundle / "inputs" / "case.json", bundle / "case.json"):
        if path.is_file():
            try:
                return PLACEMENT_MARK in str(json.loads(path.read_bytes()).get("title", ""))
            except (ValueError, AttributeError):
                return False
    return False


def bundle_report(bundle: Path) -> PlacementReport:
    """Placed and unplaced applicants of a proof bundle by district (``inputs/applicants.csv`` + results).

    Applicants without a district (the column is optional) are counted under "–".
    """
    home = dict(_rows(bundle / "inputs" / "applicants.csv", "applicant_id", "district"))
    counts: dict[str, list[int]] = {}
    for applicant_id, school in _rows(bundle / "results.csv", "applicant_id", "school_id"):
        tally = counts.setdefault(home.get(applicant_id) or "–", [0, 0])
        tally[0 if school else 1] += 1
    return PlacementReport(done=True, districts=[
        DistrictPlacement(district=d, name_zh="", name_en="", placed=p, unplaced=u)
        for d, (p, u) in sorted(counts.items())])


def _rows(path: Path, key: str, value: str) -> list[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""))
    return [(row.get(key) or "", row.get(value) or "") for row in reader]
