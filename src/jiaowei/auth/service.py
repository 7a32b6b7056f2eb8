"""Users, passwords, sessions, API tokens and login throttling. Never commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, func, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal, Role
from jiaowei.auth.passwords import password_problems
from jiaowei.auth.scope import require_action
from jiaowei.auth.store import api_tokens, login_attempts, sessions, user_scopes, users
from jiaowei.auth.token_use import TokenUses
from jiaowei.db.engine import inserted_id
from jiaowei.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    Problem,
    TooManyAttempts,
    ValidationError,
)
from jiaowei.registry import queries as registry

_hasher = PasswordHasher()
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def create_user(
    conn: Connection,
    *,
    principal: Principal,
    username: str,
    password: str,
    role: str,
    capture_scope: list[str] | None = None,
    view_scope: list[str] | None = None,
    display_name: str = "",
    language: str | None = None,
) -> Principal:
    require_action(principal, Action.MANAGE_USERS)
    problems = []
    if not USERNAME.match(username):
        problems.append(Problem("invalid username", field="username", value=username,
                                expected="2-64 letters, digits or _ . @ -"))
    if role not in {r.value for r in Role}:
        problems.append(Problem("unknown role", field="role", value=role,
                                expected=", ".join(r.value for r in Role)))
    problems += password_problems(password, username=username)
    scope_ids: dict[str, list[int]] = {}
    for kind, codes in (("capture", capture_scope or []), ("view", view_scope or [])):
        found, missing = registry.check_unit_codes(conn, codes, field=f"{kind}_scope")
        problems += missing
        scope_ids[kind] = [found[c] for c in codes if c in found]
    if problems:
        raise ValidationError("The user cannot be created.", problems)
    if conn.scalar(select(users.c.id).where(users.c.username == username)) is not None:
        raise Conflict(f"A user named {username!r} already exists.")
    user_id = inserted_id(conn.execute(
        insert(users).values(
            username=username, display_name=display_name or username,
            password_hash=hash_password(password), role=role, language=language,
            active=True, created_at=_now(),
        )
    ))
    for kind, ids in scope_ids.items():
        for unit_id in set(ids):
            conn.execute(insert(user_scopes).values(user_id=user_id, unit_id=unit_id, kind=kind))
    audit.record(conn, actor=principal.username, action="user.create", entity="user",
                 entity_key=username, after={"role": role, "capture": capture_scope or [],
                                             "view": view_scope or []})
    return principal_for(conn, user_id=user_id)


def principal_for(conn: Connection, *, user_id: int) -> Principal:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None or not row.active:
        raise NotAuthenticated("This account does not exist or is disabled.")
    capture: set[int] = set()
    view: set[int] = set()
    for scope in conn.execute(select(user_scopes).where(user_scopes.c.user_id == user_id)):
        (capture if scope.kind == "capture" else view).add(scope.unit_id)
    return Principal(user_id=row.id, username=row.username, role=Role(row.role),
                     capture=frozenset(capture), view=frozenset(view),
                     display_name=row.display_name, language=row.language)


def user_id_for(conn: Connection, *, username: str) -> int:
    user_id = conn.scalar(select(users.c.id).where(users.c.username == username))
    if user_id is None:
        raise NotFound(f"No user named {username!r}.")
    return int(user_id)


def check_throttle(conn: Connection, *, username: str, remote: str, max_failures: int,
                   window_minutes: int) -> None:
    since = _now() - dt.timedelta(minutes=window_minutes)
    failures = conn.scalar(
        select(func.count()).select_from(login_attempts).where(
            login_attempts.c.username == username, login_attempts.c.succeeded.is_(False),
            login_attempts.c.at >= since,
        )
    )
    if (failures or 0) >= max_failures:
        raise TooManyAttempts(
            f"Too many failed logins for {username!r}; try again in {window_minutes} minutes."
        )


def authenticate(conn: Connection, *, username: str, password: str, remote: str = "",
                 max_failures: int = 5, window_minutes: int = 15) -> Principal:
    """Check a password. Failed attempts are recorded by the caller's ``record_attempt``."""
    check_throttle(conn, username=username, remote=remote, max_failures=max_failures,
                   window_minutes=window_minutes)
    row = conn.execute(select(users).where(users.c.username == username)).first()
    ok = False
    if row is not None and row.active:
        try:
            ok = _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    if not ok or row is None:
        raise NotAuthenticated("Wrong username or password.")
    return principal_for(conn, user_id=row.id)


def record_attempt(conn: Connection, *, username: str, remote: str, succeeded: bool) -> None:
    conn.execute(insert(login_attempts).values(username=username[:64], remote=remote[:64],
                                               succeeded=succeeded, at=_now()))


def start_session(conn: Connection, *, principal: Principal, hours: int) -> tuple[str, str]:
    """Create a session; returns (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    conn.execute(insert(sessions).values(
        user_id=principal.user_id, token_hash=_digest(token), csrf_token=csrf,
        created_at=_now(), expires_at=_now() + dt.timedelta(hours=hours),
    ))
    return token, csrf


def resolve_session(conn: Connection, *, token: str) -> tuple[Principal, str] | None:
    row = conn.execute(select(sessions).where(sessions.c.token_hash == _digest(token))).first()
    if row is None or _aware(row.expires_at) < _now():
        return None
    try:
        return principal_for(conn, user_id=row.user_id), row.csrf_token
    except NotAuthenticated:
        return None


def end_session(conn: Connection, *, token: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))


def create_token(conn: Connection, *, principal: Principal, username: str, label: str = "") -> str:
    require_action(principal, Action.MANAGE_USERS)
    user_id = user_id_for(conn, username=username)
    token = "jw_" + secrets.token_urlsafe(32)
    conn.execute(insert(api_tokens).values(user_id=user_id, token_hash=_digest(token),
                                           label=label, created_at=_now(), revoked=False))
    audit.record(conn, actor=principal.username, action="token.create", entity="user",
                 entity_key=username, after={"label": label, "prefix": token[:7]})
    return token


def resolve_token(conn: Connection, *, token: str, uses: TokenUses | None = None) -> Principal | None:
    """The token's principal, or None. Only reads: the last use is noted in ``uses``, written later."""
    row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == _digest(token),
                                                api_tokens.c.revoked.is_(False))).first()
    if row is None:
        return None
    if uses is not None:
        uses.note(token_id=row.id)
    try:
        return principal_for(conn, user_id=row.user_id)
    except NotAuthenticated:
        return None


def set_language(conn: Connection, *, principal: Principal, language: str) -> None:
    if principal.user_id is not None:
        conn.execute(update(users).where(users.c.id == principal.user_id).values(language=language))


def list_users(conn: Connection, *, principal: Principal) -> list[dict[str, Any]]:
    require_action(principal, Action.MANAGE_USERS)
    return [dict(r._mapping) for r in conn.execute(
        select(users.c.username, users.c.display_name, users.c.role, users.c.active)
        .order_by(users.c.username))]
