"""Writing synthetic upload files: one per LA per period (CSV or XLSX), and the large benchmark.

Files are byte-for-byte reproducible: CSV is written by pandas with ``\\n`` line endings, and
XLSX workbooks get fixed document dates and zip timestamps (openpyxl would otherwise stamp the
time of writing).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .generator import generate, rows_per_return

__all__ = [
    "FORMATS",
    "benchmark_years",
    "file_name",
    "frame_to_csv",
    "frame_to_xlsx",
    "normalise_zip",
    "split_by_upload",
    "write_benchmark_file",
    "write_files",
]

FORMATS = ("csv", "xlsx")
FIXED_TIME = dt.datetime(2025, 1, 1, 0, 0, 0)
_FIXED_STAMP = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")

# Cells an XLSX holds as numbers (as a spreadsheet user's file would); codes stay text.
_INTEGER_COLUMNS = ("time_period", "numerator", "denominator", "respondents", "n")
_DECIMAL_COLUMNS = ("value", "sd")
_INTEGER = re.compile(r"^-?[0-9]+$")
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")


def file_name(old_la_code: str, la_name: str, period: int | str, fmt: str = "csv") -> str:
    """``{old_la_code}_{la-name-slug}_{period}.{fmt}``, e.g. ``840_county-durham_2024.csv``."""
    return f"{old_la_code}_{_slug(la_name)}_{period}.{fmt}"


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (no BOM), ``\\n`` line endings, quoting only where needed."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _cell(column: str, text: str) -> object:
    if column in _INTEGER_COLUMNS and _INTEGER.match(text):
        return int(text)
    if column in _DECIMAL_COLUMNS and _DECIMAL.match(text):
        return float(text)
    return text if text != "" else None


def _rows(frame: pd.DataFrame) -> Iterable[list[object]]:
    columns = list(frame.columns)
    for record in frame.itertuples(index=False, name=None):
        yield [_cell(c, str(v)) for c, v in zip(columns, record, strict=True)]


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip (an XLSX) with fixed timestamps and entry order, so output is reproducible."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                content = _MODIFIED.sub(rb"\g<1>" + _FIXED_STAMP + rb"\g<2>", content)
            target.writestr(entry, content)
    return out.getvalue()


def frame_to_xlsx(
    frame: pd.DataFrame,
    *,
    sheet: str = "Data",
    notes: list[str] | None = None,
    notes_sheet: str = "Notes",
) -> bytes:
    """An XLSX workbook with the rows on ``sheet`` (counts and values as numbers).

    With ``notes``, a first sheet ``notes_sheet`` holds those lines of text (as LA returns often
    have a cover sheet); with ``sheet=None`` the workbook has only the notes sheet.
    """
    import openpyxl  # only XLSX output needs it

    book = openpyxl.Workbook(write_only=True)
    book.properties.creator = "schemas.synth"
    book.properties.created = book.properties.modified = FIXED_TIME
    if notes is not None:
        cover = book.create_sheet(notes_sheet)
        for line in notes:
            cover.append([line])
    if sheet is not None:
        data = book.create_sheet(sheet)
        data.append(list(frame.columns))
        for row in _rows(frame):
            data.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return normalise_zip(buffer.getvalue())


def split_by_upload(frame: pd.DataFrame) -> list[tuple[str, str, str, pd.DataFrame]]:
    """(period, old_la_code, la_name, rows) for each LA's return, in the frame's order."""
    if frame.empty:
        return []
    keys = frame["time_period"].astype("str") + "|" + frame["old_la_code"].astype("str")
    values = keys.to_numpy()
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    out = []
    for start, end in zip(starts, ends, strict=True):
        part = frame.iloc[start:end]
        first = part.iloc[0]
        out.append((first["time_period"], first["old_la_code"], first["la_name"], part))
    return out


def write_files(
    out_dir: str | Path,
    periods: list[int],
    seed: int,
    fmt: str = "csv",
    las: list[str] | None = None,
) -> list[Path]:
    """Write one upload file per LA per period (what each LA would upload); return the paths.

    Names are ``{old_la_code}_{la-name-slug}_{period}.{fmt}``; ``las`` limits the LAs (old or
    new codes). Each file validates with ``exchange validate FILE --authority OLD_CODE``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = generate(periods, seed, las)
    paths = []
    if fmt == "csv":
        # One CSV rendering of everything, cut into files by row: much faster than one
        # to_csv per file, and identical bytes (no cell holds a line break).
        header, *lines = frame_to_csv(frame).split(b"\n")[:-1]
        offset = 0
        for period, code, name, part in split_by_upload(frame):
            path = out / file_name(code, name, period, fmt)
            body = b"\n".join(lines[offset : offset + len(part)])
            path.write_bytes(header + b"\n" + body + b"\n")
            offset += len(part)
            paths.append(path)
        return paths
    for period, code, name, part in split_by_upload(frame):
        path = out / file_name(code, name, period, fmt)
        path.write_bytes(frame_to_xlsx(part))
        paths.append(path)
    return paths


# All reporting years the reference data supports, newest first (the benchmark's pool).
_BENCHMARK_YEARS = tuple(range(2025, 2012, -1))


def benchmark_years(rows: int) -> list[int]:
    """The most recent reporting years whose returns (every LA) hold at least ``rows`` rows."""
    years: list[int] = []
    capacity = 0
    for year in _BENCHMARK_YEARS:
        if capacity >= rows:
            break
        years.append(year)
        capacity += rows_per_return() * 150  # at least 150 LAs are valid in every year
    return sorted(years)


def write_benchmark_file(path: str | Path, rows: int, seed: int) -> int:
    """One large, valid CSV of about ``rows`` rows; returns the number of data rows written.

    Rows are every LA's return for the most recent reporting years needed (2025, 2024, ...), so
    keys stay unique and every code is valid for its year; the file is cut at the last whole
    indicator (Total row and all its categories) that fits, so it holds at most ``rows`` rows
    (or one indicator's rows, if ``rows`` is smaller) and validates clean without
    ``--authority`` (it spans many LAs).
    """
    if rows < 1:
        raise ValueError("rows must be at least 1")
    years = benchmark_years(rows)
    frame = generate(years, seed)
    if len(frame) < rows:
        raise ValueError(f"at most {len(frame):,} rows are available, asked for {rows:,}")
    starts = np.flatnonzero((frame["breakdown_topic"] == "Total").to_numpy())
    if rows < len(frame):
        # The last indicator that starts at or before the cut; at least one whole indicator.
        cut = int(starts[np.searchsorted(starts, rows, side="right") - 1])
        frame = frame.iloc[: cut or int(starts[1])]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return len(frame)
