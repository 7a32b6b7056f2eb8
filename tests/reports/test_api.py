"""The reports API on the 2020 web, both databases: templates read, saved (a broken one refused with its
line) and reset; reports as HTML, DOCX and PDF files; every figure with its provenance, whose analytics
query answers the figure's value; and the scope: a district's staff get their own district's report only."""

from __future__ import annotations

import io
import re
from typing import Any

import pypdfium2
from docx import Document as WordDocument

from tests.reports.web_demo import DISTRICT, OTHER_DISTRICT, SEED_FIGURES, Demo

ANNUAL = {"year": "2020", "lang": "zh"}


def _figures(web: Demo, template: str = "annual", user: str = "admin", **params: str) -> Any:
    response = web.client.get(f"/api/reports/{template}/figures", params={**ANNUAL, **params},
                               headers=web.token(user))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_templates_are_listed_without_their_text_and_read_one_by_one(web: Demo) -> None:
    listed = web.client.get("/api/reports/templates", headers=web.token("viewer")).json()["templates"]
    assert [t["code"] for t in listed][:3] == ["annual", "district", "bulletin"]
    assert {t["kind"] for t in listed} >= {"annual", "district", "bulletin"}
    assert all(t["body"] is None and t["builtin"] and not t["edited"] for t in listed)
    one = web.client.get("/api/reports/templates/annual", headers=web.token("viewer")).json()
    assert "fig(" in one["body"] and one["updated_at"] is None
    missing = web.client.get("/api/reports/templates/nothing", headers=web.token("viewer"))
    assert missing.status_code == 404 and "nothing" in missing.json()["detail"]


def test_a_template_is_saved_and_reset_by_commission_staff_only(web: Demo) -> None:
    body = ("<h1>{{ t('简报', 'Brief') }} {{ year }}</h1>\n"
            "<p>覆盖率{{ fig('KG_INCLUSIVE_COVERAGE', decimals=0) }}</p>\n")
    refused = web.client.put("/api/reports/templates/annual", json={"body": body},
                             headers=web.token("huangpu"))
    assert refused.status_code == 403, refused.text
    saved = web.client.put("/api/reports/templates/annual", json={"body": body, "name_en": "Brief"},
                            headers=web.token("commission"))
    assert saved.status_code == 200, saved.text
    shown = saved.json()
    assert (shown["edited"], shown["updated_by"], shown["name_en"]) == (True, "commission", "Brief")
    assert _figures(web)["title"] == "简报 2020"
    assert [f["text"] for f in _figures(web)["figures"]] == ["86%"]
    reset = web.client.delete("/api/reports/templates/annual", headers=web.token("commission"))
    assert reset.status_code == 204
    again = web.client.get("/api/reports/templates/annual", headers=web.token("viewer")).json()
    assert not again["edited"] and "fig(" in again["body"] and again["body"] != body


def test_a_new_custom_template_is_created_and_deleted(web: Demo) -> None:
    body = "<h1>{{ unit.name }}</h1><p>{{ fig('KG_INCLUSIVE_COVERAGE', decimals=0) }}</p>"
    created = web.client.put("/api/reports/templates/kg-brief", json={"body": body, "name_zh": "学前简报"},
                              headers=web.token("admin"))
    assert created.status_code == 200, created.text
    assert (created.json()["kind"], created.json()["builtin"]) == ("custom", False)
    figures = _figures(web, "kg-brief", unit=DISTRICT)
    assert figures["unit"] == DISTRICT and len(figures["figures"]) == 1
    assert figures["figures"][0]["sources"][0]["units"] == [DISTRICT]
    assert web.client.delete("/api/reports/templates/kg-brief", headers=web.token("admin")).status_code == 204
    assert web.client.get("/api/reports/templates/kg-brief", headers=web.token("admin")).status_code == 404


def test_a_broken_template_is_refused_with_the_line_that_is_wrong(web: Demo) -> None:
    body = "<h1>{{ year }}</h1>\n<p>ok</p>\n<p>{{ fig('KG_INCLUSIVE_COVERAGE' }}</p>\n"
    refused = web.client.put("/api/reports/templates/annual", json={"body": body}, headers=web.token("admin"))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()["problems"][0]
    assert (problem["field"], problem["value"]) == ("body", 3)
    assert "3" in refused.json()["detail"]
    chinese = web.client.put("/api/reports/templates/annual", json={"body": body},
                              headers={**web.token("admin"), "accept-language": "zh-CN"})
    assert chinese.json()["detail"].startswith("第 3 行") or "3" in chinese.json()["detail"]
    assert not web.client.get("/api/reports/templates/annual", headers=web.token("admin")).json()["edited"]


