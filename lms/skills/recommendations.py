"""Stored course recommendations: the database side of lms/skills/engine.py.

`recompute(consortium_id)` ranks every current worker of a consortium in one batch (the
"recommendations" background job) and stores each worker's top list with the model version;
`for_worker(user)` reads a worker's stored list, recomputing it on demand when it is missing or
stale (evidence, enrolments or roles changed — those delete the stored list — or the published
catalogue changed, which changes the model version).

A course the worker is enrolled in (not started, in progress, failed or completed) or has ever
completed is never shown, whenever the list was computed: a stored list is filtered as it is
read, and recomputed when the filter leaves too few. A course the worker withdrew from may be
recommended again — withdrawing leaves the gap open, and progress is kept for a return — so a
withdrawal newer than the stored list makes it stale too.

`path_steps` / `enroll_in_path` are a learning path as the worker acts on it: each course
enrolled, ready, or waiting for prerequisites to be completed (as the course page requires).
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from lms.core.sql import insert_with_conflicts
from lms.core.types import utcnow
from lms.courses.models import Course as CourseRow
from lms.courses.models import CourseVersion
from lms.courses.service import published_version
from lms.extensions import db
from lms.jobs import service as jobs
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.skills import engine
from lms.skills.models import RecommendationList, SkillEvidence
from lms.skills.recommend import Course, Gap, learning_path, narrow_text, reason_text
from lms.taxonomy.models import JobRole, RoleSkill, Skill
from lms.tenancy.models import Consortium, Membership
from lms.tenancy.scope import current_membership_conditions

ALGORITHM = "gap-tfidf-knn/1"
TOP_K = 10
CHUNK = 5000  # workers ranked and stored per step of the batch


@dataclass(frozen=True)
class Listed:
    """A published course version as lists and paths show it (plain data a process keeps)."""

    course_id: int
    version_id: int
    slug: str
    title: str
    language: str
    hours: float
    prerequisites: tuple[str, ...]


@dataclass(frozen=True)
class SkillInfo:
    """A skill of the taxonomy as pages name it (plain data a process keeps)."""

    id: str
    category_id: str
    consortium_id: int | None
    name_zh: str
    name_en: str

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


@dataclass
class Catalogue:
    """A consortium's published courses: built once per process for each catalogue stamp
    (lms.courses.service.catalogue_changed), never per request. Pages read its listing; the
    ranking index is built on first use (by the ranking task, not by a page)."""

    versions: list[Listed]  # index order
    courses: list[Course]
    model_version: str
    stamp: int
    skills: dict[str, SkillInfo]  # every skill of the taxonomy, by id
    skill_texts: dict[str, str]  # what the index reads of each skill

    def __post_init__(self) -> None:
        self.by_course = {v.course_id: v for v in self.versions}
        self.by_slug = {v.slug: v for v in self.versions}

    @functools.cached_property
    def index(self) -> engine.CourseIndex:
        return engine.build_index(self.courses, self.skill_texts, list(self.skills))

    def skill_name(self, skill_id: str, locale: str) -> str:
        skill = self.skills.get(skill_id)
        return skill.name(locale) if skill else skill_id

    def visible_skills(self, consortium_id: int) -> list[SkillInfo]:
        """The shared skills and the consortium's own, by category."""
        return sorted(
            (s for s in self.skills.values() if s.consortium_id in (None, consortium_id)),
            key=lambda s: (s.category_id, s.id),
        )


def _published_versions(consortium_id: int) -> list[CourseVersion]:
    latest = (
        select(func.max(CourseVersion.id))
        .join(CourseRow, CourseRow.id == CourseVersion.course_id)
        .where(CourseRow.consortium_id == consortium_id, CourseVersion.status == "published")
        .group_by(CourseVersion.course_id)
    )
    return list(
        db.session.scalars(
            select(CourseVersion)
            .where(CourseVersion.id.in_(latest))
            .options(joinedload(CourseVersion.course), selectinload(CourseVersion.skill_levels))
            .order_by(CourseVersion.id)
        )
    )


