"""Authoring: trainers build course versions; consortium admins review and publish them.

The version is the unit of review. Only a draft or a returned version can change; every
change first locks the version's row and re-reads its status, so an edit never lands in a
version that was submitted or published meanwhile. State changes are conditional UPDATEs
(`... WHERE status = 'submitted'`), so a double-submitted form or two reviewers at once have
the effect of one. Services flush and write the audit record; the caller commits.
"""

from __future__ import annotations

import copy
import re
import secrets

from blinker import Namespace
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lms.audit.service import record_action
from lms.auth.models import User
from lms.core.storage import storage
from lms.core.types import utcnow
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import (
    LANGUAGES,
    Course,
    CourseSkill,
    CourseVersion,
    Lesson,
    Module,
    Question,
)
from lms.courses.package import SLUG_RE
from lms.courses.question_types import QUESTION_FIELD_LABELS, QUESTION_TYPES
from lms.courses.question_types import question_problems as question_problems
from lms.courses.service import (
    latest_version,
    lesson_html,
    media_key,
    publish_version,
    search_text_for,
)
from lms.courses.uploads import CheckedFile, random_media_path
from lms.extensions import db
from lms.taxonomy.models import Skill
from lms.tenancy.models import SECTORS, Consortium, Firm

signals = Namespace()
# Sent when a reviewer approves a version or returns it to its authors (sender=CourseVersion;
# actor, approved), inside the review's transaction; notifications tell the submitter.
version_reviewed = signals.signal("version-reviewed")

EDITABLE_STATES = ("draft", "returned")
# Status as text and icon (UI.md: status is never colour alone); css class for the colour.
VERSION_STATUS = {
    "draft": ("✎", _l("Draft"), "warn"),
    "submitted": ("⏳", _l("Waiting for review"), "warn"),
    "published": ("✓", _l("Published"), "ok"),
    "returned": ("↩", _l("Returned for changes"), "off"),
    "archived": ("▣", _l("Archived"), "muted"),
}
RESERVED_SLUGS = {"new"}  # /authoring/firms/<id>/courses/new is the create page
MAX_TITLE = 200
MEDIA_REF = re.compile(r"\]\((media/[^)\s]+)\)")


class AuthoringError(ValueError):
    """A refused change: `errors` maps form fields to translated messages (None: the form)."""

    def __init__(self, message, field: str | None = None, *, errors: dict | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.errors = errors or {field: [message]}


class _Problems:
    """Every problem of one change, by field: the checks all run, then one AuthoringError
    carries them all (a form shows every mistake at once, not one per round)."""

    def __init__(self):
        self.errors: dict = {}

    def add(self, field: str | None, message) -> None:
        messages = self.errors.setdefault(field, [])
        if message not in messages:
            messages.append(message)

    def run(self, check, *args, **kwargs):
        """`check(...)`'s value, or None with its refusal recorded."""
        try:
            return check(*args, **kwargs)
        except AuthoringError as exc:
            for field, messages in exc.errors.items():
                for message in messages:
                    self.add(field, message)
            return None

    def raise_any(self) -> None:
        if self.errors:
            field, messages = next(iter(self.errors.items()))
            raise AuthoringError(messages[0], field, errors=self.errors)


# --- queries -------------------------------------------------------------------------------------


def list_firm_courses(firm: Firm) -> Select:
    """Every course the firm authors (all statuses), most recently created first."""
    return (
        select(Course)
        .where(Course.firm_id == firm.id, Course.consortium_id == firm.consortium_id)
        .options(selectinload(Course.versions))
        .order_by(Course.created_at.desc(), Course.id.desc())
    )


def list_review_queue(consortium: Consortium) -> Select:
    """Versions of the consortium's courses waiting for review, oldest submission first."""
    return (
        select(CourseVersion)
        .join(Course, CourseVersion.course_id == Course.id)
        .where(Course.consortium_id == consortium.id, CourseVersion.status == "submitted")
        .options(selectinload(CourseVersion.course).joinedload(Course.firm))
        .order_by(CourseVersion.submitted_at, CourseVersion.id)
    )


def list_recent_decisions(consortium: Consortium, *, limit: int = 10) -> list[CourseVersion]:
    """The consortium's most recently published or returned versions (for the review page)."""
    return list(
        db.session.scalars(
            select(CourseVersion)
            .join(Course, CourseVersion.course_id == Course.id)
            .where(
                Course.consortium_id == consortium.id,
                CourseVersion.status.in_(("published", "returned")),
                CourseVersion.submitted_at.is_not(None),
            )
            .order_by(CourseVersion.submitted_at.desc(), CourseVersion.id.desc())
            .limit(limit)
        )
    )


def skill_options(consortium_id: int) -> list[Skill]:
    """The shared skills and the consortium's own, for the skill pickers."""
    from lms.taxonomy.service import visible_skills

    return list(
        db.session.scalars(
            select(Skill).where(visible_skills(consortium_id)).order_by(Skill.category_id, Skill.id)
        )
    )


def prerequisite_options(consortium: Consortium, *, exclude: Course | None = None):
    """(slug, title) of the consortium's published courses a course may require."""
    query = (
        select(Course.slug, CourseVersion.title)
        .join(CourseVersion, CourseVersion.course_id == Course.id)
        .where(Course.consortium_id == consortium.id, CourseVersion.status == "published")
        .order_by(CourseVersion.title)
    )
    if exclude is not None:
        query = query.where(Course.id != exclude.id)
    return list(db.session.execute(query))


def is_editable(version: CourseVersion) -> bool:
    return version.status in EDITABLE_STATES


def render_lesson_markdown(version: CourseVersion, text: str) -> str:
    """Sanitised HTML of Markdown written for `version` (media/… images resolve to it)."""
    return lesson_html(version, text)


# --- locking and small helpers -------------------------------------------------------------------


def _lock_editable(version: CourseVersion) -> None:
    """Lock the version's row and check, from the database, that it may still change."""
    status = db.session.execute(
        select(CourseVersion.status).where(CourseVersion.id == version.id).with_for_update()
    ).scalar_one()
    # Read modules and lessons again under the lock: a concurrent request may have changed them.
    db.session.expire(version, ["modules", "lessons"])
    if status not in EDITABLE_STATES:
        raise AuthoringError(
            _l(
                "Version %(n)d is “%(status)s” and can no longer be changed.",
                n=version.version,
                status=VERSION_STATUS[status][1],
            )
        )


def _clean_title(title: str, *, field: str = "title", limit: int = MAX_TITLE) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise AuthoringError(_l("Enter a title."), field)
    if len(title) > limit:
        raise AuthoringError(_l("Keep the title under %(n)d characters.", n=limit), field)
    return title


def _ascii_slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:40].strip("-")
    return slug if len(slug) >= 3 else ""


