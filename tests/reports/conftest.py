"""Fixtures of the reports' tests: the demo behind an app for the API and page tests (web_demo.py)."""

from tests.reports.web_demo import web, web_app  # noqa: F401 - fixtures
