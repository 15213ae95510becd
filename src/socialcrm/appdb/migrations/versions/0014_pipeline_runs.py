"""Pipeline runs: each run's steps, durations, row counts and failures.

Revision ID: 0014_pipeline_runs
Revises: 0013_privacy
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_pipeline_runs"
down_revision = "0013_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_by", sa.String(100), nullable=False),
        sa.Column("steps_planned", sa.Integer, nullable=False),
        sa.Column("error", sa.String(2000), nullable=True),
    )
    op.create_index("ix_pipeline_runs_started_at", "pipeline_runs", ["started_at"])
    op.create_table(
        "pipeline_run_steps",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("pipeline_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("step", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.Column("rows", sa.JSON, nullable=True),
        sa.Column("detail", sa.String(2000), nullable=True),
    )
    op.create_index("ix_pipeline_run_steps_step", "pipeline_run_steps", ["step", "status"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_run_steps_step", "pipeline_run_steps")
    op.drop_table("pipeline_run_steps")
    op.drop_index("ix_pipeline_runs_started_at", "pipeline_runs")
    op.drop_table("pipeline_runs")
