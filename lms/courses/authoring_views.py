"""Trainers author courses (draft → review); consortium admins review and publish them.

Every route: load through the scope (404 outside it) → check the named permission (404 too) →
call one service function → commit → redirect (PRG), or render the form with its errors.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from lms.core.params import page_arg
from lms.courses import authoring as service
from lms.courses import uploads
from lms.courses.authoring_forms import (
    LANGUAGE_LABELS,
    CourseForm,
    ImageForm,
    LessonForm,
    MediaForm,
    ModuleForm,
    MoveForm,
    QuestionForm,
    ReturnForm,
)
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import Course, CourseVersion, Lesson, Module, Question
from lms.courses.question_types import QUESTION_TYPES
from lms.extensions import csrf, db
from lms.permissions import needs
from lms.taxonomy.models import Skill, level_name
from lms.tenancy.forms import ConfirmForm
from lms.tenancy.scope import current_scope

bp = Blueprint("authoring", __name__)
# The lesson types this editor builds (a type added to the registry needs its form here too).
AUTHORED_TYPES = {k: v for k, v in LESSON_TYPES.items() if k in LessonForm.FIELDS_BY_TYPE}

VERSION_URL = "/authoring/firms/<int:firm_id>/courses/<slug>/v<int:number>"


def _version_for_review(consortium, slug: str, number: int) -> CourseVersion:
    """A version of a course of `consortium` (already scoped) that has been sent for review at
    least once (drafts are the authors' own), else 404."""
    course = current_scope().get(Course, slug=slug, within=consortium)
    version = current_scope().get(CourseVersion, version=number, within=course)
    if version.status == "draft":
        abort(404)
    return version


@bp.context_processor
def authoring_context() -> dict:
    from lms.courses.service import published_version

    return {"VERSION_STATUS": service.VERSION_STATUS, "published_version": published_version}


def _course(firm, slug: str):
    return current_scope().get(Course, slug=slug, within=firm)


def _version(firm, slug: str, number: int):
    return current_scope().get(CourseVersion, version=number, within=_course(firm, slug))


def _version_url(version, anchor: str | None = None) -> str:
    course = version.course
    return url_for(
        "authoring.version",
        firm_id=course.firm_id,
        slug=course.slug,
        number=version.version,
        _anchor=anchor,
    )


def _lesson_url(lesson, anchor: str | None = None) -> str:
    course = lesson.version.course
    return url_for(
        "authoring.edit_lesson",
        firm_id=course.firm_id,
        slug=course.slug,
        number=lesson.version.version,
        lesson_id=lesson.id,
        _anchor=anchor,
    )


def _read_only(version):
    """A redirect to the version page if the version can no longer change, else None."""
    if service.is_editable(version):
        return None
    if version.status == "submitted":
        message = _l(
            "Version %(n)d is waiting for review and cannot be changed until the consortium "
            "decides.",
            n=version.version,
        )
    else:
        message = _l(
            "Version %(n)d is “%(status)s” and cannot be changed. Use “Edit” on the course to "
            "start the next version.",
            n=version.version,
            status=service.VERSION_STATUS[version.status][1],
        )
    flash(message, "info")
    return redirect(_version_url(version))


def _apply_errors(form, exc: service.AuthoringError, field_map: dict | None = None) -> None:
    """Put a service error next to its field (or on the page if no field matches)."""
    field_map = field_map or {}
    for name, messages in exc.errors.items():
        target = field_map.get(name, name) if name else None
        field = form[target] if target and target in form else None
        for message in messages:
            if field is None:
                flash(message, "error")
            elif message not in field.errors:
                field.errors = [*field.errors, message]


def _act(action, *args, success=None, **kwargs) -> bool:
    """Run one service call for the current user and commit, or roll back and show its error."""
    try:
        action(current_user, *args, **kwargs)
    except service.AuthoringError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return False
    db.session.commit()
    if success:
        flash(success, "success")
    return True


def _failed(form, exc, field_map=None) -> None:
    db.session.rollback()
    _apply_errors(form, exc, field_map)


# --- trainer: my courses, a new course, metadata ------------------------------------------------


@bp.get("/authoring/firms/<int:firm_id>/courses")
@needs("course.author", on="firm")
def my_courses(firm):
    page = db.paginate(
        service.list_firm_courses(firm),
        page=page_arg(),
        per_page=25,
        error_out=False,
    )
    return render_template("authoring/my_courses.html", firm=firm, page=page)


def _skills(owner) -> list[Skill]:
    """Skills for the pickers; `owner` is the firm or course (it names the consortium)."""
    return service.skill_options(owner.consortium_id)


@bp.route("/authoring/firms/<int:firm_id>/courses/new", methods=["GET", "POST"])
@needs("course.author", on="firm")
def new_course(firm):
    form = CourseForm(
        skills=_skills(firm), prerequisites=service.prerequisite_options(firm.consortium)
    )
    if form.validate_on_submit():
        try:
            version = service.create_course(
                current_user, firm, slug=form.slug.data, **form.meta_values()
            )
        except service.AuthoringError as exc:
            _failed(form, exc)
        else:
            db.session.commit()
            flash(_l("Course created as a draft. Add its first module."), "success")
            return redirect(_version_url(version))
    return render_template("authoring/course_form.html", form=form, firm=firm, version=None)


@bp.get("/authoring/firms/<int:firm_id>/courses/<slug>")
@needs("course.author", on="firm")
def course(firm, slug: str):
    """The course's latest version: the one being edited or reviewed, or the published one."""
    course = _course(firm, slug)
    return _render_version(course.versions[-1])


@bp.get(VERSION_URL)
@needs("course.author", on="firm")
def version(firm, slug: str, number: int):
    return _render_version(_version(firm, slug, number))


def _render_version(version):
    course = version.course
    editable = service.is_editable(version)
    return render_template(
        "authoring/version.html",
        firm=course.firm,
        course=course,
        version=version,
        editable=editable,
        problems=service.version_problems(version) if editable else [],
        module_form=ModuleForm(formdata=None),
        confirm_form=ConfirmForm(),
        lesson_types=AUTHORED_TYPES,
        question_types=QUESTION_TYPES,
        skills={s.id: s for s in _skills(version.course)},
        level_name=level_name,
        language_labels=LANGUAGE_LABELS,
    )


@bp.route(VERSION_URL + "/edit", methods=["GET", "POST"])
@needs("course.author", on="firm")
def edit_course(firm, slug: str, number: int):
    version = _version(firm, slug, number)
    if (done := _read_only(version)) is not None:
        return done
    course = version.course
    data = {
        "title": version.title,
        "language": version.language,
        "summary": version.summary,
        "sector": version.sector,
        "hours": version.hours,
        "pass_mark": version.pass_mark,
        "skills": [{"skill": s.skill_id, "level": s.level} for s in version.skill_levels],
        "prerequisites": list(version.prerequisites or []),
    }
    form = CourseForm(
        data=data,
        skills=_skills(version.course),
        prerequisites=service.prerequisite_options(course.consortium, exclude=course),
        editing=True,
    )
    if form.validate_on_submit():
        try:
            service.update_course(current_user, version, **form.meta_values())
        except service.AuthoringError as exc:
            _failed(form, exc)
        else:
            db.session.commit()
            flash(_l("Course details saved."), "success")
            return redirect(_version_url(version))
    return render_template(
        "authoring/course_form.html", form=form, firm=course.firm, version=version
    )


@bp.post("/authoring/firms/<int:firm_id>/courses/<slug>/versions")
@needs("course.author", on="firm")
def new_version(firm, slug: str):
    """“Edit” on a published course: the next version as a draft copy (once per click)."""
    course = _course(firm, slug)
    if not ConfirmForm().validate_on_submit():
        return redirect(_version_url(course.versions[-1]))
    version, created = service.create_next_version(current_user, course)
    db.session.commit()
    if created:
        flash(
            _l(
                "Version %(n)d created as a draft. Learners keep using the published version "
                "until this one is approved.",
                n=version.version,
            ),
            "success",
        )
    return redirect(_version_url(version))


# --- modules -------------------------------------------------------------------------------------


@bp.route(VERSION_URL + "/modules/new", methods=["GET", "POST"])
@needs("course.author", on="firm")
def new_module(firm, slug: str, number: int):
    version = _version(firm, slug, number)
    if (done := _read_only(version)) is not None:
        return done
    form = ModuleForm()
    if form.validate_on_submit():
        try:
            module = service.add_module(current_user, version, title=form.title.data)
        except service.AuthoringError as exc:
            _failed(form, exc)
        else:
            db.session.commit()
            return redirect(_version_url(version, f"module-{module.id}"))
    return render_template("authoring/module_form.html", form=form, version=version, module=None)


@bp.route(VERSION_URL + "/modules/<int:module_id>/edit", methods=["GET", "POST"])
@needs("course.author", on="firm")
def edit_module(firm, slug: str, number: int, module_id: int):
    version = _version(firm, slug, number)
    module = current_scope().get(Module, id=module_id, within=version)
    if (done := _read_only(version)) is not None:
        return done
    form = ModuleForm(obj=module)
    if form.validate_on_submit():
        try:
            service.rename_module(current_user, module, title=form.title.data)
        except service.AuthoringError as exc:
            _failed(form, exc)
        else:
            db.session.commit()
            return redirect(_version_url(version, f"module-{module.id}"))
    return render_template("authoring/module_form.html", form=form, version=version, module=module)


@bp.post(VERSION_URL + "/modules/<int:module_id>/move")
@needs("course.author", on="firm")
def move_module(firm, slug: str, number: int, module_id: int):
    version = _version(firm, slug, number)
    module = current_scope().get(Module, id=module_id, within=version)
    form = MoveForm()
    if form.validate_on_submit():
        _act(service.move_module, module, position=form.position.data)
    return redirect(_version_url(version, f"module-{module_id}"))


@bp.route(VERSION_URL + "/modules/<int:module_id>/delete", methods=["GET", "POST"])
@needs("course.author", on="firm")
def delete_module(firm, slug: str, number: int, module_id: int):
    version = _version(firm, slug, number)
    if request.method == "POST" and _gone(module_id, version.modules):
        return redirect(_version_url(version))  # a replayed delete: already done
    module = current_scope().get(Module, id=module_id, within=version)
    if (done := _read_only(version)) is not None:
        return done
    form = ConfirmForm()
    if form.validate_on_submit():
        _act(service.delete_module, module, success=_l("The module was deleted."))
        return redirect(_version_url(version))
    count = len(module.lessons)
    return render_template(
        "tenancy/confirm.html",
        form=form,
        title=_l("Delete the module “%(title)s”?", title=module.title),
        text=ngettext(
            "Its %(num)d lesson is deleted with it, with its questions. This cannot be undone.",
            "Its %(num)d lessons are deleted with it, with their questions. This cannot be undone.",
            count,
        )
        if count
        else _l("The module has no lessons. This cannot be undone."),
        button=_l("Delete module"),
        back=_version_url(version, f"module-{module.id}"),
    )


def _gone(item_id: int, items) -> bool:
    return all(x.id != item_id for x in items)


# --- lessons -------------------------------------------------------------------------------------


def _lesson_form_data(lesson) -> dict:
    data = {"title": lesson.title, "module": lesson.module_id}
    if lesson.type in ("text", "video", "file"):
        data.update(minutes=lesson.minutes, body=lesson.body)
    elif lesson.type == "quiz":
        data.update(
            pass_mark=lesson.data.get("pass_mark", 60),
            attempts=lesson.data.get("attempts", 0),
            shuffle=lesson.data.get("shuffle", False),
            time_limit_minutes=lesson.data.get("time_limit_minutes"),
        )
    else:
        data.update(
            checklist="\n".join(lesson.data.get("checklist", [])),
            skills=[dict(s) for s in lesson.data.get("skills", [])],
        )
    return data


@bp.route(VERSION_URL + "/modules/<int:module_id>/lessons/new", methods=["GET", "POST"])
@needs("course.author", on="firm")
def new_lesson(firm, slug: str, number: int, module_id: int):
    version = _version(firm, slug, number)
    module = current_scope().get(Module, id=module_id, within=version)
    if (done := _read_only(version)) is not None:
        return done
    lesson_type = request.args.get("type", "text")
    if lesson_type not in AUTHORED_TYPES:
        abort(404)
    form = LessonForm(lesson_type=lesson_type, skills=_skills(version.course))
    preview_html = None
    if form.is_submitted() and form.preview is not None and form.preview.data:
        preview_html = service.render_lesson_markdown(version, form.body.data or "")
    elif form.validate_on_submit():
        try:
            lesson = service.add_lesson(
                current_user,
                module,
                type=lesson_type,
                title=form.title.data,
                minutes=form.minutes.data if form.minutes is not None else 0,
                body=form.body.data if form.body is not None else "",
                settings=form.settings(),
            )
        except service.AuthoringError as exc:
            _failed(form, exc)
        else:
            db.session.commit()
            if lesson_type in ("video", "file"):
                flash(_l("Lesson saved. Now upload its file."), "success")
            elif lesson_type == "quiz":
                flash(_l("Quiz saved. Now add its questions."), "success")
            else:
                flash(_l("Lesson saved."), "success")
                return redirect(_version_url(version, f"lesson-{lesson.id}"))
            return redirect(_lesson_url(lesson))
    return render_template(
        "authoring/lesson_form.html",
        form=form,
        version=version,
        module=module,
        lesson=None,
        lesson_type=lesson_type,
        lesson_types=LESSON_TYPES,
        preview_html=preview_html,
    )


@bp.route(VERSION_URL + "/lessons/<int:lesson_id>/edit", methods=["GET", "POST"])
@needs("course.author", on="firm")
def edit_lesson(firm, slug: str, number: int, lesson_id: int):
    version = _version(firm, slug, number)
    lesson = current_scope().get(Lesson, id=lesson_id, within=version)
    if (done := _read_only(version)) is not None:
        return done
    form = LessonForm(
        data=_lesson_form_data(lesson),
        lesson_type=lesson.type,
        modules=version.modules,
        skills=_skills(version.course),
    )
    preview_html = None
    if form.is_submitted() and form.preview is not None and form.preview.data:
        preview_html = service.render_lesson_markdown(version, form.body.data or "")
    elif form.validate_on_submit():
        try:
            service.update_lesson(
                current_user,
                lesson,
                title=form.title.data,
                minutes=form.minutes.data if form.minutes is not None else 0,
                body=form.body.data if form.body is not None else "",
                settings=form.settings(),
                module=current_scope().get(Module, id=form.module.data, within=version),
            )
        except service.AuthoringError as exc:
            _failed(form, exc)
        else:
            db.session.commit()
            flash(_l("Lesson saved."), "success")
            return redirect(_version_url(version, f"lesson-{lesson.id}"))
    return _render_lesson(version, lesson, form, preview_html=preview_html)


def _render_lesson(version, lesson, form, *, preview_html=None, media_form=None, image_form=None):
    limits = uploads.limits()
    if lesson.type in service.MEDIA_CATEGORIES and media_form is None:
        category = service.MEDIA_CATEGORIES[lesson.type][0]
        media_form = MediaForm(
            formdata=None,
            lesson_type=lesson.type,
            limit_mb=uploads.megabytes(limits[category]),
        )
    if lesson.type in ("text", "video", "file") and image_form is None:
        image_form = ImageForm(formdata=None)
    return render_template(
        "authoring/lesson_form.html",
        form=form,
        version=version,
        module=lesson.module,
        lesson=lesson,
        lesson_type=lesson.type,
        lesson_types=LESSON_TYPES,
        question_types=QUESTION_TYPES,
        preview_html=preview_html,
        media_form=media_form,
        image_form=image_form,
        image_limit_mb=uploads.megabytes(limits["image"]),
        move_form=MoveForm(formdata=None),
    )


@bp.post(VERSION_URL + "/lessons/<int:lesson_id>/move")
@needs("course.author", on="firm")
def move_lesson(firm, slug: str, number: int, lesson_id: int):
    version = _version(firm, slug, number)
    lesson = current_scope().get(Lesson, id=lesson_id, within=version)
    form = MoveForm()
    if form.validate_on_submit():
        _act(service.move_lesson, lesson, position=form.position.data)
    return redirect(_version_url(version, f"lesson-{lesson_id}"))


@bp.route(VERSION_URL + "/lessons/<int:lesson_id>/delete", methods=["GET", "POST"])
@needs("course.author", on="firm")
def delete_lesson(firm, slug: str, number: int, lesson_id: int):
    version = _version(firm, slug, number)
    if request.method == "POST" and _gone(lesson_id, version.lessons):
        return redirect(_version_url(version))  # a replayed delete: already done
    lesson = current_scope().get(Lesson, id=lesson_id, within=version)
    if (done := _read_only(version)) is not None:
        return done
    form = ConfirmForm()
    if form.validate_on_submit():
        module_id = lesson.module_id
        _act(service.delete_lesson, lesson, success=_l("The lesson was deleted."))
        return redirect(_version_url(version, f"module-{module_id}"))
    return render_template(
        "tenancy/confirm.html",
        form=form,
        title=_l("Delete the lesson “%(title)s”?", title=lesson.title),
        text=_l(
            "If it was in the published version, learners keep their record of it there, "
            "but the next version will not have it. This cannot be undone."
        ),
        button=_l("Delete lesson"),
        back=_lesson_url(lesson),
    )


@bp.post(VERSION_URL + "/preview")
@needs("course.author", on="firm")
def preview(firm, slug: str, number: int):
    """Sanitised HTML of the posted Markdown, for the live preview (JSON)."""
    version = _version(firm, slug, number)
    text = request.form.get("body", "")
    return jsonify(html=service.render_lesson_markdown(version, text))


# --- uploads -------------------------------------------------------------------------------------


@bp.post(VERSION_URL + "/lessons/<int:lesson_id>/media")
@csrf.exempt  # the global check would parse the body under the 16 MB limit; MediaForm checks
@needs("course.author", on="firm")  # the CSRF token once the body is read under its own limit
def upload_media(firm, slug: str, number: int, lesson_id: int):
    """The video of a video lesson or the document of a file lesson."""
    version = _version(firm, slug, number)
    lesson = current_scope().get(Lesson, id=lesson_id, within=version)
    if lesson.type not in service.MEDIA_CATEGORIES:
        abort(404)
    if (done := _read_only(version)) is not None:
        return done
    categories = service.MEDIA_CATEGORIES[lesson.type]
    limit = uploads.limits()[categories[0]]
    limit_mb = uploads.megabytes(limit)
    request.max_content_length = uploads.request_limit(categories)
    try:
        form = MediaForm(lesson_type=lesson.type, limit_mb=limit_mb)
        valid = form.validate_on_submit()
    except RequestEntityTooLarge:
        form = MediaForm(formdata=None, lesson_type=lesson.type, limit_mb=limit_mb)
        form.file.errors = [
            _l(
                "%(field)s: the file is larger than %(mb)s MB.",
                field=form.file.label.text,
                mb=limit_mb,
            )
        ]
        valid = False
    if valid:
        try:
            checked = uploads.check_upload(
                uploads.read_limited(form.file.data.stream, limit),
                categories=categories,
                field=str(form.file.label.text),
            )
            service.attach_media(current_user, lesson, checked)
        except uploads.UploadError as exc:
            db.session.rollback()
            form.file.errors = [exc.message]
        except service.AuthoringError as exc:
            _failed(form, exc)
        else:
            db.session.commit()
            flash(_l("File uploaded."), "success")
            return redirect(_lesson_url(lesson, "media"))
    elif getattr(form, "csrf_token", None) is not None and form.csrf_token.errors:
        # The global CSRF check skips this route (see above), so say what it would have said.
        flash(
            _l("The form expired or was sent twice. Reload the page and submit it again."),
            "error",
        )
    form_view = LessonForm(
        formdata=None,
        data=_lesson_form_data(lesson),
        lesson_type=lesson.type,
        modules=version.modules,
        skills=_skills(version.course),
    )
    return _render_lesson(version, lesson, form_view, media_form=form)


@bp.post(VERSION_URL + "/lessons/<int:lesson_id>/images")
@needs("course.author", on="firm")
def upload_image(firm, slug: str, number: int, lesson_id: int):
    """An image for the lesson's text: stored, then appended to the Markdown."""
    version = _version(firm, slug, number)
    lesson = current_scope().get(Lesson, id=lesson_id, within=version)
    if (done := _read_only(version)) is not None:
        return done
    form = ImageForm()
    if form.validate_on_submit():
        limit = uploads.limits()["image"]
        try:
            checked = uploads.check_upload(
                uploads.read_limited(form.image.data.stream, limit),
                categories=("image",),
                field=str(form.image.label.text),
            )
            service.add_image(current_user, lesson, checked, alt=form.alt.data)
        except uploads.UploadError as exc:
            db.session.rollback()
            form.image.errors = [exc.message]
        except service.AuthoringError as exc:
            _failed(form, exc)
        else:
            db.session.commit()
            flash(_l("Image added at the end of the text."), "success")
            return redirect(_lesson_url(lesson))
    form_view = LessonForm(
        formdata=None,
        data=_lesson_form_data(lesson),
        lesson_type=lesson.type,
        modules=version.modules,
        skills=_skills(version.course),
    )
    return _render_lesson(version, lesson, form_view, image_form=form)


# --- quiz questions ------------------------------------------------------------------------------

ANSWER_FIELDS = {
    "single": "correct_one",
    "multiple": "correct_many",
    "true_false": "truth",
    "fill_blank": "accepted",
}


def _quiz(firm, slug, number, lesson_id):
    version = _version(firm, slug, number)
    lesson = current_scope().get(Lesson, id=lesson_id, within=version)
    if lesson.type != "quiz":
        abort(404)
    return version, lesson


def _save_question(form, action) -> bool:
    """Validate a posted question (form fields and the type registry's rules, all errors at
    once, next to their fields), then save it with `action(choices, answer)`."""
    if not form.is_submitted():
        return False
    valid = form.validate()
    choices_, answer, errors = form.definition()
    problems = service.question_problems(form.question_type, form.prompt.data, choices_, answer)
    for field, messages in problems.items():
        if field not in errors:
            errors[field] = messages
    field_map = {"answer": ANSWER_FIELDS[form.question_type]}
    if errors or not valid:
        _apply_errors(form, service.AuthoringError(None, errors=errors), field_map)
        return False
    try:
        action(choices_, answer)
    except service.AuthoringError as exc:
        db.session.rollback()
        _apply_errors(form, exc, field_map)
        return False
    db.session.commit()
    return True


@bp.route(VERSION_URL + "/lessons/<int:lesson_id>/questions/new", methods=["GET", "POST"])
@needs("course.author", on="firm")
def new_question(firm, slug: str, number: int, lesson_id: int):
    version, lesson = _quiz(firm, slug, number, lesson_id)
    if (done := _read_only(version)) is not None:
        return done
    qtype = request.args.get("type", "single")
    if qtype not in QUESTION_TYPES:
        abort(404)
    form = QuestionForm(question_type=qtype)
    if _save_question(
        form,
        lambda choices_, answer: service.add_question(
            current_user,
            lesson,
            type=qtype,
            prompt=form.prompt.data,
            choices=choices_,
            answer=answer,
            explanation=form.explanation.data,
        ),
    ):
        flash(_l("Question saved."), "success")
        return redirect(_lesson_url(lesson, "questions"))
    return render_template(
        "authoring/question_form.html",
        form=form,
        version=version,
        lesson=lesson,
        question=None,
        number=len(lesson.questions) + 1,
        question_type=QUESTION_TYPES[qtype],
    )


@bp.route(
    VERSION_URL + "/lessons/<int:lesson_id>/questions/<int:question_id>/edit",
    methods=["GET", "POST"],
)
@needs("course.author", on="firm")
def edit_question(firm, slug: str, number: int, lesson_id: int, question_id: int):
    version, lesson = _quiz(firm, slug, number, lesson_id)
    question = current_scope().get(Question, id=question_id, within=lesson)
    if (done := _read_only(version)) is not None:
        return done
    form = QuestionForm(data=QuestionForm.data_of(question), question_type=question.type)
    if _save_question(
        form,
        lambda choices_, answer: service.update_question(
            current_user,
            question,
            prompt=form.prompt.data,
            choices=choices_,
            answer=answer,
            explanation=form.explanation.data,
        ),
    ):
        flash(_l("Question saved."), "success")
        return redirect(_lesson_url(lesson, f"question-{question.id}"))
    return render_template(
        "authoring/question_form.html",
        form=form,
        version=version,
        lesson=lesson,
        question=question,
        number=question.position + 1,
        question_type=QUESTION_TYPES[question.type],
    )


@bp.post(VERSION_URL + "/lessons/<int:lesson_id>/questions/<int:question_id>/move")
@needs("course.author", on="firm")
def move_question(firm, slug: str, number: int, lesson_id: int, question_id: int):
    version, lesson = _quiz(firm, slug, number, lesson_id)
    question = current_scope().get(Question, id=question_id, within=lesson)
    form = MoveForm()
    if form.validate_on_submit():
        _act(service.move_question, question, position=form.position.data)
    return redirect(_lesson_url(lesson, f"question-{question_id}"))


@bp.route(
    VERSION_URL + "/lessons/<int:lesson_id>/questions/<int:question_id>/delete",
    methods=["GET", "POST"],
)
@needs("course.author", on="firm")
def delete_question(firm, slug: str, number: int, lesson_id: int, question_id: int):
    version, lesson = _quiz(firm, slug, number, lesson_id)
    if request.method == "POST" and _gone(question_id, lesson.questions):
        return redirect(_lesson_url(lesson, "questions"))  # a replayed delete
    question = current_scope().get(Question, id=question_id, within=lesson)
    if (done := _read_only(version)) is not None:
        return done
    form = ConfirmForm()
    if form.validate_on_submit():
        _act(service.delete_question, question, success=_l("The question was deleted."))
        return redirect(_lesson_url(lesson, "questions"))
    return render_template(
        "tenancy/confirm.html",
        form=form,
        title=_l("Delete question %(n)d?", n=question.position + 1),
        text=question.prompt,
        button=_l("Delete question"),
        back=_lesson_url(lesson, f"question-{question.id}"),
    )


# --- submit for review -------------------------------------------------------------------------


@bp.route(VERSION_URL + "/submit", methods=["GET", "POST"])
@needs("course.author", on="firm")
def submit_version(firm, slug: str, number: int):
    version = _version(firm, slug, number)
    if version.status == "submitted":
        if request.method == "POST":  # a replayed submit: already done
            return redirect(_version_url(version))
        flash(_l("This version is already waiting for review."), "info")
        return redirect(_version_url(version))
    if (done := _read_only(version)) is not None:
        return done
    form = ConfirmForm()
    problems = service.version_problems(version)
    if form.validate_on_submit() and not problems:
        try:
            submitted = service.submit_version(current_user, version)
        except service.AuthoringError as exc:
            db.session.rollback()
            problems = exc.errors.get(None, [exc.message])
        else:
            db.session.commit()
            if submitted:
                flash(
                    _l(
                        "Version %(n)d was sent for review. It is read-only until the "
                        "consortium decides.",
                        n=version.version,
                    ),
                    "success",
                )
            return redirect(_version_url(version))
    return render_template("authoring/submit.html", form=form, version=version, problems=problems)


# --- consortium admin: review ------------------------------------------------------------------


REVIEW_URL = "/review/consortia/<int:consortium_id>/courses/<slug>/v<int:number>"


@bp.get("/review/consortia/<int:consortium_id>/courses")
@needs("course.approve", on="consortium")
def review_queue(consortium):
    waiting = db.session.scalars(service.list_review_queue(consortium)).all()
    return render_template(
        "authoring/review_queue.html",
        consortium=consortium,
        waiting=waiting,
        recent=service.list_recent_decisions(consortium),
    )


def _render_review(consortium, version, return_form=None):
    course = version.course
    published = next(
        (v for v in reversed(course.versions) if v.status == "published" and v is not version),
        None,
    )
    return render_template(
        "authoring/review.html",
        consortium=consortium,
        course=course,
        version=version,
        published=published,
        changes=_changes(published, version) if published else None,
        return_form=return_form or ReturnForm(formdata=None),
        confirm_form=ConfirmForm(),
        lesson_types=LESSON_TYPES,
        question_types=QUESTION_TYPES,
        skills={s.id: s for s in _skills(version.course)},
        level_name=level_name,
        language_labels=LANGUAGE_LABELS,
    )


def _changes(old, new) -> dict:
    """Lessons added, removed and changed between two versions (by key), for reviewers."""
    before = {x.key: x for x in old.lessons}
    after = {x.key: x for x in new.lessons}

    def content(x):
        return (
            x.title,
            x.body,
            x.media_path,
            x.data,
            [(q.type, q.prompt, q.choices, q.answer) for q in x.questions],
        )

    return {
        "added": [after[k] for k in after if k not in before],
        "removed": [before[k] for k in before if k not in after],
        "changed": [
            after[k] for k in after if k in before and content(after[k]) != content(before[k])
        ],
        "kept": sum(1 for k in after if k in before),
    }


@bp.get(REVIEW_URL)
@needs("course.approve", on="consortium")
def review_version(consortium, slug: str, number: int):
    version = _version_for_review(consortium, slug, number)
    return _render_review(consortium, version)


@bp.post(REVIEW_URL + "/approve")
@needs("course.approve", on="consortium")
def approve_version(consortium, slug: str, number: int):
    version = _version_for_review(consortium, slug, number)
    if ConfirmForm().validate_on_submit():
        if service.approve_version(current_user, version):
            db.session.commit()
            flash(
                _l(
                    "“%(title)s” version %(n)d is published in the catalogue.",
                    title=version.title,
                    n=version.version,
                ),
                "success",
            )
        else:
            db.session.rollback()
            flash(_l("This version is no longer waiting for review."), "info")
    return redirect(url_for("authoring.review_queue", consortium_id=consortium.id))


@bp.post(REVIEW_URL + "/return")
@needs("course.approve", on="consortium")
def return_version(consortium, slug: str, number: int):
    version = _version_for_review(consortium, slug, number)
    form = ReturnForm()
    if form.validate_on_submit():
        try:
            returned = service.return_version(current_user, version, comment=form.comment.data)
        except service.AuthoringError as exc:
            _failed(form, exc)
        else:
            db.session.commit()
            if returned:
                flash(_l("Sent back to the trainers with your comment."), "success")
            else:
                flash(_l("This version is no longer waiting for review."), "info")
            return redirect(url_for("authoring.review_queue", consortium_id=consortium.id))
    return _render_review(consortium, version, return_form=form)
