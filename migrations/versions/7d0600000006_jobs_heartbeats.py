"""Job heartbeats and attempts (issue 15)

A running job's worker stamps heartbeat_at; the reaper queues again (or fails) jobs whose
heartbeat stopped, counting attempts. Jobs of before this revision have neither.

Revision ID: 7d0600000006
Revises: 7d0500000005
Create Date: 2026-12-08 00:00:00

"""

import sqlalchemy as sa
from alembic import op

import lms.core.types

# revision identifiers, used by Alembic.
revision = "7d0600000006"
down_revision = "7d0500000005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("heartbeat_at", lms.core.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_jobs_state_heartbeat", ["state", "heartbeat_at"], unique=False)


def downgrade():
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_state_heartbeat")
        batch_op.drop_column("attempts")
        batch_op.drop_column("heartbeat_at")
