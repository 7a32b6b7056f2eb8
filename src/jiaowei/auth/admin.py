"""Administering users and API tokens: creation, role and scopes, disable and enable, password resets
and changes, token revocation. Never commits; every change is audited with the user's full new state.

Who may manage whom (:func:`managed`):

- an administrator manages every user;
- district staff manage the unit reporters of their own district only: users whose role is
  ``unit_reporter`` and whose every scope lies inside the staff member's capture scope. They may
  not give (or create a user with) a role other than ``unit_reporter``, nor a scope outside their
  district;
- nobody else manages anyone. Everyone changes their own password and sees and revokes their
  own tokens.

A user the principal may not manage is reported as not found, so that the pages do not disclose
who exists outside one's district.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, select, update

from jiaowei.audit import service as audit
from jiaowei.auth import queries
from jiaowei.auth import service as auth
from jiaowei.auth.model import Action, Principal, Role
from jiaowei.auth.passwords import password_problems
from jiaowei.auth.scope import in_scope
from jiaowei.auth.service import hash_password
from jiaowei.auth.store import api_tokens, sessions, user_scopes, users
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.i18n import translate
from jiaowei.paging import Page
from jiaowei.registry import queries as registry

_hasher = PasswordHasher()
ROLES = tuple(r.value for r in Role)
CHANGE_PASSWORD_PATH = "/me/password"
# Paths a user who must change their password may still reach.
PASSWORD_GATE_OPEN = ("/me/password", "/api/me", "/api/me/password", "/logout", "/login", "/language",
                      "/static/")
PASSWORD_FIRST = N_("Change your password first: your password was reset, so every page but "
                    "My account › Change password is closed until you choose a new one.")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def require_password_changed(principal: Principal | None, *, path: str, language: str) -> None:
    """Refuse every path but the change of password to a user whose password was reset."""
    if principal is None or not principal.must_change_password:
        return
    if any(path == p or (p.endswith("/") and path.startswith(p)) for p in PASSWORD_GATE_OPEN):
        return
    raise PermissionDenied(translate(language, PASSWORD_FIRST))


def _may_manage_someone(principal: Principal) -> None:
    if not (principal.may(Action.MANAGE_USERS) or principal.may(Action.MANAGE_REPORTERS)):
        raise PermissionDenied(M_("The role {role} may not manage users.", role=principal.role.value))


def _inside_district(conn: Connection, principal: Principal, unit_ids: set[int]) -> bool:
    day = registry.today()
    for unit_id in unit_ids:
        path = registry.last_path(conn, unit_id, day)
        if path is None or not in_scope(conn, principal, Action.MANAGE_REPORTERS, path, day):
            return False
    return bool(unit_ids)


def managed(conn: Connection, *, principal: Principal) -> list[int] | None:
    """Ids of the users ``principal`` manages; None for an administrator (everyone)."""
    _may_manage_someone(principal)
    if principal.may(Action.MANAGE_USERS):
        return None
    query = select(users.c.id).where(users.c.role == Role.UNIT_REPORTER.value)
    reporters = [r.id for r in conn.execute(query)]
    scopes: dict[int, set[int]] = {i: set() for i in reporters}
    if reporters:
        for row in conn.execute(select(user_scopes).where(user_scopes.c.user_id.in_(reporters))):
            scopes[row.user_id].add(row.unit_id)
    return [i for i in reporters if i != principal.user_id and _inside_district(conn, principal, scopes[i])]


def _target(conn: Connection, principal: Principal, username: str) -> Any:
    """The user row, if ``principal`` may manage it; NotFound otherwise."""
    allowed = managed(conn, principal=principal)
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None or (allowed is not None and row.id not in allowed):
        raise NotFound(M_("No user named {username!r} that you may manage.", username=username))
    return row


def list_users(conn: Connection, *, principal: Principal, q: str | None = None, role: str | None = None,
               unit: str | None = None, active: bool | None = None, offset: int = 0,
               limit: int = 50) -> Page[queries.UserShown]:
    """The users ``principal`` manages, searched by name, role, scope unit and active flag."""
    if role and role not in ROLES:
        raise ValidationError(N_("The user list cannot be filtered that way."), [
            Problem("unknown role", field="role", value=role, expected=", ".join(ROLES))])
    return queries.search_users(conn, q=q, role=role, unit=unit, active=active, offset=offset, limit=limit,
                                only_ids=managed(conn, principal=principal))


def get_user(conn: Connection, *, principal: Principal, username: str) -> queries.UserShown:
    if principal.username == username and principal.user_id is not None:
        return queries.get_user(conn, username=username)
    _target(conn, principal, username)
    return queries.get_user(conn, username=username)


@dataclass(frozen=True)
class CreatedUser:
    """A user just created; the one-time password when none was given (shown once, never stored)."""

    user: queries.UserShown
    one_time_password: str | None


def one_time_password() -> str:
    """A random password to hand over once (96 bits); its holder must change it at first login."""
    return "-".join(secrets.token_hex(3) for _ in range(4))


def create_user(conn: Connection, *, principal: Principal, username: str, role: str,
                capture: list[str] | None = None, view: list[str] | None = None, display_name: str = "",
                language: str | None = None, password: str | None = None) -> CreatedUser:
    """Create a user: administrators any, district staff only unit reporters inside their district.

    Without ``password`` a one-time password is generated and returned (once); the user must change
    it at first login. Audited as ``user.create`` with the user's full state."""
    _may_manage_someone(principal)
    new = auth.check_new_user(conn, username=username, password=password, role=role, capture=capture or [],
                              view=view or [], display_name=display_name, language=language)
    if not principal.may(Action.MANAGE_USERS):
        _district_limits(conn, principal, role, {"capture": new.capture, "view": new.view})
    generated = one_time_password() if password is None else None
    auth.insert_user(conn, principal=principal, new=new, password=password or generated or "",
                     must_change_password=generated is not None)
    return CreatedUser(queries.get_user(conn, username=username), generated)


