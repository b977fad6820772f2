"""Bulk import of a firm's people from CSV or XLSX: parse, check every row once, preview the
stored results page by page (errors first), confirm.

Rows are checked against the file and the database when the file is uploaded, in a few
set-based queries, and the outcome of each row is stored (ImportRow); the preview only reads
it. Saving re-checks, again in bulk, only what may have changed since (contacts, employee
numbers, job roles) and writes with bulk inserts."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from lms.audit.service import record_action
from lms.auth.models import User
from lms.auth.service import AccountError, normalize_contact
from lms.core import archives
from lms.core.codes import CodeError, normalize_mobile
from lms.core.pagination import RowPagination
from lms.core.params import page_arg
from lms.core.types import new_public_id, utcnow
from lms.extensions import db
from lms.tenancy.invitations import invite_person
from lms.tenancy.models import FIRM_ROLES, Firm, ImportBatch, ImportRow, Membership

# Column key → accepted header spellings (English and Chinese, compared case-insensitively).
COLUMNS = {
    "name": ("name", "姓名"),
    "mobile": ("mobile", "mobile number", "手机", "手机号", "手机号码"),
    "email": ("e-mail", "email", "邮箱", "电子邮箱"),
    "employee_no": ("employee number", "employee no", "employee_no", "工号"),
    "job_role": ("job role", "job_role", "岗位"),
    "role": ("role", "角色"),
}
COLUMN_LABELS = {
    "name": _lp("person", "Name"),
    "mobile": _l("Mobile"),
    "email": _l("E-mail"),
    "employee_no": _l("Employee number"),
    "job_role": _l("Job role"),
    "role": _l("Role"),
}
# Reading limits besides the row limit (LMS_IMPORT_MAX_ROWS) and the archive limits of
# lms.core.archives.SPREADSHEET. Rows are read down to MAX_LINES (at least twice the row
# limit): room for blank lines and for templates formatted far below their data, while a
# sheet with a cell in row 1,048,576 is read no further than that. Columns past MAX_COLUMNS
# are not read (people files have six). No column accepts more than 254 characters (an
# e-mail address), so a cell cut at MAX_CELL_CHARS fails the same checks as the whole text
# would, and the batch stored for the preview stays small.
MAX_LINES = 20_000
MAX_COLUMNS = 100
MAX_CELL_CHARS = 256
ROLE_ALIASES = {
    "worker": "worker",
    "学员": "worker",
    "员工": "worker",
    "trainer": "trainer",
    "培训师": "trainer",
    "企业培训师": "trainer",
    "firm_admin": "firm_admin",
    "firm admin": "firm_admin",
    "hr": "firm_admin",
    "企业hr管理员": "firm_admin",
    "管理员": "firm_admin",
}


class ImportFileError(ValueError):
    """The file as a whole can't be read (wrong type, no header, too many rows)."""


# Rows of the preview page; errors come first.
PREVIEW_PAGE_SIZE = 50
# Values per IN (...) list of the set-based checks (well under SQLite's variable limit).
CHUNK = 900
ACTIONS = ("create", "add", "unchanged", "error")
# Spaces and dashes people put into mobile numbers (after NFKC: full-width ones are ASCII).
MOBILE_NOISE = re.compile(r"[\s\-\u2010-\u2015\u2212()（）]")
# What a spreadsheet makes of a long number it shows in a narrow column: the digits are lost.
SHORTENED = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
# A number written out by a spreadsheet as a decimal: 13800138000.0.
WHOLE_DECIMAL = re.compile(r"^(\d+)\.0+$")


class ImportConflict(RuntimeError):
    """Someone else wrote the same people while the batch was being saved; try again."""


class CellProblem(str):
    """An Excel cell whose value can't be used; reads as "" and names the cell."""

    def __new__(cls, cell: str, shown: str = ""):
        text = super().__new__(cls, "")
        text.cell, text.shown = cell, shown
        return text

    def message(self):
        if self.shown:
            return _l(
                "%(cell)s: the cell shows the error %(value)s; correct the formula or paste "
                "values.",
                cell=self.cell,
                value=self.shown[:20],
            )
        return _l(
            "%(cell)s: formula without a value — open and save the file in Excel, or paste values.",
            cell=self.cell,
        )