def _refresh(*objects) -> None:
    db.session.flush()
    for obj in objects:
        db.session.expire(obj)


# --- course metadata ---------------------------------------------------------------------------


def _check_meta(
    consortium: Consortium,
    course: Course | None,
    *,
    slug: str,
    title: str,
    language: str,
    summary: str,
    sector: str,
    hours: float,
    pass_mark: int,
    skills: list[tuple[str, int]],
    prerequisites: list[str],
    problems: _Problems | None = None,
) -> dict:
    """Validated course metadata; raises one AuthoringError naming every wrong field (with
    those already in `problems`)."""
    problems = problems or _Problems()
    values = {"title": problems.run(_clean_title, title)}
    if language not in LANGUAGES:
        problems.add("language", _l("Choose the language the course is taught in."))
    if sector not in SECTORS:
        problems.add("sector", _l("Choose a sector."))
    if hours is None or not 0 < float(hours) <= 1000:
        problems.add("hours", _l("Study hours must be more than 0 and at most 1000."))
    if pass_mark is None or not 0 <= int(pass_mark) <= 100:
        problems.add("pass_mark", _l("The pass mark is a whole number from 0 to 100."))
    summary = (summary or "").strip()
    if not summary:
        problems.add("summary", _l("Write a short summary for the catalogue."))
    skills = problems.run(_check_skills, skills, field="skills")
    prerequisites = problems.run(_check_prerequisites, consortium, course, slug, prerequisites)
    problems.raise_any()
    values.update(
        language=language,
        sector=sector,
        hours=float(hours),
        pass_mark=int(pass_mark),
        summary=summary,
        skills=skills,
        prerequisites=prerequisites,
    )
    return values


def _check_skills(skills: list[tuple[str, int]], *, field: str) -> list[tuple[str, int]]:
    known = set(db.session.scalars(select(Skill.id)))
    seen: set[str] = set()
    out = []
    for skill_id, level in skills:
        if skill_id not in known:
            raise AuthoringError(_l("Choose skills from the list."), field)
        if skill_id in seen:
            raise AuthoringError(_l("Each skill can be listed only once."), field)
        if not isinstance(level, int) or not 1 <= level <= 5:
            raise AuthoringError(_l("Choose a level from 1 to 5 for each skill."), field)
        seen.add(skill_id)
        out.append((skill_id, level))
    return out


