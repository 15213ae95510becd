"""Listening sources: cursors and health per (query, source) (filled in by the sources work).

Revision ID: 0011_listening_sources
Revises: 0010_listening_queries
Create Date: 2026-12-07
"""

revision = "0011_listening_sources"
down_revision = "0010_listening_queries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
