"""Reading an upload into a table of strings, with file-level problems named precisely.

Every cell is read as text: types are decided by the schema, not guessed by a parser, so that
"10.0" and "010" and "c" all reach validation exactly as the user wrote them. Each row keeps the
number a spreadsheet user sees (the header is row 1) in the ``_row`` column.

Messy files seen in real LA returns (liia-tools' issue history) get named errors: empty files,
wrong file types (old .xls, PDFs, macro-enabled workbooks), non-UTF-8 text, zip bombs, missing
or renamed headers, missing sheets, rows with the wrong number of cells.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .report import Problem

__all__ = ["FileLimits", "ReadResult", "UploadReadError", "normalise_header", "read_upload"]

ROW_COLUMN = "_row"


@dataclass(frozen=True)
class FileLimits:
    # An XLSX is a zip: bound what it may expand to before opening it (zip-bomb defence).
    max_uncompressed_bytes: int = 512 * 1024 * 1024
    max_compression_ratio: float = 100.0
    max_zip_entries: int = 1_000
    max_xlsx_rows: int = 1_100_000


class UploadReadError(Exception):
    """The file cannot be read at all; carries the file-level problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class ReadResult:
    frame: pd.DataFrame  # all columns str, plus _row (int64)
    columns: list[str]  # normalised header, in file order
    original_headers: dict[str, str]  # normalised -> as written
    sheet: str | None = None
    problems: list[Problem] = field(default_factory=list)


_BOM = b"\xef\xbb\xbf"
_HEAD_BYTES = 1 << 20
_NON_SPACE = re.compile(rb"\S")
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"


def normalise_header(name: str) -> str:
    """'Indicator ID ' -> 'indicator_id': forgive case, spacing and punctuation, nothing more."""
    name = name.replace("\ufeff", "").strip().lower()
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def _fail(rule: str, message: str, **kw: object) -> UploadReadError:
    return UploadReadError(Problem(rule=rule, message=message, **kw))  # type: ignore[arg-type]


def read_upload(
    data: bytes | Path,
    filename: str,
    *,
    header_hint: frozenset[str] = frozenset(),
    categorical: frozenset[str] = frozenset(),
    limits: FileLimits | None = None,
) -> ReadResult:
    """Read CSV or XLSX, given as bytes or as a path.

    ``header_hint`` names columns that identify the data sheet; ``categorical`` names
    (normalised) columns with few distinct values, read as pandas categoricals so later checks
    run once per distinct value rather than once per row. Given a path, a well-formed CSV is
    parsed straight from the file and never held whole in memory.
    """
    limits = limits or FileLimits()
    suffix = Path(filename).suffix.lower()
    path = data if isinstance(data, Path) else None
    if path is not None:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
        full = len(head) == _HEAD_BYTES and not _NON_SPACE.search(head)
        data = path.read_bytes() if full else head  # a megabyte of spaces: read it all
    if not _NON_SPACE.search(data, 3 if data.startswith(_BOM) else 0):
        raise _fail("file_empty", "The file is empty: it has no header row and no data.")
    if data.startswith(_OLE2_MAGIC):
        raise _fail(
            "file_type",
            "This is an old-style Excel 97-2003 (.xls) file or another OLE document. Save it as "
            "an Excel workbook (.xlsx) or as 'CSV UTF-8' and upload that.",
        )
    if data.startswith(_ZIP_MAGIC):
        if suffix in {".xlsm", ".xltm", ".xlsb"}:
            raise _fail("file_type", _MACRO_MESSAGE)
        return _read_xlsx(path.read_bytes() if path else data, limits, header_hint)
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        raise _fail("file_type", f"The file is named {suffix} but is not an Excel workbook.")
    if data.startswith(b"%PDF"):
        raise _fail("file_type", "This is a PDF. Upload the data as CSV or XLSX.")
    if suffix not in {".csv", ".txt", ""}:
        raise _fail("file_type", f"Files of type {suffix!r} are not accepted. Upload CSV or XLSX.")
    return _read_csv(path if path is not None else data, categorical)


_MACRO_MESSAGE = (
    "Macro-enabled workbooks are not accepted (they can carry code). Save the workbook as an "
    "Excel workbook (.xlsx) without macros, or as 'CSV UTF-8', and upload that."
)

# ----------------------------------------------------------------------------------------- CSV


def _column_at(data: bytes, line_start: int, position: int) -> str | None:
    """The header name of the column holding byte ``position`` (best effort: quoted commas
    before it on the line would shift the count)."""
    end = data.find(b"\n")
    header = data[: end if end >= 0 else len(data)].decode("utf-8-sig", errors="replace")
    names = next(csv.reader([header.rstrip("\r")]), [])
    index = data.count(b",", line_start, position)
    return names[index] if index < len(names) else None


