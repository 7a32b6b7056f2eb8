"""Finding the CJK font: JIAOWEI_CJK_FONT first, then the known files under the font folders; none: a
clear FontMissing (503) that says where it looked and how to install one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jiaowei.errors import ConfigurationError
from jiaowei.i18n import translate
from jiaowei.reports.outputs import fonts
from jiaowei.reports.outputs.fonts import FontMissing, cjk_font, needs_cjk
from jiaowei.settings import Settings, using


@pytest.fixture(scope="module")
def machine_font() -> fonts.CjkFont:
    """The CJK font of this machine (CI installs fonts-wqy-microhei: scripts/install-test-deps)."""
    with using(Settings(cjk_font=None)):
        return cjk_font()


@pytest.fixture
def no_font_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(fonts, "SEARCH_DIRS", (str(empty),))
    return empty


def test_the_machines_font_is_found_with_the_family_typst_knows_it_by(machine_font: fonts.CjkFont):
    found = machine_font
    assert found.path.name in ("wqy-microhei.ttc", "wqy-zenhei.ttc", "NotoSansCJK-Regular.ttc",
                               "NotoSerifCJK-Regular.ttc")
    assert found.family in ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC",
                            "Noto Serif CJK SC")
    assert found.family in {f.family for f in found.typst_fonts().fonts()}


def test_the_setting_names_the_font(tmp_path: Path, no_font_dirs: Path, machine_font: fonts.CjkFont):
    own = tmp_path / "own" / "my-font.ttc"
    own.parent.mkdir()
    shutil.copyfile(machine_font.path, own)
    with using(Settings(cjk_font=own)):
        assert cjk_font() == fonts.CjkFont(path=own, family=machine_font.family)


def test_a_known_file_in_a_subfolder_of_a_search_folder_is_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, machine_font: fonts.CjkFont):
    folder = tmp_path / "share" / "fonts"
    (folder / "truetype" / "cjk").mkdir(parents=True)
    (folder / "truetype" / "other.ttc").write_bytes(b"not a CJK font")
    shutil.copyfile(machine_font.path, folder / "truetype" / "cjk" / machine_font.path.name)
    monkeypatch.setattr(fonts, "SEARCH_DIRS", (str(tmp_path / "missing"), str(folder)))
    with using(Settings(cjk_font=tmp_path / "nowhere.otf")):
        found = cjk_font()
    assert found == fonts.CjkFont(path=folder / "truetype" / "cjk" / machine_font.path.name,
                                  family=machine_font.family)


def test_a_setting_that_is_not_a_font_is_passed_over_and_named(tmp_path: Path, no_font_dirs: Path):
    not_a_font = tmp_path / "NotoSansCJK-Regular.ttc"
    not_a_font.write_bytes(b"\x00" * 64)
    with using(Settings(cjk_font=not_a_font)), pytest.raises(FontMissing) as raised:
        cjk_font()
    assert f"JIAOWEI_CJK_FONT={not_a_font}; {no_font_dirs}" in raised.value.detail


def test_no_font_is_a_configuration_error_the_web_answers_with_503(tmp_path: Path, no_font_dirs: Path):
    with using(Settings(cjk_font=None)), pytest.raises(FontMissing) as raised:
        cjk_font()
    error = raised.value
    assert isinstance(error, ConfigurationError) and error.status == 503 and error.title == "No CJK font"
    assert error.detail == (
        "No CJK font was found, so the report cannot be typeset without printing its Chinese text as boxes. "
        f"Looked in: {no_font_dirs}. Install one (apt install fonts-noto-cjk, or apt install "
        "fonts-wqy-microhei) or name a font file with JIAOWEI_CJK_FONT=/path/to/font.ttc.")
    assert translate("zh_CN", error.detail) == (
        f"未找到中文字体，无法排版报告（否则中文会显示为方框）。已查找：{no_font_dirs}。请安装中文字体"
        "（apt install fonts-noto-cjk 或 apt install fonts-wqy-microhei），"
        "或用 JIAOWEI_CJK_FONT=/path/to/font.ttc 指定字体文件。")
    assert translate("zh_CN", error.title) == "缺少中文字体"


def test_what_needs_a_cjk_font():
    assert needs_cjk("2020年") and needs_cjk("：") and needs_cjk("ア")
    assert not needs_cjk("Schools · 86% – “up”, 1:159 ±") and not needs_cjk("")
