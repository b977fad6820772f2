"""Lesson Markdown is rendered to sanitised HTML: no stored XSS, while ordinary Markdown
(headings, tables, code, lists, links, images) survives."""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser

import pytest

from lms.courses.markdown import render_markdown

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "前文<script>alert(document.cookie)</script>后文",
    '<img src=x onerror="alert(1)">',
    "<img src=x oNeRrOr=alert(1)>",
    '<svg onload="alert(1)"><circle r="10"/></svg>',
    '<a href="javascript:alert(1)">点我</a>',
    '<a href="JaVaScRiPt:alert(1)">mixed case</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">ent</a>',
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    '<a href="vbscript:msgbox(1)">vb</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '[x](https://example.com "title" onclick="alert(1)")',
    "[ref][r]\n\n[r]: javascript:alert(1)",
    "<javascript:alert(1)>",
    '<https://example.com/" onmouseover="alert(1)>',
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="evil.swf"></object>',
    '<embed src="evil.swf">',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="width: expression(alert(1))">x</div>',
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<details open ontoggle=alert(1)>",
    "<div>\n<script>alert(1)</script>\n</div>",
    "<!-- x --><script>alert(1)</script>",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | <img src=x onerror=alert(1)> |",
    "```html\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
    "> <iframe src=//evil.example></iframe>",
    "- <svg/onload=alert(1)>",
]

DANGEROUS_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "style",
    "svg",
    "math",
    "form",
    "meta",
    "base",
    "link",
    "frame",
    "frameset",
    "applet",
    "details",
    "input",
    "button",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")


class Elements(HTMLParser):
    """Every element of the output with its attributes (entities decoded by the parser)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


def url_as_a_browser_reads_it(value: str) -> str:
    # Browsers strip ASCII tab/newline anywhere and leading C0 controls/spaces before the scheme.
    value = html_lib.unescape(value)
    value = re.sub(r"[\t\n\r]", "", value)
    return value.lstrip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f \x1f").lower()


def assert_inert(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<iframe" not in lowered
    assert "<object" not in lowered
    assert "<embed" not in lowered
    # No event handler inside any real tag (escaped text like &lt;img onerror=…&gt; is inert).
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", lowered), html
    for tag, attrs in elements(html):
        assert tag not in DANGEROUS_TAGS, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            if name == "style":
                assert "expression" not in value.lower() and "url(" not in value.lower(), html
            if name in URL_ATTRIBUTES:
                assert not url_as_a_browser_reads_it(value).startswith(BAD_SCHEMES), html
    # No real tag whose link target runs code (escaped text such as &lt;a href="…"&gt; is inert).
    assert not re.search(
        r"""<[a-z][^>]*\s(href|src)\s*=\s*["']?\s*(javascript|vbscript|data):""", lowered
    ), html


def test_there_are_enough_payloads():
    assert len(XSS_PAYLOADS) >= 15


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_renders_to_inert_html(payload):
    assert_inert(render_markdown(payload))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_stays_inert_with_media_urls_mapped(payload):
    assert_inert(render_markdown(payload, media_url=lambda p: f"/courses/x/media/1/{p}"))


def test_raw_html_is_shown_as_text_not_interpreted():
    html = render_markdown('<b onclick="x()">粗体</b>')
    assert "<b" not in html
    assert "&lt;b onclick=" in html


def test_headings_survive():
    html = render_markdown("# 一级标题\n\n## Second level\n\n### 三级")
    assert "<h1>一级标题</h1>" in html
    assert "<h2>Second level</h2>" in html
    assert "<h3>三级</h3>" in html


def test_tables_survive_with_alignment():
    html = render_markdown("| 参数 | 值 |\n|:--|--:|\n| 电压 | 380 V |\n")
    assert re.search(r"<table[ >]", html) and "<thead>" in html and "<tbody>" in html
    assert '<th style="text-align:left">参数</th>' in html
    assert '<td style="text-align:right">380 V</td>' in html


def test_code_blocks_survive_escaped_with_their_language():
    html = render_markdown("```python\nif a < b:\n    print('<ok>')\n```\n\n行内 `x < y`")
    assert re.search(r'<pre( tabindex="0")?><code class="language-python">', html)
    assert "if a &lt; b:" in html
    assert "print('&lt;ok&gt;')" in html
    assert "<code>x &lt; y</code>" in html


def test_lists_emphasis_and_quotes_survive():
    html = render_markdown("- 一\n- 二\n\n1. first\n2. second\n\n**粗** *斜* ~~删~~\n\n> 引用")
    assert "<ul>\n<li>一</li>\n<li>二</li>\n</ul>" in html
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in html
    assert "<strong>粗</strong>" in html and "<em>斜</em>" in html and "<s>删</s>" in html
    assert "<blockquote>" in html


def test_https_links_survive_with_rel_noopener():
    html = render_markdown("[国家标准](https://std.samr.gov.cn/gb/search?q=PLC&page=1)")
    ((tag, attrs),) = [e for e in elements(html) if e[0] == "a"]
    assert attrs["href"] == "https://std.samr.gov.cn/gb/search?q=PLC&page=1"
    assert "noopener" in attrs["rel"].split()
    assert "noreferrer" in attrs["rel"].split()


def test_autolinks_and_mailto_links_survive():
    html = render_markdown("<https://example.com/a> 和 [写信](mailto:trainer@example.com)")
    hrefs = [attrs["href"] for tag, attrs in elements(html) if tag == "a"]
    assert hrefs == ["https://example.com/a", "mailto:trainer@example.com"]


def test_package_images_are_mapped_to_media_urls():
    html = render_markdown(
        "![接线图](media/wiring.png)", media_url=lambda p: f"/courses/demo/media/1/{p}"
    )
    ((tag, attrs),) = elements(html)[1:]
    assert tag == "img"
    assert attrs == {"src": "/courses/demo/media/1/media/wiring.png", "alt": "接线图"}


def test_empty_text_renders_to_nothing():
    assert render_markdown("") == ""


@pytest.mark.parametrize(
    "live",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        "<iframe src=x></iframe>",
        '<p style="width:expression(alert(1))">x</p>',
    ],
)
def test_the_inertness_check_itself_catches_live_vectors(live):
    with pytest.raises(AssertionError):
        assert_inert(live)


def test_a_leading_heading_repeating_the_lesson_title_is_left_out():
    from lms.courses.markdown import without_title_heading

    assert without_title_heading("# PLC的扫描周期\n\n正文", "PLC的扫描周期") == "\n正文"
    assert without_title_heading("\n# 别的标题\n正文", "PLC的扫描周期") == "\n# 别的标题\n正文"
    assert without_title_heading("## PLC的扫描周期\n正文", "PLC的扫描周期").startswith("##")
