"""Training hours (学时): a ledger of credited hours, backfilled from completed enrolments

Revision ID: 6c0200000002
Revises: 6c0100000001
Create Date: 2026-11-28 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import lms.core.types


# revision identifiers, used by Alembic.
revision = '6c0200000002'
down_revision = '6c0100000001'
branch_labels = None
depends_on = None


def _local_day(column: str) -> str:
    """SQL for the Asia/Shanghai date of a stored UTC timestamp (the app's default zone; China
    has kept UTC+8 without daylight saving since 1991, so "+8 hours" is exact for every
    completion the platform can hold).

    SQLite stores UTCDateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC; the seconds are cut
    before the shift because SQLite rounds microseconds to milliseconds (23:59:59.9999995
    would become the next day). PostgreSQL has timestamptz and the zone database.
    """
    if op.get_bind().dialect.name == 'postgresql':
        return f"CAST(({column} AT TIME ZONE 'Asia/Shanghai') AS DATE)"
    return f"DATE(SUBSTR({column}, 1, 19), '+8 hours')"


def _tenths(column: str) -> str:
    """SQL for a course's float hours as NUMERIC(6, 1): rounded to tenths, at most 99999.9."""
    if op.get_bind().dialect.name == 'postgresql':
        return f"CAST(LEAST({column}, 99999.9) AS NUMERIC(6, 1))"
    return f"ROUND(MIN({column}, 99999.9), 1)"


def upgrade():
    op.create_table('training_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consortium_id', sa.Integer(), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=True),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('session_ref', sa.String(length=64), nullable=True),
    sa.Column('hours', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('credited_on', sa.Date(), nullable=False),
    sa.Column('created_at', lms.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('course', 'session')", name=op.f('ck_training_hours_source')),
    sa.CheckConstraint(
        "(source = 'course' AND enrollment_id IS NOT NULL)"
        " OR (source = 'session' AND session_ref IS NOT NULL)",
        name=op.f('ck_training_hours_origin'),
    ),
    sa.CheckConstraint('hours > 0', name=op.f('ck_training_hours_hours')),
    sa.ForeignKeyConstraint(['consortium_id'], ['consortia.id'], name=op.f('fk_training_hours_consortium_id_consortia')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_training_hours_course_id_courses')),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_training_hours_enrollment_id_enrollments')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_training_hours_firm_id_firms')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_training_hours_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_hours')),
    sa.UniqueConstraint('enrollment_id', name='uq_training_hours_enrollment'),
    sa.UniqueConstraint('user_id', 'session_ref', name='uq_training_hours_user_session')
    )
    with op.batch_alter_table('training_hours', schema=None) as batch_op:
        batch_op.create_index('ix_training_hours_consortium_credited', ['consortium_id', 'credited_on'], unique=False)
        batch_op.create_index('ix_training_hours_firm_credited', ['firm_id', 'credited_on'], unique=False)
        batch_op.create_index('ix_training_hours_user_credited', ['user_id', 'credited_on'], unique=False)

    # Every enrolment completed before this revision earns its credit now, as the
    # course_completed signal does from here on: the completed version's hours, on the local
    # day of completion. Courses without hours credit nothing (the CHECK wants hours > 0).
    op.execute(
        "INSERT INTO training_hours (consortium_id, firm_id, user_id, source, enrollment_id,"
        " course_id, session_ref, hours, credited_on, created_at)"
        " SELECT e.consortium_id, e.firm_id, e.user_id, 'course', e.id, e.course_id, NULL,"
        f" {_tenths('v.hours')}, {_local_day('e.completed_at')}, CURRENT_TIMESTAMP"
        " FROM enrollments e JOIN course_versions v ON v.id = e.version_id"
        " WHERE e.status = 'completed' AND e.completed_at IS NOT NULL"
        " AND v.hours >= 0.05"
    )


def downgrade():
    with op.batch_alter_table('training_hours', schema=None) as batch_op:
        batch_op.drop_index('ix_training_hours_user_credited')
        batch_op.drop_index('ix_training_hours_firm_credited')
        batch_op.drop_index('ix_training_hours_consortium_credited')

    op.drop_table('training_hours')
