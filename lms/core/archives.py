"""Uploaded zip files (XLSX workbooks, course packages) opened within limits, never blindly.

A zip says what it holds before anything is inflated: its end record gives the number of
entries and the size of the central directory, the directory gives each entry's sizes. An
archive is refused on those declared numbers first (too many entries, too much in total, an
entry inflating more than `max_ratio` times), and every entry is then read in chunks that stop
as soon as more comes out than it declared or than the limits allow, because declared sizes
can lie. A reader of an uploaded zip goes through `open_zip` and `read_entry` (or `check_zip`
before handing the bytes to a library such as openpyxl); nothing here knows who reads it, so
`ArchiveError` carries the limit and the caller words the message for its own users.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MB = 1024 * 1024
CHUNK = 64 * 1024
# An entry smaller than this is not held to the ratio: a short XML part of repeated tags can
# compress 200:1 and is harmless (Apache POI's ZipSecureFile has the same grace).
RATIO_GRACE = 100 * 1024
# The most central-directory bytes one entry may take on average (46 fixed bytes, its name,
# extra fields): bounds what zipfile parses before the entry count can be checked.
DIRECTORY_BYTES_PER_ENTRY = 1024


# What zipfile and zlib raise for a damaged archive: a bad CRC, a local header not matching the
# directory, a truncated stream, an encrypted entry (RuntimeError), an unknown compression.
_DAMAGED = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
)


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int
    max_total: int  # bytes, every entry inflated
    max_ratio: int  # inflated size / compressed size of one entry
    max_entry: int | None = None  # bytes, one entry inflated (None: only the total)


# XLSX uploads (people import, assign by file). A 5,000-row people sheet inflates to about
# 2 MB with a compression ratio of 10–20; 20 MB leaves ten times that for extra columns and
# sheets while bounding what openpyxl holds in memory (it loads the shared strings whole).
# Apache POI refuses ratios above 100 (its MIN_INFLATE_RATIO of 0.01) on the same grounds; a
# workbook is a dozen parts, a thousand is far beyond any real one.
SPREADSHEET = ZipLimits(max_entries=1000, max_total=20 * MB, max_ratio=100, max_entry=20 * MB)


class ArchiveError(ValueError):
    """A zip refused before or while it was read; str() says why in English (logs, CLI).

    `kind` is "damaged", "entries", "size" or "ratio"; `limit` is the limit passed (a count,
    bytes or a ratio), so the caller can tell its users what to do in their language."""

    def __init__(self, kind: str, detail: str, *, limit: int | None = None, name: str = ""):
        super().__init__(detail)
        self.kind = kind
        self.limit = limit
        self.name = name


def open_zip(source: bytes | Path | str | BinaryIO, limits: ZipLimits) -> zipfile.ZipFile:
    """The zip of `source` once its end record and central directory are within `limits`."""
    if isinstance(source, bytes | bytearray):
        source = io.BytesIO(source)
    if isinstance(source, Path | str):
        try:
            with open(source, "rb") as fp:
                _check_end_record(fp, limits)
        except OSError as exc:
            raise ArchiveError("damaged", f"cannot be read ({exc})") from exc
    else:
        _check_end_record(source, limits)
        source.seek(0)
    try:
        archive = zipfile.ZipFile(source)
    except _DAMAGED as exc:
        raise ArchiveError("damaged", f"not a readable zip file ({exc})") from exc
    try:
        check_directory(archive.infolist(), limits)
    except ArchiveError:
        archive.close()
        raise
    return archive


def check_directory(infos: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Refuse an archive whose declared entries break `limits` (nothing is inflated)."""
    if len(infos) > limits.max_entries:
        raise _too_many(limits)
    total = 0
    for info in infos:
        # The ratio first: it is what gives a bomb away, whatever the sizes.
        if info.file_size > RATIO_GRACE and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise ArchiveError(
                "ratio",
                f"{info.filename} expands more than {limits.max_ratio} times "
                f"({_size(info.compress_size)} to {_size(info.file_size)})",
                limit=limits.max_ratio,
                name=info.filename,
            )
        if limits.max_entry is not None and info.file_size > limits.max_entry:
            raise ArchiveError(
                "size",
                f"{info.filename} expands to more than {_size(limits.max_entry)}",
                limit=limits.max_entry,
                name=info.filename,
            )
        total += info.file_size
        if total > limits.max_total:
            raise ArchiveError(
                "size",
                f"expands to more than {_size(limits.max_total)}",
                limit=limits.max_total,
                name=info.filename,
            )


