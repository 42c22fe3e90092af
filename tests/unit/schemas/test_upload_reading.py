"""Messy upload files: how reading names what is wrong, and where.

The cases come from real local authority returns (liia-tools' issue history and the DfE returns
it reads): files saved from old Excel, PDFs, macro workbooks, non-UTF-8 text from "Save as CSV",
renamed or misspelt headers, data on the wrong sheet, codes and counts turned into numbers by a
spreadsheet, ragged rows and blank lines. Every assertion names the rule, the row a spreadsheet
user sees (header = row 1; None for the whole file) and the column.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping

import openpyxl
import pytest

from schemas.upload import FileLimits, ValidationReport, validate_upload

HEADER = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "new_la_code",
    "old_la_code",
    "la_name",
    "indicator_id",
    "breakdown_topic",
    "breakdown",
    "numerator",
    "denominator",
    "value",
]
# A valid Total row: County Durham, reporting year 2025, referrals with no further action (a
# proportion). Rows in tests are this row with a few cells changed.
BASE = {
    "time_period": "2025",
    "time_identifier": "Reporting year",
    "geographic_level": "Local authority",
    "new_la_code": "E06000047",
    "old_la_code": "840",
    "la_name": "County Durham",
    "indicator_id": "t3_referrals_nfa",
    "breakdown_topic": "Total",
    "breakdown": "Total",
    "numerator": "10",
    "denominator": "100",
    "value": "10.0",
}
MALE = {**BASE, "breakdown_topic": "gender", "breakdown": "Male", "numerator": "4", "value": ""}
XLSX_NUMBERS = {"time_period": 2025, "old_la_code": 840, "numerator": 10, "denominator": 100}


def csv_bytes(
    rows: Iterable[Mapping[str, str]], header: list[str] | None = None, *, newline: str = "\n"
) -> bytes:
    """A CSV file from dict rows (missing cells blank), written as Excel's 'CSV UTF-8' would."""
    header = HEADER if header is None else header
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue().encode("utf-8")


def data_lines(*rows: Mapping[str, str]) -> bytes:
    """CSV data lines without the header, to splice after blank lines."""
    return csv_bytes(rows).split(b"\n", 1)[1]


def xlsx_bytes(sheets: Mapping[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_row(**changes: object) -> list[object]:
    """BASE as an Excel user types it: the period, the LA number and the counts are numbers."""
    cells = {**BASE, **XLSX_NUMBERS, **changes}
    return [cells[h] for h in HEADER]


def validate(data: bytes, filename: str = "return.csv", **kwargs: object) -> ValidationReport:
    return validate_upload(data, filename, **kwargs)  # type: ignore[arg-type]


def where(
    report: ValidationReport, severity: str = "error"
) -> set[tuple[str, int | None, str | None]]:
    """(rule, row, column) of every problem of one severity."""
    return {(p.rule, p.row, p.column) for p in report.problems if p.severity == severity}


def only_problem(report: ValidationReport) -> tuple[str, int | None, str | None]:
    assert len(report.problems) == 1, report.to_text()
    p = report.problems[0]
    return p.rule, p.row, p.column


# ------------------------------------------------------------------------------ valid files


def test_read_csv_valid_ok() -> None:
    report = validate(csv_bytes([BASE, MALE]))
    assert report.ok
    assert report.problems == []
    assert report.rows == 2
    assert report.sheet is None


def test_read_csv_utf8_bom_accepted() -> None:
    report = validate(b"\xef\xbb\xbf" + csv_bytes([BASE]))
    assert report.ok, report.to_text()
    assert report.problems == []


def test_read_csv_crlf_line_endings_accepted() -> None:
    report = validate(csv_bytes([BASE, MALE], newline="\r\n"))
    assert report.ok, report.to_text()
    assert report.rows == 2


def test_read_csv_trailing_empty_columns_ignored() -> None:
    """Spreadsheets often save a few unnamed empty columns after the data."""
    data = csv_bytes([BASE]).replace(b"value\n", b"value,,\n").replace(b"10.0\n", b"10.0,,\n")
    report = validate(data)
    assert report.ok, report.to_text()


def test_read_csv_quoted_comma_in_category() -> None:
    row = {
        **BASE,
        "breakdown_topic": "ethnicity",
        "breakdown": "Black, African, Caribbean or Black British",
        "value": "",
    }
    data = csv_bytes([BASE, row])
    assert b'"Black, African, Caribbean or Black British"' in data
    report = validate(data)
    assert report.ok, report.to_text()


def test_read_xlsx_valid_ok() -> None:
    report = validate(xlsx_bytes({"Data": [HEADER, xlsx_row()]}), "return.xlsx")
    assert report.ok, report.to_text()
    assert report.sheet == "Data"
    assert report.rows == 1


# ------------------------------------------------------------------------------ empty files


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b"\r\n\r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n"],
    ids=["nothing", "spaces", "blank-lines", "bom-only", "bom-newline"],
)
def test_read_empty_file_empty(data: bytes) -> None:
    assert only_problem(validate(data)) == ("file_empty", None, None)


