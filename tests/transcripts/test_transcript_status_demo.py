"""The transcript PDF's status column (issue 13): every status comes out whole, in Chinese and in
English — the column was squeezed to one character, so 已完成 came out as 已/完/成, one character
per line (and "In progress" on two lines)."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from lms.auth.models import User
from lms.courses.models import Course
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import STATUS_LABELS
from lms.transcripts import service
from tests.pdftools import require_poppler, run


@pytest.fixture
def every_status(app, world, create_course) -> int:
    """张三丰 (three courses completed) also has one course in progress, one not started and
    one withdrawn from: every status a transcript row can have. Returns the user id."""
    courses = [
        create_course(world.firm_a, quiz=False, lessons=2, title=f"数字孪生{n}") for n in "甲乙丙"
    ]
    with app.test_request_context():
        user = db.session.get(User, world.people["a1"].id)
        started, waiting, left = (db.session.get(Course, c.id).versions[-1] for c in courses)
        enrollment, _ = learning.enroll(user, started)
        learning.record_progress(enrollment, started.lessons[0], percent=100)
        learning.enroll(user, waiting)
        enrollment, _ = learning.enroll(user, left)
        learning.withdraw(user, enrollment)
        db.session.commit()
        return user.id


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_status_words_of_the_transcript_pdf_come_out_whole(app, every_status, locale, tmp_path):
    require_poppler("pdftotext")
    with app.test_request_context():
        user = db.session.get(User, every_status)
        user.locale = locale
        pdf = service.transcript_pdf(user)
        db.session.rollback()
        with force_locale(locale):
            words = [str(STATUS_LABELS[s]) for s in ("completed", "in_progress", "enrolled")]
            words += [str(STATUS_LABELS["withdrawn"])]
    path = tmp_path / f"transcript-{locale}.pdf"
    path.write_bytes(pdf)
    text = run("pdftotext", "-enc", "UTF-8", str(path), "-")
    for word in words:  # on one line ("In progress", not "In" and "progress")
        assert word in text, (word, text[:1500])
    # Nothing is left one character to a line (the squeezed column's mark: 已/完/成).
    singles = [line for line in text.splitlines() if len(line.strip()) == 1]
    assert [s for s in singles if not s.strip().isdigit()] == [], text[:1500]
