"""Monthly report snapshots and approval (issue 14)

A closed month's pilot report is kept as it was computed (monthly_reports: the report's data
per language, a digest of its figures) and, once a consortium admin approves it, is final: its
page and PDF come from here, and the signed PDF of each language is stored once
(pdf_paths). monthly_report_settings holds the consortium's seal image for those PDFs.

Revision ID: 7d0300000003
Revises: 7d0200000002
Create Date: 2026-12-08 12:00:00

"""

import sqlalchemy as sa
from alembic import op

import lms.core.types

# revision identifiers, used by Alembic.
revision = "7d0300000003"
down_revision = "7d0200000002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "monthly_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consortium_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("contexts", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("computed_at", lms.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("computed_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("approver_name", sa.String(length=80), nullable=True),
        sa.Column("approved_at", lms.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("seal_path", sa.String(length=300), nullable=True),
        sa.Column("pdf_paths", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approved_by_id"],
            ["users.id"],
            name=op.f("fk_monthly_reports_approved_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["computed_by_id"],
            ["users.id"],
            name=op.f("fk_monthly_reports_computed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["consortium_id"],
            ["consortia.id"],
            name=op.f("fk_monthly_reports_consortium_id_consortia"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_reports")),
        sa.UniqueConstraint("consortium_id", "month", name="uq_monthly_reports_month"),
    )
    op.create_table(
        "monthly_report_settings",
        sa.Column("consortium_id", sa.Integer(), nullable=False),
        sa.Column("seal_path", sa.String(length=300), nullable=True),
        sa.Column("updated_at", lms.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consortium_id"],
            ["consortia.id"],
            name=op.f("fk_monthly_report_settings_consortium_id_consortia"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_monthly_report_settings_updated_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("consortium_id", name=op.f("pk_monthly_report_settings")),
    )


def downgrade():
    op.drop_table("monthly_report_settings")
    op.drop_table("monthly_reports")
