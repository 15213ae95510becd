"""Collaborating: ideas, votes, contributors, history, merges, notifications, feedback
requests; webhook subscriptions, events, deliveries, attempts; notices.

Revision ID: 0004_collaborating
Revises: 0003_responding
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_collaborating"
down_revision = "0003_responding"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True)


def _idea_fk(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer, sa.ForeignKey("ideas.id"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "ideas",
        _id(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.String(5000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("public_reason", sa.String(1000), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_key", sa.String(300), nullable=True, unique=True),
        sa.Column("proposed", sa.Boolean, nullable=False),
        sa.Column("highlighted", sa.Boolean, nullable=False),
        _idea_fk("merged_into_id", nullable=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(
            "status in ('new','under_review','planned','in_progress','shipped','declined')",
            name="ck_ideas_status",
        ),
    )
    op.create_index("ix_ideas_status", "ideas", ["status"])
    op.create_table(
        "idea_contributors",
        _id(),
        _idea_fk("idea_id"),
        _idea_fk("origin_idea_id"),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("platform", sa.String(40), nullable=True),
        sa.Column("handle", sa.String(200), nullable=True),
        sa.Column("post_id", sa.String(200), nullable=True),
        sa.Column("influencer", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_idea_contributors_idea", "idea_contributors", ["idea_id"])
    op.create_table(
        "idea_votes",
        _id(),
        _idea_fk("idea_id"),
        _idea_fk("origin_idea_id"),
        sa.Column("voter", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("origin_idea_id", "voter", name="ux_idea_votes_origin_voter"),
    )
    op.create_index("ix_idea_votes_idea", "idea_votes", ["idea_id"])
    op.create_table(
        "idea_history",
        _id(),
        _idea_fk("idea_id"),
        _idea_fk("origin_idea_id"),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_idea_history_idea", "idea_history", ["idea_id"])
    op.create_table(
        "idea_merges",
        _id(),
        _idea_fk("source_id"),
        _idea_fk("target_id"),
        sa.Column("moved", sa.JSON, nullable=False),
        sa.Column("similarity", sa.Float, nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("undone_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "idea_notifications",
        _id(),
        _idea_fk("idea_id"),
        sa.Column(
            "contributor_id", sa.Integer, sa.ForeignKey("idea_contributors.id"), nullable=False
        ),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("message", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_idea_notifications_status", "idea_notifications", ["status"])
    op.create_table(
        "feedback_requests",
        _id(),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("liked", sa.String(2000), nullable=False),
        sa.Column("improve", sa.String(2000), nullable=False),
        _idea_fk("idea_id", nullable=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=False),
        sa.Column("answered_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "webhook_subscriptions",
        _id(),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("disabled_at", sa.DateTime, nullable=True),
        sa.Column("disabled_reason", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "webhook_events",
        _id(),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("source_key", sa.String(300), nullable=False, unique=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("fanned_out", sa.Boolean, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        _id(),
        sa.Column("delivery_id", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "subscription_id",
            sa.Integer,
            sa.ForeignKey("webhook_subscriptions.id"),
            nullable=False,
        ),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("webhook_events.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("delivered_at", sa.DateTime, nullable=True),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ux_webhook_deliveries_sub_event",
        "webhook_deliveries",
        ["subscription_id", "event_id"],
        unique=True,
    )
    op.create_table(
        "webhook_attempts",
        _id(),
        sa.Column(
            "delivery_id", sa.Integer, sa.ForeignKey("webhook_deliveries.id"), nullable=False
        ),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id"])
    op.create_table(
        "notices",
        _id(),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("target", sa.String(320), nullable=False),
        sa.Column("message", sa.String(1000), nullable=False),
        sa.Column("read_at", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("notices")
    op.drop_index("ix_webhook_attempts_delivery", "webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ux_webhook_deliveries_sub_event", "webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_subscriptions")
    op.drop_table("feedback_requests")
    op.drop_index("ix_idea_notifications_status", "idea_notifications")
    op.drop_table("idea_notifications")
    op.drop_table("idea_merges")
    op.drop_index("ix_idea_history_idea", "idea_history")
    op.drop_table("idea_history")
    op.drop_index("ix_idea_votes_idea", "idea_votes")
    op.drop_table("idea_votes")
    op.drop_index("ix_idea_contributors_idea", "idea_contributors")
    op.drop_table("idea_contributors")
    op.drop_index("ix_ideas_status", "ideas")
    op.drop_table("ideas")
