"""The targets of audit records by name, with a link where the viewer may open them.

An audit record names its target by type (the model's class name) and id (its public id, else
its id). Each target type has a resolver here that looks up every id of one page (or export
chunk) at once — one query per type, within the consortium only — and answers each id's name
and, when the viewer holds the permission the target's page asks for, its URL. A type without a
resolver, or a target that no longer exists, reads as its type in words and a short id.

This module sits in `reports`, above every domain whose records the log names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from lms.audit.labels import target_type_label
from lms.auth.models import User
from lms.certificates.models import Certificate, CertificateTemplate
from lms.core.i18n import ui_locale
from lms.core.types import local_date
from lms.courses.models import Course, CourseVersion
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.permissions import has_permission
from lms.taxonomy.models import JobRole, Skill
from lms.tenancy.models import Consortium, Firm, ImportBatch, Invitation
from lms.transcripts.models import TrainingHours


@dataclass(frozen=True)
class Target:
    """How one record's target reads: its kind and name in words, and a link if any."""

    type_label: str
    name: str
    url: str | None = None


@dataclass
class Lookup:
    """One page's (or one export chunk's) lookups: the consortium, the viewer (None: no links,
    as in exports) and the courses already fetched (enrolments need their course's title)."""

    consortium: Consortium
    viewer: object | None
    links: bool = True
    _courses: dict[int, tuple[str, str, bool]] = field(default_factory=dict)
    _permissions: dict[tuple[str, int, int], bool] = field(default_factory=dict)

    def may(self, permission: str, place: Firm | Consortium) -> bool:
        if not self.links or self.viewer is None:
            return False
        key = (permission, isinstance(place, Firm), place.id)
        if key not in self._permissions:
            self._permissions[key] = has_permission(self.viewer, permission, place)
        return self._permissions[key]

    def courses(self, ids: Iterable[int]) -> dict[int, tuple[str, str, bool]]:
        """Course id → (slug, title, has a published version) for the consortium's courses."""
        missing = {i for i in ids if i not in self._courses}
        if missing:
            rows = db.session.execute(
                select(
                    Course.id,
                    Course.slug,
                    CourseVersion.title,
                    CourseVersion.status,
                    CourseVersion.version,
                )
                .outerjoin(CourseVersion, CourseVersion.course_id == Course.id)
                .where(Course.id.in_(missing), Course.consortium_id == self.consortium.id)
                .order_by(Course.id, CourseVersion.version)
            ).all()
            found: dict[int, list] = defaultdict(list)
            for r in rows:
                found[r.id].append(r)
            for course_id, versions in found.items():
                published = [v for v in versions if v.status == "published"]
                shown = (published or versions)[-1]
                self._courses[course_id] = (shown.slug, shown.title or shown.slug, bool(published))
        return {i: self._courses[i] for i in ids if i in self._courses}

    def course_url(self, slug: str, published: bool) -> str | None:
        # The course page: every member of the consortium may open a published course.
        return url_for("courses.course_page", slug=slug) if self.links and published else None


Resolver = Callable[[Lookup, set[str]], dict[str, tuple[str, str | None]]]
RESOLVERS: dict[str, Resolver] = {}


def resolves(target_type: str):
    """Register the resolver of one target type: (lookup, ids) → {id: (name, url or None)}."""

    def decorate(func: Resolver) -> Resolver:
        RESOLVERS[target_type] = func
        return func

    return decorate


def _ints(ids: set[str]) -> set[int]:
    return {int(i) for i in ids if i.isdigit()}


@resolves("Course")
def _courses(lookup: Lookup, ids: set[str]):
    return {
        str(course_id): (title, lookup.course_url(slug, published))
        for course_id, (slug, title, published) in lookup.courses(_ints(ids)).items()
    }


@resolves("User")
def _people(lookup: Lookup, ids: set[str]):
    # Names only (mobiles never); the consortium's people page finds the person by name.
    rows = db.session.execute(select(User.public_id, User.name).where(User.public_id.in_(ids)))
    may = lookup.may("consortium.people", lookup.consortium)
    return {
        r.public_id: (
            r.name,
            url_for("tenancy.consortium_people", consortium_id=lookup.consortium.id, q=r.name)
            if may
            else None,
        )
        for r in rows
    }


@resolves("Firm")
def _firms(lookup: Lookup, ids: set[str]):
    firms = db.session.scalars(
        select(Firm).where(Firm.id.in_(_ints(ids)), Firm.consortium_id == lookup.consortium.id)
    )
    return {
        str(f.id): (
            f.name,
            url_for("tenancy.firm_people", firm_id=f.id) if lookup.may("person.view", f) else None,
        )
        for f in firms
    }


@resolves("Consortium")
def _consortia(lookup: Lookup, ids: set[str]):
    c = lookup.consortium
    url = None
    if lookup.may("report.view", c):
        url = url_for("reports.consortium_dashboard", consortium_id=c.id)
    return {str(c.id): (c.name, url)} if str(c.id) in ids else {}


