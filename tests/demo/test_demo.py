"""The Shanghai 2020 demo on both databases: its counts match the 2020 report (the seed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from jiaowei.auth import service as auth
from jiaowei.auth.login import check_password
from jiaowei.auth.model import SYSTEM, Principal, Role
from jiaowei.demo import shanghai2020
from jiaowei.registry import groups, queries
from jiaowei.registry.model import UnitSummary
from jiaowei.registry.store import unit_versions, units

END_2020 = dt.date(2020, 12, 31)
END_2019 = dt.date(2019, 12, 31)


@pytest.fixture(scope="module")
def demo(engine: Engine) -> Iterator[tuple[Connection, dict[str, Any]]]:
    """The demo loaded once per module and database, rolled back at the end (tests only read)."""
    connection = engine.connect()
    outer = connection.begin()
    stages: list[str] = []
    summary = shanghai2020.load(connection, progress=lambda stage, done, total: stages.append(stage))
    summary["stages"] = stages
    yield connection, summary
    outer.rollback()
    connection.close()


def every_unit(conn: Connection, principal: Principal = SYSTEM, **filters: Any) -> list[UnitSummary]:
    """All pages of queries.list_units."""
    items: list[UnitSummary] = []
    filters.setdefault("as_of", END_2020)
    while True:
        page = queries.list_units(conn, principal=principal, offset=len(items), limit=500, **filters)
        items += page.items
        if len(items) >= page.total:
            return items


def user(conn: Connection, username: str) -> Principal:
    return auth.principal_for(conn, user_id=auth.user_id_for(conn, username=username))


def test_the_districts_are_the_sixteen_of_shanghai(demo):
    conn, _ = demo
    districts = every_unit(conn, type="district_bureau")
    assert {d.code for d in districts} == {
        "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112",
        "310113", "310114", "310115", "310116", "310117", "310118", "310120", "310151"}
    assert {d.parent for d in districts} == {"310000"}
    assert next(d for d in districts if d.code == "310101").name_zh == "黄浦区教育局"


def test_after_school_service_and_private_schools_match_the_report(demo):
    conn, _ = demo
    with_primary = every_unit(conn, type="primary_school") + every_unit(conn, type="nine_year_school")
    serving = [u for u in with_primary if u.attributes["after_school_service"]]
    assert len(with_primary) == 880 and len(serving) == 845
    assert len(serving) / len(with_primary) > 0.95
    private_primary = [u for u in with_primary if u.ownership == "private"]
    lottery_primary = [u for u in private_primary if u.attributes["lottery_primary_2020"]]
    assert (len(private_primary), len(lottery_primary)) == (84, 74)
    assert round(74 / 84 * 100, 2) == 88.10
    junior = [u for u in every_unit(conn, ownership="private")
              if u.type in ("secondary_school", "nine_year_school") and u.attributes.get("junior")]
    assert len(junior) == 110
    assert sum(1 for u in junior if u.attributes["lottery_junior_2020"]) == 85


def test_kindergartens_and_childcare_points_match_the_report(demo):
    conn, _ = demo
    kindergartens = {u.code: u for u in every_unit(conn, type="kindergarten")}
    before = {u.code for u in every_unit(conn, type="kindergarten", as_of=END_2019)}
    opened_2020 = set(kindergartens) - before
    assert len(kindergartens) >= 1000
    assert len(opened_2020) == 34
    assert opened_2020 == {c for c, u in kindergartens.items() if u.attributes.get("新开办_2020")}
    childcare = every_unit(conn, type="childcare_point")
    assert sum(1 for u in childcare if u.attributes["普惠"]) == 53
    assert any(not u.attributes["普惠"] for u in childcare)


def test_real_units_are_named_and_synthetic_ones_say_so(demo):
    conn, _ = demo
    data = shanghai2020.real_units()
    real_codes = ({data["commission"]["code"]} | {d[0] for d in data["districts"]}
                  | {f"310000-U-{u[0]}" for u in data["universities"]}
                  | {f"310000-V-{v[0]}" for v in data["vocational_colleges"]}
                  | {f"310000-H-{h[0]}" for h in data["hospitals"]})
    rows = conn.execute(select(units.c.code, units.c.synthetic, unit_versions.c.name_zh,
                               unit_versions.c.name_en)
                        .join(unit_versions, unit_versions.c.unit_id == units.c.id)).all()
    assert {r.code for r in rows if not r.synthetic} == real_codes
    synthetic = [r for r in rows if r.synthetic]
    assert len({r.code for r in synthetic}) > 3000
    assert all("（合成）" in r.name_zh and "(synthetic)" in r.name_en for r in synthetic)
    assert not any("合成" in r.name_zh for r in rows if not r.synthetic)


def test_fourteen_double_first_class_universities_in_their_group(demo):
    conn, _ = demo
    syl = groups.get_group(conn, principal=SYSTEM, code="SYL", as_of=END_2020)
    assert syl.member_count == 14 and syl.sets == ["UNIVERSITY-CLASSES"]
    flagged = [u for u in every_unit(conn, type="university") if u.attributes.get("双一流")]
    assert {u.code for u in flagged} == {m.code for m in syl.members}
    assert "复旦大学" in {m.name_zh for m in syl.members}
    hospitals = groups.get_group(conn, principal=SYSTEM, code="MUNICIPAL-HOSPITALS")
    assert hospitals.member_count > 20
    assert all(m.type == "hospital" for m in hospitals.members)


def test_history_closes_moves_renames_and_merges(demo):
    conn, _ = demo
    plan = shanghai2020.build_plan()
    closed = [args["code"] for kind, args in plan.history if kind in ("close", "merge")]
    assert len(closed) >= 5
    now = {u.code for u in every_unit(conn, as_of=END_2020)}
    earlier = {u.code for u in every_unit(conn, as_of=dt.date(2019, 6, 1))}
    assert not set(closed) & now
    assert set(closed) <= earlier
    moved = next(args for kind, args in plan.history if kind == "move")
    day_before = moved["effective"] - dt.timedelta(days=1)
    assert queries.get_unit(conn, principal=SYSTEM, code=moved["code"], as_of=day_before).parent \
        != moved["changes"]["parent"]
    after = queries.get_unit(conn, principal=SYSTEM, code=moved["code"], as_of=END_2020)
    assert after.parent == moved["changes"]["parent"]
    assert [e.note for e in after.events if e.kind == "move"][0].startswith("合成数据")
    merge = next(args for kind, args in plan.history if kind == "merge")
    merged = queries.get_unit(conn, principal=SYSTEM, code=merge["code"], as_of=END_2020)
    assert merged.closed == dt.date(2020, 7, 1)
    assert [e.related for e in merged.events if e.kind == "merge"] == [merge["into"]]
    rename = next(args for kind, args in plan.history if kind == "rename")
    renamed = queries.get_unit(conn, principal=SYSTEM, code=rename["code"], as_of=END_2020)
    assert renamed.name_zh == rename["changes"]["name_zh"] and "实验小学" in renamed.name_zh
    assert len(renamed.versions) == 2


def test_district_user_sees_only_its_district(demo):
    conn, _ = demo
    huangpu = user(conn, "huangpu")
    seen = {u.code for u in every_unit(conn, huangpu)}
    subtree = {u.code for u in every_unit(conn, descendants_of="310101")}
    assert seen == subtree and len(seen) > 100
    assert all(code.startswith("310101") for code in seen)
    everything = every_unit(conn, user(conn, "viewer"))
    assert len(everything) == len(every_unit(conn)) > len(seen)
    assert {u.code for u in every_unit(conn, user(conn, "school"))} == {"310101-PS-001"}


def test_one_demo_user_per_role(demo):
    conn, summary = demo
    roles = [u["role"] for u in shanghai2020.DEMO_USERS]
    assert sorted(roles) == sorted(r.value for r in Role)
    assert all(len(u["password"]) >= 8 for u in shanghai2020.DEMO_USERS)
    district = next(u for u in shanghai2020.DEMO_USERS if u["role"] == "district_staff")
    principal = check_password(conn, username=district["username"], password=district["password"])
    assert principal.role is Role.DISTRICT_STAFF and len(principal.capture) == 1
    assert summary["users"] == len(shanghai2020.DEMO_USERS)


def test_the_demo_accounts_reconcile_with_the_audit_log(demo):
    from jiaowei.audit.reconcile import Chain
    from jiaowei.auth import audit_checks

    conn, _ = demo
    chain = Chain(conn)
    assert [*audit_checks.check_users(conn, chain), *audit_checks.check_tokens(conn, chain)] == []


def test_summary_counts_and_progress(demo):
    _, summary = demo
    assert summary["by_type"]["district_bureau"] == 16
    assert summary["by_type"]["commission"] == 1
    assert summary["units"] == summary["real"] + summary["synthetic"]
    assert summary["history"] == {"merge": 1, "rename": 1, "close": 5, "move": 2}
    assert summary["stages"][0] == "units" and summary["stages"][-1] == "users"


def test_the_plan_is_the_same_every_time():
    first, second = shanghai2020.build_plan(), shanghai2020.build_plan()
    assert [s.__dict__ for s in first.specs] == [s.__dict__ for s in second.specs]
    assert first.history == second.history


@pytest.mark.parametrize(("n", "text"), [(1, "一"), (10, "十"), (12, "十二"), (20, "二十"),
                                         (105, "一百零五"), (110, "一百一十"), (264, "二百六十四")])
def test_chinese_numbers(n, text):
    assert shanghai2020.chinese_number(n) == text
