"""What the registry's codes are called: unit types, ownerships and sectors, and the units file's columns.

The labels are English msgids (translated where they are shown: pages, downloaded workbooks), so that
the pages and the units import agree: a file may give a type as ``primary_school``, ``Primary school``
or 小学, as the pages show it. Pure: no database, no web framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jiaowei.domains import N_
from jiaowei.registry.model import Ownership, Sector, UnitType
from jiaowei.workbooks import Column

TYPES = {
    UnitType.COMMISSION: N_("Commission"), UnitType.DISTRICT_BUREAU: N_("District education bureau"),
    UnitType.UNIVERSITY: N_("University"), UnitType.VOCATIONAL_COLLEGE: N_("Vocational college"),
    UnitType.SECONDARY_SCHOOL: N_("Secondary school"), UnitType.PRIMARY_SCHOOL: N_("Primary school"),
    UnitType.NINE_YEAR_SCHOOL: N_("Nine-year school"), UnitType.KINDERGARTEN: N_("Kindergarten"),
    UnitType.CHILDCARE_POINT: N_("Childcare point"), UnitType.HOSPITAL: N_("Hospital"),
    UnitType.OTHER: N_("Other"),
}
OWNERSHIPS = {Ownership.PUBLIC: N_("Public"), Ownership.PRIVATE: N_("Private")}
SECTORS = {Sector.EDUCATION: N_("Education"), Sector.HEALTH: N_("Health")}
CHOICES: dict[str, Mapping[Any, str]] = {"type": TYPES, "ownership": OWNERSHIPS, "sector": SECTORS}
"""The columns of the units file whose values are codes with labels."""

UNIT_COLUMNS = (
    Column("code", N_("Unit code")), Column("name_zh", N_("Chinese name")),
    Column("name_en", N_("English name")), Column("type", N_("Type")), Column("ownership", N_("Ownership")),
    Column("sector", N_("Sector")), Column("parent", N_("Parent unit")),
    Column("valid_from", N_("Valid from")), Column("valid_to", N_("Valid to")),
    Column("attributes", N_("Attributes")), Column("synthetic", N_("Synthetic data")),
)
"""The columns of the units file (CSV and XLSX), in order: codes in CSV, labels in a downloaded XLSX."""
