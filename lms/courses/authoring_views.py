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

from lms.core.params import page_arg
from lms.core.web import upload_limit, wants_json
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
    question_form,
)
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import Course, CourseVersion, Lesson, Module, Question
from lms.courses.question_types import QUESTION_TYPES
from lms.extensions import db
from lms.permissions import needs
from lms.taxonomy.models import Skill, level_name
from lms.tenancy.forms import ConfirmForm
from lms.tenancy.scope import current_scope

bp = Blueprint("authoring", __name__)
# The lesson types this editor builds: those whose lesson form has fields (LessonType).
AUTHORED_TYPES = {k: v for k, v in LESSON_TYPES.items() if v.form_fields}

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


def _add_problems(form, problems: dict, field_map: dict | None = None) -> None:
    """The service's problems next to their fields, where the form's own validators found
    nothing (the same mistake is not reported twice in two wordings): with them, every
    invalid field is reported in one round."""
    field_map = field_map or {}
    fresh = {}
    for name, messages in problems.items():
        target = field_map.get(name, name) if name else None
        if target and target in form and form[target].errors:
            continue
        fresh[name] = messages
    if fresh:
        _apply_errors(form, service.AuthoringError(None, errors=fresh), field_map)


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
    elif form.is_submitted():
        values = form.meta_values()
        _add_problems(
            form, service.course_problems(current_user, firm, slug=form.slug.data, **values)
        )
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
    elif form.is_submitted():
        problems = service.course_problems(current_user, firm, version, **form.meta_values())
        _add_problems(form, problems)
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
    return {
        "title": lesson.title,
        "module": lesson.module_id,
        **LESSON_TYPES[lesson.type].form_data(lesson),
    }


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
            next_step = LESSON_TYPES[lesson_type].saved_next
            if next_step is None:
                flash(_l("Lesson saved."), "success")
                return redirect(_version_url(version, f"lesson-{lesson.id}"))
            flash(next_step, "success")  # the editor stays open for the lesson's next step
            return redirect(_lesson_url(lesson))
    elif form.is_submitted():
        _add_problems(form, service.lesson_problems(version, lesson_type, **_lesson_fields(form)))
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


def _editor_place(anchor: str):
    """Where a refused upload leads back to: the lesson editor, at `anchor` (lms.core.web)."""
    return lambda: url_for("authoring.edit_lesson", _anchor=anchor, **request.view_args)


def _lesson_fields(form) -> dict:
    """The lesson fields the service checks, as posted."""
    return {
        "title": form.title.data,
        "minutes": form.minutes.data if form.minutes is not None else 0,
        "settings": form.settings(),
    }


def _editor_form(version, lesson, *, posted: bool = True) -> LessonForm:
    """The editor's lesson form: as posted, or (posted=False) as saved."""
    return LessonForm(
        **({} if posted else {"formdata": None}),
        data=_lesson_form_data(lesson),
        lesson_type=lesson.type,
        modules=version.modules,
        skills=_skills(version.course),
    )


@bp.route(VERSION_URL + "/lessons/<int:lesson_id>/edit", methods=["GET", "POST"])
@needs("course.author", on="firm")
@upload_limit(uploads.editor_request_limit, says=uploads.limits_text, back=_editor_place("body"))
def edit_lesson(firm, slug: str, number: int, lesson_id: int):
    """The lesson editor; "Save" posts its one form here, with any file chosen in it."""
    version = _version(firm, slug, number)
    lesson = current_scope().get(Lesson, id=lesson_id, within=version)
    if (done := _read_only(version)) is not None:
        return done
    form = _editor_form(version, lesson)
    if form.is_submitted() and form.preview is not None and form.preview.data:
        preview_html = service.render_lesson_markdown(version, form.body.data or "")
        return _render_lesson(version, lesson, form, preview_html=preview_html)
    if form.is_submitted():
        return _submit_lesson(version, lesson, form, action="save")
    return _render_lesson(version, lesson, form)


def _failed_upload(form, exc: service.AuthoringError, file_field: str) -> None:
    """A refused upload: its errors next to their fields, the others next to the file's."""
    db.session.rollback()
    errors = {name or file_field: messages for name, messages in exc.errors.items()}
    _apply_errors(form, service.AuthoringError(None, errors=errors))


def _chosen(field) -> bool:
    """Whether a file was chosen in a file field (an empty file input posts no file name)."""
    return bool(getattr(field.data, "filename", None))


