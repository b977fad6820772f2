"""Course media uploads, checked by content: magic bytes plus a walk of the file's structure.

The browser's file name and content type are never trusted nor used for storage: a file is
accepted only if its bytes parse completely as one of the allowed formats, with nothing
before or after (so HTML or a ZIP appended to an image — a polyglot — is refused), and is
stored under a random name whose extension comes from the detected format.

Size limits per kind are set once, in lms.config.UPLOAD_LIMITS (images 5 MB, PDF 20 MB, video
200 MB), and read here through `limits()`: the forms' hints, these checks and the 413 page all
say the same number. Ordinary pages keep a small body limit (LMS_FORM_MAX_BYTES); only the
lesson editor's routes declare a larger one (`lms.core.web.upload_limit`, see
`editor_request_limit`), so big bodies cannot reach other endpoints.
"""

from __future__ import annotations

import re
import secrets
import struct
import zlib
from dataclasses import dataclass

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from lms.config import FORM_OVERHEAD, MB, UPLOAD_LIMITS

# Per category, in bytes; an app may override some with LMS_UPLOAD_LIMITS = {"video": ..., ...}.
DEFAULT_LIMITS = UPLOAD_LIMITS


@dataclass(frozen=True)
class Format:
    name: str
    category: str  # image | document | video
    extension: str  # what the stored file is called: it decides the served Content-Type


FORMATS = {
    f.name: f
    for f in (
        Format("png", "image", "png"),
        Format("jpeg", "image", "jpg"),
        Format("gif", "image", "gif"),
        Format("webp", "image", "webp"),
        Format("pdf", "document", "pdf"),
        Format("mp4", "video", "mp4"),
        Format("webm", "video", "webm"),
    )
}
CATEGORY_NAMES = {
    "image": _l("a PNG, JPEG, GIF or WebP image"),
    "document": _l("a PDF document"),
    "video": _l("an MP4 or WebM video"),
}


