"""Accounts: creating users, checking passwords, issuing and revoking API tokens.

Passwords are hashed with argon2id (memory-hard: a stolen database is slow to crack).
API tokens are long random secrets, so a plain SHA-256 of them is enough at rest and
keeps each API call cheap; the secret itself is shown once and never stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.models import ROLES, ApiToken, AuditEntry, User, role_rank, utcnow

_HASHER = PasswordHasher()
# A hash of a throwaway password: unknown emails are checked against it so that a
# failed sign-in takes as long whether or not the account exists.
_DUMMY_HASH = _HASHER.hash("not a real password")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TOKEN_PREFIX = "scrm_"
MIN_PASSWORD = 12


class AccountError(ValueError):
    """A request about accounts that cannot be honoured (the message says why)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user, or a user acting through a token (with its role)."""

    user_id: int
    email: str
    role: str
    via_token: bool = False

    def can(self, role: str) -> bool:
        return role_rank(self.role) >= role_rank(role)


def audit(s: Session, actor: str, action: str, target: str = "", **detail: object) -> None:
    s.add(AuditEntry(actor=actor, action=action, target=target, detail=detail))


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role


def create_user(s: Session, email: str, password: str, role: str, actor: str = "cli") -> User:
    """Add a user; the email is lower-cased and must be new; the password long enough."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"not an email address: {email!r}")
    _check_role(role)
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if s.scalar(select(User).where(User.email == email)) is not None:
        raise AccountError(f"a user {email} already exists")
    user = User(email=email, role=role, password_hash=_HASHER.hash(password))
    s.add(user)
    s.flush()
    audit(s, actor, "user.create", email, role=role)
    return user


def set_role(s: Session, email: str, role: str, actor: str) -> User:
    user = get_user(s, email)
    old = user.role
    user.role = _check_role(role)
    audit(s, actor, "user.role", user.email, old=old, new=role)
    return user


def set_active(s: Session, email: str, active: bool, actor: str) -> User:
    user = get_user(s, email)
    user.active = active
    if not active:  # a disabled user's tokens stop working with them
        for t in user.tokens:
            t.revoked_at = t.revoked_at or utcnow()
    audit(s, actor, "user.enable" if active else "user.disable", user.email)
    return user


def set_password(s: Session, email: str, password: str, actor: str) -> User:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    user = get_user(s, email)
    user.password_hash = _HASHER.hash(password)
    audit(s, actor, "user.password", user.email)
    return user


def get_user(s: Session, email: str) -> User:
    user = s.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise AccountError(f"no user {email}")
    return user


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.email)))


def authenticate(s: Session, email: str, password: str) -> Principal | None:
    """The user if the password matches an active account, else None (and audited)."""
    email = email.strip().lower()
    user = s.scalar(select(User).where(User.email == email))
    ok: bool
    try:
        ok = _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not (ok and user is not None and user.active):
        audit(s, email or "?", "login.failed")
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.last_login_at = utcnow()
    audit(s, user.email, "login")
    return Principal(user.id, user.email, user.role)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    s: Session, email: str, name: str, role: str | None = None, actor: str = "cli"
) -> tuple[ApiToken, str]:
    """A new token for ``email``, never stronger than its user; returns (row, secret)."""
    user = get_user(s, email)
    role = _check_role(role or user.role)
    if role_rank(role) > role_rank(user.role):
        raise AccountError(f"a token cannot have more rights ({role}) than its user ({user.role})")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name, token_hash=_digest(secret), prefix=secret[:12], role=role
    )
    s.add(token)
    s.flush()
    audit(s, actor, "token.create", user.email, token_id=token.id, name=name, role=role)
    return token, secret


def revoke_token(s: Session, token_id: int, actor: str) -> ApiToken:
    token = s.get(ApiToken, token_id)
    if token is None:
        raise AccountError(f"no token {token_id}")
    token.revoked_at = token.revoked_at or utcnow()
    audit(s, actor, "token.revoke", token.user.email, token_id=token_id)
    return token


def list_tokens(s: Session, email: str | None = None) -> list[ApiToken]:
    q = select(ApiToken).order_by(ApiToken.id)
    if email:
        q = q.where(ApiToken.user_id == get_user(s, email).id)
    return list(s.scalars(q))


def token_principal(s: Session, secret: str) -> Principal | None:
    """Who a bearer token speaks for; None when unknown, revoked, or its user disabled."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = s.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    # A user demoted after the token was made: the token follows the lower role.
    role = min(token.role, token.user.role, key=role_rank)
    now = utcnow()
    # Note use at most once a minute: a write per API call would serialise readers on SQLite.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
    return Principal(token.user.id, token.user.email, role, via_token=True)


DEMO_ADMIN = "admin@demo.socialcrm.local"


def ensure_demo_admin(url: str) -> tuple[str, str] | None:
    """Create the demo's admin with a random password, once; (email, password) or None.

    The password is returned (to be printed once) and only its hash is kept. When the
    app database already has users, nothing is created.
    """
    from socialcrm.appdb.db import AppDB

    db = AppDB(url)
    try:
        with db.session() as s:
            if s.scalar(select(User.id).limit(1)) is not None:
                return None
            password = secrets.token_urlsafe(12)
            create_user(s, DEMO_ADMIN, password, "admin", actor="demo")
            return DEMO_ADMIN, password
    finally:
        db.close()
