"""What a trainer and a reviewer do, as form posts (the pages work without JavaScript)."""

from __future__ import annotations

from sqlalchemy import select

from lms.auth.models import User
from lms.courses import authoring as service
from lms.courses.models import Course
from lms.extensions import db
from lms.tenancy.models import Firm

from .conftest import base_url, course_form, version_of


def create_course(client, firm, slug: str, title: str, **extra):
    return client.post(
        f"/authoring/firms/{firm.id}/courses/new", data=course_form(slug, title, **extra)
    )


def add_module(client, firm, slug: str, title: str, number: int = 1):
    return client.post(f"{base_url(firm, slug, number)}/modules/new", data={"title": title})


def add_lesson(client, firm, slug: str, module_id: int, kind: str, data: dict, number: int = 1):
    return client.post(
        f"{base_url(firm, slug, number)}/modules/{module_id}/lessons/new?type={kind}",
        data={"save": "1", **data},
    )


def add_question(client, firm, slug: str, lesson_id: int, kind: str, data: dict, number: int = 1):
    return client.post(
        f"{base_url(firm, slug, number)}/lessons/{lesson_id}/questions/new?type={kind}",
        data=data,
    )


def submit(client, firm, slug: str, number: int = 1):
    return client.post(f"{base_url(firm, slug, number)}/submit")


def approve(client, consortium, slug: str, number: int = 1):
    return client.post(f"/review/consortia/{consortium.id}/courses/{slug}/v{number}/approve")


def send_back(client, consortium, slug: str, comment: str, number: int = 1):
    return client.post(
        f"/review/consortia/{consortium.id}/courses/{slug}/v{number}/return",
        data={"comment": comment},
    )


def build_course_via_service(app, firm, trainer, slug: str, title: str, *, publish_by=None):
    """A small course (a reading lesson, a quiz, a practical task) made through the service
    layer, optionally submitted and approved; returns its snapshot."""
    with app.test_request_context():
        actor = db.session.get(User, trainer.id)
        version = service.create_course(
            actor,
            db.session.get(Firm, firm.id),
            slug=slug,
            title=title,
            language="zh-CN",
            summary="服务层建立的课程。",
            sector="smart-manufacturing",
            hours=2,
            pass_mark=60,
            skills=[("t-plc", 2)],
        )
        module = service.add_module(actor, version, title="第一单元")
        service.add_lesson(
            actor, module, type="text", title="安全须知", body="# 安全\n\n戴好手套。"
        )
        service.add_lesson(actor, module, type="text", title="设备结构", body="结构说明。")
        quiz = service.add_lesson(
            actor, module, type="quiz", title="小测验", settings={"pass_mark": 50}
        )
        service.add_question(
            actor, quiz, type="single", prompt="1+1=?", choices=["1", "2"], answer="2"
        )
        service.add_lesson(
            actor,
            module,
            type="practical",
            title="上电检查",
            settings={"checklist": ["检查电源", "确认急停"]},
        )
        service.submit_version(actor, version)
        if publish_by is not None:
            service.approve_version(db.session.get(User, publish_by.id), version)
        db.session.commit()
    return version_of(app, slug)


def course_id(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalars(select(Course.id).where(Course.slug == slug)).one()