class UploadError(ValueError):
    """A refused upload; `message` is translated and names the field."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class CheckedFile:
    format: Format
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def limits() -> dict[str, int]:
    """The size limit of each kind of upload, in bytes (the app's, else the defaults)."""
    configured = current_app.config.get("LMS_UPLOAD_LIMITS") if has_app_context() else None
    return {**DEFAULT_LIMITS, **(configured or {})}


def request_limit(categories: tuple[str, ...]) -> int:
    """The request body limit for a route accepting these categories."""
    table = limits()
    return max(table[c] for c in categories) + FORM_OVERHEAD


def editor_request_limit() -> int:
    """The body limit of the lesson editor's routes: its one form may carry the lesson's text
    with any file it takes. A file over its own limit then comes back as an error next to its
    field, with the text kept, instead of a 413 page that cannot return the text."""
    return request_limit(tuple(limits()))


def megabytes(n: int) -> str:
    return f"{n / MB:g}"


def limit_mb(category: str) -> str:
    """The limit of one kind of upload in MB, as the hints and messages print it ("5")."""
    return megabytes(limits()[category])


def limits_text():
    """What the lesson editor takes, with the limits (for its 413 page)."""
    return _l(
        "Images can be up to %(image)s MB, PDF documents up to %(document)s MB and videos up "
        "to %(video)s MB.",
        image=limit_mb("image"),
        document=limit_mb("document"),
        video=limit_mb("video"),
    )


def image_limit_text():
    return _l("An image can be up to %(mb)s MB.", mb=limit_mb("image"))


def media_limit_text():
    return _l(
        "A PDF document can be up to %(document)s MB and a video up to %(video)s MB.",
        document=limit_mb("document"),
        video=limit_mb("video"),
    )


def read_limited(stream, limit: int) -> bytes:
    """At most limit + 1 bytes of an uploaded stream (one more tells that it is too big)."""
    return stream.read(limit + 1)


def check_upload(data: bytes, *, categories: tuple[str, ...], field: str) -> CheckedFile:
    """Accept `data` if its content is one of the formats of `categories`, within the size
    limit of its category; otherwise raise UploadError naming `field`."""
    if not data:
        raise UploadError(_l("%(field)s: the file is empty.", field=field))
    table = limits()
    largest = max(table[c] for c in categories)
    if len(data) > largest:
        raise UploadError(
            _l(
                "%(field)s: the file is larger than %(mb)s MB.",
                field=field,
                mb=megabytes(largest),
            )
        )
    fmt = detect_format(data)
    wanted = " / ".join(str(CATEGORY_NAMES[c]) for c in categories)
    if fmt is None or fmt.category not in categories:
        if _looks_like_markup(data[:4096]):
            raise UploadError(
                _l(
                    "%(field)s: this file contains HTML, SVG or XML, which is not allowed. "
                    "Upload %(kinds)s.",
                    field=field,
                    kinds=wanted,
                )
            )
        raise UploadError(
            _l(
                "%(field)s: this is not %(kinds)s, or the file is damaged. Its content was "
                "checked, not its name.",
                field=field,
                kinds=wanted,
            )
        )
    if len(data) > table[fmt.category]:
        raise UploadError(
            _l(
                "%(field)s: the file is larger than %(mb)s MB.",
                field=field,
                mb=megabytes(table[fmt.category]),
            )
        )
    if _MARKUP.search(_markup_scan_region(fmt, data)):
        # Valid structure, but markup hidden inside (a comment chunk, a metadata box): a file
        # that is also a web page is refused even though we serve it with nosniff.
        raise UploadError(
            _l(
                "%(field)s: this file also contains HTML or script code, which is not allowed.",
                field=field,
            )
        )
    if fmt.name == "pdf" and _PDF_ACTIVE.search(_pdf_outside_streams(data)):
        raise UploadError(
            _l(
                "%(field)s: this PDF contains scripts, launch actions or embedded files, which "
                "are not allowed. Print it to a new PDF and upload that.",
                field=field,
            )
        )
    return CheckedFile(fmt, data)


def random_media_path(fmt: Format) -> str:
    """A fresh package path for an upload: media/<random>.<extension of the detected format>."""
    return f"media/{secrets.token_hex(16)}.{fmt.extension}"


# --- content detection -------------------------------------------------------------------------

# Tokens of at least five bytes: compressed media is close to random bytes, and shorter
# tokens (`<img`, `<a `) would turn up by chance in a large file.
_MARKUP = re.compile(
    rb"<(?:script|html|body|iframe|object|embed|svg[\s>/])|<!doctype|<\?xml|javascript:",
    re.IGNORECASE,
)
_PDF_ACTIVE = re.compile(rb"/(?:JavaScript|JS|Launch|EmbeddedFiles?|RichMedia)(?![A-Za-z0-9])")
_PDF_STREAM = re.compile(rb"stream\r?\n.*?endstream", re.DOTALL)


def _looks_like_markup(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"<") or bool(_MARKUP.search(head))


def _pdf_outside_streams(data: bytes) -> bytes:
    """A PDF's objects without their (compressed, binary) stream contents."""
    return _PDF_STREAM.sub(b"stream endstream", data)


def _markup_scan_region(fmt: Format, data: bytes) -> bytes:
    """Where hidden markup would sit: all of an image, a PDF's objects, a video's head and tail
    (its metadata boxes; the frames in between are compressed data)."""
    if fmt.category == "video" and len(data) > 2 * MB:
        return data[:MB] + b" " + data[-MB:]
    if fmt.name == "pdf":
        return _pdf_outside_streams(data)
    return data


def detect_format(data: bytes) -> Format | None:
    """The format whose structure `data` follows exactly, or None."""
    for name, check in _CHECKS:
        try:
            if check(data):
                return FORMATS[name]
        except (IndexError, struct.error, ValueError):
            continue  # truncated or malformed: not this format
    return None


def _png(data: bytes) -> bool:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    pos, first = 8, True
    while pos < len(data):
        if pos + 12 > len(data):
            return False
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data) or not ctype.isalpha():
            return False
        if first and ctype != b"IHDR":
            return False
        first = False
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            return False
        pos = end
        if ctype == b"IEND":
            return pos == len(data)  # nothing may follow the end chunk
    return False


