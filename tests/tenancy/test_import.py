"""Importing a firm's people from CSV or Excel: preview with every row's errors, nothing
written before confirming, one write on confirm, idempotent on re-import and double submit."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from lms.auth.models import User
from lms.extensions import db
from lms.tenancy.models import ImportBatch, ImportRow, Invitation, Membership
from tests.tenancy.pages import (
    field_errors,
    flashes,
    mentions,
    numbers,
    summary_numbers,
    table_rows,
)

EN_HEADER = ["Name", "Mobile", "E-mail", "Employee Number", "Job Role", "Role"]
ZH_HEADER = ["姓名", "手机号", "邮箱", "工号", "岗位", "角色"]
COLUMNS = ["name", "mobile", "email", "employee_no", "job_role", "role"]

# Three valid people: (name, mobile as typed, e-mail, employee number, job role, role).
VALID_ROWS = [
    ["王芳", "138 0000 0011", "wang.fang@example.com", "G001", "机修钳工", "学员"],
    ["陈静", "+86 138-0000-0012", "", "G002", "电工", "培训师"],
    ["Li Na", "13800000013", "Li.Na@Example.com", "G003", "", "worker"],
]
VALID_MOBILES = ["13800000011", "13800000012", "13800000013"]


def csv_bytes(rows: list[list], encoding: str = "utf-8-sig") -> bytes:
    text = "\r\n".join(",".join(str(c) for c in row) for row in rows) + "\r\n"
    return text.encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    wb = Workbook()
    sheet = wb.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _xlsx_rows(header: list[str]) -> list[list]:
    # Excel users type mobile numbers and employee numbers as numbers.
    return [header] + [
        ["赵磊", 13800000011, None, 3001, "电工", "worker"],
        ["孙强", 13800000012.0, "sun.qiang@example.com", 3002, None, "trainer"],
        ["周敏", "13800000013", None, None, "安全员", None],
    ]


FORMATS = {
    "csv-utf8-bom-english": (
        lambda: csv_bytes([EN_HEADER, *VALID_ROWS]),
        "people.csv",
    ),
    "csv-utf8-bom-chinese": (
        lambda: csv_bytes([ZH_HEADER, *VALID_ROWS]),
        "人员.csv",
    ),
    "csv-gb18030-chinese": (
        lambda: csv_bytes([ZH_HEADER, *VALID_ROWS], encoding="gb18030"),
        "人员名单.csv",
    ),
    "xlsx-chinese": (
        lambda: xlsx_bytes(_xlsx_rows(["姓名", "手机号码", "电子邮箱", "工号", "岗位", "角色"])),
        "名单.xlsx",
    ),
    "xlsx-english": (lambda: xlsx_bytes(_xlsx_rows(EN_HEADER)), "people.xlsx"),
}


@pytest.fixture
def consortium(create_consortium):
    return create_consortium()


@pytest.fixture
def firm(create_firm, create_role, consortium):
    # Job roles are named in files by their name (Chinese or English) or their id.
    create_role("fitter", name_zh="机修钳工")
    create_role("electrician", name_zh="电工", name_en="Electrician")
    create_role("safety", name_zh="安全员")
    return create_firm(consortium=consortium)


@pytest.fixture
def firm_admin(make_user, firm):
    return make_user(role="firm_admin", firm=firm)


@pytest.fixture
def hr(client, login, firm_admin):
    login(firm_admin)
    return client


def upload(client, firm, data: bytes, filename: str = "people.csv"):
    return client.post(
        f"/firms/{firm.id}/people/import",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def stage(client, firm, data: bytes, filename: str = "people.csv") -> str:
    """Upload a file and return its preview URL."""
    response = upload(client, firm, data, filename)
    assert response.status_code == 302, field_errors(response.get_data(as_text=True), "file")
    location = response.headers["Location"]
    assert re.search(rf"/firms/{firm.id}/people/import/[\w-]+$", location), location
    return location


def preview(client, url: str) -> tuple[str, dict[int, dict]]:
    """The preview page and, per file row number, the error messages shown in each column."""
    response = client.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = {}
    for cells in table_rows(html):
        assert len(cells) == 1 + len(COLUMNS) + 1  # row number, the columns, the result
        rows[int(cells[0]["text"])] = {
            key: cell["errors"]
            for key, cell in zip(COLUMNS, cells[1:-1], strict=True)
            if cell["errors"]
        }
    return html, rows


def actions(in_db, firm, url: str) -> dict[int, str]:
    """What confirming the batch behind a preview URL would do with each row (by row number):
    create, add, unchanged or error, as checked at upload and stored with the batch."""
    public_id = url.rsplit("/", 1)[1]

    def go():
        batch = db.session.scalars(
            select(ImportBatch).where(ImportBatch.public_id == public_id)
        ).one()
        rows = db.session.execute(
            select(ImportRow.row, ImportRow.action).where(ImportRow.batch_id == batch.id)
        )
        return dict(rows.all())

    return in_db(go)


def confirm_button(html: str) -> str:
    match = re.search(
        r'<button type="submit" class="button primary"([^>]*)>(.*?)</button>', html, re.S
    )
    assert match, "no confirm button"
    return match.group(1) + "|" + match.group(2)


def finished_counts(html: str) -> list[int]:
    """The counts of the "import finished" message: new, added, unchanged, skipped."""
    [message] = flashes(html, "success")
    return numbers(message)


def _people_state(in_db, firm) -> dict:
    def go():
        users = db.session.scalars(select(User).order_by(User.id)).all()
        memberships = db.session.scalars(select(Membership).order_by(Membership.id)).all()
        return {
            "users": [(u.id, u.name, u.email, u.mobile) for u in users],
            "memberships": [
                (m.user_id, m.firm_id, m.role, m.job_role_id, m.employee_no, m.ends_on)
                for m in memberships
            ],
        }

    return in_db(go)


def _member(in_db, firm, mobile: str) -> dict | None:
    def go():
        user = db.session.scalars(select(User).where(User.mobile == mobile)).first()
        if user is None:
            return None
        ms = [m for m in user.memberships if m.firm_id == firm.id]
        return {
            "user_id": user.id,
            "name": user.name,
            "email": user.email,
            "activated": user.password_hash is not None,
            "firm": [(m.role, m.job_role_id, m.employee_no, m.is_current()) for m in ms],
        }

    return in_db(go)


# --- formats and headers -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_valid_file_in_each_format_and_header_language_imports_everyone(
    hr, in_db, count, firm, fmt
):
    make, filename = FORMATS[fmt]
    url = stage(hr, firm, make(), filename)
    html, rows = preview(hr, url)
    assert sorted(rows) == [2, 3, 4]
    assert all(errors == {} for errors in rows.values())
    assert actions(in_db, firm, url) == {2: "create", 3: "create", 4: "create"}
    assert summary_numbers(html) == [3, 0, 0, 0]  # new, to add, unchanged, errors
    users_before = count(User)

    confirmed = hr.post(url)
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"].endswith(f"/firms/{firm.id}/people")
    assert count(User) == users_before + 3
    first, second, third = (_member(in_db, firm, m) for m in VALID_MOBILES)
    assert first["firm"][0][0] == "worker" and first["firm"][0][3] is True
    assert second["firm"][0][0] == "trainer"
    assert third["firm"][0][0] == "worker"
    assert not any(p["activated"] for p in (first, second, third))
    if fmt.startswith("csv"):
        assert first["name"] == "王芳" and first["email"] == "wang.fang@example.com"
        assert first["firm"] == [("worker", "fitter", "G001", True)]
        assert third["email"] == "li.na@example.com"
    else:
        assert first["name"] == "赵磊" and first["firm"] == [
            ("worker", "electrician", "3001", True)
        ]
        assert second["email"] == "sun.qiang@example.com"
        assert third["firm"] == [("worker", "safety", None, True)]


def test_imported_people_are_listed_masked_and_not_yet_activated(hr, firm):
    url = stage(hr, firm, FORMATS["csv-utf8-bom-english"][0]())
    page = hr.post(url, follow_redirects=True).get_data(as_text=True)
    assert finished_counts(page) == [3, 0, 0, 0]
    assert "王芳" in page and "138****0011" in page and "13800000011" not in page
    assert page.count("Not activated") == 3


# --- the preview ---------------------------------------------------------------------------


def _mixed_file(existing_mobile: str) -> bytes:
    return csv_bytes(
        [
            ["name", "mobile", "e-mail", "employee number", "job role", "role"],
            ["Zhang Wei", "138 0000 0001", "zhang.wei@example.com", "E001", "电工", "worker"],  # 2
            ["", "13800000002", "", "E002", "", "worker"],  # 3: no name
            ["Bad Mobile", "12345", "", "E003", "", ""],  # 4
            ["Bad Mail", "13800000004", "not-an-email", "E004", "", ""],  # 5
            ["Dup Mobile", "+86 138-0000-0001", "", "E005", "", ""],  # 6: same as row 2
            ["Boss", "13800000006", "", "E006", "", "boss"],  # 7: unknown role
            ["Taken No", "13800000007", "", "E100", "", "worker"],  # 8: E100 is someone else's
            ["Li Na", "13800000008", "li.na@example.com", "E008", "Electrician", "trainer"],  # 9
            ["Other Firm Person", existing_mobile, "", "E009", "", "worker"],  # 10: invited
            ["", "", "", "", "", ""],  # blank lines are ignored
        ]
    )


@pytest.fixture
def mixed(in_db, create_firm, consortium, firm, make_user):
    holder = make_user(role="worker", firm=firm, name="Holder")

    def give_number():
        m = db.session.scalars(select(Membership).where(Membership.user_id == holder.id)).one()
        m.employee_no = "E100"
        db.session.commit()

    in_db(give_number)
    elsewhere = make_user(role="worker", firm=create_firm(consortium=consortium), name="在别处")
    return {"data": _mixed_file(elsewhere.mobile), "elsewhere": elsewhere, "holder": holder}


def test_the_preview_lists_each_bad_rows_errors_by_row_and_column_and_writes_nothing(
    hr, in_db, count, firm, mixed
):
    before = _people_state(in_db, firm)
    url = stage(hr, firm, mixed["data"], "mixed.csv")
    html, rows = preview(hr, url)

    assert sorted(rows) == list(range(2, 11))
    # Each bad row shows one message, in the column at fault.
    assert {n: list(errors) for n, errors in rows.items()} == {
        2: [],
        3: ["name"],  # missing name
        4: ["mobile"],  # not a mobile number
        5: ["email"],  # not an e-mail address
        6: ["mobile"],  # the same mobile number as row 2
        7: ["role"],  # unknown role
        8: ["employee_no"],  # someone else's employee number
        9: [],
        10: [],
    }
    assert all(len(errors) == 1 for row in rows.values() for errors in row.values())
    assert mentions(rows[4]["mobile"][0], "11")  # a mobile number has 11 digits
    assert mentions(rows[6]["mobile"][0], "2")  # names the row it repeats
    assert actions(in_db, firm, url) == {
        2: "create",
        3: "error",
        4: "error",
        5: "error",
        6: "error",
        7: "error",
        8: "error",
        9: "create",
        10: "create",  # an account elsewhere looks like a new person (and is invited)
    }
    assert summary_numbers(html) == [3, 0, 0, 6]
    assert numbers(confirm_button(html)) == [3]

    # Uploading and previewing (twice) wrote nothing about people.
    preview(hr, url)
    assert _people_state(in_db, firm) == before
    assert count(ImportBatch, ImportBatch.firm_id == firm.id) == 1


def test_an_unknown_job_role_is_an_error_naming_the_value(hr, in_db, firm):
    data = csv_bytes(
        [
            ["姓名", "手机号", "岗位"],
            ["赵磊", "13800000021", "焊工"],
            ["钱敏", "13800000022", "electrician"],
        ]
    )
    url = stage(hr, firm, data, "roles.csv")
    _html, rows = preview(hr, url)
    assert list(rows[2]) == ["job_role"] and "焊工" in rows[2]["job_role"][0]
    assert rows[3] == {}
    assert actions(in_db, firm, url) == {2: "error", 3: "create"}


def test_confirming_writes_the_valid_rows_and_skips_the_bad_ones(
    hr, in_db, count, firm, firm_admin, mixed, audit_records
):
    users_before = count(User)
    url = stage(hr, firm, mixed["data"], "mixed.csv")
    page = hr.post(url, follow_redirects=True).get_data(as_text=True)
    assert finished_counts(page) == [3, 0, 0, 6]

    assert count(User) == users_before + 2  # row 10 has an account elsewhere: invited
    assert _member(in_db, firm, "13800000001")["firm"] == [("worker", "electrician", "E001", True)]
    assert _member(in_db, firm, "13800000008")["firm"] == [("trainer", "electrician", "E008", True)]
    for skipped in ("13800000002", "13800000004", "13800000006", "13800000007"):
        assert _member(in_db, firm, skipped) is None, skipped
    holder = _member(in_db, firm, mixed["holder"].mobile)
    assert holder["firm"] == [("worker", None, "E100", True)]

    [record] = audit_records("person.import")
    batch = in_db(lambda: db.session.scalars(select(ImportBatch)).one())
    assert (batch.status, batch.result) == (
        "done",
        {"create": 3, "add": 0, "unchanged": 0, "error": 6},
    )
    assert record["actor_id"] == firm_admin.id
    assert record["target_type"] == "ImportBatch" and record["target_id"] == batch.public_id
    assert record["consortium_id"] == firm.consortium_id
    assert record["ip"] == "127.0.0.1"
    assert record["details"] == batch.result
    assert batch.confirmed_at is not None


def test_an_account_of_another_firm_is_invited_not_attached(hr, in_db, count, firm, mixed):
    """Issue 12, hole 1: importing someone's mobile never attaches their account to this firm."""
    elsewhere = mixed["elsewhere"]
    url = stage(hr, firm, mixed["data"], "mixed.csv")
    hr.post(url)

    assert count(User, User.mobile == elsewhere.mobile) == 1
    assert _member(in_db, firm, elsewhere.mobile)["firm"] == []
    invitations = in_db(
        lambda: [
            (i.firm_id, i.role, i.name, i.accepted_at)
            for i in db.session.scalars(
                select(Invitation).where(Invitation.mobile == elsewhere.mobile)
            )
        ]
    )
    assert invitations == [(firm.id, "worker", "Other Firm Person", None)]
    other = in_db(
        lambda: [
            (m.firm_id, m.is_current())
            for m in db.session.scalars(
                select(Membership).where(Membership.user_id == elsewhere.id)
            )
        ]
    )
    assert len(other) == 1 and other[0][0] != firm.id and other[0][1] is True


