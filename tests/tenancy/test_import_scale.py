"""Imports at HR scale (issue 14): each row checked once at upload and stored with the batch,
a paginated preview with errors first, a bulk save that re-checks what may have changed,
Excel formula cells, NFKC and spreadsheet-mangled numbers, and SQLite under a concurrent
sign-in."""

from __future__ import annotations

import io
import re
import threading
import zipfile
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from lms.auth.models import User
from lms.extensions import db
from lms.tenancy import importer
from lms.tenancy.models import ImportBatch, ImportRow, Invitation, Membership
from tests.conftest import _PASSWORD_HASH, PASSWORD, TEST_CONFIG, valid_credit_code
from tests.tenancy.pages import flashes, numbers, summary_numbers, table_rows
from tests.tenancy.test_import import csv_bytes, preview, stage

HEADER = ["name", "mobile", "e-mail", "employee number", "job role", "role"]


@pytest.fixture
def consortium(create_consortium):
    return create_consortium()


@pytest.fixture
def firm(create_firm, create_role, consortium):
    create_role("electrician", name_zh="电工", name_en="Electrician")
    return create_firm(consortium=consortium)


@pytest.fixture
def firm_admin(make_user, firm):
    return make_user(role="firm_admin", firm=firm)


@pytest.fixture
def hr(client, login, firm_admin):
    login(firm_admin)
    return client


def people(n: int, start: int = 0) -> list[list[str]]:
    return [
        [f"工人{i:04d}", f"137{i:08d}", "", f"E{i:04d}", "电工" if i % 2 else "", ""]
        for i in range(start, start + n)
    ]


def stored(in_db, url: str) -> dict[int, ImportRow]:
    public_id = url.rsplit("/", 1)[1]

    def go():
        batch = db.session.scalars(
            select(ImportBatch).where(ImportBatch.public_id == public_id)
        ).one()
        rows = db.session.scalars(select(ImportRow).where(ImportRow.batch_id == batch.id))
        return {r.row: r for r in rows}

    return in_db(go)


# --- normalising what spreadsheets do to numbers --------------------------------------------


def test_full_width_digits_and_prefixes_are_normalised(hr, in_db, firm):
    data = csv_bytes(
        [
            HEADER,
            ["王芳", "１３８００１３８０００", "ｗａｎｇ@example.com", "Ｇ００１", "", ""],  # 2
            ["陈静", "0086 138-0013-8001", "", "00７2", "", "ｔｒａｉｎｅｒ"],  # 3
            ["李娜", "+86 138 0013 8002", "", "3003.0", "", ""],  # 4
            ["赵磊", "13800138003.0", "", "", "", ""],  # 5
        ]
    )
    url = stage(hr, firm, data)
    _html, rows = preview(hr, url)
    assert rows == {2: {}, 3: {}, 4: {}, 5: {}}
    values = {n: r.values for n, r in stored(in_db, url).items()}
    assert values[2]["mobile"] == "13800138000" and values[2]["email"] == "wang@example.com"
    assert values[2]["employee_no"] == "G001"
    assert values[3]["mobile"] == "13800138001" and values[3]["role"] == "trainer"
    assert values[3]["employee_no"] == "0072"  # text keeps its leading zeros
    assert values[4]["mobile"] == "13800138002" and values[4]["employee_no"] == "3003"
    assert values[5]["mobile"] == "13800138003"

    hr.post(url)
    members = in_db(
        lambda: {
            u.mobile: (u.email, [m.employee_no for m in u.memberships])
            for u in db.session.scalars(select(User).where(User.mobile.like("1380013800%")))
        }
    )
    assert members["13800138000"] == ("wang@example.com", ["G001"])
    assert members["13800138001"] == (None, ["0072"])


def test_a_number_excel_shortened_is_an_error_naming_row_field_and_value(hr, in_db, firm):
    data = csv_bytes(
        [
            HEADER,
            ["王芳", "13800138000", "", "", "", ""],
            ["陈静", "1.38001E+10", "", "", "", ""],  # 3
            ["李娜", "13800138002", "", "1.2345E+5", "", ""],  # 4
            ["赵磊", "12345", "", "", "", ""],  # 5: an ordinary wrong number
        ]
    )
    url = stage(hr, firm, data)
    _html, rows = preview(hr, url)
    [shortened] = rows[3]["mobile"]
    assert "Row 3, Mobile: 1.38001E+10" in shortened and "text" in shortened
    [number] = rows[4]["employee_no"]
    assert "Row 4, Employee number: 1.2345E+5" in number
    [generic] = rows[5]["mobile"]
    assert "11 digits" in generic and "E+" not in generic
    assert {n: r.action for n, r in stored(in_db, url).items()} == {
        2: "create",
        3: "error",
        4: "error",
        5: "error",
    }


