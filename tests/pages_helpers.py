"""Helpers for tests that read the HTML pages through the test client."""

from __future__ import annotations

import re


def visible_text(html: str) -> str:
    """The page's text as a reader sees it: tags dropped, runs of white space made one space."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
