"""Training hours and transcripts: crediting hours (the only place that writes them), the
period aggregates the reports read, and a worker's transcript as data and as PDF."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace

from flask_babel import force_locale, format_date, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, distinct, func, select
from sqlalchemy.exc import IntegrityError

from lms.audit.service import record_action
from lms.auth.models import User
from lms.certificates.codes import format_code
from lms.certificates.models import Certificate
from lms.core.types import local_date, local_today
from lms.courses.models import CourseVersion
from lms.extensions import db
from lms.learning.models import STATUS_LABELS, Enrollment
from lms.tenancy.models import Consortium, Firm, Membership
from lms.tenancy.scope import people_filter
from lms.transcripts.models import TrainingHours

PDF_DIR = Path(__file__).parent / "pdf"
MAX_HOURS = Decimal("99999.9")  # NUMERIC(6, 1)
TENTH = Decimal("0.1")


class HoursError(ValueError):
    """A user-facing, translated reason why hours can't be credited; `field` names the input."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field


# --- dates and periods ------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Days from `start` to `end`, both included."""

    start: date
    end: date

    @classmethod
    def year_of(cls, day: date) -> Period:
        return cls(date(day.year, 1, 1), date(day.year, 12, 31))

    def params(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    @classmethod
    def from_params(cls, params: dict) -> Period:
        return cls(date.fromisoformat(params["from"]), date.fromisoformat(params["to"]))


def this_year() -> Period:
    return Period.year_of(local_today())


# --- crediting --------------------------------------------------------------------------------


def _tenths(value) -> Decimal:
    return Decimal(str(value)).quantize(TENTH, rounding=ROUND_HALF_UP)


def credit_of(enrollment) -> TrainingHours | None:
    """The hours credited for one completion (an enrolment)."""
    return db.session.scalars(
        select(TrainingHours).where(TrainingHours.enrollment_id == enrollment.id)
    ).first()


def _insert(credit: TrainingHours, winner) -> TrainingHours:
    """Add the credit; if a racing transaction added the same one first, return that one."""
    try:
        with db.session.begin_nested():
            db.session.add(credit)
            db.session.flush()
    except IntegrityError:
        existing = winner()
        if existing is None:
            raise
        return existing
    return credit


def credit_course_hours(enrollment) -> TrainingHours | None:
    """Credit the completed version's hours, once per enrolment (whatever the number of calls
    or races); None when the enrolment isn't completed or the course has no hours.

    A recertification is a new enrolment: it credits again, as it is new training.
    """
    existing = credit_of(enrollment)
    if existing is not None:
        return existing
    if enrollment.status != "completed" or enrollment.completed_at is None:
        return None
    version = db.session.get(CourseVersion, enrollment.version_id)
    hours = min(_tenths(version.hours or 0), MAX_HOURS)
    if hours <= 0:
        return None
    credit = TrainingHours(
        consortium_id=enrollment.consortium_id,
        firm_id=enrollment.firm_id,
        user_id=enrollment.user_id,
        source="course",
        enrollment_id=enrollment.id,
        course_id=enrollment.course_id,
        hours=hours,
        credited_on=local_date(enrollment.completed_at),
    )
    return _insert(credit, lambda: credit_of(enrollment))


def session_credit(user, session_ref: str) -> TrainingHours | None:
    return db.session.scalars(
        select(TrainingHours).where(
            TrainingHours.user_id == user.id, TrainingHours.session_ref == session_ref
        )
    ).first()


def credit_session_hours(
    actor, user, firm: Firm, hours, session_ref: str, on: date
) -> TrainingHours:
    """Credit the hours of an attended in-person session (`session_ref` names it), once per
    worker and session: a repeated call returns the first credit unchanged."""
    ref = (session_ref or "").strip()
    if not ref or len(ref) > 64:
        raise HoursError(
            _l("Session: give its reference, at most 64 characters."), field="session_ref"
        )
    try:
        value = _tenths(hours)
    except (InvalidOperation, ValueError, TypeError):
        raise HoursError(_l("Hours: enter a number such as 2 or 1.5."), field="hours") from None
    if not value.is_finite() or value <= 0 or value > MAX_HOURS:
        raise HoursError(_l("Hours: enter more than 0 and at most 99999.9."), field="hours")
    if not isinstance(on, date):
        raise HoursError(_l("Date: enter the day of the session."), field="on")
    existing = session_credit(user, ref)
    if existing is not None:
        return existing
    credit = TrainingHours(
        consortium_id=firm.consortium_id,
        firm_id=firm.id,
        user_id=user.id,
        source="session",
        session_ref=ref,
        hours=value,
        credited_on=on,
    )
    credit = _insert(credit, lambda: session_credit(user, ref))
    record_action(
        actor,
        "hours.credit_session",
        credit,
        consortium_id=firm.consortium_id,
        details={"user": user.public_id, "firm": firm.id, "session": ref, "hours": str(value)},
    )
    return credit


def connect_signals() -> None:
    from lms.learning.service import course_completed

    course_completed.connect(_on_course_completed, weak=False)


def _on_course_completed(enrollment, **_kw) -> None:
    credit_course_hours(enrollment)


# --- period aggregates (SQL only; indexed by (firm_id | consortium_id, credited_on)) ----------


def _conditions(within: Firm | Consortium, period: Period, firm_id: int | None = None) -> list:
    cond = [TrainingHours.credited_on >= period.start, TrainingHours.credited_on <= period.end]
    if isinstance(within, Firm):
        cond += [
            TrainingHours.firm_id == within.id,
            TrainingHours.consortium_id == within.consortium_id,
        ]
    else:
        cond.append(TrainingHours.consortium_id == within.id)
        if firm_id is not None:
            cond.append(TrainingHours.firm_id == firm_id)
    return cond


def hours_by_worker(
    within: Firm | Consortium, period: Period, *, firm_id: int | None = None
) -> Select:
    """Per worker with credits in the period: (user_id, public_id, name, hours, courses,
    sessions), by name. A firm's figures are the credits earned for that firm (its workers
    who have since left included: the training was the firm's)."""
    return (
        select(
            User.id.label("user_id"),
            User.public_id,
            User.name,
            func.sum(TrainingHours.hours).label("hours"),
            func.count(TrainingHours.enrollment_id).label("courses"),
            func.count(TrainingHours.session_ref).label("sessions"),
        )
        .select_from(TrainingHours)
        .join(User, User.id == TrainingHours.user_id)
        .where(*_conditions(within, period, firm_id))
        .group_by(User.id, User.public_id, User.name)
        .order_by(User.name, User.id)
    )


def hours_totals(within: Firm | Consortium, period: Period, *, firm_id: int | None = None):
    """(hours, workers, credits, courses) of the period, as one row."""
    return db.session.execute(
        select(
            func.coalesce(func.sum(TrainingHours.hours), 0).label("hours"),
            func.count(distinct(TrainingHours.user_id)).label("workers"),
            func.count().label("credits"),
            func.count(TrainingHours.enrollment_id).label("courses"),
        ).where(*_conditions(within, period, firm_id))
    ).one()


def hours_by_firm(consortium: Consortium, period: Period, *, firm_id: int | None = None) -> list:
    """Per firm of the consortium (all of them, by name; or just `firm_id`): hours, workers
    and credits of the period; credits earned without a firm come last (firm None)."""
    grouped = db.session.execute(
        select(
            TrainingHours.firm_id,
            func.sum(TrainingHours.hours),
            func.count(distinct(TrainingHours.user_id)),
            func.count(),
        )
        .where(*_conditions(consortium, period, firm_id))
        .group_by(TrainingHours.firm_id)
    ).all()
    figures = {fid: (hours, workers, credits) for fid, hours, workers, credits in grouped}
    query = select(Firm).where(Firm.consortium_id == consortium.id).order_by(Firm.name, Firm.id)
    if firm_id is not None:
        query = query.where(Firm.id == firm_id)
    zero = (Decimal("0.0"), 0, 0)
    rows = [
        SimpleNamespace(firm=f, hours=h, workers=w, credits=c)
        for f in db.session.scalars(query)
        for h, w, c in [figures.get(f.id, zero)]
    ]
    if None in figures:
        h, w, c = figures[None]
        rows.append(SimpleNamespace(firm=None, hours=h, workers=w, credits=c))
    return rows


def current_members(firm: Firm, user_ids) -> set[int]:
    """Which of `user_ids` are current members of `firm` (their transcripts can be opened)."""
    ids = list(user_ids)
    if not ids:
        return set()
    return set(db.session.scalars(select(User.id).where(User.id.in_(ids), people_filter(firm))))


def credit_rows(within: Firm | Consortium, period: Period, *, firm_id: int | None = None):
    """One row per credit, for a subsidy claim: (name, mobile, employee_no, firm, course or
    session, source, hours, credited_on, certificate serial), by worker and date."""
    employee_no = (
        select(func.max(Membership.employee_no))
        .where(
            Membership.user_id == TrainingHours.user_id,
            Membership.firm_id == TrainingHours.firm_id,
        )
        .correlate(TrainingHours)
        .scalar_subquery()
    )
    return (
        select(
            User.name,
            User.mobile,
            employee_no.label("employee_no"),
            Firm.name.label("firm"),
            func.coalesce(CourseVersion.title, TrainingHours.session_ref).label("title"),
            TrainingHours.source,
            TrainingHours.hours,
            TrainingHours.credited_on,
            Certificate.serial,
        )
        .select_from(TrainingHours)
        .join(User, User.id == TrainingHours.user_id)
        .outerjoin(Firm, Firm.id == TrainingHours.firm_id)
        .outerjoin(Enrollment, Enrollment.id == TrainingHours.enrollment_id)
        .outerjoin(CourseVersion, CourseVersion.id == Enrollment.version_id)
        .outerjoin(
            Certificate,
            and_(
                Certificate.enrollment_id == TrainingHours.enrollment_id,
                Certificate.replaced_by_id.is_(None),  # a re-issued one: its latest
            ),
        )
        .where(*_conditions(within, period, firm_id))
        .order_by(User.name, User.id, TrainingHours.credited_on, TrainingHours.id)
    )


# --- a worker's transcript ----------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptScope:
    """Whose rows a transcript shows: everything (the worker's own), one consortium's
    (consortium admins) or one firm's (firm admins)."""

    consortium_id: int | None = None
    firm_id: int | None = None

    def enrollments(self) -> list:
        cond = []
        if self.consortium_id is not None:
            cond.append(Enrollment.consortium_id == self.consortium_id)
        if self.firm_id is not None:
            cond.append(Enrollment.firm_id == self.firm_id)
        return cond

    def credits(self) -> list:
        cond = []
        if self.consortium_id is not None:
            cond.append(TrainingHours.consortium_id == self.consortium_id)
        if self.firm_id is not None:
            cond.append(TrainingHours.firm_id == self.firm_id)
        return cond


EVERYTHING = TranscriptScope()


def transcript_entries(user, scope: TranscriptScope = EVERYTHING, *, oldest_first=False) -> Select:
    """Every enrolment of `user` in scope (withdrawn ones and recertifications too), as rows
    (Enrollment, title, consortium, firm, hours, Certificate or None)."""
    order = (Enrollment.enrolled_at, Enrollment.id)
    return (
        select(
            Enrollment,
            CourseVersion.title,
            Consortium.name.label("consortium"),
            Firm.name.label("firm"),
            TrainingHours.hours,
            Certificate,
        )
        .join(CourseVersion, CourseVersion.id == Enrollment.version_id)
        .join(Consortium, Consortium.id == Enrollment.consortium_id)
        .outerjoin(Firm, Firm.id == Enrollment.firm_id)
        .outerjoin(TrainingHours, TrainingHours.enrollment_id == Enrollment.id)
        .outerjoin(
            Certificate,
            and_(
                Certificate.enrollment_id == Enrollment.id,
                Certificate.replaced_by_id.is_(None),  # a re-issued one: its latest
            ),
        )
        .where(Enrollment.user_id == user.id, *scope.enrollments())
        .order_by(*(order if oldest_first else (o.desc() for o in order)))
    )


def session_credits(user, scope: TranscriptScope = EVERYTHING) -> list[TrainingHours]:
    """The worker's in-person session credits in scope, oldest first."""
    return db.session.scalars(
        select(TrainingHours)
        .where(
            TrainingHours.user_id == user.id,
            TrainingHours.source == "session",
            *scope.credits(),
        )
        .order_by(TrainingHours.credited_on, TrainingHours.id)
    ).all()


def transcript_totals(user, scope: TranscriptScope = EVERYTHING) -> dict:
    """Courses taken and completed (distinct courses), and all hours credited, in scope."""
    taken, completed = db.session.execute(
        select(
            func.count(distinct(Enrollment.course_id)),
            func.count(distinct(Enrollment.course_id)).filter(Enrollment.status == "completed"),
        ).where(Enrollment.user_id == user.id, *scope.enrollments())
    ).one()
    hours = db.session.scalar(
        select(func.coalesce(func.sum(TrainingHours.hours), 0)).where(
            TrainingHours.user_id == user.id, *scope.credits()
        )
    )
    return {"taken": taken, "completed": completed, "hours": _tenths(hours)}


def status_label(enrollment) -> str:
    """Completed stays completed when a recertification set the enrolment aside."""
    return str(STATUS_LABELS.get(enrollment.status, enrollment.status))


def certificate_label(cert: Certificate) -> str:
    return {
        "valid": pgettext("certificate", "Valid"),
        "expired": pgettext("certificate", "Expired"),
        "revoked": pgettext("certificate", "Revoked"),
    }[cert.status(local_today())]


def format_hours(value) -> str:
    """2.0 → "2", 1.5 → "1.5" (None: an empty string)."""
    if value is None:
        return ""
    return f"{_tenths(value).normalize():f}"


def format_score(value) -> str:
    return "" if value is None else f"{value:g}"


def verify_address() -> str:
    """The public verification address with a placeholder for the verification code (a
    certificate number alone opens nothing)."""
    from lms.certificates.service import verify_url

    placeholder = "CODE"
    url = verify_url(SimpleNamespace(public_code=placeholder))
    return url[: -len(placeholder)] + pgettext("placeholder", "verification-code")


def transcript_document(user, scope: TranscriptScope = EVERYTHING) -> dict:
    """The transcript PDF's context, in the worker's language: plain strings and lists only
    (no phone or ID number: the document leaves the platform)."""
    locale = "en" if str(user.locale or "").startswith("en") else "zh_CN"
    with force_locale(locale):
        rows = db.session.execute(transcript_entries(user, scope, oldest_first=True)).all()
        consortia = list(dict.fromkeys(r.consortium for r in rows))
        if not consortia and scope.consortium_id is not None:
            consortia = [db.session.get(Consortium, scope.consortium_id).name]
        if not consortia and scope.firm_id is not None:
            consortia = [db.session.get(Firm, scope.firm_id).consortium.name]
        if not consortia:
            consortia = list(
                dict.fromkeys(m.consortium.name for m in user.memberships if m.is_current())
            )
        totals = transcript_totals(user, scope)

        def day(value):
            return format_date(value, "medium") if value else ""

        return {
            "lang": "en" if locale == "en" else "zh-CN",
            "t": {
                "title": _("Training transcript"),
                "name": pgettext("person", "Name"),
                "consortium": _("Consortium"),
                "issued": _("Issued on"),
                "no": _("No."),
                "course": _("Course"),
                "status": _("Status"),
                "enrolled": _("Enrolled on"),
                "started": _("Started on"),
                "completed": _("Completed on"),
                "score": _("Score"),
                "hours": _("Hours"),
                "certificate": _("Certificate"),
                "sessions": _("In-person sessions"),
                "session": _("Session"),
                "date": _("Date"),
                "empty": _("No course taken yet."),
                "recert": _("Recertification"),
            },
            "name": user.name,
            "consortia": "、".join(consortia) if locale != "en" else ", ".join(consortia),
            "issued_on": format_date(local_today(), "long"),
            "rows": [
                {
                    "course": r.title,
                    "firm": r.firm or "",
                    "recert": r.Enrollment.source == "recert",
                    "status": status_label(r.Enrollment),
                    "enrolled": day(r.Enrollment.enrolled_at),
                    "started": day(r.Enrollment.started_at),
                    "completed": day(r.Enrollment.completed_at),
                    "score": format_score(r.Enrollment.score),
                    "hours": format_hours(r.hours),
                    "serial": r.Certificate.serial if r.Certificate else "",
                    "code": (
                        _("Verification code %(code)s", code=format_code(r.Certificate.public_code))
                        if r.Certificate
                        else ""
                    ),
                    "cert_status": certificate_label(r.Certificate) if r.Certificate else "",
                }
                for r in rows
            ],
            "sessions": [
                {"ref": s.session_ref, "date": day(s.credited_on), "hours": format_hours(s.hours)}
                for s in session_credits(user, scope)
            ],
            "totals": _(
                "Courses completed: %(completed)d of %(taken)d · Hours credited: %(hours)s",
                completed=totals["completed"],
                taken=totals["taken"],
                hours=format_hours(totals["hours"]),
            ),
            "verify": _("Verify each certificate at %(url)s", url=verify_address()),
        }


def transcript_pdf(user, scope: TranscriptScope = EVERYTHING) -> bytes:
    """The transcript as an A4 portrait PDF (sandboxed template, CJK font, no outside URL)."""
    from lms.certificates import render

    return render.render_document(
        PDF_DIR, "transcript.html", transcript_document(user, scope), stylesheet="transcript.css"
    )


def transcript_scope(actor, firm: Firm) -> TranscriptScope:
    """What an admin opening a worker's transcript through `firm` may see: the whole
    consortium's rows for consortium admins, else the firm's own."""
    from lms.permissions import has_permission

    if has_permission(actor, "report.view", firm.consortium):
        return TranscriptScope(consortium_id=firm.consortium_id)
    return TranscriptScope(consortium_id=firm.consortium_id, firm_id=firm.id)
