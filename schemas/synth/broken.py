"""Broken (and awkward-but-valid) upload files, each with the problem validation must report.

Every case starts from a small valid return (a handful of indicators of one LA for 2024, one of
each measure type) and breaks one thing, the way real LA files break: spreadsheets that strip
codes or add sheets, the wrong file type, a stray character in another encoding, a renamed
column, a typo, numbers that do not add up. :class:`BrokenCase` records what a user should be
told: the rule, and the row (as a spreadsheet shows it: the header is row 1) and column.

Some cases are valid on purpose (a UTF-8 BOM, "10.0" in a count, a data sheet that is not the
first sheet, a header written "Indicator ID"): validation must accept them.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .files import frame_to_csv, frame_to_xlsx, normalise_zip
from .generator import MEASURE_COLUMNS, generate

__all__ = [
    "BASE_INDICATORS",
    "CASE_NAMES",
    "BrokenCase",
    "Expected",
    "base_frame",
    "write_broken_files",
]

# The indicators of the base return: one of each measure type, with and without breakdowns.
BASE_INDICATORS = (
    "t2_values_statement",  # yes_no, no breakdowns
    "t2_council_commitment",  # agreement by staff level
    "t2_length_of_service",  # mean by staff level
    "t2_staff_turnover",  # proportion by staff level only
    "t5_audit_plan_updated",  # proportion by plan type
    "t5_care_leavers_eet_change",  # change distribution with several breakdowns
)
BASE_PERIOD = 2024
# Every case write_broken_files writes, in order (so tests can be parametrised before writing).
CASE_NAMES = (
    "empty_file",
    "header_only",
    "pdf_named_csv",
    "xls_ole",
    "zip_not_xlsx",
    "xlsm_macro_enabled",
    "xlsx_with_macros",
    "zip_bomb_xlsx",
    "non_utf8_cp1252",
    "utf8_bom",
    "xlsx_valid",
    "xlsx_data_on_second_sheet",
    "xlsx_no_data_sheet",
    "header_missing_indicator_id",
    "header_indicator_id_spelt_out",
    "header_alias_indicator_code",
    "header_misspelt",
    "indicator_id_blank",
    "indicator_unknown",
    "old_la_code_truncated",
    "count_written_10_0",
    "count_not_integer",
    "count_negative",
    "numerator_above_denominator",
    "value_disagrees",
    "yes_no_maybe",
    "numerator_missing",
    "la_code_cumbria_2024",
    "la_code_northamptonshire_2022",
    "la_not_uploading_authority",
    "old_new_code_mismatch",
    "time_period_wrong_form",
    "time_identifier_unknown",
    "breakdown_topic_not_allowed",
    "breakdown_value_not_allowed",
    "duplicate_key",
    "categories_not_summing",
    "total_row_missing",
    "ragged_row",
)
# Large LAs, tried in order: the base is the first whose base rows hold no symbol (c, x, z),
# so every mutation lands on a number whatever the seed.
BASE_LAS = ("840", "886", "850", "855", "916", "919", "925", "926", "933", "936")


@dataclass(frozen=True)
class Expected:
    """A problem validation must report: ``rule`` at ``row`` (None: the whole file), ``column``."""

    rule: str
    row: int | None
    column: str | None
    severity: str = "error"


@dataclass(frozen=True)
class BrokenCase:
    """One test file and what validating it must say.

    ``valid``: the file must pass (``expected`` then lists only warnings, if any). ``authority``:
    validate as this LA (``--authority``). ``sheet``: the XLSX sheet validation must read.
    ``consequences``: further error rules the break legitimately causes elsewhere (a count that
    is not whole also stops its categories adding up); recorded, not required.
    """

    name: str
    path: Path
    description: str
    expected: tuple[Expected, ...]
    valid: bool = False
    authority: str | None = None
    sheet: str | None = None
    consequences: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(e.rule for e in self.expected)

    @property
    def row(self) -> int | None:
        return self.expected[0].row if self.expected else None

    @property
    def column(self) -> str | None:
        return self.expected[0].column if self.expected else None


# ------------------------------------------------------------------------------- the base file


def _has_symbol(frame: pd.DataFrame) -> bool:
    cells = frame[list(MEASURE_COLUMNS)]
    return bool(cells.isin(["c", "x", "z", "u", "low"]).any().any())


def base_frame(seed: int, la: str | None = None, period: int = BASE_PERIOD) -> pd.DataFrame:
    """The valid return the broken cases start from: BASE_INDICATORS for one large LA."""
    candidates = (la,) if la else BASE_LAS
    frame = generate([period], seed, las=list(candidates))
    for code in candidates:
        part = frame[
            (frame["old_la_code"] == code) & frame["indicator_id"].isin(BASE_INDICATORS)
        ].reset_index(drop=True)
        if len(part) and (la is not None or not _has_symbol(part)):
            return part
    raise RuntimeError(f"no LA in {candidates} has a base return without symbols")


def _row(
    frame: pd.DataFrame, indicator: str, topic: str = "Total", breakdown: str = "Total"
) -> int:
    """Index of a row (the spreadsheet row number is index + 2)."""
    hit = frame.index[
        (frame["indicator_id"] == indicator)
        & (frame["breakdown_topic"] == topic)
        & (frame["breakdown"] == breakdown)
    ]
    if len(hit) != 1:
        raise KeyError((indicator, topic, breakdown))
    return int(hit[0])


def _sheet_row(index: int) -> int:
    return index + 2


def _percent(num: float, den: float, decimals: int = 1) -> str:
    """The value as the generator writes it (half up)."""
    scaled = int((2 * num * 100 * 10**decimals + den) // (2 * den))
    whole, frac = divmod(scaled, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}" if decimals else str(whole)


# ------------------------------------------------------------------------------ special files


_PDF = (
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
# The OLE2 compound-file signature that starts every Excel 97-2003 .xls file.
_OLE = (
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff" + b"\x00" * 482
)

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)


def _zip_bomb(uncompressed: int = 64 << 20) -> bytes:
    """A well-formed workbook whose one sheet expands to ``uncompressed`` bytes (~1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _RELS),
            ("xl/workbook.xml", _WORKBOOK),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
        ):
            archive.writestr(zipfile.ZipInfo(name, (2025, 1, 1, 0, 0, 0)), text)
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", (2025, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        head = (
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b"<sheetData>"
        )
        tail = b"</sheetData></worksheet>"
        row = b'<row><c t="n"><v>0</v></c></row>'
        chunk = row * (1 << 15)
        with archive.open(info, "w", force_zip64=True) as sheet:
            sheet.write(head)
            written = len(head)
            while written < uncompressed:
                sheet.write(chunk)
                written += len(chunk)
            sheet.write(tail)
    return out.getvalue()


