"""Request plumbing shared by every page: security headers, error pages, template filters."""

from collections.abc import Callable
from contextlib import suppress
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from lms.core.codes import mask_email, mask_mobile
from lms.core.i18n import content_lang, format_month, language_name, punctuation, with_colon
from lms.core.params import InvalidInput, answers_json, refuse_nul_characters
from lms.core.urls import safe_next

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
    413: (_l("The file is too large"), _l("The file is larger than this page accepts.")),
    429: (
        _l("Too many requests"),
        _l("Too many attempts in a short time. Wait a minute and try again."),
    ),
    500: (
        _l("Something went wrong"),
        _l("An unexpected error occurred. It has been logged; please try again later."),
    ),
    503: (
        _l("Temporarily unavailable"),
        _l(
            "The site cannot reach its database or another service it needs right now. Wait a "
            "minute and try again; if you were saving something, check afterwards that it was "
            "saved."
        ),
    ),
}

# A database, or the Redis behind background jobs, that cannot be reached (down, restarting,
# a killed connection, a full pool, SQLite locked too long): the request is a 503 with
# Retry-After, not a 500. Rate limits never get here: they fall back to memory (lms.config).
OUTAGES = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    BrokerError,
    RedisConnectionError,
    RedisTimeoutError,
)
RETRY_AFTER_SECONDS = 30


_MB = 1024 * 1024


def upload_limit(
    limit: Callable[[], int],
    *,
    says: Callable[[], object],
    back: Callable[[], str] | None = None,
):
    """Declare that a view takes file uploads, under its route's access declaration.

    `limit()` is the request body limit of the view (read per request, so the app's config
    counts), set before anything reads the body — the CSRF check does. Pages without this
    declaration get LMS_FORM_MAX_BYTES. A bigger body gets the 413 page, which says `says()`
    (what the page takes, with the limits, translated) and leads back to `back()` (where the
    user was: a path of this site), else to the referring page.
    """

    def mark(view):
        view.upload_limit = (limit, says, back)
        return view

    return mark


def _declared_upload() -> tuple | None:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "upload_limit", None)


def apply_body_limit() -> None:
    """Before every request, first of all: the body limit of this route (see upload_limit)."""
    declared = _declared_upload()
    if declared is None:
        config = current_app.config
        request.max_content_length = config.get("LMS_FORM_MAX_BYTES", config["MAX_CONTENT_LENGTH"])
        return
    request.max_content_length = declared[0]()


def wants_json() -> bool:
    """Whether the caller reads JSON: a JSON endpoint, or a script asking for JSON only."""
    return answers_json() or request.accept_mimetypes.best == "application/json"


def way_back(back: Callable[[], str] | None = None) -> str | None:
    """Where a refused request's page leads back to: the view's own place (`back`), else the
    referring page when it is a page of this site; None when neither is known."""
    if back is not None:
        target = back()
        if safe_next(target.partition("#")[0]):
            return target
    referrer = request.referrer
    if not referrer:
        return None
    try:
        parts = urlsplit(referrer)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def too_large(error=None):
    """The 413 page: the limit of what the user tried (or of any form), and a way back."""
    declared = _declared_upload()
    title = ERROR_TEXT[413][0]
    if declared is not None:
        text, back = declared[1](), way_back(declared[2])
    else:
        limit = request.max_content_length or current_app.config["MAX_CONTENT_LENGTH"]
        text = _l(
            "A page of this site can send at most %(mb)s MB at a time, files included.",
            mb=f"{limit / _MB:g}",
        )
        back = way_back()
    if wants_json():
        return jsonify(error=f"{title}: {text}"), 413
    return render_template(
        "errors/too_large_authoring.html", code=413, title=title, text=text, back=back
    ), 413


