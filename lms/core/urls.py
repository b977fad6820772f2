"""Where the app may send a browser back to: paths on this site only (no open redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(url: str | None) -> str | None:
    """`url` if it is a path on this site, else None (the caller then uses its default page).

    Browsers drop tabs and newlines anywhere in a URL, skip leading spaces and control
    characters, and read a backslash as a slash, so "/\\t/evil.example", " //evil.example" and
    "/\\\\evil.example" all lead off-site: a URL holding any control character or white space
    is refused rather than cleaned, and so is one that starts with "//" once backslashes are
    slashes, or that has a scheme or a host.
    """
    if not url or not isinstance(url, str):
        return None
    if any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in url):
        return None
    normalised = url.replace("\\", "/")
    if not normalised.startswith("/") or normalised.startswith("//"):
        return None
    try:
        parts = urlsplit(normalised)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        return None
    return url