def _take_image(lesson, form: ImageForm, store):
    """Check the image chosen in `form` and `store` it (service.store_image gives its Markdown,
    service.add_image also appends it to the saved text); None with the errors on the form's
    fields if it is refused."""
    valid = form.validate()
    if not _chosen(form.image):
        return None
    limit = uploads.limits()["image"]
    try:
        # The file is checked even when the description is missing: every problem at once.
        checked = uploads.check_upload(
            uploads.read_limited(form.image.data.stream, limit),
            categories=("image",),
            field=str(form.image.label.text),
        )
        if not valid:
            return None
        result = store(current_user, lesson, checked, alt=form.alt.data)
    except uploads.UploadError as exc:
        db.session.rollback()
        form.image.errors = [exc.message]
        return None
    except service.AuthoringError as exc:
        _failed_upload(form, exc, "image")
        return None
    db.session.commit()
    return result


def _media_form(lesson, *, posted: bool = True) -> MediaForm:
    category = LESSON_TYPES[lesson.type].media_categories[0]
    return MediaForm(
        **({} if posted else {"formdata": None}),
        lesson_type=lesson.type,
        limit_mb=uploads.limit_mb(category),
    )


def _take_media(lesson, form: MediaForm) -> bool:
    """Check the video or document chosen in `form` and attach it to the lesson (committed);
    False with the errors on the form's file field if it is refused."""
    if not form.validate():
        return False
    categories = LESSON_TYPES[lesson.type].media_categories
    limit = uploads.limits()[categories[0]]
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
        return False
    except service.AuthoringError as exc:
        _failed_upload(form, exc, "file")
        return False
    db.session.commit()
    return True


def _submit_lesson(version, lesson, form: LessonForm, *, action: str):
    """The lesson editor's one form, posted by "Save" (action "save"), "Add the image"
    ("image") or "Upload" ("media"), with the lesson's fields and any file chosen in it.

    Everything is checked at once and every problem shown next to its field, with the text as
    typed. The lesson is saved only if all is valid; a valid file is kept even when something
    else is wrong (an image's Markdown then goes into the text shown, to be saved with it).
    A post without the lesson's fields (an older page) adds the image to the saved text."""
    typed = action == "save" or form.title.name in request.form
    kind = LESSON_TYPES[lesson.type]
    image_form = ImageForm() if kind.has_body else None
    media_form = _media_form(lesson) if kind.media_categories else None
    valid = form.validate() if typed else True
    if not valid:
        _add_problems(
            form,
            service.lesson_problems(version, lesson.type, lesson=lesson, **_lesson_fields(form)),
        )
    files_ok, image, media = True, None, False
    if image_form is not None and (action == "image" or _chosen(image_form.image)):
        image = _take_image(lesson, image_form, service.store_image if typed else service.add_image)
        files_ok = image is not None
    if media_form is not None and (action == "media" or _chosen(media_form.file)):
        media = _take_media(lesson, media_form)
        files_ok = files_ok and media
    if image and typed and form.body is not None:
        form.body.data = service.with_image(form.body.data, image)
    if image:
        image_form = ImageForm(formdata=None)  # stored: its fields start afresh
    if files_ok and not typed:
        flash(
            _l("File uploaded.") if media else _l("Image added at the end of the text."), "success"
        )
        return redirect(_lesson_url(lesson, "media" if media else None))
    if files_ok and valid:
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
            if image:
                flash(
                    _l(
                        "Image added at the end of the text, and the lesson saved. Move its "
                        "line ![…](media/…) to where the image belongs."
                    ),
                    "success",
                )
                return redirect(_lesson_url(lesson, form.body.id))
            if media:
                flash(_l("File uploaded, and the lesson saved."), "success")
                return redirect(_lesson_url(lesson, "media"))
            flash(_l("Lesson saved."), "success")
            return redirect(_version_url(version, f"lesson-{lesson.id}"))
    if image or media:
        flash(
            _l(
                "The image is stored and its line added at the end of the text below. The "
                "lesson is not saved yet: correct what is marked, then save."
            )
            if image
            else _l(
                "The file is uploaded. The lesson's other changes are not saved yet: correct "
                "what is marked, then save."
            ),
            "info",
        )
    if not typed:  # an older page's upload was refused: show the lesson as saved
        form = _editor_form(version, lesson, posted=False)
    return _render_lesson(version, lesson, form, media_form=media_form, image_form=image_form)


