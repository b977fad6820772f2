"""Bulk import of a firm's people from CSV or XLSX: parse, preview every row's errors, confirm."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import select, update

from lms.audit.service import record_action
from lms.auth.models import User
from lms.auth.service import AccountError, contact_match, normalize_contact
from lms.core import archives
from lms.core.types import utcnow
from lms.extensions import db
from lms.tenancy.invitations import holds_role_at, invite_person
from lms.tenancy.models import FIRM_ROLES, Firm, ImportBatch, Membership
from lms.tenancy.service import TenancyError, add_membership

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


@dataclass
class PreviewRow:
    row: int
    values: dict
    errors: list[dict] = field(default_factory=list)
    action: str = "create"  # create | add | unchanged | error

    def error(self, column: str, message) -> None:
        self.errors.append({"column": column, "message": str(message)})
        self.action = "error"


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
        while cells and not cells[-1]:
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
        # Explicit bounds, as the sheet's size is not looked up: openpyxl stops parsing at
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
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # mobile numbers typed into Excel become numbers
    return str(value).strip()[:MAX_CELL_CHARS]


def map_header(header: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for pos, title in enumerate(header):
        key = title.strip().lower()
        for column, spellings in COLUMNS.items():
            if key in spellings:
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
        if not any(cells):
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
                lookup[key.strip().lower()] = role.id
    return lookup


def preview_rows(firm: Firm, rows: list[dict]) -> list[PreviewRow]:
    """Check every row against the rules, the rest of the file and the database."""
    previews: list[PreviewRow] = []
    seen: dict[tuple[str, str], int] = {}
    job_roles = _job_role_lookup(firm)
    for raw in rows:
        p = PreviewRow(row=raw["row"], values={k: v for k, v in raw.items() if k != "row"})
        v = p.values
        name = v.get("name", "").strip()
        if not name:
            p.error("name", _l("Enter a name."))
        elif len(name) > 80:
            p.error("name", _l("A name has at most 80 characters."))
        try:
            email, mobile = normalize_contact(v.get("email"), v.get("mobile"))
            v["email"], v["mobile"] = email or "", mobile or ""
        except AccountError as exc:
            p.error(exc.field or "mobile", exc.message)
            email = mobile = None
        role_raw = (v.get("role") or "").strip().lower()
        role = ROLE_ALIASES.get(role_raw, role_raw) if role_raw else "worker"
        if role not in FIRM_ROLES:
            p.error("role", _l("Role must be worker, trainer or firm_admin."))
        v["role"] = role
        job_role = (v.get("job_role") or "").strip()
        v["job_role_id"] = job_roles.get(job_role.lower()) if job_role else None
        if job_role and v["job_role_id"] is None:
            p.error(
                "job_role",
                _l(
                    "Unknown job role “%(value)s”: use the name or id of a role on the "
                    "job roles page.",
                    value=job_role[:60],
                ),
            )
        if len(v.get("employee_no") or "") > 40:
            p.error("employee_no", _l("An employee number has at most 40 characters."))
        for column, value in (
            ("email", email),
            ("mobile", mobile),
            ("employee_no", v.get("employee_no")),
        ):
            if value:
                first = seen.setdefault((column, value), p.row)
                if first != p.row:
                    p.error(column, _l("Same value as row %(row)d of this file.", row=first))
        if p.action != "error":
            _compare_with_database(firm, p, email, mobile)
        previews.append(p)
    return previews


def _compare_with_database(
    firm: Firm, p: PreviewRow, email: str | None, mobile: str | None
) -> None:
    # Only people who already hold a role in this firm are compared: anyone else, new or with
    # an account elsewhere, is a "create" row alike (an existing account gets an invitation to
    # accept when signed in), so the preview never tells whether an outside account exists.
    users = db.session.scalars(select(User).where(contact_match(User, email, mobile))).all()
    inside = [u for u in users if holds_role_at(u, firm.consortium, firm)]
    if len(inside) > 1:
        p.error("mobile", _l("The e-mail and the mobile number belong to two different people."))
        return
    user = inside[0] if inside else None
    if user is not None:
        if email and user.email and user.email != email:
            p.error("email", _l("This mobile number is registered with another e-mail address."))
            return
        if mobile and user.mobile and user.mobile != mobile:
            p.error("mobile", _l("This e-mail address is registered with another mobile number."))
            return
    if employee_no := p.values.get("employee_no"):
        holder = db.session.scalars(
            select(Membership).where(
                Membership.firm_id == firm.id, Membership.employee_no == employee_no
            )
        ).first()
        if holder is not None and (user is None or holder.user_id != user.id):
            p.error("employee_no", _l("Another person of this firm has this employee number."))
            return
    if user is None:
        p.action = "create"
    elif any(
        m.firm_id == firm.id and m.role == p.values["role"] and m.is_current()
        for m in user.memberships
    ):
        p.action = "unchanged"
    else:
        p.action = "add"


def stage_import(
    actor: User, firm: Firm, *, filename: str, data: bytes, max_rows: int
) -> ImportBatch:
    """Parse a file into a pending batch (nothing about people is written yet)."""
    rows = parse_rows(read_table(filename, data, max_rows=max_rows), max_rows)
    batch = ImportBatch(
        consortium_id=firm.consortium_id,
        firm_id=firm.id,
        created_by_id=actor.id,
        filename=filename[:200],
        rows=rows,
    )
    db.session.add(batch)
    db.session.flush()
    return batch


def confirm_import(actor: User, firm: Firm, batch: ImportBatch) -> dict:
    """Write every valid row of a pending batch in the caller's transaction; runs once."""
    # Claim the batch atomically: a double submit (or two tabs) writes the rows once.
    claimed = db.session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch.id, ImportBatch.status == "pending")
        .values(status="done")
    ).rowcount
    if claimed != 1:
        db.session.refresh(batch)
        return batch.result or {}
    counts = {"create": 0, "add": 0, "unchanged": 0, "error": 0}
    for p in preview_rows(firm, batch.rows):
        counts[p.action] += 1
        if p.action in ("error", "unchanged"):
            continue
        v = p.values
        user = db.session.scalars(
            select(User).where(contact_match(User, v["email"] or None, v["mobile"] or None))
        ).first()
        if user is not None and not holds_role_at(user, firm.consortium, firm):
            invite_person(
                actor,
                consortium=firm.consortium,
                firm=firm,
                role=v["role"],
                name=v["name"],
                email=v["email"] or None,
                mobile=v["mobile"] or None,
                job_role_id=v.get("job_role_id") or None,
            )
            continue
        if user is None:
            user = User(
                name=v["name"].strip(), email=v["email"] or None, mobile=v["mobile"] or None
            )
            db.session.add(user)
            db.session.flush()
        try:
            add_membership(
                actor,
                user,
                consortium=firm.consortium,
                firm=firm,
                role=v["role"],
                job_role_id=v.get("job_role_id") or None,
                employee_no=v.get("employee_no") or None,
                audit=False,
            )
        except TenancyError:  # pragma: no cover - roles were checked in the preview
            counts["error"] += 1
    batch.status = "done"
    batch.result = counts
    batch.confirmed_at = utcnow()
    record_action(actor, "person.import", batch, consortium_id=firm.consortium_id, details=counts)
    db.session.flush()
    return counts
