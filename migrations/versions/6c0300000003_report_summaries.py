"""Dashboards: summary tables, last activity of enrolments, evidence that raised a level

Revision ID: 6c0300000003
Revises: 6c0200000002
Create Date: 2026-11-28 10:40:00

"""
from alembic import op
import sqlalchemy as sa

import lms.core.types


# revision identifiers, used by Alembic.
revision = '6c0300000003'
down_revision = '6c0200000002'
branch_labels = None
depends_on = None

OPEN_DUE = "completed_at IS NULL AND withdrawn_at IS NULL AND due_on IS NOT NULL"
MANDATORY_DUE = f"is_mandatory IS true AND {OPEN_DUE}"


def upgrade():
    op.create_table('report_cube',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consortium_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('enrolled', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('certificates', sa.Integer(), nullable=False),
    sa.Column('hours', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['consortium_id'], ['consortia.id'], name=op.f('fk_report_cube_consortium_id_consortia')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_cube')),
    sa.UniqueConstraint('consortium_id', 'month', 'firm_id', 'course_id', name='uq_report_cube')
    )
    with op.batch_alter_table('report_cube', schema=None) as batch_op:
        batch_op.create_index('ix_report_cube_firm', ['consortium_id', 'firm_id', 'month'], unique=False)
    for name, key in (('report_firm_months', 'firm_id'), ('report_course_months', 'course_id')):
        op.create_table(name,
        sa.Column('enrolled', sa.Integer(), nullable=False),
        sa.Column('completed', sa.Integer(), nullable=False),
        sa.Column('certificates', sa.Integer(), nullable=False),
        sa.Column('hours', sa.Float(), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('consortium_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Integer(), nullable=False),
        sa.Column(key, sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['consortium_id'], ['consortia.id'], name=op.f(f'fk_{name}_consortium_id_consortia')),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}')),
        sa.UniqueConstraint('consortium_id', 'month', key, name=f'uq_{name}')
        )
    op.create_table('report_skill_months',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consortium_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('skill_id', sa.String(length=80), nullable=False),
    sa.Column('raises', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['consortium_id'], ['consortia.id'], name=op.f('fk_report_skill_months_consortium_id_consortia')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_skill_months')),
    sa.UniqueConstraint('consortium_id', 'month', 'firm_id', 'skill_id', name='uq_report_skill_months')
    )
    op.create_table('report_workers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consortium_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('enrolled_months', sa.Integer(), nullable=False),
    sa.Column('raised_months', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['consortium_id'], ['consortia.id'], name=op.f('fk_report_workers_consortium_id_consortia')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_workers')),
    sa.UniqueConstraint('consortium_id', 'year', 'firm_id', 'user_id', name='uq_report_workers')
    )
    with op.batch_alter_table('report_workers', schema=None) as batch_op:
        batch_op.create_index(
            'ix_report_workers_counts', ['consortium_id', 'year', 'firm_id'], unique=False,
            postgresql_include=['enrolled_months', 'raised_months'],
        )
    op.create_table('report_state',
    sa.Column('consortium_id', sa.Integer(), nullable=False),
    sa.Column('summarised_until', lms.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refreshed_at', lms.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consortium_id'], ['consortia.id'], name=op.f('fk_report_state_consortium_id_consortia')),
    sa.PrimaryKeyConstraint('consortium_id', name=op.f('pk_report_state'))
    )

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_active_at', lms.core.types.UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE enrollments SET last_active_at = "
        "(SELECT MAX(p.updated_at) FROM lesson_progress p WHERE p.enrollment_id = enrollments.id)"
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index('ix_enrollments_consortium_enrolled', ['consortium_id', 'enrolled_at'], unique=False)
        batch_op.create_index('ix_enrollments_consortium_completed', ['consortium_id', 'completed_at'], unique=False)
        batch_op.create_index('ix_enrollments_firm_enrolled', ['firm_id', 'enrolled_at'], unique=False)
        batch_op.create_index('ix_enrollments_firm_completed', ['firm_id', 'completed_at'], unique=False)
        batch_op.create_index('ix_enrollments_consortium_active', ['consortium_id', 'last_active_at', 'user_id'], unique=False)
        batch_op.create_index('ix_enrollments_firm_active', ['firm_id', 'last_active_at', 'user_id'], unique=False)
        batch_op.create_index(
            'ix_enrollments_open_due', ['consortium_id', 'due_on'], unique=False,
            sqlite_where=sa.text(OPEN_DUE), postgresql_where=sa.text(OPEN_DUE),
        )
        batch_op.create_index(
            'ix_enrollments_firm_open_due', ['firm_id', 'due_on'], unique=False,
            sqlite_where=sa.text(OPEN_DUE), postgresql_where=sa.text(OPEN_DUE),
        )
        batch_op.create_index(
            'ix_enrollments_mandatory_open_due', ['consortium_id', 'due_on', 'firm_id'], unique=False,
            sqlite_where=sa.text(MANDATORY_DUE), postgresql_where=sa.text(MANDATORY_DUE),
        )

    with op.batch_alter_table('skill_evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raises_level', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Verified evidence above every verified level held before it (ties broken by id).
    op.execute(
        "UPDATE skill_evidence SET raises_level = (is_verified AND level > COALESCE(("
        "SELECT MAX(p.level) FROM skill_evidence p WHERE p.user_id = skill_evidence.user_id "
        "AND p.skill_id = skill_evidence.skill_id AND p.is_verified "
        "AND (p.recorded_at < skill_evidence.recorded_at "
        "OR (p.recorded_at = skill_evidence.recorded_at AND p.id < skill_evidence.id))), 0))"
    )
    with op.batch_alter_table('skill_evidence', schema=None) as batch_op:
        batch_op.create_index('ix_skill_evidence_user_skill', ['user_id', 'skill_id'], unique=False)
        batch_op.create_index(
            'ix_skill_evidence_raised', ['recorded_at'], unique=False,
            sqlite_where=sa.text('raises_level IS true'), postgresql_where=sa.text('raises_level IS true'),
        )

    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_consortium_issued', ['consortium_id', 'issued_at'], unique=False)
        batch_op.create_index('ix_certificates_firm_issued', ['firm_id', 'issued_at'], unique=False)


def downgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_firm_issued')
        batch_op.drop_index('ix_certificates_consortium_issued')
    with op.batch_alter_table('skill_evidence', schema=None) as batch_op:
        batch_op.drop_index('ix_skill_evidence_raised', sqlite_where=sa.text('raises_level IS true'), postgresql_where=sa.text('raises_level IS true'))
        batch_op.drop_index('ix_skill_evidence_user_skill')
        batch_op.drop_column('raises_level')
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index('ix_enrollments_mandatory_open_due', sqlite_where=sa.text(MANDATORY_DUE), postgresql_where=sa.text(MANDATORY_DUE))
        batch_op.drop_index('ix_enrollments_firm_open_due', sqlite_where=sa.text(OPEN_DUE), postgresql_where=sa.text(OPEN_DUE))
        batch_op.drop_index('ix_enrollments_open_due', sqlite_where=sa.text(OPEN_DUE), postgresql_where=sa.text(OPEN_DUE))
        batch_op.drop_index('ix_enrollments_firm_active')
        batch_op.drop_index('ix_enrollments_consortium_active')
        batch_op.drop_index('ix_enrollments_firm_completed')
        batch_op.drop_index('ix_enrollments_firm_enrolled')
        batch_op.drop_index('ix_enrollments_consortium_completed')
        batch_op.drop_index('ix_enrollments_consortium_enrolled')
        batch_op.drop_column('last_active_at')
    op.drop_table('report_skill_months')
    op.drop_table('report_course_months')
    op.drop_table('report_firm_months')
    op.drop_table('report_state')
    op.drop_table('report_workers')
    op.drop_table('report_cube')