def _stored_message(message) -> dict:
    """A row's error as kept with the batch: its message id and values when it is a
    translatable message, so that each admin reads it in their own language (error_text), and
    the text in the uploader's language for anything else."""
    entry = {"message": str(message)}
    if isinstance(message, LazyString) and message._func is gettext and len(message._args) == 1:
        entry["msgid"] = message._args[0]
        entry["params"] = {
            key: value if value is None or isinstance(value, int | float | str) else str(value)
            for key, value in message._kwargs.items()
        }
    return entry


def error_text(error: dict) -> str:
    """A stored row error in the reader's language."""
    if "msgid" in error:
        return gettext(error["msgid"], **error.get("params", {}))
    return error["message"]


@dataclass
class PreviewRow:
    row: int
    values: dict
    errors: list[dict] = field(default_factory=list)
    action: str = "create"  # create | add | unchanged | error
    user_id: int | None = None  # the account the row's contacts belong to, if any
    id: int | None = None  # its ImportRow, when read back for saving

    def error(self, column: str, message) -> None:
        self.errors.append({"column": column, **_stored_message(message)})
        self.action = "error"

    def has_error(self, column: str) -> bool:
        return any(e["column"] == column for e in self.errors)


def read_table(filename: str, data: bytes, *, max_rows: int | None = None) -> list[list[str]]:
    """Rows of cells (strings) from a CSV or XLSX file, judged by content, not by name.

    Reading stops at the first row past the limits (`max_rows` filled rows after the first,
    default LMS_IMPORT_MAX_ROWS; MAX_LINES; a workbook's archive limits are checked before
    openpyxl sees it), so a file of a million rows costs what one just over the limit does.
    """
    if max_rows is None:
        max_rows = current_app.config["LMS_IMPORT_MAX_ROWS"]
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data, max_rows)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError(_l("The file is neither UTF-8/GB18030 CSV nor an Excel workbook."))
    if "\x00" in text:
        raise ImportFileError(_l("The file is neither UTF-8/GB18030 CSV nor an Excel workbook."))
    reader = csv.reader(io.StringIO(text))
    try:
        return _collect(reader, max_rows)
    except csv.Error as exc:  # a field over csv's 128 KB limit, a stray quote
        raise ImportFileError(
            _l(
                "Line %(line)d could not be read as CSV: save the file again as CSV (UTF-8) "
                "and upload it.",
                line=reader.line_num,
            )
        ) from exc


def _max_lines(max_rows: int) -> int:
    return max(MAX_LINES, 2 * max_rows)


def _collect(rows: Iterable[Sequence], max_rows: int) -> list[list[str]]:
    """Cell texts row by row; raise at the first filled row past `max_rows` + 1 (a header and
    max_rows people) or at the first row past the line limit, without reading further."""
    max_lines = _max_lines(max_rows)
    out: list[list[str]] = []
    filled = blank = 0
    for line, row in enumerate(rows, start=1):
        if line > max_lines:
            raise ImportFileError(
                _l(
                    "The file goes on past row %(n)d; delete the empty rows below the data "
                    "and upload it again.",
                    n=max_lines,
                )
            )
        if row.count(None) == len(row):  # an empty Excel row (or line) costs no more
            blank += 1
            continue
        cells = [_cell_text(c) for c in row[:MAX_COLUMNS]]
        while cells and _blank(cells[-1]):
            cells.pop()
        if not cells:
            blank += 1
            continue
        filled += 1
        if filled > max_rows + 1:
            raise ImportFileError(
                _l("The file has more than %(n)d rows; split it into smaller files.", n=max_rows)
            )
        # Blank rows keep the line numbers right; trailing ones are never added.
        out.extend([] for _ in range(blank))
        blank = 0
        out.append(cells)
    return out


