"""Assignments: one row per assigning party

An enrolment's due date, mandatory flag and assigner were the last assigner's: when two firms
that share a worker (an HR-service firm and the firm it placed the worker in) assigned the same
course, the second overwrote the first's (issue 12, hole 2). Each party — a firm, or the
consortium (firm_id NULL, party_key 0) — now has its own row; the enrolment keeps the
effective values (the earliest due date, mandatory if any is, the assigner of the earliest).

Backfill: one assignment per enrolment that was assigned — source other than 'self', or a due
date or the mandatory flag (an assignment to a self-enrolled worker set those and left the
source 'self') — with the enrolment's due date, flag, assigner and source, timed at its
enrolment. Its party:
- source 'consortium': the consortium;
- source 'firm' whose assigner holds a firm-admin membership in the consortium: that firm
  (the enrolment's firm first, then a firm the worker belongs to, then the lowest id);
- otherwise (a consortium admin on a firm's page, a recertification, a self-enrolled worker
  assigned a date, an unknown assigner): the enrolment's firm, the worker's, which is where the
  firm dashboards counted it so far; the consortium when the enrolment has no firm.
No figure changes at the upgrade: each enrolment gets exactly its own values once.

Revision ID: f156272e310b
Revises: d8128f254838
Create Date: 2026-12-07 14:54:01.027312

"""

import secrets
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

import lms.core.types

# revision identifiers, used by Alembic.
revision = "f156272e310b"
down_revision = "d8128f254838"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("consortium_id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=True),
        sa.Column("party_key", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("is_mandatory", sa.Boolean(), nullable=False),
        sa.Column("created_at", lms.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lms.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('firm', 'consortium', 'recert')", name=op.f("ck_assignments_source")
        ),
        sa.CheckConstraint(
            "party_key = coalesce(firm_id, 0)", name=op.f("ck_assignments_party_key")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"], ["users.id"], name=op.f("fk_assignments_assigned_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["consortium_id"], ["consortia.id"], name=op.f("fk_assignments_consortium_id_consortia")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_assignments_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollments.id"],
            name=op.f("fk_assignments_enrollment_id_enrollments"),
        ),
        sa.ForeignKeyConstraint(
            ["firm_id"], ["firms.id"], name=op.f("fk_assignments_firm_id_firms")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_assignments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint("enrollment_id", "party_key", name="uq_assignments_enrollment_party"),
        sa.UniqueConstraint("public_id", name=op.f("uq_assignments_public_id")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assignments_consortium_due",
            ["consortium_id", "due_on"],
            unique=False,
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_assignments_firm_due",
            ["firm_id", "due_on"],
            unique=False,
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        )
        batch_op.create_index(batch_op.f("ix_assignments_user_id"), ["user_id"], unique=False)

    _backfill(op.get_bind())


BATCH = 1000


def _backfill(bind) -> None:
    memberships = sa.table(
        "memberships",
        sa.column("user_id", sa.Integer),
        sa.column("consortium_id", sa.Integer),
        sa.column("firm_id", sa.Integer),
        sa.column("role", sa.String),
    )
    administered = defaultdict(set)  # (user, consortium) → firms they were a firm admin of
    belongs = defaultdict(set)  # (user, consortium) → firms they had any role in
    for user_id, consortium_id, firm_id, role in bind.execute(
        sa.select(
            memberships.c.user_id,
            memberships.c.consortium_id,
            memberships.c.firm_id,
            memberships.c.role,
        ).where(memberships.c.firm_id.is_not(None))
    ):
        belongs[(user_id, consortium_id)].add(firm_id)
        if role == "firm_admin":
            administered[(user_id, consortium_id)].add(firm_id)

    enrollments = sa.table(
        "enrollments",
        sa.column("id", sa.Integer),
        sa.column("consortium_id", sa.Integer),
        sa.column("firm_id", sa.Integer),
        sa.column("user_id", sa.Integer),
        sa.column("course_id", sa.Integer),
        sa.column("source", sa.String),
        sa.column("assigned_by_id", sa.Integer),
        sa.column("due_on", sa.Date),
        sa.column("is_mandatory", sa.Boolean),
        sa.column("enrolled_at", sa.DateTime(timezone=True)),
    )
    assignments = sa.table(
        "assignments",
        sa.column("public_id", sa.String),
        sa.column("consortium_id", sa.Integer),
        sa.column("firm_id", sa.Integer),
        sa.column("party_key", sa.Integer),
        sa.column("enrollment_id", sa.Integer),
        sa.column("user_id", sa.Integer),
        sa.column("course_id", sa.Integer),
        sa.column("assigned_by_id", sa.Integer),
        sa.column("source", sa.String),
        sa.column("due_on", sa.Date),
        sa.column("is_mandatory", sa.Boolean),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    e = enrollments.c
    assigned = sa.or_(e.source != "self", e.due_on.is_not(None), e.is_mandatory.is_(True))

    def party(row) -> int | None:
        if row.source == "consortium":
            return None
        firms = administered.get((row.assigned_by_id, row.consortium_id))
        if row.source == "firm" and firms:
            theirs = belongs.get((row.user_id, row.consortium_id), set())
            return min(firms, key=lambda f: (f != row.firm_id, f not in theirs, f))
        return row.firm_id

    after = 0
    while True:
        rows = bind.execute(
            sa.select(enrollments).where(e.id > after, assigned).order_by(e.id).limit(BATCH)
        ).all()
        if not rows:
            break
        values = []
        for row in rows:
            firm_id = party(row)
            source = row.source if row.source != "self" else "firm"
            if firm_id is None and source == "firm":
                source = "consortium"
            values.append(
                {
                    "public_id": secrets.token_urlsafe(16),
                    "consortium_id": row.consortium_id,
                    "firm_id": firm_id,
                    "party_key": firm_id or 0,
                    "enrollment_id": row.id,
                    "user_id": row.user_id,
                    "course_id": row.course_id,
                    "assigned_by_id": row.assigned_by_id,
                    "source": source,
                    "due_on": row.due_on,
                    "is_mandatory": bool(row.is_mandatory),
                    "created_at": row.enrolled_at,
                    "updated_at": row.enrolled_at,
                }
            )
        bind.execute(assignments.insert(), values)
        after = rows[-1].id


def downgrade():
    # The enrolments keep the effective values; the parties' own rows go.
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignments_user_id"))
        batch_op.drop_index(
            "ix_assignments_firm_due",
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_assignments_consortium_due",
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        )

    op.drop_table("assignments")
