"""Reads of the account tables: users with their scopes, API tokens, and a user's audited state.

:func:`user_state` is what every audit entry about a user holds in ``after`` (role, active, must
change password, scopes as unit codes, the SHA-256 of the password hash), so that
``jiaowei.auth.audit_checks`` can replay the chain and compare it with the live rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select

from jiaowei.auth.store import api_tokens, user_scopes, users
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.paging import Page
from jiaowei.registry import queries as registry

MAX_PAGE = 200


@dataclass(frozen=True)
class UserShown:
    """A user as the administration pages and ``GET /api/users`` show them."""

    username: str
    display_name: str
    role: str
    active: bool
    must_change_password: bool
    capture: list[str]
    view: list[str]
    created_at: str
    disabled_at: str | None


@dataclass(frozen=True)
class TokenShown:
    """An API token (never its secret)."""

    id: int
    username: str
    label: str
    created_at: str
    expires_at: str
    last_used_at: str | None
    revoked: bool
    revoked_at: str | None
    revoked_by: str | None
    expired: bool


def password_digest(password_hash: str) -> str:
    """What the audit log keeps of a password: the SHA-256 of its hash, never the hash."""
    return hashlib.sha256(password_hash.encode()).hexdigest()


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).isoformat()


def scope_codes(conn: Connection, user_ids: Iterable[int]) -> dict[int, dict[str, list[str]]]:
    """Each user's capture and view scopes as sorted unit codes."""
    ids = list(user_ids)
    found: dict[int, dict[str, list[str]]] = {i: {"capture": [], "view": []} for i in ids}
    if not ids:
        return found
    rows = conn.execute(select(user_scopes).where(user_scopes.c.user_id.in_(ids))).all()
    codes = registry.codes_of(conn, {r.unit_id for r in rows})
    for row in rows:
        found[row.user_id][row.kind if row.kind == "capture" else "view"].append(codes.get(row.unit_id, "?"))
    for scopes in found.values():
        scopes["capture"].sort()
        scopes["view"].sort()
    return found


def user_row(conn: Connection, username: str) -> Any:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        raise NotFound(M_("No user named {username!r}.", username=username))
    return row


def user_state(conn: Connection, *, user_id: int) -> dict[str, Any]:
    """The audited state of a user: what each audit entry about them holds in ``after``."""
    row = conn.execute(select(users).where(users.c.id == user_id)).one()
    return state_of(row, scope_codes(conn, [user_id])[user_id])


def state_of(row: Any, scopes: dict[str, list[str]]) -> dict[str, Any]:
    return {"role": row.role, "active": bool(row.active),
            "must_change_password": bool(row.must_change_password), "capture": scopes["capture"],
            "view": scopes["view"], "password": password_digest(row.password_hash)}


def _shown(row: Any, scopes: dict[str, list[str]]) -> UserShown:
    return UserShown(username=row.username, display_name=row.display_name, role=row.role,
                     active=bool(row.active), must_change_password=bool(row.must_change_password),
                     capture=scopes["capture"], view=scopes["view"], created_at=_iso(row.created_at) or "",
                     disabled_at=_iso(row.disabled_at))


def get_user(conn: Connection, *, username: str) -> UserShown:
    row = user_row(conn, username)
    return _shown(row, scope_codes(conn, [row.id])[row.id])


def search_users(
    conn: Connection,
    *,
    q: str | None = None,
    role: str | None = None,
    unit: str | None = None,
    active: bool | None = None,
    only_ids: Iterable[int] | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[UserShown]:
    """Users whose username or display name contains ``q``, with the role, a scope on ``unit``
    (the unit itself), and the active flag asked for; ``only_ids`` limits them further."""
    if limit < 1 or limit > MAX_PAGE or offset < 0:
        raise ValidationError(N_("The user list cannot be paged that way."), [
            Problem(N_("limit or offset out of range"), field="limit", value=limit, expected=M_("1..{most}",
                                                                                            most=MAX_PAGE))])
    query = select(users)
    if q:
        like = f"%{q}%"
        query = query.where(or_(users.c.username.ilike(like), users.c.display_name.ilike(like)))
    if role:
        query = query.where(users.c.role == role)
    if active is not None:
        query = query.where(users.c.active.is_(active))
    if unit:
        unit_id = registry.known_id(conn, unit, "unit")
        query = query.where(exists().where(and_(user_scopes.c.user_id == users.c.id,
                                                user_scopes.c.unit_id == unit_id)))
    if only_ids is not None:
        query = query.where(users.c.id.in_(list(only_ids)))
    total = conn.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = conn.execute(query.order_by(users.c.username).offset(offset).limit(limit)).all()
    scopes = scope_codes(conn, [r.id for r in rows])
    return Page([_shown(r, scopes[r.id]) for r in rows], int(total), offset, limit)


def list_tokens(conn: Connection, *, user_id: int | None = None,
                now: dt.datetime | None = None) -> list[TokenShown]:
    """API tokens, newest first: every user's, or one user's."""
    now = now or dt.datetime.now(dt.UTC)
    query = (select(api_tokens, users.c.username).join(users, users.c.id == api_tokens.c.user_id)
             .order_by(api_tokens.c.id.desc()))
    if user_id is not None:
        query = query.where(api_tokens.c.user_id == user_id)
    return [_token(row, now) for row in conn.execute(query)]


def _token(row: Any, now: dt.datetime) -> TokenShown:
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    return TokenShown(id=row.id, username=row.username, label=row.label,
                      created_at=_iso(row.created_at) or "", expires_at=expires.isoformat(),
                      last_used_at=_iso(row.last_used_at),
                      revoked=bool(row.revoked), revoked_at=_iso(row.revoked_at), revoked_by=row.revoked_by,
                      expired=expires <= now)


def token_row(conn: Connection, token_id: int) -> Any:
    row = conn.execute(select(api_tokens, users.c.username).join(users, users.c.id == api_tokens.c.user_id)
                       .where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise NotFound(M_("No API token {token_id}.", token_id=token_id))
    return row