def test_re_importing_the_same_file_creates_no_duplicates(hr, in_db, count, firm):
    data = FORMATS["csv-gb18030-chinese"][0]()
    hr.post(stage(hr, firm, data, "a.csv"))
    state = _people_state(in_db, firm)

    url = stage(hr, firm, data, "a.csv")
    html, rows = preview(hr, url)
    assert actions(in_db, firm, url) == {2: "unchanged", 3: "unchanged", 4: "unchanged"}
    assert summary_numbers(html) == [0, 0, 3, 0]
    assert "disabled" in confirm_button(html).split("|")[0]

    page = hr.post(url, follow_redirects=True).get_data(as_text=True)
    assert finished_counts(page) == [0, 0, 3, 0]
    assert _people_state(in_db, firm) == state


def test_re_importing_a_file_with_errors_changes_nothing(hr, in_db, firm, mixed):
    hr.post(stage(hr, firm, mixed["data"]))
    state = _people_state(in_db, firm)
    url = stage(hr, firm, mixed["data"])
    result = actions(in_db, firm, url)
    assert [result[n] for n in (2, 9)] == ["unchanged"] * 2
    assert result[10] == "create"  # invited again: the account holder has not accepted yet
    assert [result[n] for n in range(3, 9)] == ["error"] * 6
    hr.post(url)
    assert _people_state(in_db, firm) == state


