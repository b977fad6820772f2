"""Certificates: a random public verification code and a random Open Badges salt

Serials count up, so they can be listed; the verification page is now opened by a random code
printed next to the serial, and the hashed badge recipient is salted per certificate. Existing
certificates get theirs here, one row at a time.

Revision ID: d8128f254838
Revises: 6c0400000004
Create Date: 2026-11-29 09:00:00

"""

import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d8128f254838"
down_revision = "6c0400000004"
branch_labels = None
depends_on = None

# As lms/certificates/codes.py at the time of writing (a migration doesn't import app code,
# which may change later): 12 characters of Crockford's base32, 60 random bits.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12


def _code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def upgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_code", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("badge_salt", sa.String(length=32), nullable=True))

    certificates = sa.table(
        "certificates",
        sa.column("id", sa.Integer),
        sa.column("public_code", sa.String),
        sa.column("badge_salt", sa.String),
    )
    bind = op.get_bind()
    ids = bind.execute(sa.select(certificates.c.id).order_by(certificates.c.id)).scalars().all()
    used = set()
    for cert_id in ids:
        code = _code()
        while code in used:
            code = _code()
        used.add(code)
        bind.execute(
            certificates.update()
            .where(certificates.c.id == cert_id)
            .values(public_code=code, badge_salt=secrets.token_hex(16))
        )

    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.alter_column("public_code", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("badge_salt", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_certificates_public_code"), ["public_code"]
        )


def downgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_certificates_public_code"), type_="unique")
        batch_op.drop_column("badge_salt")
        batch_op.drop_column("public_code")
