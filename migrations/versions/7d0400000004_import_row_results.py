"""Import validation results kept with the batch (issue 14)

Each row of an uploaded people file is checked once, at upload, and its outcome (normalised
values, errors by field, what saving does) is stored here; the preview pages through it.

Revision ID: 7d0400000004
Revises: 7d0300000003
Create Date: 2026-12-08 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7d0400000004"
down_revision = "7d0300000003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_import_rows_batch_id_import_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rows")),
        sa.UniqueConstraint("batch_id", "row", name="uq_import_rows_batch_row"),
    )
    with op.batch_alter_table("import_rows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_import_rows_batch_action_row", ["batch_id", "action", "row"], unique=False
        )


def downgrade():
    with op.batch_alter_table("import_rows", schema=None) as batch_op:
        batch_op.drop_index("ix_import_rows_batch_action_row")
    op.drop_table("import_rows")