# --- Excel formula cells ---------------------------------------------------------------------


def _formula_workbook(cached: dict[str, str]) -> bytes:
    """A workbook whose A2 (name) and D2 (employee number) hold formulas, written by openpyxl
    (no saved values); `cached` gives cells the value Excel would have saved with them."""
    wb = Workbook()
    sheet = wb.active
    sheet.append(HEADER)
    sheet.append(['="王"&"芳"', 13800138000, None, '="00"&"12"', None, None])
    sheet.append(["陈静", 13800138001, None, "E2", None, None])
    buffer = io.BytesIO()
    wb.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            body = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                xml = body.decode()
                for cell, value in cached.items():
                    xml, n = re.subn(
                        rf'<c r="{cell}"><f>(.*?)</f><v\s*/?>(</v>)?',
                        rf'<c r="{cell}" t="str"><f>\1</f><v>{value}</v>',
                        xml,
                    )
                    assert n == 1, xml
                body = xml.encode()
            target.writestr(item, body)
    return out.getvalue()


def test_formula_cells_use_the_value_excel_saved_with_them(hr, in_db, firm):
    url = stage(hr, firm, _formula_workbook({"A2": "王芳", "D2": "0012"}), "people.xlsx")
    _html, rows = preview(hr, url)
    assert rows == {2: {}, 3: {}}
    values = stored(in_db, url)[2].values
    assert (values["name"], values["employee_no"]) == ("王芳", "0012")


def test_a_formula_without_a_saved_value_is_an_error_naming_the_cell(hr, in_db, firm):
    url = stage(hr, firm, _formula_workbook({}), "people.xlsx")
    _html, rows = preview(hr, url)
    assert list(rows[2]) == ["name", "employee_no"]
    [name] = rows[2]["name"]
    [number] = rows[2]["employee_no"]
    assert name.startswith("A2: formula without a value") and "Enter a name" not in name
    assert number.startswith("D2: formula without a value")
    assert rows[3] == {}
    assert {n: r.action for n, r in stored(in_db, url).items()} == {2: "error", 3: "create"}


# --- the preview reads stored results, errors first, a page at a time ----------------------


def _big_file(n: int, bad: set[int]) -> bytes:
    """n people; the rows at these file lines have a broken mobile number."""
    rows = people(n)
    for line in bad:
        rows[line - 2][1] = "12345"
    return csv_bytes([HEADER, *rows])


def test_the_preview_shows_errors_first_then_pages_of_the_rest(hr, in_db, firm):
    url = stage(hr, firm, _big_file(130, bad={61, 111}), "big.csv")
    html, rows = preview(hr, url)
    assert summary_numbers(html) == [128, 0, 0, 2]  # new, to add, unchanged, errors
    size = importer.PREVIEW_PAGE_SIZE
    assert list(rows) == [61, 111] + list(range(2, 2 + size - 2))
    assert set(rows[61]) == {"mobile"} and rows[2] == {}
    assert "Page 1 of 3" in html

    _html, second = preview(hr, url + "?page=2")
    assert list(second) == [n for n in range(2, 132) if n not in (61, 111)][size - 2 : 2 * size - 2]
    _html, last = preview(hr, url + "?page=3")
    assert list(last)[-1] == 131 and len(last) == 130 - 2 * size


def test_the_preview_page_stays_small_for_a_big_file(hr, firm, app, monkeypatch):
    monkeypatch.setitem(app.config, "LMS_IMPORT_MAX_ROWS", 5000)
    url = stage(hr, firm, _big_file(1500, bad=set()), "big.csv")
    html = hr.get(url).get_data(as_text=True)
    assert len(table_rows(html)) == importer.PREVIEW_PAGE_SIZE
    assert len(html.encode()) < 100_000


def test_the_preview_does_not_check_the_rows_again(hr, in_db, firm, monkeypatch):
    url = stage(hr, firm, _big_file(60, bad={5}), "big.csv")

    def no_second_check(*args, **kw):
        raise AssertionError("the rows were checked again")

    monkeypatch.setattr(importer, "preview_rows", no_second_check)
    monkeypatch.setattr(importer, "_check_row", no_second_check)
    monkeypatch.setattr(importer, "_compare_with_database", no_second_check)
    for _ in range(2):
        html, rows = preview(hr, url)
        assert summary_numbers(html) == [59, 0, 0, 1]
        assert next(iter(rows)) == 5


# --- saving -----------------------------------------------------------------------------------


