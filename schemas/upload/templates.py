"""Upload templates: a ready-to-fill file for each domain of the catalogue.

A template has the upload format's header (docs/upload-format.md) and, for every indicator of the
domain, its Total row followed by one row for each category of each breakdown the indicator
allows. The identity columns carry placeholders the user replaces (the period) or fills in (the
local authority); the measure cells the indicator's measure type uses are blank, and the ones it
does not use hold the EES symbol ``z`` (not applicable), so the blanks are exactly what to fill.

Pure library: pandas, openpyxl and the standard library only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from schemas.catalogue import Catalogue, Indicator, load_catalogue

from .columns import EES_SYMBOLS, IDENTITY_COLUMNS, MEASURE_COLUMNS, TOTAL

__all__ = [
    "NOT_APPLICABLE",
    "PLACEHOLDERS",
    "TemplateFormat",
    "guidance_rows",
    "indicator_rows",
    "template_columns",
    "template_filename",
    "template_frame",
    "write_template",
]

TemplateFormat = Literal["csv", "xlsx"]

# The EES symbol for "not applicable": written in measure cells the measure type does not use.
NOT_APPLICABLE = "z"

# Identity cells filled for the user: replace the period if you return another one. The local
# authority columns are left blank because only the user knows them.
PLACEHOLDERS: dict[str, str] = {
    "time_period": "2025",
    "time_identifier": "Reporting year",
    "geographic_level": "Local authority",
    "new_la_code": "",
    "old_la_code": "",
    "la_name": "",
}

DATA_SHEET = "Data"
GUIDANCE_SHEET = "Guidance"
# Columns written as text in the XLSX template so that Excel keeps codes exactly as typed.
_TEXT_COLUMNS = ("time_period", "new_la_code", "old_la_code")
_MAX_WIDTH = 60


def _catalogue(catalogue: Catalogue | None) -> Catalogue:
    return catalogue if catalogue is not None else load_catalogue()


def _domain_indicators(domain_id: str, catalogue: Catalogue) -> list[Indicator]:
    if domain_id not in catalogue.domains:
        known = ", ".join(sorted(catalogue.domains))
        raise KeyError(f"unknown domain {domain_id!r}; use one of: {known}")
    return catalogue.by_domain(domain_id)


def _used_columns(indicator: Indicator, catalogue: Catalogue) -> tuple[str, ...]:
    mt = catalogue.measure_types[indicator.measure_type]
    return (*mt.required, *mt.optional)


def template_columns(domain_id: str, catalogue: Catalogue | None = None) -> list[str]:
    """The template header: the identity columns, then the measure columns the domain uses."""
    catalogue = _catalogue(catalogue)
    used: set[str] = set()
    for indicator in _domain_indicators(domain_id, catalogue):
        used.update(_used_columns(indicator, catalogue))
    return [*IDENTITY_COLUMNS, *(c for c in MEASURE_COLUMNS if c in used)]


def indicator_rows(
    indicator: Indicator, catalogue: Catalogue | None = None
) -> list[dict[str, str]]:
    """One indicator's template rows: the Total row, then one row per breakdown category."""
    catalogue = _catalogue(catalogue)
    used = _used_columns(indicator, catalogue)
    measures = {c: "" if c in used else NOT_APPLICABLE for c in MEASURE_COLUMNS}
    keys = [(TOTAL, TOTAL)]
    for topic in indicator.breakdowns:
        keys += [(topic, value) for value in catalogue.breakdowns[topic].values]
    return [
        {
            **PLACEHOLDERS,
            "indicator_id": indicator.id,
            "breakdown_topic": topic,
            "breakdown": value,
            **measures,
        }
        for topic, value in keys
    ]


def template_frame(domain_id: str, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """The template for ``domain_id`` as a frame of text cells, in catalogue order.

    Raises ``KeyError`` for an unknown domain.
    """
    catalogue = _catalogue(catalogue)
    columns = template_columns(domain_id, catalogue)
    rows: list[dict[str, str]] = []
    for indicator in _domain_indicators(domain_id, catalogue):
        rows += indicator_rows(indicator, catalogue)
    frame = pd.DataFrame(rows)
    return frame.reindex(columns=columns).astype("str").reset_index(drop=True)


def template_filename(domain_id: str, fmt: TemplateFormat = "csv") -> str:
    return f"upload-template-{domain_id}.{fmt}"


def write_template(
    domain_id: str,
    path: str | Path,
    fmt: TemplateFormat = "csv",
    catalogue: Catalogue | None = None,
) -> Path:
    """Write the template for ``domain_id`` to ``path`` as CSV or XLSX; returns the path.

    CSV is UTF-8 with a byte-order mark, so Excel opens it with the right encoding. XLSX has a
    "Data" sheet (the template) and a "Guidance" sheet (the domain's indicators and the EES
    symbols).
    """
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"format must be 'csv' or 'xlsx', not {fmt!r}")
    catalogue = _catalogue(catalogue)
    frame = template_frame(domain_id, catalogue)
    path = Path(path)
    if fmt == "csv":
        path.write_text(
            frame.to_csv(index=False, lineterminator="\r\n"), encoding="utf-8-sig", newline=""
        )
    else:
        _write_xlsx(domain_id, frame, path, catalogue)
    return path


