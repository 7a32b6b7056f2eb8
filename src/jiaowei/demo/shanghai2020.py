"""The Shanghai 2020 demo data set.

City-level units are real: the commission, the 16 districts' education bureaus (with
their administrative division codes), universities, vocational colleges and municipal
hospitals (names from ``shanghai2020.json``). Everything below them is synthetic: every
school, kindergarten and childcare point has ``synthetic=True`` and says so in its names
(``（合成）`` / ``(synthetic)``). The synthetic units are drawn with ``random.Random(2020)``
so that the city-wide counts match the figures of the 2020 work report (the seed):
845 of 880 schools with primary grades run after-school service (over 95%), 84 private
primary and 110 private junior high schools (74 and 85 of them admit by lottery), 53
普惠 childcare points built in 2020, 34 kindergartens opened in 2020.

The registry's records begin on 2019-01-01 (the year before the report), so that 2019
and 2020 can be compared; real units are recorded from then on, not from their founding.

Everything is loaded through the services as :data:`SYSTEM`; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM, Role
from jiaowei.registry import groups
from jiaowei.registry import service as registry
from jiaowei.registry.model import Ownership, Sector, UnitType
from jiaowei.registry.service import UnitSpec

Progress = Callable[[str, int, int], None]
PUBLIC, PRIVATE = Ownership.PUBLIC.value, Ownership.PRIVATE.value

RECORDS_BEGIN = dt.date(2019, 1, 1)
COMMISSION = "310000"
NOTE = "上海2020演示数据 / Shanghai 2020 demo data set"
SYNTHETIC_NOTE = "合成数据 / synthetic demo data"
PASSWORD = "jiaowei-demo"

# Figures of the 2020 report (the seed); the demo is built to match them.
PRIMARY_GRADE_SCHOOLS = 880
AFTER_SCHOOL = 845
PRIVATE_PRIMARY, PRIVATE_PRIMARY_LOTTERY = 84, 74
PRIVATE_JUNIOR, PRIVATE_JUNIOR_LOTTERY = 110, 85
PUHUI_CHILDCARE = 53
NEW_KINDERGARTENS = 34

# Sizes that the seed does not give (synthetic choices).
NINE_YEAR_SCHOOLS, PRIVATE_NINE_YEAR = 180, 30
SECONDARY_SCHOOLS, PRIVATE_SENIOR_ONLY = 560, 15
KINDERGARTENS = 1600
OTHER_CHILDCARE = 7

# Rough relative size of each district's school system (synthetic weights).
DISTRICT_WEIGHTS = {
    "310101": 4, "310104": 5, "310105": 4, "310106": 5, "310107": 5, "310109": 4, "310110": 5,
    "310112": 9, "310113": 8, "310114": 6, "310115": 16, "310116": 4, "310117": 7, "310118": 5,
    "310120": 5, "310151": 4,
}

# Display names are Chinese, as the people of the commission would give them (the greeting and the user
# menu show them); the English descriptions are for the logins that `jiaowei demo` prints.
DEMO_USERS: list[dict[str, Any]] = [
    {"username": "admin", "password": PASSWORD, "role": Role.ADMINISTRATOR.value, "scope": None,
     "description": "Administrator: every unit, users and settings",
     "display_name": "系统管理员"},
    {"username": "commission", "password": PASSWORD, "role": Role.COMMISSION_STAFF.value,
     "scope": COMMISSION, "description": "Commission staff (市教委): the whole system",
     "display_name": "市教委工作人员"},
    {"username": "huangpu", "password": PASSWORD, "role": Role.DISTRICT_STAFF.value,
     "scope": "310101", "description": "District staff of 黄浦区教育局: Huangpu's units only",
     "display_name": "黄浦区教育局工作人员"},
    {"username": "school", "password": PASSWORD, "role": Role.UNIT_REPORTER.value,
     "scope": "310101-PS-001", "description": "Reporter of one synthetic Huangpu primary school",
     "display_name": "黄浦区小学填报员（合成）"},
    {"username": "viewer", "password": PASSWORD, "role": Role.VIEWER.value, "scope": COMMISSION,
     "description": "Read-only viewer of the whole system",
     "display_name": "全市数据查看员"},
]

CN_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 12 → 十二, 105 → 一百零五 (up to 999)."""
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    out = f"{CN_DIGITS[hundreds]}百" if hundreds else ""
    if tens:
        out += ("" if tens == 1 and not hundreds else CN_DIGITS[tens]) + "十"
    elif hundreds and ones:
        out += "零"
    return out + (CN_DIGITS[ones] if ones else "")


