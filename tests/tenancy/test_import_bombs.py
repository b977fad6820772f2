"""Spreadsheet bombs sent to people import and to assign-by-file: refused with a message on
the upload field that names the limit, having read no more than the limit, writing nothing."""

from __future__ import annotations

import csv
import io
import random
import zipfile

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lms.auth.models import User
from lms.core import archives
from lms.core.archives import ZipLimits
from lms.courses.models import CourseVersion
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.tenancy.models import ImportBatch
from tests.core.bombs import (
    MB,
    SHEET,
    Counter,
    count_reads,
    entry,
    handmade_zip,
    many_rows_xlsx,
    people_xlsx,
    sheet,
    stored_entry,
    text_row,
    workbook_entries,
    workbook_parts,
    xlsx,
)
from tests.tenancy.pages import field_errors, mentions

HEADER = text_row(1, "name", "mobile")
DAMAGED = "The Excel workbook could not be read."


@pytest.fixture
def counter(monkeypatch) -> Counter:
    return count_reads(monkeypatch)


@pytest.fixture
def firm(create_firm):
    return create_firm()


@pytest.fixture
def hr(client, login, make_user, firm):
    login(make_user(role="firm_admin", firm=firm))
    return client


def post_multipart(client, url: str, values: dict):
    # Encoded in memory: the test client's own encoder spools bodies over 500 KB to a
    # temporary file it never closes (a ResourceWarning, and warnings are errors here).
    boundary, body = encode_multipart(values)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def upload(client, firm, data: bytes, filename: str = "people.xlsx"):
    return post_multipart(
        client,
        f"/firms/{firm.id}/people/import",
        {"file": FileStorage(io.BytesIO(data), filename)},
    )


def refusal(response) -> str:
    """The one error shown on the upload field of a re-rendered form."""
    assert response.status_code == 200
    errors = field_errors(response.get_data(as_text=True), "file")
    assert len(errors) == 1, errors
    return errors[0]


@pytest.fixture
def nothing_written(count):
    """Call at the end: no import batch and no new account."""
    users = count(User)

    def check():
        assert count(ImportBatch) == 0
        assert count(User) == users

    return check


@pytest.fixture
def csv_rows_read(monkeypatch) -> list:
    """One item per row the importer's CSV reader hands out during the test."""
    from lms.tenancy import importer

    read = []
    reader = csv.reader

    def counting_reader(*args, **kw):
        for row in reader(*args, **kw):
            read.append(row)
            yield row

    monkeypatch.setattr(importer.csv, "reader", counting_reader)
    return read


def ratio_bomb() -> bytes:
    # 10 MB of blanks inside the sheet XML deflate about 1,000:1 (a 10 KB upload).
    return xlsx(sheet(HEADER + b" " * (10 * MB)))


# --- rows ---------------------------------------------------------------------------------------


def assert_read_just_over_the_limit(counter) -> None:
    """Of the 400,000-row sheet, openpyxl parsed the header, 5,000 rows and the one too many,
    and inflated little more than those: the archive check inflates the sheet once (16.6 MB,
    nothing kept), reading 5,002 of its 400,001 rows takes about 1.25% of it again."""
    assert counter.sheet_rows <= 5_002
    with zipfile.ZipFile(io.BytesIO(many_rows_xlsx(400_000))) as archive:
        size = archive.getinfo(SHEET).file_size
    assert size < counter.by_entry[SHEET] < size * 1.02


def test_a_400000_row_workbook_is_refused_having_parsed_just_over_the_row_limit(
    hr, firm, counter, nothing_written
):
    # The review's file: 400,000 rows, under the size and ratio limits, default limits.
    error = refusal(upload(hr, firm, many_rows_xlsx(400_000)))
    assert mentions(error, "5000") and "rows" in error
    assert_read_just_over_the_limit(counter)
    nothing_written()


def test_one_row_over_the_default_limit_is_refused_and_a_file_at_the_limit_is_staged(
    hr, firm, count, nothing_written
):
    error = refusal(upload(hr, firm, people_xlsx(5_001)))
    assert mentions(error, "5000")
    nothing_written()
    response = upload(hr, firm, people_xlsx(5_000))
    assert response.status_code == 302, field_errors(response.get_data(as_text=True), "file")
    assert count(ImportBatch) == 1