def _world(in_db, firm, make_user, create_firm, consortium):
    """A member of the firm (worker), one of another firm, and a member holding E9000."""
    member = make_user(role="worker", firm=firm, mobile="13700000001", email=None)
    elsewhere = make_user(
        role="worker", firm=create_firm(consortium=consortium), mobile="13700000002", email=None
    )
    holder = make_user(role="worker", firm=firm, mobile="13600000009", email=None)

    def number():
        m = db.session.scalars(select(Membership).where(Membership.user_id == holder.id)).one()
        m.employee_no = "E9000"
        db.session.commit()

    in_db(number)
    return member, elsewhere


def test_saving_a_few_hundred_rows_writes_each_once(
    hr, in_db, count, firm, make_user, create_firm, consortium, audit_records
):
    member, elsewhere = _world(in_db, firm, make_user, create_firm, consortium)
    rows = people(300, start=10)
    rows[0] = [member.name, member.mobile, "", "", "", ""]  # line 2: a worker here already
    rows[1] = ["在别处", elsewhere.mobile, "", "", "", ""]  # 3: an account elsewhere: invited
    rows[2][1] = "123"  # 4: not a mobile number
    rows[3][3] = "E9000"  # 5: someone else's employee number
    users_before = count(User)
    url = stage(hr, firm, csv_bytes([HEADER, *rows]), "many.csv")
    html, _rows = preview(hr, url)
    assert summary_numbers(html) == [297, 0, 1, 2]  # new, to add, unchanged, errors

    page = hr.post(url, follow_redirects=True).get_data(as_text=True)
    [message] = flashes(page, "success")
    assert numbers(message) == [297, 0, 1, 2]
    assert count(User) == users_before + 296  # the one from elsewhere is invited
    members = in_db(
        lambda: db.session.execute(
            select(User.name, User.mobile, Membership.role, Membership.job_role_id)
            .add_columns(Membership.employee_no, User.password_hash, User.is_active_account)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.firm_id == firm.id, User.mobile.like("137%"))
            .order_by(User.mobile)
        ).all()
    )
    assert len(members) == 297  # 296 new people and the member (unchanged)
    assert members[0][1] == member.mobile
    assert members[-1] == (
        "工人0309",
        "13700000309",
        "worker",
        "electrician",
        "E0309",
        None,
        True,
    )
    assert members[-2][3:5] == (None, "E0308")
    invited = in_db(
        lambda: db.session.scalars(
            select(Invitation.name).where(Invitation.mobile == elsewhere.mobile)
        ).all()
    )
    assert invited == ["在别处"]
    assert len(audit_records("person.import")) == 1
    assert {r.action for n, r in stored(in_db, url).items() if n > 5} == {"create"}


def test_saving_adds_a_new_role_to_a_member(hr, in_db, firm, make_user, create_firm, consortium):
    member, _elsewhere = _world(in_db, firm, make_user, create_firm, consortium)
    data = csv_bytes([HEADER, [member.name, member.mobile, "", "", "", "trainer"]])
    url = stage(hr, firm, data)
    assert stored(in_db, url)[2].action == "add"
    hr.post(url)
    roles = in_db(
        lambda: sorted(
            m.role
            for m in db.session.scalars(select(Membership).where(Membership.user_id == member.id))
        )
    )
    assert roles == ["trainer", "worker"]


def test_saving_checks_again_what_changed_since_the_preview(
    hr, in_db, count, firm, make_user, create_firm, consortium
):
    _world(in_db, firm, make_user, create_firm, consortium)
    url = stage(hr, firm, csv_bytes([HEADER, *people(5, start=100)]), "five.csv")
    assert {r.action for r in stored(in_db, url).values()} == {"create"}
    # Meanwhile: someone of the firm gets line 2's employee number, line 3's mobile number
    # becomes a member's, and line 4's becomes an account of another firm.
    make_user(role="worker", firm=firm, mobile="13700000101", email=None)
    make_user(
        role="worker", firm=create_firm(consortium=consortium), mobile="13700000102", email=None
    )

    def take_number():
        m = db.session.scalars(
            select(Membership)
            .join(User, User.id == Membership.user_id)
            .where(User.mobile == "13600000009")
        ).one()
        m.employee_no = "E0100"
        db.session.commit()

    in_db(take_number)
    users_before = count(User)
    page = hr.post(url, follow_redirects=True).get_data(as_text=True)
    [message] = flashes(page, "success")
    # Line 3's mobile number is now a worker's here: unchanged.
    assert numbers(message) == [3, 0, 1, 1]
    after = stored(in_db, url)
    assert after[2].action == "error" and after[2].errors[0]["column"] == "employee_no"
    assert count(User) == users_before + 2  # lines 5 and 6; line 4 is invited


