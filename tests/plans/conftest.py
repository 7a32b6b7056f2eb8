"""Plans tests: services that keep files (evidence) keep them in the test's own folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jiaowei.settings import Settings, using


@pytest.fixture(autouse=True)
def _active_settings(settings: Settings) -> Iterator[Settings]:
    """The test's settings (home: its tmp_path) are the active ones, as the app makes its own per request."""
    with using(settings):
        yield settings
