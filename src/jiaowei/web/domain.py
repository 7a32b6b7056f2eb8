"""The web layer as a domain: the health route, the home page, the language switch and the frame."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import Domain

DOMAIN = Domain(
    name="web",
    api=("jiaowei.web.system", "jiaowei.web.metrics"),
    pages=("jiaowei.web.pages", "jiaowei.web.api_docs"),
    templates=Path(__file__).parent / "templates",
)