_catalogues: dict[int, Catalogue] = {}  # consortium id → its catalogue, in this process
_building = threading.Lock()


def catalogue(consortium_id: int, stamp: int | None = None) -> Catalogue:
    """The consortium's catalogue as this process keeps it. `stamp`: the consortium's catalogue
    stamp when the caller has it (the signed-in user's memberships carry it), else it is read.
    A stamp other than the kept one rebuilds the catalogue (read with the stamp it has then)."""
    if stamp is None:
        stamp = _stamp(consortium_id)
    kept = _catalogues.get(consortium_id)
    if kept is not None and kept.stamp == stamp:
        return kept
    with _building:  # one build at a time; the threads waiting for it take its result
        kept = _catalogues.get(consortium_id)
        if kept is not None and kept.stamp == stamp:
            return kept
        kept = _catalogues[consortium_id] = _build(consortium_id)
        return kept


def forget_kept() -> None:
    """Drop what this process keeps (catalogues, peers, recent ranking requests): for a
    database that went back in time under it (a restore; the tests' rolled-back
    transactions)."""
    _catalogues.clear()
    _peers.clear()
    _requested.clear()


def _stamp(consortium_id: int) -> int:
    return db.session.scalar(
        select(Consortium.catalogue_stamp).where(Consortium.id == consortium_id)
    )


def stamp_of(user, consortium_id: int) -> int | None:
    """The consortium's catalogue stamp as loaded with the user's memberships (no query)."""
    return next(
        (
            m.consortium.catalogue_stamp
            for m in user.memberships
            if m.consortium_id == consortium_id
        ),
        None,
    )


def _build(consortium_id: int) -> Catalogue:
    stamp = _stamp(consortium_id)
    versions = _published_versions(consortium_id)
    courses = [
        Course(
            v.course.slug,
            v.title,
            f"{v.summary} {v.search_text}",
            float(v.hours or 0),
            {s.skill_id: s.level for s in v.skill_levels},
            tuple(v.prerequisites or ()),
        )
        for v in versions
    ]
    skills = db.session.scalars(select(Skill).order_by(Skill.id)).all()
    texts = {
        s.id: " ".join(filter(None, (s.name_zh, s.name_en, s.description_zh, s.description_en)))
        for s in skills
    }
    digest = hashlib.sha1(
        ",".join(str(v.id) for v in versions).encode() + b"|" + str(len(skills)).encode(),
        usedforsecurity=False,
    ).hexdigest()[:12]
    listed = [
        Listed(
            v.course_id,
            v.id,
            v.course.slug,
            v.title,
            v.language,
            float(v.hours or 0),
            tuple(v.prerequisites or ()),
        )
        for v in versions
    ]
    return Catalogue(
        listed,
        courses,
        f"{ALGORITHM}:{digest}",
        stamp,
        {
            s.id: SkillInfo(s.id, s.category_id, s.consortium_id, s.name_zh, s.name_en)
            for s in skills
        },
        texts,
    )


def current_model_version(consortium_id: int) -> str:
    """The algorithm and the published catalogue that lists are ranked with now."""
    return catalogue(consortium_id).model_version


def _taken_condition():
    """Enrolments that keep their course out of a worker's recommendations: every active one
    (whatever its status) and every completion, also one set aside for recertification. The
    same rule ranks (`_workers`) and filters a stored list as it is read (`for_worker`)."""
    return or_(Enrollment.withdrawn_at.is_(None), Enrollment.status == "completed")


# --- workers as arrays ---------------------------------------------------------------------


@dataclass
class Workers:
    user_ids: np.ndarray
    batch: engine.WorkerBatch


