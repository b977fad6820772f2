"""Demo data: one pilot-city consortium, five member firms of different kinds, every role, and
months of learning history.

The history is made as real use makes it, through the services: workers enrol (or their firm's
HR admin assigns them), read lessons, take quizzes (and sometimes fail one), ask for the
practical task to be signed off, an assessor of the course signs it off, and the completion
issues the certificate and records the skill evidence and training hours. Every step runs "as
of" its moment in the past (lms.core.types.as_of), in the order of those moments, so the
figures built from it agree with each other as they do in real use.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from lms.auth.models import User
from lms.auth.passwords import hash_password
from lms.core.codes import uscc_check_char
from lms.core.types import as_of, utcnow
from lms.extensions import db
from lms.tenancy.models import Consortium, Firm, Membership

# Documented in the README; demo data only, never used outside it.
DEMO_PASSWORD = "Tangshan-demo-2026"
CONSORTIUM_CODE = "TS"

FIRMS = [
    # (key, name, kind, first 17 characters of the credit code)
    ("jidong", "唐山冀东智能装备集团有限公司", "chain_leader", "91130200MA0A1B2C3"),
    ("huaye", "唐山华冶轧辊股份有限公司", "single_champion", "91130200MA0D4E5F6"),
    ("jinggong", "唐山精工传感科技有限公司", "specialized_sme", "91130200MA0G7H8J9"),
    ("zhongcai", "唐山众才人力资源服务有限公司", "hr_service", "91130200MA0K1L2M3"),
    ("zhiyuan", "唐山智能制造职业技能实训基地", "college", "52130200MJ0N4P5Q6"),
]
# Job roles of the seed taxonomy that demo workers hold, and the career step each may aim for.
JOB_ROLES = [
    "robot_operator_l2",
    "robot_om_l3",
    "electrician_l3",
    "maintenance_fitter_l3",
    "multi_axis_cnc_l3",
    "equipment_inspector_l3",
    "iot_installer_l2",
    "smart_mfg_sysops_l3",
    "iiot_ops_l3",
    "digital_twin_tech_l3",
    "quality_engineer_init",
    "safety_officer_l3",
]
CAREER_STEPS = {
    "robot_operator_l2": "robot_om_l3",
    "robot_om_l3": "smart_mfg_sysops_l3",
    "electrician_l3": "mechatronic_maint_l4",
    "maintenance_fitter_l3": "mechatronic_maint_l4",
    "equipment_inspector_l3": "smart_mfg_sysops_l3",
    "iot_installer_l2": "iiot_ops_l3",
    "iiot_ops_l3": "iiot_engineer_mid",
    "smart_mfg_sysops_l3": "smart_mfg_engineer_mid",
    "digital_twin_tech_l3": "smart_mfg_engineer_mid",
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "强",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "涛",
    "明",
    "超",
    "秀英",
    "志强",
    "海燕",
    "建华",
    "晓东",
    "丽娟",
    "国庆",
    "春梅",
    "宏伟",
    "子轩",
    "浩然",
    "雨桐",
    "思远",
    "佳怡",
    "俊杰",
    "文博",
    "欣怡",
    "建国",
    "玉兰",
    "振华",
    "立新",
]

# (e-mail, name, role, firm key or None for consortium roles, platform admin?)
NAMED_ACCOUNTS = [
    ("admin@demo.lms", "平台管理员", None, None, True),
    ("consortium@demo.lms", "王建国", "consortium_admin", None, False),
    ("auditor@demo.lms", "李审计", "auditor", None, False),
    ("hr.jidong@demo.lms", "赵海燕", "firm_admin", "jidong", False),
    ("hr.huaye@demo.lms", "孙立新", "firm_admin", "huaye", False),
    ("hr.jinggong@demo.lms", "周丽娟", "firm_admin", "jinggong", False),
    ("hr.zhongcai@demo.lms", "吴振华", "firm_admin", "zhongcai", False),
    ("hr.zhiyuan@demo.lms", "郑玉兰", "firm_admin", "zhiyuan", False),
    ("trainer@demo.lms", "陈志强", "trainer", "jidong", False),
    ("trainer.zhiyuan@demo.lms", "刘思远", "trainer", "zhiyuan", False),
    ("worker@demo.lms", "张伟", "worker", "jidong", False),
    ("worker.jinggong@demo.lms", "黄欣怡", "worker", "jinggong", False),
]
WORKERS_PER_FIRM = {"jidong": 20, "huaye": 14, "jinggong": 10, "zhongcai": 12, "zhiyuan": 8}


# Authoring firm of each demo course (by firm key); others default to the chain leader.
COURSE_FIRMS = {
    "industrial-robot-safety": "jidong",
    "plc-programming": "jidong",
    "digital-twin-basics": "jidong",
    "industrial-networks": "zhiyuan",
    "iiot-platform-identifier": "zhiyuan",
    "mes-basics": "huaye",
    "lean-quality-tools": "huaye",
    "industrial-data-analysis": "jinggong",
    "predictive-maintenance-vibration": "jinggong",
    "workplace-safety": "zhongcai",
}
# Assessors the consortium admin designates for courses with a practical task whose authoring
# firm has no trainer (course slug → trainer logins): the training base's trainer signs off
# for the firms without one, the chain leader's trainer also for the safety basics.
DEMO_ASSESSORS = {
    "mes-basics": ["trainer.zhiyuan@demo.lms"],
    "lean-quality-tools": ["trainer.zhiyuan@demo.lms"],
    "industrial-data-analysis": ["trainer.zhiyuan@demo.lms"],
    "predictive-maintenance-vibration": ["trainer.zhiyuan@demo.lms"],
    "workplace-safety": ["trainer.zhiyuan@demo.lms", "trainer@demo.lms"],
}


def is_loaded() -> bool:
    return (
        db.session.scalars(select(Consortium).where(Consortium.code == CONSORTIUM_CODE)).first()
        is not None
    )


def load_demo() -> dict:
    """Create the demo consortium; the caller commits. Returns counts for the CLI to print."""
    from lms.taxonomy.service import import_seed_taxonomy

    import_seed_taxonomy()
    rng = random.Random(20261128)
    password_hash = hash_password(DEMO_PASSWORD)
    now = utcnow()
    consortium = Consortium(
        code=CONSORTIUM_CODE,
        name="唐山市智能制造跨企业培训联合体",
        city="唐山",
        region="east",
        sectors=["smart-manufacturing", "industrial-internet", "equipment-manufacturing"],
    )
    db.session.add(consortium)
    firms: dict[str, Firm] = {}
    for key, name, kind, first17 in FIRMS:
        firms[key] = Firm(
            consortium=consortium,
            name=name,
            kind=kind,
            credit_code=first17 + uscc_check_char(first17),
        )
        db.session.add(firms[key])
    db.session.flush()

    def member(user: User, role: str, firm: Firm | None, **extra) -> None:
        db.session.add(
            Membership(
                user=user,
                consortium_id=consortium.id,
                firm_id=firm.id if firm else None,
                role=role,
                starts_on=extra.pop("starts_on", date(2026, 3, 1)),
                **extra,
            )
        )

    for email, name, role, firm_key, is_platform in NAMED_ACCOUNTS:
        user = User(
            name=name,
            email=email,
            password_hash=password_hash,
            password_changed_at=now,
            is_platform_admin=is_platform,
        )
        db.session.add(user)
        if role:
            job = rng.choice(JOB_ROLES) if role == "worker" else None
            member(user, role, firms[firm_key] if firm_key else None, job_role_id=job)

    used_mobiles: set[str] = set()
    count = 0
    for key, n in WORKERS_PER_FIRM.items():
        for i in range(n):
            mobile = _mobile(rng, used_mobiles)
            user = User(
                name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                mobile=mobile,
                password_hash=password_hash,
                password_changed_at=now,
            )
            db.session.add(user)
            member(
                user,
                "worker",
                firms[key],
                job_role_id=rng.choice(JOB_ROLES),
                employee_no=f"{key[:2].upper()}{1001 + i}",
            )
            count += 1
            if key == "zhongcai" and i < 3:
                # Dispatched by the HR-service firm: a past stint at one firm,
                # a current one at another.
                member(
                    user,
                    "worker",
                    firms["huaye"],
                    job_role_id=rng.choice(JOB_ROLES),
                    starts_on=date(2026, 3, 1),
                    ends_on=date(2026, 6, 30),
                )
                member(
                    user,
                    "worker",
                    firms["jidong"],
                    job_role_id=rng.choice(JOB_ROLES),
                    starts_on=date(2026, 7, 1),
                    ends_on=date.today() + timedelta(days=180),
                )
    db.session.flush()
    courses = _load_courses(consortium, firms)
    _designate_assessors(consortium)
    history = _History(consortium, now)
    history.plan_skills(rng)
    history.plan_learning(random.Random(20261129))
    history.run()
    # Every worker's recommendations, ranked by the batch the "recommendations" job runs (the
    # history's own ranking tasks wait for a worker).
    from lms.skills.recommendations import recompute

    recompute(consortium.id)
    return {
        "firms": len(firms),
        "workers": count + 2,
        "accounts": len(NAMED_ACCOUNTS) + count,
        "courses": courses,
        **history.counts(),
    }


def _load_courses(consortium: Consortium, firms: dict[str, Firm]) -> int:
    """The skills taxonomy and the demo catalogue in courses/ (all published)."""
    from lms.config import PROJECT_ROOT
    from lms.courses.cli import import_packages
    from lms.courses.package import find_packages

    root = PROJECT_ROOT / "courses"
    paths = find_packages(root) if root.is_dir() else []
    if not paths:
        return 0
    counts = import_packages(
        paths, consortium, lambda slug: firms[COURSE_FIRMS.get(slug, "jidong")]
    )
    if counts is None:
        raise RuntimeError("the demo course packages are invalid (see the messages above)")
    return counts["created"]


def _designate_assessors(consortium: Consortium) -> None:
    """The demo's designated assessors, designated by the consortium admin as in real use."""
    from lms.courses.assessors import designate
    from lms.courses.models import Course

    logins = {"consortium@demo.lms"}.union(*DEMO_ASSESSORS.values())
    people = {u.email: u for u in db.session.scalars(select(User).where(User.email.in_(logins)))}
    admin = people["consortium@demo.lms"]
    for course in db.session.scalars(
        select(Course).where(
            Course.consortium_id == consortium.id, Course.slug.in_(list(DEMO_ASSESSORS))
        )
    ):
        for login in DEMO_ASSESSORS[course.slug]:
            designate(admin, course, people[login])
    db.session.flush()


