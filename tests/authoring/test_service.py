"""The authoring services on their own: immutability, stable keys, replays, export."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select, update

from lms.audit.models import AuditRecord
from lms.auth.models import User
from lms.courses import authoring as service
from lms.courses import uploads
from lms.courses.models import CourseVersion, Lesson
from lms.courses.package import read_package
from lms.courses.service import export_version
from lms.extensions import db
from lms.tenancy.models import Firm

from .conftest import tiny_mp4, tiny_png


@pytest.fixture
def en(app):
    with app.test_request_context(), force_locale("en"):
        yield


def _draft(world, slug="svc-course"):
    trainer = db.session.get(User, world.trainer.id)
    version = service.create_course(
        trainer,
        db.session.get(Firm, world.firm.id),
        slug=slug,
        title="服务课程",
        language="zh-CN",
        summary="摘要。",
        sector="industrial-internet",
        hours=1.5,
        pass_mark=70,
        skills=[("t-plc", 1), ("t-robot", 4)],
    )
    return trainer, version


def _publish(world, trainer, version):
    service.submit_version(trainer, version)
    service.approve_version(db.session.get(User, world.admin.id), version)


def test_a_published_or_submitted_version_refuses_every_change(en, world):
    trainer, version = _draft(world)
    module = service.add_module(trainer, version, title="模块")
    lesson = service.add_lesson(trainer, module, type="text", title="课", body="正文")
    service.submit_version(trainer, version)
    with pytest.raises(service.AuthoringError, match="can no longer be changed"):
        service.add_module(trainer, version, title="新模块")
    service.approve_version(db.session.get(User, world.admin.id), version)
    for change in (
        lambda: service.update_lesson(trainer, lesson, title="改", body="改"),
        lambda: service.delete_lesson(trainer, lesson),
        lambda: service.rename_module(trainer, module, title="改"),
        lambda: service.move_module(trainer, module, position=0),
        lambda: service.update_course(
            trainer,
            version,
            title="改",
            language="en",
            summary="x",
            sector="electronics",
            hours=1,
            pass_mark=1,
        ),
    ):
        with pytest.raises(service.AuthoringError, match="“Published”"):
            change()
    assert service.submit_version.__name__  # a published version cannot be sent again:
    with pytest.raises(service.AuthoringError, match="cannot be submitted"):
        service.submit_version(trainer, version)


def test_lesson_keys_are_stable_unique_and_never_reused(ctx, world):
    trainer, version = _draft(world)
    module = service.add_module(trainer, version, title="模块")
    first = service.add_lesson(trainer, module, type="text", title="Wiring basics", body="x")
    again = service.add_lesson(trainer, module, type="text", title="Wiring  basics ", body="y")
    assert again is first  # the same title in the same module is a replay
    other = service.add_module(trainer, version, title="模块二")
    twin = service.add_lesson(trainer, other, type="text", title="Wiring basics", body="z")
    assert first.key == "lessons/wiring-basics.md"
    assert twin.key.startswith("lessons/wiring-basics-") and twin.key != first.key
    chinese = service.add_lesson(trainer, other, type="text", title="安全须知", body="x")
    assert chinese.key.startswith("lessons/") and len(chinese.key) == len("lessons/12345678.md")

    service.update_lesson(trainer, first, title="Renamed", body="x")
    assert first.key == "lessons/wiring-basics.md"  # text lessons keep their key
    task = service.add_lesson(
        trainer, other, type="practical", title="接线", settings={"checklist": ["剥线"]}
    )
    service.update_lesson(trainer, task, title="压线", settings={"checklist": ["压线"]})
    assert task.key == "practical:压线"  # named by its title, as in the package format

    old_key = twin.key
    service.delete_lesson(trainer, twin)
    _publish(world, trainer, version)
    v2, created = service.create_next_version(trainer, version.course)
    module2 = next(m for m in v2.modules if m.title == "模块二")
    fresh = service.add_lesson(trainer, module2, type="text", title="Wiring basics", body="new")
    assert fresh.key not in {old_key, "lessons/wiring-basics.md"}


def test_next_version_is_made_once_and_is_an_independent_copy(ctx, world):
    trainer, version = _draft(world)
    module = service.add_module(trainer, version, title="模块")
    quiz = service.add_lesson(
        trainer, module, type="quiz", title="测验", settings={"pass_mark": 80}
    )
    service.add_question(
        trainer,
        quiz,
        type="multiple",
        prompt="哪些？",
        choices=["甲", "乙", "丙"],
        answer=["甲", "丙"],
    )
    _publish(world, trainer, version)
    v2, created = service.create_next_version(trainer, version.course)
    again, created_again = service.create_next_version(trainer, version.course)
    assert created and not created_again and again is v2
    assert (v2.version, v2.status, v2.title, v2.pass_mark, v2.hours) == (
        2,
        "draft",
        "服务课程",
        70,
        1.5,
    )
    assert v2.skills == version.skills and v2.sector == "industrial-internet"
    q2 = v2.lessons[0].questions[0]
    service.update_question(trainer, q2, prompt="哪些是？", choices=["甲", "乙"], answer=["乙"])
    db.session.expire_all()
    original = db.session.get(Lesson, quiz.id).questions[0]
    assert (original.prompt, original.choices, original.answer) == (
        "哪些？",
        ["甲", "乙", "丙"],
        ["甲", "丙"],
    )


def test_approving_or_returning_a_version_no_longer_waiting_changes_nothing(ctx, world):
    trainer, version = _draft(world)
    module = service.add_module(trainer, version, title="模块")
    service.add_lesson(trainer, module, type="text", title="课", body="正文")
    assert service.submit_version(trainer, version) is True
    assert service.submit_version(trainer, version) is False
    admin = db.session.get(User, world.admin.id)
    # another reviewer returned it a moment ago; this session's object still says submitted
    db.session.execute(
        update(CourseVersion)
        .where(CourseVersion.id == version.id)
        .values(status="returned", review_comment="先改")
        .execution_options(synchronize_session=False)
    )
    assert version.status == "submitted"
    assert service.approve_version(admin, version) is False
    assert service.return_version(admin, version, comment="再改") is False
    assert (version.status, version.review_comment) == ("returned", "先改")
    actions = db.session.scalars(
        select(AuditRecord.action).where(AuditRecord.consortium_id == world.consortium.id)
    ).all()
    assert actions.count("course.submit") == 1 and "course.publish" not in actions


def test_every_state_change_is_audited_with_the_consortium(ctx, world):
    trainer, version = _draft(world)
    module = service.add_module(trainer, version, title="模块")
    service.add_lesson(trainer, module, type="text", title="课", body="正文")
    admin = db.session.get(User, world.admin.id)
    service.submit_version(trainer, version)
    service.return_version(admin, version, comment="补充")
    service.submit_version(trainer, version)
    service.approve_version(admin, version)
    service.create_next_version(trainer, version.course)
    rows = db.session.execute(
        select(AuditRecord.action, AuditRecord.actor_id, AuditRecord.details)
        .where(AuditRecord.consortium_id == world.consortium.id)
        .order_by(AuditRecord.id)
    ).all()
    assert [r.action for r in rows] == [
        "course.create",
        "course.submit",
        "course.return",
        "course.submit",
        "course.publish",
        "course.new_version",
    ]
    assert [r.actor_id for r in rows] == [
        trainer.id,
        trainer.id,
        admin.id,
        trainer.id,
        admin.id,
        trainer.id,
    ]
    assert rows[-1].details == {"version": 2}
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.consortium_id.is_(None))
        )
        == 0
    )


def test_an_authored_course_exports_to_a_package_that_validates(ctx, world, tmp_path):
    trainer, version = _draft(world, slug="export-me")
    module = service.add_module(trainer, version, title="第一单元")
    text = service.add_lesson(
        trainer, module, type="text", title="Intro", minutes=5, body="# 引言\n\n正文。"
    )
    service.add_image(
        trainer, text, uploads.check_upload(tiny_png(), categories=("image",), field="图"), alt="图"
    )
    video = service.add_lesson(
        trainer, module, type="video", title="演示", minutes=3, body="看视频。"
    )
    service.attach_media(
        trainer, video, uploads.check_upload(tiny_mp4(), categories=("video",), field="视频")
    )
    quiz = service.add_lesson(
        trainer,
        module,
        type="quiz",
        title="测验",
        settings={"pass_mark": 50, "attempts": 2, "shuffle": True},
    )
    for kind, choices, answer in (
        ("single", ["甲", "乙"], "乙"),
        ("multiple", ["甲", "乙", "丙"], ["甲", "丙"]),
        ("true_false", [], False),
        ("fill_blank", [], ["PLC"]),
    ):
        service.add_question(
            trainer, quiz, type=kind, prompt=f"{kind}?", choices=choices, answer=answer
        )
    service.add_lesson(
        trainer,
        module,
        type="practical",
        title="上电检查",
        settings={"checklist": ["检查电源"], "skills": [("t-robot", 2)]},
    )
    _publish(world, trainer, version)
    root = export_version(version, tmp_path)
    package = read_package(root, known_skills={"t-plc", "t-robot"}, known_courses=set())
    assert package.problems == []
    assert [x.key for x in package.lessons] == [x.key for x in version.lessons]
    assert [x.type for x in package.lessons] == ["text", "video", "quiz", "practical"]
    assert package.lessons[1].media_path == video.media_path
    assert package.lessons[3].data["skills"] == [{"skill": "t-robot", "level": 2}]


def test_service_errors_name_the_field(en, world):
    trainer, version = _draft(world)
    firm = db.session.get(Firm, world.firm.id)
    base = dict(
        title="T", language="zh-CN", summary="S", sector="electronics", hours=1, pass_mark=60
    )
    cases = [
        (dict(slug="Bad Slug"), "slug"),
        (dict(slug="new"), "slug"),
        (dict(slug="svc-course"), "slug"),
        (dict(slug="ok-1", hours=0), "hours"),
        (dict(slug="ok-2", pass_mark=101), "pass_mark"),
        (dict(slug="ok-3", skills=[("t-plc", 6)]), "skills"),
        (dict(slug="ok-4", skills=[("t-plc", 1), ("t-plc", 2)]), "skills"),
        (dict(slug="ok-5", skills=[("nope", 1)]), "skills"),
        (dict(slug="ok-6", language="fr"), "language"),
        (dict(slug="ok-7", title="  "), "title"),
    ]
    for values, field in cases:
        with pytest.raises(service.AuthoringError) as caught:
            service.create_course(trainer, firm, **{**base, **values})
        assert caught.value.field == field, values
    module = service.add_module(trainer, version, title="模块")
    quiz = service.add_lesson(trainer, module, type="quiz", title="测验")
    with pytest.raises(
        service.AuthoringError, match="^Question 1, Choices: Give at least two"
    ) as caught:
        service.add_question(trainer, quiz, type="single", prompt="?", choices=["a"], answer="a")
    assert caught.value.errors == {"choices": ["Give at least two choices."]}