def _read_xlsx(data: bytes, max_rows: int) -> list[list[str]]:
    broken = ImportFileError(_l("The Excel workbook could not be read."))
    try:
        archives.check_zip(data, archives.SPREADSHEET)
    except archives.ArchiveError as exc:
        raise (_archive_error(exc) or broken) from exc
    try:
        wb = _open_workbook(data)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise broken from exc
    try:
        # Explicit bounds, as the sheet's size is not looked up: the sheet stops parsing at
        # max_row and pads rows only to max_col.
        rows = wb.worksheets[0].iter_rows(
            max_row=_max_lines(max_rows) + 1, max_col=MAX_COLUMNS, values_only=True
        )
        return _collect(rows, max_rows)
    except ImportFileError:
        raise
    except Exception as exc:  # damaged sheet XML, a number too long for int(), no sheet
        raise broken from exc
    finally:
        wb.close()


def _open_workbook(data: bytes):
    """The workbook in openpyxl's read-only mode, except that no sheet's size is looked up.

    openpyxl reads each sheet's declared dimension when it opens the workbook, and parses a
    sheet that declares none (a crafted file; openpyxl's own write-only mode) to its very end
    to look for it: 400,000 rows cost seconds before the first row is read. The declared size
    is not trusted anyway, so the sheets are made as openpyxl's read-only branch of
    `ExcelReader.read_worksheets` (openpyxl 3.1) makes them, without that lookup."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    class UnsizedSheet(ReadOnlyWorksheet):
        def _get_size(self):
            pass

        def _cells_by_row(self, min_col, min_row, max_col, max_row, values_only=False):
            return _sheet_rows(self, max_row, max_col)

    class Reader(ExcelReader):
        def read_worksheets(self):
            for sheet, rel in self.parser.find_sheets():
                if rel.target not in self.valid_files:
                    continue
                if "chartsheet" in rel.Type:
                    self.read_chartsheet(sheet, rel)
                    continue
                ws = UnsizedSheet(self.wb, sheet.name, rel.target, self.shared_strings)
                ws.sheet_state = sheet.state
                self.wb._sheets.append(ws)

    reader = Reader(io.BytesIO(data), read_only=True, data_only=True)
    try:
        reader.read()
    except BaseException:
        reader.archive.close()
        raise
    return reader.wb


def _sheet_rows(ws, max_row: int, max_col: int) -> Iterable[Sequence]:
    """The sheet's cell values row by row from row 1 (a blank row as ()), up to explicit
    bounds (iter_rows of the read-only sheet; only values). A formula cell gives the value
    Excel saved with it; one without a saved value, or showing an error (#REF!), gives a
    CellProblem naming the cell."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            cell = super().parse_cell(element)
            name = element.get("r") or f"{get_column_letter(cell['column'])}{cell['row']}"
            if cell["data_type"] == "e":
                cell["value"] = CellProblem(name, str(cell["value"] or ""))
            elif (
                cell["value"] is None
                and cell["data_type"] != "str"  # a formula whose result is ""
                and element.find(FORMULA_TAG) is not None
            ):
                cell["value"] = CellProblem(name)
            return cell

    wb = ws.parent
    with ws._get_source() as src:
        parser = Parser(
            src,
            ws._shared_strings,
            data_only=True,
            epoch=wb.epoch,
            date_formats=wb._date_formats,
            timedelta_formats=wb._timedelta_formats,
        )
        expected = 1
        for line, cells in parser.parse():
            if line > max_row:
                while expected <= max_row:  # the reader sees that the sheet goes on
                    expected += 1
                    yield ()
                break
            while expected < line:
                expected += 1
                yield ()
            values = [None] * max_col
            for cell in cells:
                if cell["column"] <= max_col:
                    values[cell["column"] - 1] = cell["value"]
            expected = line + 1
            yield values


def _archive_error(exc: archives.ArchiveError) -> ImportFileError | None:
    """The uploader's message for a workbook refused by its archive limits (None: damaged)."""
    if exc.kind == "entries":
        return ImportFileError(
            _l(
                "The workbook is made of more than %(n)d parts; copy the data into a new "
                "workbook and upload that.",
                n=exc.limit,
            )
        )
    if exc.kind == "size":
        return ImportFileError(
            _l(
                "The file expands to more than %(mb)s MB; split it or remove unused sheets.",
                mb=f"{exc.limit / archives.MB:g}",
            )
        )
    if exc.kind == "ratio":
        return ImportFileError(
            _l(
                "The file expands to more than %(n)d times its size, which real workbooks do "
                "not; save it again from Excel or WPS and upload that.",
                n=exc.limit,
            )
        )
    return None


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, CellProblem):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # mobile numbers typed into Excel become numbers
    return str(value).strip()[:MAX_CELL_CHARS]


