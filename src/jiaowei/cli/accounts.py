"""``jiaowei user``, ``jiaowei token`` and ``jiaowei audit``: accounts and the audit chain."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.prompt import Prompt

from jiaowei.audit import reconcile
from jiaowei.audit import service as audit_service
from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM, Role
from jiaowei.cli.common import err, out, transaction
from jiaowei.errors import IntegrityError, Problem, ValidationError
from jiaowei.indicators.values.service import verify_imports

users = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
tokens = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
audit = typer.Typer(help="Check the audit log.", no_args_is_help=True)

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


@tokens.command("create")
def create_token(
    user: Annotated[str, typer.Option("--user", help="username the token acts as")],
    label: Annotated[str, typer.Option("--label", help="what the token is for")] = "",
) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    with transaction() as conn:
        token = auth.create_token(conn, principal=SYSTEM, username=user, label=label)
    err.print(f"API token for {user} (shown once; send it as 'Authorization: Bearer <token>'):",
              highlight=False)
    print(token)


@audit.command("verify")
def verify() -> None:
    """Check the audit hash chain, and that every data value write's history matches its digest."""
    with transaction() as conn:
        report = audit_service.verify(conn)
        broken = verify_imports(conn)
        mismatches = reconcile.reconcile(conn) if report.ok else []
    if not report.ok:
        raise IntegrityError(f"Audit chain broken at entry {report.first_bad_seq}: {report.reason} "
                             f"({report.entries} entries before it are intact).")
    if mismatches:
        raise IntegrityError(f"{len(mismatches)} live rows differ from the audit log:\n"
                             + reconcile.describe(mismatches))
    if broken:
        raise IntegrityError("Data value history does not match the audit log: " + "; ".join(broken[:20]))
    out.print(f"{report.entries} entries, chain intact; data value history matches.", highlight=False)
