"""Course assessors: trainers a consortium admin designates to sign off a course's practicals

Until now only the authoring firm's trainers could sign off a practical task, so a course from
a firm without trainers could not be completed (issue 13).

Revision ID: 7d0100000001
Revises: f156272e310b
Create Date: 2026-12-07 17:45:00

"""

import sqlalchemy as sa
from alembic import op

import lms.core.types

# revision identifiers, used by Alembic.
revision = "7d0100000001"
down_revision = "f156272e310b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "course_assessors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("designated_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lms.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_assessors_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["designated_by_id"],
            ["users.id"],
            name=op.f("fk_course_assessors_designated_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_course_assessors_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_assessors")),
        sa.UniqueConstraint("course_id", "user_id", name="uq_course_assessors_person"),
    )
    with op.batch_alter_table("course_assessors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_course_assessors_course_id"), ["course_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_course_assessors_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("course_assessors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_assessors_user_id"))
        batch_op.drop_index(batch_op.f("ix_course_assessors_course_id"))
    op.drop_table("course_assessors")
