"""Notification kinds for assignments and course review: in-app opt-outs per kind

Revision ID: 6c0100000001
Revises: 057d78a7c081
Create Date: 2026-11-28 10:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6c0100000001'
down_revision = '057d78a7c081'
branch_labels = None
depends_on = None


def upgrade():
    # Existing preferences keep every kind on in the app.
    with op.batch_alter_table('notification_preferences', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('app_off', sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade():
    with op.batch_alter_table('notification_preferences', schema=None) as batch_op:
        batch_op.drop_column('app_off')
