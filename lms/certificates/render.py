"""Certificate HTML and PDF: a sandboxed Jinja template over plain data, WeasyPrint, a QR code.

Nothing here touches the database. The template sees only the context dict built by the
service (strings, numbers, lists); WeasyPrint may fetch only the assets handed to it (the CJK
font, the logo and the seal) and the QR code the fetcher makes itself: every other URL —
file://, http(s)://, data: — stops the render.

Speed (measured with bench/certificates.py): most of a render is WeasyPrint's layout, but the
font costs too. So, per process, the font is read once into one FontConfiguration and the
stylesheets are parsed once; and, once per installation, the installed CJK font is cut down to
the characters certificates normally use (Latin, punctuation, GB 2312's 6,763 Hanzi) and kept
in a cache folder, because WeasyPrint's per-PDF HarfBuzz subsetting costs in proportion to the
glyphs of the font it starts from (about 7 ms from the cut font, about 23 ms from the full one).
A document with a character the cut font lacks (a rare Hanzi in a name) is rendered with the
full font instead; characters no CJK font has fall back to the system's fonts (fontconfig).
The QR code is a one-pixel-per-module PNG (see qr_image). The compiled template is kept per
process, and the default template is kept lean (see certificate.css: layout is most of a
render). Renders in one process are serialised by a lock: they share one Pango font map.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import struct
import tempfile
import threading
import zlib
from pathlib import Path
from urllib.parse import quote, unquote

import segno
import yaml
from jinja2 import FileSystemLoader
from jinja2.sandbox import ImmutableSandboxedEnvironment

from lms.config import PROJECT_ROOT

DEFAULT_DIR = Path(__file__).parent / "default"
ASSET_SCHEME = "lms-asset:"
QR_PREFIX = f"{ASSET_SCHEME}qr:"  # + the percent-encoded text: a QR code made by the fetcher
QR_BORDER = 1
_QR_GREYS = bytes.maketrans(b"\x00\x01", b"\xff\x00")  # module → grey: light white, dark black
# Where the set-up installs a CJK font (Debian packages), in order of preference. WenQuanYi Micro
# Hei (fonts-wqy-microhei) has Latin, CJK punctuation and all 20,902 basic CJK ideographs in one
# TrueType font, so a certificate embeds one font; Droid Sans Fallback has no Latin (the PDF
# then also embeds DejaVu Sans) but has CJK Extension A, so the set-up installs it as well and
# fontconfig falls back to it for rare characters.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
# Bump when the cut font's character set or options change: the cache file name includes it.
CUT_FONT_VERSION = "1"
_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,30}|rgba?\([0-9.,%\s]{5,40}\)")
_LOCK = threading.Lock()  # one FontConfiguration (Pango font map) per process: one render at once


class RenderError(RuntimeError):
    pass


@functools.cache
def default_design() -> dict:
    return yaml.safe_load((DEFAULT_DIR / "template.yaml").read_text(encoding="utf-8"))


class _CompactLoader(FileSystemLoader):
    """The template files without the line breaks (and indentation) between tags: each would
    become a text node WeasyPrint parses, styles and lays out (~1 ms of CPU per PDF). Spaces
    inside a line are kept."""

    _BREAKS = re.compile(r"(>|%})[ \t]*\n\s*(?=<|{%)")

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        return self._BREAKS.sub(r"\1", source), filename, uptodate


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    # One per process: it keeps the compiled default template (compiling it took ~4 ms a PDF).
    return ImmutableSandboxedEnvironment(
        loader=_CompactLoader(DEFAULT_DIR), autoescape=True, auto_reload=False
    )


def render_html(context: dict, source: str | None = None) -> str:
    """The certificate page; `source` replaces the default template (tests, previews)."""
    env = _environment()
    template = (
        env.from_string(source) if source is not None else env.get_template("certificate.html")
    )
    return template.render(**context)


def qr_image(url: str) -> str:
    """The address of the verification URL's QR code, for an <img> of the template.

    render_pdf's fetcher draws the code (segno, error correction M) when WeasyPrint asks for
    it, once per PDF: one pixel per module, scaled by the stylesheet without interpolation
    (`image-rendering: pixelated`), so the edges stay sharp at any size. Drawn as an SVG path
    instead, WeasyPrint's Python path parser cost ~14 ms of CPU per PDF (measured); an SVG
    holding the PNG cost ~2 ms more than the plain image.
    """
    return QR_PREFIX + quote(url, safe="")


@functools.lru_cache(maxsize=64)
def _qr_png(url: str) -> bytes:
    """The QR code as an 8-bit greyscale PNG with a light border of QR_BORDER modules
    (WeasyPrint converts 1-bit PNGs to RGB first)."""
    matrix = segno.make_qr(url, error="m").matrix  # rows of 1 (dark) and 0 (light)
    width = len(matrix[0]) + 2 * QR_BORDER
    light = b"\x00" + b"\xff" * width  # each PNG row starts with its filter type, 0
    edge = b"\xff" * QR_BORDER
    rows = b"".join(
        [light] * QR_BORDER
        + [b"\x00" + edge + bytes(row).translate(_QR_GREYS) + edge for row in matrix]
        + [light] * QR_BORDER
    )
    header = struct.pack(">IIBBBBB", width, len(matrix) + 2 * QR_BORDER, 8, 0, 0, 0, 0)
    return b"".join(
        (b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", header))
        + (_png_chunk(b"IDAT", zlib.compress(rows)), _png_chunk(b"IEND", b""))
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def font_path() -> Path:
    configured = os.environ.get("LMS_CJK_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise RenderError(
        "No CJK font found: install the Debian package fonts-wqy-microhei (make run does) "
        "or set LMS_CJK_FONT to a TTF/OTF/TTC file."
    )


def _cut_charset() -> set[int]:
    """Latin, common symbols and punctuation, and GB 2312 (its 6,763 Hanzi and symbols)."""
    chars = set(range(0x20, 0x7F)) | set(range(0xA0, 0x250))
    for first, last in (
        (0x2000, 0x206F),  # general punctuation
        (0x2100, 0x218F),  # letterlike symbols, number forms (Ⅲ)
        (0x2190, 0x21FF),
        (0x2460, 0x24FF),  # enclosed numbers
        (0x2500, 0x25FF),  # box drawing, geometric shapes
        (0x3000, 0x303F),  # CJK symbols and punctuation
        (0x3200, 0x33FF),  # enclosed CJK, CJK compatibility (㎡)
        (0xFE30, 0xFE4F),
        (0xFF00, 0xFFEF),  # full-width forms
    ):
        chars.update(range(first, last + 1))
    for lead in range(0xA1, 0xF8):
        for trail in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(ord(bytes((lead, trail)).decode("gb2312")))
    for texts in default_design()["texts"].values():
        for text in texts.values():
            chars.update(map(ord, text))
    return chars


def font_cache_dir() -> Path:
    return Path(os.environ.get("LMS_FONT_CACHE") or PROJECT_ROOT / "instance" / "fonts")


def cut_font(source: Path | None = None) -> Path:
    """The cut font for `source` (default: font_path()), made once per installation (~6 s)."""
    source = source or font_path()
    stat = source.stat()
    key = f"{CUT_FONT_VERSION}:{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    folder = font_cache_dir()
    target = folder / f"cjk-{hashlib.sha256(key.encode()).hexdigest()[:16]}.ttf"
    if target.is_file():
        return target
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.hinting = False  # WeasyPrint drops hinting from embedded fonts anyway
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.drop_tables += ["FFTM", "vhea", "vmtx", "VORG"]
    folder.mkdir(parents=True, exist_ok=True)
    # Two processes may race here: each writes its own file and the last rename wins.
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with TTFont(source, fontNumber=0, lazy=False) as font, os.fdopen(handle, "wb") as out:
            subsetter = subset.Subsetter(options)
            subsetter.populate(unicodes=_cut_charset() & set(font.getBestCmap()))
            subsetter.subset(font)
            font.save(out)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class AssetFetcher(URLFetcher):
        """Serves the named assets only; anything else is refused and stops the render."""

        def __init__(self, assets: dict[str, tuple[bytes, str]]):
            super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=True)
            self.assets = assets
            # WeasyPrint swallows some fetch errors (an SVG's <image>): render_pdf checks this.
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            if url in self.assets:
                body, mime = self.assets[url]
                return URLFetcherResponse(url, body, headers={"Content-Type": mime})
            if url.startswith(QR_PREFIX):
                png = _qr_png(unquote(url[len(QR_PREFIX) :]))
                return URLFetcherResponse(url, png, headers={"Content-Type": "image/png"})
            self.refused.append(url[:80])
            raise ValueError(f"refused: {url[:80]}")

    return AssetFetcher


def _cmap(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=0, lazy=True) as font:
        return frozenset(font.getBestCmap())


class _FontSetup:
    """A FontConfiguration with the font face `cjk`, and the stylesheets parsed with it."""

    def __init__(self, font: Path):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        self.config = FontConfiguration()
        self.fetcher = _fetcher_class()({})
        fetcher = _fetcher_class()({f"{ASSET_SCHEME}font": (font.read_bytes(), "font/ttf")})
        self.font_css = CSS(
            string=f'@font-face {{ font-family: cjk; src: url("{ASSET_SCHEME}font"); }}',
            font_config=self.config,
            url_fetcher=fetcher,
        )
        self.sheet = CSS(
            string=(DEFAULT_DIR / "certificate.css").read_text(encoding="utf-8"),
            font_config=self.config,
            url_fetcher=self.fetcher,
        )

    @functools.lru_cache(maxsize=64)  # noqa: B019 - a few setups per process, kept for its life
    def variables(self, primary: str, accent: str):
        from weasyprint import CSS

        for color in (primary, accent):
            if not _COLOR.fullmatch(color):
                raise RenderError(f"not a colour: {color[:40]!r}")
        return CSS(
            string=f":root {{ --primary: {primary}; --accent: {accent}; }}",
            font_config=self.config,
            url_fetcher=self.fetcher,
        )


@functools.cache
def _font_setups() -> tuple[_FontSetup, frozenset[int], frozenset[int]]:
    """(cut-font setup, the cut font's characters, the full font's characters), per process."""
    full = font_path()
    try:
        cut = cut_font(full)
    except Exception:  # no writable cache folder, an unreadable font: use the full font
        cut = full
    cut_chars = _cmap(cut)
    return _FontSetup(cut), cut_chars, (cut_chars if cut == full else _cmap(full))


def _setup_for(html: str) -> _FontSetup:
    cut_setup, cut_chars, full_chars = _font_setups()
    missing = {ord(c) for c in set(html)} - cut_chars
    if missing & full_chars:  # a character only the full font has: render with that
        return _full_setup()
    return cut_setup


@functools.cache
def _full_setup() -> _FontSetup:
    return _FontSetup(font_path())


def asset_url(name: str) -> str:
    return f"{ASSET_SCHEME}{name}"


def render_pdf(html: str, *, colors: dict, images: dict[str, tuple[bytes, str]]) -> bytes:
    """A4 landscape PDF of `html`. `images` maps asset names (as in asset_url) to bytes+type."""
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    fetcher = _fetcher_class()({asset_url(k): v for k, v in images.items()})
    with _LOCK:
        setup = _setup_for(html)
        variables = setup.variables(str(colors["primary"]), str(colors["accent"]))
        try:
            document = HTML(string=html, base_url=ASSET_SCHEME, url_fetcher=fetcher)
            pdf = document.write_pdf(
                stylesheets=[setup.font_css, variables, setup.sheet], font_config=setup.config
            )
        # A refused URL (FatalURLFetchingError is a BaseException) or a broken template.
        except (Exception, FatalURLFetchingError) as exc:
            raise RenderError(str(exc)) from exc
    if fetcher.refused:
        raise RenderError(f"refused: {', '.join(fetcher.refused)}")
    return pdf


def render_document(
    folder: Path,
    template: str,
    context: dict,
    *,
    stylesheet: str,
    images: dict[str, tuple[bytes, str]] | None = None,
) -> bytes:
    """A PDF of another document (a transcript, a report) made as certificates are: the
    sandboxed `template` from `folder` over plain data, the same fetcher (only the named
    `images`, as in render_pdf: every other URL is refused) and CJK fonts; `stylesheet` (a CSS
    file in `folder`) sets its own @page."""
    from weasyprint import CSS, HTML
    from weasyprint.urls import FatalURLFetchingError

    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(folder), autoescape=True, auto_reload=False
    )
    html = env.get_template(template).render(**context)
    css = (folder / stylesheet).read_text(encoding="utf-8")
    fetcher = _fetcher_class()({asset_url(k): v for k, v in (images or {}).items()})
    with _LOCK:
        setup = _setup_for(html)
        try:
            sheet = CSS(string=css, font_config=setup.config, url_fetcher=fetcher)
            document = HTML(string=html, base_url=ASSET_SCHEME, url_fetcher=fetcher)
            pdf = document.write_pdf(stylesheets=[setup.font_css, sheet], font_config=setup.config)
        except (Exception, FatalURLFetchingError) as exc:
            raise RenderError(str(exc)) from exc
    if fetcher.refused:
        raise RenderError(f"refused: {', '.join(fetcher.refused)}")
    return pdf


def warm_up() -> None:
    """Load WeasyPrint, the fonts (cutting the CJK font once per installation) and the
    stylesheets now: a worker process calls this when it starts, so that no job or request
    pays for it in its first render."""
    design = default_design()
    colors = {"primary": design["primary_color"], "accent": design["accent_color"]}
    render_pdf("<p>证书 Certificate 2026</p>", colors=colors, images={})
