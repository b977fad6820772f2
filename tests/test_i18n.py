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


# --- One voice (issue 14): 您, Chinese punctuation, one date format, lang on content -------------

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
FULL_WIDTH = "\u3000-\u303f\uff00-\uffef"  # 、。「」 and ：，（） …
# Not prose: placeholders, URLs, Markdown links and images (![说明](media/…)), code in backticks.
NOT_PROSE = re.compile(r"%\(\w+\)[sdifr]|%[sd]|\{\w*\}|https?://\S+|!?\[[^\]]*\]\([^)]*\)|`[^`]*`")
# ASCII punctuation directly after Chinese text, or ASCII brackets directly next to it.
ASCII_AFTER_CHINESE = re.compile(
    rf"[{HAN}{FULL_WIDTH}][:;,?!()]|[:;,?!]\s*[{HAN}]|[(][{HAN}]|[)][{HAN}]"
)


def ascii_punctuation_in_chinese(text: str) -> list[str]:
    """The places where `text` puts ASCII punctuation against Chinese characters."""
    prose = NOT_PROSE.sub(" ", text)
    return [prose[max(m.start() - 4, 0) : m.end() + 4] for m in ASCII_AFTER_CHINESE.finditer(prose)]


def test_the_punctuation_check_catches_ascii_after_chinese_and_spares_code():
    assert ascii_punctuation_in_chinese("筛选条件: 2026-01")
    assert ascii_punctuation_in_chinese("请先完成(必修)课程")
    assert ascii_punctuation_in_chinese("已保存,请继续")
    assert not ascii_punctuation_in_chinese("筛选条件：2026年1月")
    assert not ascii_punctuation_in_chinese("%(field)s：%(error)s，时间 10:30，比例 3:1")
    assert not ascii_punctuation_in_chinese("请把 ![说明](media/…) 这一行移到图片应在的位置。")
    assert not ascii_punctuation_in_chinese("详见 https://example.com/a?b=1,2 页面")


def _chinese_strings():
    for entry in catalogue(ZH):
        if entry.id:
            for text in _strings(entry.string):
                if text:
                    yield entry.id, text


def test_chinese_messages_address_the_user_as_nin():
    wrong = [
        f"{_strings(msgid)[0]!r} -> {text!r}" for msgid, text in _chinese_strings() if "你" in text
    ]
    assert not wrong, "use 您, not 你:\n" + "\n".join(wrong)


def test_chinese_messages_use_full_width_punctuation_in_chinese_text():
    wrong = [
        f"{_strings(msgid)[0]!r} -> {text!r}: {places}"
        for msgid, text in _chinese_strings()
        if (places := ascii_punctuation_in_chinese(text))
    ]
    assert not wrong, "use ：，；？！（） after Chinese text:\n" + "\n".join(wrong)


def _visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))


def test_chinese_pages_join_labels_with_a_full_width_colon(
    app, client, create_firm, create_user, login
):
    firm = create_firm()
    admin = create_user(role="firm_admin", firm=firm)
    worker = create_user(role="worker", firm=firm)
    login(admin)
    page = _html(client.get(f"/firms/{firm.id}/people/{worker.public_id}/skills"))
    assert "当前岗位：" in page, NOT_CHINESE
    text = _visible_text(page)
    assert not re.search(rf"[{HAN}]\s?[:;,]\s", text), re.findall(
        rf".{{6}}[{HAN}][:;,] .{{6}}", text
    )

    # The export links of every table page (templates/_macros.html).
    with app.test_request_context(f"/firms/{firm.id}/hours?start=2026-01-01"):
        from flask import render_template_string

        links = render_template_string(
            "{% from '_macros.html' import export_links %}"
            "{{ export_links('transcripts.firm_hours', {'firm_id': firm_id}) }}",
            firm_id=firm.id,
        )
    assert "导出：" in links, NOT_CHINESE
    assert not re.search(rf"[{HAN}]:", links)