def _workers(cat: Catalogue, consortium_id: int, user_ids: Sequence[int] | None) -> Workers:
    """Current workers of the consortium (or the given ones) as sparse arrays."""
    skill_col = cat.index.skill_index
    course_col = {v.course_id: i for i, v in enumerate(cat.versions)}
    query = (
        select(Membership.user_id, Membership.job_role_id)
        .where(
            Membership.consortium_id == consortium_id,
            Membership.role == "worker",
            *current_membership_conditions(),
        )
        .order_by(Membership.user_id, Membership.id)
    )
    if user_ids is not None:
        query = query.where(Membership.user_id.in_(list(user_ids)))
    roles_of: dict[int, list[str]] = {}
    for user_id, role_id in db.session.execute(query):
        roles_of.setdefault(user_id, [])
        if role_id:
            roles_of[user_id].append(role_id)
    from lms.auth.models import User

    ids = sorted(roles_of)
    row = {u: i for i, u in enumerate(ids)}
    # The same workers by the membership query itself, never as a list of ids (a consortium
    # of 100,000 workers would pass PostgreSQL's 65,535 bound parameters).
    members = query.with_only_columns(Membership.user_id).order_by(None).subquery()
    targets = dict(
        db.session.execute(
            select(User.id, User.target_role_id).where(User.id.in_(select(members.c.user_id)))
        ).all()
    )
    requirements: dict[str, dict[str, int]] = {}
    for role_id, skill_id, level in db.session.execute(
        select(RoleSkill.role_id, RoleSkill.skill_id, RoleSkill.level)
    ):
        requirements.setdefault(role_id, {})[skill_id] = level
    role_group = {r: i + 1 for i, r in enumerate(sorted(requirements))}

    def matrix(entries, n_cols):
        rows, cols, vals = [], [], []
        for r, c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        return sparse.csr_matrix(
            (np.asarray(vals, np.float32), (rows, cols)), shape=(len(ids), n_cols)
        )

    required: dict[tuple[int, int], int] = {}
    groups = np.zeros(len(ids), np.int64)
    for user_id in ids:
        wanted = [*roles_of[user_id], *([targets[user_id]] if targets.get(user_id) else [])]
        for role_id in wanted:
            for skill_id, level in requirements.get(role_id, {}).items():
                if skill_id in skill_col:
                    key = (row[user_id], skill_col[skill_id])
                    required[key] = max(required.get(key, 0), level)
        if roles_of[user_id]:
            groups[row[user_id]] = role_group.get(roles_of[user_id][0], 0)
    held_query = (
        select(SkillEvidence.user_id, SkillEvidence.skill_id, func.max(SkillEvidence.level))
        .where(SkillEvidence.is_verified.is_(True))
        .group_by(SkillEvidence.user_id, SkillEvidence.skill_id)
    )
    enrol_query = select(Enrollment.user_id, Enrollment.course_id, Enrollment.status).where(
        Enrollment.consortium_id == consortium_id, _taken_condition()
    )
    if user_ids is not None:
        held_query = held_query.where(SkillEvidence.user_id.in_(ids))
        enrol_query = enrol_query.where(Enrollment.user_id.in_(ids))
    held = [
        (row[u], skill_col[s], level)
        for u, s, level in db.session.execute(held_query)
        if u in row and s in skill_col
    ]
    completed, busy = [], []
    for u, course_id, status in db.session.execute(enrol_query):
        if u in row and course_id in course_col:
            (completed if status == "completed" else busy).append(
                (row[u], course_col[course_id], 1)
            )
    n_skills, n_courses = len(cat.index.skill_ids), len(cat.versions)
    batch = engine.WorkerBatch(
        required=matrix(((r, c, v) for (r, c), v in required.items()), n_skills),
        held=matrix(held, n_skills),
        completed=matrix(completed, n_courses),
        in_progress=matrix(busy, n_courses),
        groups=groups,
        ids=np.asarray(ids, np.int64),
    )
    return Workers(np.asarray(ids, np.int64), batch)


def _take(batch: engine.WorkerBatch, rows) -> engine.WorkerBatch:
    """Some workers of a batch (a slice or an array of row numbers)."""
    return engine.WorkerBatch(
        required=batch.required[rows],
        held=batch.held[rows],
        completed=batch.completed[rows],
        in_progress=batch.in_progress[rows],
        groups=batch.groups[rows],
        ids=batch.ids[rows],
    )


# --- ranking and storing -------------------------------------------------------------------


_PEERS_SECONDS = 600  # a process reuses a consortium's peer pool this long (same catalogue)
_peers: dict[int, tuple[int, float, engine.PeerPool]] = {}


