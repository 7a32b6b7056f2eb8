"""The indicators of the Shanghai 2020 demo: the 2020 report's city figures, and synthetic data
below them that adds up to those figures.

Run after :func:`jiaowei.demo.shanghai2020.load` (it needs that registry). It creates, through the
services and as :data:`SYSTEM`:

- metadata: three categories (sex; compulsory stage; kindergarten ownership), their combos, the
  data elements and data sets of :data:`ELEMENTS` and :data:`DATA_SETS`, five validation rules;
- the indicators of :data:`INDICATORS`, and for each figure the report gives, a *fact* at the
  commission (``indicator_facts``) citing the report's sentence;
- synthetic data values (``synthetic`` true, source ``demo``) at the units below the commission,
  apportioned with ``random.Random(2020)`` so that the indicator computed from them at the city
  level equals the fact as shown (86.0%, 92.51%, 1:159, 845 schools, …);
- the city's 2020 targets, one trajectory to 2025, and a few completed and approved forms;
- 校园每日健康监测: daily values for the schools of 黄浦 on the school days of autumn 2020;
- for the year-on-year changes the report gives: the universities' ESI disciplines (2020 and 2019) and
  the graduates of 2019 (175,600, 1.1万 fewer than in 2020), synthetic below the city as the rest;
  and, synthetic, the kindergartens' children of 2019 (84.0% in 普惠 places).

The city totals the report does not give (children in kindergarten, primary pupils, students,
counsellors, teacher party branches) are synthetic choices; they are named below. The caller
commits.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from jiaowei.audit import service as audit
from jiaowei.auth.model import SYSTEM
from jiaowei.demo.shanghai2020 import COMMISSION, apportion, refresh_statistics
from jiaowei.indicators import store
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.approval import service as approval
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.targets import service as targets
from jiaowei.indicators.values import service as values
from jiaowei.registry import queries as registry

Progress = Callable[[str, int, int], None]
SOURCE = "demo"
SEED = "市教卫工作党委、市教委领导班子2020年度工作情况报告（2020-12-03）"
SYNTHETIC_TARGET = "合成演示目标 / synthetic demo target"
YEAR, SCHOOL_YEAR, LAST_YEAR = "2020", "2020SY", "2019"
END_2019, END_2020, END_2020SY = dt.date(2019, 12, 31), dt.date(2020, 12, 31), dt.date(2021, 8, 31)
HEALTH_DISTRICT = "310101"  # 黄浦: the one district whose schools report daily in the demo
AUTUMN_TERM = (dt.date(2020, 9, 1), dt.date(2020, 12, 31))
HOLIDAY = (dt.date(2020, 10, 1), dt.date(2020, 10, 8))  # 国庆节、中秋节: no school

# Figures of the report (the seed).
KG_COVERAGE = 86.0
AFTER_SCHOOL_SCHOOLS, AFTER_SCHOOL_PUPILS = 845, 377_000
GRADUATES, EMPLOYMENT_RATE = 186_600, 92.51
COUNSELLOR_RATIO = 159
DOUBLE_LEADER_SHARE = 97.1
ESI_TOP1PCT, ESI_TOP1PERMILLE = 120, 15  # disciplines in ESI's top 1% and 1‰, "较去年分别增加14个和2个"
ESI_SOURCE = "上海高校进入ESI前1%学科数120个、前1‰学科数15个，较去年分别增加14个和2个"
# The year before: the report's changes give the ESI counts and the graduates ("较去年增加1.1万人").
ESI_TOP1PCT_2019, ESI_TOP1PERMILLE_2019 = 106, 13
GRADUATES_2019 = 175_600
# Synthetic: kindergartens in 2019 (those open at its end), 84.0% of their children in 普惠 places.
KG_CHILDREN_2019, KG_INCLUSIVE_2019 = 566_000, 475_440
# Synthetic city totals, chosen so that the report's rates come out exactly.
KG_CHILDREN = 580_000
KG_INCLUSIVE = 498_800  # 86.0% of KG_CHILDREN
PRIMARY_PUPILS = 860_000
EMPLOYED = 172_625  # 92.5107% of GRADUATES, shown 92.51%
COUNSELLORS = 3_400
HE_STUDENTS = COUNSELLORS * COUNSELLOR_RATIO  # 540,600: exactly 1:159
TEACHER_BRANCHES, DOUBLE_LEADERS = 4_000, 3_884  # 97.1%

SCHOOLS = ("primary_school", "nine_year_school")
HIGHER = ("university", "vocational_college")

CATEGORIES = [
    ("SEX", "性别", "Sex", [("MALE", "男", "Male"), ("FEMALE", "女", "Female")]),
    ("COMPULSORY_STAGE", "义务教育学段", "Compulsory education stage",
     [("PRIMARY", "小学", "Primary"), ("JUNIOR", "初中", "Junior high")]),
    ("KG_OWNERSHIP", "办园性质", "Kindergarten ownership",
     [("PUBLIC", "公办", "Public"), ("INCLUSIVE_PRIVATE", "普惠性民办", "Inclusive (普惠) private"),
      ("OTHER_PRIVATE", "其他民办", "Other private")]),
]
COMBOS = [("BY_SEX", "按性别", "By sex", "SEX"),
          ("BY_STAGE", "按义务教育学段", "By compulsory stage", "COMPULSORY_STAGE"),
          ("BY_KG_OWNERSHIP", "按办园性质", "By kindergarten ownership", "KG_OWNERSHIP")]

# code, name_zh, name_en, value type, category combo, zero is significant
ELEMENTS = [
    ("KG_CHILDREN", "在园幼儿数", "Children enrolled in kindergarten", "INTEGER", "BY_KG_OWNERSHIP", False),
    ("AS_SCHOOL", "设有小学学段（每校填“是”）", "School with primary grades (each school: yes)", "BOOLEAN",
     None, True),
    ("AS_OFFERED", "开设校内课后服务", "Runs after-school service on campus", "BOOLEAN", None, True),
    ("PRIMARY_PUPILS", "小学在校生数", "Primary pupils enrolled", "INTEGER", "BY_SEX", False),
    ("AS_PUPILS", "参加校内课后服务的小学生数", "Primary pupils in after-school service", "INTEGER",
     "BY_SEX", True),
    ("ADM_ENROLS", "民办学校招收起始年级新生", "Private school admits an entry grade", "BOOLEAN", "BY_STAGE",
     True),
    ("ADM_LOTTERY", "超额摇号，电脑随机录取", "Oversubscribed: admitted by computer lottery", "BOOLEAN",
     "BY_STAGE", True),
    ("HE_GRADUATES", "高校毕业生数", "Graduates", "INTEGER", "BY_SEX", False),
    ("HE_EMPLOYED", "已就业毕业生数", "Graduates in employment", "INTEGER", "BY_SEX", True),
    ("HE_STUDENTS", "全日制在校生数", "Full-time students", "INTEGER", None, False),
    ("HE_COUNSELLORS", "专职辅导员数", "Full-time student counsellors", "INTEGER", None, False),
    ("HE_TEACHER_BRANCHES", "教师党支部数", "Teachers' party branches", "INTEGER", None, False),
    ("HE_DOUBLE_LEADERS", "“双带头人”教师党支部书记数", "Branch secretaries who are “double leaders”",
     "INTEGER", None, True),
    ("HE_ESI_TOP1PCT", "进入ESI前1%学科数", "Disciplines in the ESI top 1%", "INTEGER", None, True),
    ("HE_ESI_TOP1PERMILLE", "进入ESI前1‰学科数", "Disciplines in the ESI top 1‰", "INTEGER", None, True),
    ("HEALTH_ABSENT_ILL", "因病缺课学生数", "Pupils absent through illness", "INTEGER", None, True),
    ("HEALTH_FEVER", "发热学生数", "Pupils with fever", "INTEGER", None, True),
    ("HEALTH_CASES", "确诊或疑似病例数", "Confirmed or suspected COVID-19 cases", "INTEGER", None, True),
]

# code, name_zh, name_en, period type, elements, unit types (None: named units, set when loading)
DATA_SETS = [
    ("KG_ANNUAL", "幼儿园年报", "Kindergarten annual return", "Yearly", ["KG_CHILDREN"], ["kindergarten"]),
    ("AFTER_SCHOOL", "小学校内课后服务", "After-school service in primary schools", "SchoolYear",
     ["AS_SCHOOL", "AS_OFFERED", "PRIMARY_PUPILS", "AS_PUPILS"], list(SCHOOLS)),
    ("PRIVATE_ADMISSION", "民办义务教育学校招生（公民同招）", "Private compulsory-school admissions",
     "Yearly", ["ADM_ENROLS", "ADM_LOTTERY"], None),
    ("HE_ANNUAL", "高校年报", "Higher education annual return", "Yearly",
     ["HE_GRADUATES", "HE_EMPLOYED", "HE_STUDENTS", "HE_COUNSELLORS", "HE_TEACHER_BRANCHES",
      "HE_DOUBLE_LEADERS"], list(HIGHER)),
    ("CAMPUS_HEALTH", "校园每日健康监测", "Daily campus health monitoring", "Daily",
     ["HEALTH_ABSENT_ILL", "HEALTH_FEVER", "HEALTH_CASES"], None),
    ("HE_DISCIPLINES", "高校学科建设年报", "Universities' disciplines, annual return", "Yearly",
     ["HE_ESI_TOP1PCT", "HE_ESI_TOP1PERMILLE"], ["university"]),
]

RULES = [
    ("RULE_HE_EMPLOYED", "已就业毕业生不多于毕业生", "Employed graduates ≤ graduates",
     "#{HE_EMPLOYED}", "#{HE_GRADUATES}", "Yearly"),
    ("RULE_HE_DOUBLE_LEADERS", "“双带头人”书记不多于教师党支部", "Double leaders ≤ teachers' branches",
     "#{HE_DOUBLE_LEADERS}", "#{HE_TEACHER_BRANCHES}", "Yearly"),
    ("RULE_AS_PUPILS", "参加课后服务的学生不多于在校生", "Pupils in after-school service ≤ pupils",
     "#{AS_PUPILS}", "#{PRIMARY_PUPILS}", "SchoolYear"),
    ("RULE_ADM_LOTTERY", "摇号录取不多于招生学段", "Lottery admissions ≤ entry grades admitted",
     "#{ADM_LOTTERY}", "#{ADM_ENROLS}", "Yearly"),
    ("RULE_HEALTH_CASES", "校园确诊或疑似病例数应为零", "No confirmed or suspected cases on campus",
     "#{HEALTH_CASES}", "0", "Daily"),
]
DUE_DAYS = {"CAMPUS_HEALTH": 0}  # the daily form is due the same day; the others 15 days after


@dataclass(frozen=True)
class Figure:
    """An indicator, and the report's figure for it at the commission (None: no figure)."""

    code: str
    name_zh: str
    name_en: str
    numerator: str
    denominator: str
    display: str
    decimals: int
    period: str = YEAR
    fact: float | None = None
    source: str = ""
    higher_is_better: bool = True


