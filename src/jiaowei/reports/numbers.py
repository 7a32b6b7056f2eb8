"""Numbers as a report writes them, and the phrases that compare them (pure: no database, no web).

Chinese (``zh``) follows the commission's own reports:

- a count or amount of 10,000 or more is written in 万 (亿 from 100,000,000) with at most two
  decimals and no trailing zeros: 377000 → ``37.7万``, 186600 → ``18.66万``, 11000 → ``1.1万``,
  250000000 → ``2.5亿``; a smaller one plainly, without grouping, with the indicator's decimals
  (``845``, ``15.3``);
- a percentage keeps exactly the indicator's decimals: ``88.10%``, ``92.51%``, ``97.1%``, ``86%``;
  per mille likewise (``3.2‰``); a ratio ``v`` is ``1:N`` with ``N = 1/v`` (``1:159``).

English (``en``) groups thousands (``186,600``) and writes ``2.82 million`` from a million and
``1.5 billion`` from a billion; percentages, per mille and ratios as in Chinese.

The phrases (:func:`change_phrase`, :func:`comparison_phrase`) are grammar, not vocabulary: the
Chinese and the English builders are written out here rather than put through the message catalog,
since the two languages order the words differently. A difference is taken between the values as
shown (each rounded to the indicator's decimals) and written without trailing zeros (``6个百分点``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from jiaowei.indicators.model import Display

NO_VALUE = "–"
TEN_THOUSAND, HUNDRED_MILLION = Decimal(10_000), Decimal(100_000_000)
MILLION, BILLION = Decimal(1_000_000), Decimal(1_000_000_000)
LARGE_DECIMALS = 2  # decimals of 万, 亿, million and billion (trailing zeros dropped)


def display_of(display: str) -> Display:
    """The indicator display a name means (``permille`` is accepted for ``per_mille``)."""
    return Display("per_mille" if display == "permille" else display)


def is_english(language: str) -> bool:
    return language.lower().startswith("en")


# ---------------------------------------------------------------- rounding


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _rounded(value: Decimal, decimals: int) -> Decimal:
    """Half away from zero, as people round (92.505 → 92.51)."""
    found = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return found if found else abs(found)  # no "-0"


def _fixed(value: Decimal, decimals: int, grouped: bool = False) -> str:
    return format(_rounded(value, decimals), ",f" if grouped else "f")


def _trimmed(value: Decimal, decimals: int) -> str:
    """At most ``decimals`` decimals, trailing zeros dropped: 18.660 → ``18.66``, 6.0 → ``6``."""
    text = _fixed(value, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---------------------------------------------------------------- one value


def format_value(value: float | None, *, display: str, decimals: int, language: str) -> str:
    """A value as the report shows it (``–`` for no value); see the module's description."""
    if value is None:
        return NO_VALUE
    shown = display_of(display)
    number = _decimal(value)
    if shown is Display.PERCENT:
        return _fixed(number, decimals) + "%"
    if shown is Display.PER_MILLE:
        return _fixed(number, decimals) + "‰"
    if shown is Display.RATIO:
        return "1:∞" if number <= 0 else "1:" + _fixed(1 / number, decimals)
    sign = "-" if _rounded(number, decimals) < 0 else ""
    if is_english(language):
        return sign + _english_amount(abs(number), decimals)
    return sign + _chinese_amount(abs(number), decimals)


def _chinese_amount(number: Decimal, decimals: int) -> str:
    if _rounded(number, decimals) < TEN_THOUSAND:
        return _fixed(number, decimals)
    if _rounded(number / TEN_THOUSAND, LARGE_DECIMALS) < TEN_THOUSAND:
        return _trimmed(number / TEN_THOUSAND, LARGE_DECIMALS) + "万"
    return _trimmed(number / HUNDRED_MILLION, LARGE_DECIMALS) + "亿"


def _english_amount(number: Decimal, decimals: int) -> str:
    if _rounded(number, decimals) < MILLION:
        return _fixed(number, decimals, grouped=True)
    if _rounded(number / MILLION, LARGE_DECIMALS) < 1000:
        return _trimmed(number / MILLION, LARGE_DECIMALS) + " million"
    return format(Decimal(_trimmed(number / BILLION, LARGE_DECIMALS)), ",f") + " billion"


# ---------------------------------------------------------------- two values


def _difference(current: float, base: float, decimals: int) -> Decimal:
    """``current - base`` between the values as shown (each rounded to ``decimals``)."""
    return _rounded(_decimal(current), decimals) - _rounded(_decimal(base), decimals)


