"""The campaign page and the campaign list run a fixed number of statements, however many schools,
districts and applicants a campaign has (issue 17, part 3: each statement is a round trip on PostgreSQL).

The page used to read its campaign four times, the districts of its applicants twice with a path
look-up per district, the schools' names in three statements per 500 schools, and the applicants
counted three ways; the campaign list counted every applicant of every campaign in a second statement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from jiaowei.admissions import queries, service
from jiaowei.auth.model import SYSTEM
from tests.admissions.test_campaign import BIRTH, SECRET, placed
from tests.factories import make_unit, make_user, token_for
from tests.statements import counting

HTML = {"accept": "text/html"}


def _seen(client: Any, conn: Connection, url: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    """How many statements the page runs besides the test's savepoints, and those statements (after a
    first request: a token's first use is recorded once)."""
    assert client.get(url, headers={**HTML, **headers}).status_code == 200
    conn.begin_nested().rollback()  # the test's requests share its transaction: forget what they read
    with counting(conn) as count:
        page = client.get(url, headers={**HTML, **headers})
    assert page.status_code == 200, page.text
    seen = [s for s, _ in count.seen if "SAVEPOINT" not in s]  # the test's transaction, as the request's
    return count.statements - 4, seen


def _open_campaign(conn: Connection, code: str, districts: list[str]) -> None:
    """A campaign open for applications: a private and a public school and two applicants per district."""
    service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
        code=code, year=2020, stage="primary_1", title_zh="小学招生", title_en="Primary", organiser="SH",
        max_choices=2))
    service.add_schools(conn, principal=SYSTEM, campaign=code, schools=[
        school for d in districts
        for school in (service.SchoolSpec(unit=f"PD{d}", capacity=2),
                       service.SchoolSpec(unit=f"SD{d}", capacity=2, kind="public"))])
    service.open_application(conn, principal=SYSTEM, campaign=code)
    people = [_person(10 * int(d) + n, d, (f"PD{d}",)) for d in districts for n in range(2)]
    service.register_applicants(conn, principal=SYSTEM, campaign=code, secret_key=SECRET, people=people)


def _person(n: int, district: str, chosen: tuple[str, ...]) -> service.ApplicantSpec:
    return service.ApplicantSpec(name=f"张{n}号", id_number=f"31010120130517{n:03d}X", birth_date=BIRTH,
                                 district=f"D{district}", residence_tier=1, catchment=f"SD{district}",
                                 choices=chosen)


def _districts(conn: Connection, count: int) -> list[str]:
    make_unit(conn, "SH", type="commission", name_zh="上海市教委", name_en="Commission")
    for d in range(1, count + 1):
        make_unit(conn, f"D{d}", parent="SH", type="district_bureau")
        make_unit(conn, f"SD{d}", parent=f"D{d}")
        make_unit(conn, f"PD{d}", parent=f"D{d}", ownership="private")
    return [str(d) for d in range(1, count + 1)]


def test_the_campaign_page_runs_as_many_statements_for_one_district_as_for_six(client: Any,
                                                                              conn: Connection) -> None:
    districts = _districts(conn, 6)
    _open_campaign(conn, "ONE", districts[:1])
    _open_campaign(conn, "SIX", districts)
    admin = token_for(conn, make_user(conn, "boss"))
    one, first = _seen(client, conn, "/admissions/ONE", admin)
    six, seen = _seen(client, conn, "/admissions/SIX", admin)
    assert six == one, "\n".join(first + ["---"] + seen)
    assert six <= 10, "\n".join(seen)
    assert sum(" FROM campaigns WHERE" in s for s in seen) == 1  # the campaign, once
    assert not [s for s in seen if s.startswith("SELECT unit_paths.path FROM")]  # no path per district
    assert sum(" FROM applicants " in s and "GROUP BY" in s for s in seen) == 1  # the tally, once
    # a district user: the districts in scope, the same statements (the scope's path once more)
    staff = token_for(conn, make_user(conn, "d2staff", role="district_staff", capture=["D2"]))
    scoped, seen = _seen(client, conn, "/admissions/SIX", staff)
    assert scoped <= six + 1, "\n".join(seen)


def test_the_applicant_list_counts_each_filter_as_before(conn: Connection) -> None:
    districts = _districts(conn, 3)
    _open_campaign(conn, "C", districts)
    staff = make_user(conn, "d1staff", role="district_staff", capture=["D1", "D3"])
    number = service.register_applicants(conn, principal=SYSTEM, campaign="C", secret_key=SECRET,
                                         people=[_person(99, "3", ())])[0].number

    def total(**only: str) -> int:
        found = queries.staff_results(conn, principal=staff, code="C", secret_key=SECRET, limit=1,
                                      only=queries.ApplicantFilter(**only))
        return found.total

    assert total() == 5 and total(district="D3") == 3 and total(district="D2") == 0
    assert total(status="registered") == 1 and total(status="applied", district="D1") == 2
    assert total(search=number) == 1 and total(search=number, district="D1") == 0
    counts = queries.staff_counts(conn, principal=staff, code="C")
    assert counts.total == 5 and counts.districts == {"D1": 2, "D3": 3}
    assert counts.statuses == {"applied": 4, "registered": 1}


def test_the_page_of_a_placed_campaign_reads_its_placement_from_the_same_tally(client: Any, conn: Connection,
                                                                               tmp_path: Path) -> None:
    code, _made = placed(conn, tmp_path)
    admin = token_for(conn, make_user(conn, "boss"))
    statements, seen = _seen(client, conn, f"/admissions/{code}", admin)
    assert statements <= 12, "\n".join(seen)
    assert sum(" FROM applicants " in s and "GROUP BY" in s for s in seen) == 1


def test_the_campaign_list_counts_the_applicants_in_its_own_statement(client: Any, conn: Connection) -> None:
    _districts(conn, 1)
    _open_campaign_pair(conn)
    admin = token_for(conn, make_user(conn, "boss"))
    statements, seen = _seen(client, conn, "/api/admissions/campaigns", admin)
    assert statements == 2, "\n".join(seen)  # the token's account, then the campaigns with their counts
    listed = client.get("/api/admissions/campaigns", headers=admin).json()
    assert {c["code"]: c["applicants"] for c in listed} == {"A": 2, "B": 0}


def _open_campaign_pair(conn: Connection) -> None:
    for code in ("A", "B"):
        service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
            code=code, year=2020, stage="primary_1", title_zh="小学招生", title_en="Primary", organiser="SH",
            max_choices=2))
    service.add_schools(conn, principal=SYSTEM, campaign="A",
                        schools=[service.SchoolSpec(unit="SD1", capacity=1, kind="public")])
    service.register_applicants(conn, principal=SYSTEM, campaign="A", secret_key=SECRET,
                                people=[_person(n, "1", ()) for n in range(2)])
