"""Assessors: who may sign off a course's practical tasks.

Always the current trainers of the authoring firm; besides them, any trainer of a member firm
or training base of the same consortium whom a consortium admin designates for the course
(a `CourseAssessor` row). A designation counts only while the person still holds a current
trainer role at an active firm of the consortium: a trainer who leaves stops signing off
without anyone having to remember to remove them.

Services flush and write the audit record; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from lms.audit.service import record_action
from lms.auth.models import User
from lms.courses.models import Course, CourseAssessor
from lms.extensions import db
from lms.tenancy.models import Firm, Membership
from lms.tenancy.scope import current_membership_conditions

# The add form lists at most this many trainers; a search by name narrows the list.
CHOICE_LIMIT = 200


class AssessorError(ValueError):
    """A refused designation: `message` is translated, `field` the form field it belongs to."""

    def __init__(self, message, field: str = "trainer"):
        super().__init__(str(message))
        self.message = message
        self.field = field


@dataclass
class Assessor:
    """A person who may sign off a course's practicals, with the firms where they train."""

    user: User
    firms: list[Firm] = field(default_factory=list)
    is_authoring: bool = False  # a trainer of the authoring firm (always an assessor)
    is_designated: bool = False  # designated by a consortium admin

    @property
    def firm_names(self) -> str:
        return "、".join(f.name for f in self.firms)


# --- who trains where --------------------------------------------------------------------------


def _trainer_conditions(consortium_id: int) -> list:
    """SQL conditions on Membership, Firm and User: a current trainer role at an active firm of
    the consortium, held by an open account."""
    return [
        Membership.role == "trainer",
        *current_membership_conditions(),
        Firm.consortium_id == consortium_id,
        Firm.is_active.is_(True),
        User.is_active_account.is_(True),
    ]


def _trainers() -> Select:
    """(User, Firm) of trainer memberships; narrow it with `_trainer_conditions`."""
    return (
        select(User, Firm)
        .join(Membership, Membership.user_id == User.id)
        .join(Firm, Firm.id == Membership.firm_id)
    )


def trainer_firms(user: User, consortium_id: int) -> list[Firm]:
    """The active firms of the consortium where `user` currently holds a trainer role."""
    if user is None or not getattr(user, "is_active_account", False):
        return []
    return [
        m.firm
        for m in user.memberships
        if m.role == "trainer"
        and m.is_current()
        and m.firm is not None
        and m.firm.is_active
        and m.firm.consortium_id == consortium_id
        and m.consortium.is_active
    ]


# --- reading -----------------------------------------------------------------------------------


def may_sign_off(user, course: Course) -> bool:
    """Whether `user` may sign off the practical tasks of `course` now."""
    if user is None or not user.is_authenticated:
        return False
    firms = trainer_firms(user, course.consortium_id)
    if not firms:
        return False
    if any(f.id == course.firm_id for f in firms):
        return True
    return (
        db.session.scalar(
            select(CourseAssessor.id).where(
                CourseAssessor.course_id == course.id, CourseAssessor.user_id == user.id
            )
        )
        is not None
    )


def assessors_of(course: Course) -> list[Assessor]:
    """Everyone who may sign off `course`'s practicals now, by name: the authoring firm's
    current trainers and the designated trainers who still train in the consortium."""
    designated = select(CourseAssessor.user_id).where(CourseAssessor.course_id == course.id)
    rows = db.session.execute(
        _trainers()
        .add_columns(User.id.in_(designated))
        .where(
            *_trainer_conditions(course.consortium_id),
            (Firm.id == course.firm_id) | User.id.in_(designated),
        )
        .order_by(User.name, User.id, Firm.name, Firm.id)
    ).all()
    found: dict[int, Assessor] = {}
    for user, firm, is_designated in rows:
        person = found.setdefault(user.id, Assessor(user))
        if firm not in person.firms:
            person.firms.append(firm)
        person.is_authoring = person.is_authoring or firm.id == course.firm_id
        person.is_designated = bool(is_designated)
    for person in found.values():
        # The authoring firm first: it is why they sign off.
        person.firms.sort(key=lambda f: (f.id != course.firm_id, f.name))
    return list(found.values())


@dataclass
class Designation:
    """A designation as the consortium admin manages it: `is_current` is False once the person
    no longer trains in the consortium (kept until removed, but not an assessor)."""

    row: CourseAssessor
    user: User
    firms: list[Firm]

    @property
    def is_current(self) -> bool:
        return bool(self.firms)

    @property
    def firm_names(self) -> str:
        return "、".join(f.name for f in self.firms)