@pytest.mark.parametrize(
    "data",
    [csv_bytes([]), csv_bytes([]) + b"\n\n", csv_bytes([]) + b",,,,,,,,,,,\n"],
    ids=["header", "header-blank-lines", "header-empty-cells"],
)
def test_read_csv_header_only_file_empty(data: bytes) -> None:
    report = validate(data)
    assert only_problem(report) == ("file_empty", None, None)
    assert report.rows == 0


def test_read_xlsx_header_only_file_empty() -> None:
    report = validate(xlsx_bytes({"Data": [HEADER]}), "return.xlsx")
    assert only_problem(report) == ("file_empty", None, None)


def test_read_xlsx_no_cells_file_empty() -> None:
    report = validate(xlsx_bytes({"Sheet1": []}), "return.xlsx")
    assert only_problem(report) == ("file_empty", None, None)


# ------------------------------------------------------------------------------- file types


def _workbook_with(extra: Mapping[str, bytes]) -> bytes:
    """A real XLSX with extra parts added to its zip."""
    source = xlsx_bytes({"Data": [HEADER, xlsx_row()]})
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(source)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        for name, payload in extra.items():
            dst.writestr(name, payload)
    return out.getvalue()


def _zip_of(files: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in files.items():
            archive.writestr(name, payload)
    return out.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


@pytest.mark.parametrize(
    ("data", "filename", "says"),
    [
        (OLE, "return.xls", "Excel 97-2003"),
        (OLE, "return.csv", "Excel 97-2003"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "return.pdf", "PDF"),
        (b"%PDF-1.4\n", "return.csv", "PDF"),
        (_zip_of({"data.csv": b"a,b\n1,2\n"}), "return.xlsx", "not an Excel workbook"),
        (_zip_of({"data.csv": b"a,b\n1,2\n"}), "return.zip", "not an Excel workbook"),
        (b"PK\x03\x04 damaged beyond repair", "return.xlsx", "damaged"),
        (xlsx_bytes({"Data": [HEADER, xlsx_row()]}), "return.xlsm", "Macro"),
        (_workbook_with({"xl/vbaProject.bin": b"\x00" * 64}), "return.xlsx", "Macro"),
        (csv_bytes([BASE]), "return.xls", ".xls"),
        (csv_bytes([BASE]), "return.xlsx", ".xlsx"),
        (b"<html><body>return</body></html>", "return.html", ".html"),
        (b'{"indicator_id": "t3_referrals_nfa"}', "return.json", ".json"),
    ],
    ids=[
        "xls-ole",
        "ole-named-csv",
        "pdf",
        "pdf-named-csv",
        "zip-not-xlsx",
        "zip-named-zip",
        "damaged-zip",
        "xlsm-suffix",
        "vba-project-in-xlsx",
        "csv-named-xls",
        "csv-named-xlsx",
        "html",
        "json",
    ],
)
def test_read_wrong_file_type(data: bytes, filename: str, says: str) -> None:
    report = validate(data, filename)
    assert only_problem(report) == ("file_type", None, None)
    assert says in report.problems[0].message
    assert report.rows == 0


# -------------------------------------------------------------------------- zip-bomb limits


def test_read_xlsx_highly_compressible_file_too_complex() -> None:
    """A small workbook that would expand ~1000 times: refused before openpyxl opens it."""
    data = _workbook_with({"xl/media/padding.bin": b"\x00" * 4_000_000})
    assert len(data) < 50_000
    report = validate(data, "return.xlsx")
    assert only_problem(report) == ("file_too_complex", None, None)
    assert "zip bomb" in report.problems[0].message


@pytest.mark.parametrize(
    "limits",
    [
        FileLimits(max_uncompressed_bytes=1_000),
        FileLimits(max_compression_ratio=1.5),
        FileLimits(max_zip_entries=3),
    ],
    ids=["uncompressed-bytes", "compression-ratio", "zip-entries"],
)
def test_read_xlsx_limits_file_too_complex(limits: FileLimits) -> None:
    data = xlsx_bytes({"Data": [HEADER, xlsx_row()]})
    assert validate(data, "return.xlsx").ok
    assert only_problem(validate(data, "return.xlsx", limits=limits)) == (
        "file_too_complex",
        None,
        None,
    )


def test_read_xlsx_one_row_over_limit_file_too_large() -> None:
    rows = [HEADER] + [xlsx_row(time_period=2020 + i) for i in range(4)]
    report = validate(xlsx_bytes({"Data": rows}), "return.xlsx", limits=FileLimits(max_xlsx_rows=3))
    assert only_problem(report) == ("file_too_large", None, None)


def test_read_xlsx_rows_at_limit_accepted() -> None:
    rows = [HEADER] + [xlsx_row(time_period=2020 + i) for i in range(3)]
    report = validate(xlsx_bytes({"Data": rows}), "return.xlsx", limits=FileLimits(max_xlsx_rows=3))
    assert report.ok, report.to_text()


def test_read_xlsx_too_many_rows_file_too_large() -> None:
    rows = [HEADER] + [xlsx_row(breakdown=str(i)) for i in range(6)]
    report = validate(xlsx_bytes({"Data": rows}), "return.xlsx", limits=FileLimits(max_xlsx_rows=3))
    assert only_problem(report) == ("file_too_large", None, None)


# --------------------------------------------------------------------------------- encoding


def test_read_csv_windows_1252_file_encoding_names_row() -> None:
    """Excel's plain 'CSV (Comma delimited)' writes Windows-1252: é in row 3 is byte 0xE9."""
    rows = [BASE, {**MALE, "la_name": "Durham Café"}]
    data = csv_bytes(rows).decode("utf-8").encode("cp1252")
    report = validate(data)
    assert only_problem(report) == ("file_encoding", 3, "la_name")
    message = report.problems[0].message
    assert "row 3" in message
    assert "0xE9" in message
    assert "CSV UTF-8" in message


def test_read_csv_pound_sign_latin1_file_encoding_row_2() -> None:
    data = csv_bytes([{**BASE, "la_name": "£ County Durham"}]).decode().encode("latin-1")
    assert only_problem(validate(data)) == ("file_encoding", 2, "la_name")


def test_read_csv_utf16_file_encoding() -> None:
    """'Unicode Text' from Excel is UTF-16: refused as a whole file, with the fix named."""
    report = validate(csv_bytes([BASE]).decode().encode("utf-16"))
    assert [(p.rule, p.column) for p in report.problems] == [("file_encoding", None)]
    assert "CSV UTF-8" in report.problems[0].message


def test_read_csv_nul_bytes_file_encoding() -> None:
    data = csv_bytes([BASE]).replace(b"County", b"Co\x00unty")
    assert only_problem(validate(data)) == ("file_encoding", None, None)


# ---------------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("written", "column"),
    [
        ("Indicator ID", "indicator_id"),
        ("  indicator_id  ", "indicator_id"),
        ("INDICATOR-ID", "indicator_id"),
        ("Time Period", "time_period"),
        ("New LA code", "new_la_code"),
        ("Old_LA_Code", "old_la_code"),
        ("Breakdown Topic", "breakdown_topic"),
        ("Numerator ", "numerator"),
    ],
)
def test_header_case_and_space_variants_normalised(written: str, column: str) -> None:
    header = [written if h == column else h for h in HEADER]
    rows = [{written if k == column else k: v for k, v in BASE.items()}]
    report = validate(csv_bytes(rows, header))
    assert report.problems == [], report.to_text()


