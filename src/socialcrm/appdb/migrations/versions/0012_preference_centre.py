"""The preference centre: preferences, consent records, sign-ups awaiting confirmation,
used single-use tokens, and identity links (the linking work's table).

Revision ID: 0012_preference_centre
Revises: 0011_listening_sources
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_preference_centre"
down_revision = "0011_listening_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_preferences",
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("frequency", sa.String(16), nullable=True),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("social_sites", sa.JSON, nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("wording_version", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("synced", sa.Boolean, nullable=False),
    )
    op.create_index("ix_consent_records_person", "consent_records", ["customer_id", "recorded_at"])
    op.create_index("ix_consent_records_synced", "consent_records", ["synced", "id"])
    op.create_table(
        "signups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("wording_version", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("confirmed_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_signups_email", "signups", ["email"])
    op.create_table(
        "used_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("used_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "identity_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.String(200), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("handle", sa.String(320), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("verified_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_identity_links_person", "identity_links", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_identity_links_person", "identity_links")
    op.drop_table("identity_links")
    op.drop_table("used_tokens")
    op.drop_index("ix_signups_email", "signups")
    op.drop_table("signups")
    op.drop_index("ix_consent_records_synced", "consent_records")
    op.drop_index("ix_consent_records_person", "consent_records")
    op.drop_table("consent_records")
    op.drop_table("person_preferences")