def test_confirming_the_same_batch_twice_has_the_effect_of_once(
    app, hr, in_db, login, firm, firm_admin, mixed, audit_records
):
    url = stage(hr, firm, mixed["data"])
    first = hr.post(url, follow_redirects=True).get_data(as_text=True)
    state = _people_state(in_db, firm)

    second = hr.post(url, follow_redirects=True)
    assert second.status_code == 200
    assert finished_counts(first) == [3, 0, 0, 6]
    assert finished_counts(second.get_data(as_text=True)) == [3, 0, 0, 6]
    # A second tab of the same admin, too.
    other_tab = app.test_client()
    login(firm_admin, c=other_tab)
    other_tab.post(url)

    assert _people_state(in_db, firm) == state
    assert len(audit_records("person.import")) == 1
    page = hr.get(url).get_data(as_text=True)
    assert 'class="preview"' not in page  # no rows left to confirm
    assert 'class="button primary"' not in page


# --- files that can't be read --------------------------------------------------------------


def _png() -> bytes:
    import struct
    import zlib

    raw = b"\x00\xff\x00\x00" * 4
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)

    def chunk(kind, body):
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


BAD_FILES = {
    # id: (file contents, file name, the problem)
    "no-header": (b"foo,bar\r\n1,2\r\n", "people.csv", "header"),
    "header-without-contact": (
        csv_bytes([["name", "job role"], ["张三", "电工"]]),
        "people.csv",
        "header",
    ),
    "data-without-header": (
        csv_bytes([["张三", "13800000001"], ["李四", "13800000002"]]),
        "people.csv",
        "header",
    ),
    "empty": (b"", "empty.csv", "empty"),
    "header-only": (csv_bytes([EN_HEADER]), "header-only.csv", "no people"),
    "png": (_png(), "people.csv", "not a table"),
    "binary": (b"\x00\x01\x02\x03binary\x00", "people.csv", "not a table"),
    "broken-xlsx": (b"PK\x03\x04not really a workbook", "people.xlsx", "broken workbook"),
}


