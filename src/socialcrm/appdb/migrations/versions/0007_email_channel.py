"""The email channel: addressee columns on the outbox, email events, the suppression list.

Revision ID: 0007_email_channel
Revises: 0006_outbound_and_event_import
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_email_channel"
down_revision = "0006_outbound_and_event_import"
branch_labels = None
depends_on = None


STATUSES = "status in ('pending','sending','sent','skipped','dead')"
OLD_STATUSES = "status in ('pending','sent','dead')"


def upgrade() -> None:
    # Email adds two states: ``sending`` (committed before the SMTP call, so a crash in
    # between is seen) and ``skipped`` (suppressed or without consent at send time). The
    # CHECK constraint changes, which SQLite does by rebuilding the table (batch mode);
    # the new columns are nullable, so existing replies are copied as they are.
    with op.batch_alter_table("outbox") as b:
        b.drop_constraint("ck_outbox_status", type_="check")
        b.create_check_constraint("ck_outbox_status", STATUSES)
        b.add_column(sa.Column("recipient", sa.String(320), nullable=True))
        b.add_column(sa.Column("campaign_id", sa.String(200), nullable=True))
        b.add_column(sa.Column("customer_id", sa.String(200), nullable=True))
        b.add_column(sa.Column("message_id", sa.String(300), nullable=True))
        b.create_index("ix_outbox_message_id", ["message_id"])
        b.create_index("ix_outbox_campaign", ["campaign_id", "customer_id"])
    op.create_table(
        "email_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("campaign_id", sa.String(200), nullable=True),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column(
            "outbox_id", sa.Integer, sa.ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("detail", sa.String(2000), nullable=True),
        sa.Column("key", sa.String(300), nullable=True, unique=True),
        sa.Column("synced", sa.Boolean, nullable=False),
    )
    op.create_index("ix_email_events_synced", "email_events", ["synced", "id"])
    op.create_index("ix_email_events_campaign", "email_events", ["campaign_id", "kind"])
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("address", sa.String(320), nullable=False, unique=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("campaign_id", sa.String(200), nullable=True),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_index("ix_email_events_campaign", "email_events")
    op.drop_index("ix_email_events_synced", "email_events")
    op.drop_table("email_events")
    # items in the new states go back to the nearest old one
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'sending'")
    op.execute("UPDATE outbox SET status = 'dead' WHERE status = 'skipped'")
    with op.batch_alter_table("outbox") as b:
        b.drop_index("ix_outbox_campaign")
        b.drop_index("ix_outbox_message_id")
        for column in ("message_id", "customer_id", "campaign_id", "recipient"):
            b.drop_column(column)
        b.drop_constraint("ck_outbox_status", type_="check")
        b.create_check_constraint("ck_outbox_status", OLD_STATUSES)