# ------------------------------------------------------------------------------------- XLSX


def guidance_rows(domain_id: str, catalogue: Catalogue | None = None) -> list[list[str | int]]:
    """The indicator table of the Guidance sheet (header first)."""
    catalogue = _catalogue(catalogue)
    rows: list[list[str | int]] = [
        [
            "Indicator",
            "What it measures",
            "Measure type",
            "Required columns",
            "Optional columns",
            "Breakdowns allowed",
            "Breakdowns required",
            "Unit",
            "Decimal places",
        ]
    ]
    for ind in _domain_indicators(domain_id, catalogue):
        mt = catalogue.measure_types[ind.measure_type]
        rows.append(
            [
                ind.id,
                ind.text,
                f"{mt.id} ({mt.label})",
                ", ".join(mt.required),
                ", ".join(mt.optional),
                ", ".join([TOTAL, *ind.breakdowns]),
                ", ".join(ind.required_breakdowns),
                ind.unit,
                ind.decimals,
            ]
        )
    return rows


def _write_xlsx(domain_id: str, frame: pd.DataFrame, path: Path, catalogue: Catalogue) -> None:
    import openpyxl  # imported here: only XLSX templates need it
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    grey = PatternFill("solid", start_color="F3F2F1", end_color="F3F2F1")
    book = openpyxl.Workbook()
    data = book.active
    data.title = DATA_SHEET
    columns = list(frame.columns)
    data.append(columns)
    for record in frame.itertuples(index=False):
        data.append(list(record))
    for cell in data[1]:
        cell.font = bold
    data.freeze_panes = "A2"
    for i, name in enumerate(columns, start=1):
        letter = get_column_letter(i)
        values = frame[name]
        width = max([len(name), *(len(v) for v in values)]) + 2
        data.column_dimensions[letter].width = min(width, _MAX_WIDTH)
        if name in _TEXT_COLUMNS:
            # Text format keeps codes such as 201 and periods such as 202425 exactly as typed.
            for (cell,) in data.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = "@"
        if name in MEASURE_COLUMNS:
            for (cell,) in data.iter_rows(min_row=2, min_col=i, max_col=i):
                if cell.value == NOT_APPLICABLE:
                    cell.fill = grey
    data.auto_filter.ref = data.dimensions

    guide = book.create_sheet(GUIDANCE_SHEET)
    domain = catalogue.domains[domain_id]
    intro = [
        [f"Upload template: {domain.name} (catalogue version {catalogue.version})"],
        [
            "Fill in the Data sheet: one row per period, local authority, indicator and "
            "breakdown category. Put your local authority's codes and name in every row."
        ],
        [
            "Fill the blank measure cells. Leave cells marked z as they are: the indicator's "
            "measure type does not use them. Delete breakdown rows you do not return; always "
            "keep the Total row."
        ],
        ["The upload format guide (docs/upload-format.md) explains every column and rule."],
        [],
    ]
    for row in intro:
        guide.append(row)
    guide["A1"].font = bold
    table = guidance_rows(domain_id, catalogue)
    header_row = guide.max_row + 1
    for row in table:
        guide.append(row)
    for cell in guide[header_row]:
        cell.font = bold
    guide.append([])
    symbols_row = guide.max_row + 1
    guide.append(["EES symbol", "Meaning"])
    for cell in guide[symbols_row]:
        cell.font = bold
    for symbol, meaning in EES_SYMBOLS.items():
        guide.append([symbol, meaning])
    widths = [max(len(str(r[i])) for r in table) + 2 for i in range(len(table[0]))]
    for i, width in enumerate(widths, start=1):
        guide.column_dimensions[get_column_letter(i)].width = min(width, _MAX_WIDTH)
    book.save(path)