def _blank(cell: str) -> bool:
    return not cell and not isinstance(cell, CellProblem)


def map_header(header: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for pos, title in enumerate(header):
        key = title.strip().lower()
        for column, spellings in COLUMNS.items():
            if unicodedata.normalize("NFKC", key) in spellings:
                index[column] = pos
    if "name" not in index or not ({"mobile", "email"} & index.keys()):
        raise ImportFileError(
            _l(
                "The first row must name the columns: name, mobile, e-mail, employee number, "
                "job role, role (name and mobile or e-mail are required)."
            )
        )
    return index


def parse_rows(rows: list[list[str]], max_rows: int) -> list[dict]:
    """Header-mapped rows as dicts with their line number in the file (header = line 1)."""
    if not rows:
        raise ImportFileError(_l("The file is empty."))
    index = map_header(rows[0])
    out = []
    for line, cells in enumerate(rows[1:], start=2):
        if all(_blank(c) for c in cells):
            continue
        values = {col: (cells[pos] if pos < len(cells) else "") for col, pos in index.items()}
        values["row"] = line
        out.append(values)
    if not out:
        raise ImportFileError(_l("The file has a header but no people."))
    if len(out) > max_rows:
        raise ImportFileError(_l("At most %(n)d people per file.", n=max_rows))
    return out


def _job_role_lookup(firm: Firm) -> dict[str, str]:
    """Lower-cased id, Chinese and English name and occupation name → role id."""
    from lms.taxonomy.service import roles_for

    lookup: dict[str, str] = {}
    for role in db.session.scalars(roles_for(firm.consortium_id, firm.id)):
        for key in (role.occupation_name, role.name_en, role.name_zh, role.id):
            if key:
                lookup[unicodedata.normalize("NFKC", key).strip().lower()] = role.id
    return lookup


def _text(value) -> str:
    """A cell's text in NFKC (full-width digits and letters as ASCII), trimmed."""
    return unicodedata.normalize("NFKC", value or "").strip()


def _number_text(value: str) -> str:
    """13800138000.0 (a number a spreadsheet wrote out as a decimal) as its digits."""
    whole = WHOLE_DECIMAL.match(value)
    return whole.group(1) if whole else value


def _mobile_text(value: str) -> str:
    """A mobile number without spaces, dashes or a leading 0086."""
    value = MOBILE_NOISE.sub("", value)
    if value.startswith("0086"):
        value = value[4:]
    return _number_text(value)


def _check_row(raw: dict, job_roles: dict[str, str]) -> PreviewRow:
    """The rules one row must follow by itself; its values normalised."""
    p = PreviewRow(row=raw["row"], values={})
    v = p.values
    for column in COLUMNS:
        if isinstance(raw.get(column), CellProblem):
            p.error(column, raw[column].message())
    text = {column: _text(raw.get(column)) for column in COLUMNS}

    v["name"] = name = re.sub(r"\s+", " ", text["name"])
    if not p.has_error("name"):
        if not name:
            p.error("name", _l("Enter a name."))
        elif len(name) > 80:
            p.error("name", _l("A name has at most 80 characters."))

    mobile_text, employee_no = _mobile_text(text["mobile"]), _number_text(text["employee_no"])
    for column, value in (("mobile", mobile_text), ("employee_no", employee_no)):
        if SHORTENED.match(value) and not p.has_error(column):
            p.error(
                column,
                _l(
                    "Row %(row)d, %(field)s: %(value)s looks like a number Excel shortened; "
                    "format the column as text and export again.",
                    row=p.row,
                    field=COLUMN_LABELS[column],
                    value=value,
                ),
            )
    mobile = email = None
    if mobile_text and not p.has_error("mobile"):
        try:
            mobile = normalize_mobile(mobile_text)
        except CodeError as exc:
            p.error("mobile", exc.args[0])
    if text["email"] and not p.has_error("email"):
        try:
            email, _ = normalize_contact(text["email"], None)
        except AccountError as exc:
            p.error(exc.field or "email", exc.message)
    if not (mobile_text or text["email"] or p.has_error("mobile") or p.has_error("email")):
        p.error("email", _l("Give an e-mail address or a mobile number."))
    v["mobile"] = mobile or text["mobile"]
    v["email"] = email or text["email"]
    v["contacts"] = [email, mobile]  # the normalised ones, None where missing or wrong

    role_raw = text["role"].lower()
    role = ROLE_ALIASES.get(role_raw, role_raw) if role_raw else "worker"
    if role not in FIRM_ROLES and not p.has_error("role"):
        p.error("role", _l("Role must be worker, trainer or firm_admin."))
    v["role"] = role
    v["job_role"] = job_role = text["job_role"]
    v["job_role_id"] = job_roles.get(job_role.lower()) if job_role else None
    if job_role and v["job_role_id"] is None and not p.has_error("job_role"):
        p.error(
            "job_role",
            _l(
                "Unknown job role “%(value)s”: use the name or id of a role on the job roles page.",
                value=job_role[:60],
            ),
        )
    v["employee_no"] = employee_no
    if len(employee_no) > 40 and not p.has_error("employee_no"):
        p.error("employee_no", _l("An employee number has at most 40 characters."))
    return p


def preview_rows(firm: Firm, rows: list[dict]) -> list[PreviewRow]:
    """Check every row against the rules, the rest of the file and the database (in a few
    set-based queries, whatever the number of rows)."""
    job_roles = _job_role_lookup(firm)
    previews: list[PreviewRow] = []
    seen: dict[tuple[str, str], int] = {}
    for raw in rows:
        p = _check_row(raw, job_roles)
        email, mobile = p.values["contacts"]
        for column, value in (
            ("email", email),
            ("mobile", mobile),
            ("employee_no", None if p.has_error("employee_no") else p.values["employee_no"]),
        ):
            if value:
                first = seen.setdefault((column, value), p.row)
                if first != p.row:
                    p.error(column, _l("Same value as row %(row)d of this file.", row=first))
        previews.append(p)
    _compare_with_database(firm, [p for p in previews if p.action != "error"])
    return previews


def _chunks(values) -> Iterable[list]:
    values = sorted(values)
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _compare_with_database(firm: Firm, rows: list[PreviewRow]) -> None:
    """Set each row's action (or error) from who already holds its contacts and numbers.

    Only people who already hold a role in this firm are compared: anyone else, new or with
    an account elsewhere, is a "create" row alike (an existing account gets an invitation to
    accept when signed in), so the preview never tells whether an outside account exists."""
    emails = {p.values["contacts"][0] for p in rows} - {None}
    mobiles = {p.values["contacts"][1] for p in rows} - {None}
    numbers = {p.values["employee_no"] for p in rows} - {""}
    users: dict[int, tuple[str | None, str | None]] = {}
    for column, values in ((User.email, emails), (User.mobile, mobiles)):
        for chunk in _chunks(values):
            query = select(User.id, User.email, User.mobile).where(column.in_(chunk))
            users.update((uid, (email, mobile)) for uid, email, mobile in db.session.execute(query))
    by_email = {email: uid for uid, (email, _) in users.items() if email}
    by_mobile = {mobile: uid for uid, (_, mobile) in users.items() if mobile}
    today = date.today()
    current = and_(
        Membership.starts_on <= today,
        or_(Membership.ends_on.is_(None), Membership.ends_on > today),
    )
    roles: dict[int, set[str]] = {}  # user → their current roles in this firm
    for chunk in _chunks(users):
        query = select(Membership.user_id, Membership.role).where(
            Membership.firm_id == firm.id,
            Membership.consortium_id == firm.consortium_id,
            Membership.user_id.in_(chunk),
            current,
        )
        for uid, role in db.session.execute(query):
            roles.setdefault(uid, set()).add(role)
    holders: dict[str, set[int]] = {}  # employee number → people of this firm holding it
    for chunk in _chunks(numbers):
        query = select(Membership.employee_no, Membership.user_id).where(
            Membership.firm_id == firm.id, Membership.employee_no.in_(chunk)
        )
        for number, uid in db.session.execute(query):
            holders.setdefault(number, set()).add(uid)

    for p in rows:
        email, mobile = p.values["contacts"]
        matched = {by_email.get(email), by_mobile.get(mobile)} - {None}
        inside = [uid for uid in matched if uid in roles]
        p.user_id = min(matched, default=None)
        if len(inside) > 1:
            p.error(
                "mobile", _l("The e-mail and the mobile number belong to two different people.")
            )
            continue
        user = inside[0] if inside else None
        if user is not None:
            user_email, user_mobile = users[user]
            if email and user_email and user_email != email:
                p.error(
                    "email", _l("This mobile number is registered with another e-mail address.")
                )
                continue
            if mobile and user_mobile and user_mobile != mobile:
                p.error(
                    "mobile", _l("This e-mail address is registered with another mobile number.")
                )
                continue
        if holders.get(p.values["employee_no"], set()) - {user}:
            p.error("employee_no", _l("Another person of this firm has this employee number."))
            continue
        if user is None:
            p.action = "create"  # a new person, or one invited from elsewhere (p.user_id)
        else:
            p.user_id = user
            p.action = "unchanged" if p.values["role"] in roles[user] else "add"


def stage_import(
    actor: User, firm: Firm, *, filename: str, data: bytes, max_rows: int
) -> ImportBatch:
    """Parse and check a file into a pending batch with each row's outcome (nothing about
    people is written yet)."""
    rows = parse_rows(read_table(filename, data, max_rows=max_rows), max_rows)
    previews = preview_rows(firm, rows)
    batch = ImportBatch(
        consortium_id=firm.consortium_id,
        firm_id=firm.id,
        created_by_id=actor.id,
        filename=filename[:200],
        rows=rows,
    )
    db.session.add(batch)
    db.session.flush()
    db.session.execute(
        insert(ImportRow),
        [
            {
                "batch_id": batch.id,
                "row": p.row,
                "action": p.action,
                "values": _stored_values(p),
                "errors": p.errors,
            }
            for p in previews
        ],
    )
    return batch


def _stored_values(p: PreviewRow) -> dict:
    return {key: value for key, value in p.values.items() if key != "contacts"}


def batch_counts(batch: ImportBatch) -> dict[str, int]:
    """Rows of the batch by what saving does with them: create, add, unchanged, error."""
    counts = dict.fromkeys(ACTIONS, 0)
    query = (
        select(ImportRow.action, func.count())
        .where(ImportRow.batch_id == batch.id)
        .group_by(ImportRow.action)
    )
    counts.update({action: n for action, n in db.session.execute(query)})
    return counts


def preview_page(batch: ImportBatch) -> RowPagination:
    """The page of the batch's stored rows the request asks for: errors first, then by line."""
    query = (
        select(ImportRow.row, ImportRow.action, ImportRow.values, ImportRow.errors)
        .where(ImportRow.batch_id == batch.id)
        .order_by(case((ImportRow.action == "error", 0), else_=1), ImportRow.row)
    )
    return RowPagination(
        select=query,
        count_query=select(func.count()).where(ImportRow.batch_id == batch.id),
        session=db.session,
        page=page_arg(),
        per_page=PREVIEW_PAGE_SIZE,
        error_out=False,
    )


def confirm_import(actor: User, firm: Firm, batch: ImportBatch) -> dict:
    """Write every valid row of a pending batch in the caller's transaction; runs once.

    The rows were checked at upload; what may have changed since (a contact or employee
    number taken meanwhile, a job role withdrawn) is checked again for the rows to write, in
    bulk, and the people and memberships are written with bulk inserts. Raises
    ImportConflict when someone else wrote the same people at the same moment."""
    # Claim the batch atomically: a double submit (or two tabs) writes the rows once.
    claimed = db.session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch.id, ImportBatch.status == "pending")
        .values(status="done")
    ).rowcount
    if claimed != 1:
        db.session.refresh(batch)
        return batch.result or {}
    stored = db.session.execute(
        select(ImportRow.id, ImportRow.row, ImportRow.action, ImportRow.values).where(
            ImportRow.batch_id == batch.id
        )
    ).all()
    counts = dict.fromkeys(ACTIONS, 0)
    todo: list[PreviewRow] = []
    before: dict[int, str] = {}  # ImportRow id → its action as previewed
    for row_id, line, action, values in stored:
        before[row_id] = action
        if action in ("create", "add"):
            values = dict(values)
            values["contacts"] = [values["email"] or None, values["mobile"] or None]
            todo.append(PreviewRow(row=line, values=values, action=action, id=row_id))
        else:
            counts[action] += 1
    usable = set(_job_role_lookup(firm).values())
    for p in todo:
        if p.values.get("job_role_id") and p.values["job_role_id"] not in usable:
            p.error("job_role", _l("Choose a job role from the list."))
    _compare_with_database(firm, [p for p in todo if p.action != "error"])
    try:
        _write_people(actor, firm, todo)
    except IntegrityError as exc:
        raise ImportConflict() from exc
    changed = [
        {"id": p.id, "action": p.action, "errors": p.errors}
        for p in todo
        if p.action != before[p.id]
    ]
    if changed:  # what the preview said and saving found differ: the rows say what was done
        db.session.execute(update(ImportRow), changed)
    for p in todo:
        counts[p.action] += 1
    batch.status = "done"
    batch.result = counts
    batch.confirmed_at = utcnow()
    record_action(actor, "person.import", batch, consortium_id=firm.consortium_id, details=counts)
    db.session.flush()
    return counts