def _peer_pool(cat: Catalogue, consortium_id: int, everyone: Workers | None) -> engine.PeerPool:
    """The consortium's peers for the collaborative signal, rebuilt when the catalogue changed
    or after _PEERS_SECONDS (ranking a few workers must not read the whole consortium each
    time)."""
    kept = _peers.get(consortium_id)
    if everyone is None and kept and kept[0] == cat.stamp and time.monotonic() < kept[1]:
        return kept[2]
    if everyone is None:
        everyone = _workers(cat, consortium_id, None)
    pool = engine.build_peer_pool(
        everyone.batch.held, everyone.batch.completed, everyone.batch.groups, everyone.user_ids
    )
    _peers[consortium_id] = (cat.stamp, time.monotonic() + _PEERS_SECONDS, pool)
    return pool


def recompute(
    consortium_id: int,
    user_ids: Sequence[int] | None = None,
    *,
    report: Callable[[int, int], None] | None = None,
) -> int:
    """Rank and store the top lists of the consortium's current workers (or the given ones).

    Peers for the collaborative signal always come from the whole consortium.
    """
    cat = catalogue(consortium_id)
    if user_ids is None:
        workers = _workers(cat, consortium_id, None)
        peers = _peer_pool(cat, consortium_id, workers)
    else:
        workers = _workers(cat, consortium_id, user_ids)
        peers = _peer_pool(cat, consortium_id, None)
    total = len(workers.user_ids)
    now = utcnow()
    for start in range(0, total, CHUNK):
        stop = min(total, start + CHUNK)
        part = _take(workers.batch, slice(start, stop))
        result = engine.rank_workers(cat.index, part, k=TOP_K, peers=peers)
        _store(cat, consortium_id, workers.user_ids[start:stop], part, result, now)
        if report:
            report(stop, total)
    return total


def _store(cat, consortium_id, user_ids, part, result, now) -> None:
    required = part.required.tocsr()
    held = part.held.tocsr()
    rows = []
    for r, user_id in enumerate(user_ids.tolist()):
        items = []
        for j, c in enumerate(result.courses[r].tolist()):
            if c < 0:
                break
            s = int(result.reason_skill[r, j])
            after = int(result.after[r, j])
            version = cat.versions[c]
            items.append(
                {
                    "course": version.course_id,
                    "score": round(float(result.scores[r, j]), 4),
                    "skill": cat.index.skill_ids[s] if s >= 0 else None,
                    "held": int(held[r, s]) if s >= 0 else 0,
                    "required": int(required[r, s]) if s >= 0 else 0,
                    "reaches": int(cat.courses[c].skills.get(cat.index.skill_ids[s], 0))
                    if s >= 0
                    else 0,
                    "closes": int(result.closes_count[r, j]),
                    "after": cat.versions[after].course_id if after >= 0 else None,
                }
            )
        rows.append(
            {
                "user_id": user_id,
                "consortium_id": consortium_id,
                "model_version": cat.model_version,
                "computed_at": now,
                "items": items,
            }
        )
    if rows:
        # One upsert: two rankings of the same worker at once (two processes refreshing one
        # list) both succeed, the later one's list stays.
        statement = insert_with_conflicts(RecommendationList)
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "consortium_id"],
                set_={
                    name: statement.excluded[name]
                    for name in ("model_version", "computed_at", "items")
                },
            ),
            rows,
        )
    db.session.flush()


def recompute_job(job, report) -> dict:
    """The "recommendations" background job: every current worker of the job's consortium."""
    count = recompute(job.consortium_id, report=report)
    db.session.commit()
    return {"workers": count}


# --- reading -------------------------------------------------------------------------------

STALE = "stale"  # the model version of a list whose worker changed since it was ranked


@dataclass
class Shown:
    """One recommendation as a page shows it."""

    version: Listed
    reason: str
    closes: int
    after: Listed | None
    score: float


@dataclass
class Recommended:
    """What a page shows of a worker's list: the items, and whether a fresher list is being
    prepared (the list is missing or older than the worker's profile or the catalogue)."""

    items: list[Shown]
    preparing: bool = False

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def stored_list(user_id: int, consortium_id: int) -> RecommendationList | None:
    return db.session.get(RecommendationList, (user_id, consortium_id))


