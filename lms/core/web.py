"""Request plumbing shared by every page: security headers, error pages, template filters."""

from flask import Flask, jsonify, render_template, request
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from lms.core.codes import mask_email, mask_mobile
from lms.core.params import InvalidInput, answers_json, refuse_nul_characters

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

ERROR_TEXT = {
    400: (_l("Bad request"), _l("The request could not be understood. Go back and try again.")),
    403: (
        _l("Not allowed"),
        _l("Your role does not allow this. Ask your administrator if you need it."),
    ),
    404: (_l("Not found"), _l("This page does not exist or is not available to you.")),
    405: (_l("Not allowed"), _l("This page cannot be used that way.")),
    413: (_l("File too large"), _l("The file is larger than 16 MB.")),
    429: (
        _l("Too many requests"),
        _l("Too many attempts in a short time. Wait a minute and try again."),
    ),
    500: (
        _l("Something went wrong"),
        _l("An unexpected error occurred. It has been logged; please try again later."),
    ),
}


def _number(value) -> str:
    """A count or a figure with one decimal, with thousands separators (1,234 / 33.3): the
    same in zh-CN and en, and cheap — dashboards show a thousand of them."""
    if value is None:
        return ""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.1f}"


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if current_user and current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.before_request(refuse_nul_characters)

    def render_error(code: int, message=None):
        title, text = ERROR_TEXT.get(code, ERROR_TEXT[500])
        if answers_json():
            return jsonify(error=str(message or text)), code
        return render_template(
            "errors/error.html", code=code, title=title, text=message or text
        ), code

    for code in (400, 403, 404, 405, 413, 429):
        app.register_error_handler(code, lambda e, code=code: render_error(code))

    @app.errorhandler(InvalidInput)
    def invalid_input(e):
        return render_error(400, e.description)

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_error(
            400, _l("The form expired or was sent twice. Reload the page and submit it again.")
        )

    @app.errorhandler(500)
    def server_error(e):
        from lms.extensions import db

        db.session.rollback()
        return render_error(500)

    # The domains add their own helpers (lms.create_app): core names none of them.
    app.jinja_env.globals.update(
        # "zh_CN"/"en" as in LMS_LOCALES (str(Locale) would say "zh_Hans_CN").
        current_locale=lambda: "_".join(
            filter(None, (get_locale().language, get_locale().territory))
        ),
    )
    app.jinja_env.filters.update(
        mask_mobile=mask_mobile,
        mask_email=mask_email,
        date=lambda value: format_date(value, "medium") if value else "",
        datetime=lambda value: format_datetime(value, "medium") if value else "",
        number=_number,
    )
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.add_extension("jinja2.ext.do")

    @app.context_processor
    def page_context():
        return {"request_path": request.path}
