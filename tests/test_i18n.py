"""Translations: the catalogues cover every string in the code, and the language switch works."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from lms.auth.models import User
from lms.extensions import db

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "lms" / "translations"
# Babel spells zh_CN "zh_Hans_CN"; accept the catalogue folder under either name.
ZH = next((name for name in ("zh_CN", "zh_Hans_CN") if (TRANSLATIONS / name).is_dir()), "zh_CN")
# The same keywords as `make i18n-extract`.
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "_lp": ((1, "c"), 2),
    "lazy_pgettext": ((1, "c"), 2),
}
PLACEHOLDER = re.compile(r"%\((\w+)\)")
SKIPPED_DIRS = {"node_modules"}
NOT_CHINESE = (
    "the page is not in Chinese: is the zh_CN catalogue compiled (`make i18n-compile`) and "
    "does Flask-Babel find it for the selected locale?"
)


def _wanted_dir(path: str) -> bool:
    name = os.path.basename(path)
    return not name.startswith((".", "_")) and name not in SKIPPED_DIRS


@cache
def extracted_messages() -> tuple[tuple[str | tuple[str, ...], str | None], ...]:
    """(msgid, msgctxt) of every translatable string in the code, as `make i18n-extract` sees it."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[tuple[str, str | None], tuple[str | tuple[str, ...], str | None]] = {}
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=_wanted_dir
    ):
        key = message[0] if isinstance(message, tuple) else message
        if key:
            found[(key, context)] = (message, context)
    assert found, "extraction found no messages; is babel.cfg still at the repository root?"
    return tuple(found.values())


@cache
def catalogue(locale: str) -> Catalog:
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=locale)


def _strings(value: str | tuple[str, ...] | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _translated(entry: Message | None) -> bool:
    return (
        entry is not None
        and not entry.fuzzy
        and all(s and s.strip() for s in _strings(entry.string))
    )


def _untranslated(locale: str) -> list[str]:
    cat = catalogue(locale)
    return sorted(
        (f"[{context}] " if context else "") + _strings(msgid)[0]
        for msgid, context in extracted_messages()
        if not _translated(cat.get(msgid, context=context))
    )


def _missing_report(locale: str, missing: list[str]) -> str:
    listing = "\n".join(f"  - {m!r}" for m in missing)
    return (
        f"{len(missing)} message(s) in the code have no {locale} translation "
        f"(missing, empty or fuzzy):\n{listing}\n"
        f"Run `make i18n-extract`, then translate them in "
        f"lms/translations/{locale}/LC_MESSAGES/messages.po and run `make i18n-compile`."
    )


def test_every_message_in_the_code_has_a_chinese_translation():
    missing = _untranslated(ZH)
    assert not missing, _missing_report(ZH, missing)


def test_every_message_in_the_code_has_an_english_entry():
    missing = _untranslated("en")
    assert not missing, _missing_report("en", missing)


def test_chinese_translations_keep_the_placeholders_of_their_msgid():
    wrong = []
    for entry in catalogue(ZH):
        if not entry.id:
            continue
        expected = {name for s in _strings(entry.id) for name in PLACEHOLDER.findall(s)}
        for text in _strings(entry.string):
            got = set(PLACEHOLDER.findall(text or ""))
            if text and got != expected:
                wrong.append(f"{entry.id!r} -> {text!r}: {sorted(got)} != {sorted(expected)}")
    assert not wrong, "placeholders differ from the msgid:\n" + "\n".join(wrong)


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_login_page_is_in_chinese_by_default(client):
    page = _html(client.get("/login"))
    assert '<html lang="zh-CN">' in page
    assert "<h1>登录</h1>" in page, NOT_CHINESE
    assert "Sign in" not in page


def test_guest_switching_to_english_is_remembered_in_the_session(client):
    response = client.post("/locale", data={"locale": "en", "next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    with client.session_transaction() as session:
        assert session["locale"] == "en"

    page = _html(client.get("/login"))
    assert '<html lang="en">' in page
    assert "<h1>Sign in</h1>" in page
    assert "登录" not in page


def test_unknown_locale_is_ignored(client):
    client.post("/locale", data={"locale": "fr"})
    with client.session_transaction() as session:
        assert "locale" not in session
    assert '<html lang="zh-CN">' in _html(client.get("/login"))


def test_signed_in_users_language_choice_follows_them_to_another_device(
    app, client, create_firm, create_user, login
):
    user = create_user(role="worker", firm=create_firm())
    login(user)
    page = _html(client.get("/"))
    assert '<html lang="zh-CN">' in page
    assert "退出登录" in page, NOT_CHINESE

    client.post("/locale", data={"locale": "en", "next": "/"})
    with app.app_context():
        assert db.session.get(User, user.id).locale == "en"

    other_device = app.test_client()
    login(user, c=other_device)
    page = _html(other_device.get("/"))
    assert '<html lang="en">' in page
    assert f"Hello, {user.name}" in page
    assert "Sign out" in page