@pytest.mark.parametrize(
    ("written", "column"),
    [
        ("LA code", "new_la_code"),
        ("GSS code", "new_la_code"),
        ("LA number", "old_la_code"),
        ("Local authority", "la_name"),
        ("Indicator", "indicator_id"),
        ("Year", "time_period"),
        ("Num", "numerator"),
        ("Denom", "denominator"),
        ("Percentage", "value"),
    ],
)
def test_header_alias_header_renamed_warning(written: str, column: str) -> None:
    header = [written if h == column else h for h in HEADER]
    rows = [{written if k == column else k: v for k, v in BASE.items()}]
    report = validate(csv_bytes(rows, header))
    assert report.ok, report.to_text()
    assert where(report, "warning") == {("header_renamed", 1, written)}
    assert column in report.warnings[0].message


def test_header_alias_with_target_present_header_unknown() -> None:
    """'LA code' beside new_la_code cannot be a rename: it is an extra column."""
    header = [*HEADER, "LA code"]
    report = validate(csv_bytes([{**BASE, "LA code": "E06000047"}], header))
    assert where(report) == {("header_unknown", 1, "LA code")}


@pytest.mark.parametrize(
    ("written", "suggestion"),
    [
        ("denominatr", "denominator"),
        ("indicator_idd", "indicator_id"),
        ("breakdown_topc", "breakdown_topic"),
        ("numerater", "numerator"),
        ("respondent", "respondents"),
    ],
)
def test_header_typo_header_unknown_did_you_mean(written: str, suggestion: str) -> None:
    header = [*HEADER, written] if suggestion not in HEADER else HEADER
    header = [written if h == suggestion else h for h in header]
    rows = [{written if k == suggestion else k: v for k, v in BASE.items()}]
    report = validate(csv_bytes(rows, header))
    assert ("header_unknown", 1, written) in where(report)
    problem = next(p for p in report.errors if p.rule == "header_unknown")
    assert f"Did you mean {suggestion!r}?" in problem.message
    # A header problem stops row checks: they would only repeat it on every row.
    assert all(p.row == 1 for p in report.problems)


