"""A catalogue stamp per consortium (issue 16)

`consortia.catalogue_stamp` takes a new random value whenever the consortium's published
catalogue changes (a version published, the skills it is indexed with changed). Every app
process keeps the catalogue in memory under the stamp it was built with and rebuilds it when
the stamp it reads with the signed-in user's memberships differs: no process serves a stale
catalogue, and none rebuilds it per request. Existing consortia start at 0.

Revision ID: 7d0800000008
Revises: 7d0700000007
Create Date: 2026-12-08 03:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7d0800000008"
down_revision = "7d0700000007"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (SQLite can add a NOT NULL column with a constant default): no copy
    # of the table, which the rows of every other table point to.
    op.add_column(
        "consortia",
        sa.Column("catalogue_stamp", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade():
    op.drop_column("consortia", "catalogue_stamp")  # SQLite 3.35+: no copy of the table
