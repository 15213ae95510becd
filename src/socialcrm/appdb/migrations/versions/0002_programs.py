"""Programs: referral codes, the referral ledger and the loyalty points ledger.

Revision ID: 0002_programs
Revises: 0001_accounts
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_programs"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_codes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False, unique=True),
        sa.Column("code", sa.String(16), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "referral_ledger",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.String(200), nullable=False, unique=True),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("referrer_id", sa.String(200), nullable=True),
        sa.Column("buyer_id", sa.String(200), nullable=True),
        sa.Column("order_amount", sa.Float, nullable=True),
        sa.Column("order_currency", sa.String(3), nullable=True),
        sa.Column("ordered_at", sa.DateTime, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("detail", sa.String(500), nullable=True),
        sa.Column("reward", sa.Float, nullable=False),
        sa.Column("reward_currency", sa.String(3), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("status in ('rewarded','refused')", name="ck_referral_ledger_status"),
    )
    op.create_index("ix_referral_ledger_referrer", "referral_ledger", ["referrer_id"])
    op.create_table(
        "loyalty_ledger",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("event_key", sa.String(300), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("note", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_loyalty_ledger_customer", "loyalty_ledger", ["customer_id", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_loyalty_ledger_customer", "loyalty_ledger")
    op.drop_table("loyalty_ledger")
    op.drop_index("ix_referral_ledger_referrer", "referral_ledger")
    op.drop_table("referral_ledger")
    op.drop_table("referral_codes")
