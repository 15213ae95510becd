"""Campaign sends: the send log of campaigns (one row per ``campaign send`` or journey step).

Revision ID: 0008_campaign_sends
Revises: 0007_email_channel
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_campaign_sends"
down_revision = "0007_email_channel"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_sends",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.String(200), nullable=False),
        sa.Column("step", sa.String(100), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
    )
    op.create_index("ix_campaign_sends_campaign", "campaign_sends", ["campaign_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_sends_campaign", "campaign_sends")
    op.drop_table("campaign_sends")
