"""Inbox actions: conversations turned into ideas, question templates, the resolution SLA
paused while waiting on the customer, queue filtering, and leases that let several
delivery workers share the outbox and the webhook deliveries without sending twice.

Revision ID: 0005_inbox_actions
Revises: 0004_collaborating
Create Date: 2026-11-24
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005_inbox_actions"
down_revision = "0004_collaborating"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_ideas",
        sa.Column(
            "conversation_id",
            sa.Integer,
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "idea_id", sa.Integer, sa.ForeignKey("ideas.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_conversation_ideas_idea", "conversation_ideas", ["idea_id"])
    # Plain ADD COLUMNs (no table rebuild on SQLite): nullable, or with a server default.
    op.add_column("conversations", sa.Column("waiting_since", sa.DateTime, nullable=True))
    op.add_column(
        "conversations",
        sa.Column("waiting_seconds", sa.Float, nullable=False, server_default="0"),
    )
    # Conversations already waiting start their pause now: time before is not known.
    op.get_bind().execute(
        sa.text("UPDATE conversations SET waiting_since = :now WHERE state = 'waiting'"),
        {"now": datetime.now(UTC).replace(tzinfo=None)},
    )
    op.create_index(
        "ix_conversations_queue", "conversations", ["queue", "is_open", "priority", "id"]
    )
    # the customer 360 lists a customer's conversations and ideas
    op.create_index("ix_conversations_customer", "conversations", ["customer_id"])
    op.create_index("ix_idea_contributors_customer", "idea_contributors", ["customer_id"])
    op.add_column(
        "saved_replies",
        sa.Column("is_question", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    for table in ("outbox", "webhook_deliveries"):
        op.add_column(table, sa.Column("lease_owner", sa.String(64), nullable=True))
        op.add_column(table, sa.Column("lease_until", sa.DateTime, nullable=True))


def downgrade() -> None:
    for table in ("webhook_deliveries", "outbox"):
        op.drop_column(table, "lease_until")
        op.drop_column(table, "lease_owner")
    op.drop_column("saved_replies", "is_question")
    op.drop_index("ix_idea_contributors_customer", "idea_contributors")
    op.drop_index("ix_conversations_customer", "conversations")
    op.drop_index("ix_conversations_queue", "conversations")
    op.drop_column("conversations", "waiting_seconds")
    op.drop_column("conversations", "waiting_since")
    op.drop_index("ix_conversation_ideas_idea", "conversation_ideas")
    op.drop_table("conversation_ideas")
