"""Decompression bombs for the tests, each made in well under a second: zips of zeros, zips
written byte by byte (so their directory can declare any size), workbooks of many rows, and a
counter of the bytes zipfile inflates and of the sheet rows openpyxl parses."""

from __future__ import annotations

import collections
import functools
import io
import struct
import zipfile
import zlib

from openpyxl import Workbook

MB = 1024 * 1024
SHEET = "xl/worksheets/sheet1.xml"
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


@functools.cache
def deflated_zeros(megabytes: int) -> tuple[bytes, int]:
    """A raw DEFLATE stream of `megabytes` MB of zeros and their CRC-32. After a full flush the
    compressor starts afresh, so one compressed megabyte is repeated instead of compressing
    all of them (a 450 MB entry in 0.2 s)."""
    chunk = bytes(MB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    return block * megabytes + compressor.flush(), crc


def entry(name: str, content: bytes, *, declared: int | None = None):
    """An entry for `handmade_zip`: `content` deflated, declaring `declared` bytes if given."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(content) + compressor.flush()
    size = len(content) if declared is None else declared
    return (name, zipfile.ZIP_DEFLATED, data, zlib.crc32(content), size)


def zeros_entry(name: str, megabytes: int):
    data, crc = deflated_zeros(megabytes)
    return (name, zipfile.ZIP_DEFLATED, data, crc, megabytes * MB)


def stored_entry(name: str, *, declared: int):
    """A stored entry declaring `declared` bytes and holding none: refused before reading,
    or else it would read as damaged."""
    return (name, zipfile.ZIP_STORED, b"", 0, declared, declared)


def handmade_zip(entries) -> bytes:
    """A zip written byte by byte from (name, method, data, crc, declared size[, declared
    compressed size]) entries, so that its directory says whatever the test needs (APPNOTE
    4.3.7, 4.3.12, 4.3.16)."""
    out = io.BytesIO()
    directory = []
    for name, method, data, crc, size, *compressed in entries:
        packed = compressed[0] if compressed else len(data)
        raw = name.encode()
        offset = out.tell()
        out.write(
            struct.pack(
                "<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 33, crc, packed, size, len(raw), 0
            )
            + raw
            + data
        )
        directory.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                33,
                crc,
                packed,
                size,
                len(raw),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + raw
        )
    start = out.tell()
    out.write(b"".join(directory))
    out.write(
        struct.pack(
            "<4s4H2LH",
            b"PK\x05\x06",
            0,
            0,
            len(directory),
            len(directory),
            out.tell() - start,
            start,
            0,
        )
    )
    return out.getvalue()


@functools.cache
def workbook_parts() -> tuple[tuple[str, bytes], ...]:
    """The parts of a minimal one-sheet workbook as openpyxl writes it."""
    book = Workbook(write_only=True)
    book.create_sheet()
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return tuple((i.filename, archive.read(i)) for i in archive.infolist())


def workbook_entries(sheet_xml: bytes, *, declared: int | None = None) -> list:
    """`handmade_zip` entries of a workbook whose first sheet is `sheet_xml`."""
    return [
        entry(name, sheet_xml, declared=declared) if name == SHEET else entry(name, data)
        for name, data in workbook_parts()
    ]


def xlsx(sheet_xml: bytes, *, level: int = 6) -> bytes:
    """A workbook whose first sheet is `sheet_xml`, written by zipfile."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in workbook_parts():
            archive.writestr(name, sheet_xml if name == SHEET else data)
    return buffer.getvalue()


def sheet(rows: bytes, *, dimension: str | None = None) -> bytes:
    head = SHEET_HEAD
    if dimension:
        head += f'<dimension ref="{dimension}"/>'.encode()
    return head + b"<sheetData>" + rows + b"</sheetData></worksheet>"


def text_row(line: int, *values: str) -> bytes:
    cells = "".join(
        f'<c r="{chr(65 + i)}{line}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{line}">{cells}</row>'.encode()


@functools.cache
def many_rows_xlsx(rows: int, header: tuple[str, ...] = ("name", "mobile")) -> bytes:
    """A workbook of a header and `rows` rows of one number each (about 41 bytes a row, so
    400,000 rows inflate to 16.6 MB, under the 20 MB limit, at a ratio under 10)."""
    body = b"".join(f'<row r="{n}"><c><v>{n}</v></c></row>'.encode() for n in range(2, rows + 2))
    return xlsx(sheet(text_row(1, *header) + body), level=1)


def people_xlsx(rows: int) -> bytes:
    """A workbook of a header and `rows` plausible people (name, mobile)."""
    body = b"".join(text_row(n, f"P{n}", str(13_800_000_000 + n)) for n in range(2, rows + 2))
    return xlsx(sheet(text_row(1, "name", "mobile") + body))


class Counter:
    def __init__(self):
        self.inflated = 0  # bytes zipfile handed out, all archives together
        self.by_entry: dict[str, int] = collections.defaultdict(int)  # the same, per entry
        self.sheet_rows = 0  # rows openpyxl's sheet parser yielded
        self.rows_read = 0  # rows openpyxl's iter_rows handed out (made-up gap rows too)

    def count(self, stream, data: bytes) -> bytes:
        self.inflated += len(data)
        self.by_entry[stream.name] += len(data)
        return data


def count_reads(monkeypatch) -> Counter:
    """A Counter of what the code under test inflates and parses for the rest of the test
    (a test module's `counter` fixture calls it)."""
    from openpyxl.worksheet import _reader
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    seen = Counter()
    read, read1 = zipfile.ZipExtFile.read, zipfile.ZipExtFile.read1

    def counted_read(self, n=-1):
        return seen.count(self, read(self, n))

    def counted_read1(self, n=-1):
        return seen.count(self, read1(self, n))

    parse = _reader.WorkSheetParser.parse

    def counted_parse(self):
        for row in parse(self):
            seen.sheet_rows += 1
            yield row

    iter_rows = ReadOnlyWorksheet.iter_rows

    def counted_iter_rows(self, *args, **kw):
        for row in iter_rows(self, *args, **kw):
            seen.rows_read += 1
            yield row

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counted_read)
    monkeypatch.setattr(zipfile.ZipExtFile, "read1", counted_read1)
    monkeypatch.setattr(_reader.WorkSheetParser, "parse", counted_parse)
    monkeypatch.setattr(ReadOnlyWorksheet, "iter_rows", counted_iter_rows)
    return seen