def _upload_error(hr, firm, data: bytes, filename: str) -> str:
    response = upload(hr, firm, data, filename)
    assert response.status_code == 200
    errors = field_errors(response.get_data(as_text=True), "file")
    assert len(errors) == 1, errors
    return errors[0]


def _importer_message(app, data: bytes, filename: str) -> str:
    """The importer's own explanation, in English (the admin's language)."""
    from flask_babel import force_locale

    from lms.tenancy.importer import ImportFileError, parse_rows, read_table

    with app.test_request_context(), force_locale("en"):
        with pytest.raises(ImportFileError) as info:
            parse_rows(read_table(filename, data), max_rows=5000)
        return str(info.value.args[0])


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_an_unreadable_file_gives_a_clear_error_on_the_upload_form(
    app, hr, in_db, count, firm, case
):
    data, filename, _problem = BAD_FILES[case]
    before = _people_state(in_db, firm)
    assert _upload_error(hr, firm, data, filename) == _importer_message(app, data, filename)
    assert count(ImportBatch) == 0
    assert _people_state(in_db, firm) == before


def test_each_kind_of_unreadable_file_has_its_own_message(hr, firm):
    by_problem: dict[str, set[str]] = {}
    for data, filename, problem in BAD_FILES.values():
        by_problem.setdefault(problem, set()).add(_upload_error(hr, firm, data, filename))
    assert all(len(messages) == 1 for messages in by_problem.values()), by_problem
    assert len({m for messages in by_problem.values() for m in messages}) == len(by_problem)


