"""``jiaowei report``, run as a subprocess the way operators run it, over a SQLite file holding the whole
demo: the 2020 annual report as HTML, DOCX and PDF (their text read back), a district user's report and
what they are refused, the list of templates, and bad options."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.demo import shanghai2020
from jiaowei.indicators import demo as indicators_demo
from jiaowei.plans import demo as plans_demo
from jiaowei.settings import Settings, using
from tests.cli.test_cli import cli_env, jiaowei

SEED = ("86%", "845", "37.7万", "92.51%", "18.66万", "88.10%", "77.27%", "1:159", "97.1%",
        "较去年增加1.1万人")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SQLite database with the registry, indicators and plans demos, and the command's environment."""
    folder = tmp_path_factory.mktemp("report-cli")
    url = f"sqlite:///{folder / 'demo.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with using(Settings(home=folder / "home", secret_key="test-secret-" + "x" * 32)), engine.begin() as conn:
        shanghai2020.load(conn)
        indicators_demo.load(conn)
        plans_demo.load(conn)
    engine.dispose()
    yield cli_env(folder / "home", url)


def test_the_annual_report_as_html_links_each_figure_to_its_pivot(env: dict[str, str], tmp_path: Path) \
        -> None:
    out = tmp_path / "2020.html"
    result = jiaowei(env, "report", "annual", "--year", "2020", "--lang", "zh", "--format", "html", "--out",
                     str(out))
    assert str(out) in result.stdout
    html = out.read_text(encoding="utf-8")
    assert all(figure in html for figure in SEED)
    assert 'href="/analytics?' in html and "2020年度工作情况报告" in html


def test_the_annual_report_as_docx_holds_the_figures(env: dict[str, str], tmp_path: Path) -> None:
    import docx

    out = tmp_path / "2020.docx"
    jiaowei(env, "report", "annual", "--year", "2020", "--format", "docx", "--out", str(out))
    document = docx.Document(io.BytesIO(out.read_bytes()))
    text = "\n".join([p.text for p in document.paragraphs]
                     + [c.text for t in document.tables for row in t.rows for c in row.cells])
    assert all(figure in text for figure in SEED)
    assert "一、以政治建设为统领" in text


def test_the_annual_report_as_pdf_holds_the_figures(env: dict[str, str], tmp_path: Path) -> None:
    import pypdfium2

    out = tmp_path / "2020.pdf"
    jiaowei(env, "report", "annual", "--year", "2020", "--lang", "zh", "--format", "pdf", "--out", str(out))
    pdf = pypdfium2.PdfDocument(out.read_bytes())
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf))).replace("\r\n", "\n")
    flat = text.replace("\n", "")
    assert all(figure in flat for figure in SEED), [f for f in SEED if f not in flat]
    assert "工作情况报告" in flat


def test_a_district_user_gets_their_district_and_is_refused_another(env: dict[str, str], tmp_path: Path) \
        -> None:
    out = tmp_path / "huangpu.html"
    jiaowei(env, "report", "district", "--year", "2020", "--format", "html", "--out", str(out),
            "--user", "huangpu")
    html = out.read_text(encoding="utf-8")
    assert "黄浦区教育局" in html and "低于目标1.4个百分点" in html
    other = tmp_path / "xuhui.html"
    refused = jiaowei(env, "report", "district", "--year", "2020", "--unit", "310104", "--out", str(other),
                      "--user", "huangpu", "--lang", "zh", expect=6)
    assert "310104" in refused.stderr and "查看范围" in refused.stderr
    assert not other.exists()
    annual = jiaowei(env, "report", "annual", "--year", "2020", "--out", str(other), "--user", "huangpu",
                     "--lang", "en", expect=6)
    assert "outside your view scope" in annual.stderr


def test_the_templates_are_listed(env: dict[str, str]) -> None:
    listed = jiaowei(env, "report", "templates", "--lang", "en").stdout
    assert all(code in listed for code in ("annual", "district", "bulletin"))
    assert "Indicator bulletin" in listed
    assert "年度工作情况报告" in jiaowei(env, "report", "templates", "--lang", "zh").stdout


@pytest.mark.parametrize(("args", "named"), [(["--format", "odt"], "--format"), (["--lang", "fr"], "--lang"),
                                             (["--template", "nope"], "nope")])
def test_bad_options_exit_with_the_house_codes(env: dict[str, str], tmp_path: Path, args: list[str],
                                               named: str) -> None:
    result = jiaowei(env, "report", "bulletin", "--year", "2020", "--out", str(tmp_path / "b.html"), *args,
                     expect=3 if named == "nope" else 2)
    assert named in result.stderr
