"""Import every domain's models so the metadata (and Alembic) sees all tables."""

from lms.audit.models import AuditRecord
from lms.auth.models import Invitation, User, UserSession
from lms.tenancy.models import Consortium, Firm, ImportBatch, Membership

__all__ = [
    "AuditRecord",
    "Consortium",
    "Firm",
    "ImportBatch",
    "Invitation",
    "Membership",
    "User",
    "UserSession",
]