def _record(conn: Connection, principal: Principal, action: str, row: Any, before: dict[str, Any],
            note: str = "") -> dict[str, Any]:
    after = queries.user_state(conn, user_id=row.id)
    audit.record(conn, actor=principal.username, action=action, entity="user", entity_key=row.username,
                 before=before, after=after, note=note)
    return after


def _not_self(principal: Principal, row: Any, what: str) -> None:
    if principal.user_id == row.id:
        raise Conflict(M_("You cannot {what} your own account; ask another administrator.", what=what))


def change_user(conn: Connection, *, principal: Principal, username: str, role: str | None = None,
                capture: list[str] | None = None, view: list[str] | None = None) -> queries.UserShown:
    """Set the role and/or replace the capture and view scopes (unit codes) of a user."""
    row = _target(conn, principal, username)
    before = queries.user_state(conn, user_id=row.id)
    problems: list[Problem] = []
    if role is not None and role not in ROLES:
        problems.append(Problem("unknown role", field="role", value=role, expected=", ".join(ROLES)))
    if role is not None and role != row.role:
        _not_self(principal, row, M_("change the role of"))
    scopes: dict[str, dict[str, int] | None] = {"capture": None, "view": None}
    for kind, codes in (("capture", capture), ("view", view)):
        if codes is not None:
            found, missing = registry.check_unit_codes(conn, codes, field=kind)
            problems += missing
            scopes[kind] = {c: found[c] for c in codes if c in found}
    if problems:
        raise ValidationError(N_("The user cannot be changed."), problems)
    if not principal.may(Action.MANAGE_USERS):
        _district_limits(conn, principal, role, scopes)
    if role is not None:
        conn.execute(update(users).where(users.c.id == row.id).values(role=role))
    for kind, units in scopes.items():
        if units is not None:
            ids = sorted(set(units.values()))
            conn.execute(delete(user_scopes).where(user_scopes.c.user_id == row.id,
                                                   user_scopes.c.kind == kind))
            for unit_id in ids:
                conn.execute(user_scopes.insert().values(user_id=row.id, unit_id=unit_id, kind=kind))
    _record(conn, principal, "user.update", row, before)
    return queries.get_user(conn, username=username)


def _district_limits(conn: Connection, principal: Principal, role: str | None,
                     scopes: dict[str, dict[str, int] | None]) -> None:
    """District staff give only the reporter role, a capture scope inside their district (never
    none: the reporter would leave the district's hands) and a view scope inside it (or none)."""
    if role is not None and role != Role.UNIT_REPORTER.value:
        raise PermissionDenied(N_("District staff may give only the role unit_reporter."), [
            Problem(N_("role not allowed"), field="role", value=role, expected=Role.UNIT_REPORTER.value)])
    for kind, units in scopes.items():
        if units is None:
            continue
        if not units and kind == "capture":
            raise PermissionDenied(N_("A unit reporter needs a capture scope inside your district."), [
                Problem(N_("no capture scope"), field=kind, expected=N_("units inside your district"))])
        outside = [code for code, unit in units.items() if not _inside_district(conn, principal, {unit})]
        if outside:
            raise PermissionDenied(N_("Every scope must be a unit inside your district."), [
                Problem(N_("unit outside your district"), field=kind, value=code,
                        expected=N_("units inside your district")) for code in outside])


