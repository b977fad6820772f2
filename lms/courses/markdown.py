"""Markdown → safe HTML: markdown-it-py renders (raw HTML off), nh3 sanitises what comes out."""

from __future__ import annotations

from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"style"},
    "td": {"style"},
    "code": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def _markdown() -> MarkdownIt:
    return (
        MarkdownIt("commonmark", {"html": False, "linkify": False})
        .enable("table")
        .enable("strikethrough")
    )


def render_markdown(text: str, *, media_url: Callable[[str], str] | None = None) -> str:
    """Sanitised HTML for a lesson; `media_url` maps package paths (media/x.png) to URLs."""
    md = _markdown()
    if media_url is not None:
        default_image = md.renderer.rules.get("image")

        def image(renderer, tokens, idx, options, env):
            token = tokens[idx]
            src = token.attrGet("src") or ""
            if src.startswith("media/"):
                token.attrSet("src", media_url(src))
            return default_image(tokens, idx, options, env)

        md.add_render_rule("image", image)
    html = md.render(text or "")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
    # Code blocks and wide tables scroll sideways on a phone: keyboard users must reach them.
    return clean.replace("<pre>", '<pre tabindex="0">').replace("<table>", '<table tabindex="0">')


def without_title_heading(body: str, title: str) -> str:
    """The body without a leading `# <title>` line: the page already shows the title."""
    lines = (body or "").lstrip("\n").split("\n", 1)
    first = lines[0].strip()
    if first.startswith("# ") and first[2:].strip() == (title or "").strip():
        return lines[1] if len(lines) > 1 else ""
    return body
