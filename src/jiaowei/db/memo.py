"""Values read once per transaction: a page that asks for the same reads in several places (the
metadata catalog, the analytics cube's change-feed markers) pays their round trips once (issue 17).

:func:`per_transaction` keeps a value in ``conn.info`` keyed by the transaction it was read in. Every
value of a connection is forgotten as soon as the connection runs any statement but a ``SELECT`` (a
write, a savepoint, DDL), so the transaction's next read sees its own writes, and at commit or
rollback. Only values derived from what the transaction itself reads belong here, never state
shared between connections or threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event

T = TypeVar("T")

_KEPT = "jiaowei.memo"  # conn.info: (the transaction, {key: value})
SHARED = "jiaowei.shared"  # conn.info: what PostgreSQL's reads without a transaction share in a row
"""(:func:`jiaowei.db.engine.unbracketed_shared`; forgotten with a statement that writes, as above.)"""


def per_transaction(conn: Connection, key: str, compute: Callable[[], T]) -> T:
    """``compute()``, run once per transaction of ``conn`` until the connection writes (see above)."""
    transaction = conn.get_transaction()
    kept = conn.info.get(_KEPT)
    if transaction is not None and kept is not None and kept[0] is transaction and key in kept[1]:
        return kept[1][key]  # type: ignore[no-any-return]
    value = compute()
    transaction = conn.get_transaction()  # the reads began one, if none was open
    if transaction is not None:
        kept = conn.info.get(_KEPT)
        if kept is None or kept[0] is not transaction:
            values: dict[str, Any] = {}
            kept = conn.info[_KEPT] = (transaction, values)
        kept[1][key] = value
    return value


@event.listens_for(Engine, "before_cursor_execute")
def _forget_before_writing(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    info = conn.info
    if (_KEPT in info or SHARED in info) and not statement.lstrip()[:6].upper().startswith("SELECT"):
        info.pop(_KEPT, None)
        info.pop(SHARED, None)


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _forget_at_the_end(conn: Connection) -> None:
    if not conn.invalidated:  # an invalidated connection's info is gone with it (and reading it raises)
        conn.info.pop(_KEPT, None)