def _check_utf8(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1]
        line = data[line_start : data.find(b"\n", exc.start)]
        guess = line.decode("cp1252", errors="replace")
        column = _column_at(data, line_start, exc.start)
        raise _fail(
            "file_encoding",
            f"The file is not UTF-8 text: byte 0x{bad.hex().upper()} on row {row} cannot be "
            f"read as UTF-8 (the row reads {guess[:60]!r} in Windows-1252). In Excel use "
            "'Save as' > 'CSV UTF-8 (Comma delimited)'.",
            row=row,
            column=column,
        ) from None


def _read_csv(source: bytes | Path, categorical: frozenset[str] = frozenset()) -> ReadResult:
    if isinstance(source, Path):
        with source.open("rb") as handle:
            data = handle.read(_HEAD_BYTES)
        arrow_input: object = str(source)
    else:
        data = source
        arrow_input = pa.BufferReader(pa.py_buffer(source))
    if b"\x00" in data[:65536]:
        raise _fail(
            "file_encoding",
            "The file contains NUL bytes: it is binary or UTF-16. Save it as 'CSV UTF-8'.",
        )
    invalid: list[object] = []

    def on_invalid(row: object) -> str:
        invalid.append(row)
        return "skip"

    try:
        end = data.find(b"\n")
        header_line = data[: end if end >= 0 else len(data)].decode("utf-8-sig").rstrip("\r")
        headers = next(csv.reader([header_line]))
        # Fast path: no newlines inside quoted cells. A file that has them breaks rows apart,
        # which the invalid-row handler sees, and the exact reader below takes over.
        table = pacsv.read_csv(
            arrow_input,
            parse_options=pacsv.ParseOptions(
                newlines_in_values=False,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={
                    h: _DICTIONARY if normalise_header(h) in categorical else pa.string()
                    for h in headers
                },
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, StopIteration, UnicodeDecodeError):
        table = None
    if table is None or invalid or len(set(headers)) != len(headers):
        # Rare shapes (bad UTF-8, ragged rows, duplicate headers): the slow, exact reader names
        # the rows. Arrow checks UTF-8 as it reads; name the first bad byte if that was the cause.
        whole = source.read_bytes() if isinstance(source, Path) else source
        _check_utf8(whole)
        return _read_csv_exact(whole)
    frame = table.to_pandas()
    frame[ROW_COLUMN] = np.arange(2, len(frame) + 2, dtype=np.int64)
    return _finish(frame, table.column_names, sheet=None)


def _read_csv_exact(data: bytes) -> ReadResult:
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader)
    except StopIteration:
        raise _fail("file_empty", "The file is empty: it has no header row.") from None
    problems: list[Problem] = []
    _check_duplicate_headers(headers)
    records: list[list[str]] = []
    rows: list[int] = []
    width = len(headers)
    for number, record in enumerate(reader, start=2):
        if not record or all(not c.strip() for c in record):
            continue
        if len(record) != width:
            problems.append(
                Problem(
                    rule="row_shape",
                    row=number,
                    message=f"Row {number} has {len(record)} cells but the header has {width}; "
                    "check for unquoted commas or missing cells.",
                )
            )
            continue
        records.append(record)
        rows.append(number)
    frame = pd.DataFrame(records, columns=headers, dtype="str") if records else _empty(headers)
    frame[ROW_COLUMN] = np.asarray(rows, dtype=np.int64)
    result = _finish(frame, headers, sheet=None)
    result.problems[:0] = problems
    return result


def _empty(headers: list[str]) -> pd.DataFrame:
    return pd.DataFrame({h: pd.Series([], dtype="str") for h in headers})