def real_units() -> dict[str, Any]:
    """The real city-level units (names only), as read from ``shanghai2020.json``."""
    text = resources.files("jiaowei.demo").joinpath("shanghai2020.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


@dataclass(frozen=True)
class District:
    code: str
    name_zh: str
    name_en: str

    @property
    def short_en(self) -> str:
        return self.name_en.split(" ")[0]


@dataclass
class Plan:
    """Everything to load: unit specs, the history to apply, the groups to create."""

    specs: list[UnitSpec] = field(default_factory=list)
    history: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    group_sets: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- real units


def _real_specs(data: dict[str, Any], plan: Plan) -> list[District]:
    root = data["commission"]
    plan.specs.append(UnitSpec(code=root["code"], name_zh=root["name_zh"], name_en=root["name_en"],
                               type=UnitType.COMMISSION.value, opened=RECORDS_BEGIN,
                               attributes=dict(root["attributes"])))
    districts = []
    for code, zh, en, suffix in data["districts"]:
        district = District(code, zh, f"{en} {suffix}")
        districts.append(district)
        plan.specs.append(_real(code, f"{zh}教育局", f"{en} {suffix} Education Bureau",
                                UnitType.DISTRICT_BUREAU.value, {"区划代码": code}))
    for key, zh, en, affiliation, first_class, ownership in data["universities"]:
        attributes: dict[str, Any] = {"隶属": affiliation}
        if affiliation == "市属":
            attributes["市属"] = True
        if first_class:
            attributes["双一流"] = True
        plan.specs.append(_real(f"{COMMISSION}-U-{key}", zh, en, UnitType.UNIVERSITY.value, attributes,
                                ownership=ownership))
    for key, zh, en, ownership in data["vocational_colleges"]:
        affiliation = "市属" if ownership == PUBLIC else "民办"
        plan.specs.append(_real(f"{COMMISSION}-V-{key}", zh, en, UnitType.VOCATIONAL_COLLEGE.value,
                                {"隶属": affiliation}, ownership=ownership))
    for key, zh, en, affiliation in data["hospitals"]:
        plan.specs.append(_real(f"{COMMISSION}-H-{key}", zh, en, UnitType.HOSPITAL.value,
                                {"隶属": affiliation}, sector=Sector.HEALTH.value))
    _real_groups(data, plan)
    return districts


def _real(code: str, name_zh: str, name_en: str, type: str, attributes: dict[str, Any], *,
          ownership: str = PUBLIC, sector: str = Sector.EDUCATION.value) -> UnitSpec:
    return UnitSpec(code=code, name_zh=name_zh, name_en=name_en, type=type, ownership=ownership,
                    sector=sector, parent=COMMISSION, opened=RECORDS_BEGIN, attributes=attributes)


def _real_groups(data: dict[str, Any], plan: Plan) -> None:
    universities = data["universities"]
    plan.groups += [
        {"code": "SYL", "name_zh": "双一流高校", "name_en": "Double First-Class universities",
         "members": [f"{COMMISSION}-U-{u[0]}" for u in universities if u[4]]},
        {"code": "MUNICIPAL-UNIVERSITIES", "name_zh": "市属高校", "name_en": "Municipal universities",
         "members": [f"{COMMISSION}-U-{u[0]}" for u in universities if u[3] == "市属"]},
        {"code": "MINISTRY-UNIVERSITIES", "name_zh": "部属高校",
         "name_en": "Universities under the Ministry of Education",
         "members": [f"{COMMISSION}-U-{u[0]}" for u in universities if u[3] == "部属"]},
        {"code": "MUNICIPAL-HOSPITALS", "name_zh": "市管医院", "name_en": "Municipal hospitals",
         "members": [f"{COMMISSION}-H-{h[0]}" for h in data["hospitals"] if h[3] == "市管"]},
    ]
    plan.group_sets.append(
        {"code": "UNIVERSITY-CLASSES", "name_zh": "高校分类", "name_en": "Classes of universities",
         "groups": ["SYL", "MUNICIPAL-UNIVERSITIES", "MINISTRY-UNIVERSITIES"]})


# ---------------------------------------------------------------- synthetic units


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainders; sums exactly)."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: shares[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