def read_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits, *, keep: bool = True
) -> bytes:
    """The inflated bytes of one entry, stopping as soon as more come out than it declared
    or than `limits` allow for one entry (with keep=False: checked, and nothing kept)."""
    allowed = info.file_size
    if limits.max_entry is not None:
        allowed = min(allowed, limits.max_entry)
    chunks: list[bytes] = []
    got = 0
    try:
        with archive.open(info) as stream:
            # Ask for one byte more than allowed: getting it proves the entry is bigger.
            while chunk := stream.read(min(CHUNK, allowed + 1 - got)):
                got += len(chunk)
                if got > allowed:
                    raise _overflow(info, limits)
                if keep:
                    chunks.append(chunk)
    except ArchiveError:
        raise
    except _DAMAGED as exc:
        raise ArchiveError(
            "damaged", f"{info.filename} cannot be read ({exc})", name=info.filename
        ) from exc
    return b"".join(chunks)


def check_zip(data: bytes, limits: ZipLimits) -> None:
    """Inflate every entry of an uploaded zip within `limits`, keeping nothing; raise
    ArchiveError if it is damaged or breaks a limit. Run it before a library opens the bytes."""
    with open_zip(data, limits) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                read_entry(archive, info, limits, keep=False)


def _overflow(info: zipfile.ZipInfo, limits: ZipLimits) -> ArchiveError:
    if limits.max_entry is not None and info.file_size > limits.max_entry:
        return ArchiveError(
            "size",
            f"{info.filename} expands to more than {_size(limits.max_entry)}",
            limit=limits.max_entry,
            name=info.filename,
        )
    # More than the directory declared: the archive lies about itself.
    return ArchiveError(
        "damaged",
        f"{info.filename} expands to more than the {_size(info.file_size)} it declared",
        name=info.filename,
    )


def _size(n: int) -> str:
    for unit, scale in (("MB", MB), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


def _too_many(limits: ZipLimits) -> ArchiveError:
    return ArchiveError(
        "entries", f"more than {limits.max_entries} entries", limit=limits.max_entries
    )


# The end of central directory record, and its ZIP64 locator and record (APPNOTE 4.3.14–16).
_END = struct.Struct("<4s4H2LH")
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")


def _check_end_record(fp: BinaryIO, limits: ZipLimits) -> None:
    """Refuse a zip whose end record announces more entries than allowed, or a central
    directory too big for them, before zipfile parses one record of it."""
    fp.seek(0, io.SEEK_END)
    size = fp.tell()
    start = max(0, size - (_END.size + 0xFFFF))  # the record, then a comment of up to 64 KB
    fp.seek(start)
    tail = fp.read()
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + _END.size > len(tail):
        raise ArchiveError("damaged", "not a zip file (no end of central directory record)")
    _sig, _disk, _cd_disk, _disk_entries, entries, directory_size, _offset, _comment = (
        _END.unpack_from(tail, pos)
    )
    end_at = start + pos
    if (entries == 0xFFFF or directory_size == 0xFFFFFFFF) and end_at >= (
        _END64_LOCATOR.size + _END64.size
    ):
        fp.seek(end_at - _END64_LOCATOR.size - _END64.size)
        head = fp.read(_END64.size + _END64_LOCATOR.size)
        if head[_END64.size : _END64.size + 4] == b"PK\x06\x07" and head[:4] == b"PK\x06\x06":
            fields = _END64.unpack_from(head)
            entries, directory_size = fields[7], fields[8]
    if entries > limits.max_entries:
        raise _too_many(limits)
    if directory_size > limits.max_entries * DIRECTORY_BYTES_PER_ENTRY:
        raise _too_many(limits)
