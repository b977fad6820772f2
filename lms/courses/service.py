"""Courses: importing and exporting packages, versions and the review workflow, the catalogue."""

from __future__ import annotations

from pathlib import Path

from blinker import Namespace
from sqlalchemy import Select, select, update
from sqlalchemy.orm import joinedload, load_only

from lms.audit.service import record_action
from lms.auth.models import User
from lms.core.storage import storage
from lms.core.types import utcnow
from lms.courses.lesson_types import LESSON_TYPES, dump_yaml
from lms.courses.markdown import render_markdown, without_title_heading
from lms.courses.models import Course, CourseSkill, CourseVersion, Lesson, Module, Question
from lms.courses.package import Package, PackageLesson
from lms.extensions import db
from lms.taxonomy.models import Skill
from lms.tenancy.models import Consortium, Firm, new_catalogue_stamp

signals = Namespace()
# Sent when a version becomes the course's published one (sender=CourseVersion), inside the
# publishing transaction; learning moves the course's active enrolments to it.
version_published = signals.signal("version-published")


class CourseError(ValueError):
    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


def media_key(course: Course, version: int, path: str) -> str:
    return f"courses/{course.id}/v{version}/{path}"


def lesson_html(version: CourseVersion, body: str, *, title: str | None = None) -> str:
    """Sanitised HTML of a lesson's Markdown; media/… paths point at this version's media and a
    leading heading repeating the lesson title is left out (the player shows the title)."""
    if not body:
        return ""
    if title:
        body = without_title_heading(body, title)
    course = version.course
    return render_markdown(body, media_url=lambda p: media_url(course, version.version, p))


def media_url(course: Course, version: int, path: str) -> str:
    """The URL of courses.media for a package path (built without a request, e.g. from the CLI).

    Stored lesson HTML holds these URLs, so the route's rule must not change.
    """
    return f"/courses/{course.slug}/media/{version}/{path}"


def course_slugs(consortium: Consortium) -> set[str]:
    return set(db.session.scalars(select(Course.slug).where(Course.consortium_id == consortium.id)))


def latest_version(course: Course) -> CourseVersion | None:
    return course.versions[-1] if course.versions else None


def published_version(course: Course) -> CourseVersion | None:
    return next((v for v in reversed(course.versions) if v.status == "published"), None)


def search_text_for(version: CourseVersion, skills: dict[str, Skill]) -> str:
    parts = [version.course.slug, version.title, version.summary]
    for entry in version.skills:
        skill = skills.get(entry["skill"])
        if skill:
            parts += [skill.name_zh, skill.name_en, skill.id]
    parts += [m.title for m in version.modules]
    parts += [lesson.title for lesson in version.lessons]
    return " ".join(parts).casefold()


def import_package(
    actor: User | None, consortium: Consortium, firm: Firm, package: Package
) -> tuple[CourseVersion, str]:
    """Publish a validated package; returns the version and "created" | "updated" | "unchanged".

    A package whose version equals the latest is unchanged; a lower one is refused.
    """
    assert not package.problems, "validate before importing"
    meta = package.meta
    course = db.session.scalars(
        select(Course).where(Course.consortium_id == consortium.id, Course.slug == meta["slug"])
    ).first()
    outcome = "created"
    if course is None:
        course = Course(consortium_id=consortium.id, firm_id=firm.id, slug=meta["slug"])
        db.session.add(course)
        db.session.flush()
    else:
        latest = latest_version(course)
        if latest and meta["version"] == latest.version:
            return latest, "unchanged"
        if latest and meta["version"] < latest.version:
            raise CourseError(
                f"course.yaml:1: version {meta['version']} is lower than version "
                f"{latest.version} already in the catalogue"
            )
        outcome = "updated"
    version = build_version(course, package, status="published", actor=actor)
    publish_version(actor, version, audit=False)
    record_action(
        actor,
        "course.import",
        course,
        consortium_id=consortium.id,
        details={"version": version.version},
    )
    return version, outcome