@dataclass
class Drawn:
    """One synthetic unit before it becomes a spec."""

    district: District
    kind: str  # PS, NY, MS, KG, CC
    number: int
    ownership: str = PUBLIC
    attributes: dict[str, Any] = field(default_factory=dict)
    opened: dt.date = RECORDS_BEGIN

    @property
    def code(self) -> str:
        return f"{self.district.code}-{self.kind}-{self.number:03d}"


KIND_TYPES = {"PS": UnitType.PRIMARY_SCHOOL.value, "NY": UnitType.NINE_YEAR_SCHOOL.value,
              "MS": UnitType.SECONDARY_SCHOOL.value, "KG": UnitType.KINDERGARTEN.value,
              "CC": UnitType.CHILDCARE_POINT.value}


def _draw(districts: list[District], kind: str, total: int) -> list[Drawn]:
    counts = apportion(total, [DISTRICT_WEIGHTS[d.code] for d in districts])
    return [Drawn(d, kind, n)
            for d, count in zip(districts, counts, strict=True) for n in range(1, count + 1)]


def _names(unit: Drawn) -> tuple[str, str]:
    zh_kind, en_kind = {
        "PS": ("小学", "Primary School"),
        "NY": ("九年一贯制学校", "Nine-Year School"),
        "KG": ("幼儿园", "Kindergarten"),
        "CC": ("托育点", "Childcare Point"),
    }.get(unit.kind) or _secondary_kind(unit.attributes)
    private = unit.ownership == PRIVATE
    zh = f"{unit.district.name_zh}{'民办' if private else ''}第{chinese_number(unit.number)}{zh_kind}（合成）"
    en = f"{unit.district.short_en} {'Private ' if private else ''}{en_kind} No.{unit.number} (synthetic)"
    return zh, en


def _secondary_kind(attributes: dict[str, Any]) -> tuple[str, str]:
    if attributes.get("junior") and attributes.get("senior"):
        return "中学", "Middle School"
    if attributes.get("junior"):
        return "初级中学", "Junior High School"
    return "高级中学", "Senior High School"


def _flag(rng: random.Random, units: Sequence[Drawn], count: int, key: str) -> list[Drawn]:
    chosen = rng.sample(list(units), count)
    ids = {id(u) for u in chosen}
    for unit in units:
        unit.attributes[key] = id(unit) in ids
    return chosen


def _schools_with_primary_grades(rng: random.Random, districts: list[District], plan: Plan) -> list[Drawn]:
    # One primary school more than the report's 880: it is merged into another in 2020.
    primary = _draw(districts, "PS", PRIMARY_GRADE_SCHOOLS - NINE_YEAR_SCHOOLS + 1)
    nine_year = _draw(districts, "NY", NINE_YEAR_SCHOOLS)
    xuhui = [u for u in primary if u.district.code == "310104"]
    merged, survivor = xuhui[-1], xuhui[-2]
    counted = [u for u in primary + nine_year if u is not merged]
    for unit in rng.sample(nine_year, PRIVATE_NINE_YEAR):
        unit.ownership = PRIVATE
    private_primary = rng.sample([u for u in primary if u is not merged and u is not survivor],
                                 PRIVATE_PRIMARY - PRIVATE_NINE_YEAR)
    for unit in private_primary:
        unit.ownership = PRIVATE
    for unit in nine_year:
        unit.attributes["junior"] = True
    _flag(rng, counted, AFTER_SCHOOL, "after_school_service")
    merged.attributes["after_school_service"] = False
    private = [u for u in counted if u.ownership == PRIVATE]
    _flag(rng, private, PRIVATE_PRIMARY_LOTTERY, "lottery_primary_2020")
    plan.history.append(("merge", {"code": merged.code, "into": survivor.code,
                                   "effective": dt.date(2020, 7, 1),
                                   "note": f"{SYNTHETIC_NOTE}: 两校合并 / two schools merged"}))
    renamed = next(u for u in primary if u.district.code == "310101" and u.number == 3)
    plan.history.append(("rename", {"code": renamed.code, "effective": dt.date(2020, 9, 1),
                                    "changes": _renamed(renamed),
                                    "note": f"{SYNTHETIC_NOTE}: 更名为实验小学 / renamed"}))
    return primary + nine_year