INDICATORS = [
    Figure("KG_INCLUSIVE_COVERAGE", "普惠性学前教育覆盖率",
           "Coverage of inclusive (普惠) pre-school education",
           "#{KG_CHILDREN.PUBLIC} + #{KG_CHILDREN.INCLUSIVE_PRIVATE}", "#{KG_CHILDREN}", "percent", 1,
           fact=KG_COVERAGE, source="普惠性学前教育覆盖率86%，超出国家标准6个百分点"),
    Figure("AS_SCHOOLS", "开设校内课后服务的小学数", "Primary schools running after-school service",
           "#{AS_OFFERED}", "1", "number", 0, SCHOOL_YEAR, AFTER_SCHOOL_SCHOOLS,
           "新学期起845所小学因需开设校内课后服务"),
    Figure("AS_RATE", "小学校内课后服务开设率", "Share of primary schools running after-school service",
           "#{AS_OFFERED}", "#{AS_SCHOOL}", "percent", 1, SCHOOL_YEAR),
    Figure("AS_PARTICIPANTS", "参加校内课后服务的小学生数", "Primary pupils in after-school service",
           "#{AS_PUPILS}", "1", "number", 0, SCHOOL_YEAR, AFTER_SCHOOL_PUPILS, "37.7万名小学生参加"),
    Figure("ADM_PRIMARY_LOTTERY", "参与电脑随机录取的民办小学数",
           "Private primary schools admitting by lottery",
           "#{ADM_LOTTERY.PRIMARY}", "1", "number", 0, fact=74, source="74所民办小学……参与电脑随机录取"),
    Figure("ADM_PRIMARY_LOTTERY_SHARE", "民办小学电脑随机录取占比",
           "Share of private primary schools admitting by lottery", "#{ADM_LOTTERY.PRIMARY}",
           "#{ADM_ENROLS.PRIMARY}", "percent", 2, fact=88.10, source="分别占总数的88.10%和77.27%"),
    Figure("ADM_JUNIOR_LOTTERY", "参与电脑随机录取的民办初中数",
           "Private junior high schools admitting by lottery",
           "#{ADM_LOTTERY.JUNIOR}", "1", "number", 0, fact=85, source="85所民办初中参与电脑随机录取"),
    Figure("ADM_JUNIOR_LOTTERY_SHARE", "民办初中电脑随机录取占比",
           "Share of private junior high schools admitting by lottery", "#{ADM_LOTTERY.JUNIOR}",
           "#{ADM_ENROLS.JUNIOR}", "percent", 2, fact=77.27, source="分别占总数的88.10%和77.27%"),
    Figure("HE_GRADUATE_COUNT", "高校毕业生数", "Graduates of higher education", "#{HE_GRADUATES}", "1",
           "number", 0, fact=GRADUATES, source="今年高校毕业生18.66万人，较去年增加1.1万人"),
    Figure("HE_EMPLOYMENT_RATE", "高校毕业生就业率", "Employment rate of graduates", "#{HE_EMPLOYED}",
           "#{HE_GRADUATES}", "percent", 2, fact=EMPLOYMENT_RATE,
           source="高校毕业生就业率92.51%，居全国首位"),
    Figure("HE_COUNSELLOR_RATIO", "高校辅导员师生比", "Counsellors to students in higher education",
           "#{HE_COUNSELLORS}", "#{HE_STUDENTS}", "ratio", 0, fact=1 / COUNSELLOR_RATIO,
           source="高校辅导员师生比达1:159"),
    Figure("HE_DOUBLE_LEADER_SHARE", "教师党支部书记“双带头人”占比",
           "Teachers' branch secretaries who are “double leaders”", "#{HE_DOUBLE_LEADERS}",
           "#{HE_TEACHER_BRANCHES}", "percent", 1, fact=DOUBLE_LEADER_SHARE,
           source="教师党支部书记“双带头人”占比达97.1%"),
    Figure("ESI_TOP1PCT_DISCIPLINES", "高校进入ESI前1%学科数", "University disciplines in the ESI top 1%",
           "#{HE_ESI_TOP1PCT}", "1", "number", 0, fact=ESI_TOP1PCT, source=ESI_SOURCE),
    Figure("ESI_TOP1PERMILLE_DISCIPLINES", "高校进入ESI前1‰学科数",
           "University disciplines in the ESI top 1‰", "#{HE_ESI_TOP1PERMILLE}", "1", "number", 0,
           fact=ESI_TOP1PERMILLE, source=ESI_SOURCE),
    Figure("CAMPUS_CASES", "校园确诊或疑似病例数", "Confirmed or suspected cases on campus",
           "#{HEALTH_CASES}", "1", "number", 0, fact=0, source="校园没有出现1起确诊或疑似病例",
           higher_is_better=False),
    Figure("CAMPUS_ABSENT_ILL", "因病缺课人次", "Pupil-days absent through illness", "#{HEALTH_ABSENT_ILL}",
           "1", "number", 0, higher_is_better=False),
]


