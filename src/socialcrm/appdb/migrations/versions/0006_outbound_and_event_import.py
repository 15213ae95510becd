"""Webhooks: a per-subscription host allow flag (set by an admin), and an "imported" flag on
the inbox's events so webhook import is idempotent by row, not by a high-water mark.

Revision ID: 0006_outbound_and_event_import
Revises: 0005_inbox_actions
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_outbound_and_event_import"
down_revision = "0005_inbox_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs with a server default (no table rebuild on SQLite).
    op.add_column(
        "webhook_subscriptions",
        sa.Column("allow_host", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "events",
        sa.Column("webhook_imported", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    # Events already imported (by the high-water mark of earlier versions) stay imported.
    op.get_bind().execute(
        sa.text(
            "UPDATE events SET webhook_imported = :yes WHERE EXISTS (SELECT 1 FROM "
            "webhook_events w WHERE w.source_key = 'events:' || CAST(events.id AS VARCHAR(20)))"
        ),
        {"yes": True},
    )
    op.create_index("ix_events_webhook_imported", "events", ["webhook_imported", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_webhook_imported", "events")
    op.drop_column("events", "webhook_imported")
    op.drop_column("webhook_subscriptions", "allow_host")
