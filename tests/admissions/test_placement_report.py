"""A placement that leaves children without a place says so, by district: on the campaign page, in the CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select
from typer.testing import CliRunner

from jiaowei.admissions import service
from jiaowei.admissions.placement import report
from jiaowei.admissions.store import applicants
from jiaowei.auth.model import SYSTEM
from jiaowei.cli.main import app as cli
from tests.factories import login, make_unit, make_user, small_tree

SECRET = "test-secret-" + "x" * 32  # the client fixture's secret key
BIRTH = dt.date(2013, 5, 17)
HTML_EN = {"accept": "text/html", "accept-language": "en"}


def short_placement(conn: Connection, home: Path, code: str = "SHORT") -> str:
    """D1 has one public school with one place; D2 has none: placement leaves children unplaced.

    One private place, for D1 only, and five applicants (three of D1, two of D2): four go to placement;
    D1's school places one, so D1 has one child without a place and D2 two.
    """
    small_tree(conn)
    make_unit(conn, "P1", parent="D1", ownership="private", name_zh="民办一校")
    service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
        code=code, year=2020, stage="primary_1", title_zh="缺位统筹", title_en="Short placement",
        organiser="SH", max_choices=1))
    service.add_schools(conn, principal=SYSTEM, campaign=code, schools=[
        service.SchoolSpec(unit="P1", capacity=1, districts=("D1",)),
        service.SchoolSpec(unit="S1", capacity=1, kind="public", districts=("D1",))])
    service.set_fallback(conn, principal=SYSTEM, campaign=code, district="D1", schools=["S1"])
    service.open_application(conn, principal=SYSTEM, campaign=code)
    service.register_applicants(conn, principal=SYSTEM, campaign=code, secret_key=SECRET, people=[
        service.ApplicantSpec(name=f"李{n}", id_number=f"3101012013051700{n}X", birth_date=BIRTH,
                              district="D1" if n < 3 else "D2", catchment="S1" if n < 3 else "",
                              choices=("P1",)) for n in range(5)])
    service.freeze(conn, principal=SYSTEM, campaign=code, home=home)
    service.draw(conn, principal=SYSTEM, campaign=code, sources=["digits 1 2 3"], home=home)
    service.publish(conn, principal=SYSTEM, campaign=code)
    service.freeze_placement(conn, principal=SYSTEM, campaign=code, home=home)
    service.place(conn, principal=SYSTEM, campaign=code, sources=["digits 4 5 6"], home=home)
    return code


def unplaced_in(conn: Connection, district: str) -> int:
    from jiaowei.registry import queries as registry

    return int(conn.scalar(select(func.count()).select_from(applicants).where(
        applicants.c.status == "unplaced", applicants.c.district_id == registry.id_of(conn, district))) or 0)


def test_the_report_counts_the_unplaced_by_district(conn: Connection, tmp_path: Path) -> None:
    code = short_placement(conn, tmp_path)
    found = report.campaign_report(conn, principal=SYSTEM, code=code)
    assert found.done and found.placed == 1 and found.unplaced == 3
    assert {d.district: (d.placed, d.unplaced) for d in found.districts} == {"D1": (1, 1), "D2": (0, 2)}
    assert [d.district for d in found.short] == ["D2", "D1"]  # most first
    assert (unplaced_in(conn, "D1"), unplaced_in(conn, "D2")) == (1, 2)


def test_the_campaign_page_alerts_with_the_counts_by_district(client: Any, conn: Connection, settings: Any
                                                              ) -> None:
    code = short_placement(conn, settings.home)
    make_user(conn, "organiser")
    login(client, "organiser")
    page = client.get(f"/admissions/{code}", headers=HTML_EN)
    assert page.status_code == 200
    alert = page.text[page.text.index('data-testid="placement-alert"'):]
    alert = alert[:alert.index("</div>")]
    assert 'role="alert"' in page.text.split('data-testid="placement-alert"')[0][-80:]
    assert "without a place" in alert and ">3<" not in alert
    rows = re.findall(r"<code>(D\d)</code></td>\s*<td[^>]*><strong>(\d+)</strong>", alert)
    assert rows == [("D2", "2"), ("D1", "1")]
    assert "status=unplaced&amp;district=D2" in alert  # each district opens its list of children


def test_the_applicant_list_filters_by_status_and_district(client: Any, conn: Connection, settings: Any
                                                           ) -> None:
    code = short_placement(conn, settings.home)
    make_user(conn, "organiser")
    login(client, "organiser")
    page = client.get(f"/admissions/{code}?status=unplaced&district=D2", headers=HTML_EN)
    assert "Showing 1–2 of 2." in page.text
    assert 'value="unplaced" selected' in page.text and "Not placed (3)" in page.text
    assert 'value="D2" selected' in page.text and "D2 (2)" in page.text and "D1 (3)" in page.text


def test_a_placement_that_places_everyone_says_so_on_the_page(client: Any, conn: Connection, settings: Any
                                                             ) -> None:
    code = short_placement(conn, settings.home)
    conn.execute(applicants.update().where(applicants.c.status == "unplaced").values(status="placed"))
    make_user(conn, "organiser")
    login(client, "organiser")
    page = client.get(f"/admissions/{code}", headers=HTML_EN)
    assert 'role="status" data-testid="placement-alert"' in page.text
    assert "Placement placed every child the lottery did not admit: 4 children in 2 districts." in page.text


def test_the_cli_lists_the_districts_of_the_unplaced(conn: Connection, tmp_path: Path) -> None:
    code = short_placement(conn, tmp_path)
    bundle = tmp_path / "lottery" / code / "placement"
    done = CliRunner().invoke(cli, ["lottery", "verify", str(bundle)])
    assert done.exit_code == 0, done.output
    assert "Placement left 3 child(ren) without a place, in 2 district(s):" in done.output
    lines = {line.split()[0]: line for line in done.output.splitlines() if line.startswith("  D")}
    assert "without a place 2  <-- NOT PLACED" in lines["D2"]
    assert "placed 1  without a place 1  <-- NOT PLACED" in lines["D1"]


def test_the_cli_draw_of_a_placement_case_reports_by_district(conn: Connection, tmp_path: Path) -> None:
    code = short_placement(conn, tmp_path)
    case_dir = Path(shutil.copytree(tmp_path / "lottery" / code / "placement-case", tmp_path / "case"))
    head = json.loads((case_dir / "case.json").read_bytes())
    (case_dir / "case.json").write_text(json.dumps({**head, "title": "plain title"}), encoding="utf-8")
    plain = CliRunner().invoke(cli, ["lottery", "draw", str(case_dir), "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0 and "without a place" not in plain.output  # not marked: no report
    asked = CliRunner().invoke(cli, ["lottery", "draw", str(case_dir), "--out", str(tmp_path / "asked"),
                                     "--placement"])
    assert asked.exit_code == 0 and "D2  placed 0  without a place 2  <-- NOT PLACED" in asked.output


def test_the_cli_says_when_placement_placed_everyone(conn: Connection, tmp_path: Path) -> None:
    code = short_placement(conn, tmp_path)
    case_dir = Path(shutil.copytree(tmp_path / "lottery" / code / "placement-case", tmp_path / "case"))
    (case_dir / "schools.csv").write_text("school_id,capacity,districts,program\nS1,9,,\n", encoding="utf-8")
    (case_dir / "applicants.csv").write_text(
        "applicant_id,choices,group_id,district\n" + "".join(
            f"{a},S1,,{d}\n" for a, d in (("A1", "D1"), ("A2", "D2"))), encoding="utf-8")
    (case_dir / "priorities.csv").unlink()
    done = CliRunner().invoke(cli, ["lottery", "draw", str(case_dir), "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert "Placement placed every child: 2 placed, 0 without a place." in done.output
