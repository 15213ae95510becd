"""Listening sources: cursors and health per (query, source).

Revision ID: 0011_listening_sources
Revises: 0010_listening_queries
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_listening_sources"
down_revision = "0010_listening_queries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "listening_source_states",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "query_id",
            sa.Integer,
            sa.ForeignKey("listening_queries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source", sa.String(600), nullable=False),
        sa.Column("cursor", sa.Text, nullable=True),
        sa.Column("last_run_at", sa.DateTime, nullable=True),
        sa.Column("last_success_at", sa.DateTime, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("last_error_at", sa.DateTime, nullable=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("newest_post_at", sa.DateTime, nullable=True),
        sa.Column("fetched", sa.Integer, nullable=False),
        sa.Column("new", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.UniqueConstraint("query_id", "source", name="uq_listening_source_states"),
    )


def downgrade() -> None:
    op.drop_table("listening_source_states")
