"""Accepting an invitation: a new person sets a password; a signed-in person joins with a click."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from lms.auth.forms import AcceptInvitationForm
from lms.auth.passwords import MIN_LENGTH, policy_name
from lms.auth.service import AccountError
from lms.auth.session import sign_in
from lms.auth.views import password_attempts
from lms.core.access import public
from lms.extensions import db
from lms.tenancy import invitations

bp = Blueprint("invitations", __name__)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
@password_attempts
def accept(token: str):
    try:
        invitation = invitations.get_invitation_for_token(token)
    except AccountError as exc:
        return render_template("tenancy/invitation_invalid.html", message=exc.message), 404
    if current_user.is_authenticated:
        return _join_as_signed_in(token, invitation)
    form = AcceptInvitationForm()
    if request.method == "GET":
        form.locale.data = session.get("locale", "zh_CN")
    if form.validate_on_submit():
        try:
            user = invitations.accept_invitation(
                token, password=form.password.data, locale=form.locale.data
            )
        except AccountError as exc:
            db.session.rollback()
            getattr(form, exc.field or "password").errors.append(exc.message)
        else:
            sign_in(user, remember=False)
            db.session.commit()
            flash(_l("Welcome! Your account is ready."), "success")
            return redirect(url_for("home.index"))
    return render_template(
        "tenancy/accept_invitation.html",
        form=form,
        invitation=invitation,
        min_length=MIN_LENGTH,
        policy=policy_name(),
    )


def _join_as_signed_in(token: str, invitation):
    """A signed-in person accepts an invitation to their own account with one click."""
    if not invitations.is_addressed_to(invitation, current_user):
        message = _l(
            "This invitation is for another e-mail address or mobile number. Sign out, then "
            "open the link again to accept it with the right account."
        )
        return render_template("tenancy/invitation_invalid.html", message=message), 404
    form = FlaskForm()
    if form.validate_on_submit():
        try:
            invitations.accept_invitation_as(current_user, token)
        except AccountError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_l("You accepted the invitation."), "success")
            return redirect(url_for("home.index"))
    return render_template("tenancy/join_invitation.html", form=form, invitation=invitation)
