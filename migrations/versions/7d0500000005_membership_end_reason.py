"""Membership end reason and who ended it (issue 14)

A firm admin ends a membership with a reason (and a note for "other") and a date; the row keeps
why, by whom and when it was recorded, so the firm's former members and a person's history can
show it. Memberships ended before this revision keep NULLs (shown as "not recorded").

Revision ID: 7d0500000005
Revises: 7d0400000004
Create Date: 2026-12-08 12:00:00

"""

import sqlalchemy as sa
from alembic import op

import lms.core.types

# revision identifiers, used by Alembic.
revision = "7d0500000005"
down_revision = "7d0400000004"
branch_labels = None
depends_on = None

END_REASONS = ("left", "moved", "contract_ended", "other")


def upgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("ended_note", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("ended_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("ended_at", lms.core.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_memberships_ended_by_id_users"), "users", ["ended_by_id"], ["id"]
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_memberships_ended_reason"), f"ended_reason IN {END_REASONS!r}"
        )


def downgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_memberships_ended_reason"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_memberships_ended_by_id_users"), type_="foreignkey")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("ended_by_id")
        batch_op.drop_column("ended_note")
        batch_op.drop_column("ended_reason")