def _check_prerequisites(
    consortium: Consortium, course: Course | None, slug: str, prerequisites: list[str]
) -> list[str]:
    allowed = {s for s, _title in prerequisite_options(consortium, exclude=course)}
    out = []
    for pre in dict.fromkeys(prerequisites):
        if pre == slug or pre not in allowed:
            raise AuthoringError(
                _l("Choose prerequisites from the published courses of the consortium."),
                "prerequisites",
            )
        if slug in _required_by(consortium, pre):
            raise AuthoringError(
                _l(
                    "“%(slug)s” already requires this course (directly or through another "
                    "course), so it cannot be its prerequisite.",
                    slug=pre,
                ),
                "prerequisites",
            )
        out.append(pre)
    return out


def _required_by(consortium: Consortium, slug: str) -> set[str]:
    """Every course slug `slug` requires, directly or transitively (published versions)."""
    rows = db.session.execute(
        select(Course.slug, CourseVersion.prerequisites)
        .join(CourseVersion, CourseVersion.course_id == Course.id)
        .where(Course.consortium_id == consortium.id, CourseVersion.status == "published")
    )
    graph = {s: set(p or []) for s, p in rows}
    seen, stack = set(), [slug]
    while stack:
        for pre in graph.get(stack.pop(), ()):
            if pre not in seen:
                seen.add(pre)
                stack.append(pre)
    return seen


def _set_skills(version: CourseVersion, skills: list[tuple[str, int]]) -> None:
    """Update the version's skill rows in place (a delete and re-insert of the same primary
    key in one flush would collide)."""
    current = {s.skill_id: s for s in version.skill_levels}
    wanted = {skill_id for skill_id, _ in skills}
    for skill_id, row in current.items():
        if skill_id not in wanted:
            version.skill_levels.remove(row)
    for position, (skill_id, level) in enumerate(skills):
        row = current.get(skill_id)
        if row is None:
            version.skill_levels.append(
                CourseSkill(skill_id=skill_id, level=level, position=position)
            )
        else:
            row.level, row.position = level, position


def create_course(
    actor: User,
    firm: Firm,
    *,
    slug: str,
    title: str,
    language: str,
    summary: str,
    sector: str,
    hours: float,
    pass_mark: int,
    skills: list[tuple[str, int]] = (),
    prerequisites: list[str] = (),
) -> CourseVersion:
    """A new course of `firm` with its first version, a draft. A replayed form (same slug
    and title, by the same trainer, still an untouched first draft) returns that draft."""
    slug = (slug or "").strip().lower()
    consortium = firm.consortium
    meta = _new_course_meta(
        actor,
        firm,
        slug=slug,
        title=title,
        language=language,
        summary=summary,
        sector=sector,
        hours=hours,
        pass_mark=pass_mark,
        skills=list(skills),
        prerequisites=list(prerequisites),
    )
    if (replay := _existing_course(actor, firm, slug, meta["title"])) is not None:
        return replay
    course = Course(consortium_id=consortium.id, firm_id=firm.id, slug=slug)
    try:
        with db.session.begin_nested():
            db.session.add(course)
            db.session.flush()
    except IntegrityError:  # a concurrent request created the slug first
        if (replay := _existing_course(actor, firm, slug, meta["title"])) is not None:
            return replay
        raise _slug_taken(slug) from None
    version = CourseVersion(
        course=course,
        version=1,
        status="draft",
        created_by_id=actor.id,
        **{k: v for k, v in meta.items() if k != "skills"},
    )
    db.session.add(version)
    _set_skills(version, meta["skills"])
    db.session.flush()
    record_action(
        actor, "course.create", course, consortium_id=consortium.id, details={"version": 1}
    )
    return version


def _new_course_meta(actor: User, firm: Firm, *, slug: str, **meta) -> dict:
    """The validated metadata of a new course; one AuthoringError names every problem, the
    web address (its form, or another course using it) included."""
    problems = _Problems()
    if not SLUG_RE.match(slug) or len(slug) > 80 or slug in RESERVED_SLUGS:
        problems.add("slug", _l("Use lower-case letters, digits and dashes, e.g. plc-basics."))
    else:
        problems.run(_existing_course, actor, firm, slug, " ".join((meta["title"] or "").split()))
    return _check_meta(firm.consortium, None, slug=slug, problems=problems, **meta)