@dataclass
class Taken:
    """What of the catalogue a worker has taken, read when their list is shown."""

    courses: set[int]  # course ids never to recommend (enrolled or completed)
    completed_slugs: set[str]
    last_withdrawal: object  # datetime of the latest withdrawal, or None


def taken(user_id: int, consortium_id: int) -> Taken:
    rows = db.session.execute(
        select(Enrollment.course_id, CourseRow.slug, Enrollment.status, Enrollment.withdrawn_at)
        .join(CourseRow, CourseRow.id == Enrollment.course_id)
        .where(Enrollment.user_id == user_id, Enrollment.consortium_id == consortium_id)
    ).all()
    withdrawals = [w for _c, _s, status, w in rows if w is not None and status != "completed"]
    return Taken(
        {c for c, _s, status, w in rows if w is None or status == "completed"},
        {slug for _c, slug, status, _w in rows if status == "completed"},
        max(withdrawals, default=None),
    )


def for_worker(
    user, consortium_id: int, locale: str, *, limit: int = 5, have: Taken | None = None
) -> Recommended:
    """The worker's recommendations with reasons, never a course they are enrolled in or have
    completed: the stored list, filtered now. Nothing is ranked here: a list that is missing
    or stale (the worker's profile or the catalogue changed since it was ranked, or the
    filter leaves fewer than it could show) asks for a ranking (`request_refresh`) and shows
    what it has meanwhile, marked as being prepared. `have`: `taken()`, when the caller has it."""
    cat = catalogue(consortium_id, stamp_of(user, consortium_id))
    if have is None:
        have = taken(user.id, consortium_id)
    stored = stored_list(user.id, consortium_id)
    if stored is None:
        request_refresh(user.id, consortium_id)
        return Recommended([], preparing=True)
    items = [
        i for i in stored.items if i["course"] not in have.courses and i["course"] in cat.by_course
    ]
    stale = (
        stored.model_version != cat.model_version
        or (have.last_withdrawal is not None and have.last_withdrawal > stored.computed_at)
        or len(items) < min(limit, len(stored.items))
    )
    if stale:
        request_refresh(user.id, consortium_id)
    return Recommended(shown(items[:limit], cat, locale, have=have), preparing=stale)


# (user id, consortium id) → when this process last asked for their ranking
_requested: dict[tuple[int, int], float] = {}
_REQUEST_AGAIN_SECONDS = 60
REFRESH_TASK = "recommendations.refresh"


def request_refresh(user_id: int, consortium_id: int) -> None:
    """Ask for the worker's list to be ranked (the REFRESH_TASK) without writing anything:
    queued for a worker, or run when the request is over in the embedded mode. Asked again by
    the same process at most once a minute (a lost task is asked for again by the next page
    that finds the list stale)."""
    key = (user_id, consortium_id)
    now = time.monotonic()
    if now - _requested.get(key, -_REQUEST_AGAIN_SECONDS) < _REQUEST_AGAIN_SECONDS:
        return
    _requested[key] = now
    jobs.run_task_soon(REFRESH_TASK, [consortium_id, [user_id]])


def refresh_task(key) -> None:
    """The REFRESH_TASK: rank the lists of some workers of a consortium (all: None), as one
    batch (idempotent)."""
    consortium_id, user_ids = key
    recompute(consortium_id, user_ids)
    for user_id in user_ids or ():
        _requested.pop((user_id, consortium_id), None)


def mark_stale(user_id: int) -> None:
    """The worker changed (enrolled, completed, evidence, roles): their lists are ranked again
    once this transaction commits; pages show the old list, filtered, until then."""
    db.session.execute(
        update(RecommendationList)
        .where(RecommendationList.user_id == user_id)
        .values(model_version=STALE)
        .execution_options(synchronize_session=False)
    )
    for consortium_id in _worker_consortia(user_id):
        refresh_after_commit(consortium_id, user_id)


