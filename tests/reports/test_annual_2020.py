"""The 2020 annual report of the demo, on both databases: it carries each of the seed's city figures as a
figure (not as literal text), every figure's provenance query re-run through ``GET /api/analytics`` gives
its value, the report follows the plan's sections, English reads English, and a district user renders
their own district's report only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.db.engine import BoundDatabase
from jiaowei.demo import shanghai2020
from jiaowei.errors import JiaoweiError, PermissionDenied
from jiaowei.indicators import demo as indicators_demo
from jiaowei.plans import demo as plans_demo
from jiaowei.reports import service
from jiaowei.reports.document import Document, FigureKind, Heading, plain_text
from jiaowei.settings import Settings, using
from tests.factories import token_for

TODAY = dt.date(2021, 1, 15)
SEED_FIGURES = ("86%", "845", "37.7万", "92.51%", "18.66万", "120", "15", "88.10%", "77.27%", "1:159",
                "97.1%")
# The ESI changes are bare differences, in the seed's words: 较去年分别增加14个和2个.
SEED_CHANGES = ("14", "2", "较去年增加1.1万人")
HUANGPU, XUHUI = "310101", "310104"


@dataclass
class Demo:
    conn: Connection
    client: TestClient
    annual: Document  # the 2020 annual report in Chinese, as the system renders it

    def user(self, username: str) -> Principal:
        return auth.principal_for(self.conn, user_id=auth.user_id_for(self.conn, username=username))


@pytest.fixture(scope="module")
def demo(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The whole demo loaded once per module and database, its annual report rendered, rolled back."""
    from jiaowei.web.app import create_app

    settings = Settings(home=tmp_path_factory.mktemp("annual-2020"), secret_key="test-secret-" + "x" * 32)
    connection = engine.connect()
    outer = connection.begin()
    with using(settings):
        shanghai2020.load(connection)
        indicators_demo.load(connection)
        plans_demo.load(connection)
        annual = service.render(connection, principal=SYSTEM, template="annual", year=2020, language="zh",
                                today=TODAY)
    with TestClient(create_app(settings, database=BoundDatabase(connection))) as client:
        yield Demo(connection, client, annual)
    outer.rollback()
    connection.close()


def test_the_report_carries_each_seed_figure_as_a_figure(demo: Demo) -> None:
    values = {f.text for f in demo.annual.figures if f.kind is FigureKind.VALUE}
    assert set(SEED_FIGURES) <= values
    changes = {f.text for f in demo.annual.figures if f.kind is FigureKind.CHANGE}
    assert set(SEED_CHANGES) <= changes
    comparisons = {f.text for f in demo.annual.figures if f.kind is FigureKind.COMPARISON}
    assert "超出国家标准6个百分点" in comparisons
    assert "前1‰学科数15个，较去年分别增加14个和2个。" in plain_text(demo.annual)


def test_the_seed_figures_are_the_indicators_of_the_seed(demo: Demo) -> None:
    """Each figure is the indicator the seed's sentence is about, for 2020 (2020SY for the school year)."""
    found = {(f.text, f.sources[0].item, f.sources[0].period) for f in demo.annual.figures
             if f.sources[0].units == (shanghai2020.COMMISSION,)}
    expected = {("86%", "KG_INCLUSIVE_COVERAGE", "2020"), ("845", "AS_SCHOOLS", "2020SY"),
                ("37.7万", "AS_PARTICIPANTS", "2020SY"), ("18.66万", "HE_GRADUATE_COUNT", "2020"),
                ("92.51%", "HE_EMPLOYMENT_RATE", "2020"), ("120", "ESI_TOP1PCT_DISCIPLINES", "2020"),
                ("15", "ESI_TOP1PERMILLE_DISCIPLINES", "2020"), ("1:159", "HE_COUNSELLOR_RATIO", "2020"),
                ("88.10%", "ADM_PRIMARY_LOTTERY_SHARE", "2020"),
                ("77.27%", "ADM_JUNIOR_LOTTERY_SHARE", "2020"),
                ("97.1%", "HE_DOUBLE_LEADER_SHARE", "2020")}
    assert expected <= found
    change = next(f for f in demo.annual.figures if f.text == "较去年增加1.1万人")
    assert [(s.item, s.period, s.value) for s in change.sources] == [
        ("HE_GRADUATE_COUNT", "2020", 186_600), ("HE_GRADUATE_COUNT", "2019", 175_600)]


