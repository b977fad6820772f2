"""Admin screens: consortia (platform), member firms and people (consortium and firm admins)."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_login import current_user, login_required

from lms.auth import service as accounts
from lms.core.params import int_arg, page_arg
from lms.extensions import db
from lms.jobs.exports import csv_response
from lms.permissions import require
from lms.taxonomy.service import role_options
from lms.tenancy import importer, invitations, service
from lms.tenancy.forms import ConfirmForm, ConsortiumForm, FirmForm, ImportForm, InviteForm
from lms.tenancy.models import Firm, ImportBatch, Invitation
from lms.tenancy.scope import (
    count_unactivated,
    current_scope,
    list_consortia,
    list_firms,
    list_pending_invitations,
    list_people,
)

bp = Blueprint("tenancy", __name__)


def _field_error(form, exc) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is None:
        flash(exc.message, "error")
    else:
        field.errors.append(exc.message)


def _flash_invitation(outcome: invitations.InvitationOutcome) -> None:
    if outcome.invitation is None:
        flash(
            _l(
                "%(name)s already has an account and was given the role.",
                name=outcome.existing_user.name,
            ),
            "success",
        )
        return
    link = url_for("invitations.accept", token=outcome.token, _external=True)
    flash(link, "invite-link")


def _page() -> int:
    return page_arg()


# --- platform admin: consortia ---------------------------------------------------------------


@bp.get("/admin/consortia")
@login_required
def consortia():
    require("consortium.manage")
    rows = db.session.scalars(list_consortia()).all()
    return render_template("tenancy/consortia.html", consortia=rows)


@bp.route("/admin/consortia/new", methods=["GET", "POST"])
@login_required
def new_consortium():
    require("consortium.manage")
    form = ConsortiumForm()
    if form.validate_on_submit():
        try:
            service.create_consortium(
                current_user,
                name=form.name.data,
                city=form.city.data,
                region=form.region.data,
                sectors=form.sectors.data,
                code=form.code.data,
            )
        except service.TenancyError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_l("Consortium created."), "success")
            return redirect(url_for("tenancy.consortia"))
    return render_template("tenancy/consortium_form.html", form=form, consortium=None)


@bp.route("/admin/consortia/<int:consortium_id>/edit", methods=["GET", "POST"])
@login_required
def edit_consortium(consortium_id: int):
    consortium = current_scope().get_consortium(consortium_id)
    require("consortium.manage")
    form = ConsortiumForm(obj=consortium)
    form.code.render_kw = {"readonly": True}
    if form.validate_on_submit():
        try:
            service.update_consortium(
                current_user,
                consortium,
                name=form.name.data,
                city=form.city.data,
                region=form.region.data,
                sectors=form.sectors.data,
            )
        except service.TenancyError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_l("Consortium saved."), "success")
            return redirect(url_for("tenancy.consortia"))
    return render_template("tenancy/consortium_form.html", form=form, consortium=consortium)


@bp.route("/admin/consortia/<int:consortium_id>/invite", methods=["GET", "POST"])
@login_required
def invite_consortium_admin(consortium_id: int):
    consortium = current_scope().get_consortium(consortium_id)
    require("consortium.manage")
    form = InviteForm(roles=("consortium_admin", "auditor"))
    if form.validate_on_submit():
        try:
            outcome = invitations.invite_person(
                current_user,
                consortium=consortium,
                firm=None,
                role=form.role.data,
                name=form.name.data,
                email=form.email.data,
                mobile=form.mobile.data,
            )
        except (accounts.AccountError, service.TenancyError) as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            _flash_invitation(outcome)
            return redirect(url_for("tenancy.consortia"))
    return render_template(
        "tenancy/invite.html",
        form=form,
        place=consortium,
        back=url_for("tenancy.consortia"),
    )


# --- consortium admin: member firms and people ---------------------------------------------


@bp.get("/consortia/<int:consortium_id>/firms")
@login_required
def firms(consortium_id: int):
    consortium = current_scope().get_consortium(consortium_id)
    require("firm.manage", consortium)
    rows = db.session.scalars(list_firms(consortium)).all()
    return render_template("tenancy/firms.html", consortium=consortium, firms=rows)


@bp.route("/consortia/<int:consortium_id>/firms/new", methods=["GET", "POST"])
@login_required
def new_firm(consortium_id: int):
    consortium = current_scope().get_consortium(consortium_id)
    require("firm.manage", consortium)
    form = FirmForm()
    if form.validate_on_submit():
        try:
            service.create_firm(
                current_user,
                consortium,
                name=form.name.data,
                kind=form.kind.data,
                credit_code=form.credit_code.data,
            )
        except service.TenancyError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_l("Member firm added."), "success")
            return redirect(url_for("tenancy.firms", consortium_id=consortium.id))
    return render_template("tenancy/firm_form.html", form=form, consortium=consortium, firm=None)


@bp.route("/firms/<int:firm_id>/edit", methods=["GET", "POST"])
@login_required
def edit_firm(firm_id: int):
    firm = current_scope().get_firm(firm_id)
    require("firm.manage", firm.consortium)
    form = FirmForm(obj=firm)
    if form.validate_on_submit():
        try:
            service.update_firm(
                current_user,
                firm,
                name=form.name.data,
                kind=form.kind.data,
                credit_code=form.credit_code.data,
            )
        except service.TenancyError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_l("Member firm saved."), "success")
            return redirect(url_for("tenancy.firms", consortium_id=firm.consortium_id))
    return render_template(
        "tenancy/firm_form.html", form=form, consortium=firm.consortium, firm=firm
    )


@bp.route("/firms/<int:firm_id>/deactivate", methods=["GET", "POST"])
@login_required
def deactivate_firm(firm_id: int):
    firm = current_scope().get_firm(firm_id)
    require("firm.manage", firm.consortium)
    form = ConfirmForm()
    if form.validate_on_submit():
        service.set_firm_active(current_user, firm, active=False)
        db.session.commit()
        flash(_l("%(name)s was deactivated.", name=firm.name), "success")
        return redirect(url_for("tenancy.firms", consortium_id=firm.consortium_id))
    return render_template(
        "tenancy/confirm.html",
        form=form,
        title=_l("Deactivate %(name)s?", name=firm.name),
        text=_l(
            "Its people lose their roles in this firm until it is reactivated. Nothing is deleted."
        ),
        button=_l("Deactivate firm"),
        back=url_for("tenancy.firms", consortium_id=firm.consortium_id),
    )


@bp.post("/firms/<int:firm_id>/activate")
@login_required
def activate_firm(firm_id: int):
    firm = current_scope().get_firm(firm_id)
    require("firm.manage", firm.consortium)
    if ConfirmForm().validate_on_submit():
        service.set_firm_active(current_user, firm, active=True)
        db.session.commit()
        flash(_l("%(name)s was reactivated.", name=firm.name), "success")
    return redirect(url_for("tenancy.firms", consortium_id=firm.consortium_id))


@bp.get("/consortia/<int:consortium_id>/people")
@login_required
def consortium_people(consortium_id: int):
    consortium = current_scope().get_consortium(consortium_id)
    require("consortium.people", consortium)
    search = request.args.get("q", "")
    firm_id = int_arg("firm")
    page = db.paginate(
        list_people(consortium, search=search, firm_id=firm_id),
        page=_page(),
        per_page=current_app.config["LMS_PAGE_SIZE"],
        error_out=False,
    )
    firm_rows = db.session.scalars(list_firms(consortium)).all()
    return render_template(
        "tenancy/people.html",
        page=page,
        search=search,
        place=consortium,
        firms=firm_rows,
        firm_filter=firm_id,
        invitations=[],
    )


@bp.route("/consortia/<int:consortium_id>/invite", methods=["GET", "POST"])
@login_required
def invite_firm_admin(consortium_id: int):
    consortium = current_scope().get_consortium(consortium_id)
    require("firm_admin.invite", consortium)
    active_firms = db.session.scalars(list_firms(consortium, include_inactive=False)).all()
    form = InviteForm(
        roles=("firm_admin",), firms=active_firms, job_roles=role_options(consortium.id)
    )
    if form.validate_on_submit():
        firm = current_scope().get_firm(form.firm.data)
        try:
            outcome = invitations.invite_person(
                current_user,
                consortium=consortium,
                firm=firm,
                role="firm_admin",
                name=form.name.data,
                email=form.email.data,
                mobile=form.mobile.data,
                job_role_id=form.job_role.data,
            )
        except (accounts.AccountError, service.TenancyError) as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            _flash_invitation(outcome)
            return redirect(url_for("tenancy.firms", consortium_id=consortium.id))
    return render_template(
        "tenancy/invite.html",
        form=form,
        place=consortium,
        back=url_for("tenancy.firms", consortium_id=consortium.id),
    )


# --- firm admin: the firm's people -------------------------------------------------------------


def _firm_for(firm_id: int, permission: str) -> Firm:
    firm = current_scope().get_firm(firm_id)
    require(permission, firm)
    return firm


@bp.get("/firms/<int:firm_id>/people")
@login_required
def firm_people(firm_id: int):
    firm = _firm_for(firm_id, "person.view")
    search = request.args.get("q", "")
    page = db.paginate(
        list_people(firm, search=search),
        page=_page(),
        per_page=current_app.config["LMS_PAGE_SIZE"],
        error_out=False,
    )
    pending = db.session.scalars(list_pending_invitations(firm).limit(50)).all()
    return render_template(
        "tenancy/people.html",
        page=page,
        search=search,
        place=firm,
        firms=None,
        invitations=pending,
        invitation_status=invitations.invitation_status,
        unactivated=count_unactivated(firm),
        confirm_form=ConfirmForm(),
    )


@bp.route("/firms/<int:firm_id>/people/invite", methods=["GET", "POST"])
@login_required
def invite_person(firm_id: int):
    firm = _firm_for(firm_id, "person.invite")
    form = InviteForm(
        roles=("worker", "trainer"), job_roles=role_options(firm.consortium_id, firm.id)
    )
    if form.validate_on_submit():
        try:
            outcome = invitations.invite_person(
                current_user,
                consortium=firm.consortium,
                firm=firm,
                role=form.role.data,
                name=form.name.data,
                email=form.email.data,
                mobile=form.mobile.data,
                job_role_id=form.job_role.data,
            )
        except (accounts.AccountError, service.TenancyError) as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            _flash_invitation(outcome)
            return redirect(url_for("tenancy.firm_people", firm_id=firm.id))
    return render_template(
        "tenancy/invite.html",
        form=form,
        place=firm,
        back=url_for("tenancy.firm_people", firm_id=firm.id),
    )


@bp.post("/firms/<int:firm_id>/people/<public_id>/activation")
@login_required
def send_activation(firm_id: int, public_id: str):
    """A fresh invitation link for someone imported who has not set a password yet."""
    firm = _firm_for(firm_id, "person.invite")
    person = current_scope().get_person(public_id, within=firm)
    if ConfirmForm().validate_on_submit():
        try:
            outcome = invitations.create_activation_link(current_user, firm, person)
        except accounts.AccountError as exc:
            flash(exc.message, "info")
        else:
            db.session.commit()
            _flash_invitation(outcome)
    return redirect(url_for("tenancy.firm_people", firm_id=firm.id))


@bp.post("/firms/<int:firm_id>/people/activation-links")
@login_required
def activation_links(firm_id: int):
    """Download a CSV of fresh activation links for everyone not yet activated."""
    firm = _firm_for(firm_id, "person.invite")
    back = redirect(url_for("tenancy.firm_people", firm_id=firm.id))
    if not ConfirmForm().validate_on_submit():
        return back
    links = invitations.create_activation_links(current_user, firm)
    if not links:
        flash(_l("Everyone in this firm has activated their account."), "info")
        return back
    db.session.commit()
    return csv_response(
        f"activation-links-{firm.id}.csv",
        [
            str(_lp("person", "Name")),
            str(_l("Mobile")),
            str(_l("E-mail")),
            str(_l("Activation link")),
        ],
        [
            (p.name, p.mobile, p.email, url_for("invitations.accept", token=t, _external=True))
            for p, t in links
        ],
    )


@bp.post("/firms/<int:firm_id>/invitations/<public_id>/revoke")
@login_required
def revoke_invitation(firm_id: int, public_id: str):
    firm = _firm_for(firm_id, "person.invite")
    invitation = current_scope().get(Invitation, public_id=public_id, within=firm)
    if ConfirmForm().validate_on_submit():
        invitations.revoke_invitation(current_user, invitation)
        db.session.commit()
        flash(_l("The invitation was withdrawn."), "success")
    return redirect(url_for("tenancy.firm_people", firm_id=firm.id))


@bp.route("/firms/<int:firm_id>/people/<public_id>/deactivate", methods=["GET", "POST"])
@login_required
def deactivate_person(firm_id: int, public_id: str):
    firm = _firm_for(firm_id, "person.deactivate")
    person = current_scope().get_person(public_id, within=firm)
    form = ConfirmForm()
    back = url_for("tenancy.firm_people", firm_id=firm.id)
    if form.validate_on_submit():
        try:
            service.deactivate_person(current_user, person, firm=firm)
        except service.TenancyError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_l("%(name)s was deactivated.", name=person.name), "success")
        return redirect(back)
    return render_template(
        "tenancy/confirm.html",
        form=form,
        title=_l("Deactivate %(name)s?", name=person.name),
        text=_l(
            "Their roles in %(firm)s end today. If they have no role left anywhere, their "
            "account is closed and they are signed out on every device at once.",
            firm=firm.name,
        ),
        button=_l("Deactivate"),
        back=back,
    )


@bp.route("/firms/<int:firm_id>/people/import", methods=["GET", "POST"])
@login_required
def import_people(firm_id: int):
    firm = _firm_for(firm_id, "person.import")
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            batch = importer.stage_import(
                current_user,
                firm,
                filename=upload.filename or "upload",
                data=upload.read(),
                max_rows=current_app.config["LMS_IMPORT_MAX_ROWS"],
            )
        except importer.ImportFileError as exc:
            db.session.rollback()
            form.file.errors.append(exc.args[0])
        else:
            db.session.commit()
            return redirect(
                url_for("tenancy.import_preview", firm_id=firm.id, batch_id=batch.public_id)
            )
    return render_template(
        "tenancy/import.html", form=form, firm=firm, columns=importer.COLUMN_LABELS
    )


@bp.route("/firms/<int:firm_id>/people/import/<batch_id>", methods=["GET", "POST"])
@login_required
def import_preview(firm_id: int, batch_id: str):
    firm = _firm_for(firm_id, "person.import")
    batch = current_scope().get(ImportBatch, public_id=batch_id, within=firm)
    form = ConfirmForm()
    if form.validate_on_submit():
        counts = importer.confirm_import(current_user, firm, batch)
        db.session.commit()
        flash(
            _l(
                "Import finished. New people: %(create)d; existing people added: %(add)d; "
                "unchanged: %(unchanged)d; rows skipped because of errors: %(error)d.",
                **counts,
            ),
            "success",
        )
        return redirect(url_for("tenancy.firm_people", firm_id=firm.id))
    previews = importer.preview_rows(firm, batch.rows) if batch.status == "pending" else []
    counts = {
        a: sum(1 for p in previews if p.action == a)
        for a in ("create", "add", "unchanged", "error")
    }
    return render_template(
        "tenancy/import_preview.html",
        firm=firm,
        batch=batch,
        previews=previews,
        counts=counts,
        form=form,
        columns=importer.COLUMN_LABELS,
    )