def course_problems(
    actor: User, firm: Firm, version: CourseVersion | None = None, **values
) -> dict[str | None, list]:
    """Every problem of a course's details by field ({}: none), without changing anything:
    what create_course (no `version`; `values` has the slug) or update_course would say."""
    try:
        if version is None:
            slug = (values.pop("slug", "") or "").strip().lower()
            _new_course_meta(actor, firm, slug=slug, **values)
        else:
            course = version.course
            _check_meta(course.consortium, course, slug=course.slug, **values)
    except AuthoringError as exc:
        return exc.errors
    return {}


def _slug_taken(slug: str) -> AuthoringError:
    return AuthoringError(
        _l("Another course of the consortium already uses the address “%(slug)s”.", slug=slug),
        "slug",
    )


def _existing_course(actor: User, firm: Firm, slug: str, title: str) -> CourseVersion | None:
    """The draft a replay of the same create form made, None if the slug is free; raises if
    the slug belongs to another course."""
    course = db.session.scalars(
        select(Course).where(Course.consortium_id == firm.consortium_id, Course.slug == slug)
    ).first()
    if course is None:
        return None
    versions = course.versions
    if (
        course.firm_id == firm.id
        and len(versions) == 1
        and versions[0].status == "draft"
        and versions[0].created_by_id == actor.id
        and versions[0].title == title
    ):
        return versions[0]
    raise _slug_taken(slug)


def update_course(
    actor: User,
    version: CourseVersion,
    *,
    title: str,
    language: str,
    summary: str,
    sector: str,
    hours: float,
    pass_mark: int,
    skills: list[tuple[str, int]] = (),
    prerequisites: list[str] = (),
) -> None:
    """Change the metadata of a draft (the slug never changes: URLs and prerequisites use it)."""
    _lock_editable(version)
    course = version.course
    meta = _check_meta(
        course.consortium,
        course,
        slug=course.slug,
        title=title,
        language=language,
        summary=summary,
        sector=sector,
        hours=hours,
        pass_mark=pass_mark,
        skills=list(skills),
        prerequisites=list(prerequisites),
    )
    for key, value in meta.items():
        if key != "skills":
            setattr(version, key, value)
    _set_skills(version, meta["skills"])
    db.session.flush()


# --- modules -----------------------------------------------------------------------------------


def add_module(actor: User, version: CourseVersion, *, title: str) -> Module:
    """Append a module; a module of the same title already there is returned instead (a
    double-submitted form adds one)."""
    _lock_editable(version)
    title = _clean_title(title)
    for module in version.modules:
        if module.title == title:
            return module
    module = Module(version=version, position=len(version.modules), title=title)
    db.session.add(module)
    db.session.flush()
    return module


def rename_module(actor: User, module: Module, *, title: str) -> None:
    version = module.version
    _lock_editable(version)
    title = _clean_title(title)
    if any(m.title == title and m.id != module.id for m in version.modules):
        raise AuthoringError(_l("Another module of this version has this title."), "title")
    module.title = title
    db.session.flush()


def move_module(actor: User, module: Module, *, position: int) -> None:
    """Put the module at `position` (0-based); replaying the same move changes nothing."""
    version = module.version
    _lock_editable(version)
    modules = [m for m in version.modules if m.id != module.id]
    modules.insert(max(0, min(position, len(modules))), module)
    for i, m in enumerate(modules):
        m.position = i
    _renumber_lessons(version, modules)


def delete_module(actor: User, module: Module) -> None:
    """Delete a module with its lessons (and their questions)."""
    version = module.version
    _lock_editable(version)
    for lesson in list(module.lessons):
        db.session.delete(lesson)
    db.session.delete(module)
    db.session.flush()
    db.session.expire(version, ["modules", "lessons"])
    modules = list(version.modules)
    for i, m in enumerate(modules):
        m.position = i
    _renumber_lessons(version, modules)


def _renumber_lessons(version: CourseVersion, modules: list[Module]) -> None:
    """Lesson.position orders the whole version: module by module, then within each."""
    position = 0
    for module in modules:
        for lesson in sorted(module.lessons, key=lambda x: x.position):
            lesson.position = position
            position += 1
    db.session.flush()
    db.session.expire(version, ["modules", "lessons"])
    for module in modules:
        db.session.expire(module, ["lessons"])


# --- lessons -----------------------------------------------------------------------------------


def _lesson_data(lesson_type: str, settings: dict | None) -> dict:
    """The `data` of a lesson of the type (a quiz's settings, a practical task's checklist and
    skills), validated by its type: one AuthoringError names every problem."""
    problems = _Problems()
    data = LESSON_TYPES[lesson_type].clean_data(
        settings or {},
        problems,
        check_skills=lambda skills: problems.run(_check_skills, skills, field="skills"),
    )
    problems.raise_any()
    return data


