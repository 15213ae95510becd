"""Privacy rights: requests and erasure receipts (filled in by the privacy work).

Revision ID: 0013_privacy
Revises: 0012_preference_centre
Create Date: 2026-12-07
"""

revision = "0013_privacy"
down_revision = "0012_preference_centre"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