def test_a_csv_of_100000_lines_is_read_only_to_just_past_the_row_limit(
    hr, firm, csv_rows_read, nothing_written
):
    lines = "".join(f"P{n},138{n:08d}\r\n" for n in range(100_000))
    error = refusal(upload(hr, firm, f"name,mobile\r\n{lines}".encode(), "people.csv"))
    assert mentions(error, "5000")
    assert len(csv_rows_read) <= 5_002
    nothing_written()


def test_a_sheet_claiming_a_million_rows_is_read_only_to_the_line_limit(
    hr, firm, counter, nothing_written
):
    # Three cells and a declared A1:XFD1048576: openpyxl would have padded every one of a
    # million rows to 16,384 columns. Now the rows stop at MAX_LINES, the columns at 100.
    rows = HEADER + text_row(2, "王芳", "13800000011") + text_row(1_048_576, "x", "y")
    error = refusal(upload(hr, firm, xlsx(sheet(rows, dimension="A1:XFD1048576"))))
    assert mentions(error, "20000")
    assert counter.rows_read <= 20_001
    nothing_written()


def test_a_csv_of_a_million_blank_lines_is_read_only_to_the_line_limit(
    hr, firm, csv_rows_read, nothing_written
):
    data = b"name,mobile\n" + b"\n" * 1_000_000 + b"P1,13800000011\n"
    error = refusal(upload(hr, firm, data, "people.csv"))
    assert mentions(error, "20000")
    assert len(csv_rows_read) == 20_001
    nothing_written()


def test_a_declared_dimension_is_not_trusted(hr, firm, count, counter):
    rows = HEADER + text_row(2, "王芳", "13800000011")
    response = upload(hr, firm, xlsx(sheet(rows, dimension="A1:XFD1048576")))
    assert response.status_code == 302
    assert counter.rows_read == 2
    assert count(ImportBatch) == 1


def test_a_huge_cell_is_cut_before_the_batch_is_stored(hr, firm, in_db):
    name = random.Random(0).randbytes(500_000).hex()  # a million characters, ratio about 2
    data = xlsx(sheet(HEADER + text_row(2, name, "13800000011")))
    response = upload(hr, firm, data)
    assert response.status_code == 302
    rows = in_db(lambda: db.session.scalars(select(ImportBatch.rows)).one())
    assert rows[0]["name"] == name[:256]
    # The preview says what it says of any name over 80 characters.
    page = hr.get(response.headers["Location"]).get_data(as_text=True)
    assert "at most 80 characters" in page


# --- the archive --------------------------------------------------------------------------------


def test_a_workbook_expanding_more_than_100_times_is_refused_before_a_byte_is_inflated(
    hr, firm, counter, nothing_written
):
    error = refusal(upload(hr, firm, ratio_bomb()))
    assert mentions(error, "100")
    assert counter.inflated == 0
    nothing_written()


def test_a_workbook_declaring_more_than_20_mb_is_refused_before_a_byte_is_inflated(
    hr, firm, counter, nothing_written
):
    # Default limits: a part declaring 21 MB (stored, so no ratio to speak of).
    entries = workbook_entries(sheet(HEADER))
    data = handmade_zip([*entries, stored_entry("xl/media/image1.png", declared=21 * MB)])
    error = refusal(upload(hr, firm, data))
    assert mentions(error, "20") and "MB" in error
    assert counter.inflated == 0
    nothing_written()