def refresh_after_commit(consortium_id: int, user_id: int | None = None) -> None:
    """Rank the worker's list (every worker's: None) once this transaction commits: one task
    per consortium and transaction, for all the workers it changed (or for everyone)."""
    transaction = db.session().get_transaction()
    kept = db.session.info.get("stale_recommendations")
    if kept is None or kept[0] is not transaction:
        kept = db.session.info["stale_recommendations"] = (transaction, {})
    waiting = kept[1]  # consortium id → the key of its task: [consortium id, user ids or None]
    if consortium_id not in waiting:
        waiting[consortium_id] = [consortium_id, []]
        jobs.after_commit(REFRESH_TASK, waiting[consortium_id])
    key = waiting[consortium_id]
    if user_id is None:
        key[1] = None  # everyone
    elif key[1] is not None and user_id not in key[1]:
        key[1].append(user_id)


def _worker_consortia(user_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(Membership.consortium_id)
            .where(
                Membership.user_id == user_id,
                Membership.role == "worker",
                *current_membership_conditions(),
            )
            .distinct()
        )
    )


def shown(items: list[dict], cat: Catalogue, locale: str, *, have: Taken) -> list[Shown]:
    """Stored items as a page shows them. A course's "after" is the first prerequisite the
    worker has not completed (the course page refuses enrolment until it is)."""
    result = []
    for item in items:
        version = cat.by_course.get(item["course"])
        if version is None:
            continue  # withdrawn since the list was stored
        after = next(
            (
                cat.by_slug[p]
                for p in version.prerequisites
                if p not in have.completed_slugs and p in cat.by_slug
            ),
            None,
        )
        skill = item["skill"]
        result.append(
            Shown(
                version,
                _reason(item, cat.skill_name(skill, locale) if skill else "", locale),
                item["closes"],
                after,
                item["score"],
            )
        )
    return result


def _reason(item: dict, skill_name: str, locale: str) -> str:
    if not item["skill"]:
        return ""
    gap = Gap(item["skill"], item["held"], item["required"])
    if item.get("reaches", item["required"]) >= item["required"]:
        return reason_text(gap, skill_name, locale)
    return narrow_text(gap, skill_name, item["reaches"], locale)


# --- learning paths ------------------------------------------------------------------------


@dataclass
class Path:
    role: JobRole
    versions: list[Listed]  # as the catalogue lists them (path_versions: the rows)
    hours: float
    open_gaps: list[Gap]  # gaps no course of the catalogue closes
    gaps: list[Gap]


def _completed_slugs(user_id: int, consortium_id: int) -> set[str]:
    return set(
        db.session.scalars(
            select(CourseRow.slug)
            .join(Enrollment, Enrollment.course_id == CourseRow.id)
            .where(
                Enrollment.user_id == user_id,
                Enrollment.consortium_id == consortium_id,
                Enrollment.status == "completed",
            )
        )
    )


def paths_for(
    user_id: int,
    consortium_id: int,
    roles: list[JobRole],
    held: dict[str, int],
    *,
    stamp: int | None = None,
    completed: set[str] | None = None,
) -> list[Path]:
    """For each role, the ordered courses that close the worker's gaps to it, prerequisites
    first (a fixed number of statements, whatever the roles and the catalogue). `completed`:
    the slugs of the courses the worker completed, when the caller has them."""
    from lms.skills.recommend import find_gaps

    cat = catalogue(consortium_id, stamp)
    if completed is None:
        completed = _completed_slugs(user_id, consortium_id)
    paths = []
    for role in roles:
        gaps = find_gaps({r.skill_id: r.level for r in role.requirements}, held)
        steps, hours, open_gaps = learning_path(cat.courses, gaps, completed=completed)
        paths.append(Path(role, [cat.by_slug[c.slug] for c in steps], hours, open_gaps, gaps))
    return paths


def path_versions(path: Path) -> list[CourseVersion]:
    """The path's course versions as rows (to enrol in or assign), in the path's order."""
    ids = [v.version_id for v in path.versions]
    loaded = {
        v.id: v
        for v in db.session.scalars(
            select(CourseVersion)
            .where(CourseVersion.id.in_(ids))
            .options(joinedload(CourseVersion.course))
        )
    }
    return [loaded[i] for i in ids if i in loaded]