def build_version(course: Course, package: Package, *, status: str, actor: User | None):
    """Create a version (modules, lessons, questions, media) from a parsed package."""
    meta = package.meta
    version = CourseVersion(
        course=course,
        version=meta["version"],
        status=status,
        language=meta["language"],
        title=meta["title"].strip(),
        summary=(meta.get("summary") or "").strip(),
        sector=meta["sector"],
        hours=float(meta["hours"]),
        pass_mark=meta.get("pass_mark", 60),
        skill_levels=[
            CourseSkill(skill_id=s["skill"], level=s["level"], position=i)
            for i, s in enumerate(meta.get("skills", []))
        ],
        prerequisites=list(meta.get("prerequisites", [])),
        created_by_id=actor.id if actor else None,
    )
    db.session.add(version)
    db.session.flush()
    store = storage()
    for path, data in package.media.items():
        store.save(media_key(course, version.version, path), data)
    position = 0
    for mi, pm in enumerate(package.modules):
        module = Module(version=version, position=mi, title=pm.title)
        db.session.add(module)
        for pl in pm.lessons:
            db.session.add(_lesson_from_package(version, module, position, pl))
            position += 1
    db.session.flush()
    skills = {s.id: s for s in db.session.scalars(select(Skill))}
    db.session.refresh(version)
    version.search_text = search_text_for(version, skills)
    return version


def _lesson_from_package(version, module, position: int, pl: PackageLesson) -> Lesson:
    lesson = Lesson(
        version=version,
        module=module,
        position=position,
        key=pl.key,
        type=pl.type,
        title=pl.title,
        minutes=pl.minutes,
        body=pl.body,
        media_path=pl.media_path,
        data=dict(pl.data),
        html=lesson_html(version, pl.body, title=pl.title),
    )
    for qi, q in enumerate(pl.questions):
        lesson.questions.append(Question(position=qi, **q))
    return lesson


def publish_version(actor: User | None, version: CourseVersion, *, audit: bool = True) -> None:
    """Make `version` the course's published one; earlier published versions are archived."""
    for other in version.course.versions:
        if other is not version and other.status == "published":
            other.status = "archived"
    version.status = "published"
    version.published_at = utcnow()
    version_published.send(version)  # learners still on the course move to it
    catalogue_changed(version.course.consortium_id)
    if audit:
        record_action(
            actor,
            "course.publish",
            version.course,
            consortium_id=version.course.consortium_id,
            details={"version": version.version},
        )
    db.session.flush()


def catalogue_changed(consortium_id: int | None, **_kw) -> None:
    """The published catalogue of a consortium (of every one: None) changed, in the current
    transaction: its stamp changes, and every process rebuilds what it keeps of it
    (lms.skills.recommendations) when it next reads the stamp."""
    query = update(Consortium).values(catalogue_stamp=new_catalogue_stamp())
    if consortium_id is not None:
        query = query.where(Consortium.id == consortium_id)
    db.session.execute(query.execution_options(synchronize_session=False))


def connect_signals() -> None:
    """A skill's names and descriptions are part of the catalogue's index."""
    from lms.taxonomy.service import skills_changed

    skills_changed.connect(catalogue_changed, weak=False)


# --- export ----------------------------------------------------------------------------------


def export_version(version: CourseVersion, out: Path) -> Path:
    """Write `version` as a package folder `out/<slug>/`; importing it gives the same course."""
    course = version.course
    root = out / course.slug
    (root / "lessons").mkdir(parents=True, exist_ok=True)
    modules = []
    store = storage()
    for module in version.modules:
        entries = []
        for lesson in module.lessons:
            entry, files = LESSON_TYPES[lesson.type].export(lesson)
            entries.append(entry)
            for path, text in files.items():
                _write(root / path, text)
        modules.append({"title": module.title, "lessons": entries})
    for lesson in version.lessons:
        for path in _media_paths(lesson):
            key = media_key(course, version.version, path)
            if store.exists(key):
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_bytes(store.read(key))
    meta = {
        "slug": course.slug,
        "version": version.version,
        "language": version.language,
        "title": version.title,
        "summary": version.summary,
        "sector": version.sector,
        "hours": int(version.hours) if float(version.hours).is_integer() else version.hours,
        "skills": version.skills,
        "prerequisites": version.prerequisites,
        "pass_mark": version.pass_mark,
        "modules": modules,
    }
    _write(root / "course.yaml", dump_yaml(meta))
    return root


