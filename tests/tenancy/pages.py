"""Reading the rendered pages: table cells with their errors, a form field's errors."""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser


class TableReader(HTMLParser):
    """Rows of the page's <tbody>s: each cell's text and the texts of its <p class="error">."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[dict]] = []
        self._in_body = False
        self._cell: dict | None = None
        self._in_error = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag == "td":
            self._cell = {"text": "", "errors": [], "class": attrs.get("class") or ""}
            self.rows[-1].append(self._cell)
        elif self._cell is not None and tag == "p" and "error" in (attrs.get("class") or ""):
            self._in_error = True
            self._cell["errors"].append("")

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td":
            self._cell = None
        elif tag == "p":
            self._in_error = False

    def handle_data(self, data):
        if self._cell is None:
            return
        if self._in_error:
            self._cell["errors"][-1] += data
        else:
            self._cell["text"] += data


def table_rows(html: str) -> list[list[dict]]:
    reader = TableReader()
    reader.feed(html)
    for row in reader.rows:
        for cell in row:
            cell["text"] = re.sub(r"\s+", " ", cell["text"]).strip()
            cell["errors"] = [re.sub(r"\s+", " ", e).strip() for e in cell["errors"]]
    return reader.rows


def field_errors(html: str, field_id: str) -> list[str]:
    """Texts of the error paragraphs the form macro renders next to a field."""
    pattern = rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>'
    return [
        re.sub(r"\s+", " ", html_lib.unescape(m)).strip() for m in re.findall(pattern, html, re.S)
    ]


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def flashes(html: str, category: str) -> list[str]:
    """Texts of the flashed messages of one category ("success", "error", ...)."""
    pattern = rf'<div class="flash flash-{re.escape(category)}"[^>]*>(.*?)</div>'
    return [_text(m) for m in re.findall(pattern, html, re.S)]


def numbers(text: str) -> list[int]:
    """The whole numbers in a text, in order (wording may change, counts may not)."""
    return [int(n) for n in re.findall(r"\d+", text)]


def summary_numbers(html: str) -> list[int]:
    """The leading count of each line of the import preview's summary list."""
    block = re.search(r'<ul class="summary">(.*?)</ul>', html, re.S)
    assert block, "no summary list"
    return [
        numbers(_text(li))[0] for li in re.findall(r"<li[^>]*>(.*?)</li>", block.group(1), re.S)
    ]


def people_total(html: str) -> int:
    """The "N people" count above a people list."""
    match = re.search(r'<p class="muted">\s*(\d+)', html)
    assert match, "no people count"
    return int(match.group(1))


def mentions(text: str, token: str) -> bool:
    """Whether `token` stands on its own in `text` (not inside a longer number or word)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(token)}(?![0-9A-Za-z])", text) is not None