def _amount(difference: Decimal, shown: Display, decimals: int, language: str) -> str:
    """The size of a difference: points for percent and per mille, else the value's own form."""
    if shown in (Display.PERCENT, Display.PER_MILLE):
        return _trimmed(abs(difference), decimals)
    return format_value(float(abs(difference)), display="number", decimals=decimals, language=language)


def _points(amount: str, shown: Display, english: bool) -> str:
    """``个百分点`` / ``percentage points`` (``point`` after exactly 1), ``个千分点`` / ``per mille
    points``."""
    if english:
        noun = "percentage point" if shown is Display.PERCENT else "per mille point"
        return f"{amount} {noun}" + ("" if amount == "1" else "s")
    return amount + ("个百分点" if shown is Display.PERCENT else "个千分点")


def _counted(amount: str, word: str, english: bool) -> str:
    return f"{amount} {word}" if english and word else amount + word


def difference_text(current: float, base: float, *, display: str, decimals: int, language: str) -> str:
    """The change from ``base`` to ``current`` as a bare number, for a sentence that says the verb
    itself (``较去年分别增加14个和2个``): ``14``, ``1.1万``, ``2.1`` (points for a percentage); a fall
    is written with a minus sign (``-3``)."""
    difference = _difference(current, base, decimals)
    amount = _amount(difference, display_of(display), decimals, language)
    return f"-{amount}" if difference < 0 else amount


def change_phrase(
    current: float,
    base: float,
    *,
    display: str,
    decimals: int,
    language: str,
    word: str = "",
    word_en: str = "",
    base_label: str | None = None,
) -> str:
    """The change from ``base`` to ``current``: ``较去年增加14个``, ``与去年持平``,
    ``较去年提高2.1个百分点``; ``up 14 on last year``, ``unchanged on last year``,
    ``up 2.1 percentage points on last year``. ``base_label`` names the base period (default
    ``去年`` / ``last year``); ``word`` / ``word_en`` follow a number (个, 所, 人; schools). A ratio
    names the base value instead: ``去年为1:170`` / ``compared with 1:170 for last year``."""
    shown, english = display_of(display), is_english(language)
    label = base_label or ("last year" if english else "去年")
    if shown is Display.RATIO:
        before = format_value(base, display=display, decimals=decimals, language=language)
        return f"compared with {before} for {label}" if english else f"{label}为{before}"
    difference = _difference(current, base, decimals)
    if not difference:
        return f"unchanged on {label}" if english else f"与{label}持平"
    amount = _amount(difference, shown, decimals, language)
    if shown in (Display.PERCENT, Display.PER_MILLE):
        size = _points(amount, shown, english)
        verb = ("up" if difference > 0 else "down") if english else ("提高" if difference > 0 else "下降")
    else:
        size = _counted(amount, word_en if english else word, english)
        verb = ("up" if difference > 0 else "down") if english else ("增加" if difference > 0 else "减少")
    return f"{verb} {size} on {label}" if english else f"较{label}{verb}{size}"


def comparison_phrase(
    value: float,
    standard: float,
    *,
    display: str,
    decimals: int,
    language: str,
    label_zh: str,
    label_en: str,
    word: str = "",
    word_en: str = "",
) -> str:
    """``value`` against a standard: ``超出国家标准6个百分点``, ``低于国家标准2个百分点``,
    ``达到国家标准``, ``超出目标12所``; ``6 percentage points above the national standard``,
    ``meets the national standard``, ``12 schools above the target``. A ratio names the standard:
    ``国家标准为1:200`` / ``against the national standard of 1:200``."""
    shown, english = display_of(display), is_english(language)
    label = label_en if english else label_zh
    if shown is Display.RATIO:
        standard_text = format_value(standard, display=display, decimals=decimals, language=language)
        return f"against {label} of {standard_text}" if english else f"{label}为{standard_text}"
    difference = _difference(value, standard, decimals)
    if not difference:
        return f"meets {label}" if english else f"达到{label}"
    amount = _amount(difference, shown, decimals, language)
    if shown in (Display.PERCENT, Display.PER_MILLE):
        size = _points(amount, shown, english)
    else:
        size = _counted(amount, word_en if english else word, english)
    if english:
        return f"{size} {'above' if difference > 0 else 'below'} {label}"
    return f"{'超出' if difference > 0 else '低于'}{label}{size}"
