"""Browser editing of the skills taxonomy (consortium admins) and of job roles (consortium and
firm admins).

Every route: load through the scope (404 outside it) → check the named permission (404 too) →
call one service function → commit → redirect (PRG), or render the form with its errors.
Shared skills and roles are read-only here; editing one that isn't the caller's own is a 404.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.core.i18n import ui_locale
from lms.core.params import page_arg
from lms.extensions import db
from lms.permissions import needs
from lms.skills.forms import CopyRoleForm, RoleForm, SkillForm
from lms.taxonomy import service
from lms.taxonomy.models import JobRole, Skill, level_name
from lms.tenancy.forms import ConfirmForm
from lms.tenancy.models import Consortium, Firm
from lms.tenancy.scope import current_scope, list_firms

bp = Blueprint("taxonomy", __name__)


@bp.context_processor
def taxonomy_context() -> dict:
    return {"level_name": level_name}


def _page() -> int:
    return page_arg()


def _paginate(query):
    return db.paginate(
        query, page=_page(), per_page=current_app.config["LMS_PAGE_SIZE"], error_out=False
    )


def _field_error(form, exc: service.TaxonomyEditError) -> None:
    """Put a service error next to its field, its rows, or on the page."""
    if exc.field == "requirements" and "requirements" in form:
        entries = form.requirements.entries
        for number, message in exc.rows.items():
            if 0 < number <= len(entries):
                skill = entries[number - 1].form.skill
                skill.errors = [*skill.errors, message]
        form.requirement_errors = list(exc.rows.values()) or [exc.message]
        return
    field = form[exc.field] if exc.field and exc.field in form else None
    if field is None:
        flash(exc.message, "error")
    else:
        field.errors = [*field.errors, exc.message]


# --- skills (consortium admins) ----------------------------------------------------------------


@bp.get("/consortia/<int:consortium_id>/skills")
@needs("taxonomy.manage", on="consortium")
def skills(consortium):
    locale = ui_locale()
    filters = {
        "q": request.args.get("q", "").strip(),
        "category": request.args.get("category", ""),
        "owner": request.args.get("owner", ""),
    }
    page = _paginate(
        service.list_skills(
            consortium,
            search=filters["q"],
            category_id=filters["category"],
            owner=filters["owner"],
            locale=locale,
        )
    )
    categories = db.session.scalars(service.list_skill_categories(locale=locale)).all()
    return render_template(
        "skills/admin/skills.html",
        consortium=consortium,
        page=page,
        filters=filters,
        categories=categories,
        filtered=any(filters.values()),
    )


@bp.route("/consortia/<int:consortium_id>/skills/new", methods=["GET", "POST"])
@needs("taxonomy.manage", on="consortium")
def new_skill(consortium):
    form = SkillForm(categories=_categories())
    if form.validate_on_submit():
        try:
            skill = service.create_skill(
                current_user,
                consortium,
                skill_id=form.skill_id.data,
                category_id=form.category_id.data,
                name_zh=form.name_zh.data,
                name_en=form.name_en.data,
                description_zh=form.description_zh.data,
                description_en=form.description_en.data,
            )
        except service.TaxonomyEditError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_l("Skill %(id)s added.", id=skill.id), "success")
            return redirect(url_for("taxonomy.skills", consortium_id=consortium.id))
    return render_template(
        "skills/admin/skill_form.html", form=form, consortium=consortium, skill=None
    )


@bp.route("/consortia/<int:consortium_id>/skills/<skill_id>/edit", methods=["GET", "POST"])
@needs("taxonomy.manage", on="consortium")
def edit_skill(consortium, skill_id: str):
    skill = current_scope().get(Skill, id=skill_id, within=consortium, own_only=True)
    form = SkillForm(obj=skill, categories=_categories(), editing=True)
    if form.validate_on_submit():
        try:
            service.update_skill(
                current_user,
                skill,
                category_id=form.category_id.data,
                name_zh=form.name_zh.data,
                name_en=form.name_en.data,
                description_zh=form.description_zh.data,
                description_en=form.description_en.data,
            )
        except service.TaxonomyEditError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_l("Skill %(id)s saved.", id=skill.id), "success")
            return redirect(url_for("taxonomy.skills", consortium_id=consortium.id))
    return render_template(
        "skills/admin/skill_form.html", form=form, consortium=consortium, skill=skill
    )


def _categories():
    return db.session.scalars(service.list_skill_categories(locale=ui_locale())).all()


# --- job roles (consortium admins on the consortium, firm admins on their firm) ----------------


ROLE_ENDPOINTS = {
    "roles": "taxonomy.{kind}_roles",
    "role": "taxonomy.{kind}_role",
    "new": "taxonomy.new_{kind}_role",
    "edit": "taxonomy.edit_{kind}_role",
    "deactivate": "taxonomy.deactivate_{kind}_role",
    "activate": "taxonomy.activate_{kind}_role",
}


class Place:
    """Where the role pages are used: a consortium (by its admins) or one of its firms.

    Templates ask it for links and labels, so one set of templates serves both places.
    """

    def __init__(self, consortium: Consortium, firm: Firm | None = None):
        self.consortium, self.firm = consortium, firm
        self.kind = "firm" if firm is not None else "consortium"
        self.args = {"firm_id": firm.id} if firm is not None else {"consortium_id": consortium.id}
        firms = db.session.scalars(list_firms(consortium)).all()
        self.firms = firms if firm is None else []
        self.firm_names = {f.id: f.name for f in firms}

    @property
    def name(self) -> str:
        return self.firm.name if self.firm is not None else self.consortium.name

    def url(self, action: str, **kwargs) -> str:
        """The URL of a role page of this place (action: a key of ROLE_ENDPOINTS)."""
        return url_for(ROLE_ENDPOINTS[action].format(kind=self.kind), **self.args, **kwargs)

    def role_url(self, role, action: str = "role") -> str:
        """A role's page; a firm's role seen by its consortium's admins opens under the firm."""
        if self.firm is None and role.firm_id is not None:
            endpoint = ROLE_ENDPOINTS[action].format(kind="firm")
            return url_for(endpoint, firm_id=role.firm_id, role_id=role.id)
        return self.url(action, role_id=role.id)

    def owns(self, role) -> bool:
        """Whether the role is this place's own (editable here)."""
        if self.firm is not None:
            return role.firm_id == self.firm.id
        return role.consortium_id == self.consortium.id and role.firm_id is None

    def can_edit(self, role) -> bool:
        """Editable from here: the place's own roles, and on the consortium its firms' roles too
        (consortium admins manage roles on each firm; those open under the firm)."""
        return role.consortium_id is not None and (self.owns(role) or self.firm is None)

    def owner(self, role) -> str:
        if role.consortium_id is None:
            return str(_l("Shared"))
        if role.firm_id is None:
            return str(_l("Our consortium"))
        if self.firm is not None:
            return str(_l("Our firm"))
        return self.firm_names.get(role.firm_id, "")

    def can_copy(self, role) -> bool:
        return self.firm is None and role.consortium_id is None


