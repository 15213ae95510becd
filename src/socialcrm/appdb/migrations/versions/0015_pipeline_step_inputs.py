"""Pipeline run steps: the inputs each step depended on, for incremental runs.

Revision ID: 0015_pipeline_step_inputs
Revises: 0014_pipeline_runs
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_pipeline_step_inputs"
down_revision = "0014_pipeline_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_run_steps") as batch:
        batch.add_column(sa.Column("inputs", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_run_steps") as batch:
        batch.drop_column("inputs")
