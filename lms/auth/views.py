"""Sign in and out, accept an invitation, manage one's own account."""

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.auth import service
from lms.auth.forms import ChangePasswordForm, LoginForm, ProfileForm
from lms.auth.passwords import MIN_LENGTH, policy_name
from lms.auth.session import sign_in, sign_out
from lms.core.access import public, signed_in
from lms.core.urls import safe_next
from lms.extensions import db, limiter

bp = Blueprint("auth", __name__)

GENERIC_LOGIN_ERROR = _l(
    "The account or password is not correct. After 5 failed attempts an account is locked "
    "for 15 minutes."
)


def _login_limit() -> str:
    return current_app.config["LMS_LOGIN_RATE_LIMIT"]


# Every form that takes a password draws on one per-IP budget, so guesses spread over sign-in,
# password change and invitation links count together.
password_attempts = limiter.shared_limit(_login_limit, scope="password", methods=["POST"])


def _lockout_notice():
    return _l(
        "After %(count)d failed attempts an account is locked for %(minutes)d minutes.",
        count=current_app.config["LMS_LOCKOUT_THRESHOLD"],
        minutes=current_app.config["LMS_LOCKOUT_MINUTES"],
    )


def _next_page() -> str:
    return safe_next(request.args.get("next")) or url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
@password_attempts
def login():
    if current_user.is_authenticated:
        return redirect(_next_page())
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(form.login.data, form.password.data)
        if user is None:
            db.session.commit()  # keep the failure count
            form.password.errors.append(GENERIC_LOGIN_ERROR)
        else:
            sign_in(user, remember=form.remember.data)
            db.session.commit()
            return redirect(_next_page())
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@public
def logout():
    sign_out()
    db.session.commit()
    flash(_l("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@signed_in
def account():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            service.update_profile(current_user, name=form.name.data, locale=form.locale.data)
        except service.AccountError as exc:
            db.session.rollback()
            getattr(form, exc.field or "name").errors.append(exc.message)
        else:
            session["locale"] = form.locale.data
            db.session.commit()
            flash(_l("Your settings were saved."), "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
@password_attempts
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            service.change_password(
                current_user._get_current_object(),  # the audit record names a User
                current=form.current_password.data,
                new=form.password.data,
                keep_token=session.get("sid"),
            )
        except service.PasswordRefused as exc:
            db.session.commit()  # keep the failure count (and the lockout), sessions stay
            form.current_password.errors.append(exc.message)
            flash(_lockout_notice(), "error")
        except service.AccountError as exc:
            db.session.rollback()
            getattr(form, exc.field or "password").errors.append(exc.message)
        else:
            db.session.commit()
            flash(_l("Your password was changed. Other devices have been signed out."), "success")
            return redirect(url_for("auth.account"))
    return render_template(
        "auth/change_password.html",
        form=form,
        expired=request.args.get("expired"),
        min_length=MIN_LENGTH,
        policy=policy_name(),
    )


@bp.post("/locale")
@public
def change_locale():
    """The language switcher: remembered on the user, or in the session for guests."""
    locale = request.form.get("locale", "")
    if locale in current_app.config["LMS_LOCALES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            service.set_locale(current_user, locale)
            db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("home.index"))