def _consortium_place(consortium: Consortium) -> Place:
    return Place(consortium)


def _firm_place(firm: Firm) -> Place:
    return Place(firm.consortium, firm)


def _roles(place: Place):
    filters = {"q": request.args.get("q", "").strip(), "owner": request.args.get("owner", "")}
    page = _paginate(
        service.list_roles(
            place.consortium,
            firm=place.firm,
            search=filters["q"],
            owner=filters["owner"],
            locale=ui_locale(),
        )
    )
    return render_template(
        "skills/admin/roles.html",
        place=place,
        page=page,
        filters=filters,
        filtered=any(filters.values()),
    )


def _role(place: Place, role_id: str):
    role = current_scope().get(JobRole, id=role_id, within=place.firm or place.consortium)
    return render_template("skills/admin/role.html", place=place, role=role)


def _role_form(place: Place, role_id: str | None = None):
    """Create (role_id None) or edit one of the place's own roles."""
    role = None
    if role_id is not None:
        role = current_scope().get(
            JobRole, id=role_id, within=place.firm or place.consortium, own_only=True
        )
    visible = db.session.scalars(service.list_skills(place.consortium, locale=ui_locale())).all()
    form = RoleForm(skills=visible, role=role, editing=role is not None)
    if form.validate_on_submit():
        try:
            if role is None:
                role = service.create_role(
                    current_user,
                    consortium=place.consortium,
                    firm=place.firm,
                    role_id=form.role_id.data,
                    **form.values(),
                )
                message = _l("Job role %(id)s created.", id=role.id)
            else:
                service.update_role(current_user, role, **form.values())
                message = _l("Job role %(id)s saved.", id=role.id)
        except service.TaxonomyEditError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(place.url("role", role_id=role.id))
    elif form.is_submitted():
        # The fields were refused before the service ran: report bad rows in the same round.
        try:
            service.check_requirements(place.consortium.id, form.requirement_rows())
        except service.TaxonomyEditError as exc:
            _field_error(form, exc)
    return render_template("skills/admin/role_form.html", place=place, form=form, role=role)