# ---------------------------------------------------------------- metadata


def _metadata(conn: Connection, units: dict[str, list[str]]) -> None:
    for code, zh, en, options in CATEGORIES:
        metadata.save_category(conn, principal=SYSTEM, code=code, name_zh=zh, name_en=en,
                               options=[{"code": c, "name_zh": z, "name_en": e} for c, z, e in options])
    for code, zh, en, category in COMBOS:
        metadata.save_category_combo(conn, principal=SYSTEM, code=code, name_zh=zh, name_en=en,
                                     categories=[category])
    for code, zh, en, value_type, combo, zero in ELEMENTS:
        metadata.save_data_element(conn, principal=SYSTEM, code=code, name_zh=zh, name_en=en,
                                   value_type=value_type, category_combo=combo, zero_is_significant=zero)
    for code, zh, en, period_type, elements, unit_types in DATA_SETS:
        metadata.save_data_set(conn, principal=SYSTEM, code=code, name_zh=zh, name_en=en,
                               period_type=period_type, elements=elements, unit_types=unit_types or (),
                               units=units.get(code, ()), due_days=DUE_DAYS.get(code, 15))
    for code, zh, en, left, right, period_type in RULES:
        metadata.save_validation_rule(conn, principal=SYSTEM, code=code, name_zh=zh, name_en=en, left=left,
                                      operator="less_than_or_equal_to", right=right, period_type=period_type,
                                      left_missing="SKIP_IF_ALL_VALUES_MISSING")
    for f in INDICATORS:
        metadata.save_indicator(conn, principal=SYSTEM, code=f.code, name_zh=f.name_zh, name_en=f.name_en,
                                numerator=f.numerator, denominator=f.denominator, display=f.display,
                                decimals=f.decimals, higher_is_better=f.higher_is_better,
                                description=f"{SEED}: {f.source}" if f.source else "")


