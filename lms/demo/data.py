"""Demo data: one pilot-city consortium, five member firms of different kinds, every role."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select

from lms.auth.models import User
from lms.auth.passwords import hash_password
from lms.core.codes import uscc_check_char
from lms.core.types import utcnow
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
    _skill_history(rng, consortium, now)
    _learning_activity(random.Random(20261129), consortium, now)
    return {
        "firms": len(firms),
        "workers": count + 2,
        "accounts": len(NAMED_ACCOUNTS) + count,
        "courses": courses,
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


def _skill_history(rng: random.Random, consortium: Consortium, now) -> None:
    """Where demo workers stand: career goals, firm-admin ratings of their role's skills, a few
    self-assessments, and some completed courses (which record their skills as evidence)."""
    from lms.learning.models import Enrollment
    from lms.skills.models import SkillEvidence
    from lms.skills.service import mark_level_rises, record_course_evidence
    from lms.taxonomy.models import JobRole
    from lms.transcripts.service import credit_course_hours

    roles = {r.id: r for r in db.session.scalars(select(JobRole))}
    published = _published_versions(consortium)
    raters = _firm_admins(consortium)
    workers = db.session.scalars(
        select(Membership)
        .where(Membership.consortium_id == consortium.id, Membership.role == "worker")
        .where(Membership.ends_on.is_(None))
        .order_by(Membership.id)
    ).all()
    for m in workers:
        user, role = m.user, roles.get(m.job_role_id)
        if role is None:
            continue
        if role.id in CAREER_STEPS and rng.random() < 0.6:
            user.target_role_id = CAREER_STEPS[role.id]
        for req in role.requirements:
            level = req.level - rng.choice([0, 1, 1, 2, 3])
            if level >= 1 and rng.random() < 0.8:
                db.session.add(
                    SkillEvidence(
                        user_id=user.id,
                        skill_id=req.skill_id,
                        level=level,
                        source="rating",
                        recorded_by_id=raters.get(m.firm_id),
                        recorded_at=now - timedelta(days=rng.randrange(30, 200)),
                    )
                )
            elif rng.random() < 0.3:
                db.session.add(
                    SkillEvidence(
                        user_id=user.id,
                        skill_id=req.skill_id,
                        level=min(5, req.level),
                        source="self",
                        is_verified=False,
                        recorded_by_id=user.id,
                        recorded_at=now - timedelta(days=rng.randrange(1, 30)),
                    )
                )
        if user.email == "worker@demo.lms" or rng.random() < 0.5:
            continue  # the named demo worker starts with an empty learning record
        required = {r.skill_id for r in role.requirements}
        relevant = [
            v for v in published.values() if required & {s.skill_id for s in v.skill_levels}
        ]
        for version in rng.sample(relevant, min(len(relevant), rng.choice([1, 1, 2]))):
            done_at = now - timedelta(days=rng.randrange(5, 120))
            enrollment = Enrollment(
                consortium_id=consortium.id,
                firm_id=m.firm_id,
                user_id=user.id,
                course_id=version.course_id,
                version_id=version.id,
                status="completed",
                enrolled_at=done_at - timedelta(days=14),
                started_at=done_at - timedelta(days=13),
                completed_at=done_at,
                score=rng.choice([80.0, 85.0, 90.0, 100.0]),
            )
            db.session.add(enrollment)
            db.session.flush()
            record_course_evidence(enrollment)
            credit_course_hours(enrollment)
    mark_level_rises([m.user_id for m in workers])


def _firm_admins(consortium: Consortium) -> dict[int, int]:
    """Firm id → the user id of a firm admin of it."""
    return {
        m.firm_id: m.user_id
        for m in db.session.scalars(
            select(Membership).where(
                Membership.consortium_id == consortium.id, Membership.role == "firm_admin"
            )
        )
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


def _learning_activity(rng: random.Random, consortium: Consortium, now) -> None:
    """Learning under way, for the dashboards: generated workers (never the named demo accounts)
    part-way through a course, and each firm's mandatory assignments, some of them overdue."""
    from lms.learning.models import Assignment, Enrollment, LessonProgress

    versions = list(_published_versions(consortium).values())
    taken = {
        (e.user_id, e.course_id)
        for e in db.session.scalars(
            select(Enrollment).where(Enrollment.consortium_id == consortium.id)
        )
    }
    admins = _firm_admins(consortium)
    workers = db.session.scalars(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.consortium_id == consortium.id,
            Membership.role == "worker",
            Membership.ends_on.is_(None),
            User.email.is_(None),
        )
        .order_by(Membership.id)
    ).all()
    today = now.date()
    for m in workers:
        roll = rng.random()
        if roll < 0.45:
            kind = "started"
        elif roll < 0.65 and m.firm_id in admins:
            kind = "assigned"
        else:
            continue
        choices = [v for v in versions if (m.user_id, v.course_id) not in taken]
        if not choices:
            continue
        version = rng.choice(choices)
        taken.add((m.user_id, version.course_id))
        enrolled = now - timedelta(days=rng.randrange(3, 75))
        enrollment = Enrollment(
            consortium_id=consortium.id,
            firm_id=m.firm_id,
            user_id=m.user_id,
            course_id=version.course_id,
            version_id=version.id,
            enrolled_at=enrolled,
        )
        if kind == "assigned":
            enrollment.source = "firm"
            enrollment.assigned_by_id = admins[m.firm_id]
            enrollment.is_mandatory = rng.random() < 0.7
            enrollment.due_on = today + timedelta(days=rng.choice([-20, -9, -3, 2, 10, 30]))
        lessons = version.lessons[: rng.randrange(1, max(2, len(version.lessons)))]
        if kind == "started" or rng.random() < 0.5:
            active = min(now, enrolled + timedelta(days=rng.randrange(0, 60)))
            enrollment.status = "in_progress"
            enrollment.started_at = enrolled + timedelta(hours=2)
            enrollment.last_active_at = active
            enrollment.last_lesson_key = lessons[-1].key
            db.session.add(enrollment)
            db.session.flush()
            for lesson in lessons:
                db.session.add(
                    LessonProgress(
                        enrollment_id=enrollment.id,
                        lesson_key=lesson.key,
                        percent=100,
                        completed_at=active,
                        updated_at=active,
                    )
                )
        else:
            db.session.add(enrollment)
        if kind == "assigned":
            # The firm's own assignment; the enrolment carries its values (the only one).
            db.session.flush()
            db.session.add(
                Assignment(
                    consortium_id=consortium.id,
                    firm_id=m.firm_id,
                    party_key=m.firm_id,
                    enrollment_id=enrollment.id,
                    user_id=m.user_id,
                    course_id=version.course_id,
                    assigned_by_id=enrollment.assigned_by_id,
                    source="firm",
                    due_on=enrollment.due_on,
                    is_mandatory=enrollment.is_mandatory,
                    created_at=enrolled,
                    updated_at=enrolled,
                )
            )
    db.session.flush()


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
