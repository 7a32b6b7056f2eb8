"""Users, passwords, sessions and API tokens (logging in: login.py). Never commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Connection, Row, Select, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal, Role
from jiaowei.auth.passwords import password_problems
from jiaowei.auth.queries import user_state
from jiaowei.auth.scope import require_action
from jiaowei.auth.store import api_tokens, sessions, user_scopes, users
from jiaowei.auth.token_use import TokenUses
from jiaowei.db.engine import inserted_id
from jiaowei.db.kept import kept
from jiaowei.domains import N_
from jiaowei.errors import (
    M_,
    Conflict,
    NotAuthenticated,
    NotFound,
    Problem,
    ValidationError,
)
from jiaowei.i18n import LANGUAGES
from jiaowei.registry import queries as registry
from jiaowei.text import text_problem

_hasher = PasswordHasher()
DEFAULT_TOKEN_DAYS = 90  # the default of the setting JIAOWEI_TOKEN_DAYS
MAX_TOKEN_DAYS = 3660
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MAX_DISPLAY_NAME = 200  # the column's length


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
    """Create a user with a password of their own (the CLI and the demo; administrators only).
    The web UI and the API create users through :func:`jiaowei.auth.admin.create_user`."""
    require_action(principal, Action.MANAGE_USERS)
    new = check_new_user(conn, username=username, password=password, role=role, capture=capture_scope or [],
                         view=view_scope or [], display_name=display_name, language=language)
    return principal_for(conn, user_id=insert_user(conn, principal=principal, new=new, password=password))


@dataclass(frozen=True)
class NewUser:
    """A user about to be created, checked: scopes as unit ids by unit code."""

    username: str
    role: str
    capture: dict[str, int]
    view: dict[str, int]
    display_name: str
    language: str | None


def check_new_user(conn: Connection, *, username: str, password: str | None, role: str, capture: list[str],
                   view: list[str], display_name: str = "", language: str | None = None) -> NewUser:
    """Check what a new user is made of; each problem names its field and value (never the password's).
    ``password`` None: one will be generated, so there is nothing to check."""
    problems = []
    if not USERNAME.match(username):
        problems.append(Problem(N_("invalid username"), field="username", value=username,
                                expected=N_("2-64 letters, digits or _ . @ -")))
    if role not in {r.value for r in Role}:
        problems.append(Problem(N_("unknown role"), field="role", value=role,
                                expected=", ".join(r.value for r in Role)))
    if language is not None and language not in LANGUAGES:
        problems.append(Problem(N_("unknown language"), field="language", value=language,
                                expected=", ".join(LANGUAGES)))
    found = text_problem(display_name, field="display_name")
    problems += [found] if found else []
    if len(display_name) > MAX_DISPLAY_NAME:
        problems.append(Problem(N_("name too long"), field="display_name", value=display_name[:50] + "…",
                                expected=N_("at most 200 characters")))
    if password is not None:
        problems += password_problems(password, username=username)
    scope_ids: dict[str, dict[str, int]] = {}
    for kind, codes in (("capture", capture), ("view", view)):
        ids, missing = registry.check_unit_codes(conn, codes, field=kind)
        problems += missing
        scope_ids[kind] = {c: ids[c] for c in codes if c in ids}
    if problems:
        raise ValidationError(N_("The user cannot be created."), problems)
    return NewUser(username=username, role=role, capture=scope_ids["capture"], view=scope_ids["view"],
                   display_name=display_name, language=language)


def _taken(username: str) -> Conflict:
    return Conflict(N_("The user cannot be created: the username is taken."), [
        Problem(N_("username taken"), field="username", value=username,
                expected=N_("a username no other user has"))])


def insert_user(conn: Connection, *, principal: Principal, new: NewUser, password: str,
                must_change_password: bool = False) -> int:
    """Insert a checked user and their scopes; audit the user's full state (``user.create``).
    Permissions are the caller's to check. A taken username is a Conflict."""
    if conn.scalar(select(users.c.id).where(users.c.username == new.username)) is not None:
        raise _taken(new.username)
    try:
        with conn.begin_nested():  # a concurrent creation of the same name (PostgreSQL): 409, not 500
            user_id = inserted_id(conn.execute(insert(users).values(
                username=new.username, display_name=new.display_name or new.username,
                password_hash=hash_password(password), role=new.role, language=new.language,
                active=True, created_at=_now(), must_change_password=must_change_password)))
    except IntegrityError:
        raise _taken(new.username) from None
    for kind, ids in (("capture", new.capture), ("view", new.view)):
        for unit_id in set(ids.values()):
            conn.execute(insert(user_scopes).values(user_id=user_id, unit_id=unit_id, kind=kind))
    audit.record(conn, actor=principal.username, action="user.create", entity="user",
                 entity_key=new.username, after=user_state(conn, user_id=user_id))
    return user_id


def _with_scopes(*columns: Any) -> Select[Any]:
    """The user's columns, the given ones and one scope per row (a user without scopes gives one row)."""
    return select(users, *columns, user_scopes.c.kind.label("scope_kind"),
                  user_scopes.c.unit_id.label("scope_unit")).outerjoin(
        user_scopes, user_scopes.c.user_id == users.c.id)


def _principal(rows: list[Row[Any]]) -> Principal | None:
    """The principal of :func:`_with_scopes` rows (None when the account is disabled)."""
    row = rows[0]
    if not row.active:
        return None
    capture = frozenset(r.scope_unit for r in rows if r.scope_kind == "capture")
    view = frozenset(r.scope_unit for r in rows if r.scope_kind is not None and r.scope_kind != "capture")
    return Principal(user_id=row.id, username=row.username, role=Role(row.role), capture=capture, view=view,
                     display_name=row.display_name, language=row.language,
                     must_change_password=bool(row.must_change_password))


def principal_for(conn: Connection, *, user_id: int) -> Principal:
    """The user's principal, in one statement (the user and the scopes)."""
    rows = list(conn.execute(_with_scopes().where(users.c.id == user_id)))
    principal = _principal(rows) if rows else None
    if principal is None:
        raise NotAuthenticated(N_("This account does not exist or is disabled."))
    return principal


def user_id_for(conn: Connection, *, username: str) -> int:
    user_id = conn.scalar(select(users.c.id).where(users.c.username == username))
    if user_id is None:
        raise NotFound(M_("No user named {username!r}.", username=username))
    return int(user_id)


def start_session(conn: Connection, *, principal: Principal, hours: int) -> tuple[str, str]:
    """Create a session; returns (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    conn.execute(insert(sessions).values(
        user_id=principal.user_id, token_hash=_digest(token), csrf_token=csrf,
        created_at=_now(), expires_at=_now() + dt.timedelta(hours=hours),
    ))
    return token, csrf


@dataclass(frozen=True)
class _Found:
    """What a token's or session's look-up read: kept per process under the ``accounts`` stamp."""

    principal: Principal | None  # None: the account is disabled
    expires: dt.datetime
    key: int | str  # the token's id (its uses are noted), or the session's CSRF token


def _found(conn: Connection, name: str, read: Any) -> _Found | None:
    """``read()``'s rows as :class:`_Found`, or what an earlier request of this process read for
    ``name`` while the accounts were as they are now (:func:`jiaowei.db.kept.kept`; migration 0021
    changes the ``accounts`` stamp with every write to a user, a scope, a token or a session). A
    request whose caller is unchanged since then pays the stamps' statement, which it shares with the
    catalog and the registry, instead of the account's (decision 0023). The expiry is checked on every
    use, never kept."""
    def rows() -> _Found | None:
        found = list(read())
        if not found:
            return None
        return _Found(_principal(found), _aware(found[0].expires), found[0].key)

    return kept(conn, "accounts", name, rows)


def resolve_session(conn: Connection, *, token: str) -> tuple[Principal, str] | None:
    """The session's principal and CSRF token, or None; one statement (session, user, scopes), or
    none when this process read the same session under the same ``accounts`` stamp (:func:`_found`)."""
    digest = _digest(token)
    found = _found(conn, "session:" + digest, lambda: conn.execute(
        _with_scopes(sessions.c.expires_at.label("expires"), sessions.c.csrf_token.label("key"))
        .join_from(users, sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.token_hash == digest)))
    if found is None or found.expires < _now() or found.principal is None:
        return None
    return found.principal, str(found.key)


def end_session(conn: Connection, *, token: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))


def create_token(conn: Connection, *, principal: Principal, username: str, label: str = "",
                 days: int = DEFAULT_TOKEN_DAYS) -> str:
    """A new API token for ``username`` (an administrator's, or one's own), valid for ``days``."""
    if principal.user_id is None or principal.username != username:
        require_action(principal, Action.MANAGE_USERS)
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError(N_("The token cannot be created."), [
            Problem(N_("expiry out of range"), field="days", value=days, expected=M_("1..{most} days",
                                                                                 most=MAX_TOKEN_DAYS))])
    user_id = user_id_for(conn, username=username)
    token, created = "jw_" + secrets.token_urlsafe(32), _now()
    expires = created + dt.timedelta(days=days)
    token_id = inserted_id(conn.execute(insert(api_tokens).values(
        user_id=user_id, token_hash=_digest(token), label=label, created_at=created, expires_at=expires,
        revoked=False)))
    audit.record(conn, actor=principal.username, action="token.create", entity="api_token",
                 entity_key=str(token_id), after={"user": username, "label": label, "prefix": token[:7],
                                                  "expires_at": expires.isoformat(), "revoked": False})
    return token


def resolve_token(conn: Connection, *, token: str, uses: TokenUses | None = None) -> Principal | None:
    """The token's principal, or None; one statement (token, user, scopes), or none when this process
    read the same token under the same ``accounts`` stamp (:func:`_found`).

    Only reads: the last use is noted in ``uses``, written later."""
    digest = _digest(token)
    found = _found(conn, "token:" + digest, lambda: conn.execute(
        _with_scopes(api_tokens.c.id.label("key"), api_tokens.c.expires_at.label("expires"))
        .join_from(users, api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == digest, api_tokens.c.revoked.is_(False))))
    if found is None or found.expires <= _now():
        return None
    if uses is not None:
        uses.note(token_id=int(found.key))
    return found.principal


def set_language(conn: Connection, *, principal: Principal, language: str) -> None:
    if principal.user_id is not None:
        conn.execute(update(users).where(users.c.id == principal.user_id).values(language=language))


def list_users(conn: Connection, *, principal: Principal) -> list[dict[str, Any]]:
    require_action(principal, Action.MANAGE_USERS)
    return [dict(r._mapping) for r in conn.execute(
        select(users.c.username, users.c.display_name, users.c.role, users.c.active)
        .order_by(users.c.username))]
