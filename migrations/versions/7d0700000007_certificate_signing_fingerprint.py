"""The fingerprint of the key that signed each certificate (issue 15)

Each certificate keeps the SHA-256 fingerprint (64 hex digits) of the signing certificate its
PDF was signed with, so the verification page shows the key that really signed it, also after
the consortium's key changed. Rows whose PDF exists are filled in from the consortium's current
key file when the app's key folder has one (the key that signed them, unless it was replaced
by hand); the others stay NULL.

Revision ID: 7d0700000007
Revises: 7d0600000006
Create Date: 2026-12-08 00:00:00

"""

import base64
import hashlib
import re
from pathlib import Path

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7d0700000007"
down_revision = "7d0600000006"
branch_labels = None
depends_on = None

_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


def _key_dir() -> Path | None:
    """The app's signing-key folder, or None outside an app (plain alembic)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    configured = current_app.config.get("LMS_SIGNING_KEY_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "keys"


def _backfill() -> None:
    folder = _key_dir()
    if folder is None or not folder.is_dir():
        return
    certificates = sa.table(
        "certificates",
        sa.column("consortium_id", sa.Integer),
        sa.column("pdf_sha256", sa.String),
        sa.column("signing_fingerprint", sa.String),
    )
    connection = op.get_bind()
    consortia = connection.scalars(
        sa.select(certificates.c.consortium_id)
        .where(certificates.c.pdf_sha256.is_not(None))
        .distinct()
    ).all()
    for consortium_id in consortia:
        try:
            match = _PEM_CERTIFICATE.search(
                (folder / f"consortium-{consortium_id}.pem").read_bytes()
            )
        except OSError:
            continue
        if match is None:
            continue
        digest = hashlib.sha256(base64.b64decode(match[1])).hexdigest().upper()
        connection.execute(
            certificates.update()
            .where(
                certificates.c.consortium_id == consortium_id,
                certificates.c.pdf_sha256.is_not(None),
                certificates.c.signing_fingerprint.is_(None),
            )
            .values(signing_fingerprint=digest)
        )


def upgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signing_fingerprint", sa.String(length=64), nullable=True))
    _backfill()


def downgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_column("signing_fingerprint")