# ---------------------------------------------------------------- the units that report


def private_schools(conn: Connection) -> list[registry.Unit]:
    """Private schools with a primary or junior entry grade (the registry demo's lottery flags)."""
    rows = registry.units_on(conn, END_2020, types=(*SCHOOLS, "secondary_school"))
    return [r for r in rows if {"lottery_primary_2020", "lottery_junior_2020"} & set(r.attributes or {})]


def health_schools(conn: Connection) -> list[registry.Unit]:
    district = registry.id_of(conn, HEALTH_DISTRICT)
    schools = registry.units_on(conn, END_2020, types=(*SCHOOLS, "secondary_school"))
    return [r for r in schools if r.parent_id == district]


def school_days() -> list[dt.date]:
    """Weekdays of the autumn term 2020, without the National Day holiday."""
    first, last = AUTUMN_TERM
    days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    return [d for d in days if d.weekday() < 5 and not HOLIDAY[0] <= d <= HOLIDAY[1]]


# ---------------------------------------------------------------- apportioning


def apportion_under(total: int, caps: Sequence[int], rng: random.Random) -> list[int]:
    """Split ``total`` roughly in proportion to ``caps``, each part at most its cap; sums exactly."""
    if total > sum(caps):
        raise ValueError(f"{total} does not fit under caps summing to {sum(caps)}")
    counts = [min(c, cap) for c, cap in zip(apportion(total, [cap * rng.randint(85, 115) for cap in caps]),
                                             caps, strict=True)]
    short = total - sum(counts)
    for i in sorted(range(len(caps)), key=lambda i: counts[i] - caps[i]):
        if short <= 0:
            break
        extra = min(short, caps[i] - counts[i])
        counts[i] += extra
        short -= extra
    return counts


