"""Saved listening queries: a name, Boolean terms, sources, a language, needs a response.

Revision ID: 0010_listening_queries
Revises: 0009_journeys
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_listening_queries"
down_revision = "0009_journeys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "listening_queries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("lang", sa.String(16), nullable=True),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("needs_response", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("listening_queries")
