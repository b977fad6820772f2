"""Import every domain's models so the metadata (and Alembic) sees all tables."""

from lms.audit.models import AuditRecord
from lms.auth.models import User, UserSession
from lms.certificates.models import Certificate, CertificateTemplate, SerialCounter
from lms.courses.models import (
    Course,
    CourseAssessor,
    CourseSkill,
    CourseVersion,
    Lesson,
    Module,
    Question,
)
from lms.jobs.models import Job
from lms.learning.models import Enrollment, LessonProgress, PracticalSignoff, QuizAttempt
from lms.notifications.models import Notification, NotificationPreference
from lms.reports.models import ReportCube, ReportState, ReportWorker
from lms.skills.models import RecommendationList, SkillEvidence
from lms.taxonomy.models import JobRole, RoleSkill, Skill, SkillCategory
from lms.tenancy.models import (
    Consortium,
    Firm,
    ImportBatch,
    ImportRow,
    Invitation,
    Membership,
)
from lms.transcripts.models import TrainingHours

__all__ = [
    "Certificate",
    "CertificateTemplate",
    "SerialCounter",
    "Course",
    "CourseAssessor",
    "CourseSkill",
    "CourseVersion",
    "Enrollment",
    "Job",
    "Lesson",
    "LessonProgress",
    "Module",
    "Notification",
    "NotificationPreference",
    "PracticalSignoff",
    "Question",
    "QuizAttempt",
    "RecommendationList",
    "ReportCube",
    "ReportState",
    "ReportWorker",
    "RoleSkill",
    "Skill",
    "SkillCategory",
    "SkillEvidence",
    "TrainingHours",
    "AuditRecord",
    "Consortium",
    "Firm",
    "ImportBatch",
    "ImportRow",
    "Invitation",
    "JobRole",
    "Membership",
    "User",
    "UserSession",
]