def _renamed(unit: Drawn) -> dict[str, str]:
    zh, en = _names(unit)
    return {"name_zh": zh.replace("小学", "实验小学"),
            "name_en": en.replace("Primary School", "Experimental Primary School")}


def _secondary_schools(rng: random.Random, districts: list[District], plan: Plan,
                       nine_year: Sequence[Drawn]) -> list[Drawn]:
    schools = _draw(districts, "MS", SECONDARY_SCHOOLS)
    junior_private = PRIVATE_JUNIOR - sum(1 for u in nine_year if u.ownership == PRIVATE)
    private = rng.sample(schools, junior_private + PRIVATE_SENIOR_ONLY)
    for i, unit in enumerate(private):
        unit.ownership = PRIVATE
        unit.attributes.update(junior=i < junior_private, senior=i >= junior_private or rng.random() < 0.3)
    for unit in schools:
        if unit.ownership == PUBLIC:
            grades = rng.choices(["junior", "senior", "both"], weights=[55, 25, 20])[0]
            unit.attributes.update(junior=grades != "senior", senior=grades != "junior")
    juniors = [u for u in [*nine_year, *private] if u.ownership == PRIVATE and u.attributes["junior"]]
    _flag(rng, juniors, PRIVATE_JUNIOR_LOTTERY, "lottery_junior_2020")
    public = [u for u in schools if u.ownership == PUBLIC]
    closed = next(u for u in public if u.district.code == "310116")
    plan.history.append(("close", {"code": closed.code, "effective": dt.date(2020, 7, 1),
                                   "note": f"{SYNTHETIC_NOTE}: 停止招生后撤销 / closed"}))
    moved = next(u for u in public if u.district.code == "310112")
    plan.history.append(("move", {"code": moved.code, "effective": dt.date(2020, 1, 1),
                                  "changes": {"parent": "310104"},
                                  "note": f"{SYNTHETIC_NOTE}: 划归徐汇区管理 / transferred to Xuhui"}))
    return schools


def _kindergartens(rng: random.Random, districts: list[District], plan: Plan) -> list[Drawn]:
    # Three more than the 1,600 open at the end of 2020: they close in 2019 and 2020.
    kindergartens = _draw(districts, "KG", KINDERGARTENS + 3)
    for unit in kindergartens:
        unit.ownership = PRIVATE if rng.random() < 0.35 else PUBLIC
        unit.attributes["普惠"] = unit.ownership == PUBLIC or rng.random() < 0.6
    closing = rng.sample(kindergartens, 3)
    days = (dt.date(2019, 7, 1), dt.date(2020, 1, 1), dt.date(2020, 7, 1))
    for unit, day in zip(closing, days, strict=True):
        plan.history.append(("close", {"code": unit.code, "effective": day,
                                       "note": f"{SYNTHETIC_NOTE}: 停办 / closed"}))
    closing_ids = {id(u) for u in closing}
    new = rng.sample([u for u in kindergartens if id(u) not in closing_ids], NEW_KINDERGARTENS)
    for unit in new:
        unit.opened = rng.choice([dt.date(2020, 6, 1), dt.date(2020, 9, 1), dt.date(2020, 9, 1)])
        unit.attributes["新开办_2020"] = True
    moved = next(u for u in kindergartens if u.district.code == "310115" and id(u) not in closing_ids
                 and u.opened == RECORDS_BEGIN)
    plan.history.append(("move", {"code": moved.code, "effective": dt.date(2020, 9, 1),
                                  "changes": {"parent": "310120"},
                                  "note": f"{SYNTHETIC_NOTE}: 划归奉贤区管理 / transferred to Fengxian"}))
    return kindergartens


def _childcare_points(rng: random.Random, districts: list[District], plan: Plan) -> list[Drawn]:
    points = _draw(districts, "CC", PUHUI_CHILDCARE + OTHER_CHILDCARE)
    puhui = _flag(rng, points, PUHUI_CHILDCARE, "普惠")
    for unit in puhui:
        unit.opened = dt.date(2020, rng.randint(3, 12), 1)
        unit.ownership = rng.choice([PUBLIC, PRIVATE])
    others = [u for u in points if not u.attributes["普惠"]]
    for unit in others:
        unit.ownership = PRIVATE
    plan.history.append(("close", {"code": others[0].code, "effective": dt.date(2020, 7, 1),
                                   "note": f"{SYNTHETIC_NOTE}: 停办 / closed"}))
    plan.groups.append({"code": "PUHUI-CHILDCARE-2020", "name_zh": "2020年普惠性托育点（合成）",
                        "name_en": "普惠 childcare points built in 2020 (synthetic)",
                        "members": sorted(u.code for u in puhui)})
    return points