def by_sex(rng: random.Random, total: int, female: tuple[float, float] = (0.47, 0.50)) -> tuple[int, int]:
    girls = round(total * rng.uniform(*female))
    return total - girls, girls


def _row(element: str, period: str, unit: str, value: Any, combo: str | None = None) -> ValueRow:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return ValueRow(data_element=element, period=period, org_unit=unit, category_option_combo=combo,
                    value=text)


# ---------------------------------------------------------------- values, one data set at a time


def kindergarten_rows(conn: Connection, rng: random.Random) -> list[ValueRow]:
    """在园幼儿数 by ownership class; the 普惠 kindergartens hold KG_INCLUSIVE of KG_CHILDREN."""
    kgs = registry.units_on(conn, END_2020, types=["kindergarten"])
    inclusive = [k for k in kgs if (k.attributes or {}).get("普惠")]
    others = [k for k in kgs if not (k.attributes or {}).get("普惠")]
    rows = []
    for group, total in ((inclusive, KG_INCLUSIVE), (others, KG_CHILDREN - KG_INCLUSIVE)):
        weights = [rng.randint(60, 140) * (1 if (k.attributes or {}).get("新开办_2020") else 3)
                   for k in group]  # kindergartens opened in 2020 are smaller
        for k, n in zip(group, apportion(total, weights), strict=True):
            rows.append(_row("KG_CHILDREN", YEAR, k.code, n, _ownership_class(k)))
    return rows


def kindergarten_2019_rows(conn: Connection, rng: random.Random) -> list[ValueRow]:
    """2019's 在园幼儿数 at the kindergartens open then (synthetic: 84.0% in 普惠 places), so that the
    district reports and the bulletin have a year to compare coverage with."""
    kgs = registry.units_on(conn, END_2019, types=["kindergarten"])
    inclusive = [k for k in kgs if (k.attributes or {}).get("普惠")]
    others = [k for k in kgs if not (k.attributes or {}).get("普惠")]
    rows = []
    for group, total in ((inclusive, KG_INCLUSIVE_2019), (others, KG_CHILDREN_2019 - KG_INCLUSIVE_2019)):
        for k, n in zip(group, apportion(total, [rng.randint(60, 140) for _ in group]), strict=True):
            rows.append(_row("KG_CHILDREN", LAST_YEAR, k.code, n, _ownership_class(k)))
    return rows


def _ownership_class(kindergarten: Any) -> str:
    if kindergarten.ownership == "public":
        return "PUBLIC"
    return "INCLUSIVE_PRIVATE" if (kindergarten.attributes or {}).get("普惠") else "OTHER_PRIVATE"