def test_every_figure_of_the_2020_report_has_the_query_that_answers_it(web: Demo) -> None:
    report = _figures(web)
    assert report["unit"] == "310000" and report["year"] == 2020 and report["synthetic"]
    texts = [f["text"] for f in report["figures"]]
    assert set(SEED_FIGURES) <= set(texts), sorted(set(SEED_FIGURES) - set(texts))
    assert [f["number"] for f in report["figures"]] == list(range(1, len(texts) + 1))
    headers = web.token("viewer")
    for figure in report["figures"]:
        assert figure["pivot"].startswith("/analytics?") and figure["sources"], figure
        for source in figure["sources"]:
            assert source["analytics"] == "/api/analytics?" + source["query"]
            answer = web.client.get(source["analytics"], headers=headers)
            assert answer.status_code == 200, (figure, answer.text)
            values = [row[-1] for row in answer.json()["rows"]]
            if source["value"] is None:
                assert values == [], figure
            else:
                assert [float(v) for v in values] == [source["value"]], figure
    change = next(f for f in report["figures"] if f["text"] == "较去年增加1.1万人")
    assert change["kind"] == "change" and [s["period"] for s in change["sources"]] == ["2020", "2019"]
    assert [s["item"] for s in change["sources"]] == ["HE_GRADUATE_COUNT"] * 2


def test_the_report_comes_as_html_docx_and_pdf_files(web: Demo) -> None:
    headers = web.token("commission")
    html = web.client.get("/api/reports/annual", params=ANNUAL, headers=headers)
    assert html.status_code == 200, html.text
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers["content-disposition"].startswith('attachment; filename="annual-2020-310000-zh.html"')
    assert all(figure in html.text for figure in SEED_FIGURES)
    word = web.client.get("/api/reports/annual", params={**ANNUAL, "format": "docx"}, headers=headers)
    assert word.status_code == 200 and word.headers["content-disposition"].endswith("zh.docx")
    text = "\n".join(p.text for p in WordDocument(io.BytesIO(word.content)).paragraphs)
    assert "2020年度工作情况报告" in text and "92.51%" in text
    pdf = web.client.get("/api/reports/annual", params={**ANNUAL, "format": "pdf"}, headers=headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    document = pypdfium2.PdfDocument(pdf.content)
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    assert "18.66万" in re.sub(r"\s+", "", text)


def test_an_english_report_speaks_english(web: Demo) -> None:
    report = _figures(web, lang="en")
    assert report["language"] == "en" and re.search(r"[A-Za-z]{4,}", report["title"])
    assert "186,600" in [f["text"] for f in report["figures"]] or "up 11,000 on last year" in [
        f["text"] for f in report["figures"]]


def test_a_district_user_gets_their_district_report_and_no_other(web: Demo) -> None:
    headers = web.token("huangpu")
    own = web.client.get("/api/reports/district/figures", params=ANNUAL, headers=headers)
    assert own.status_code == 200, own.text
    assert own.json()["unit"] == DISTRICT
    assert all(s["units"] == [DISTRICT] or set(s["units"]) <= _inside(web, DISTRICT)
               for f in own.json()["figures"] for s in f["sources"])
    named = web.client.get("/api/reports/district", params={**ANNUAL, "unit": DISTRICT}, headers=headers)
    assert named.status_code == 200
    for template, unit in (("district", OTHER_DISTRICT), ("annual", None), ("bulletin", None)):
        params = {**ANNUAL, **({"unit": unit} if unit else {})}
        for path in (f"/api/reports/{template}", f"/api/reports/{template}/figures"):
            refused = web.client.get(path, params=params, headers=headers)
            assert refused.status_code == 403, (path, params, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")


def test_bad_parameters_are_problems(web: Demo) -> None:
    headers = web.token("admin")
    for params in ({"year": "20x0"}, {"year": "2020", "format": "odt"}, {"year": "2020", "lang": "fr"}, {}):
        response = web.client.get("/api/reports/annual", params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
    unknown = web.client.get("/api/reports/nothing", params=ANNUAL, headers=headers)
    assert unknown.status_code == 404
    assert web.client.get("/api/reports/annual", params=ANNUAL).status_code == 401


def _inside(web: Demo, district: str) -> set[str]:
    from jiaowei.auth.model import SYSTEM
    from jiaowei.registry import queries

    page = queries.list_units(web.conn, principal=SYSTEM, descendants_of=district, limit=5000)
    return {u.code for u in page.items} | {district}