def _without_database(*, ask_user: bool) -> None:
    """Let the rest of this request (an error page, the after-request hooks) run without the
    database: end the session's transaction, and treat the request as signed out (the
    browser's session cookie is left as it is) so that nothing loads the user again. With
    `ask_user`, the page is still in the user's language when the database answers."""
    from lms.extensions import db, login_manager

    # A connection that is gone has nothing left to roll back.
    with suppress(SQLAlchemyError):
        db.session.rollback()
    if ask_user:
        with suppress(SQLAlchemyError):
            get_locale()  # fixed for the request from here on
    # Flask-Login keeps the request's user here; current_user reads it without loading.
    g._login_user = login_manager.anonymous_user()


def standalone_error(code: int, title, text, *, ask_user: bool = False, retry_after=None):
    """An error page (or JSON) that needs neither the database nor the signed-in user:
    errors/standalone.html has no menus, no notifications and no permission checks."""
    _without_database(ask_user=ask_user)
    if wants_json():
        response = jsonify(error=str(text))
    else:
        response = make_response(
            render_template(
                "errors/standalone.html",
                code=code,
                title=title,
                text=text,
                # A page (not a form's POST) may simply be asked for again.
                again=safe_next(request.full_path.rstrip("?")) if request.method == "GET" else None,
            )
        )
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def unavailable(error: Exception):
    """A service the request needs is down (see OUTAGES): a 503 that asks to retry."""
    # The class names only: the message may hold the statement's parameters (personal data).
    cause = getattr(error, "orig", None) or error
    current_app.logger.warning("answered 503: %s (%s)", type(error).__name__, type(cause).__name__)
    return standalone_error(503, *ERROR_TEXT[503], retry_after=RETRY_AFTER_SECONDS)


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

    # First of all hooks (the CSRF check, registered earlier, reads the body): see upload_limit;
    # then the NUL check, before the CSRF check, the rate limits or the user's session.
    app.before_request_funcs.setdefault(None, []).insert(0, apply_body_limit)
    app.before_request_funcs[None].insert(1, refuse_nul_characters)

    def render_error(code: int, message=None):
        title, text = ERROR_TEXT.get(code, ERROR_TEXT[500])
        if answers_json():
            return jsonify(error=str(message or text)), code
        return render_template(
            "errors/error.html", code=code, title=title, text=message or text
        ), code

    for code in (400, 403, 404, 405, 429):
        app.register_error_handler(code, lambda e, code=code: render_error(code))
    app.register_error_handler(413, too_large)

    @app.errorhandler(InvalidInput)
    def invalid_input(e):
        return render_error(400, e.description)

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_error(
            400, _l("The form expired or was sent twice. Reload the page and submit it again.")
        )

    for outage in OUTAGES:
        app.register_error_handler(outage, unavailable)

    @app.errorhandler(500)
    def server_error(e):
        if isinstance(e.original_exception, OUTAGES):  # e.g. an error page that needed it
            return unavailable(e.original_exception)
        return standalone_error(500, *ERROR_TEXT[500], ask_user=True)

    # The domains add their own helpers (lms.create_app): core names none of them.
    app.jinja_env.globals.update(
        # "zh_CN"/"en" as in LMS_LOCALES (str(Locale) would say "zh_Hans_CN").
        current_locale=lambda: "_".join(
            filter(None, (get_locale().language, get_locale().territory))
        ),
        # One voice (lms.core.i18n): separators, content languages and their lang attributes.
        punctuation=punctuation,
        language_name=language_name,
        content_lang=content_lang,
    )
    app.jinja_env.filters.update(
        mask_mobile=mask_mobile,
        mask_email=mask_email,
        # One format per language: 2026年1月17日 / Jan 17, 2026; months 2026年1月 / Jan 2026.
        date=lambda value: format_date(value, "medium") if value else "",
        datetime=lambda value: format_datetime(value, "medium") if value else "",
        month=format_month,
        colon=with_colon,
        number=_number,
    )
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.add_extension("jinja2.ext.do")

    @app.context_processor
    def page_context():
        return {"request_path": request.path}
