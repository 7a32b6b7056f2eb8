"""Every message the code marks (``_``, ``N_``, ``M_`` in Python; ``_()`` in templates), anywhere in
src/jiaowei, has a Chinese translation that keeps its named values."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

from jiaowei.i18n import LOCALE_DIR, catalog

SRC = Path(__file__).resolve().parents[2] / "src" / "jiaowei"
KEYWORDS = {**DEFAULT_KEYWORDS, "M_": None}
MARKERS = {"_", "N_", "M_", "gettext"}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
TEMPLATE_OPTIONS = {"**/templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}


def marked_messages() -> dict[str, list[str]]:
    """Each msgid in the source, with where it is used (``path:line``)."""
    found: dict[str, list[str]] = {}
    for filename, line, message, _, _ in extract_from_dir(SRC, METHODS, keywords=KEYWORDS,
                                                          options_map=TEMPLATE_OPTIONS):
        text = message[0] if isinstance(message, tuple) else message
        if text:
            found.setdefault(text, []).append(f"{filename}:{line}")
    return found


def names(text: str) -> set[str]:
    """The named values of a message template: ``{count}``, ``{code!r}``, ``{n:,}`` → count, code, n
    (``{{`` and ``}}`` are braces, not values)."""
    return set(re.findall(r"\{(\w+)[^{}]*\}", text.replace("{{", "").replace("}}", "")))


def test_every_marked_message_has_a_chinese_translation():
    zh = catalog("zh_CN")
    messages = marked_messages()
    missing = {m: where[0] for m, where in messages.items() if not zh.get(m, "").strip()}
    assert len(messages) > 1500 and not missing, f"no zh_CN translation: {missing}"


def test_every_translation_keeps_the_named_values_of_its_message():
    """A value missing in the translation would not be shown; a value the message lacks makes
    :func:`jiaowei.i18n.translate` fall back to English."""
    zh = catalog("zh_CN")
    differ = {m: zh[m] for m in marked_messages() if m in zh and names(m) != names(zh[m])}
    assert not differ, f"the translation names other values: {differ}"


def test_the_names_of_a_template_are_found():
    assert names("{count} problems (first {shown:,}) in {code!r}; {{literal}} C{{{constant}}}") == {
        "count", "shown", "code", "constant"}


def test_no_marker_wraps_an_f_string():
    """``M_(f"No unit {code}")`` cannot be translated: Babel skips it (with a warning) and the catalog
    is never asked for it. Write ``M_("No unit {code}", code=code)``."""
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS
                    and node.args and isinstance(node.args[0], ast.JoinedStr)):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not found, f"an f-string in _(), N_() or M_(): {found}"


def test_the_catalog_holds_each_msgid_once():
    """Several people append to the .po file; a msgid twice is a merge mistake (Babel keeps the last)."""
    text = (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    msgids = re.findall(r'^msgid ((?:".*"\n)+)msgstr ', text, flags=re.MULTILINE)  # a long msgid spans lines
    twice = [m for m, n in Counter(msgids).items() if n > 1]
    assert len(msgids) > 1500 and not twice, f"msgids twice: {twice}"