@resolves("ImportBatch")
def _imports(lookup: Lookup, ids: set[str]):
    rows = db.session.execute(
        select(
            ImportBatch.public_id, ImportBatch.firm_id, ImportBatch.created_at, ImportBatch.result
        ).where(ImportBatch.public_id.in_(ids), ImportBatch.consortium_id == lookup.consortium.id)
    ).all()
    firms = (
        {
            f.id: f
            for f in db.session.scalars(select(Firm).where(Firm.id.in_({r.firm_id for r in rows})))
        }
        if lookup.links and rows
        else {}
    )
    show_date = current_app.jinja_env.filters["date"]
    out = {}
    for r in rows:
        day = show_date(local_date(r.created_at))
        counts = r.result if isinstance(r.result, dict) else {}
        n = sum(v for v in counts.values() if isinstance(v, int) and not isinstance(v, bool))
        if counts:
            name = _("Import of %(date)s (%(n)d rows)", date=day, n=n)
        else:
            name = _("Import of %(date)s", date=day)
        firm = firms.get(r.firm_id)
        url = None
        if firm is not None and lookup.may("person.import", firm):
            url = url_for("tenancy.import_preview", firm_id=firm.id, batch_id=r.public_id)
        out[r.public_id] = (name, url)
    return out


@resolves("Certificate")
def _certificates(lookup: Lookup, ids: set[str]):
    rows = db.session.execute(
        select(Certificate.public_id, Certificate.serial, Certificate.public_code).where(
            Certificate.public_id.in_(ids), Certificate.consortium_id == lookup.consortium.id
        )
    )
    # The verification code opens the certificate: linked for those who list certificates.
    may = lookup.may("report.view", lookup.consortium)
    return {
        r.public_id: (
            _("Certificate no. %(serial)s", serial=r.serial),
            url_for("certificates.verify", code=r.public_code) if may else None,
        )
        for r in rows
    }


@resolves("Enrollment")
def _enrollments(lookup: Lookup, ids: set[str]):
    rows = db.session.execute(
        select(Enrollment.public_id, Enrollment.course_id, User.name)
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.public_id.in_(ids), Enrollment.consortium_id == lookup.consortium.id)
    ).all()
    courses = lookup.courses({r.course_id for r in rows})
    out = {}
    for r in rows:
        slug, title, published = courses.get(r.course_id, ("", "", False))
        name = _("%(person)s in “%(course)s”", person=r.name, course=title) if title else r.name
        out[r.public_id] = (name, lookup.course_url(slug, published) if slug else None)
    return out


@resolves("CertificateTemplate")
def _designs(lookup: Lookup, ids: set[str]):
    rows = db.session.execute(
        select(CertificateTemplate.id, CertificateTemplate.name).where(
            CertificateTemplate.id.in_(_ints(ids)),
            CertificateTemplate.consortium_id == lookup.consortium.id,
        )
    )
    url = None
    if lookup.may("certificate.manage", lookup.consortium):
        url = url_for("certificate_designs.designs", consortium_id=lookup.consortium.id)
    return {str(r.id): (r.name, url) for r in rows}


@resolves("Skill")
def _skills(lookup: Lookup, ids: set[str]):
    locale = ui_locale()
    skills = db.session.scalars(
        select(Skill).where(
            Skill.id.in_(ids),
            (Skill.consortium_id == lookup.consortium.id) | Skill.consortium_id.is_(None),
        )
    )
    return {s.id: (s.name(locale), None) for s in skills}


@resolves("JobRole")
def _roles(lookup: Lookup, ids: set[str]):
    locale = ui_locale()
    roles = db.session.scalars(
        select(JobRole).where(
            JobRole.id.in_(ids),
            (JobRole.consortium_id == lookup.consortium.id) | JobRole.consortium_id.is_(None),
        )
    )
    out = {}
    for role in roles:
        url = None
        own = role.consortium_id is not None and role.firm_id is None
        if own and lookup.may("role.manage", lookup.consortium):
            url = url_for(
                "taxonomy.consortium_role", consortium_id=role.consortium_id, role_id=role.id
            )
        out[role.id] = (role.name(locale), url)
    return out


@resolves("Invitation")
def _invitations(lookup: Lookup, ids: set[str]):
    rows = db.session.execute(
        select(Invitation.public_id, Invitation.name).where(
            Invitation.public_id.in_(ids), Invitation.consortium_id == lookup.consortium.id
        )
    )
    return {r.public_id: (_("Invitation for %(name)s", name=r.name), None) for r in rows}


@resolves("TrainingHours")
def _hours(lookup: Lookup, ids: set[str]):
    rows = db.session.execute(
        select(TrainingHours.id, TrainingHours.hours, User.name)
        .join(User, User.id == TrainingHours.user_id)
        .where(
            TrainingHours.id.in_(_ints(ids)),
            TrainingHours.consortium_id == lookup.consortium.id,
        )
    )
    return {
        str(r.id): (
            _("%(hours)s hours for %(person)s", hours=_hours_text(r.hours), person=r.name),
            None,
        )
        for r in rows
    }


def _hours_text(value: Decimal) -> str:
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def short_id(target_id: str) -> str:
    return target_id if len(target_id) <= 8 else target_id[:8] + "…"


def resolve_targets(lookup: Lookup, records: Iterable) -> dict[tuple[str, str], Target]:
    """(target type, target id) → Target for every record given (one query per type)."""
    ids: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.target_id and r.target_type in RESOLVERS:
            ids[r.target_type].add(r.target_id)
    out: dict[tuple[str, str], Target] = {}
    for target_type, wanted in ids.items():
        type_label = target_type_label(target_type)
        for target_id, (name, url) in RESOLVERS[target_type](lookup, wanted).items():
            out[target_type, target_id] = Target(type_label, name, url)
    return out


def target_of(targets: dict[tuple[str, str], Target], record) -> Target:
    """The record's target as resolved, else its kind in words and a short id."""
    found = targets.get((record.target_type, record.target_id or ""))
    if found is not None:
        return found
    type_label = target_type_label(record.target_type)
    return Target(type_label, short_id(record.target_id) if record.target_id else "")