def set_active(conn: Connection, *, principal: Principal, username: str, active: bool,
               note: str = "") -> queries.UserShown:
    """Disable (sessions ended at once; tokens refused while disabled) or enable a user."""
    row = _target(conn, principal, username)
    if not active:
        _not_self(principal, row, M_("disable"))
    if bool(row.active) == active:
        raise Conflict(M_("User {username!r} is already enabled.", username=username) if active
                       else M_("User {username!r} is already disabled.", username=username))
    before = queries.user_state(conn, user_id=row.id)
    conn.execute(update(users).where(users.c.id == row.id)
                 .values(active=active, disabled_at=None if active else _now()))
    if not active:
        conn.execute(delete(sessions).where(sessions.c.user_id == row.id))
    _record(conn, principal, "user.enable" if active else "user.disable", row, before, note)
    return queries.get_user(conn, username=username)


def reset_password(conn: Connection, *, principal: Principal, username: str) -> str:
    """Give the user a one-time password (returned, shown once); they must change it at next login."""
    row = _target(conn, principal, username)
    _not_self(principal, row, M_("reset the password of"))
    before = queries.user_state(conn, user_id=row.id)
    one_time = one_time_password()
    conn.execute(update(users).where(users.c.id == row.id)
                 .values(password_hash=hash_password(one_time), must_change_password=True))
    conn.execute(delete(sessions).where(sessions.c.user_id == row.id))
    _record(conn, principal, "user.password_reset", row, before)
    return one_time


def change_own_password(conn: Connection, *, principal: Principal, old_password: str,
                        new_password: str) -> None:
    """Change one's own password: the old one is required, the new one follows the policy."""
    row = conn.execute(select(users).where(users.c.id == principal.user_id)).first()
    if row is None:
        raise NotFound(N_("Only a user account has a password."))
    if not _matches(row.password_hash, old_password):
        raise ValidationError(N_("The password was not changed."), [
            Problem(N_("the current password is wrong"), field="old_password",
                    expected=N_("your current password"))])
    problems = password_problems(new_password, username=row.username)
    if new_password == old_password:
        problems.append(Problem(N_("the new password is the old one"), field="new_password",
                                expected=N_("a password different from the current one")))
    if problems:
        raise ValidationError(N_("The password was not changed."),
                              [Problem(p.message, field="new_password", expected=p.expected)
                               for p in problems])
    before = queries.user_state(conn, user_id=row.id)
    conn.execute(update(users).where(users.c.id == row.id)
                 .values(password_hash=hash_password(new_password), must_change_password=False))
    _record(conn, principal, "user.password_change", row, before)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def list_tokens(conn: Connection, *, principal: Principal,
                username: str | None = None) -> list[queries.TokenShown]:
    """Every token for an administrator (or one user's); one's own tokens for everyone else, or those
    of a reporter one manages."""
    if username is None and principal.may(Action.MANAGE_USERS):
        return queries.list_tokens(conn)
    if username is None or username == principal.username:
        if principal.user_id is None:
            return []
        return queries.list_tokens(conn, user_id=principal.user_id)
    return queries.list_tokens(conn, user_id=_target(conn, principal, username).id)


def revoke_token(conn: Connection, *, principal: Principal, token_id: int) -> queries.TokenShown:
    """Revoke a token: one's own, any for an administrator, a managed reporter's for district staff."""
    row = queries.token_row(conn, token_id)
    if row.user_id != principal.user_id:
        try:
            _target(conn, principal, row.username)
        except (NotFound, PermissionDenied):
            raise NotFound(M_("No API token {token_id}.", token_id=token_id)) from None
    if row.revoked:
        raise Conflict(M_("API token {token_id} is revoked already.", token_id=token_id))
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                 .values(revoked=True, revoked_at=_now(), revoked_by=principal.username[:64]))
    audit.record(conn, actor=principal.username, action="token.revoke", entity="api_token",
                 entity_key=str(token_id), before={"revoked": False},
                 after={"user": row.username, "label": row.label, "revoked": True})
    return next(t for t in queries.list_tokens(conn, user_id=row.user_id) if t.id == token_id)
