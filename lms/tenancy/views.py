"""Admin screens: consortia (platform), member firms and people (consortium and firm admins)."""

from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_login import current_user

from lms.auth import service as accounts
from lms.core.access import signed_in
from lms.core.params import int_arg, page_arg
from lms.extensions import db
from lms.jobs.exports import csv_response
from lms.permissions import needs
from lms.taxonomy.service import role_options
from lms.tenancy import importer, invitations, service
from lms.tenancy.forms import (
    END_REASON_LABELS,
    ConfirmForm,
    ConsortiumForm,
    EndMembershipForm,
    FirmForm,
    ImportForm,
    InviteForm,
)
from lms.tenancy.models import ImportBatch, Invitation
from lms.tenancy.scope import (
    PEOPLE_STATUSES,
    count_unactivated,
    current_scope,
    last_ended_membership,
    list_consortia,
    list_firms,
    list_pending_invitations,
    list_people,
    membership_history,
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


def _status() -> str:
    """The people page's "current / former members" filter (anything else: current)."""
    status = request.args.get("status", "")
    return status if status in PEOPLE_STATUSES else "current"


# --- platform admin: consortia ---------------------------------------------------------------


@bp.get("/admin/consortia")
@needs("consortium.manage")
def consortia():
    rows = db.session.scalars(list_consortia()).all()
    return render_template("tenancy/consortia.html", consortia=rows)


@bp.route("/admin/consortia/new", methods=["GET", "POST"])
@needs("consortium.manage")
def new_consortium():
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
@needs("consortium.manage", on="consortium")
def edit_consortium(consortium):
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
@needs("consortium.manage", on="consortium")
def invite_consortium_admin(consortium):
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
@needs("firm.manage", on="consortium")
def firms(consortium):
    rows = db.session.scalars(list_firms(consortium)).all()
    return render_template("tenancy/firms.html", consortium=consortium, firms=rows)


@bp.route("/consortia/<int:consortium_id>/firms/new", methods=["GET", "POST"])
@needs("firm.manage", on="consortium")
def new_firm(consortium):
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
@needs("firm.manage", on="firm")
def edit_firm(firm):
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
@needs("firm.manage", on="firm")
def deactivate_firm(firm):
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
        admin_consortium=firm.consortium,
    )


@bp.post("/firms/<int:firm_id>/activate")
@needs("firm.manage", on="firm")
def activate_firm(firm):
    if ConfirmForm().validate_on_submit():
        service.set_firm_active(current_user, firm, active=True)
        db.session.commit()
        flash(_l("%(name)s was reactivated.", name=firm.name), "success")
    return redirect(url_for("tenancy.firms", consortium_id=firm.consortium_id))


@bp.get("/consortia/<int:consortium_id>/people")
@needs("consortium.people", on="consortium")
def consortium_people(consortium):
    search = request.args.get("q", "")
    firm_id = int_arg("firm")
    status = _status()
    page = db.paginate(
        list_people(consortium, search=search, firm_id=firm_id, status=status),
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
        status=status,
        last_ended=lambda p: last_ended_membership(p, consortium, firm_id=firm_id),
        end_reasons=END_REASON_LABELS,
        invitations=[],
    )


@bp.get("/consortia/<int:consortium_id>/people/<public_id>")
@needs("consortium.people", on="consortium")
def consortium_person(consortium, public_id: str):
    """A person's memberships in this consortium: firms, roles, from, to and why (read-only)."""
    person = current_scope().get_person(public_id, within=consortium, former=True)
    return render_template(
        "tenancy/membership_history.html",
        person=person,
        memberships=membership_history(person, consortium_id=consortium.id),
        consortium=consortium,
        end_reasons=END_REASON_LABELS,
        back=url_for("tenancy.consortium_people", consortium_id=consortium.id),
    )


@bp.get("/account/memberships")
@signed_in
def my_memberships():
    """The signed-in person's own firms over time (read-only)."""
    return render_template(
        "tenancy/membership_history.html",
        person=current_user,
        memberships=membership_history(current_user),
        consortium=None,
        end_reasons=END_REASON_LABELS,
        back=url_for("auth.account"),
    )


@bp.route("/consortia/<int:consortium_id>/invite", methods=["GET", "POST"])
@needs("firm_admin.invite", on="consortium")
def invite_firm_admin(consortium):
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


@bp.get("/firms/<int:firm_id>/people")
@needs("person.view", on="firm")
def firm_people(firm):
    search = request.args.get("q", "")
    status = _status()
    page = db.paginate(
        list_people(firm, search=search, status=status),
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
        status=status,
        last_ended=lambda p: last_ended_membership(p, firm),
        end_reasons=END_REASON_LABELS,
        invitations=pending if status == "current" else [],
        invitation_status=invitations.invitation_status,
        unactivated=count_unactivated(firm),
        confirm_form=ConfirmForm(),
    )


