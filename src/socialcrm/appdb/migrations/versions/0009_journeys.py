"""Journeys: a trigger, a wait, an action and an exit, and each person's enrolment.

Revision ID: 0009_journeys
Revises: 0008_campaign_sends
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_journeys"
down_revision = "0008_campaign_sends"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("segment", sa.String(100), nullable=True),
        sa.Column("min_score", sa.Float, nullable=True),
        sa.Column("wait_hours", sa.Float, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("action", sa.String(100), nullable=True),
        sa.Column("holdout_share", sa.Float, nullable=False),
        sa.Column("period_days", sa.Integer, nullable=False),
        sa.Column("window_days", sa.Integer, nullable=False),
        sa.Column("include_current", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("cursor", sa.DateTime, nullable=True),
        sa.Column("started_at", sa.DateTime, nullable=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "journey_enrolments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "journey_id",
            sa.Integer,
            sa.ForeignKey("journeys.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("campaign_id", sa.String(200), nullable=True),
        sa.Column("grp", sa.String(16), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("enrolled_at", sa.DateTime, nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=True),
        sa.Column("acted_at", sa.DateTime, nullable=True),
        sa.Column("outcome", sa.String(300), nullable=True),
        sa.Column("exited_at", sa.DateTime, nullable=True),
        sa.Column("exit_reason", sa.String(32), nullable=True),
        sa.Column("converted_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("journey_id", "customer_id", name="uq_journey_enrolments_person"),
    )
    op.create_index(
        "ix_journey_enrolments_due", "journey_enrolments", ["journey_id", "state", "due_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_journey_enrolments_due", "journey_enrolments")
    op.drop_table("journey_enrolments")
    op.drop_table("journeys")