def after_school_rows(conn: Connection, rng: random.Random) -> list[ValueRow]:
    """2020SY: every school with primary grades answers; 845 run the service, 377,000 pupils take part."""
    schools = registry.units_on(conn, END_2020SY, types=SCHOOLS)
    weights = [rng.randint(50, 150) if s.type == "primary_school" else rng.randint(30, 100) for s in schools]
    sizes = apportion(PRIMARY_PUPILS, weights)  # a nine-year school's primary grades are smaller
    rows, cells = [], []
    for school, size in zip(schools, sizes, strict=True):
        offered = bool((school.attributes or {}).get("after_school_service"))
        rows += [_row("AS_SCHOOL", SCHOOL_YEAR, school.code, True),
                 _row("AS_OFFERED", SCHOOL_YEAR, school.code, offered)]
        for sex, pupils in zip(("MALE", "FEMALE"), by_sex(rng, size), strict=True):
            rows.append(_row("PRIMARY_PUPILS", SCHOOL_YEAR, school.code, pupils, sex))
            if offered:
                cells.append((school.code, sex, pupils))
    taking_part = apportion_under(AFTER_SCHOOL_PUPILS, [cap for _, _, cap in cells], rng)
    rows += [_row("AS_PUPILS", SCHOOL_YEAR, code, n, sex) for (code, sex, _), n in zip(cells, taking_part,
                                                                                       strict=True)]
    return rows


def admission_rows(schools: Sequence[Any]) -> list[ValueRow]:
    """Each private school's entry grades, and whether it admitted by lottery (the registry's flags)."""
    rows = []
    for school in schools:
        flags = school.attributes or {}
        for stage, key in (("PRIMARY", "lottery_primary_2020"), ("JUNIOR", "lottery_junior_2020")):
            if key in flags:
                rows += [_row("ADM_ENROLS", YEAR, school.code, True, stage),
                         _row("ADM_LOTTERY", YEAR, school.code, bool(flags[key]), stage)]
    return rows