def _render(app, source: str, locale: str, **context) -> str:
    from flask import render_template_string
    from flask_babel import force_locale

    with app.test_request_context("/"), force_locale(locale):
        return render_template_string(source, **context)


def test_one_date_format_per_locale(app):
    from datetime import date

    source = "{{ day | date }} | {{ 202601 | month }} | {{ '2026-11' | month }} | {{ day | month }}"
    day = date(2026, 11, 17)
    assert _render(app, source, "zh_Hans_CN", day=day) == (
        "2026年11月17日 | 2026年1月 | 2026年11月 | 2026年11月"
    )
    assert _render(app, source, "en", day=day) == "Nov 17, 2026 | Jan 2026 | Nov 2026 | Nov 2026"
    # What a user typed into a month filter and is not a month is shown as typed.
    assert _render(app, "{{ 'next month' | month }}|{{ none | month }}", "en") == "next month|"


def test_content_languages_are_named_in_the_page_language(app):
    source = "{{ language_name('en') }}/{{ language_name('zh-CN') }}"
    assert _render(app, source, "zh_Hans_CN") == "英文/中文", NOT_CHINESE
    assert _render(app, source, "en") == "English/Chinese"


def test_content_in_another_language_than_the_page_carries_its_lang(app):
    source = "<p{{ content_lang(code) }}>"
    assert _render(app, source, "en", code="zh-CN") == '<p lang="zh-CN">'
    assert _render(app, source, "en", code="en") == "<p>"
    assert _render(app, source, "zh_Hans_CN", code="en") == '<p lang="en">'
    assert _render(app, source, "zh_Hans_CN", code="zh-CN") == "<p>"


def test_a_chinese_lesson_on_an_english_page_is_marked_zh_cn(
    app, client, create_firm, create_user, create_course, login
):
    from lms.courses.models import CourseVersion
    from lms.learning import service as learning

    firm = create_firm()
    worker = create_user(role="worker", firm=firm, locale="en")
    course = create_course(firm, language="zh-CN", quiz=False, practical=True)
    with app.test_request_context():
        version = db.session.scalars(
            db.select(CourseVersion).where(CourseVersion.course_id == course.id)
        ).one()
        enrollment, _ = learning.enroll(db.session.get(User, worker.id), version)
        db.session.commit()
        enrollment_id, title = enrollment.public_id, version.title
    login(worker)

    lesson = client.get(f"/learn/{enrollment_id}", follow_redirects=True)
    page = _html(lesson)
    assert '<html lang="en">' in page
    assert '<div class="prose" lang="zh-CN"><p>正文 1。</p>' in page
    assert re.search(r'<h1 lang="zh-CN">第1课</h1>', page)

    course_page = _html(client.get(f"/courses/{course.slug}"))
    assert '<article class="course-page" lang="zh-CN">' in course_page
    assert "<dd>Chinese</dd>" in course_page  # the course's language, named in English

    catalogue = _html(client.get("/courses/"))
    assert f'lang="zh-CN">{title}</a>' in catalogue
    assert "· Chinese" in catalogue


def test_an_english_course_is_tagged_in_chinese_on_a_chinese_page(
    app, client, create_firm, create_user, create_course, login
):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    course = create_course(firm, language="en", quiz=False, title="Lockout and tagout")
    login(worker)
    course_page = _html(client.get(f"/courses/{course.slug}"))
    assert "<dd>英文</dd>" in course_page, NOT_CHINESE
    assert '<article class="course-page" lang="en">' in course_page
    catalogue = _html(client.get("/courses/"))
    assert 'lang="en">Lockout and tagout</a>' in catalogue
    assert "· 英文" in catalogue
    assert "· English" not in catalogue


def test_a_label_and_its_colon_are_escaped_once(app):
    source = "{{ _('Export') | colon }}{{ name | colon }}"
    assert _render(app, source, "en", name="A & B") == "Export: A &amp; B: "
    assert _render(app, source, "zh_Hans_CN", name="甲&乙") == "导出：甲&amp;乙："
