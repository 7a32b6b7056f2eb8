"""When each API token was last used, recorded out of band so that reading never writes.

A request that authenticates with a token only notes the use here, in memory, at most once a
minute per token. ``flush`` writes the noted uses in its own short transaction after the
response. A flush that fails (the database busy, say) is logged and keeps its uses for the
next flush; it never fails a request.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import update

from jiaowei.auth.store import api_tokens
from jiaowei.db.engine import Database

log = logging.getLogger(__name__)
INTERVAL = dt.timedelta(minutes=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TokenUses:
    """The tokens used since the last flush, and when each was last noted."""

    def __init__(self, interval: dt.timedelta = INTERVAL) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: dict[int, dt.datetime] = {}
        self._noted: dict[int, dt.datetime] = {}

    def note(self, *, token_id: int, at: dt.datetime | None = None) -> None:
        """Remember a use, unless this token's use was noted less than ``interval`` ago."""
        at = at or _now()
        with self._lock:
            last = self._noted.get(token_id)
            if last is not None and at - last < self.interval:
                return
            self._noted[token_id] = at
            self._pending[token_id] = at

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def flush(self, db: Database) -> None:
        """Write the pending uses in one transaction; on failure log and keep them for next time."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return
        try:
            with db.transaction(write=True) as conn:
                for token_id, at in sorted(batch.items()):
                    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                                 .values(last_used_at=at))
        except Exception:  # noqa: BLE001 - bookkeeping must never break a request
            log.warning("could not record the last use of %d API token(s); will retry", len(batch),
                        exc_info=True)
            self._requeue(batch)

    def _requeue(self, batch: dict[int, dt.datetime]) -> None:
        with self._lock:
            for token_id, at in batch.items():
                if token_id not in self._pending or self._pending[token_id] < at:
                    self._pending[token_id] = at
