"""Locale and time-zone selection, and formatting helpers for templates."""

from datetime import date

from babel.dates import format_skeleton
from flask import current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_babel import lazy_pgettext as _lp
from flask_login import current_user
from markupsafe import Markup, escape


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
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


# --- one voice: punctuation, dates and the language of content ---------------------------------
#
# Chinese pages use full-width punctuation after Chinese text (“筛选条件：2026年1月”), English pages
# the ASCII one with a space. Templates that join a translated label to what follows use these
# (`{{ _('Export') | colon }}`) instead of a literal ": ", which would read “导出: ” in Chinese.
PUNCTUATION = {
    "zh": {"colon": "：", "semicolon": "；", "comma": "，"},
    "en": {"colon": ": ", "semicolon": "; ", "comma": ", "},
}


def _page_language() -> str:
    """The language of the page being rendered: "zh" or "en"."""
    return "en" if ui_locale() == "en" else "zh"


def punctuation(name: str) -> str:
    """The separator `name` ("colon", "semicolon", "comma") in the page's language."""
    return PUNCTUATION[_page_language()][name]


def with_colon(label) -> Markup:
    """A label and the colon that introduces what follows it: "导出：" / "Export: " (escaped
    once: a translated message is already Markup in templates, a name is not)."""
    return escape(label) + punctuation("colon")


# Dates: one format per language, Babel's medium date (2026年1月17日 / Jan 17, 2026) and, for
# months, the same without the day (2026年1月 / Jan 2026). Input fields keep the machine format
# (YYYY-MM-DD, YYYY-MM) the browser needs, and so do CSV and Excel exports.
MONTH_SKELETON = "yMMM"


def format_month(value) -> str:
    """A month for display: from 202601, "2026-01" or a date; "" for none (unreadable values are
    shown as they are: a filter echoing what the user typed)."""
    if value is None or value == "":
        return ""
    if isinstance(value, date):
        day = value.replace(day=1)
    else:
        try:
            if isinstance(value, int):
                year, month = divmod(value, 100)
            else:
                year_text, _sep, month_text = str(value).strip().partition("-")
                year, month = int(year_text), int(month_text)
            day = date(year, month, 1)
        except ValueError:
            return str(value)
    return format_skeleton(MONTH_SKELETON, day, locale=get_locale())


# The languages content is written in (CourseVersion.language), named in the page's language: a
# course tagged "en" reads 英文 on a Chinese page and English on an English one.
LANGUAGE_NAMES = {"zh-CN": _lp("language", "Chinese"), "en": _lp("language", "English")}


def language_name(code: str | None) -> str:
    """The name of a content language ("zh-CN", "en") in the page's language."""
    return str(LANGUAGE_NAMES.get(code or "", code or ""))


def page_lang() -> str:
    """The page's lang attribute value: "zh-CN" or "en"."""
    return "en" if ui_locale() == "en" else "zh-CN"


def content_lang(content) -> str:
    """` lang="en"` (with its leading space) for an element holding content written in another
    language than the page, else "": `<article{{ content_lang(version) }}>`. `content` is a
    language code ("zh-CN", "en") or anything with a `language` (a CourseVersion)."""
    language = content if isinstance(content, str) or content is None else content.language
    if not language:
        return Markup("")
    tag = "en" if str(language).startswith("en") else "zh-CN"
    return Markup("") if tag == page_lang() else Markup(' lang="{}"').format(tag)