def test_a_workbook_expanding_past_a_lower_size_limit_is_refused_unread(
    hr, firm, counter, monkeypatch, nothing_written
):
    monkeypatch.setattr(
        archives, "SPREADSHEET", ZipLimits(max_entries=1000, max_total=MB, max_ratio=100)
    )
    noise = random.Random(1).randbytes(3 * MB // 2)  # 1.5 MB that does not compress
    entries = workbook_entries(sheet(HEADER))
    data = handmade_zip([*entries, entry("xl/media/image1.png", noise)])
    error = refusal(upload(hr, firm, data))
    assert mentions(error, "1") and "MB" in error
    assert counter.inflated == 0
    nothing_written()


def test_a_workbook_of_more_than_1000_parts_is_refused_before_a_byte_is_inflated(
    hr, firm, counter, nothing_written
):
    parts = [entry(name, data) for name, data in workbook_parts()]
    extra = [entry(f"xl/media/{n}.bin", b"") for n in range(1000)]
    error = refusal(upload(hr, firm, handmade_zip(parts + extra)))
    assert mentions(error, "1000")
    assert counter.inflated == 0
    nothing_written()


def test_a_sheet_inflating_past_its_declared_size_is_refused_having_inflated_no_more(
    hr, firm, counter, nothing_written
):
    # The directory says the sheet has 1,000 bytes; its stream holds 10 MB.
    entries = workbook_entries(sheet(HEADER + b" " * (10 * MB)), declared=1000)
    declared = sum(size for _name, _method, _data, _crc, size in entries)
    assert refusal(upload(hr, firm, handmade_zip(entries))) == DAMAGED
    assert counter.inflated <= declared
    nothing_written()


# --- bad input at the edge ----------------------------------------------------------------------

# Ten levels of ten: a billion "a"s from a few hundred bytes of DTD.
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(f'<!ENTITY {chr(98 + i)} "{f"&{chr(97 + i)};" * 10}">'.encode() for i in range(9))
    + b"]>"
    + sheet(b'<row r="1"><c r="A1" t="inlineStr"><is><t>&j;</t></is></c></row>')[
        len(b'<?xml version="1.0" encoding="UTF-8"?>') :
    ]
)
BAD = {
    # id: (file contents, file name, the message or None for "any one message")
    "truncated-workbook": (lambda: people_xlsx(3)[:2000], "people.xlsx", DAMAGED),
    "zip-without-a-workbook": (
        lambda: handmade_zip([entry("notes.txt", b"hello")]),
        "people.xlsx",
        DAMAGED,
    ),
    "sheet-not-xml": (lambda: xlsx(b"<worksheet><sheetData><row r='1'><c"), "a.xlsx", DAMAGED),
    "number-too-long-for-int": (
        lambda: xlsx(sheet(HEADER + b'<row r="2"><c r="A2"><v>' + b"9" * 5000 + b"</v></c></row>")),
        "people.xlsx",
        DAMAGED,
    ),
    "xml-entity-bomb": (lambda: xlsx(BILLION_LAUGHS), "people.xlsx", DAMAGED),
    "old-xls": (
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),
        "people.xls",
        "The file is neither UTF-8/GB18030 CSV nor an Excel workbook.",
    ),
    "csv-field-over-the-csv-limit": (
        lambda: b"name,mobile\r\n" + b"a" * 200_000 + b",1\r\n",
        "people.csv",
        None,
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_a_message_on_the_upload_field_never_a_server_error(
    hr, firm, nothing_written, case
):
    make, filename, message = BAD[case]
    error = refusal(upload(hr, firm, make(), filename))
    if message is not None:
        assert error == message
    else:
        assert mentions(error, "2")  # the line
    nothing_written()


# --- assign by file -----------------------------------------------------------------------------


@pytest.fixture
def assign(client, login, make_user, create_course, in_db, firm):
    """post(data) of a file to the firm's assign form, as its admin; a worker is there."""
    make_user(role="worker", firm=firm)
    course = create_course(firm)
    version_id = in_db(
        lambda: db.session.scalars(
            select(CourseVersion.id).where(CourseVersion.course_id == course.id)
        ).one()
    )
    login(make_user(role="firm_admin", firm=firm))

    def post(data: bytes, filename: str = "people.xlsx"):
        return post_multipart(
            client,
            f"/firms/{firm.id}/assign",
            {
                "course": str(version_id),
                "target": "file",
                "file": FileStorage(io.BytesIO(data), filename),
            },
        )

    return post


def test_assigning_from_a_400000_row_workbook_is_refused_and_assigns_nobody(assign, count, counter):
    error = refusal(assign(many_rows_xlsx(400_000)))
    assert mentions(error, "5000")
    assert_read_just_over_the_limit(counter)
    assert count(Enrollment) == 0


def test_assigning_from_a_workbook_bomb_is_refused_before_a_byte_is_inflated(
    assign, count, counter
):
    error = refusal(assign(ratio_bomb()))
    assert mentions(error, "100")
    assert counter.inflated == 0
    assert count(Enrollment) == 0