def _media_paths(lesson: Lesson) -> list[str]:
    import re

    paths = re.findall(r"\]\((media/[^)\s]+)\)", lesson.body or "")
    if lesson.media_path:
        paths.append(lesson.media_path)
    return paths


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# --- catalogue -------------------------------------------------------------------------------


def catalogue_query(
    consortium: Consortium,
    *,
    search: str = "",
    sector: str = "",
    skill: str = "",
    level: int | None = None,
    language: str = "",
    firm_id: int | None = None,
) -> Select:
    """Published versions of the consortium's courses, filtered; newest first."""
    query = (
        select(CourseVersion)
        .join(Course, CourseVersion.course_id == Course.id)
        .where(Course.consortium_id == consortium.id, CourseVersion.status == "published")
    )
    for term in search.casefold().split():
        query = query.where(CourseVersion.search_text.contains(term, autoescape=True))
    if sector:
        query = query.where(CourseVersion.sector == sector)
    if language:
        query = query.where(CourseVersion.language == language)
    if firm_id:
        query = query.where(Course.firm_id == firm_id)
    if skill or level:
        taught = select(CourseSkill.version_id).where(CourseSkill.version_id == CourseVersion.id)
        if skill:
            taught = taught.where(CourseSkill.skill_id == skill)
        if level:
            taught = taught.where(CourseSkill.level >= level)
        query = query.where(taught.exists())
    # Each card shows the course's slug and authoring firm: load them with the page.
    query = query.options(joinedload(CourseVersion.course).joinedload(Course.firm))
    return query.order_by(CourseVersion.published_at.desc(), CourseVersion.id.desc())


def outline(version: CourseVersion) -> list[tuple[Module, list[Lesson]]]:
    """Modules with their lessons in two queries (not one per module)."""
    modules = list(
        db.session.scalars(
            select(Module).where(Module.version_id == version.id).order_by(Module.position)
        )
    )
    lessons = db.session.scalars(
        select(Lesson)
        .where(Lesson.version_id == version.id)
        .order_by(Lesson.position)
        .options(
            load_only(
                Lesson.id,
                Lesson.module_id,
                Lesson.type,
                Lesson.title,
                Lesson.minutes,
                Lesson.key,
                Lesson.position,
            )
        )
    ).all()
    by_module: dict[int, list[Lesson]] = {m.id: [] for m in modules}
    for lesson in lessons:
        by_module[lesson.module_id].append(lesson)
    return [(m, by_module[m.id]) for m in modules]


def taught_skills(consortium: Consortium) -> list[Skill]:
    """Skills taught by the consortium's published courses (for the catalogue filter)."""
    taught = (
        select(CourseSkill.version_id)
        .join(CourseVersion, CourseVersion.id == CourseSkill.version_id)
        .join(Course, Course.id == CourseVersion.course_id)
        .where(
            CourseSkill.skill_id == Skill.id,
            Course.consortium_id == consortium.id,
            CourseVersion.status == "published",
        )
    )
    return list(
        db.session.scalars(
            select(Skill)
            .where(taught.exists())
            .order_by(Skill.id)
            .options(load_only(Skill.id, Skill.name_zh, Skill.name_en))
        )
    )


def courses_by_slug(consortium: Consortium, slugs: list[str]) -> dict[str, Course]:
    if not slugs:
        return {}
    return {
        c.slug: c
        for c in db.session.scalars(
            select(Course).where(Course.consortium_id == consortium.id, Course.slug.in_(slugs))
        )
    }


def published_versions(consortium: Consortium) -> list[CourseVersion]:
    """The published version of every course of the consortium, by title."""
    return list(
        db.session.scalars(
            select(CourseVersion)
            .join(Course, Course.id == CourseVersion.course_id)
            .where(Course.consortium_id == consortium.id, CourseVersion.status == "published")
            .order_by(CourseVersion.title)
        )
    )


def skill_levels(version: CourseVersion) -> list[CourseSkill]:
    """The version's skills with their Skill rows, in one query."""
    return list(
        db.session.scalars(
            select(CourseSkill)
            .where(CourseSkill.version_id == version.id)
            .order_by(CourseSkill.position)
            .options(joinedload(CourseSkill.skill))
        )
    )
