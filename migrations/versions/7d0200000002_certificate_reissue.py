"""Certificate re-issue and revocation notices

A revoked certificate kept its enrolment's only certificate slot (the unique constraint
uq_certificates_enrollment), so nobody could issue a new one after a revocation (issue 13).
The constraint becomes a partial unique index, one live (not revoked) certificate per
enrolment; a revoked certificate names the one issued in its place (replaced_by_id) and keeps
the path of its revocation notice, the PDF stamped "REVOKED" (revocation_pdf_path).

Downgrade: the old constraint allows one certificate per enrolment, so the certificates that
were replaced by a later one of the same enrolment (all revoked) are deleted first; each
enrolment keeps its latest certificate.

Revision ID: 7d0200000002
Revises: 7d0100000001
Create Date: 2026-12-08 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7d0200000002"
down_revision = "7d0100000001"
branch_labels = None
depends_on = None

LIVE = "revoked_at IS NULL"


def upgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revocation_pdf_path", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("replaced_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_certificates_replaced_by_id_certificates"),
            "certificates",
            ["replaced_by_id"],
            ["id"],
        )
        batch_op.drop_constraint("uq_certificates_enrollment", type_="unique")
        batch_op.create_index(
            batch_op.f("ix_certificates_enrollment_id"), ["enrollment_id"], unique=False
        )
        batch_op.create_index(
            "uq_certificates_live_enrollment",
            ["enrollment_id"],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )


def downgrade():
    certificates = sa.table(
        "certificates", sa.column("id", sa.Integer), sa.column("enrollment_id", sa.Integer)
    )
    latest = sa.select(sa.func.max(certificates.c.id)).group_by(certificates.c.enrollment_id)
    op.execute(certificates.delete().where(certificates.c.id.not_in(latest)))
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_certificates_live_enrollment",
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
        batch_op.drop_index(batch_op.f("ix_certificates_enrollment_id"))
        batch_op.create_unique_constraint("uq_certificates_enrollment", ["enrollment_id"])
        batch_op.drop_constraint(
            batch_op.f("fk_certificates_replaced_by_id_certificates"), type_="foreignkey"
        )
        batch_op.drop_column("replaced_by_id")
        batch_op.drop_column("revocation_pdf_path")