@bp.route("/firms/<int:firm_id>/people/invite", methods=["GET", "POST"])
@needs("person.invite", on="firm")
def invite_person(firm):
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
@needs("person.invite", on="firm")
def send_activation(firm, public_id: str):
    """A fresh invitation link for someone imported who has not set a password yet."""
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
@needs("person.invite", on="firm")
def activation_links(firm):
    """Download a CSV of fresh activation links for everyone not yet activated."""
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
@needs("person.invite", on="firm")
def revoke_invitation(firm, public_id: str):
    invitation = current_scope().get(Invitation, public_id=public_id, within=firm)
    if ConfirmForm().validate_on_submit():
        invitations.revoke_invitation(current_user, invitation)
        db.session.commit()
        flash(_l("The invitation was withdrawn."), "success")
    return redirect(url_for("tenancy.firm_people", firm_id=firm.id))


@bp.route("/firms/<int:firm_id>/people/<public_id>/deactivate", methods=["GET", "POST"])
@needs("person.deactivate", on="firm")
def deactivate_person(firm, public_id: str):
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
        admin_consortium=firm.consortium,
        admin_firm=firm,
    )


@bp.route("/firms/<int:firm_id>/people/<public_id>/end", methods=["GET", "POST"])
@needs("person.deactivate", on="firm")
def end_membership(firm, public_id: str):
    """End a person's membership of the firm: reason and date, reviewed, then confirmed."""
    person = current_scope().get_person(public_id, within=firm, former=True)
    back = url_for("tenancy.firm_people", firm_id=firm.id)
    former = url_for("tenancy.firm_people", firm_id=firm.id, status="former")
    current = [m for m in person.memberships if m.firm_id == firm.id and m.is_current()]
    if not current:
        # Ended already (earlier, or by the first of two submits): say so, change nothing.
        flash(service.already_ended_message(person, firm), "info")
        return redirect(former)
    if person.id == current_user.id:
        flash(_l("You cannot end your own membership."), "error")
        return redirect(back)
    form = EndMembershipForm()
    if request.method == "GET":
        form.ends_on.data = date.today()
    other_roles = any(m.is_current() and m.firm_id != firm.id for m in person.memberships)
    if other_roles or person.is_platform_admin:
        del form.close_account  # closing is only for someone left with no role anywhere
    reviewing = False
    if form.validate_on_submit() and not request.form.get("change"):
        values = dict(
            reason=form.reason.data,
            ends_on=form.ends_on.data,
            note=form.note.data or "",
        )
        close = bool(form.close_account and form.close_account.data)
        try:
            if form.confirmed.data != "1":
                service.check_end_membership(current_user, person, firm=firm, **values)
                reviewing = True
            else:
                service.end_membership(
                    current_user, person, firm=firm, close_account=close, **values
                )
        except service.MembershipAlreadyEnded as exc:
            db.session.rollback()
            flash(exc.message, "info")
            return redirect(former)
        except service.TenancyError as exc:
            db.session.rollback()
            _field_error(form, exc)
            reviewing = False
        else:
            if not reviewing:
                db.session.commit()
                if close:
                    message = _l(
                        "%(name)s is no longer a member of %(firm)s and their account was "
                        "closed. Their training records are kept.",
                        name=person.name,
                        firm=firm.name,
                    )
                else:
                    message = _l(
                        "%(name)s is no longer a member of %(firm)s. Their account and "
                        "their own training records are kept.",
                        name=person.name,
                        firm=firm.name,
                    )
                flash(message, "success")
                return redirect(back)
    return render_template(
        "tenancy/end_membership.html",
        form=form,
        firm=firm,
        person=person,
        memberships=current,
        reviewing=reviewing,
        other_roles=other_roles,
        end_reasons=END_REASON_LABELS,
        back=back,
    )


@bp.route("/firms/<int:firm_id>/people/import", methods=["GET", "POST"])
@needs("person.import", on="firm")
def import_people(firm):
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
@needs("person.import", on="firm")
def import_preview(firm, batch_id: str):
    batch = current_scope().get(ImportBatch, public_id=batch_id, within=firm)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            counts = importer.confirm_import(current_user, firm, batch)
        except importer.ImportConflict:
            db.session.rollback()
            flash(
                _l(
                    "Someone else added some of these people at the same moment; nothing was "
                    "saved. Check the file again and import it."
                ),
                "error",
            )
            return redirect(url_for("tenancy.import_preview", firm_id=firm.id, batch_id=batch_id))
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
    # The rows were checked at upload: the page reads their stored outcome, errors first.
    pending = batch.status == "pending"
    return render_template(
        "tenancy/import_preview.html",
        firm=firm,
        batch=batch,
        page=importer.preview_page(batch) if pending else None,
        counts=importer.batch_counts(batch) if pending else None,
        form=form,
        columns=importer.COLUMN_LABELS,
        import_error=importer.error_text,
    )