def designations(course: Course) -> list[Designation]:
    """The course's designated assessors, by name, each with the firms where they train now."""
    rows = db.session.execute(
        select(CourseAssessor, User)
        .join(User, User.id == CourseAssessor.user_id)
        .where(CourseAssessor.course_id == course.id)
        .order_by(User.name, User.id)
    ).all()
    return [Designation(row, user, trainer_firms(user, course.consortium_id)) for row, user in rows]


def eligible_trainers(
    course: Course, *, search: str = "", limit: int = CHOICE_LIMIT
) -> tuple[list[tuple[Firm, list[User]]], bool]:
    """Trainers the consortium admin may designate for `course`, grouped by firm (training
    bases first, then by name): not yet assessors, optionally whose name contains `search`.
    At most `limit` people; the flag says whether there were more."""
    # Its own alias: the outer query joins Membership too, and must not correlate with it.
    other = aliased(Membership)
    authoring = select(other.user_id).where(
        other.firm_id == course.firm_id,
        other.role == "trainer",
        other.starts_on <= date.today(),
        or_(other.ends_on.is_(None), other.ends_on > date.today()),
    )
    designated = select(CourseAssessor.user_id).where(CourseAssessor.course_id == course.id)
    query = _trainers().where(
        *_trainer_conditions(course.consortium_id),
        Firm.id != course.firm_id,
        User.id.not_in(authoring),
        User.id.not_in(designated),
    )
    if search := search.strip():
        query = query.where(User.name.ilike(f"%{search}%"))
    rows = db.session.execute(
        query.order_by(Firm.kind != "college", Firm.name, Firm.id, User.name, User.id).limit(
            limit + 1
        )
    ).all()
    groups: dict[int, tuple[Firm, list[User]]] = {}
    for user, firm in rows[:limit]:
        groups.setdefault(firm.id, (firm, []))[1].append(user)
    return list(groups.values()), len(rows) > limit


def find_person(course: Course, public_id: str) -> User | None:
    """The person with `public_id` if they hold any current role in the course's consortium
    (whether they may be designated is `designate`'s call), else None."""
    if not public_id:
        return None
    return db.session.scalars(
        select(User).where(
            User.public_id == public_id,
            select(Membership.id)
            .where(
                Membership.user_id == User.id,
                Membership.consortium_id == course.consortium_id,
                *current_membership_conditions(),
            )
            .exists(),
        )
    ).first()


def designated_person(course: Course, public_id: str) -> User | None:
    """The person with `public_id` if they are designated for `course`, else None."""
    return db.session.scalars(
        select(User)
        .join(CourseAssessor, CourseAssessor.user_id == User.id)
        .where(CourseAssessor.course_id == course.id, User.public_id == public_id)
    ).first()


# --- changing ----------------------------------------------------------------------------------


def designate(actor: User, course: Course, trainer: User | None) -> tuple[CourseAssessor, bool]:
    """Designate `trainer` to sign off `course`'s practicals; (the row, whether it is new).
    Designating someone twice leaves one row. Raises AssessorError (field "trainer") for
    anyone but a current trainer of another member firm of the course's consortium."""
    if trainer is None:
        raise AssessorError(_l("Choose a trainer."))
    firms = trainer_firms(trainer, course.consortium_id)
    if not firms:
        raise AssessorError(
            _l(
                "%(name)s is not a current trainer of a member firm of this consortium: only "
                "trainers can be designated as assessors.",
                name=trainer.name,
            )
        )
    if any(f.id == course.firm_id for f in firms):
        raise AssessorError(
            _l(
                "%(name)s is a trainer of the authoring firm and already signs off this "
                "course's practical tasks.",
                name=trainer.name,
            )
        )
    existing = _designation(course, trainer)
    if existing is not None:
        return existing, False
    row = CourseAssessor(course_id=course.id, user_id=trainer.id, designated_by_id=actor.id)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # a double submit designated them meanwhile
        return _designation(course, trainer), False
    record_action(
        actor,
        "course.assessor_designate",
        course,
        consortium_id=course.consortium_id,
        details={"slug": course.slug, "user": trainer.public_id},
    )
    return row, True


def remove(actor: User, course: Course, trainer: User) -> bool:
    """Withdraw `trainer`'s designation for `course`; False if there was none (removing twice
    is harmless). Sign-offs they gave stay valid."""
    removed = db.session.execute(
        delete(CourseAssessor)
        .where(CourseAssessor.course_id == course.id, CourseAssessor.user_id == trainer.id)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not removed:
        return False
    record_action(
        actor,
        "course.assessor_remove",
        course,
        consortium_id=course.consortium_id,
        details={"slug": course.slug, "user": trainer.public_id},
    )
    return True


def _designation(course: Course, user: User) -> CourseAssessor | None:
    return db.session.scalars(
        select(CourseAssessor).where(
            CourseAssessor.course_id == course.id, CourseAssessor.user_id == user.id
        )
    ).first()
