"""CSV and XLSX table exports: formulas neutralised, types kept, Chinese readable in Excel."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from lms.jobs.exports import ExportTable, safe_cell, table_response, write_table

ROWS = [
    ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "张三"],
    [3, -4.5, None, True, date(2026, 3, 1), datetime(2026, 3, 1, 0, 30, tzinfo=UTC)],
]


def test_cells_that_could_run_as_formulas_are_neutralised():
    assert [safe_cell(v) for v in ROWS[0]] == [
        "'=1+1",
        "'+SUM(A1)",
        "'-2+3",
        "'@cmd",
        "'\tx",
        "张三",
    ]
    assert safe_cell(None) == "" and safe_cell(-3) == "'-3"


def test_csv_has_a_bom_and_neutralised_text_but_plain_numbers(app):
    with app.test_request_context():
        response = table_response("csv", ExportTable("t", ["名称", "=h"], ROWS))
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig").splitlines()
    assert text[0] == "名称,'=h"
    assert text[1].startswith("'=1+1,'+SUM(A1),'-2+3,'@cmd")
    # Numbers stay numbers (a negative number is not text that could be a formula); the
    # time is in the consortium's zone.
    assert text[2] == "3,-4.5,,1,2026-03-01,2026-03-01 08:30"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="t.csv"')


def test_xlsx_keeps_types_and_never_writes_a_formula(app):
    buffer = io.BytesIO()
    with app.app_context():
        assert write_table(buffer, "xlsx", ExportTable("t", ["a"] * 6, ROWS, title="表/1")) == 2
    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert sheet.title == "表 1"
    first = [c.value for c in sheet[2]]
    assert first[:4] == ["'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd"]
    assert all(c.data_type == "s" for c in sheet[2])
    second = [c.value for c in sheet[3]]
    assert second[0] == 3 and second[1] == -4.5 and second[2] is None and second[3] is True
    assert second[4] == datetime(2026, 3, 1) and second[5] == datetime(2026, 3, 1, 8, 30)


def test_an_unknown_format_is_not_found(app):
    import pytest
    from werkzeug.exceptions import NotFound

    with app.test_request_context(), pytest.raises(NotFound):
        table_response("pdf", ExportTable("t", ["a"], []))
