"""Saved listening queries (filled in by the listening-queries work).

Revision ID: 0010_listening_queries
Revises: 0009_journeys
Create Date: 2026-12-07
"""

revision = "0010_listening_queries"
down_revision = "0009_journeys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
