"""Locale and time-zone selection, and formatting helpers for templates."""

from flask import current_app, has_request_context, request, session
from flask_login import current_user


def select_locale() -> str:
    """The signed-in user's language, else the one chosen this visit, else the browser's."""
    locales = current_app.config["LMS_LOCALES"]
    if not has_request_context():  # CLI commands: no session or browser to ask
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in locales:
        return current_user.locale
    if session.get("locale") in locales:
        return session["locale"]
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"]) if request else None
    if best and best.startswith("en"):
        return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def ui_locale() -> str:
    """The page's language as in LMS_LOCALES: "zh_CN" or "en" (for zh/en model fields)."""
    from flask_babel import get_locale

    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"