def test_header_unrelated_column_header_unknown_without_suggestion() -> None:
    report = validate(csv_bytes([{**BASE, "Notes": "checked by JS"}], [*HEADER, "Notes"]))
    assert where(report) == {("header_unknown", 1, "Notes")}
    assert "Did you mean" not in report.errors[0].message


@pytest.mark.parametrize(
    "column",
    [
        "time_period",
        "time_identifier",
        "geographic_level",
        "new_la_code",
        "old_la_code",
        "la_name",
        "indicator_id",
        "breakdown_topic",
        "breakdown",
    ],
)
def test_header_identity_column_header_missing(column: str) -> None:
    header = [h for h in HEADER if h != column]
    report = validate(csv_bytes([BASE], header))
    assert where(report) == {("header_missing", 1, column)}


def test_header_no_measure_columns_header_missing() -> None:
    header = [h for h in HEADER if h not in ("numerator", "denominator", "value")]
    report = validate(csv_bytes([BASE], header))
    assert where(report) == {("header_missing", 1, None)}
    assert "measure columns" in report.errors[0].message


def test_header_same_column_twice_header_duplicate() -> None:
    header = [*HEADER, "Indicator ID"]
    report = validate(csv_bytes([{**BASE, "Indicator ID": "t3_referrals_nfa"}], header))
    assert only_problem(report) == ("header_duplicate", 1, "Indicator ID")
    assert "columns 7 and 13" in report.problems[0].message


def test_header_semicolon_separated_csv_header_missing() -> None:
    """European-locale Excel separates with ';': the header reads as one unknown column."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerow([BASE[h] for h in HEADER])
    report = validate(out.getvalue().encode())
    assert not report.ok
    rules = {p.rule for p in report.errors}
    assert rules == {"header_unknown", "header_missing"}
    assert ("header_missing", 1, "indicator_id") in where(report)


# ---------------------------------------------------------------------------------- sheets


def test_read_xlsx_data_on_second_sheet() -> None:
    data = xlsx_bytes(
        {
            "Notes": [["Return for 2024-25"], ["Prepared by the performance team"]],
            "Data": [HEADER, xlsx_row()],
        }
    )
    report = validate(data, "return.xlsx")
    assert report.ok, report.to_text()
    assert report.sheet == "Data"


def test_read_xlsx_no_sheet_with_header_sheet_missing() -> None:
    data = xlsx_bytes({"Notes": [["Return for 2024-25"]], "Summary": [["Total", 10]]})
    report = validate(data, "return.xlsx")
    assert only_problem(report) == ("sheet_missing", None, None)
    assert "'Notes', 'Summary'" in report.problems[0].message


def test_read_xlsx_header_below_blank_rows_keeps_sheet_rows() -> None:
    """Blank rows above the header: problems still name the sheet's own rows."""
    rows = [[], [], HEADER, xlsx_row(), xlsx_row(breakdown_topic="gender", numerator=10.5)]
    report = validate(xlsx_bytes({"Data": rows}), "return.xlsx")
    assert report.rows == 2
    assert ("count_not_integer", 5, "numerator") in where(report)
    assert {p.row for p in report.errors} == {5}