def _zip_not_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("readme.txt", (2025, 1, 1, 0, 0, 0)), "Our return\n")
        archive.writestr(zipfile.ZipInfo("return.csv", (2025, 1, 1, 0, 0, 0)), "a,b\n1,2\n")
    return out.getvalue()


def _with_macros(xlsx: bytes) -> bytes:
    """The workbook plus a VBA project, as Excel saves a macro-enabled (.xlsm) workbook."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        target.writestr(
            zipfile.ZipInfo("xl/vbaProject.bin", (2025, 1, 1, 0, 0, 0)), _OLE + b"Attribute VB"
        )
    return normalise_zip(out.getvalue())


# ----------------------------------------------------------------------------------- the cases

_NOTES = [
    "Children's social care outcomes framework: annual return",
    "Prepared by the performance team. Figures are provisional until signed off.",
    "The data is on the sheet called Data.",
]


def write_broken_files(out_dir: str | Path, seed: int) -> dict[str, BrokenCase]:
    """Write every case into ``out_dir``; return them by name (in a fixed order)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = base_frame(seed)
    la = base.iloc[0]
    code, new_code = str(la["old_la_code"]), str(la["new_la_code"])
    cases: dict[str, BrokenCase] = {}

    def add(
        name: str,
        data: bytes,
        description: str,
        *expected: Expected,
        suffix: str = ".csv",
        valid: bool = False,
        authority: str | None = None,
        sheet: str | None = None,
        consequences: tuple[str, ...] = (),
    ) -> None:
        path = out / f"{name}{suffix}"
        path.write_bytes(data)
        cases[name] = BrokenCase(
            name, path, description, tuple(expected), valid, authority, sheet, consequences
        )

    def csv(frame: pd.DataFrame) -> bytes:
        return frame_to_csv(frame)

    def changed(index: int, **cells: str) -> pd.DataFrame:
        frame = base.copy()
        for column, value in cells.items():
            frame.loc[index, column] = value
        return frame

    yes_no = _row(base, "t2_values_statement")
    agree_total = _row(base, "t2_council_commitment")
    agree_front = _row(base, "t2_council_commitment", "staff_level", "Frontline staff")
    turnover_total = _row(base, "t2_staff_turnover")
    turnover_front = _row(base, "t2_staff_turnover", "staff_level", "Frontline staff")
    audit_cp = _row(base, "t5_audit_plan_updated", "plan_type", "Child protection plan")
    num = int(base.loc[turnover_front, "numerator"])
    den = int(base.loc[turnover_front, "denominator"])

    # --- files that cannot be read ----------------------------------------------------------
    add("empty_file", b"", "a 0-byte file", Expected("file_empty", None, None))
    add(
        "header_only",
        csv(base.iloc[:0]),
        "the header row and no data",
        Expected("file_empty", None, None),
    )
    add(
        "pdf_named_csv",
        _PDF,
        "a PDF saved with a .csv name",
        Expected("file_type", None, None),
    )
    add(
        "xls_ole",
        _OLE,
        "an Excel 97-2003 .xls (OLE2) file",
        Expected("file_type", None, None),
        suffix=".xls",
    )
    add(
        "zip_not_xlsx",
        _zip_not_workbook(),
        "a zip archive (not a workbook) named .xlsx",
        Expected("file_type", None, None),
        suffix=".xlsx",
    )
    good_xlsx = frame_to_xlsx(base)
    add(
        "xlsm_macro_enabled",
        _with_macros(good_xlsx),
        "a macro-enabled workbook (.xlsm)",
        Expected("file_type", None, None),
        suffix=".xlsm",
    )
    add(
        "xlsx_with_macros",
        _with_macros(good_xlsx),
        "a macro-enabled workbook renamed .xlsx (it holds xl/vbaProject.bin)",
        Expected("file_type", None, None),
        suffix=".xlsx",
    )
    add(
        "zip_bomb_xlsx",
        _zip_bomb(),
        "a workbook whose sheet expands ~1000:1 to 64 MiB (a zip bomb)",
        Expected("file_too_complex", None, None),
        suffix=".xlsx",
    )
    encoded = base.copy()
    encoded.loc[2, "la_name"] = str(encoded.loc[2, "la_name"]) + " (Comté)"
    add(
        "non_utf8_cp1252",
        frame_to_csv(encoded).decode("utf-8").encode("cp1252"),
        "saved as Windows-1252: an 'é' in la_name on row 4 is not UTF-8",
        Expected("file_encoding", _sheet_row(2), "la_name"),
    )
    # --- valid files that real returns look like ---------------------------------------------
    add(
        "utf8_bom",
        b"\xef\xbb\xbf" + csv(base),
        "Excel's 'CSV UTF-8' with a byte order mark (valid)",
        valid=True,
    )
    add(
        "xlsx_valid",
        good_xlsx,
        "an Excel workbook (valid)",
        suffix=".xlsx",
        valid=True,
        sheet="Data",
    )
    add(
        "xlsx_data_on_second_sheet",
        frame_to_xlsx(base, notes=_NOTES),
        "a workbook with a notes sheet first and the data on a sheet named Data (valid)",
        suffix=".xlsx",
        valid=True,
        sheet="Data",
    )
    add(
        "xlsx_no_data_sheet",
        frame_to_xlsx(base, sheet=None, notes=_NOTES),
        "a workbook with only a notes sheet",
        Expected("sheet_missing", None, None),
        suffix=".xlsx",
    )
    # --- header problems -----------------------------------------------------------------------
    add(
        "header_missing_indicator_id",
        csv(base.drop(columns=["indicator_id"])),
        "no indicator_id column",
        Expected("header_missing", 1, "indicator_id"),
    )
    add(
        "header_indicator_id_spelt_out",
        csv(base.rename(columns={"indicator_id": "Indicator ID"})),
        "the header says 'Indicator ID' (read as indicator_id; valid)",
        valid=True,
    )
    add(
        "header_alias_indicator_code",
        csv(base.rename(columns={"indicator_id": "indicator code"})),
        "the header says 'indicator code', a known alias (valid, with a warning)",
        Expected("header_renamed", 1, "indicator code", "warning"),
        valid=True,
    )
    add(
        "header_misspelt",
        csv(base.rename(columns={"indicator_id": "indicatr_id"})),
        "the header says 'indicatr_id' (a typo: unknown, with a suggestion)",
        Expected("header_unknown", 1, "indicatr_id"),
        Expected("header_missing", 1, "indicator_id"),
    )
    # --- cells -----------------------------------------------------------------------------------
    add(
        "indicator_id_blank",
        csv(changed(agree_front, indicator_id="")),
        "a category row with a blank indicator_id",
        Expected("indicator_id_blank", _sheet_row(agree_front), "indicator_id"),
    )
    add(
        "indicator_unknown",
        csv(changed(yes_no, indicator_id="t2_value_statement")),
        "an indicator id not in the catalogue (a typo of t2_values_statement)",
        Expected("indicator_unknown", _sheet_row(yes_no), "indicator_id"),
    )
    add(
        "old_la_code_truncated",
        csv(changed(yes_no, old_la_code=code[:2])),
        f"old_la_code written '{code[:2]}' for {code} (as a spreadsheet stripping a digit would)",
        Expected("la_code_unknown", _sheet_row(yes_no), "old_la_code"),
    )
    add(
        "count_written_10_0",
        csv(changed(turnover_front, numerator=f"{num}.0")),
        "a count written with a zero decimal, '10.0' style (valid)",
        valid=True,
    )
    add(
        "count_not_integer",
        csv(changed(turnover_front, numerator=f"{num}.5", value="")),
        "a count with a fraction, '10.5' style",
        Expected("count_not_integer", _sheet_row(turnover_front), "numerator"),
        consequences=("breakdown_sum",),
    )
    add(
        "count_negative",
        csv(changed(turnover_front, numerator=f"-{max(num, 1)}", value="")),
        "a negative count",
        Expected("count_negative", _sheet_row(turnover_front), "numerator"),
        consequences=("breakdown_sum",),
    )
    over = den + 3
    too_many = changed(turnover_front, numerator=str(over), value=_percent(over, den))
    total_num = int(base.loc[turnover_total, "numerator"]) + over - num
    total_den = int(base.loc[turnover_total, "denominator"])
    too_many.loc[turnover_total, "numerator"] = str(total_num)
    too_many.loc[turnover_total, "value"] = _percent(total_num, total_den)
    add(
        "numerator_above_denominator",
        csv(too_many),
        "a numerator larger than its denominator (the Total adjusted so categories still add up)",
        Expected("numerator_within_denominator", _sheet_row(turnover_front), "numerator"),
    )
    value = float(base.loc[agree_total, "value"])
    add(
        "value_disagrees",
        csv(changed(agree_total, value=f"{(value + 12.5) % 100:.1f}")),
        "a percentage that does not agree with numerator / respondents",
        Expected("value_agrees", _sheet_row(agree_total), "value"),
    )
    add(
        "yes_no_maybe",
        csv(changed(yes_no, value="maybe")),
        "a yes/no indicator with the value 'maybe'",
        Expected("yes_no_value", _sheet_row(yes_no), "value"),
    )
    add(
        "numerator_missing",
        csv(changed(audit_cp, numerator="", value="")),
        "a proportion row with a blank numerator (and value)",
        Expected("numerator_required", _sheet_row(audit_cp), "numerator"),
    )
    # --- codes and periods -------------------------------------------------------------------
    for name, old, year, text in (
        (
            "la_code_cumbria_2024",
            "909",
            2023,
            "Cumbria (909, E10000006) in 2024, after it was split",
        ),
        (
            "la_code_northamptonshire_2022",
            "928",
            2021,
            "Northamptonshire (928, E10000021) in 2022, after it was split",
        ),
    ):
        frame = base_frame(seed, la=old, period=year)
        frame["time_period"] = str(year + 1)
        add(
            name,
            csv(frame),
            f"the code of {text}",
            Expected("la_code_valid_for_period", 2, "new_la_code"),
        )
    other = "841" if code != "841" else "840"
    add(
        "la_not_uploading_authority",
        csv(base),
        f"a valid return for {code} uploaded by another LA ({other})",
        Expected("la_matches_authority", 2, "new_la_code"),
        authority=other,
    )
    add(
        "old_new_code_mismatch",
        csv(changed(yes_no, old_la_code=other)),
        f"old_la_code {other} with new_la_code {new_code} on one row",
        Expected("la_code_valid_for_period", _sheet_row(yes_no), "new_la_code"),
    )
    add(
        "time_period_wrong_form",
        csv(changed(yes_no, time_period="2024/25")),
        "time_period '2024/25' with time_identifier 'Reporting year'",
        Expected("time_period_form", _sheet_row(yes_no), "time_period"),
    )
    add(
        "time_identifier_unknown",
        csv(changed(yes_no, time_identifier="Financial yr")),
        "time_identifier 'Financial yr'",
        Expected("time_identifier_unknown", _sheet_row(yes_no), "time_identifier"),
    )
    # --- breakdowns and keys -----------------------------------------------------------------
    add(
        "breakdown_topic_not_allowed",
        csv(changed(agree_front, breakdown_topic="age_band", breakdown="Under 1")),
        "a staff survey item broken down by age band",
        Expected("breakdown_topic_allowed", _sheet_row(agree_front), "breakdown_topic"),
    )
    add(
        "breakdown_value_not_allowed",
        csv(changed(agree_front, breakdown="Chief executives")),
        "a staff level that is not a category",
        Expected("breakdown_value_allowed", _sheet_row(agree_front), "breakdown"),
    )
    duplicated = pd.concat(
        [
            base.iloc[: agree_front + 1],
            base.iloc[agree_front : agree_front + 1],
            base.iloc[agree_front + 1 :],
        ],
        ignore_index=True,
    )
    add(
        "duplicate_key",
        csv(duplicated),
        "the same row twice in a row",
        Expected("duplicate_key", _sheet_row(agree_front + 1), "indicator_id"),
    )
    off = num + 1 if num < den else num - 1
    add(
        "categories_not_summing",
        csv(changed(turnover_front, numerator=str(off), value=_percent(off, den))),
        "a category numerator changed so the categories no longer add up to the Total",
        Expected("breakdown_sum", _sheet_row(turnover_total), "numerator"),
    )
    add(
        "total_row_missing",
        csv(base.drop(index=agree_total).reset_index(drop=True)),
        "an indicator's categories without its Total row",
        Expected("total_row_missing", _sheet_row(agree_total), "breakdown"),
    )
    ragged = csv(base).decode("utf-8").split("\n")
    ragged[agree_front + 1] += ",extra"
    add(
        "ragged_row",
        "\n".join(ragged).encode("utf-8"),
        "a row with one more cell than the header",
        Expected("row_shape", _sheet_row(agree_front), None),
    )
    if tuple(cases) != CASE_NAMES:  # keep the list above in step with the cases
        raise RuntimeError(f"CASE_NAMES is out of date: {tuple(cases)}")
    return cases