def higher_education_rows(conn: Connection, rng: random.Random) -> list[ValueRow]:
    """Graduates (186,600; 92.51% employed), students and counsellors (1:159), branches (97.1%)."""
    units = registry.units_on(conn, END_2020, types=HIGHER)
    size = [rng.randint(40, 160) * (3 if u.type == "university" else 1) for u in units]
    graduates = [by_sex(rng, n, (0.45, 0.60)) for n in apportion(GRADUATES, size)]
    cells = [n for pair in graduates for n in pair]
    employed = apportion_under(EMPLOYED, cells, rng)
    students = apportion(HE_STUDENTS, size)
    counsellors = apportion_under(COUNSELLORS, [s // 100 for s in students], rng)
    branches = apportion(TEACHER_BRANCHES, size)
    leaders = apportion_under(DOUBLE_LEADERS, branches, rng)
    rows = []
    for i, u in enumerate(units):
        for j, sex in enumerate(("MALE", "FEMALE")):
            rows += [_row("HE_GRADUATES", YEAR, u.code, graduates[i][j], sex),
                     _row("HE_EMPLOYED", YEAR, u.code, employed[2 * i + j], sex)]
        rows += [_row("HE_STUDENTS", YEAR, u.code, students[i]),
                 _row("HE_COUNSELLORS", YEAR, u.code, counsellors[i]),
                 _row("HE_TEACHER_BRANCHES", YEAR, u.code, branches[i]),
                 _row("HE_DOUBLE_LEADERS", YEAR, u.code, leaders[i])]
    return rows


def discipline_rows(conn: Connection, rng: random.Random) -> list[ValueRow]:
    """ESI disciplines at the universities: 120 and 15 in 2020, 106 and 13 in 2019, mostly at the
    双一流 universities; a unit's 1‰ disciplines are among its 1%, and its 2019 counts at most its 2020."""
    units = registry.units_on(conn, END_2020, types=["university"])
    weights = [rng.randint(60, 140) * (8 if (u.attributes or {}).get("双一流") else rng.choice([0, 0, 1]))
               for u in units]
    top = apportion(ESI_TOP1PCT, weights)
    best = apportion_under(ESI_TOP1PERMILLE, top, rng)
    top_before = apportion_under(ESI_TOP1PCT_2019, top, rng)
    best_before = apportion_under(ESI_TOP1PERMILLE_2019, best, rng)
    rows = []
    for u, *counts in zip(units, top, best, top_before, best_before, strict=True):
        for (element, period), n in zip(_ESI_CELLS, counts, strict=True):
            rows.append(_row(element, period, u.code, n))
    return rows


_ESI_CELLS = [("HE_ESI_TOP1PCT", YEAR), ("HE_ESI_TOP1PERMILLE", YEAR), ("HE_ESI_TOP1PCT", LAST_YEAR),
              ("HE_ESI_TOP1PERMILLE", LAST_YEAR)]


def graduates_2019_rows(conn: Connection, rng: random.Random) -> list[ValueRow]:
    """2019's graduates (175,600) at the higher-education units open then, about 92% employed."""
    units = registry.units_on(conn, END_2019, types=HIGHER)
    size = [rng.randint(40, 160) * (3 if u.type == "university" else 1) for u in units]
    graduates = [by_sex(rng, n, (0.45, 0.60)) for n in apportion(GRADUATES_2019, size)]
    cells = [n for pair in graduates for n in pair]
    employed = apportion_under(round(GRADUATES_2019 * 0.9236), cells, rng)
    rows = []
    for i, u in enumerate(units):
        for j, sex in enumerate(("MALE", "FEMALE")):
            rows += [_row("HE_GRADUATES", LAST_YEAR, u.code, graduates[i][j], sex),
                     _row("HE_EMPLOYED", LAST_YEAR, u.code, employed[2 * i + j], sex)]
    return rows


def health_rows(schools: Sequence[Any], rng: random.Random) -> list[ValueRow]:
    """Each school day: pupils absent through illness, pupils with fever (no more), and no cases."""
    rows = []
    size = {s.code: rng.randint(300, 1500) for s in schools}
    for day in school_days():
        period = day.strftime("%Y%m%d")
        season = 1.6 if day.month == 12 else 1.0  # the flu season
        for s in schools:
            absent = round(size[s.code] * rng.uniform(0.002, 0.008) * season)
            rows += [_row("HEALTH_ABSENT_ILL", period, s.code, absent),
                     _row("HEALTH_FEVER", period, s.code, rng.randint(0, min(absent, 2))),
                     _row("HEALTH_CASES", period, s.code, 0)]
    return rows


# ---------------------------------------------------------------- facts, targets, reports


def _facts(conn: Connection) -> int:
    root = registry.id_of(conn, COMMISSION)
    figures = [f for f in INDICATORS if f.fact is not None]
    periods = values.ensure_periods(conn, {f.period for f in figures})
    ids = dict(conn.execute(select(store.indicators.c.code, store.indicators.c.id)).all())
    for f in figures:
        source = f"{SEED}：“{f.source}”"
        conn.execute(insert(store.indicator_facts).values(
            indicator_id=ids[f.code], unit_id=root, period_id=periods[f.period], value=f.fact, source=source))
        audit.record(conn, actor=SYSTEM.username, action="create", entity="indicator_fact",
                     entity_key=f"{f.code}/{COMMISSION}/{f.period}",
                     after={"value": f.fact, "source": source})
    return len(figures)


TARGETS = [
    # indicator, period, value, at-risk margin, benchmark, benchmark label, note
    ("AS_RATE", SCHOOL_YEAR, 95.0, 0.0, None, "", "报告：开设率超过95% / the report: over 95%"),
    ("HE_EMPLOYMENT_RATE", YEAR, 92.0, 1.0, None, "", SYNTHETIC_TARGET),
    ("HE_DOUBLE_LEADER_SHARE", YEAR, 95.0, 2.0, None, "", SYNTHETIC_TARGET),
    ("HE_COUNSELLOR_RATIO", YEAR, 1 / 200, 0.0, 1 / 200,
     "教育部规定：总体不低于1:200 / Ministry rule: at least 1:200", SYNTHETIC_TARGET),
]


def _targets(conn: Connection) -> int:
    written = targets.set_trajectory(
        conn, principal=SYSTEM, indicator="KG_INCLUSIVE_COVERAGE", unit=COMMISSION, start_period="2020",
        end_period="2025", start_value=85.0, end_value=90.0, at_risk_margin=1.0, benchmark=80.0,
        benchmark_label="国家标准80% / national standard 80%", note=f"{SYNTHETIC_TARGET}: 2020–2025")
    for indicator, period, value, margin, benchmark, label, note in TARGETS:
        targets.set_target(conn, principal=SYSTEM, indicator=indicator, unit=COMMISSION, period=period,
                           value=value, at_risk_margin=margin, benchmark=benchmark, benchmark_label=label,
                           note=note)
    cascaded = targets.cascade(conn, principal=SYSTEM, indicator="KG_INCLUSIVE_COVERAGE", unit=COMMISSION,
                               period=YEAR, unit_types=["district_bureau"])
    return len(written) + len(TARGETS) + len(cascaded.written)


def _reports(conn: Connection, rng: random.Random) -> dict[str, int]:
    """Forms completed (most on time) and approved, for the completeness and approval pages: every
    higher-education unit's 2020 return (the commission approves the 双一流 universities') and the
    2020SY after-school form of Huangpu's schools but two (the district approves half of them)."""
    district = registry.id_of(conn, HEALTH_DISTRICT)
    schools = [s.code for s in registry.units_on(conn, END_2020SY, types=SCHOOLS) if s.parent_id == district]
    higher = registry.units_on(conn, END_2020, types=HIGHER)
    forms = [("HE_ANNUAL", YEAR, u.code) for u in higher] + [("AFTER_SCHOOL", SCHOOL_YEAR, c)
                                                              for c in schools[:-2]]
    for data_set, period, code in forms:
        day = dt.date(2021, 1, 1) if period == YEAR else dt.date(2020, 10, 1)
        at = dt.datetime.combine(day + dt.timedelta(days=rng.choice([3, 7, 10, 14, 14, 20])), dt.time(10),
                                 dt.UTC)
        completeness.complete(conn, principal=SYSTEM, data_set=data_set, period=period, unit=code, at=at)
    approved = [("HE_ANNUAL", YEAR, u.code) for u in higher if (u.attributes or {}).get("双一流")]
    approved += [("AFTER_SCHOOL", SCHOOL_YEAR, c) for c in schools[: len(schools) // 2]]
    for data_set, period, code in approved:
        approval.approve(conn, principal=SYSTEM, data_set=data_set, period=period, unit=code)
    return {"completions": len(forms), "approvals": len(approved)}


# ---------------------------------------------------------------- loading


def load(conn: Connection, *, progress: Progress | None = None) -> dict[str, Any]:
    """Load the indicators demo (after the registry demo) as SYSTEM; returns counts. Never commits."""
    report = progress or (lambda stage, done, total: None)
    rng = random.Random(2020)
    admitting, reporting = private_schools(conn), health_schools(conn)
    report("indicators: metadata", 0, 1)
    _metadata(conn, {"PRIVATE_ADMISSION": [s.code for s in admitting],
                     "CAMPUS_HEALTH": [s.code for s in reporting]})
    report("indicators: metadata", 1, 1)
    batches = [("KG_ANNUAL", lambda: kindergarten_rows(conn, rng)),
               ("AFTER_SCHOOL", lambda: after_school_rows(conn, rng)),
               ("PRIVATE_ADMISSION", lambda: admission_rows(admitting)),
               ("HE_ANNUAL", lambda: higher_education_rows(conn, rng)),
               ("CAMPUS_HEALTH", lambda: health_rows(reporting, rng))]
    earlier = random.Random(2019)  # its own generator: the 2020 values above stay as they were
    batches += [("HE_DISCIPLINES", lambda: discipline_rows(conn, earlier)),
                ("HE_ANNUAL_2019", lambda: graduates_2019_rows(conn, earlier)),
                ("KG_ANNUAL_2019", lambda: kindergarten_2019_rows(conn, earlier))]
    counts: dict[str, int] = {}
    for done, (data_set, make) in enumerate(batches):
        report("indicators: data values", done, len(batches))
        counts[data_set] = _import(conn, make())
    report("indicators: data values", len(batches), len(batches))
    refresh_statistics(conn)
    facts = _facts(conn)
    report("indicators: targets and reports", 0, 1)
    set_targets = _targets(conn)
    reports = _reports(conn, rng)
    report("indicators: targets and reports", 1, 1)
    return {"elements": len(ELEMENTS), "data_sets": len(DATA_SETS), "indicators": len(INDICATORS),
            "validation_rules": len(RULES), "values": sum(counts.values()), "values_by_data_set": counts,
            "daily_values": counts["CAMPUS_HEALTH"], "school_days": len(school_days()), "facts": facts,
            "targets": set_targets, **reports}


def _import(conn: Connection, rows: list[ValueRow]) -> int:
    summary = values.import_values(conn, principal=SYSTEM, rows=rows, source=SOURCE, synthetic=True,
                                   check_expiry=False)
    if summary.conflicts:
        first = summary.conflicts[0]
        raise RuntimeError(f"demo values refused ({len(summary.conflicts)}): row {first.row} "
                           f"{first.field}={first.value!r}: {first.reason}")
    return summary.imported
