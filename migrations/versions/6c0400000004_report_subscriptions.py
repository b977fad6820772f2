"""Monthly pilot report: who gets it by e-mail

Revision ID: 6c0400000004
Revises: 6c0300000003
Create Date: 2026-11-28 11:00:00

"""
from alembic import op
import sqlalchemy as sa

import lms.core.types


# revision identifiers, used by Alembic.
revision = '6c0400000004'
down_revision = '6c0300000003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_subscriptions',
    sa.Column('consortium_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', lms.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consortium_id'], ['consortia.id'], name=op.f('fk_report_subscriptions_consortium_id_consortia')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_report_subscriptions_user_id_users')),
    sa.PrimaryKeyConstraint('consortium_id', 'user_id', name=op.f('pk_report_subscriptions'))
    )


def downgrade():
    op.drop_table('report_subscriptions')