def _check_duplicate_headers(headers: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, h in enumerate(headers, start=1):
        key = normalise_header(h)
        if key and key in seen:
            raise _fail(
                "header_duplicate",
                f"Column {h!r} appears twice in the header (columns {seen[key]} and {i}).",
                row=1,
                column=h,
            )
        seen[key] = i


def _blank_cells(series: pd.Series) -> np.ndarray:
    if isinstance(series.dtype, pd.CategoricalDtype):
        per_category = np.array([not str(c).strip() for c in series.cat.categories] + [True])
        return per_category[series.cat.codes.to_numpy()]
    return (series.str.len() == 0).to_numpy()


def _finish(frame: pd.DataFrame, headers: list[str], sheet: str | None) -> ReadResult:
    _check_duplicate_headers(headers)
    original: dict[str, str] = {}
    renames: dict[str, str] = {}
    for h in headers:
        key = normalise_header(h)
        original[key] = h
        renames[h] = key
    frame = frame.rename(columns=renames)
    # Trailing unnamed, empty columns are an artefact of spreadsheets, not data.
    for key in [k for k in original if k == ""]:
        del original[key]
    if "" in frame.columns:
        frame = frame.drop(columns=[""])
    # Wholly blank rows (common at the end of exported sheets) are not data.
    cells = [c for c in frame.columns if c != ROW_COLUMN]
    if cells and len(frame):
        blank = np.ones(len(frame), dtype=bool)
        for col in cells:
            blank &= _blank_cells(frame[col])
            if not blank.any():
                break
        if blank.any():
            frame = frame.loc[~blank].reset_index(drop=True)
    return ReadResult(frame=frame, columns=list(original), original_headers=original, sheet=sheet)


# ---------------------------------------------------------------------------------------- XLSX


def _check_zip(data: bytes, limits: FileLimits) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _fail("file_type", "The file looks like a workbook but is damaged.") from None
    with archive:
        infos = archive.infolist()
        names = {i.filename.lower() for i in infos}
        if "xl/vbaproject.bin" in names or any(n.endswith("vbaproject.bin") for n in names):
            raise _fail("file_type", _MACRO_MESSAGE)
        if "xl/workbook.xml" not in names:
            raise _fail(
                "file_type",
                "The file is a zip archive but not an Excel workbook. Upload CSV or XLSX.",
            )
        if len(infos) > limits.max_zip_entries:
            raise _fail("file_too_complex", f"The workbook has {len(infos)} parts; too many.")
        total = sum(i.file_size for i in infos)
        packed = max(1, sum(i.compress_size for i in infos))
        if total > limits.max_uncompressed_bytes or total / packed > limits.max_compression_ratio:
            raise _fail(
                "file_too_complex",
                f"The workbook expands to {total:,} bytes from {packed:,} "
                f"(ratio {total / packed:.0f}:1): refused as a possible zip bomb. Save the data as "
                "CSV instead.",
            )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # Excel stores every number as a float: keep "10.0" visible so the schema decides.
        return repr(value) if not value.is_integer() else f"{value:.1f}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip() if isinstance(value, str) else str(value)


def _read_xlsx(data: bytes, limits: FileLimits, header_hint: frozenset[str]) -> ReadResult:
    import openpyxl  # imported here: only XLSX uploads pay for it

    _check_zip(data, limits)
    try:
        book = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise _fail("file_type", f"The workbook cannot be opened: {exc}.") from None
    try:
        sheet_name, rows = _find_sheet(book, header_hint)
        headers = [_cell_text(c).strip() for c in rows[0][1]]
        while headers and not headers[-1]:
            headers.pop()
        width = len(headers)
        records: list[list[str]] = []
        numbers: list[int] = []
        for number, values in rows[1:]:
            if len(records) >= limits.max_xlsx_rows:
                raise _fail("file_too_large", "The workbook has too many rows; upload CSV.")
            cells = [_cell_text(v) for v in values[:width]]
            cells += [""] * (width - len(cells))
            if any(cells):
                records.append(cells)
                numbers.append(number)
    finally:
        book.close()
    frame = pd.DataFrame(records, columns=headers, dtype="str") if records else _empty(headers)
    frame[ROW_COLUMN] = np.asarray(numbers, dtype=np.int64)
    return _finish(frame, headers, sheet=sheet_name)


def _find_sheet(
    book: object, header_hint: frozenset[str]
) -> tuple[str, list[tuple[int, tuple[object, ...]]]]:
    sheets = book.worksheets  # type: ignore[attr-defined]
    candidates = []
    for ws in sheets:
        rows = [
            (i, tuple(r))
            for i, r in enumerate(ws.iter_rows(values_only=True), start=1)
            if any(v not in (None, "") for v in r)
        ]
        if not rows:
            continue
        # Use the sheet's own row numbers: leading blank rows shift the header down.
        first = rows[0]
        header = {normalise_header(_cell_text(v)) for v in first[1]}
        score = len(header & header_hint) if header_hint else 1
        candidates.append((score, ws.title, rows))
    if not candidates:
        raise _fail("file_empty", "The workbook has no sheet with any data in it.")
    candidates.sort(key=lambda c: -c[0])
    score, title, rows = candidates[0]
    if header_hint and score == 0:
        names = ", ".join(repr(ws.title) for ws in sheets)
        raise _fail(
            "sheet_missing",
            f"No sheet has the upload columns (such as indicator_id) in its first row. "
            f"Sheets found: {names}. Put the data on one sheet with the header in row 1.",
        )
    return title, rows
