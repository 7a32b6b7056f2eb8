"""The reports pages on the 2020 web, both databases: the list and its form, a report in the page with its
figures linked to the pivot, Word and PDF files made by a job and served to its owner alone, the editor
(a broken template shows its line beside the text, which is kept; preview, save, reset) and the scope."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

from jiaowei import clock
from jiaowei.jobs import service as jobs
from jiaowei.settings import using
from tests.pages_helpers import visible_text
from tests.reports.web_demo import DISTRICT, OTHER_DISTRICT, SEED_FIGURES, Demo
from tests.statements import counting

FORM = {"template": "annual", "year": "2020", "unit": "", "lang": "zh"}


def _generate(web: Demo, **fields: str) -> tuple[str, str]:
    """Post the form (the job runs inline in tests); the job page's address and its text."""
    started = web.client.post("/reports/generate", data={**FORM, **fields, "csrf_token": web.csrf()},
                               follow_redirects=False)
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    return location, web.client.get(location).text


def test_the_reports_page_lists_the_templates_and_offers_the_form(web: Demo) -> None:
    page = web.browser("huangpu").get("/reports")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "生成报告" in text and "年度工作报告" in text and "区报告" in text and "指标统计公报" in text
    assert re.search(r'<input id="unit" name="unit" value="310101"', page.text)  # the user's own unit
    assert 'datalist id="year-periods-Yearly"' in page.text and 'value="2020"' in page.text
    assert "/reports/templates/new" not in page.text  # district staff may not edit templates
    assert "/reports/templates/new" in web.browser("commission").get("/reports").text


def test_a_report_in_the_page_links_each_figure_to_its_pivot(web: Demo) -> None:
    client = web.browser("commission")
    started = client.post("/reports/generate", data={**FORM, "format": "html", "csrf_token": web.csrf()},
                          follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].startswith("/reports/view?")
    page = client.get(started.headers["location"])
    assert page.status_code == 200, page.text
    links = re.findall(r'<a class="figure[^"]*" href="([^"]+)"[^>]*>([^<]+)</a>', page.text)
    assert set(SEED_FIGURES) <= {text for _, text in links}
    href = next(h for h, text in links if text == "92.51%").replace("&amp;", "&")
    query = parse_qs(urlsplit(href).query)
    assert urlsplit(href).path == "/analytics" and "ou:310000" in query["dimension"]
    assert client.get(href).status_code == 200  # the pivot opens
    assert 'id="download-docx"' in page.text and 'id="download-pdf"' in page.text
    assert "合成" in visible_text(page.text)  # synthetic values contributed: the note says so


def test_a_pdf_is_made_by_a_job_and_served_to_its_owner_only(web: Demo) -> None:
    web.browser("commission")
    job, text = _generate(web, format="pdf")
    assert re.fullmatch(r"/jobs/[0-9a-f]{24}", job), job
    assert "文件已生成" in visible_text(text) and f'href="{job}/file"' in text
    assert "返回报告" in visible_text(text)
    download = web.client.get(f"{job}/file")
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    assert download.headers["content-type"] == "application/pdf"
    assert "annual-2020-zh.pdf" in download.headers["content-disposition"]
    web.browser("admin")
    assert web.client.get(f"{job}/file").status_code == 404  # not the admin's job
    assert web.client.get(job).status_code == 404


def test_a_word_file_is_deleted_with_its_job(web: Demo) -> None:
    web.browser("commission")
    job, text = _generate(web, format="docx", lang="en")
    assert "The file is ready" not in text and "文件已生成" in text  # the page speaks the user's language
    kept = list((web.settings.home / "jobs" / job.rsplit("/", 1)[1]).iterdir())
    assert [p.name for p in kept] == ["annual-2020-en.docx"]
    with using(web.settings):
        jobs.forget_old(web.conn, now=clock.now() + dt.timedelta(days=jobs.KEEP_DAYS + 1))
    assert not kept[0].exists()
    assert web.client.get(f"{job}/file").status_code == 404


def test_a_district_user_reads_their_district_report_and_is_refused_the_others(web: Demo) -> None:
    client = web.browser("huangpu")
    own = client.get("/reports/view", params={"template": "district", "year": "2020", "unit": DISTRICT})
    assert own.status_code == 200, own.text
    assert "黄浦区" in visible_text(own.text)
    for params in ({"template": "district", "unit": OTHER_DISTRICT}, {"template": "annual"},
                   {"template": "bulletin"}):
        refused = client.get("/reports/view", params={"year": "2020", **params})
        assert refused.status_code == 403, (params, refused.text[:300])
    _, job_page = _generate(web, format="pdf")  # the annual report, as a job: it fails with 403
    assert "未生成报告" in visible_text(job_page)


def test_bad_choices_show_the_form_again_with_the_problems(web: Demo) -> None:
    client = web.browser("commission")
    page = client.post("/reports/generate", data={**FORM, "year": "去年", "format": "odt",
                                                  "csrf_token": web.csrf()})
    assert page.status_code == 422
    text = visible_text(page.text)
    assert "不是年份" in text and "不在可选项中" in text and 'value="去年"' in page.text
    no_district = client.get("/reports/view", params={"template": "district", "year": "2020"})
    assert no_district.status_code == 422  # commission staff name the district
    assert 'id="unit-error"' in no_district.text and "请" in visible_text(no_district.text)
    unknown = client.get("/reports/view", params={"template": "nothing", "year": "2020"})
    assert unknown.status_code == 404 and "nothing" in unknown.text