def test_read_xlsx_title_row_above_header_sheet_missing() -> None:
    """The header must be the first row with anything in it: a title above it is refused."""
    rows = [["Referrals return 2024-25"], HEADER, xlsx_row()]
    report = validate(xlsx_bytes({"Data": rows}), "return.xlsx")
    assert only_problem(report) == ("sheet_missing", None, None)


def test_read_xlsx_blank_rows_keep_sheet_row_numbers() -> None:
    rows = [
        HEADER,
        xlsx_row(),
        [],
        [],
        xlsx_row(breakdown_topic="gender", breakdown="Male", numerator=-4, value=None),
    ]
    report = validate(xlsx_bytes({"Data": rows}), "return.xlsx")
    assert where(report) == {("count_negative", 5, "numerator")}
    assert report.rows == 2


# --------------------------------------------------------------- cells turned into numbers


def test_read_xlsx_codes_stored_as_numbers_read_as_text() -> None:
    """City of London's LA number 201 typed into Excel is stored as the number 201."""
    row = xlsx_row(old_la_code=201, new_la_code="E09000001", la_name="City of London")
    report = validate(xlsx_bytes({"Data": [HEADER, row]}), "return.xlsx")
    assert report.ok, report.to_text()


def test_read_xlsx_float_codes_and_counts_read_as_whole() -> None:
    row = xlsx_row(old_la_code=840.0, time_period=2025.0, numerator=10.0, denominator=100.0)
    report = validate(xlsx_bytes({"Data": [HEADER, row]}), "return.xlsx")
    assert report.ok, report.to_text()


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (csv_bytes([{**BASE, "old_la_code": "84"}]), "return.csv"),
        (xlsx_bytes({"Data": [HEADER, xlsx_row(old_la_code=84)]}), "return.xlsx"),
    ],
    ids=["csv", "xlsx"],
)
def test_read_old_la_code_short_la_code_unknown_hint(data: bytes, filename: str) -> None:
    report = validate(data, filename)
    assert ("la_code_unknown", 2, "old_la_code") in where(report)
    problem = next(p for p in report.errors if p.rule == "la_code_unknown")
    assert problem.value == "84"
    assert "three digits" in problem.message or "3-digit" in problem.message
    assert {p.row for p in report.errors} == {2}


def test_read_csv_old_la_code_excel_float_accepted() -> None:
    """A code a spreadsheet wrote as 840.0 is still 840."""
    report = validate(csv_bytes([{**BASE, "old_la_code": "840.0"}]))
    assert report.ok, report.to_text()


@pytest.mark.parametrize("count", ["10.0", "10.00", "10.", " 10 ", "010"])
def test_read_count_whole_number_forms_accepted(count: str) -> None:
    report = validate(csv_bytes([{**BASE, "numerator": count}]))
    assert report.ok, report.to_text()


@pytest.mark.parametrize(
    ("count", "rule"),
    [
        ("10.5", "count_not_integer"),
        ("0.1", "count_not_integer"),
        ("-3", "count_negative"),
        ("-0.5", "count_negative"),
        ("ten", "count_invalid"),
        ("10 children", "count_invalid"),
        ("#DIV/0!", "count_invalid"),
    ],
)
def test_read_count_bad_forms_named(count: str, rule: str) -> None:
    report = validate(csv_bytes([BASE, {**MALE, "numerator": count}]))
    assert (rule, 3, "numerator") in where(report)
    assert {p.row for p in report.errors} == {3}
    problem = next(p for p in report.errors if p.rule == rule)
    assert problem.value == count


# ------------------------------------------------------------------------------- row shape


def test_read_csv_ragged_short_row_row_shape() -> None:
    data = csv_bytes([BASE]) + b"2025,Reporting year\n" + data_lines(MALE)
    report = validate(data)
    assert where(report) == {("row_shape", 3, None)}
    assert "Row 3 has 2 cells but the header has 12" in report.errors[0].message
    assert report.rows == 2  # the other rows are still checked


