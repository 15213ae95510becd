"""Responding: conversations, their messages and notes, saved replies, the outbox,
connector cursors, agent topics and domain events.

Revision ID: 0003_responding
Revises: 0002_programs
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_responding"
down_revision = "0002_programs"
branch_labels = None
depends_on = None

STATES = "('new','open','waiting','resolved','closed')"


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(400), nullable=False, unique=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("author_handle", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("topic_id", sa.Integer, nullable=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("is_open", sa.Boolean, nullable=False),
        sa.Column(
            "assignee_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("priority", sa.Float, nullable=False),
        sa.Column("priority_parts", sa.JSON, nullable=False),
        sa.Column("sentiment_score", sa.Float, nullable=True),
        sa.Column("intent", sa.String(32), nullable=True),
        sa.Column("influence", sa.Float, nullable=True),
        sa.Column("clv", sa.Float, nullable=True),
        sa.Column("risk_band", sa.String(16), nullable=True),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("first_message_at", sa.DateTime, nullable=False),
        sa.Column("last_message_at", sa.DateTime, nullable=False),
        sa.Column("first_response_due", sa.DateTime, nullable=False),
        sa.Column("resolution_due", sa.DateTime, nullable=False),
        sa.Column("first_response_at", sa.DateTime, nullable=True),
        sa.Column("resolved_at", sa.DateTime, nullable=True),
        sa.Column("closed_at", sa.DateTime, nullable=True),
        sa.Column("first_response_breached", sa.Boolean, nullable=False),
        sa.Column("resolution_breached", sa.Boolean, nullable=False),
        sa.Column("sentiment_after", sa.Float, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(f"state in {STATES}", name="ck_conversations_state"),
    )
    # The inbox list reads one of these in priority order and stops after a page.
    op.create_index(
        "ix_conversations_open_priority", "conversations", ["is_open", "priority", "id"]
    )
    op.create_index("ix_conversations_state_priority", "conversations", ["state", "priority", "id"])
    op.create_index(
        "ix_conversations_assignee", "conversations", ["assignee_id", "is_open", "priority", "id"]
    )
    op.create_index("ix_conversations_author", "conversations", ["platform", "author_handle"])
    op.create_table(
        "conversation_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Integer,
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("post_id", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("author_handle", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("reply_to_post_id", sa.String(200), nullable=True),
        sa.Column("sentiment_score", sa.Float, nullable=True),
        sa.Column("intent", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("platform", "post_id", name="uq_conversation_messages_post"),
        sa.CheckConstraint("direction in ('in','out')", name="ck_conversation_messages_dir"),
    )
    op.create_index(
        "ix_conversation_messages_conv", "conversation_messages", ["conversation_id", "created_at"]
    )
    op.create_table(
        "conversation_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Integer,
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("author", sa.String(320), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_conversation_notes_conv", "conversation_notes", ["conversation_id"])
    op.create_table(
        "saved_replies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column(
            "conversation_id",
            sa.Integer,
            sa.ForeignKey("conversations.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("connector", sa.String(32), nullable=False),
        sa.Column("in_reply_to", sa.String(200), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=True),
        sa.CheckConstraint("status in ('pending','sent','dead')", name="ck_outbox_status"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "connector_cursors",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "agent_topics",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("topic_id", sa.Integer, primary_key=True),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_events_kind", "events", ["kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_kind", "events")
    op.drop_table("events")
    op.drop_table("agent_topics")
    op.drop_table("connector_cursors")
    op.drop_index("ix_outbox_due", "outbox")
    op.drop_table("outbox")
    op.drop_table("saved_replies")
    op.drop_index("ix_conversation_notes_conv", "conversation_notes")
    op.drop_table("conversation_notes")
    op.drop_index("ix_conversation_messages_conv", "conversation_messages")
    op.drop_table("conversation_messages")
    op.drop_index("ix_conversations_author", "conversations")
    op.drop_index("ix_conversations_assignee", "conversations")
    op.drop_index("ix_conversations_state_priority", "conversations")
    op.drop_index("ix_conversations_open_priority", "conversations")
    op.drop_table("conversations")
