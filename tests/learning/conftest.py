"""Learning fixtures: a firm with a worker and a trainer, courses built from packages, and
enrolments made through the service (ids only, so they work outside any app context)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from lms.auth.models import User
from lms.courses.models import CourseVersion
from lms.extensions import db
from lms.learning import service as learning
from tests.conftest import write_package
from tests.courses.helpers import Published, edit_course_yaml, import_dir, write_quiz


@pytest.fixture
def firm(create_firm):
    return create_firm(name="唐山精工机械有限公司")


@pytest.fixture
def worker(create_user, firm):
    return create_user(role="worker", firm=firm)


@pytest.fixture
def trainer(create_user, firm):
    return create_user(role="trainer", firm=firm)


@pytest.fixture
def publish(app, tmp_path):
    """publish(firm, slug, lessons=3, quiz=None | True | {quiz yaml}, practical=False, …meta)."""

    def make(firm, slug: str, *, lessons=3, quiz=None, practical=False, prerequisites=(), **meta):
        pkg = write_package(
            tmp_path / "pkgs",
            slug,
            lessons=lessons,
            quiz=quiz is not None,
            practical=practical,
            prerequisites=prerequisites,
        )
        if isinstance(quiz, dict):
            write_quiz(pkg, quiz)
        if meta:
            edit_course_yaml(pkg, **meta)
        return import_dir(app, firm.id, pkg)

    return make


@dataclass
class Enrolled:
    id: int
    public_id: str

    @property
    def url(self) -> str:
        return f"/learn/{self.public_id}"


@pytest.fixture
def enrol(app):
    """enrol(user, published, due_on=None) through lms.learning.service.enroll; commits."""

    def make(user, published: Published, *, due_on: date | None = None, **kw) -> Enrolled:
        with app.test_request_context():
            version = db.session.get(CourseVersion, published.version_id)
            enrollment, _created = learning.enroll(
                db.session.get(User, user.id), version, due_on=due_on, **kw
            )
            db.session.commit()
            return Enrolled(enrollment.id, enrollment.public_id)

    return make


@pytest.fixture
def in_db(app):
    """Run fn() in a fresh request context (between client requests) and return its result."""

    def run(fn):
        with app.test_request_context():
            result = fn()
            db.session.commit()
            return result

    return run


QUIZ_EACH_TYPE = {
    "title": "综合测验",
    "pass_mark": 75,
    "attempts": 3,
    "shuffle": False,
    "questions": [
        {
            "type": "single",
            "prompt": "急停按钮是什么颜色？",
            "choices": ["红色", "绿色", "蓝色"],
            "answer": "红色",
            "explanation": "急停按钮按国家标准为红色。",
        },
        {
            "type": "multiple",
            "prompt": "哪些属于个人防护用品？",
            "choices": ["安全帽", "防护手套", "手机"],
            "answer": ["安全帽", "防护手套"],
            "explanation": "手机不是防护用品。",
        },
        {
            "type": "true_false",
            "prompt": "可以带电接线。",
            "answer": False,
            "explanation": "必须断电挂牌后再接线。",
        },
        {
            "type": "fill_blank",
            "prompt": "吨的英文单位符号是？",
            "answer": "TON",
            "explanation": "吨写作 TON。",
        },
    ],
}
