"""Failures counted per client address in memory, over a sliding window.

The family lookup counts its failures per application number in the database; this counter adds
a limit per client address, so that one client cannot try many numbers (or one number in many
disguises). It lives in the server process: a restart forgets it, and several worker processes
each count their own (see docs/operators.md).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from jiaowei.errors import M_, TooManyAttempts

MAX_ADDRESSES = 100_000
"""Past this many addresses with failures, the ones without a failure in the window are forgotten."""


class FailureWindow:
    """The times of recent failures, per key; safe to share between threads."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def count(self, key: str, *, window_seconds: float) -> int:
        with self._lock:
            times = self._failures.get(key)
            if times is None:
                return 0
            _expire(times, time.monotonic() - window_seconds)
            return len(times)

    def add(self, key: str, *, window_seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= MAX_ADDRESSES:
                self._forget_idle(now - window_seconds)
            times = self._failures.setdefault(key, deque())
            _expire(times, now - window_seconds)
            times.append(now)

    def _forget_idle(self, since: float) -> None:
        for key in [k for k, times in self._failures.items() if not times or times[-1] < since]:
            del self._failures[key]


def _expire(times: deque[float], since: float) -> None:
    while times and times[0] < since:
        times.popleft()


@dataclass(frozen=True)
class AddressLimit:
    """At most ``max_failures`` failures from ``address`` in ``window_minutes``."""

    failures: FailureWindow
    address: str
    max_failures: int
    window_minutes: int

    def check(self) -> None:
        if self.failures.count(self.address, window_seconds=self.window_minutes * 60) >= self.max_failures:
            raise TooManyAttempts(M_("Too many failed attempts from this address; try again in {minutes} "
                                     "minutes.", minutes=self.window_minutes))

    def fail(self) -> None:
        self.failures.add(self.address, window_seconds=self.window_minutes * 60)