# --- acting on a path ----------------------------------------------------------------------


@dataclass
class Step:
    """One course of a learning path as the worker stands with it."""

    version: CourseVersion
    state: str  # "enrolled" (active enrolment), "ready" (may enrol now), "waits"
    enrollment: Enrollment | None = None
    waits_for: list[str] = field(default_factory=list)  # titles of prerequisites to complete


def prerequisites_first(versions: list[CourseVersion]) -> list[CourseVersion]:
    """The versions with each after its prerequisites among them, otherwise in the given order."""
    left, result = list(versions), []
    while left:
        here = {v.course.slug for v in left}
        ready = next(
            (v for v in left if not here.intersection(v.prerequisites or ())),
            left[0],  # prerequisites in a cycle: keep the order given
        )
        result.append(ready)
        left.remove(ready)
    return result


def path_steps(user_id: int, consortium_id: int, path: Path) -> list[Step]:
    """Each course of the path, prerequisites first: enrolled already, ready to enrol (every
    prerequisite completed, as the course page requires), or waiting for prerequisites."""
    versions = prerequisites_first(path_versions(path))
    active = {
        e.course_id: e
        for e in db.session.scalars(
            select(Enrollment).where(
                Enrollment.user_id == user_id,
                Enrollment.consortium_id == consortium_id,
                Enrollment.withdrawn_at.is_(None),
                Enrollment.course_id.in_([v.course_id for v in versions]),
            )
        )
    }
    wanted = {p for v in versions for p in v.prerequisites or ()}
    prerequisites = {
        c.slug: c
        for c in db.session.scalars(
            select(CourseRow).where(
                CourseRow.consortium_id == consortium_id, CourseRow.slug.in_(wanted)
            )
        )
    }
    completed = set(
        db.session.scalars(
            select(Enrollment.course_id).where(
                Enrollment.user_id == user_id,
                Enrollment.status == "completed",
                Enrollment.course_id.in_([c.id for c in prerequisites.values()]),
            )
        )
    )
    titles = {v.slug: v.title for v in path.versions}
    steps = []
    for version in versions:
        enrollment = active.get(version.course_id)
        if enrollment is not None:
            steps.append(Step(version, "enrolled", enrollment))
            continue
        missing = [
            prerequisites[p]
            for p in version.prerequisites or ()
            if p in prerequisites and prerequisites[p].id not in completed
        ]
        if missing:
            steps.append(
                Step(version, "waits", waits_for=[titles.get(c.slug) or _title(c) for c in missing])
            )
        else:
            steps.append(Step(version, "ready"))
    return steps


def _title(course: CourseRow) -> str:
    version = published_version(course) or (course.versions[-1] if course.versions else None)
    return version.title if version else course.slug


@dataclass
class PathEnrolment:
    """What enrolling in a path did: newly enrolled, enrolled before, and still waiting."""

    enrolled: list[CourseVersion]
    already: list[CourseVersion]
    waiting: list[Step]


def enroll_in_path(user, consortium_id: int, path: Path) -> PathEnrolment:
    """Enrol the worker in the path's courses whose prerequisites are completed, in the path's
    prerequisite order, each through learning's enroll with its prerequisite check (the course
    page's rule); the others wait. Enrolling again enrols nothing twice."""
    result = PathEnrolment([], [], [])
    for step in path_steps(user.id, consortium_id, path):
        if step.state == "enrolled":
            result.already.append(step.version)
            continue
        if step.state == "waits":
            result.waiting.append(step)
            continue
        try:
            _enrollment, created = learning.enroll(user, step.version)
        except learning.LearningError:
            # Completed prerequisites changed under us: it waits, as the course page says.
            result.waiting.append(
                Step(
                    step.version,
                    "waits",
                    waits_for=[
                        _title(c) for c in learning.missing_prerequisites(user, step.version)
                    ],
                )
            )
            continue
        (result.enrolled if created else result.already).append(step.version)
    return result