def test_uploading_without_a_file_asks_for_one(hr, firm):
    response = hr.post(
        f"/firms/{firm.id}/people/import", data={}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    assert len(field_errors(response.get_data(as_text=True), "file")) == 1


def test_a_file_with_too_many_rows_is_refused(app, hr, count, firm, monkeypatch):
    monkeypatch.setitem(app.config, "LMS_IMPORT_MAX_ROWS", 2)
    response = upload(hr, firm, csv_bytes([EN_HEADER, *VALID_ROWS]))
    assert response.status_code == 200
    [error] = field_errors(response.get_data(as_text=True), "file")
    assert mentions(error, "2")
    assert count(ImportBatch) == 0


# --- who may import -------------------------------------------------------------------------


def test_workers_cannot_import(client, login, firm, make_user):
    login(make_user(role="worker", firm=firm))
    assert client.get(f"/firms/{firm.id}/people/import").status_code == 404
    assert upload(client, firm, csv_bytes([EN_HEADER, *VALID_ROWS])).status_code == 404


def test_a_batch_belongs_to_its_firm(
    app, hr, login, count, create_firm, consortium, firm, make_user
):
    url = stage(hr, firm, csv_bytes([EN_HEADER, *VALID_ROWS]))
    batch_id = url.rsplit("/", 1)[1]
    other_firm = create_firm(consortium=consortium)
    other_admin = make_user(role="firm_admin", firm=other_firm)
    other = app.test_client()
    login(other_admin, c=other)
    users = count(User)
    assert other.get(f"/firms/{other_firm.id}/people/import/{batch_id}").status_code == 404
    assert other.post(f"/firms/{other_firm.id}/people/import/{batch_id}").status_code == 404
    assert other.post(url).status_code == 404
    assert count(User) == users