def _render_lesson(version, lesson, form, *, preview_html=None, media_form=None, image_form=None):
    limits = uploads.limits()
    kind = LESSON_TYPES[lesson.type]
    if kind.media_categories and media_form is None:
        media_form = _media_form(lesson, posted=False)
    if kind.has_body and image_form is None:
        image_form = ImageForm(formdata=None)
    media_category = (kind.media_categories or ("document",))[0]
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
        image_limit=limits["image"],
        media_limit=limits[media_category],
        media_limit_mb=uploads.megabytes(limits[media_category]),
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


def _json_errors(*forms) -> dict:
    return {
        name: [str(e) for e in field.errors if not isinstance(e, dict)]
        for form in forms
        for name, field in form._fields.items()
        if field.errors
    }


def _json_refusal(errors: dict, status: int = 400):
    first = next((m for messages in errors.values() for m in messages), None)
    return jsonify(error=first or str(_l("The upload failed.")), errors=errors), status


def _json_read_only(version):
    """For a background upload (JSON): the refusal of a version that can no longer change."""
    if service.is_editable(version):
        return None
    return _json_refusal(
        {"file": [str(_l("This version can no longer change: reload the page."))]}, 409
    )


@bp.post(VERSION_URL + "/lessons/<int:lesson_id>/media")
@needs("course.author", on="firm")
@upload_limit(
    uploads.editor_request_limit, says=uploads.media_limit_text, back=_editor_place("media")
)
def upload_media(firm, slug: str, number: int, lesson_id: int):
    """The video of a video lesson or the document of a file lesson: "Upload" in the editor's
    form (the lesson is saved with it), or a background upload from its script (JSON)."""
    version = _version(firm, slug, number)
    lesson = current_scope().get(Lesson, id=lesson_id, within=version)
    if not LESSON_TYPES[lesson.type].media_categories:
        abort(404)
    if wants_json():
        if (refused := _json_read_only(version)) is not None:
            return refused
        form = _media_form(lesson)
        if not _take_media(lesson, form):
            return _json_refusal(_json_errors(form))
        return jsonify(
            message=str(_l("File uploaded.")),
            url=url_for(
                "courses.media",
                slug=version.course.slug,
                version=version.version,
                path=lesson.media_path,
            ),
        )
    if (done := _read_only(version)) is not None:
        return done
    return _submit_lesson(version, lesson, _editor_form(version, lesson), action="media")


@bp.post(VERSION_URL + "/lessons/<int:lesson_id>/images")
@needs("course.author", on="firm")
@upload_limit(
    uploads.editor_request_limit, says=uploads.image_limit_text, back=_editor_place("images")
)
def upload_image(firm, slug: str, number: int, lesson_id: int):
    """An image for the lesson's text: "Add the image" in the editor's form (the text as
    typed comes back with the image's line at its end, saved if the lesson is valid), or a
    background upload from its script, which answers the Markdown to put at the cursor."""
    version = _version(firm, slug, number)
    lesson = current_scope().get(Lesson, id=lesson_id, within=version)
    if not LESSON_TYPES[lesson.type].has_body:
        abort(404)
    if wants_json():
        if (refused := _json_read_only(version)) is not None:
            return refused
        form = ImageForm()
        markdown = _take_image(lesson, form, service.store_image)
        if markdown is None:
            return _json_refusal(_json_errors(form))
        return jsonify(
            markdown=markdown,
            message=str(_l("Image added at the cursor. Save the lesson to keep it.")),
        )
    if (done := _read_only(version)) is not None:
        return done
    return _submit_lesson(version, lesson, _editor_form(version, lesson), action="image")


# --- quiz questions ------------------------------------------------------------------------------


def _quiz(firm, slug, number, lesson_id):
    version = _version(firm, slug, number)
    lesson = current_scope().get(Lesson, id=lesson_id, within=version)
    if not LESSON_TYPES[lesson.type].has_questions:
        abort(404)
    return version, lesson


def _save_question(form, action) -> bool:
    """Validate a posted question (form fields and the type registry's rules, all errors at
    once, next to their fields), then save it with `action(choices, answer)`."""
    if not form.is_submitted():
        return False
    valid = form.validate()
    choices_, answer, errors = form.definition()
    problems = service.question_problems(
        form.question_type, form.prompt.data, choices_, answer, form.explanation.data
    )
    for field, messages in problems.items():
        if field not in errors:
            errors[field] = messages
    field_map = form.kind.form_errors_at  # the type's fields for its choices and answer
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
    form = question_form(qtype)
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
    form = question_form(question.type, data=QuestionForm.data_of(question))
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
