"""Opening uploaded zips within limits: refused on what the zip declares before anything is
inflated, and never more inflated than an entry declared or the limits allow."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from lms.core import archives
from lms.core.archives import ArchiveError, ZipLimits
from tests.core.bombs import (
    MB,
    Counter,
    count_reads,
    entry,
    handmade_zip,
    people_xlsx,
    stored_entry,
    workbook_entries,
    xlsx,
    zeros_entry,
)

LIMITS = ZipLimits(max_entries=10, max_total=1 * MB, max_ratio=100, max_entry=512 * 1024)


@pytest.fixture
def counter(monkeypatch) -> Counter:
    return count_reads(monkeypatch)


def zipped(files: dict[str, bytes], **kw) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, **kw) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def noise(n: int, seed: int = 0) -> bytes:
    """Bytes that do not compress (ratio about 1)."""
    return random.Random(seed).randbytes(n)


def refused(data: bytes, limits: ZipLimits = LIMITS) -> ArchiveError:
    with pytest.raises(ArchiveError) as info:
        archives.check_zip(data, limits)
    return info.value


def test_a_zip_within_the_limits_reads_entry_by_entry(counter):
    data = zipped({"a.txt": b"hello " * 1000, "b.bin": noise(300 * 1024)})
    archives.check_zip(data, LIMITS)
    with archives.open_zip(data, LIMITS) as archive:
        assert [archives.read_entry(archive, i, LIMITS) for i in archive.infolist()] == [
            b"hello " * 1000,
            noise(300 * 1024),
        ]


def test_an_entry_inflating_more_than_the_ratio_is_refused_before_a_byte_is_inflated(counter):
    # 10 MB of zeros deflate to about 10 KB: a ratio of 1,000.
    error = refused(handmade_zip([zeros_entry("zeros.bin", 10)]), LIMITS)
    assert (error.kind, error.limit, error.name) == ("ratio", 100, "zeros.bin")
    assert "more than 100 times" in str(error)
    assert counter.inflated == 0


def test_a_small_entry_is_not_held_to_the_ratio():
    # 64 KB of zeros compress 1,000:1 but are harmless: under the grace size.
    archives.check_zip(zipped({"blank.xml": bytes(64 * 1024)}), LIMITS)


def test_a_declared_total_over_the_limit_is_refused_before_a_byte_is_inflated(counter):
    files = {f"part{i}.bin": noise(400 * 1024, seed=i) for i in range(3)}  # 1.2 MB in all
    error = refused(zipped(files))
    assert (error.kind, error.limit) == ("size", 1 * MB)
    assert counter.inflated == 0


def test_one_entry_over_the_entry_limit_is_refused_before_a_byte_is_inflated(counter):
    error = refused(zipped({"big.bin": noise(600 * 1024)}))
    assert (error.kind, error.limit, error.name) == ("size", 512 * 1024, "big.bin")
    assert counter.inflated == 0


def test_declared_sizes_are_judged_without_the_data_being_there(counter):
    # Directory entries declaring 2 GB in all (stored, so ratio 1) over an empty body: refused
    # on the declaration alone; reading them would only have found a damaged file.
    data = handmade_zip([stored_entry(f"{i}.bin", declared=500 * MB) for i in range(4)])
    limits = ZipLimits(max_entries=10, max_total=1024 * MB, max_ratio=100)
    assert refused(data, limits).kind == "size"
    assert counter.inflated == 0


def test_too_many_entries_are_refused_from_the_end_record_before_the_directory_is_parsed(
    monkeypatch,
):
    data = zipped({f"{i}.txt": b"" for i in range(11)})
    parsed = []
    real = zipfile.ZipFile._RealGetContents
    monkeypatch.setattr(
        zipfile.ZipFile, "_RealGetContents", lambda self: parsed.append(1) or real(self)
    )
    error = refused(data)
    assert (error.kind, error.limit) == ("entries", 10)
    assert parsed == []


def test_an_end_record_understating_its_entries_is_caught_by_the_directory(monkeypatch):
    data = bytearray(zipped({f"{i}.txt": b"" for i in range(11)}))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (1).to_bytes(2, "little") * 2  # "one entry"
    assert refused(bytes(data)).kind == "entries"


def test_a_zip64_end_record_is_read_for_the_entry_count(monkeypatch):
    # zipfile writes the ZIP64 end records once the count passes its limit: lower the limit.
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 3)
    many = zipped({f"{i}.txt": b"" for i in range(11)})
    assert b"PK\x06\x06" in many
    assert refused(many).kind == "entries"
    archives.check_zip(zipped({f"{i}.txt": b"x" for i in range(5)}), LIMITS)


def test_an_entry_inflating_past_its_declared_size_is_stopped_there(counter):
    # The directory says 1,000 bytes (no ratio check under the grace size); the stream holds
    # 10 MB. Reading stops at what was declared and the archive counts as damaged.
    data = handmade_zip([entry("liar.xml", bytes(10 * MB), declared=1000)])
    error = refused(data)
    assert error.kind == "damaged"
    assert counter.inflated <= 1001


class _Endless:
    """An entry stream that never ends, whatever the directory said."""

    def __init__(self):
        self.handed_out = 0

    def read(self, n=-1):
        self.handed_out += n
        return b"\0" * n

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize(
    "limits, declared, kind",
    [
        (LIMITS, 1000, "damaged"),  # more than declared
        (ZipLimits(max_entries=1, max_total=MB, max_ratio=100, max_entry=4096), 10**9, "size"),
    ],
)
def test_reading_stops_one_byte_past_what_is_allowed_whatever_the_stream_does(
    limits, declared, kind
):
    stream = _Endless()
    archive = type("Archive", (), {"open": lambda self, info: stream})()
    info = zipfile.ZipInfo("endless.bin")
    info.file_size = declared
    with pytest.raises(ArchiveError) as error:
        archives.read_entry(archive, info, limits)
    assert error.value.kind == kind
    assert stream.handed_out == min(declared, limits.max_entry) + 1


@pytest.mark.parametrize(
    "data",
    [
        b"not a zip at all",
        b"PK\x03\x04 a local header and nothing else",
        zipped({"a.txt": b"hello " * 1000})[:-30],  # truncated end record
        zipped({"a.txt": b"hello " * 1000}).replace(b"PK\x01\x02", b"PK\x01\x09"),
    ],
    ids=["text", "header-only", "truncated", "bad-directory"],
)
def test_a_damaged_zip_is_refused_as_damaged(data):
    assert refused(data).kind == "damaged"


def test_a_bad_crc_is_refused_as_damaged():
    name, method, body, crc, size = entry("a.txt", b"hello " * 1000)
    assert refused(handmade_zip([(name, method, body, crc ^ 1, size)])).kind == "damaged"


def test_a_real_workbook_passes_the_spreadsheet_limits():
    archives.check_zip(people_xlsx(5000), archives.SPREADSHEET)
    archives.check_zip(handmade_zip(workbook_entries(b"<worksheet/>")), archives.SPREADSHEET)
    archives.check_zip(xlsx(b"<worksheet/>"), archives.SPREADSHEET)