def _spec(unit: Drawn) -> UnitSpec:
    zh, en = _names(unit)
    return UnitSpec(code=unit.code, name_zh=zh, name_en=en, type=KIND_TYPES[unit.kind],
                    ownership=unit.ownership, sector=Sector.EDUCATION.value, parent=unit.district.code,
                    opened=unit.opened, attributes=dict(sorted(unit.attributes.items())), synthetic=True)


def build_plan() -> Plan:
    """The whole demo as data: the same every time (``random.Random(2020)``)."""
    rng = random.Random(2020)
    plan = Plan()
    districts = _real_specs(real_units(), plan)
    primary_grades = _schools_with_primary_grades(rng, districts, plan)
    nine_year = [u for u in primary_grades if u.kind == "NY"]
    drawn = (primary_grades + _secondary_schools(rng, districts, plan, nine_year)
             + _kindergartens(rng, districts, plan) + _childcare_points(rng, districts, plan))
    drawn.sort(key=lambda u: u.code)
    plan.specs += [_spec(u) for u in drawn]
    return plan


# ---------------------------------------------------------------- loading


def load(conn: Connection, *, progress: Progress | None = None) -> dict[str, Any]:
    """Load the demo through the services as SYSTEM; returns counts. Never commits."""
    report = progress or (lambda stage, done, total: None)
    plan = build_plan()
    report("units", 0, len(plan.specs))
    registry.import_new_units(conn, principal=SYSTEM, specs=plan.specs, rows=[None] * len(plan.specs),
                              note=NOTE)
    report("units", len(plan.specs), len(plan.specs))
    for done, (kind, args) in enumerate(plan.history, start=1):
        _apply(conn, kind, args)
        report("history", done, len(plan.history))
    for done, group in enumerate(plan.groups, start=1):
        groups.create_group(conn, principal=SYSTEM, note=NOTE, **group)
        report("groups", done, len(plan.groups))
    for group_set in plan.group_sets:
        groups.create_group_set(conn, principal=SYSTEM, note=NOTE, **group_set)
    for done, user in enumerate(DEMO_USERS, start=1):
        _create_user(conn, user)
        report("users", done, len(DEMO_USERS))
    refresh_statistics(conn)
    return summary(plan)


def refresh_statistics(conn: Connection) -> None:
    """PostgreSQL plans by table statistics; after a bulk load in one transaction they still say
    "empty", and tree queries would be planned as nested scans. ANALYZE (allowed in a
    transaction, and seeing its rows) fixes that; SQLite needs nothing."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE")


def _apply(conn: Connection, kind: str, args: dict[str, Any]) -> None:
    if kind == "close":
        registry.close_unit(conn, principal=SYSTEM, **args)
    elif kind == "merge":
        registry.merge_unit(conn, principal=SYSTEM, **args)
    else:
        registry.change_unit(conn, principal=SYSTEM, **args)


def _create_user(conn: Connection, user: dict[str, Any]) -> None:
    scope = [user["scope"]] if user["scope"] else []
    read_only = user["role"] == Role.VIEWER.value
    auth.create_user(conn, principal=SYSTEM, username=user["username"], password=user["password"],
                     role=user["role"], capture_scope=[] if read_only else scope,
                     view_scope=scope if read_only else [], display_name=user["display_name"])


def summary(plan: Plan) -> dict[str, Any]:
    by_type: dict[str, int] = {}
    for spec in plan.specs:
        by_type[spec.type] = by_type.get(spec.type, 0) + 1
    history: dict[str, int] = {}
    for kind, _ in plan.history:
        history[kind] = history.get(kind, 0) + 1
    return {
        "units": len(plan.specs),
        "real": sum(1 for s in plan.specs if not s.synthetic),
        "synthetic": sum(1 for s in plan.specs if s.synthetic),
        "by_type": dict(sorted(by_type.items())),
        "history": history,
        "groups": len(plan.groups),
        "group_sets": len(plan.group_sets),
        "users": len(DEMO_USERS),
        "records_begin": RECORDS_BEGIN.isoformat(),
    }