def _new_key(version: CourseVersion, lesson_type: str, title: str) -> str:
    """A key no lesson of any version of the course has had: a deleted lesson's key is not
    reused, or the new lesson would inherit learners' progress on the old one."""
    taken = set(
        db.session.scalars(
            select(Lesson.key)
            .join(CourseVersion, Lesson.version_id == CourseVersion.id)
            .where(CourseVersion.course_id == version.course_id)
        )
    )
    kind = LESSON_TYPES[lesson_type]
    if kind.title_is_key:
        # The package format names such a lesson by its title: export must give this key.
        return _title_key(version, lesson_type, title, None)
    prefix, suffix = kind.key_prefix, kind.key_suffix
    base = _ascii_slug(title) or secrets.token_hex(4)
    key = f"{prefix}{base}{suffix}"
    while key in taken:
        key = f"{prefix}{base}-{secrets.token_hex(2)}{suffix}"
    return key


def _title_key(version: CourseVersion, lesson_type: str, title: str, lesson: Lesson | None) -> str:
    """The key of a lesson known by its title (a practical task), unique in the version."""
    key = LESSON_TYPES[lesson_type].title_key(title)
    if any(x.key == key and x is not lesson for x in version.lessons):
        raise AuthoringError(_l("Another practical task of this version has this title."), "title")
    return key


def _minutes(value) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or not 0 <= value <= 600:
        raise AuthoringError(_l("Minutes: a whole number from 0 to 600."), "minutes")
    return value


def _lesson_values(
    version: CourseVersion,
    lesson_type: str,
    *,
    title: str,
    minutes: int | None,
    settings: dict | None,
    lesson: Lesson | None = None,
    module: Module | None = None,
) -> dict:
    """A lesson's validated title, minutes and data (and a practical task's key); one
    AuthoringError names every problem. `lesson`: the lesson being changed (or replayed)."""
    problems = _Problems()
    kind = LESSON_TYPES[lesson_type]
    values = {
        "title": problems.run(_clean_title, title, limit=kind.max_title),
        "data": problems.run(_lesson_data, lesson_type, settings),
        "minutes": problems.run(_minutes, minutes) if kind.has_body else 0,
    }
    if kind.title_is_key and values["title"] is not None:
        values["key"] = problems.run(_title_key, version, lesson_type, values["title"], lesson)
    if module is not None and module.version_id != version.id:
        problems.add("module", _l("Choose a module of this version."))
    problems.raise_any()
    return values


def lesson_problems(
    version: CourseVersion, lesson_type: str, *, lesson: Lesson | None = None, **values
) -> dict[str | None, list]:
    """Every problem of a lesson's fields by field ({}: none), without changing anything:
    what add_lesson or update_lesson (`lesson`) would say. `values`: title, minutes,
    settings, and optionally module."""
    kind = LESSON_TYPES.get(lesson_type)
    if lesson is None and kind is not None and kind.title_is_key:
        title = " ".join((values.get("title") or "").split())
        lesson = next((x for x in version.lessons if x.key == kind.title_key(title)), None)
        lesson = lesson if lesson is not None and lesson.title == title else None
    try:
        _lesson_values(version, lesson_type, lesson=lesson, **values)
    except AuthoringError as exc:
        return exc.errors
    return {}


def add_lesson(
    actor: User,
    module: Module,
    *,
    type: str,
    title: str,
    minutes: int | None = 0,
    body: str = "",
    settings: dict | None = None,
) -> Lesson:
    """Append a lesson to `module`. A lesson of the same type and title already at the end of
    the module is returned instead (a double-submitted form adds one)."""
    version = module.version
    _lock_editable(version)
    if type not in LESSON_TYPES:
        raise AuthoringError(_l("Choose a lesson type."), "type")
    clean = " ".join((title or "").split())
    replay = next((x for x in module.lessons if x.type == type and x.title == clean), None)
    values = _lesson_values(
        version, type, title=title, minutes=minutes, settings=settings, lesson=replay
    )
    if replay is not None:
        return replay
    title = values["title"]
    body = (body or "").replace("\r\n", "\n") if LESSON_TYPES[type].has_body else ""
    lesson = Lesson(
        version=version,
        module=module,
        position=0,
        key=_new_key(version, type, title),
        type=type,
        title=title,
        minutes=values["minutes"],
        body=body,
        html=render_lesson_markdown(version, body),
        data=values["data"],
    )
    db.session.add(lesson)
    db.session.flush()
    lesson.position = max((x.position for x in version.lessons), default=-1) + 1
    _renumber_lessons(version, list(version.modules))
    return lesson