def test_every_figure_resolves_to_its_provenance_query(demo: Demo) -> None:
    headers = token_for(demo.conn, demo.user("commission"))
    checked = 0
    for figure in demo.annual.figures:
        for source in figure.sources:
            response = demo.client.get(f"/api/analytics?{source.query}", headers=headers)
            assert response.status_code == 200, (figure.text, source.query, response.text)
            body = response.json()
            column = [h["name"] for h in body["headers"]].index("value")
            numbers = [float(row[column]) for row in body["rows"] if row[column] != ""]
            if source.value is None:
                assert numbers == [], source.query
            else:
                assert numbers == [pytest.approx(source.value, rel=1e-5)], (figure.text, source.query)
            checked += 1
    assert checked >= len(SEED_FIGURES) + 2 * len(SEED_CHANGES)


def test_the_report_follows_the_plans_sections_with_their_tasks(demo: Demo) -> None:
    headings = [(b.level, plain) for b in demo.annual.blocks if isinstance(b, Heading)
                for plain in ["".join(getattr(r, "text", "") for r in b.runs)]]
    assert demo.annual.title.endswith("2020年度工作情况报告")
    sections = [text for level, text in headings if level == 2]
    assert [s[:2] for s in sections] == ["一、", "二、", "三、"]
    tasks = [text for level, text in headings if level == 3]
    assert "1．突出把政治建设摆在首要位置" in tasks and len(tasks) == 9
    text = plain_text(demo.annual)
    assert "建成53个普惠性托育点" in text  # a sub-task with its outcome
    assert demo.annual.charts and len(demo.annual.charts[0].categories) == 16  # coverage by district
    assert demo.annual.synthetic_note  # the figures below the city are synthetic


def test_the_english_report_reads_english(demo: Demo) -> None:
    english = service.render(demo.conn, principal=SYSTEM, template="annual", year=2020, language="en",
                             today=TODAY)
    texts = {f.text for f in english.figures}
    assert {"86%", "845", "377,000", "186,600", "92.51%", "1:159"} <= texts
    assert "up 11,000 on last year" in texts and "Work report 2020" in english.title
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in plain_text(english).split("\n")[1])


def test_a_district_user_renders_their_own_district_report(demo: Demo) -> None:
    huangpu = demo.user("huangpu")
    report = service.render(demo.conn, principal=huangpu, template="district", year=2020, language="zh",
                            today=TODAY)
    assert report.meta["unit"] == HUANGPU and "黄浦" in report.title
    assert report.figures and all(s.units == (HUANGPU,) for f in report.figures for s in f.sources)
    targets = [f for f in report.figures if f.kind is FigureKind.TARGET]
    assert [f.sources[0].item for f in targets] == ["KG_INCLUSIVE_COVERAGE"]  # the cascaded 2020 target
    assert "牵头的重点工作" in plain_text(report)


@pytest.mark.parametrize(("template", "unit"), [("annual", None), ("bulletin", None), ("district", XUHUI),
                                                ("annual", "310000")])
def test_a_district_user_is_refused_the_city_and_another_district(demo: Demo, template: str,
                                                                  unit: str | None) -> None:
    with pytest.raises(PermissionDenied) as refused:
        service.render(demo.conn, principal=demo.user("huangpu"), template=template, unit=unit, year=2020,
                       language="zh", today=TODAY)
    assert refused.value.status == 403


def test_the_bulletin_lists_the_years_indicators_with_their_change(demo: Demo) -> None:
    bulletin = service.render(demo.conn, principal=SYSTEM, template="bulletin", year=2020, language="zh",
                              today=TODAY)
    table = next(b for b in bulletin.blocks if hasattr(b, "rows"))
    rows = {cells[0]: cells for cells in (tuple(plain_text_cells(bulletin, row)) for row in table.rows)}
    assert rows["高校毕业生数"][2:] == ("18.66万", "较去年增加1.1万")
    assert rows["高校进入ESI前1%学科数"][2:] == ("120", "较去年增加14")
    assert rows["高校毕业生就业率"][2:] == ("92.51%", "较去年提高0.15个百分点")
    assert rows["普惠性学前教育覆盖率"][1:] == ("2020", "86.0%", "较去年提高2个百分点")  # 2019: 84.0%
    assert rows["开设校内课后服务的小学数"][1:] == ("2020SY", "845", "–")  # no 2019SY value: no figure
    assert "–" not in {f.text for f in bulletin.figures}


def plain_text_cells(document: Document, row: tuple[object, ...]) -> list[str]:
    from jiaowei.reports.document import run_text

    return [run_text(document, cell) for cell in row]  # type: ignore[arg-type]


def test_an_unknown_template_or_year_without_data_says_so(demo: Demo) -> None:
    with pytest.raises(JiaoweiError) as refused:
        service.render(demo.conn, principal=SYSTEM, template="nope", year=2020, language="zh", today=TODAY)
    assert refused.value.status == 404 and "nope" in str(refused.value)