def test_the_editor_shows_a_broken_template_with_its_line_and_keeps_the_text(web: Demo) -> None:
    client = web.browser("commission")
    editor = client.get("/reports/templates/annual")
    assert editor.status_code == 200 and "<textarea" in editor.text and "fig(" in editor.text
    broken = "<h1>{{ year }}</h1>\n<p>一</p>\n<p>{% for x in %}</p>\n"
    saved = client.post("/reports/templates/annual",
                        data={"action": "save", "body": broken, "csrf_token": web.csrf()})
    assert saved.status_code == 422
    text = visible_text(saved.text)
    assert re.search(r"第\s*3\s*行", text), text[:2000]
    assert 'id="body-error"' in saved.text  # beside the editor
    assert "{% for x in %}" in saved.text.replace("&#39;", "'")  # the text is kept
    assert client.get("/api/reports/templates/annual").json()["edited"] is False


def test_preview_renders_the_unsaved_text_then_save_and_reset(web: Demo) -> None:
    client = web.browser("commission")
    body = ("<h1>预览 {{ year }}</h1>\n"
            "<p>普惠性学前教育覆盖率{{ fig('KG_INCLUSIVE_COVERAGE', decimals=0) }}</p>\n")
    preview = client.post("/reports/templates/annual", data={
        "action": "preview", "body": body, "year": "2020", "unit": "", "lang": "zh",
        "csrf_token": web.csrf()})
    assert preview.status_code == 200, preview.text
    assert 'id="preview"' in preview.text and "预览 2020" in preview.text and ">86%</a>" in preview.text
    assert client.get("/api/reports/templates/annual").json()["edited"] is False  # nothing saved
    runtime = client.post("/reports/templates/annual", data={
        "action": "preview", "body": "<h1>x</h1>\n\n{{ fig('NO_SUCH_INDICATOR') }}", "year": "2020",
        "lang": "zh", "csrf_token": web.csrf()})
    assert runtime.status_code == 422 and re.search(r"第\s*3\s*行", visible_text(runtime.text))
    saved = client.post("/reports/templates/annual", data={"action": "save", "body": body,
                                                          "csrf_token": web.csrf()}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/reports/templates/annual?done=saved"
    page = client.get(saved.headers["location"])
    assert "模板已保存" in visible_text(page.text) and "commission" in page.text
    assert "恢复为内置文本" in visible_text(page.text)
    reset = client.post("/reports/templates/annual", data={"action": "reset", "csrf_token": web.csrf()},
                        follow_redirects=False)
    assert reset.status_code == 303
    assert client.get("/api/reports/templates/annual").json()["edited"] is False


def test_a_new_custom_template_is_created_from_its_page(web: Demo) -> None:
    client = web.browser("commission")
    assert client.get("/reports/templates/new").status_code == 200
    fields = {"code": "kg", "name_zh": "学前简报", "name_en": "Preschool brief",
              "body": "<h1>{{ t('学前简报', 'Preschool brief') }}</h1>", "csrf_token": web.csrf()}
    taken = client.post("/reports/templates/new", data={**fields, "code": "annual"})
    assert taken.status_code == 422 and "已有模板使用该代码" in visible_text(taken.text)
    created = client.post("/reports/templates/new", data=fields, follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/reports/templates/kg?done=saved"
    assert "学前简报" in visible_text(client.get("/reports").text)
    gone = client.post("/reports/templates/kg", data={"action": "reset", "csrf_token": web.csrf()},
                       follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/reports"
    assert client.get("/reports/templates/kg").status_code == 404


def test_without_the_right_to_edit_the_editor_only_reads(web: Demo) -> None:
    client = web.browser("viewer")
    page = client.get("/reports/templates/district")
    assert page.status_code == 200 and " readonly" in page.text and 'id="save-button"' not in page.text
    for action in ("save", "preview", "reset"):
        refused = client.post("/reports/templates/district",
                              data={"action": action, "body": "<h1>x</h1>", "year": "2020",
                                    "csrf_token": web.csrf()})
        assert refused.status_code == 403, action


def test_a_district_user_previewing_unsaved_text_is_refused_in_their_language(web: Demo) -> None:
    client = web.browser("huangpu")
    refused = client.post("/reports/templates/district",
                          data={"action": "preview", "body": "<h1>x</h1>", "year": "2020", "unit": DISTRICT,
                                "csrf_token": web.csrf()})
    assert refused.status_code == 403
    assert "角色“区教育局工作人员”无权编辑报告模板（reports.write）" in visible_text(refused.text)


# The page reads the analytics cube's change feed once, not once per figure (issue 17, part 3: every
# statement is a round trip on PostgreSQL). Here, not in a module of its own: one demo load less.
def test_the_annual_report_page_checks_the_cube_once(web: Demo) -> None:
    client = web.browser("commission")
    client.get("/reports/view", params={"template": "annual", "year": "2020"})  # the cube is built
    with counting(web.conn) as count:
        page = client.get("/reports/view", params={"template": "annual", "year": "2020"})
    assert page.status_code == 200 and all(figure in page.text for figure in SEED_FIGURES[:3])
    assert count.statements <= 215  # 320 when each of its 22 analytics runs read the feed's five markers