# --- the learning history ----------------------------------------------------------------------

HISTORY_DAYS = 170  # how far back the history goes
MINUTE = timedelta(minutes=1)
SIGNOFF_DELAY_HOURS = (2, 48)  # from the learner's request to the assessor's sign-off
SIGNOFF_COMMENTS = [
    "操作规范，清单各项均已现场确认",
    "完成良好，注意记录要写完整",
    "按要求完成，准予签核",
]


class _Timeline:
    """Steps of many journeys, run in the order of their moments, each as of its moment.

    A journey is a generator: it yields the moment of its next step, and the code after that
    `yield` runs as of that moment (utcnow() answers it), after every step of every journey that
    comes earlier. A journey yields before it does anything."""

    def __init__(self, latest: datetime) -> None:
        self.latest = latest
        self._queue: list = []
        self._order = itertools.count()

    def add(self, journey: Iterator[datetime]) -> None:
        self._push(journey, next(journey, None))

    def _push(self, journey: Iterator[datetime], moment: datetime | None) -> None:
        if moment is not None:
            heapq.heappush(self._queue, (min(moment, self.latest), next(self._order), journey))

    def run(self) -> None:
        while self._queue:
            moment, _order, journey = heapq.heappop(self._queue)
            with as_of(moment):
                following = next(journey, None)
                db.session.flush()  # column defaults (created_at …) take the moment too
            self._push(journey, following)