def _gif(data: bytes) -> bool:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 14:
        return False
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)

    def sub_blocks(p: int) -> int:
        while True:
            size = data[p]
            p += 1
            if size == 0:
                return p
            p += size

    while True:
        marker = data[pos]
        if marker == 0x3B:  # trailer
            return pos + 1 == len(data)
        if marker == 0x21:  # extension: label, then data sub-blocks
            pos = sub_blocks(pos + 2)
        elif marker == 0x2C:  # image descriptor, local colour table, LZW size, data
            packed = data[pos + 9]
            pos += 10 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
            pos = sub_blocks(pos + 1)
        else:
            return False
        if pos > len(data):
            return False


def _jpeg(data: bytes) -> bool:
    if not data.startswith(b"\xff\xd8\xff"):
        return False
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image
            return pos + 2 == len(data)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            return False
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            while True:
                pos = data.index(b"\xff", pos)
                nxt = data[pos + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                    pos += 2
                    continue
                break
    return False


def _webp(data: bytes) -> bool:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return False
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 != len(data):
        return False
    pos, first = 12, True
    while pos < len(data):
        ctype = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if first and ctype not in (b"VP8 ", b"VP8L", b"VP8X"):
            return False
        first = False
        pos += 8 + size + (size & 1)
    return pos == len(data) and not first


def _pdf(data: bytes) -> bool:
    if not re.match(rb"%PDF-[12]\.\d", data[:8]):
        return False
    return b"%%EOF" in data[-1024:] and data[-1024:].rstrip().endswith(b"%%EOF")


_MP4_BRANDS = {
    b"isom",
    b"iso2",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"avc1",
    b"M4V ",
    b"dash",
    b"mmp4",
    b"MSNV",
    b"f4v ",
}


def _mp4(data: bytes) -> bool:
    if data[4:8] != b"ftyp" or data[8:12] not in _MP4_BRANDS:
        return False
    pos, seen = 0, set()
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        btype = data[pos + 4 : pos + 8]
        if len(btype) != 4 or not all(32 <= c < 127 for c in btype):
            return False
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
        elif size == 0:
            size = len(data) - pos
        if size < 8 or pos + size > len(data):
            return False
        seen.add(btype)
        pos += size
    return pos == len(data) and b"moov" in seen


def _ebml_vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int, bool]:
    """(value, length, all ones) of an EBML variable-length integer at `pos`."""
    first = data[pos]
    if first == 0:
        raise ValueError("bad EBML vint")
    length = 9 - first.bit_length()
    value = first if keep_marker else first & (0xFF >> length)
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    if pos + length > len(data):
        raise ValueError("truncated EBML vint")
    all_ones = not keep_marker and value == (1 << (7 * length)) - 1
    return value, length, all_ones


def _webm(data: bytes) -> bool:
    if not data.startswith(b"\x1a\x45\xdf\xa3"):
        return False
    size, n, unknown = _ebml_vint(data, 4, keep_marker=False)
    if unknown:
        return False
    header_end = 4 + n + size
    pos, doctype = 4 + n, None
    while pos < header_end:
        eid, idlen, _ = _ebml_vint(data, pos, keep_marker=True)
        esize, slen, _ = _ebml_vint(data, pos + idlen, keep_marker=False)
        start = pos + idlen + slen
        if eid == 0x4282:
            doctype = data[start : start + esize].rstrip(b"\x00")
        pos = start + esize
    if doctype != b"webm" or pos != header_end:
        return False
    if data[header_end : header_end + 4] != b"\x18\x53\x80\x67":  # Segment
        return False
    size, n, unknown = _ebml_vint(data, header_end + 4, keep_marker=False)
    return unknown or header_end + 4 + n + size == len(data)


_CHECKS = (
    ("png", _png),
    ("jpeg", _jpeg),
    ("gif", _gif),
    ("webp", _webp),
    ("pdf", _pdf),
    ("mp4", _mp4),
    ("webm", _webm),
)