def _deactivate(place: Place, role_id: str):
    role = current_scope().get(
        JobRole, id=role_id, within=place.firm or place.consortium, own_only=True
    )
    form = ConfirmForm()
    back = place.url("role", role_id=role.id)
    if form.validate_on_submit():
        service.set_role_active(current_user, role, active=False)
        db.session.commit()
        flash(_l("Job role %(name)s was deactivated.", name=role.name(ui_locale())), "success")
        return redirect(back)
    return render_template(
        "tenancy/confirm.html",
        form=form,
        title=_l("Deactivate the job role %(name)s?", name=role.name(ui_locale())),
        text=_l(
            "It can no longer be chosen for people. Those who hold it keep it, and nothing is "
            "deleted; you can reactivate it at any time."
        ),
        button=_l("Deactivate job role"),
        back=back,
        admin_consortium=place.consortium,
        admin_firm=place.firm,
    )


def _activate(place: Place, role_id: str):
    role = current_scope().get(
        JobRole, id=role_id, within=place.firm or place.consortium, own_only=True
    )
    if ConfirmForm().validate_on_submit():
        service.set_role_active(current_user, role, active=True)
        db.session.commit()
        flash(_l("Job role %(name)s was reactivated.", name=role.name(ui_locale())), "success")
    return redirect(place.url("role", role_id=role.id))


@bp.get("/consortia/<int:consortium_id>/roles")
@needs("role.manage", on="consortium")
def consortium_roles(consortium):
    return _roles(_consortium_place(consortium))


@bp.route("/consortia/<int:consortium_id>/roles/new", methods=["GET", "POST"])
@needs("role.manage", on="consortium")
def new_consortium_role(consortium):
    return _role_form(_consortium_place(consortium))


@bp.get("/consortia/<int:consortium_id>/roles/<role_id>")
@needs("role.manage", on="consortium")
def consortium_role(consortium, role_id: str):
    return _role(_consortium_place(consortium), role_id)


@bp.route("/consortia/<int:consortium_id>/roles/<role_id>/edit", methods=["GET", "POST"])
@needs("role.manage", on="consortium")
def edit_consortium_role(consortium, role_id: str):
    return _role_form(_consortium_place(consortium), role_id)


@bp.route("/consortia/<int:consortium_id>/roles/<role_id>/deactivate", methods=["GET", "POST"])
@needs("role.manage", on="consortium")
def deactivate_consortium_role(consortium, role_id: str):
    return _deactivate(_consortium_place(consortium), role_id)


@bp.post("/consortia/<int:consortium_id>/roles/<role_id>/activate")
@needs("role.manage", on="consortium")
def activate_consortium_role(consortium, role_id: str):
    return _activate(_consortium_place(consortium), role_id)


@bp.route("/consortia/<int:consortium_id>/roles/<role_id>/copy", methods=["GET", "POST"])
@needs("role.manage", on="consortium")
def copy_role(consortium, role_id: str):
    """A consortium's own, editable copy of a role it sees (usually a shared one)."""
    place = _consortium_place(consortium)
    source = current_scope().get(JobRole, id=role_id, within=place.consortium)
    form = CopyRoleForm(
        data={
            "role_id": f"{source.id}_{place.consortium.code.lower()}",
            "name_zh": source.name_zh,
            "name_en": source.name_en,
        }
    )
    if form.validate_on_submit():
        try:
            role = service.copy_role(
                current_user,
                source,
                consortium=place.consortium,
                role_id=form.role_id.data,
                name_zh=form.name_zh.data,
                name_en=form.name_en.data,
            )
        except service.TaxonomyEditError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_l("Copied. Adjust the copy to your consortium and save it."), "success")
            return redirect(place.url("edit", role_id=role.id))
    return render_template("skills/admin/copy_role.html", place=place, form=form, source=source)


@bp.get("/firms/<int:firm_id>/roles")
@needs("role.manage", on="firm")
def firm_roles(firm):
    return _roles(_firm_place(firm))


@bp.route("/firms/<int:firm_id>/roles/new", methods=["GET", "POST"])
@needs("role.manage", on="firm")
def new_firm_role(firm):
    return _role_form(_firm_place(firm))


@bp.get("/firms/<int:firm_id>/roles/<role_id>")
@needs("role.manage", on="firm")
def firm_role(firm, role_id: str):
    return _role(_firm_place(firm), role_id)


@bp.route("/firms/<int:firm_id>/roles/<role_id>/edit", methods=["GET", "POST"])
@needs("role.manage", on="firm")
def edit_firm_role(firm, role_id: str):
    return _role_form(_firm_place(firm), role_id)


@bp.route("/firms/<int:firm_id>/roles/<role_id>/deactivate", methods=["GET", "POST"])
@needs("role.manage", on="firm")
def deactivate_firm_role(firm, role_id: str):
    return _deactivate(_firm_place(firm), role_id)


@bp.post("/firms/<int:firm_id>/roles/<role_id>/activate")
@needs("role.manage", on="firm")
def activate_firm_role(firm, role_id: str):
    return _activate(_firm_place(firm), role_id)