def update_lesson(
    actor: User,
    lesson: Lesson,
    *,
    title: str,
    minutes: int | None = 0,
    body: str = "",
    settings: dict | None = None,
    module: Module | None = None,
) -> None:
    """Change a lesson; its key stays (progress follows it), except that a practical task is
    named by its title, so renaming one makes it a new task for learners."""
    version = lesson.version
    _lock_editable(version)
    values = _lesson_values(
        version,
        lesson.type,
        title=title,
        minutes=minutes,
        settings=settings,
        lesson=lesson,
        module=module,
    )
    lesson.data = values["data"]
    if "key" in values:  # a lesson known by its title
        lesson.key = values["key"]
    lesson.title = values["title"]
    if LESSON_TYPES[lesson.type].has_body:
        lesson.minutes = values["minutes"]
        lesson.body = (body or "").replace("\r\n", "\n")
        lesson.html = render_lesson_markdown(version, lesson.body)
    if module is not None and module.id != lesson.module_id:
        lesson.module = module
        lesson.position = max((x.position for x in version.lessons), default=0) + 1
        db.session.flush()
        _renumber_lessons(version, list(version.modules))
    db.session.flush()


def move_lesson(actor: User, lesson: Lesson, *, position: int) -> None:
    """Put the lesson at `position` (0-based) within its module."""
    version = lesson.version
    _lock_editable(version)
    siblings = [x for x in lesson.module.lessons if x.id != lesson.id]
    siblings.insert(max(0, min(position, len(siblings))), lesson)
    base = min(x.position for x in siblings)
    for i, x in enumerate(siblings):
        x.position = base + i
    _renumber_lessons(version, list(version.modules))


def delete_lesson(actor: User, lesson: Lesson) -> None:
    version = lesson.version
    module = lesson.module
    _lock_editable(version)
    db.session.delete(lesson)
    db.session.flush()
    db.session.expire(version, ["lessons"])
    db.session.expire(module, ["lessons"])
    _renumber_lessons(version, list(version.modules))


def attach_media(actor: User, lesson: Lesson, upload: CheckedFile) -> str:
    """Store the video or document of a video/file lesson under a random name."""
    version = lesson.version
    _lock_editable(version)
    if upload.format.category not in LESSON_TYPES[lesson.type].media_categories:
        raise AuthoringError(_l("This lesson cannot take that kind of file."), "file")
    path = random_media_path(upload.format)
    storage().save(media_key(version.course, version.version, path), upload.data)
    lesson.media_path = path
    db.session.flush()
    return path


def store_image(actor: User, lesson: Lesson, upload: CheckedFile, *, alt: str) -> str:
    """Store an image for a lesson's text and return its Markdown, ![alt](media/<random>.ext).
    The lesson's text is not changed: the editor puts the line where the author wants it."""
    version = lesson.version
    _lock_editable(version)
    problems = _Problems()
    if not LESSON_TYPES[lesson.type].has_body:
        problems.add("image", _l("Images go into reading, video and document lessons."))
    elif upload.format.category != "image":
        problems.add("image", _l("Choose an image."))
    alt = " ".join(re.sub(r"[\[\]()\\<>]", " ", alt or "").split())[:120]
    if not alt:
        problems.add("alt", _l("Describe the image for people who cannot see it."))
    problems.raise_any()
    path = random_media_path(upload.format)
    storage().save(media_key(version.course, version.version, path), upload.data)
    return f"![{alt}]({path})"


def with_image(body: str, markdown: str) -> str:
    """`body` with an image's Markdown line added at its end, as a paragraph of its own."""
    body = (body or "").rstrip("\n")
    return f"{body}\n\n{markdown}\n" if body else f"{markdown}\n"


def add_image(actor: User, lesson: Lesson, upload: CheckedFile, *, alt: str) -> str:
    """Store an image and append it to the lesson's saved Markdown as ![alt](media/…); its
    package path is returned."""
    markdown = store_image(actor, lesson, upload, alt=alt)
    lesson.body = with_image(lesson.body, markdown)
    lesson.html = render_lesson_markdown(lesson.version, lesson.body)
    db.session.flush()
    return MEDIA_REF.search(markdown).group(1)


# --- quiz questions ----------------------------------------------------------------------------


