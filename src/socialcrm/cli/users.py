"""``socialcrm users …``: accounts of the web app and REST API.

Passwords are never taken on the command line (shell history, ``ps``): they are asked
twice at a prompt, or read from standard input for scripts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypedDict, TypeVar

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from socialcrm.appdb.models import ROLES
from socialcrm.cli.common import err, opened, out

users_app = typer.Typer(
    help="Users, roles and API tokens of the web app.\n\nExample: socialcrm users list",
    no_args_is_help=True,
)
Role = Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
T = TypeVar("T")


class _UserRow(TypedDict):
    email: str
    role: str
    active: bool
    last_login_at: str | None


class _TokenRow(TypedDict):
    id: int
    user: str
    name: str
    prefix: str
    role: str
    revoked: bool


class _AuditRow(TypedDict):
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


def _run(fn: Callable[[Session], T]) -> T:
    """Run ``fn(session)`` in one transaction; account errors become one line on stderr."""
    from socialcrm.appdb.accounts import AccountError

    with opened(AccountError, workspace=False, session=True) as o:
        return fn(o.s)


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("create")
def create(
    email: Annotated[str, typer.Argument(help="The user's email (their sign-in name).")],
    role: Role = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user; the password is asked twice (at least 12 characters).

    Example: socialcrm users create --role admin ana@example.com
    """
    from socialcrm.appdb.accounts import create_user

    password = _password(password_stdin)
    user = _run(lambda s: create_user(s, email, password, role, actor="cli"))
    out.print(f"created {user.email} ({user.role})")


@users_app.command("list")
def list_(as_json: AsJson = False) -> None:
    """List users with their roles and last sign-in.

    Example: socialcrm users list --json
    """
    from socialcrm.appdb.accounts import list_users

    rows: list[_UserRow] = _run(
        lambda s: [
            {
                "email": u.email,
                "role": u.role,
                "active": u.active,
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in list_users(s)
        ]
    )
    if as_json:
        out.print_json(json.dumps(rows))
        return
    t = Table("email", "role", "active", "last sign-in")
    for r in rows:
        t.add_row(r["email"], r["role"], "yes" if r["active"] else "no", r["last_login_at"] or "")
    out.print(t)


@users_app.command("role")
def role_(email: str, role: Annotated[str, typer.Argument(help=", ".join(ROLES))]) -> None:
    """Change a user's role.

    Example: socialcrm users role ana@example.com analyst
    """
    from socialcrm.appdb.accounts import set_role

    user = _run(lambda s: set_role(s, email, role, actor="cli"))
    out.print(f"{user.email} is now {user.role}")


@users_app.command("disable")
def disable(email: str) -> None:
    """Disable a user: they cannot sign in and their tokens stop working.

    Example: socialcrm users disable ana@example.com
    """
    from socialcrm.appdb.accounts import set_active

    _run(lambda s: set_active(s, email, False, actor="cli"))
    out.print(f"{email} disabled")


@users_app.command("enable")
def enable(email: str) -> None:
    """Enable a disabled user again (their old tokens stay revoked).

    Example: socialcrm users enable ana@example.com
    """
    from socialcrm.appdb.accounts import set_active

    _run(lambda s: set_active(s, email, True, actor="cli"))
    out.print(f"{email} enabled")


@users_app.command("password")
def password(
    email: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a user's password (asked twice).

    Example: socialcrm users password ana@example.com
    """
    from socialcrm.appdb.accounts import set_password

    secret = _password(password_stdin)
    _run(lambda s: set_password(s, email, secret, actor="cli"))
    out.print(f"password of {email} changed")


@users_app.command("token")
def token(
    email: str,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "api",
    role: Annotated[
        str | None, typer.Option("--role", help="A lower role than the user's (default: same).")
    ] = None,
) -> None:
    """Create an API token for a user; it is printed once and stored only as a hash.

    Example: socialcrm users token ana@example.com --name crm-sync --role viewer
    """
    from socialcrm.appdb.accounts import create_token

    row, secret = _run(lambda s: create_token(s, email, name, role, actor="cli"))
    err.print(f"token {row.id} ({row.role}) for {email}; it is shown only once:")
    out.print(secret, highlight=False)


@users_app.command("tokens")
def tokens(
    email: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
    as_json: AsJson = False,
) -> None:
    """List API tokens (their prefix, never the secret).

    Example: socialcrm users tokens ana@example.com
    """
    from socialcrm.appdb.accounts import list_tokens

    rows: list[_TokenRow] = _run(
        lambda s: [
            {
                "id": t.id,
                "user": t.user.email,
                "name": t.name,
                "prefix": t.prefix,
                "role": t.role,
                "revoked": t.revoked_at is not None,
            }
            for t in list_tokens(s, email)
        ]
    )
    if as_json:
        out.print_json(json.dumps(rows))
        return
    t = Table("id", "user", "name", "prefix", "role", "revoked")
    for r in rows:
        t.add_row(
            str(r["id"]),
            r["user"],
            r["name"],
            r["prefix"] + "…",
            r["role"],
            "yes" if r["revoked"] else "",
        )
    out.print(t)


@users_app.command("revoke")
def revoke(token_id: Annotated[int, typer.Argument(help="Token id (see `users tokens`).")]) -> None:
    """Revoke an API token at once.

    Example: socialcrm users revoke 3
    """
    from socialcrm.appdb.accounts import revoke_token

    _run(lambda s: revoke_token(s, token_id, actor="cli"))
    out.print(f"token {token_id} revoked")


@users_app.command("audit")
def audit(
    limit: Annotated[int, typer.Option(help="Entries to show.")] = 50, as_json: AsJson = False
) -> None:
    """Show the audit log, newest first.

    Example: socialcrm users audit --limit 20
    """
    from sqlalchemy import select

    from socialcrm.appdb.models import AuditEntry

    rows: list[_AuditRow] = _run(
        lambda s: [
            {
                "at": a.at.isoformat(),
                "actor": a.actor,
                "action": a.action,
                "target": a.target,
                "detail": a.detail,
            }
            for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        ]
    )
    if as_json:
        out.print_json(json.dumps(rows))
        return
    t = Table("at (UTC)", "actor", "action", "target")
    for r in rows:
        t.add_row(r["at"][:19], r["actor"], r["action"], r["target"])
    out.print(t)
