"""Translations: Babel message catalogs (``locale/<lang>/LC_MESSAGES/messages.po``).

Source strings are English; ``zh_CN`` is the default language of the UI. Catalogs are
read from the ``.po`` files with Babel at start-up, so there is no compile step.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_CN"
LOCALE_DIR = Path(__file__).parent / "locale"


@cache
def catalog(language: str) -> dict[str, str]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        po = read_po(handle, locale=language)
    return {str(m.id): str(m.string) for m in po if m.id and m.string and not m.fuzzy}


def translate(language: str, message: str) -> str:
    """``message`` in ``language``: its catalog entry, or itself when there is none.

    A :class:`jiaowei.errors.Message` is looked up by its template, and its values are put into the
    translation (values that are messages themselves are translated; plain text such as codes is not).
    """
    found = catalog(language)
    template = getattr(message, "template", None)
    if template is None:
        return found.get(message, message)
    values = {name: translate(language, value) if hasattr(value, "template") else value
              for name, value in message.values.items()}  # type: ignore[attr-defined]
    try:
        return found.get(template, template).format(**values)
    except (KeyError, IndexError, ValueError):  # a translation that names a value the message lacks
        return str(message)


def negotiate(accept_language: str | None) -> str | None:
    """The best supported language for an Accept-Language header, or None."""
    if not accept_language:
        return None
    ranked = []
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower()))
    for _, tag in sorted(ranked, key=lambda item: -item[0]):
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return None


def normalise(language: str | None) -> str | None:
    return language if language in LANGUAGES else None
