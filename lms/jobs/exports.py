"""Table downloads (CSV and XLSX) that open correctly in Excel and can't smuggle formulas.

Small tables are sent at once (`table_response`). A table view whose rows can be many registers
a source under a name; `export_response` then sends it at once when it is small, and otherwise
runs it as a background job ("exports" kind) that writes the file to storage and gives its
starter a download link valid for LINK_HOURS:

    @register_export("firm.overdue")
    def overdue_export(actor, params) -> ExportTable:   # loads and checks scope from params itself
        ...

    return export_response("firm.overdue", actor=current_user, params={...}, fmt="xlsx")

A source runs again in the job, possibly in a worker process without a request, so it must
take everything from `params` (plain JSON) and check the actor's permissions itself.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, redirect, url_for

from lms.jobs.service import start_job

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMATS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
LINK_HOURS = 24
JOB_KIND = "exports"
_PROGRESS_EVERY = 2000


def safe_cell(value) -> str:
    """The cell as text; a leading = + - @ is neutralised so spreadsheets don't run it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> Response:
    """A UTF-8 CSV download with a BOM, so Excel shows Chinese correctly."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    _write_csv(buffer, header, rows)
    return _download(buffer.getvalue().encode("utf-8"), filename, FORMATS["csv"])


@dataclass
class ExportTable:
    """What a table view exports: `filename` without extension, translated column titles,
    the rows (str, int, float, Decimal, date, datetime or None) and, when it may be large,
    how many rows there are (it decides between a direct download and a job)."""

    filename: str
    header: Sequence[str]
    rows: Iterable[Sequence]
    count: int | None = None
    title: str = ""


SOURCES: dict[str, Callable[..., ExportTable]] = {}


def register_export(name: str):
    """Register an export source `(actor, params) -> ExportTable` under `name`."""

    def decorator(func):
        SOURCES[name] = func
        return func

    return decorator


def table_response(fmt: str, table: ExportTable) -> Response:
    """The table as a CSV or XLSX download (404 for another format)."""
    if fmt not in FORMATS:
        abort(404)
    buffer = io.BytesIO()
    write_table(buffer, fmt, table)
    return _download(buffer.getvalue(), f"{table.filename}.{fmt}", FORMATS[fmt])


def export_response(name: str, *, actor, params: dict, fmt: str) -> Response:
    """Send the export now, or start it as a job when it has more rows than the inline limit."""
    if fmt not in FORMATS or name not in SOURCES:
        abort(404)
    table = SOURCES[name](actor, params)
    if (table.count or 0) <= current_app.config["LMS_EXPORT_INLINE_ROWS"]:
        return table_response(fmt, table)
    from flask_babel import get_locale

    job = start_job(
        JOB_KIND,
        actor=actor,
        params={"source": name, "params": params, "format": fmt, "locale": str(get_locale())},
    )
    return redirect(url_for("jobs.job_page", public_id=job.public_id))


def export_job(job, report) -> dict:
    """The "exports" job: write the file to storage; the job page links to it."""
    from flask_babel import force_locale

    from lms.core.storage import storage

    fmt = job.params["format"]
    actor = job.created_by
    with force_locale(job.params.get("locale") or "zh_CN"):
        table = SOURCES[job.params["source"]](actor, job.params["params"])
        total = table.count or 0
        report(0, total)
        # Spool to a temporary file: a 100,000-row sheet needn't sit in memory twice.
        with tempfile.TemporaryFile() as spool:
            rows = write_table(spool, fmt, table, report=lambda n: report(n, max(total, n)))
            spool.seek(0)
            key = f"exports/{job.public_id}.{fmt}"
            storage().save(key, spool.read())
    expires = datetime.now(ZoneInfo("UTC")) + timedelta(hours=LINK_HOURS)
    return {
        "file": key,
        "filename": f"{table.filename}.{fmt}",
        "mimetype": FORMATS[fmt],
        "rows": rows,
        "expires_at": expires.isoformat(),
    }


def write_table(fp, fmt: str, table: ExportTable, *, report=None) -> int:
    """Write the table to a binary file object; returns the number of rows written."""
    if fmt == "csv":
        text = io.TextIOWrapper(fp, encoding="utf-8", newline="", write_through=True)
        text.write("\ufeff")
        count = _write_csv(text, table.header, table.rows, report=report)
        text.detach()
        return count
    return _write_xlsx(fp, table, report=report)


def _write_csv(out, header, rows, *, report=None) -> int:
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in header])
    count = 0
    for count, row in enumerate(rows, 1):
        writer.writerow([_csv_value(c) for c in row])
        if report is not None and count % _PROGRESS_EVERY == 0:
            report(count)
    return count


def _csv_value(value) -> str:
    if isinstance(value, datetime):
        return _local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return safe_cell(value)


def _write_xlsx(fp, table: ExportTable, *, report=None) -> int:
    import xlsxwriter

    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    # constant_memory streams rows to disk as they come: memory stays flat for any size.
    with tempfile.TemporaryDirectory() as tmp:
        workbook = xlsxwriter.Workbook(fp, {"constant_memory": True, "tmpdir": tmp})
        sheet = workbook.add_worksheet(_sheet_title(table.title or table.filename))
        bold = workbook.add_format({"bold": True})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        moment = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        for col, title in enumerate(table.header):
            sheet.write_string(0, col, safe_cell(title), bold)
            sheet.set_column(col, col, max(10, min(40, len(str(title)) * 2 + 2)))
        sheet.freeze_panes(1, 0)
        write_string, write_number = sheet.write_string, sheet.write_number
        write_datetime, write_boolean = sheet.write_datetime, sheet.write_boolean
        count = 0
        for count, row in enumerate(table.rows, 1):
            for col, value in enumerate(row):
                kind = type(value)
                if value is None:
                    continue
                if kind is str:
                    # Always a string cell (never a formula), neutralised for CSV round trips.
                    write_string(count, col, safe_cell(value))
                elif kind is datetime:
                    if value.tzinfo is not None:
                        value = value.astimezone(zone).replace(tzinfo=None)
                    write_datetime(count, col, value, moment)
                elif kind is date:
                    write_datetime(count, col, datetime(value.year, value.month, value.day), day)
                elif kind is bool:
                    write_boolean(count, col, value)
                elif kind in (int, float, Decimal):
                    write_number(count, col, float(value))
                else:
                    write_string(count, col, safe_cell(value))
            if report is not None and count % _PROGRESS_EVERY == 0:
                report(count)
        workbook.close()
    return count


def _sheet_title(title: str) -> str:
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    return title.strip()[:31] or "Sheet1"


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


def _download(data: bytes, filename: str, mimetype: str) -> Response:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    return Response(
        data,
        mimetype=mimetype,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
            ),
            "Cache-Control": "no-store",
        },
    )


def result_file(job) -> tuple[str, str, str] | None:
    """(storage key, download name, mimetype) of a finished job's file while its link is valid."""
    path = job.result.get("file") if job.state == "done" else None
    if not path:
        return None
    expires = job.result.get("expires_at")
    if expires and datetime.fromisoformat(expires) < datetime.now(ZoneInfo("UTC")):
        return None
    return path, job.result.get("filename") or os.path.basename(path), job.result["mimetype"]