def _write_people(actor: User, firm: Firm, rows: list[PreviewRow]) -> None:
    """New people and their memberships by bulk insert; people with an account elsewhere are
    invited (never attached: they accept while signed in)."""
    now, today = utcnow(), date.today()
    new = [p for p in rows if p.action == "create" and p.user_id is None]
    invited = [p for p in rows if p.action == "create" and p.user_id is not None]
    if new:
        ids = db.session.scalars(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {
                    "public_id": new_public_id(),
                    "name": p.values["name"],
                    "email": p.values["contacts"][0],
                    "mobile": p.values["contacts"][1],
                    "created_at": now,
                    "is_platform_admin": False,
                    "is_active_account": True,
                    "failed_login_count": 0,
                }
                for p in new
            ],
        ).all()
        for p, uid in zip(new, ids, strict=True):
            p.user_id = uid
    added = [p.user_id for p in rows if p.action == "add"]
    for chunk in _chunks(added):  # as add_membership does: a new role reopens the account
        db.session.execute(
            update(User)
            .where(User.id.in_(chunk), User.is_active_account.is_(False))
            .values(is_active_account=True)
        )
    members = new + [p for p in rows if p.action == "add"]
    if members:
        db.session.execute(
            insert(Membership),
            [
                {
                    "user_id": p.user_id,
                    "consortium_id": firm.consortium_id,
                    "firm_id": firm.id,
                    "role": p.values["role"],
                    "job_role_id": p.values.get("job_role_id") or None,
                    "employee_no": p.values.get("employee_no") or None,
                    "starts_on": today,
                    "created_at": now,
                }
                for p in members
            ],
        )
    for p in invited:
        invite_person(
            actor,
            consortium=firm.consortium,
            firm=firm,
            role=p.values["role"],
            name=p.values["name"],
            email=p.values["contacts"][0],
            mobile=p.values["contacts"][1],
            job_role_id=p.values.get("job_role_id") or None,
        )