def _check_question(
    lesson: Lesson, qtype, prompt, choices, answer, number: int, explanation: str = ""
) -> dict:
    choices = [" ".join(str(c).split()) for c in choices or []]
    if isinstance(answer, str):
        answer = " ".join(answer.split())
    elif isinstance(answer, list):
        answer = [" ".join(str(a).split()) for a in answer]
    if qtype in QUESTION_TYPES and not QUESTION_TYPES[qtype].has_choices:
        choices = []
    errors = question_problems(qtype, prompt, choices, answer, explanation)
    if errors:
        field, messages = next(iter(errors.items()))
        raise AuthoringError(
            _l(
                "Question %(n)d, %(field)s: %(message)s",
                n=number,
                field=QUESTION_FIELD_LABELS.get(field, field),
                message=messages[0],
            ),
            field,
            errors=errors,
        )
    return {"type": qtype, "prompt": prompt.strip(), "choices": choices, "answer": answer}


def add_question(
    actor: User,
    lesson: Lesson,
    *,
    type: str,
    prompt: str,
    choices: list | None = None,
    answer=None,
    explanation: str = "",
) -> Question:
    """Append a question to a quiz; the same prompt already in the quiz is returned instead."""
    _lock_editable(lesson.version)
    if not LESSON_TYPES[lesson.type].has_questions:
        raise AuthoringError(_l("Questions belong to quiz lessons."))
    values = _check_question(
        lesson, type, prompt, choices, answer, len(lesson.questions) + 1, explanation
    )
    for question in lesson.questions:
        if question.prompt == values["prompt"] and question.type == type:
            return question
    question = Question(
        position=len(lesson.questions), explanation=(explanation or "").strip(), **values
    )
    lesson.questions.append(question)
    db.session.flush()
    return question


def update_question(
    actor: User,
    question: Question,
    *,
    prompt: str,
    choices: list | None = None,
    answer=None,
    explanation: str = "",
) -> None:
    lesson = question.lesson
    _lock_editable(lesson.version)
    values = _check_question(
        lesson, question.type, prompt, choices, answer, question.position + 1, explanation
    )
    for key, value in values.items():
        setattr(question, key, value)
    question.explanation = (explanation or "").strip()
    db.session.flush()


def move_question(actor: User, question: Question, *, position: int) -> None:
    lesson = question.lesson
    _lock_editable(lesson.version)
    others = [q for q in lesson.questions if q.id != question.id]
    others.insert(max(0, min(position, len(others))), question)
    for i, q in enumerate(others):
        q.position = i
    _refresh(lesson)


def delete_question(actor: User, question: Question) -> None:
    lesson = question.lesson
    _lock_editable(lesson.version)
    lesson.questions.remove(question)  # delete-orphan: the row goes
    for i, q in enumerate(lesson.questions):
        q.position = i
    _refresh(lesson)


# --- the review workflow -------------------------------------------------------------------------


def version_problems(version: CourseVersion) -> list:
    """What keeps a version from being submitted, each naming the module, lesson or question."""
    problems: list = []
    if not version.lessons:
        problems.append(_l("Add at least one module with a lesson."))
    for module in version.modules:
        if not module.lessons:
            problems.append(_l("Module “%(module)s” has no lessons.", module=module.title))
    for lesson in version.lessons:
        problems += LESSON_TYPES[lesson.type].problems(lesson)
    published = {slug for slug, _ in prerequisite_options(version.course.consortium)}
    for slug in version.prerequisites or []:
        if slug not in published:
            problems.append(_l("Prerequisite “%(slug)s” is no longer in the catalogue.", slug=slug))
    return problems