def correct_response(question):
    """A response to `question` that is fully right, as the question-type registry gives it
    (checked against its grading): what the demo's learners who know the answer send."""
    from lms.courses.question_types import QUESTION_TYPES

    kind = QUESTION_TYPES[question.type]
    response = kind.correct_response(question)
    if not kind.grade(question.choices, question.answer, response):
        raise ValueError(f"the {question.type!r} question type grades its own answer wrong")
    return response


def wrong_response(question, rng: random.Random):
    """A plausible response of the same shape that the question's type grades wrong: another
    choice, the other of true and false, a near miss of the text; None (left blank) if there is
    none."""
    from lms.courses.question_types import QUESTION_TYPES

    grade = QUESTION_TYPES[question.type].grade
    right = correct_response(question)
    choices = [str(c) for c in question.choices or []]
    rng.shuffle(choices)
    if isinstance(right, list):
        forms = [[c] for c in choices] + [list(reversed(right)), right[:-1]]
    else:
        forms = [c for c in choices if c != right]
        forms.append({"true": "false", "false": "true"}.get(right, right[:-1] or "?"))
    return next((f for f in forms if not grade(question.choices, question.answer, f)), None)


class _History:
    """Months of learning in the demo consortium, planned first, then run in time order."""

    def __init__(self, consortium: Consortium, now: datetime) -> None:
        self.consortium = consortium
        self.now = now
        self.zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        self.timeline = _Timeline(now - MINUTE)
        self.versions = _published_versions(consortium)
        firms = {f.id: f for f in db.session.scalars(select(Firm))}
        self.admins = {
            m.firm_id: (m.user, firms[m.firm_id])
            for m in db.session.scalars(
                select(Membership)
                .where(Membership.consortium_id == consortium.id, Membership.role == "firm_admin")
                .order_by(Membership.id)
            )
        }
        # Current worker memberships, each person once (a dispatched worker's other stints end).
        self.workers = db.session.scalars(
            select(Membership)
            .where(
                Membership.consortium_id == consortium.id,
                Membership.role == "worker",
                Membership.ends_on.is_(None),
            )
            .order_by(Membership.id)
        ).all()
        self.taken: set[tuple[int, int]] = set()  # (user id, course id) with an enrolment
        self.done_by: dict[tuple[int, str], datetime] = {}  # (user id, slug) → completed about

    # --- moments

    def days_ago(self, rng: random.Random, low: int, high: int) -> datetime:
        """A daytime moment (where the people are) between `low` and `high` days ago."""
        day = self.now.astimezone(self.zone).date() - timedelta(days=rng.randrange(low, high))
        return self._daytime(rng, day)

    def _daytime(self, rng: random.Random, day: date) -> datetime:
        moment = datetime.combine(day, time(8), tzinfo=self.zone) + timedelta(
            minutes=rng.randrange(0, 13 * 60)
        )
        return min(moment.astimezone(UTC), self.now - MINUTE)

    def moments(self, rng: random.Random, start: datetime, end: datetime, n: int) -> list:
        """`n` daytime moments between `start` and `end`, in order."""
        span = max(0.0, (end - start).total_seconds())
        out = []
        for _ in range(n):
            day = (start + timedelta(seconds=rng.random() * span)).astimezone(self.zone).date()
            out.append(min(max(self._daytime(rng, day), start), end))
        return sorted(out)

    def at(self, moment: datetime, action, *args, **kwargs) -> None:
        """One action as of `moment`."""

        def journey():
            yield moment
            action(*args, **kwargs)

        self.timeline.add(journey())

    # --- plans

    def plan_skills(self, rng: random.Random) -> None:
        """Where demo workers stand: career goals, firm-admin ratings of their role's skills,
        a few self-assessments, and some completed courses (the named demo worker starts with
        an empty learning record)."""
        from lms.skills.service import record_rating, record_self_assessment, set_target_role
        from lms.taxonomy.models import JobRole

        roles = {r.id: r for r in db.session.scalars(select(JobRole))}
        for m in self.workers:
            user, role = m.user, roles.get(m.job_role_id)
            if role is None:
                continue
            if role.id in CAREER_STEPS and rng.random() < 0.6:
                set_target_role(
                    user, CAREER_STEPS[role.id], consortium_id=m.consortium_id, firm_id=m.firm_id
                )
            admin, firm = self.admins.get(m.firm_id, (None, None))
            for req in role.requirements:
                level = req.level - rng.choice([0, 1, 1, 2, 3])
                if level >= 1 and rng.random() < 0.8 and admin is not None:
                    self.at(
                        self.days_ago(rng, 30, 200),
                        record_rating,
                        admin,
                        user,
                        firm,
                        req.skill_id,
                        level,
                    )
                elif rng.random() < 0.3:
                    self.at(
                        self.days_ago(rng, 1, 30),
                        record_self_assessment,
                        user,
                        req.skill_id,
                        min(5, req.level),
                    )
            if user.email is not None:
                self._named_story(rng, m)
            elif rng.random() < 0.5:
                required = {r.skill_id for r in role.requirements}
                relevant = [
                    v
                    for v in self.versions.values()
                    if required & {s.skill_id for s in v.skill_levels}
                ]
                # One or two courses, a prerequisite first (counted among them).
                n = min(len(relevant), rng.choice([1, 1, 2]))
                chosen = self._with_prerequisites(rng.sample(relevant, n))
                self._completions(rng, m, chosen[:n])

    def _with_prerequisites(self, chosen: list) -> list:
        """The versions with the prerequisite courses they lack before them, each once."""
        out: list = []

        def add(version) -> None:
            for slug in version.prerequisites or ():
                if slug in self.versions:
                    add(self.versions[slug])
            if version not in out:
                out.append(version)

        for version in chosen:
            add(version)
        return out

    def _completions(self, rng: random.Random, m: Membership, versions: list) -> None:
        """Courses the worker completed one after the other over the history's months; some
        of them their firm assigned."""
        if not versions:
            return
        first = self.now - timedelta(days=HISTORY_DAYS)
        span = (self.now - timedelta(days=3) - first) / len(versions)
        for i, version in enumerate(versions):
            # Its own stretch of the months; three days kept at its end for a sign-off asked
            # for on the last step, before the next course begins.
            begin = first + span * i
            days = timedelta(days=rng.randrange(5, 30))
            room = max(timedelta(), span - days - timedelta(days=3))
            day = (begin + room * rng.random()).astimezone(self.zone).date()
            start = max(begin, self._daytime(rng, day))
            end = min(begin + span - timedelta(days=3), start + days)
            end = max(end, start + timedelta(hours=2))
            assign = None
            admin = self.admins.get(m.firm_id)
            if admin is not None and rng.random() < 0.3:
                due = start.astimezone(self.zone).date() + timedelta(days=rng.choice([30, 45, 60]))
                assign = (admin[0], due, rng.random() < 0.5)
            self.taken.add((m.user_id, version.course_id))
            self.done_by[(m.user_id, version.course.slug)] = end + timedelta(days=3)
            self.timeline.add(self.learn(rng, m, version, start=start, end=end, assign=assign))

    def _named_story(self, rng: random.Random, m: Membership) -> None:
        """The named demo workers: worker@demo.lms starts empty; worker.jinggong@demo.lms has
        completed the data analysis course and is part-way through an assigned one (never the
        industrial networks course, which the browser journeys take with this account)."""
        if m.user.email != "worker.jinggong@demo.lms":
            return
        data = self.versions.get("industrial-data-analysis")
        if data is not None:
            self._completions(rng, m, [data])
        lean = self.versions.get("lean-quality-tools")
        admin = self.admins.get(m.firm_id)
        if lean is not None and admin is not None:
            start = self.days_ago(rng, 18, 22)
            due = self.now.astimezone(self.zone).date() + timedelta(days=25)
            self.taken.add((m.user_id, lean.course_id))
            self.timeline.add(
                self.learn(
                    rng,
                    m,
                    lean,
                    start=start,
                    end=self.days_ago(rng, 1, 3),
                    done=4,
                    tail=True,
                    assign=(admin[0], due, False),
                )
            )

    def plan_learning(self, rng: random.Random) -> None:
        """Learning under way, for the dashboards: generated workers (never the named demo
        accounts) part-way through a course they enrolled in, and each firm's assignments,
        mandatory or not, started or not, some due soon and some overdue — every firm with an
        admin has at least one overdue mandatory assignment to remind about."""
        overdue_in: set[int] = set()  # firms with an overdue assignment
        generated = [m for m in self.workers if m.user.email is None]
        for m in generated:
            roll = rng.random()
            if roll < 0.45:
                kind = "started"
            elif roll < 0.65 and m.firm_id in self.admins:
                kind = "assigned"
            else:
                continue
            choices = self._open(m, by_self=kind == "started")
            if not choices:
                continue
            version = rng.choice(choices)
            if kind == "assigned":
                late = m.firm_id not in overdue_in  # the firm's first one is overdue
                self._assignment(rng, m, version, late=late or None, started=rng.random() < 0.5)
                if late:
                    overdue_in.add(m.firm_id)
                continue
            self.taken.add((m.user_id, version.course_id))
            start = max(self.days_ago(rng, 3, 75), self._open_since(m, version))
            self.timeline.add(self._under_way(rng, m, version, start))
        for firm_id in self.admins.keys() - overdue_in:
            m = next((m for m in generated if m.firm_id == firm_id and self._open(m)), None)
            if m is not None:
                self._assignment(rng, m, rng.choice(self._open(m)), late=True, started=False)

    def _open(self, m: Membership, *, by_self: bool = False) -> list:
        """Courses the worker has no enrolment in; `by_self`: those they may enrol in
        themselves (prerequisites done)."""
        return [
            v
            for v in self.versions.values()
            if (m.user_id, v.course_id) not in self.taken
            and (not by_self or self._open_since(m, v) is not None)
        ]

    def _assignment(
        self, rng: random.Random, m: Membership, version, *, late: bool | None, started: bool
    ) -> None:
        """The worker's firm admin assigns the course, due in the past (`late`: overdue now,
        and mandatory), in the next weeks (False) or either (None); the worker has begun it or
        not."""
        today = self.now.astimezone(self.zone).date()
        offsets = {True: [-20, -9, -3], False: [2, 10, 30], None: [-20, -9, -3, 2, 10, 30]}
        due = today + timedelta(days=rng.choice(offsets[late]))
        mandatory = late is True or rng.random() < 0.7
        start = self._daytime(rng, due - timedelta(days=rng.randrange(14, 46)))
        if start > self.now - timedelta(days=1):
            start = self.days_ago(rng, 1, 10)
        assign = (self.admins[m.firm_id][0], due, mandatory)
        self.taken.add((m.user_id, version.course_id))
        if started:
            self.timeline.add(self._under_way(rng, m, version, start, assign=assign))
        else:
            self.timeline.add(
                self.learn(rng, m, version, start=start, end=start, done=0, assign=assign)
            )

    def _under_way(self, rng: random.Random, m: Membership, version, start, *, assign=None):
        """A course begun at `start` and worked on for up to two months: some lessons done
        (never all), the next one perhaps begun."""
        end = min(self.now - timedelta(hours=1), start + timedelta(days=rng.randrange(0, 60)))
        return self.learn(
            rng,
            m,
            version,
            start=start,
            end=max(start, end),
            done=rng.randrange(1, max(2, len(version.lessons))),
            tail=rng.random() < 0.5,
            assign=assign,
        )

    def _open_since(self, m: Membership, version) -> datetime | None:
        """From when the worker may enrol in `version` themselves (its prerequisites completed
        by then), or None."""
        since = self.now - timedelta(days=HISTORY_DAYS)
        for slug in version.prerequisites or ():
            done = self.done_by.get((m.user_id, slug))
            if done is None:
                return None
            since = max(since, done + timedelta(days=1))
        return since if since < self.now - timedelta(days=3) else None

    # --- journeys

    def learn(
        self,
        rng: random.Random,
        m: Membership,
        version,
        *,
        start: datetime,
        end: datetime,
        done: int | None = None,
        tail: bool = False,
        assign: tuple | None = None,
    ) -> Iterator[datetime]:
        """One worker's way through a course: enrolled at `start` (or assigned by their firm:
        `assign` = (admin, due date, mandatory)), then the first `done` lessons (None: all) in
        order, one at each of their moments up to `end` (all of them: the course is completed);
        with `tail` the next one begun (read in part, its quiz failed or its sign-off asked
        for)."""
        from lms.learning.service import active_enrollment, assign_course, enroll

        user, lessons = m.user, version.lessons
        count = len(lessons) if done is None else done
        steps = self.moments(rng, start, end, count + 1)
        at = start
        yield at
        if assign is None:
            enrollment, _created = enroll(user, version)
        else:
            admin, due_on, mandatory = assign
            assign_course(
                admin, version, [user], source="firm", due_on=due_on, is_mandatory=mandatory
            )
            enrollment = active_enrollment(user, version.course)
        for lesson, step in zip(lessons[:count], steps, strict=False):
            at = max(step, at + MINUTE)
            yield at
            at = yield from self.lesson(rng, enrollment, lesson, at, finish=True)
        if tail and count < len(lessons):
            at = max(steps[-1], at + MINUTE)
            yield at
            yield from self.lesson(rng, enrollment, lessons[count], at, finish=False)

    def lesson(
        self, rng: random.Random, enrollment, lesson, at: datetime, *, finish: bool
    ) -> Iterator[datetime]:
        """A lesson as the learner takes it, from `at` (the moment it runs as of): finished, or
        (finish=False) only begun. Yields the moments of its later steps; returns the last."""
        from lms.courses.assessors import assessors_of
        from lms.courses.lesson_types import LESSON_TYPES
        from lms.learning.service import (
            quiz_state,
            record_progress,
            request_signoff,
            sign_off_practical,
        )

        completion = LESSON_TYPES[lesson.type].completion
        if completion == "view":
            percent = 100 if finish else rng.randrange(10, 90)
            record_progress(enrollment, lesson, percent=percent, position_seconds=percent * 3)
        elif completion == "quiz":
            limit = quiz_state(enrollment, lesson).limit
            retry = not limit or limit >= 2  # a failed attempt leaves one to pass with
            fails = 1 if retry and (not finish or rng.random() < 0.3) else 0
            for n in range(fails + finish):
                if n:
                    at += timedelta(minutes=rng.randrange(10, 90))
                    yield at
                at, passed = yield from self.attempt(
                    rng, enrollment, lesson, at, passing=n == fails
                )
                if passed:
                    break
        else:  # a trainer's sign-off: the learner asks, one of the course's assessors signs
            request_signoff(enrollment.user, enrollment, lesson)
            if finish:
                at += timedelta(hours=rng.randrange(*SIGNOFF_DELAY_HOURS))
                yield at
                assessors = [
                    a.user
                    for a in assessors_of(enrollment.course)
                    if a.user.id != enrollment.user_id
                ]
                if not assessors:
                    raise RuntimeError(f"nobody may sign off {enrollment.course.slug}")
                sign_off_practical(
                    rng.choice(assessors), enrollment, lesson, rng.choice(SIGNOFF_COMMENTS)
                )
        return at

    def attempt(
        self, rng: random.Random, enrollment, lesson, at: datetime, *, passing: bool
    ) -> Iterator[datetime]:
        """One quiz attempt: started at `at`, answered and submitted some minutes later,
        meant to pass or not (some answers wrong either way). Returns (the moment it was
        submitted, whether it passed): a wrong answer may earn partial credit, so an attempt
        meant to fail may pass; one meant to pass always does."""
        from lms.learning.service import start_attempt, submit_attempt

        attempt = start_attempt(enrollment, lesson)
        minutes = lesson.data.get("time_limit_minutes") or 30
        at += timedelta(minutes=rng.randrange(3, max(4, minutes - 1)))
        yield at
        questions = {q.id: q for q in lesson.questions}
        asked = [questions[qid] for qid in attempt.question_ids if qid in questions]
        pass_mark = lesson.data.get("pass_mark", 60)
        least = next(
            (r for r in range(len(asked) + 1) if round(100 * r / len(asked), 1) >= pass_mark),
            len(asked),
        )
        if passing:
            right = len(asked) if rng.random() < 0.5 else rng.randint(least, len(asked))
        else:
            right = rng.randint(max(0, least - 3), max(0, least - 1))
        knows = {q.id for q in rng.sample(asked, right)}
        responses = {
            str(q.id): correct_response(q) if q.id in knows else wrong_response(q, rng)
            for q in asked
        }
        submit_attempt(attempt, responses)
        if passing and not attempt.is_passed:
            raise RuntimeError(f"demo quiz {lesson.key}: right answers did not pass")
        return at, attempt.is_passed

    def run(self) -> None:
        from lms.certificates.service import pdfs_on_first_download

        # Fifty certificates rendered at once would double the load's time: each PDF is
        # rendered when it is first downloaded (a demo user opens a few).
        with pdfs_on_first_download():
            self.timeline.run()

    def counts(self) -> dict:
        from lms.certificates.models import Certificate
        from lms.learning.models import Enrollment

        consortium_id = self.consortium.id
        return {
            "completions": db.session.scalar(
                select(func.count(Enrollment.id)).where(
                    Enrollment.consortium_id == consortium_id, Enrollment.status == "completed"
                )
            ),
            "certificates": db.session.scalar(
                select(func.count(Certificate.id)).where(Certificate.consortium_id == consortium_id)
            ),
        }


def _published_versions(consortium: Consortium) -> dict:
    """Course slug → its published version, in slug order."""
    from lms.courses.models import Course

    return {
        c.slug: next(v for v in reversed(c.versions) if v.status == "published")
        for c in db.session.scalars(
            select(Course).where(Course.consortium_id == consortium.id).order_by(Course.slug)
        )
    }


def _mobile(rng: random.Random, used: set[str]) -> str:
    while True:
        mobile = (
            rng.choice(["138", "139", "150", "158", "186", "187"]) + f"{rng.randrange(10**8):08d}"
        )
        if mobile not in used:
            used.add(mobile)
            return mobile


def demo_logins() -> list[tuple[str, str]]:
    """(login, role description) for the README and `make run`."""
    return [(email, role or "platform_admin") for email, _name, role, _f, _p in NAMED_ACCOUNTS]
