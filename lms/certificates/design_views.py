"""Certificate designs of a consortium (consortium admins, certificate.manage): the list, new,
edit, delete, a course's certificate validity, and PDF previews with sample data.

Every route: load through the scope (404 outside it) → check certificate.manage (404 too) → call
one service function (lms.certificates.designs) → commit → redirect (PRG), or render the form
with its errors. A design of another consortium is a 404.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.certificates import designs, render
from lms.certificates.design_forms import DesignForm, NewDesignForm, ValidityForm
from lms.certificates.models import CertificateTemplate
from lms.extensions import db
from lms.permissions import needs
from lms.tenancy.forms import ConfirmForm
from lms.tenancy.models import Consortium

bp = Blueprint("certificate_designs", __name__)
BASE = "/consortia/<int:consortium_id>/certificate-designs"
FORM_OVERHEAD = 64 * 1024


def _design(consortium: Consortium, design_id: int) -> CertificateTemplate:
    design = designs.get_design(consortium, design_id)
    if design is None:
        abort(404)
    return design


def _list_url(consortium: Consortium) -> str:
    return url_for("certificate_designs.designs", consortium_id=consortium.id)


def _uploads(form: DesignForm) -> dict[str, bytes]:
    """The uploaded logo/seal bytes (at most one byte over the limit: that tells "too big")."""
    found = {}
    for name in designs.IMAGES:
        upload = form[name].data
        if upload is not None and getattr(upload, "filename", None):
            found[name] = upload.stream.read(designs.MAX_IMAGE + 1)
    return found


def _field_error(form, exc: designs.DesignError) -> None:
    field = form[exc.field] if exc.field and exc.field in form else None
    if field is None:
        flash(exc.message, "error")
    else:
        field.errors = [*field.errors, exc.message]


def _limit_request() -> None:
    request.max_content_length = 2 * designs.MAX_IMAGE + FORM_OVERHEAD


def _course_titles(consortium) -> dict[int, str]:
    return {c.id: title for c, title in designs.consortium_courses(consortium)}


# --- the list ---------------------------------------------------------------------------------


@bp.get(BASE, endpoint="designs")
@needs("certificate.manage", on="consortium")
def designs_list(consortium: Consortium):
    rows = designs.list_designs(consortium)
    wide = next((d for d in rows if d.course_id is None), None)
    by_course = {d.course_id: d for d in rows if d.course_id is not None}
    courses = designs.consortium_courses(consortium)
    return render_template(
        "certificates/designs/list.html",
        consortium=consortium,
        wide=wide,
        by_course=by_course,
        courses=courses,
    )


@bp.route(BASE + "/new", methods=["GET", "POST"])
@needs("certificate.manage", on="consortium")
def new_design(consortium: Consortium):
    _limit_request()
    courses = designs.consortium_courses(consortium)
    taken = {d.course_id for d in designs.list_designs(consortium)}
    form = NewDesignForm()
    form.place.choices = [("", str(_l("The whole consortium")))] if None not in taken else []
    form.place.choices += [(str(c.id), title) for c, title in courses if c.id not in taken]
    if request.method == "GET":
        default = render.default_design()
        form.fill_texts(None)
        form.name.data = str(_l("Certificate of %(consortium)s", consortium=consortium.name))
        form.primary_color.data = default["primary_color"]
        form.accent_color.data = default["accent_color"]
        wanted = request.args.get("course", "")
        if any(value == wanted for value, _label in form.place.choices):
            form.place.data = wanted
    if form.validate_on_submit():
        try:
            design = designs.create_design(
                current_user,
                consortium,
                course_id=int(form.place.data) if form.place.data else None,
                name=form.name.data,
                texts=form.texts(),
                primary_color=form.primary_color.data,
                accent_color=form.accent_color.data,
                images=_uploads(form),
            )
        except designs.DesignError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_l("Design “%(name)s” created.", name=design.name), "success")
            return redirect(
                url_for(
                    "certificate_designs.edit_design",
                    consortium_id=consortium.id,
                    design_id=design.id,
                )
            )
    return render_template(
        "certificates/designs/form.html",
        form=form,
        consortium=consortium,
        design=None,
        place_title=None,
        no_place=not form.place.choices,
    )


@bp.route(BASE + "/<int:design_id>/edit", methods=["GET", "POST"])
@needs("certificate.manage", on="consortium")
def edit_design(consortium: Consortium, design_id: int):
    design = _design(consortium, design_id)
    _limit_request()
    form = DesignForm(obj=design)
    if request.method == "GET":
        form.fill_texts(design.texts)
    if form.validate_on_submit():
        try:
            designs.update_design(
                current_user,
                design,
                name=form.name.data,
                texts=form.texts(),
                primary_color=form.primary_color.data,
                accent_color=form.accent_color.data,
                images=_uploads(form),
                remove=tuple(n for n in designs.IMAGES if form[f"remove_{n}"].data),
            )
        except designs.DesignError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_l("Design “%(name)s” saved.", name=design.name), "success")
            return redirect(
                url_for(
                    "certificate_designs.edit_design",
                    consortium_id=consortium.id,
                    design_id=design.id,
                )
            )
    return render_template(
        "certificates/designs/form.html",
        form=form,
        consortium=consortium,
        design=design,
        place_title=_course_titles(consortium).get(design.course_id) if design.course_id else None,
        no_place=False,
    )


@bp.route(BASE + "/<int:design_id>/delete", methods=["GET", "POST"])
@needs("certificate.manage", on="consortium")
def delete_design(consortium: Consortium, design_id: int):
    design = _design(consortium, design_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = design.name
        designs.delete_design(current_user, design)
        db.session.commit()
        flash(_l("Design “%(name)s” deleted.", name=name), "success")
        return redirect(_list_url(consortium))
    return render_template(
        "certificates/designs/delete.html",
        form=form,
        consortium=consortium,
        design=design,
        place_title=_course_titles(consortium).get(design.course_id) if design.course_id else None,
    )


# --- a course's certificate validity ----------------------------------------------------------


@bp.route(BASE + "/courses/<int:course_id>/validity", methods=["GET", "POST"])
@needs("certificate.manage", on="consortium")
def course_validity(consortium: Consortium, course_id: int):
    """A course's certificate validity. When certificates of the course exist, a change is
    shown with what it means for them (designs.validity_impact) and saved on a second submit
    of the same value; without JavaScript too."""
    course = designs.get_course(consortium, course_id)
    if course is None:
        abort(404)
    form = ValidityForm()
    if request.method == "GET":
        form.months.data = course.certificate_months
    preview = None
    if form.validate_on_submit():
        try:
            months = designs.check_months(form.months.data)
            impact = designs.validity_impact(course, months)
            confirmed = form.confirmed.data == _confirmation(months)
            if months != course.certificate_months and impact.issued and not confirmed:
                preview = impact  # shown, nothing saved yet
                form.confirmed.data = _confirmation(months)
            else:
                designs.set_certificate_months(current_user, course, months)
        except designs.DesignError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            if preview is None:
                db.session.commit()
                flash(_l("Certificate validity saved."), "success")
                return redirect(_list_url(consortium))
    return render_template(
        "certificates/designs/validity.html",
        form=form,
        consortium=consortium,
        course=course,
        course_title=_course_titles(consortium).get(course.id, course.slug),
        current=designs.validity_impact(course, course.certificate_months),
        preview=preview,
    )


def _confirmation(months: int | None) -> str:
    """The value a confirming submit carries: the validity it was shown for."""
    return "none" if months is None else str(months)


# --- previews -----------------------------------------------------------------------------------


def _pdf_response(pdf: bytes):
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = 'inline; filename="certificate-preview.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _lang() -> str:
    return "en" if request.values.get("lang") == "en" else "zh"


def _preview(consortium, design, *, course_title=None, saved=None):
    """GET: the saved design (None: the default). POST: the form's unsaved values over the
    saved design's images, with any newly chosen image."""
    images = None
    if request.method == "POST":
        _limit_request()
        form = DesignForm()
        if not form.validate_on_submit():
            flash(_l("The preview needs valid values: correct the marked fields."), "error")
            return render_template(
                "certificates/designs/form.html",
                form=form,
                consortium=consortium,
                design=saved,
                place_title=course_title,
                no_place=False,
            ), 422
        try:
            checked = {k: designs.check_image(v, k) for k, v in _uploads(form).items()}
            values = designs.check_values(
                form.name.data, form.texts(), form.primary_color.data, form.accent_color.data
            )
        except designs.DesignError as exc:
            _field_error(form, exc)
            return render_template(
                "certificates/designs/form.html",
                form=form,
                consortium=consortium,
                design=saved,
                place_title=course_title,
                no_place=False,
            ), 422
        design = CertificateTemplate(
            consortium_id=consortium.id,
            course_id=saved.course_id if saved else None,
            logo_path=None if form.remove_logo.data or not saved else saved.logo_path,
            seal_path=None if form.remove_seal.data or not saved else saved.seal_path,
            **values,
        )
        images = {
            name: (data, "image/png" if ext == "png" else "image/jpeg")
            for name, (data, ext) in checked.items()
        }
    try:
        pdf = designs.preview_pdf(
            consortium, design, lang=_lang(), course_title=course_title, extra_images=images
        )
    except render.RenderError:
        abort(503)
    return _pdf_response(pdf)


@bp.route(BASE + "/<int:design_id>/preview.pdf", methods=["GET", "POST"])
@needs("certificate.manage", on="consortium")
def preview(consortium: Consortium, design_id: int):
    design = _design(consortium, design_id)
    title = _course_titles(consortium).get(design.course_id) if design.course_id else None
    return _preview(consortium, design, course_title=title, saved=design)


@bp.route(BASE + "/default/preview.pdf", methods=["GET", "POST"])
@needs("certificate.manage", on="consortium")
def preview_default(consortium: Consortium):
    return _preview(consortium, None)