def submit_version(actor: User, version: CourseVersion) -> bool:
    """Send a draft (or a returned version) for review; False if it was already sent."""
    _lock_editable_or_submitted(version)
    if version.status == "submitted":
        return False
    problems = version_problems(version)
    if problems:
        raise AuthoringError(problems[0], errors={None: problems})
    claimed = db.session.execute(
        update(CourseVersion)
        .where(CourseVersion.id == version.id, CourseVersion.status.in_(EDITABLE_STATES))
        .values(status="submitted", submitted_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(version)
    if claimed:
        _audit(actor, "course.submit", version)
    return bool(claimed)


def _lock_editable_or_submitted(version: CourseVersion) -> None:
    status = db.session.execute(
        select(CourseVersion.status).where(CourseVersion.id == version.id).with_for_update()
    ).scalar_one()
    db.session.refresh(version)
    if status not in (*EDITABLE_STATES, "submitted"):
        raise AuthoringError(
            _l(
                "Version %(n)d is “%(status)s” and cannot be submitted.",
                n=version.version,
                status=VERSION_STATUS[status][1],
            )
        )


def approve_version(actor: User, version: CourseVersion) -> bool:
    """Publish a submitted version: learners of earlier versions move to it and keep their
    progress on every lesson whose key still exists. False if it was no longer waiting."""
    claimed = db.session.execute(
        update(CourseVersion)
        .where(CourseVersion.id == version.id, CourseVersion.status == "submitted")
        .values(status="published", published_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(version)
    if not claimed:
        return False
    skills = {s.id: s for s in db.session.scalars(select(Skill))}
    version.search_text = search_text_for(version, skills)
    publish_version(actor, version)  # archives the old version, moves learners, audits
    version_reviewed.send(version, actor=actor, approved=True)
    return True


def return_version(actor: User, version: CourseVersion, *, comment: str) -> bool:
    """Send a submitted version back to its authors with a comment; False if it was no
    longer waiting for review."""
    comment = (comment or "").strip()
    if not comment:
        raise AuthoringError(_l("Tell the trainers what to change."), "comment")
    if len(comment) > 4000:
        raise AuthoringError(_l("Keep the comment under 4000 characters."), "comment")
    claimed = db.session.execute(
        update(CourseVersion)
        .where(CourseVersion.id == version.id, CourseVersion.status == "submitted")
        .values(status="returned", review_comment=comment)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(version)
    if claimed:
        _audit(actor, "course.return", version)
        version_reviewed.send(version, actor=actor, approved=False)
    return bool(claimed)


def _audit(actor: User, action: str, version: CourseVersion) -> None:
    record_action(
        actor,
        action,
        version.course,
        consortium_id=version.course.consortium_id,
        details={"version": version.version},
    )
    db.session.flush()


def create_next_version(actor: User, course: Course) -> tuple[CourseVersion, bool]:
    """The version to edit next: a deep copy of the published one as version n+1 (modules,
    lessons with the same keys, questions, media). If a newer draft, submitted or returned
    version exists already, that one is returned (created False)."""
    db.session.execute(select(Course.id).where(Course.id == course.id).with_for_update())
    db.session.expire(course, ["versions"])
    latest = latest_version(course)
    if latest is None or latest.status not in ("published", "archived"):
        return latest, False
    try:
        with db.session.begin_nested():
            version = _copy_version(actor, latest, latest.version + 1)
    except IntegrityError:  # another request made version n+1 first
        db.session.expire(course, ["versions"])
        return latest_version(course), False
    _audit(actor, "course.new_version", version)
    return version, True


def _copy_version(actor: User, source: CourseVersion, number: int) -> CourseVersion:
    course = source.course
    version = CourseVersion(
        course=course,
        version=number,
        status="draft",
        language=source.language,
        title=source.title,
        summary=source.summary,
        sector=source.sector,
        hours=source.hours,
        pass_mark=source.pass_mark,
        prerequisites=list(source.prerequisites or []),
        search_text=source.search_text,
        created_by_id=actor.id,
    )
    db.session.add(version)
    version.skill_levels = [
        CourseSkill(skill_id=s.skill_id, level=s.level, position=s.position)
        for s in source.skill_levels
    ]
    db.session.flush()
    store = storage()
    for m in source.modules:
        with db.session.no_autoflush:  # build each module's rows whole, then flush
            _copy_module(version, m, store)
    db.session.flush()
    db.session.refresh(version)
    return version


def _copy_module(version: CourseVersion, source: Module, store) -> None:
    """Copy a module with its lessons (same keys), questions and media into `version`."""
    course = version.course
    module = Module(version=version, position=source.position, title=source.title)
    db.session.add(module)
    for old in source.lessons:
        lesson = Lesson(
            version=version,
            module=module,
            position=old.position,
            key=old.key,
            type=old.type,
            title=old.title,
            minutes=old.minutes,
            body=old.body,
            html=render_lesson_markdown(version, old.body),
            media_path=old.media_path,
            data=copy.deepcopy(old.data),
        )
        lesson.questions = [
            Question(
                position=q.position,
                type=q.type,
                prompt=q.prompt,
                choices=list(q.choices or []),
                answer=copy.deepcopy(q.answer),
                explanation=q.explanation,
            )
            for q in old.questions
        ]
        db.session.add(lesson)
        # Media live under the version's number (courses.media serves them from there).
        for path in media_paths(old):
            old_key = media_key(course, source.version.version, path)
            new_key = media_key(course, version.version, path)
            if store.exists(old_key) and not store.exists(new_key):
                store.save(new_key, store.read(old_key))


def media_paths(lesson: Lesson) -> list[str]:
    """The package paths of the media a lesson uses (its file and images in its Markdown)."""
    paths = MEDIA_REF.findall(lesson.body or "")
    if lesson.media_path:
        paths.append(lesson.media_path)
    return list(dict.fromkeys(paths))