def test_read_csv_unquoted_comma_row_shape() -> None:
    line = ",".join(
        BASE[h] if h != "breakdown" else "Black, African, Caribbean or Black British"
        for h in HEADER
    ).replace("Total,Black", "ethnicity,Black")
    data = csv_bytes([BASE]) + line.encode() + b"\n"
    report = validate(data)
    assert where(report) == {("row_shape", 3, None)}
    cells = len(line.split(","))
    assert f"Row 3 has {cells} cells but the header has 12" in report.errors[0].message


def test_read_csv_several_ragged_rows_each_named() -> None:
    data = csv_bytes([BASE]) + b"a,b\n" + data_lines(MALE) + b"x\n"
    report = validate(data)
    assert where(report) == {("row_shape", 3, None), ("row_shape", 5, None)}


# ----------------------------------------------------------------- blank lines and newlines


@pytest.mark.parametrize(
    "gap",
    [b"\n", b"\n\n", b"\r\n", b",,,,,,,,,,,\n", b"\n,,,,,,,,,,,\n"],
    ids=["blank", "two-blank", "crlf-blank", "empty-cells", "mixed"],
)
def test_read_csv_blank_lines_keep_spreadsheet_rows(gap: bytes) -> None:
    """A row after blank lines reports the row a spreadsheet shows for it."""
    bad = {**MALE, "numerator": "10.5"}
    data = csv_bytes([BASE]) + gap + data_lines(bad)
    expected_row = 3 + gap.count(b"\n")
    report = validate(data)
    assert where(report) == {("count_not_integer", expected_row, "numerator")}
    assert report.rows == 2


def test_read_csv_embedded_newline_in_quoted_cell() -> None:
    """A line break inside a quoted cell is one spreadsheet row, not two."""
    rows = [{**BASE, "la_name": "County\nDurham"}, {**MALE, "numerator": "10.5"}]
    data = csv_bytes(rows)
    assert b'"County\nDurham"' in data
    report = validate(data)
    assert where(report) == {("count_not_integer", 3, "numerator")}


def test_read_csv_embedded_newline_then_ragged_row() -> None:
    rows = [{**BASE, "la_name": "County\r\nDurham"}]
    data = csv_bytes(rows) + b"too,short\n" + data_lines({**MALE, "numerator": "-1"})
    report = validate(data)
    assert where(report) == {("row_shape", 3, None), ("count_negative", 4, "numerator")}


# ------------------------------------------------------------------------------ whitespace


@pytest.mark.parametrize(
    "changes",
    [
        {"numerator": " 10 "},
        {"denominator": "100 "},
        {"value": " 10.0"},
        {"la_name": " County Durham "},
        {"time_period": " 2025 "},
    ],
    ids=["numerator", "denominator", "value", "la_name", "time_period"],
)
def test_read_csv_whitespace_around_values_accepted(changes: dict[str, str]) -> None:
    report = validate(csv_bytes([{**BASE, **changes}]))
    assert report.ok, report.to_text()


@pytest.mark.parametrize(
    "changes",
    [
        {"indicator_id": " t3_referrals_nfa "},
        {"new_la_code": "E06000047 "},
        {"old_la_code": " 840"},
        {"time_identifier": "Reporting year "},
        {"geographic_level": " Local authority"},
    ],
    ids=["indicator_id", "new_la_code", "old_la_code", "time_identifier", "geographic_level"],
)
def test_read_csv_whitespace_around_codes_accepted(changes: dict[str, str]) -> None:
    """An XLSX cell is trimmed when read, so the same data in a CSV must be accepted too."""
    report = validate(csv_bytes([{**BASE, **changes}]))
    assert report.ok, report.to_text()


def test_read_csv_whitespace_around_breakdown_accepted() -> None:
    report = validate(
        csv_bytes([BASE, {**MALE, "breakdown": "Male ", "breakdown_topic": " gender"}])
    )
    assert report.ok, report.to_text()


def test_read_xlsx_whitespace_around_codes_trimmed() -> None:
    row = xlsx_row(indicator_id=" t3_referrals_nfa ", new_la_code="E06000047 ")
    report = validate(xlsx_bytes({"Data": [HEADER, row]}), "return.xlsx")
    assert report.ok, report.to_text()
