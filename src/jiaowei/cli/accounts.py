"""``jiaowei user`` and ``jiaowei token``: accounts."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.prompt import Prompt
from rich.table import Table

from jiaowei import clock
from jiaowei.auth import admin, queries
from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM, Role
from jiaowei.cli.common import err, out, transaction
from jiaowei.errors import Problem, ValidationError
from jiaowei.settings import get_settings

users = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
tokens = typer.Typer(help="Manage API tokens.", no_args_is_help=True)

ROLES = ", ".join(r.value for r in Role)
SCOPE_HELP = "capture scope: a unit where the user may write, with its descendants (repeatable)"
VIEW_HELP = "view scope: a unit the user may read, with its descendants (repeatable)"


@users.command("create")
def create_user(
    username: Annotated[str, typer.Option("--username", help="login name")],
    role: Annotated[str, typer.Option("--role", help=ROLES)],
    scope: Annotated[list[str] | None, typer.Option("--scope", help=SCOPE_HELP)] = None,
    view_scope: Annotated[list[str] | None, typer.Option("--view-scope", help=VIEW_HELP)] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")]
    = False,
    display_name: Annotated[str, typer.Option("--display-name")] = "",
) -> None:
    """Create a user (as the system administrator)."""
    password = _read_password(password_stdin)
    with transaction() as conn:
        principal = auth.create_user(conn, principal=SYSTEM, username=username, password=password, role=role,
                                     capture_scope=scope or [], view_scope=view_scope or [],
                                     display_name=display_name)
    out.print(f"Created user {principal.username} ({principal.role.value}).", highlight=False)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty() and not os.environ.get("CI"):
        password = Prompt.ask("Password", password=True, console=err)
        if Prompt.ask("Repeat password", password=True, console=err) != password:
            raise ValidationError("The passwords differ.", [Problem("passwords differ", field="password",
                                                                    expected="the same password twice")])
    else:
        raise ValidationError("No terminal to ask for the password.", [
            Problem("password missing", field="password",
                    expected="--password-stdin with the password on standard input")])
    return password


@users.command("list")
def list_users(
    q: Annotated[str | None, typer.Option("--search", help="part of the username or display name")] = None,
    role: Annotated[str | None, typer.Option("--role", help=ROLES)] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="users with a scope on this unit code")] = None,
) -> None:
    """List users: username, role, status, scopes."""
    with transaction(write=False) as conn:
        page = admin.list_users(conn, principal=SYSTEM, q=q, role=role, unit=unit, limit=queries.MAX_PAGE)
        rows, offset = list(page.items), page.limit
        while offset < page.total:
            more = admin.list_users(conn, principal=SYSTEM, q=q, role=role, unit=unit, offset=offset,
                                    limit=queries.MAX_PAGE)
            rows += more.items
            offset += more.limit
    table = Table("username", "role", "status", "capture scope", "view scope", "name")
    for u in rows:
        status = ("enabled" if u.active else "disabled") + (", must change password" if u.must_change_password
                                                             else "")
        table.add_row(u.username, u.role, status, " ".join(u.capture), " ".join(u.view), u.display_name)
    out.print(table)
    out.print(f"{len(rows)} users.", highlight=False)


@users.command("disable")
def disable_user(
    username: Annotated[str, typer.Argument(help="login name")],
    note: Annotated[str, typer.Option("--note", help="why, kept in the audit log")] = "",
) -> None:
    """Disable a user: their sessions end and their API tokens are refused at once."""
    with transaction() as conn:
        admin.set_active(conn, principal=SYSTEM, username=username, active=False, note=note)
    out.print(f"Disabled user {username}.", highlight=False)


@users.command("enable")
def enable_user(
    username: Annotated[str, typer.Argument(help="login name")],
    note: Annotated[str, typer.Option("--note", help="why, kept in the audit log")] = "",
) -> None:
    """Enable a disabled user again."""
    with transaction() as conn:
        admin.set_active(conn, principal=SYSTEM, username=username, active=True, note=note)
    out.print(f"Enabled user {username}.", highlight=False)


@users.command("set-role")
def set_role(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option("--role", help=ROLES)],
    scope: Annotated[list[str] | None, typer.Option("--scope", help=SCOPE_HELP + "; replaces the scope")]
    = None,
    view_scope: Annotated[list[str] | None, typer.Option("--view-scope", help=VIEW_HELP + "; replaces it")]
    = None,
) -> None:
    """Set a user's role; with --scope or --view-scope, replace those scopes too."""
    with transaction() as conn:
        shown = admin.change_user(conn, principal=SYSTEM, username=username, role=role,
                                  capture=scope, view=view_scope)
    out.print(f"User {shown.username}: {shown.role}; capture scope {' '.join(shown.capture) or '-'}; "
              f"view scope {' '.join(shown.view) or '-'}.", highlight=False)


@users.command("reset-password")
def reset_password(username: Annotated[str, typer.Argument(help="login name")]) -> None:
    """Give a user a one-time password, printed alone on the last line; they must change it at next login."""
    with transaction() as conn:
        one_time = admin.reset_password(conn, principal=SYSTEM, username=username)
    err.print(f"One-time password for {username} (shown once; they must change it when they log in):",
              highlight=False)
    print(one_time)


@tokens.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Option("--user", help="only this user's tokens")] = None,
) -> None:
    """List API tokens (never their secret), newest first."""
    with transaction(write=False) as conn:
        found = admin.list_tokens(conn, principal=SYSTEM, username=user)
    table = Table("id", "user", "label", "created", "expires", "last used", "status")
    for t in found:
        status = "revoked" if t.revoked else "expired" if t.expired else "active"
        table.add_row(str(t.id), t.username, t.label, clock.local(t.created_at)[:10],  # the commission's days
                      clock.local(t.expires_at)[:10], clock.local(t.last_used_at) or "-", status)
    out.print(table)


@tokens.command("revoke")
def revoke_token(
    token_id: Annotated[int, typer.Argument(help="the token's id (jiaowei token list)")],
) -> None:
    """Revoke an API token; it is refused from now on."""
    with transaction() as conn:
        admin.revoke_token(conn, principal=SYSTEM, token_id=token_id)
    out.print(f"Revoked API token {token_id}.", highlight=False)


@tokens.command("create")
def create_token(
    user: Annotated[str, typer.Option("--user", help="username the token acts as")],
    label: Annotated[str, typer.Option("--label", help="what the token is for")] = "",
    days: Annotated[int | None, typer.Option("--days", help="valid for this many days "
                                                  "(default: JIAOWEI_TOKEN_DAYS)")] = None,
) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    with transaction() as conn:
        token = auth.create_token(conn, principal=SYSTEM, username=user, label=label,
                                  days=days or get_settings().token_days)
    err.print(f"API token for {user} (shown once; send it as 'Authorization: Bearer <token>'):",
              highlight=False)
    print(token)
