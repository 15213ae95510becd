"""Privacy rights: receipts of access and erasure, and people's own access requests.

Revision ID: 0013_privacy
Revises: 0012_preference_centre
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_privacy"
down_revision = "0012_preference_centre"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_receipts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("subject_hash", sa.String(64), nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
    )
    op.create_index("ix_privacy_receipts_subject", "privacy_receipts", ["subject_hash"])
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_hash", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("done_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_privacy_requests_status", "privacy_requests", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_privacy_requests_status", "privacy_requests")
    op.drop_table("privacy_requests")
    op.drop_index("ix_privacy_receipts_subject", "privacy_receipts")
    op.drop_table("privacy_receipts")
