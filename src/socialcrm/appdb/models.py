"""Tables of the app database. Schema changes go through a migration in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Least privilege, lowest first: a viewer sees aggregates and masked contacts; an agent
# also sees contacts (they answer customers); an analyst reads and exports everything;
# an admin also manages users and tokens.
ROLES: tuple[str, ...] = ("viewer", "agent", "analyst", "admin")


def role_rank(role: str) -> int:
    return ROLES.index(role)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(Base):
    """A bearer token for the REST API. Only its SHA-256 is stored: the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class AuditEntry(Base):
    """Who changed what, and when. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(320), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


# -- programs: referrals and loyalty (issue 7, parts 4 and 5) ---------------------------
class ReferralCode(Base):
    """A customer's referral code: random, stored, so it is stable and unguessable."""

    __tablename__ = "referral_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferralEntry(Base):
    """One decision on one referred order: rewarded, or refused with its reason.

    ``order_id`` is unique: an order is decided once, so replaying files changes nothing.
    """

    __tablename__ = "referral_ledger"
    __table_args__ = (Index("ix_referral_ledger_referrer", "referrer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str] = mapped_column(String(16))
    referrer_id: Mapped[str | None] = mapped_column(String(200))
    buyer_id: Mapped[str | None] = mapped_column(String(200))
    order_amount: Mapped[float | None] = mapped_column(Float)
    order_currency: Mapped[str | None] = mapped_column(String(3))
    ordered_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(500))
    reward: Mapped[float] = mapped_column(Float, default=0.0)
    reward_currency: Mapped[str] = mapped_column(String(3))
    via: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoyaltyEntry(Base):
    """One line of the points ledger, traceable to the event that caused it.

    ``event_key`` (``order:A17``, ``reshare:twitter:123``) is unique: replaying the same
    orders or events awards nothing twice. Refused awards stay with 0 points and a note.
    """

    __tablename__ = "loyalty_ledger"
    __table_args__ = (Index("ix_loyalty_ledger_customer", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    event_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    points: Mapped[int]
    occurred_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