def test_a_double_submit_of_a_big_batch_saves_it_once(app, hr, in_db, count, login, firm):
    url = stage(hr, firm, csv_bytes([HEADER, *people(200)]), "twice.csv")
    users_before = count(User)
    first = hr.post(url)
    second = hr.post(url)
    assert first.status_code == second.status_code == 302
    assert count(User) == users_before + 200
    assert count(Membership, Membership.firm_id == firm.id) == 201  # and the admin


# --- SQLite: a sign-in while an import is being saved ----------------------------------------


def test_on_sqlite_a_sign_in_during_an_import_save_waits_instead_of_failing(tmp_path, monkeypatch):
    from lms import create_app
    from lms.core.types import utcnow
    from lms.tenancy.models import Consortium, Firm

    # Its own database file and sessions, not the suite's rolled-back connection.
    monkeypatch.setattr(db, "session", db._make_scoped_session({}))
    app = create_app(
        {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'busy.sqlite3'}"}
    )
    with app.app_context():
        db.create_all()
        c = Consortium(code="BUSY", name="Busy", city="唐山", region="east", sectors=[])
        firm = Firm(
            consortium=c, name="Busy firm", kind="chain_leader", credit_code=valid_credit_code(9)
        )
        admin, worker = (
            User(
                name=name,
                email=f"{name}@busy.lms",
                password_hash=_PASSWORD_HASH,
                password_changed_at=utcnow(),
            )
            for name in ("admin", "worker")
        )
        db.session.add_all([c, firm, admin, worker])
        db.session.flush()
        for user, role in ((admin, "firm_admin"), (worker, "worker")):
            db.session.add(
                Membership(
                    user=user,
                    consortium_id=c.id,
                    firm_id=firm.id,
                    role=role,
                    starts_on=date(2026, 1, 1),
                )
            )
        db.session.commit()
        firm_id = firm.id
        db.session.remove()
    rows = [row[:4] + ["", ""] for row in people(300)]  # this world has no job roles
    admin_client, worker_client = app.test_client(), app.test_client()
    admin_client.post("/login", data={"login": "admin@busy.lms", "password": PASSWORD})
    response = admin_client.post(
        f"/firms/{firm_id}/people/import",
        data={"file": (io.BytesIO(csv_bytes([HEADER, *rows])), "p.csv")},
        content_type="multipart/form-data",
    )
    url = response.headers["Location"]

    writing, signed_in = threading.Event(), threading.Event()
    write_people = importer._write_people

    def slow_write(*args, **kw):
        write_people(*args, **kw)
        writing.set()  # the save holds the write lock until the request commits
        signed_in.wait(timeout=2)

    monkeypatch.setattr(importer, "_write_people", slow_write)
    saved = {}
    saver = threading.Thread(target=lambda: saved.update(r=admin_client.post(url)))
    saver.start()
    assert writing.wait(timeout=30)
    sign_in = worker_client.post("/login", data={"login": "worker@busy.lms", "password": PASSWORD})
    signed_in.set()
    saver.join(timeout=60)
    assert sign_in.status_code == 302
    assert saved["r"].status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 302
        db.session.remove()
        db.engine.dispose()


def test_sqlite_connections_wait_for_the_write_lock(tmp_path, monkeypatch):
    """A second connection's write while a transaction is open waits (busy timeout) rather
    than failing, and transactions take the write lock when they begin."""
    from lms import create_app

    monkeypatch.setattr(db, "session", db._make_scoped_session({}))
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'w.db'}"})
    with app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        first = engine.connect()
        first.begin()
        first.exec_driver_sql("INSERT INTO t VALUES (1)")
        done = {}

        def second():
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (2)")
            done["ok"] = True

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=0.5)
        assert "ok" not in done  # waiting for the first transaction
        first.commit()
        first.close()
        thread.join(timeout=30)
        assert done == {"ok": True}
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2
        engine.dispose()


def test_stored_errors_read_in_each_admins_language(hr, firm):
    """The errors are kept as messages, not as text in the uploader's language: an admin who
    reads the preview in English sees English, in Chinese Chinese."""
    url = stage(hr, firm, csv_bytes([HEADER, ["", "13800138000", "", "", "", "worker"]]))
    hr.post("/locale", data={"locale": "en"})
    _html, rows = preview(hr, url)
    assert rows[2]["name"] == ["Enter a name."]
    hr.post("/locale", data={"locale": "zh_CN"})
    _html, rows = preview(hr, url)
    assert rows[2]["name"] == ["请输入姓名。"]
