"""Numbers and phrases as a report writes them, in Chinese and in English (pure; Hypothesis properties)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiaowei.reports.numbers import change_phrase, comparison_phrase, difference_text, format_value


def zh(value: float, display: str = "number", decimals: int = 0) -> str:
    return format_value(value, display=display, decimals=decimals, language="zh")


def en(value: float, display: str = "number", decimals: int = 0) -> str:
    return format_value(value, display=display, decimals=decimals, language="en")


@pytest.mark.parametrize(("value", "display", "decimals", "shown"), [
    (377000, "number", 0, "37.7万"),
    (186600, "number", 0, "18.66万"),
    (11000, "number", 0, "1.1万"),
    (10000, "number", 0, "1万"),
    (9999, "number", 0, "9999"),
    (845, "number", 0, "845"),
    (15.25, "number", 1, "15.3"),
    (250_000_000, "number", 0, "2.5亿"),
    (99_999_999, "number", 0, "1亿"),  # 9999.9999万 rounds up to the next unit
    (-11000, "number", 0, "-1.1万"),
    (88.1, "percent", 2, "88.10%"),
    (92.51, "percent", 2, "92.51%"),
    (97.1, "percent", 1, "97.1%"),
    (86.0, "percent", 0, "86%"),
    (3.2, "per_mille", 1, "3.2‰"),
    (3.2, "permille", 1, "3.2‰"),
    (1 / 159, "ratio", 0, "1:159"),
])
def test_chinese_conventions(value: float, display: str, decimals: int, shown: str) -> None:
    assert zh(value, display, decimals) == shown


@pytest.mark.parametrize(("value", "display", "decimals", "shown"), [
    (186600, "number", 0, "186,600"),
    (845, "number", 0, "845"),
    (2_823_000, "number", 0, "2.82 million"),
    (999_999.6, "number", 0, "1 million"),
    (1_500_000_000, "number", 0, "1.5 billion"),
    (12.8, "number", 1, "12.8"),
    (88.1, "percent", 2, "88.10%"),
    (1 / 159, "ratio", 0, "1:159"),
])
def test_english_conventions(value: float, display: str, decimals: int, shown: str) -> None:
    assert en(value, display, decimals) == shown


def test_no_value_is_a_dash() -> None:
    assert format_value(None, display="percent", decimals=1, language="zh") == "–"


def test_an_unknown_display_is_refused() -> None:
    with pytest.raises(ValueError):
        zh(1.0, "fraction")


def _read_chinese(text: str) -> Decimal:
    for unit, size in (("亿", Decimal(10) ** 8), ("万", Decimal(10) ** 4)):
        if text.endswith(unit):
            return Decimal(text[:-1]) * size
    return Decimal(text)


@given(st.integers(min_value=0, max_value=10**12))
def test_chinese_amounts_read_back_within_their_rounding(value: int) -> None:
    text = zh(value)
    assert re.fullmatch(r"\d+(\.\d{1,2})?[万亿]?", text), text
    assert not re.search(r"\.\d*0[万亿]", text), "trailing zeros are dropped"
    step = {"亿": Decimal(10) ** 8, "万": Decimal(10) ** 4}.get(text[-1], Decimal(1))
    assert abs(_read_chinese(text) - value) <= step / 200  # half of the last of two decimals
    assert text.endswith(("万", "亿")) == (value >= 10_000 - 0.5)


@given(st.integers(min_value=0, max_value=999_999))
def test_english_amounts_group_thousands_and_read_back(value: int) -> None:
    text = en(value)
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", text), text
    assert int(text.replace(",", "")) == value


@given(st.floats(min_value=0, max_value=100, allow_nan=False), st.integers(min_value=0, max_value=3),
       st.sampled_from(["zh", "en"]))
def test_a_percentage_keeps_exactly_its_decimals(value: float, decimals: int, language: str) -> None:
    text = format_value(value, display="percent", decimals=decimals, language=language)
    assert text.endswith("%")
    places = text[:-1].partition(".")[2]
    assert len(places) == decimals
    assert abs(float(text[:-1]) - value) <= 0.5 * 10**-decimals + 1e-9


@given(st.integers(min_value=2, max_value=5000))
def test_a_ratio_is_one_to_n(n: int) -> None:
    assert zh(1 / n, "ratio") == f"1:{n}"


# ---------------------------------------------------------------- phrases


def change(current: float, base: float, display: str = "number", decimals: int = 0, language: str = "zh",
           **words: str) -> str:
    return change_phrase(current, base, display=display, decimals=decimals, language=language, **words)


def test_changes_in_chinese() -> None:
    assert change(845, 831, word="个") == "较去年增加14个"
    assert change(831, 834, word="个") == "较去年减少3个"
    assert change(120, 120) == "与去年持平"
    assert change(88.1, 86.0, "percent", 1) == "较去年提高2.1个百分点"
    assert change(86.0, 88.1, "percent", 1) == "较去年下降2.1个百分点"
    assert change(186600, 175600, word="人") == "较去年增加1.1万人"
    assert change(845, 831, word="所", base_label="2018年") == "较2018年增加14所"


def test_changes_in_english() -> None:
    assert change(845, 831, language="en") == "up 14 on last year"
    assert change(831, 834, language="en", word_en="schools") == "down 3 schools on last year"
    assert change(120, 120, language="en") == "unchanged on last year"
    assert change(88.1, 86.0, "percent", 1, "en") == "up 2.1 percentage points on last year"
    assert change(87.0, 86.0, "percent", 1, "en") == "up 1 percentage point on last year"
    assert change(186600, 175600, language="en") == "up 11,000 on last year"


def test_a_bare_difference_is_the_change_without_its_words() -> None:
    def bare(current: float, base: float, display: str = "number", decimals: int = 0) -> str:
        return difference_text(current, base, display=display, decimals=decimals, language="zh")

    assert bare(120, 106) == "14"
    assert bare(831, 834) == "-3"
    assert bare(186600, 175600) == "1.1万"
    assert bare(88.1, 86.0, "percent", 1) == "2.1"
    assert difference_text(186600, 175600, display="number", decimals=0, language="en") == "11,000"


def test_a_change_is_between_the_values_as_shown() -> None:
    """86.04% and 85.96% both show as 86.0%: no change, though they differ."""
    assert change(86.04, 85.96, "percent", 1) == "与去年持平"


def test_a_ratio_change_names_the_base() -> None:
    assert change(1 / 159, 1 / 170, "ratio") == "去年为1:170"
    assert change(1 / 159, 1 / 170, "ratio", language="en") == "compared with 1:170 for last year"


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_a_change_says_which_way(current: int, base: int) -> None:
    text = change(current, base)
    if current > base:
        assert text.startswith("较去年增加")
    elif current < base:
        assert text.startswith("较去年减少")
    else:
        assert text == "与去年持平"
    amount = text.removeprefix("较去年增加").removeprefix("较去年减少")
    if current != base:
        assert amount == zh(abs(current - base))


def compare(value: float, standard: float, display: str = "percent", decimals: int = 0, language: str = "zh",
            **words: str) -> str:
    return comparison_phrase(value, standard, display=display, decimals=decimals, language=language,
                             label_zh="国家标准", label_en="the national standard", **words)


def test_comparisons_in_both_languages() -> None:
    assert compare(86, 80) == "超出国家标准6个百分点"
    assert compare(78, 80) == "低于国家标准2个百分点"
    assert compare(80, 80) == "达到国家标准"
    assert compare(86, 80, language="en") == "6 percentage points above the national standard"
    assert compare(78, 80, language="en") == "2 percentage points below the national standard"
    assert compare(80, 80, language="en") == "meets the national standard"
    assert compare(112, 100, "number", word="所") == "超出国家标准12所"
    english = compare(112, 100, "number", language="en", word_en="schools")
    assert english == "12 schools above the national standard"
    assert compare(86.0, 80.0, decimals=1) == "超出国家标准6个百分点"  # a difference drops trailing zeros
    assert compare(1 / 159, 1 / 200, "ratio") == "国家标准为1:200"


PERCENTAGES = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(PERCENTAGES, PERCENTAGES)
def test_a_comparison_and_its_mirror_agree(value: float, standard: float) -> None:
    there, back = compare(value, standard, decimals=1), compare(standard, value, decimals=1)
    if there == "达到国家标准":
        assert back == there
    else:
        assert {there[:2], back[:2]} == {"超出", "低于"}
        assert there[2:] == back[2:]
