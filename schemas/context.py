"""Context datasets: published figures about each LA that set its comparisons in context.

Seed 4.5.3-4.5.4 and 4.5.6: funding, deprivation and "challenges not captured by standard
socio-economic indicators" (unaccompanied asylum-seeking children, an inflow of families) shape
what children's social care can achieve. Administrators load these figures per LA and period;
they feed the "similar challenges" comparison sets (:mod:`workers.analytics.similar`) and are
shown beside an LA's comparisons. All of them are published statistics: nothing here is
protected.

The file is an Explore Education Statistics (EES) data file in the wide layout DfE publishes
(see ``../shared/published``): the EES time and geography columns (:data:`GEOGRAPHY_COLUMNS`,
as :mod:`schemas.ees` writes them), then one column per context variable
(:data:`CONTEXT_VARIABLES`; at least one, in any order). One row per LA and period;
``National`` and ``Regional`` rows may be present and are ignored. A cell holds a number or an
EES symbol (:data:`MISSING_SYMBOLS`), read as missing.

Periods are the exchange's reporting years (April to March, named by the year they end, as in
:mod:`schemas.periods`): ``2025`` with ``Reporting year``, or ``202425`` with ``Financial year``
(section 251 returns are by financial year), which covers exactly the same months and is stored
as ``"2025"``.

:func:`read_context` validates a file with :class:`ContextFileModel` (a Pandera
``DataFrameModel``, every problem at once) and returns the values as a long frame (la_code,
period, variable, value) conforming to ``workers.analytics.similar.ContextFrame``. LA codes
are stored as the LA's current GSS code (the code its organisation in the exchange has), so a
2024-25 row for Barnsley written with E08000016, as DfE's 2025 data is, is stored under
E08000038. A file with any problem raises :class:`ContextFileError` listing each one with its
file, row (as a spreadsheet shows it, the header being row 1), column, value and rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.ees import GEOGRAPHY_COLUMNS
from schemas.periods import PeriodError, parse_period
from schemas.reference import ENGLAND_CODE, LONDON_REGION_CODE, load_reference
from schemas.upload.checks import NUMBER_PATTERN
from schemas.upload.columns import EES_SYMBOLS
from schemas.upload.reading import ROW_COLUMN, UploadReadError, read_upload

__all__ = [
    "CHILD_POPULATION",
    "CONTEXT_TIME_IDENTIFIERS",
    "CONTEXT_VARIABLES",
    "GEOGRAPHY_COLUMNS",
    "IDACI_SCORE",
    "INFLOW_FAMILIES",
    "LOCAL_AUTHORITY",
    "MISSING_SYMBOLS",
    "REQUIRED_COLUMNS",
    "SPEND_PER_CHILD",
    "UASC_PER_10K",
    "ContextFileError",
    "ContextFileModel",
    "ContextProblem",
    "ContextValues",
    "ContextVariable",
    "context_columns",
    "context_template",
    "read_context",
]

# --- The variables ---------------------------------------------------------------------------
# The names are the `variable` values of workers.analytics.similar.ContextFrame and must equal
# its constants of the same name (schemas may not import workers; a test checks they agree).

CHILD_POPULATION = "child_population"
IDACI_SCORE = "idaci_score"
SPEND_PER_CHILD = "spend_per_child"
UASC_PER_10K = "uasc_per_10k"
INFLOW_FAMILIES = "inflow_families"


@dataclass(frozen=True)
class ContextVariable:
    """One context variable: what it measures, in which unit, and where it is published."""

    name: str
    label: str
    unit: str
    source: str
    description: str
    decimals: int  # as the template and the synthetic data write it
    minimum: float = 0.0  # values below are an error
    minimum_inclusive: bool = True  # False: the minimum itself is an error too
    maximum: float | None = None  # values above are an error


CONTEXT_VARIABLES: MappingProxyType[str, ContextVariable] = MappingProxyType(
    {
        v.name: v
        for v in (
            ContextVariable(
                CHILD_POPULATION,
                "Child population",
                "children aged 0 to 17",
                "ONS mid-year population estimates (as published by DfE)",
                "Children aged 0 to 17 living in the LA. Sets the scale of everything else; "
                "similar-challenges sets compare it on a log scale.",
                decimals=0,
                minimum_inclusive=False,  # compared on a log scale: must be more than 0
            ),
            ContextVariable(
                IDACI_SCORE,
                "Income deprivation affecting children (IDACI)",
                "average score, 0 to 1",
                "English Indices of Deprivation (MHCLG), local authority summaries: IDACI "
                "average score",
                "The share of children aged 0 to 15 living in income-deprived families, "
                "averaged over the LA's neighbourhoods (seed 4.5.4: poverty and disadvantaged "
                "neighbourhoods).",
                decimals=3,
                maximum=1.0,
            ),
            ContextVariable(
                SPEND_PER_CHILD,
                "Children's social care spend per child",
                "£ per child aged 0 to 17",
                "DfE section 251 outturn (LA and school expenditure), divided by the child "
                "population",
                "Net expenditure on children's social care per child (seed 4.5.3: budgets shape "
                "what services can do).",
                decimals=0,
            ),
            ContextVariable(
                UASC_PER_10K,
                "Unaccompanied asylum-seeking children",
                "per 10,000 children",
                "DfE Children looked after in England (SSDA903): UASC looked after at 31 March, "
                "per 10,000 children aged 0 to 17",
                "Seed 4.5.6: authorities with a high number of unaccompanied asylum seekers "
                "under 18 (ports of entry, the National Transfer Scheme).",
                decimals=1,
            ),
            ContextVariable(
                INFLOW_FAMILIES,
                "Inflow of families from other authorities",
                "per 10,000 children",
                "MHCLG statutory homelessness statistics (H-CLIC): families with children placed "
                "in temporary accommodation in the area by other authorities, per 10,000 "
                "children",
                "Seed 4.5.6: housing policies which result in a higher than average inflow of "
                "families more likely to need children's social care support.",
                decimals=1,
            ),
        )
    }
)
"""Every context variable by name, in display order."""

# --- The file format -------------------------------------------------------------------------

LOCAL_AUTHORITY = "Local authority"
IGNORED_LEVELS = frozenset({"National", "Regional"})
# Reporting years run April to March; a financial year is the same twelve months.
CONTEXT_TIME_IDENTIFIERS = ("Reporting year", "Financial year")
MISSING_SYMBOLS: MappingProxyType[str, str] = MappingProxyType(
    {**EES_SYMBOLS, ":": "not available (the older EES and statistical-release symbol)"}
)
"""Cells read as missing values (any case)."""

REQUIRED_COLUMNS = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "old_la_code",
    "new_la_code",
    "la_name",
)
OPTIONAL_COLUMNS = ("country_code", "country_name", "region_code", "region_name")
_KNOWN_COLUMNS = (*GEOGRAPHY_COLUMNS, *CONTEXT_VARIABLES)
_NUMBER = re.compile(NUMBER_PATTERN)
_SUBREGIONS = {"E13000001": "Inner London", "E13000002": "Outer London"}


def context_columns(variables: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """The columns of a context file in EES order: geography, then the variables."""
    names = list(CONTEXT_VARIABLES) if variables is None else list(variables)
    return [*GEOGRAPHY_COLUMNS, *names]


# --- Problems --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextProblem:
    """One broken rule at one place of a context file.

    ``row`` is the row number a spreadsheet shows (the header is row 1), None for the whole
    file; ``value`` is the cell as written. Context figures are published statistics, so
    quoting them back is fine.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}, row {self.row}"
        if self.column:
            where += f", column {self.column}"
        if self.value not in (None, ""):
            where += f" ({self.value!r})"
        return f"{where}: {self.message} [{self.rule}]"


class ContextFileError(ValueError):
    """A context file cannot be loaded; ``problems`` says every reason and where."""

    def __init__(self, filename: str, problems: list[ContextProblem]) -> None:
        self.filename = filename
        self.problems = sorted(
            problems, key=lambda p: (p.row or 0, p.column or "", p.rule, p.message)
        )
        count = len(self.problems)
        super().__init__(f"{filename}: {count} problem{'s' if count != 1 else ''}")


# --- Cell helpers ----------------------------------------------------------------------------


def _text(series: pd.Series) -> pd.Series:
    return series.astype("str").str.strip()


def _is_symbol(series: pd.Series) -> np.ndarray:
    return _text(series).str.lower().isin(MISSING_SYMBOLS.keys()).to_numpy(dtype=bool)


def _numbers(series: pd.Series) -> np.ndarray:
    """Numbers as float; NaN for symbols, blanks and anything that is not a plain number."""
    text = _text(series)
    ok = text.str.fullmatch(_NUMBER).fillna(False).to_numpy(dtype=bool)
    out = np.full(len(text), np.nan)
    if ok.any():
        out[ok] = text[ok].astype(float).to_numpy()
    return out


def _number_message(column: str, value: str) -> tuple[str, str]:
    text = value.strip()
    symbols = ", ".join(MISSING_SYMBOLS)
    if not text:
        return "value_blank", (
            f"{column} is blank: write a number, or an EES symbol such as x (not available); "
            f"the symbols {symbols} are read as missing"
        )
    if "," in text and text.replace(",", "").replace(".", "", 1).isdigit():
        return "number_invalid", f"{column}: write numbers without thousands separators"
    return "number_invalid", f"{column} must be a number or an EES symbol ({symbols})"


# --- Rules across columns (each returns ok and a message per row) ----------------------------


def _period_statuses(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    ok = np.ones(len(frame), dtype=bool)
    messages = np.full(len(frame), "", dtype=object)
    pairs = zip(_text(frame["time_period"]), _text(frame["time_identifier"]), strict=True)
    for i, (tp, ti) in enumerate(pairs):
        if ti not in CONTEXT_TIME_IDENTIFIERS:
            continue  # reported by the time_identifier check
        try:
            parse_period(tp, ti)
        except PeriodError as exc:
            ok[i], messages[i] = False, str(exc)
    return ok, messages


def _period_of(tp: str, ti: str) -> str | None:
    """The exchange's period (reporting year) of a row, None if the period is not valid."""
    if ti not in CONTEXT_TIME_IDENTIFIERS:
        return None
    try:
        return str(parse_period(tp, ti).year)
    except PeriodError:
        return None


def _periods(frame: pd.DataFrame) -> list[str | None]:
    pairs = zip(_text(frame["time_period"]), _text(frame["time_identifier"]), strict=True)
    return [_period_of(tp, ti) for tp, ti in pairs]


def _la_statuses(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The LA codes are valid for the row's period and name the same LA."""
    reference = load_reference()
    known_new = set(reference.history["new_la_code"])
    known_old = set(reference.history["old_la_code"].dropna())
    ok = np.ones(len(frame), dtype=bool)
    messages = np.full(len(frame), "", dtype=object)
    valid_by_period: dict[tuple[str, str], pd.DataFrame] = {}
    rows = zip(
        _text(frame["time_period"]),
        _text(frame["time_identifier"]),
        _text(frame["old_la_code"]),
        _text(frame["new_la_code"]),
        strict=True,
    )
    for i, (tp, ti, old, new) in enumerate(rows):
        if new not in known_new or old not in known_old or _period_of(tp, ti) is None:
            continue  # an unknown code or a bad period is reported by its own check
        if (tp, ti) not in valid_by_period:
            period = parse_period(tp, ti)
            valid_by_period[(tp, ti)] = reference.codes_valid_for(period.start, period.end)
        valid = valid_by_period[(tp, ti)]
        match = valid[valid["new_la_code"] == new]
        if match.empty:
            ok[i], messages[i] = False, f"{new} is not a local authority code in use for {ti} {tp}"
            continue
        alias_of = match["alias_of"].iloc[0]
        if isinstance(alias_of, str) and alias_of:
            ok[i], messages[i] = (
                False,
                f"{new} was replaced by {alias_of} for {match['la_name'].iloc[0]}; use "
                f"{alias_of} for {ti} {tp}",
            )
            continue
        expected = match["old_la_code"].iloc[0]
        if old != expected:
            ok[i], messages[i] = (
                False,
                f"old_la_code {old} does not match new_la_code {new} (expected {expected})",
            )
    return ok, messages


def _region_statuses(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """region_code and region_name, where given, are the LA's region (for a London LA, London
    or its Inner/Outer London statistical area, as DfE's files write it)."""
    reference = load_reference()
    ok = np.ones(len(frame), dtype=bool)
    messages = np.full(len(frame), "", dtype=object)
    columns = [c for c in ("region_code", "region_name") if c in frame]
    if not columns:
        return ok, messages
    codes = _text(frame["new_la_code"]).tolist()
    for column in columns:
        written = _text(frame[column]).tolist()
        for i, (code, region) in enumerate(zip(codes, written, strict=True)):
            if not region:
                continue
            try:
                record = reference.la(code)
            except KeyError:
                continue  # reported by the new_la_code check
            allowed = {record.region_code: record.region_name}
            if record.region_code == LONDON_REGION_CODE:
                sub = reference.london_subregion(code)
                allowed.update({c: n for c, n in _SUBREGIONS.items() if n == sub})
            wanted = allowed if column == "region_code" else {n: n for n in allowed.values()}
            if region not in wanted:
                ok[i] = False
                text = f"{region} is not the LA's {column} ({' or '.join(wanted)})"
                messages[i] = f"{messages[i]}; {text}" if messages[i] else text
    return ok, messages


def _duplicate_statuses(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One row per LA and period (a Financial year row covers the same period as the
    Reporting year it ends in; an LA's old and new GSS codes are the same LA)."""
    reference = load_reference()
    periods = _periods(frame)
    las = []
    for code in _text(frame["new_la_code"]):
        try:
            las.append(_canonical_code(reference, code))
        except KeyError:
            las.append(None)
    ok = np.ones(len(frame), dtype=bool)
    messages = np.full(len(frame), "", dtype=object)
    first: dict[tuple[str, str], int] = {}
    rows = frame[ROW_COLUMN].tolist()
    for i, key in enumerate(zip(las, periods, strict=True)):
        if key[0] is None or key[1] is None:
            continue
        if key in first:
            ok[i] = False
            messages[i] = (
                f"a second row for {key[0]} in period {key[1]} (the first is row {first[key]})"
            )
        else:
            first[key] = rows[i]
    return ok, messages


def _canonical_code(reference: object, code: str) -> str:
    """The LA's current GSS code (its organisation's code in the exchange), from any GSS code
    it has had: E08000016 -> E08000038 (Barnsley); a terminated LA keeps its last code."""
    record = reference.la(code)  # type: ignore[attr-defined]
    if record.old_la_code is None:
        return record.new_la_code
    return reference.la(record.old_la_code).new_la_code  # type: ignore[attr-defined]


# --- The model -------------------------------------------------------------------------------


def _known(column: str) -> frozenset[str]:
    history = load_reference().history
    return frozenset(history[column].dropna())


class ContextFileModel(pa.DataFrameModel):
    """The ``Local authority`` rows of a context file, every cell as text (``_row`` is the
    spreadsheet row number). Column checks judge one cell; the dataframe checks judge rows
    against the reference data (named in :data:`_BLAME` for the column they blame)."""

    time_period: Series[str]
    time_identifier: Series[str] = pa.Field(isin=list(CONTEXT_TIME_IDENTIFIERS))
    geographic_level: Series[str] = pa.Field(isin=[LOCAL_AUTHORITY])
    country_code: Series[str] = pa.Field(isin=[ENGLAND_CODE, ""], required=False)
    country_name: Series[str] = pa.Field(isin=["England", ""], required=False)
    region_code: Series[str] = pa.Field(required=False)
    region_name: Series[str] = pa.Field(required=False)
    old_la_code: Series[str]
    new_la_code: Series[str]
    la_name: Series[str] = pa.Field(str_length={"min_value": 1})
    child_population: Series[str] = pa.Field(required=False)
    idaci_score: Series[str] = pa.Field(required=False)
    spend_per_child: Series[str] = pa.Field(required=False)
    uasc_per_10k: Series[str] = pa.Field(required=False)
    inflow_families: Series[str] = pa.Field(required=False)
    # pandera ignores "_" attribute names: the row number is declared under its alias.
    source_row: Series[np.int64] = pa.Field(ge=2, alias=ROW_COLUMN)

    @pa.check("old_la_code", name="old_la_code_known")
    def _old_known(cls, series: Series[str]) -> Series[bool]:
        return series.isin(_known("old_la_code"))

    @pa.check("new_la_code", name="new_la_code_known")
    def _new_known(cls, series: Series[str]) -> Series[bool]:
        return series.isin(_known("new_la_code"))

    @pa.check(*CONTEXT_VARIABLES, name="number_or_symbol")
    def _number_or_symbol(cls, series: Series[str]) -> Series[bool]:
        return pd.Series(_is_symbol(series) | ~np.isnan(_numbers(series)), index=series.index)

    @pa.check(*CONTEXT_VARIABLES, name="value_in_range")
    def _in_range(cls, series: Series[str]) -> Series[bool]:
        spec = CONTEXT_VARIABLES[str(series.name)]
        x = _numbers(series)
        low = x >= spec.minimum if spec.minimum_inclusive else x > spec.minimum
        high = x <= spec.maximum if spec.maximum is not None else np.ones(len(x), dtype=bool)
        return pd.Series(np.isnan(x) | (low & high), index=series.index)

    @pa.dataframe_check(name="time_period_form")
    def _period_form(cls, df: pd.DataFrame) -> Series[bool]:
        return pd.Series(_period_statuses(df)[0], index=df.index)

    @pa.dataframe_check(name="la_code_valid_for_period")
    def _la_valid(cls, df: pd.DataFrame) -> Series[bool]:
        return pd.Series(_la_statuses(df)[0], index=df.index)

    @pa.dataframe_check(name="region_matches_la")
    def _region(cls, df: pd.DataFrame) -> Series[bool]:
        return pd.Series(_region_statuses(df)[0], index=df.index)

    @pa.dataframe_check(name="duplicate_la_period")
    def _duplicate(cls, df: pd.DataFrame) -> Series[bool]:
        return pd.Series(_duplicate_statuses(df)[0], index=df.index)

    class Config:
        strict = True
        coerce = True
        name = "context file"


# Dataframe checks: the column each blames, and how to word each failing row.
_BLAME = {
    "time_period_form": ("time_period", _period_statuses),
    "la_code_valid_for_period": ("new_la_code", _la_statuses),
    "region_matches_la": ("region_code", _region_statuses),
    "duplicate_la_period": ("new_la_code", _duplicate_statuses),
}


class ContextValues(pa.DataFrameModel):
    """What :func:`read_context` returns: one row per LA x period x variable (the columns of
    ``workers.analytics.similar.ContextFrame``). ``value`` is NaN where the file has a symbol."""

    la_code: Series[str] = pa.Field(str_matches=r"^E(06|07|08|09|10)\d{6}$")
    period: Series[str] = pa.Field(str_matches=r"^\d{4}$")
    variable: Series[str] = pa.Field(isin=list(CONTEXT_VARIABLES))
    value: Series[float] = pa.Field(nullable=True, ge=0)

    @pa.dataframe_check(name="one_value_per_la_period_variable")
    def _unique(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df.duplicated(["la_code", "period", "variable"], keep=False)

    class Config:
        strict = True
        coerce = True
        ordered = True


# --- Reading ---------------------------------------------------------------------------------


def _header_problems(
    filename: str, columns: list[str], originals: dict[str, str]
) -> list[ContextProblem]:
    problems: list[ContextProblem] = []
    unknown = [c for c in columns if c not in _KNOWN_COLUMNS]
    known = ", ".join(_KNOWN_COLUMNS)
    for column in unknown:
        header = originals.get(column, column)
        problems.append(
            ContextProblem(
                filename,
                1,
                header,
                header,
                "header_unknown",
                f"unknown column {header!r}; a context file has the columns {known}",
            )
        )
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            problems.append(
                ContextProblem(
                    filename,
                    1,
                    column,
                    None,
                    "header_missing",
                    f"required column {column!r} is missing from the header row",
                )
            )
    if not any(c in CONTEXT_VARIABLES for c in columns):
        problems.append(
            ContextProblem(
                filename,
                1,
                None,
                None,
                "header_missing",
                "the file has no context variable column: add at least one of "
                + ", ".join(CONTEXT_VARIABLES),
            )
        )
    return problems


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Trim every cell; an old LA code a spreadsheet turned into 840.0 is still 840."""
    out = frame.copy()
    for column in out.columns:
        if column != ROW_COLUMN:
            out[column] = _text(out[column].fillna(""))
    if "old_la_code" in out:
        out["old_la_code"] = out["old_la_code"].str.replace(r"^(\d+)\.0*$", r"\1", regex=True)
    return out


def _column_problem(filename: str, column: str, check: str, value: str) -> tuple[str, str]:
    """(rule, message) for a failed single-cell check."""
    if check == "number_or_symbol":
        return _number_message(column, value)
    if check == "value_in_range":
        spec = CONTEXT_VARIABLES[column]
        if spec.maximum is not None and float(value) > spec.maximum:
            return "value_out_of_range", f"{column} is at most {spec.maximum:g} ({spec.unit})"
        if not spec.minimum_inclusive:
            return "value_out_of_range", f"{column} must be more than {spec.minimum:g}"
        return "value_negative", f"{column} cannot be negative"
    if value == "" and column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
        return f"{column}_blank", f"{column} is blank; every local authority row needs it"
    if column == "time_identifier":
        return "time_identifier_unknown", (
            f"{value!r}: context periods are reporting years (April to March); use "
            "'Reporting year' (e.g. 2025) or 'Financial year' (e.g. 202425, the same months)"
        )
    if column == "geographic_level":
        return "geographic_level", (
            f"{value!r}: rows are for a {LOCAL_AUTHORITY!r} (National and Regional rows are "
            "ignored)"
        )
    if column == "old_la_code":
        return "la_code_unknown", f"{value!r} is not a known old (3-digit) LA number"
    if column == "new_la_code":
        return "la_code_unknown", f"{value!r} is not a known LA GSS code (like E06000047)"
    if column in ("country_code", "country_name"):
        return "country_is_england", (
            "the exchange holds English LAs: country_code E92000001, country_name England"
        )
    return check, f"{column} fails {check}"


def _problems_from(
    filename: str, errors: pa.errors.SchemaErrors, frame: pd.DataFrame
) -> list[ContextProblem]:
    cases = errors.failure_cases
    rows = frame[ROW_COLUMN].tolist()
    problems: list[ContextProblem] = []
    located = cases[cases["index"].notna()]
    messages: dict[str, np.ndarray] = {}
    seen: set[tuple[str, int]] = set()
    for record in located.itertuples(index=False):
        check, position = str(record.check), int(record.index)
        if check in _BLAME:
            # A dataframe check fails once per column of the row: report it once, on the
            # column it blames, with the row's own wording.
            if (check, position) in seen:
                continue
            seen.add((check, position))
            column, statuses = _BLAME[check]
            if check not in messages:
                messages[check] = statuses(frame)[1]
            if column not in frame:
                column = "region_name" if check == "region_matches_la" else column
            value = str(frame[column].iloc[position]) if column in frame else None
            problems.append(
                ContextProblem(
                    filename, rows[position], column, value, check, str(messages[check][position])
                )
            )
            continue
        column = str(record.column)
        value = str(frame[column].iloc[position]) if column in frame else str(record.failure_case)
        rule, message = _column_problem(filename, column, check.split("(")[0], value)
        problems.append(ContextProblem(filename, rows[position], column, value, rule, message))
    for record in cases[cases["index"].isna()].itertuples(index=False):
        problems.append(
            ContextProblem(
                filename,
                None,
                None if pd.isna(record.column) else str(record.column),
                None,
                str(record.check),
                f"{record.column}: {record.failure_case}",
            )
        )
    return problems


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    """The validated LA rows as ContextValues: current GSS code, reporting year, variable."""
    reference = load_reference()
    codes = {c: _canonical_code(reference, c) for c in frame["new_la_code"].unique()}
    base = pd.DataFrame(
        {
            "la_code": frame["new_la_code"].map(codes).to_numpy(),
            "period": _periods(frame),
        }
    )
    parts = []
    for name in (v for v in CONTEXT_VARIABLES if v in frame):
        part = base.copy()
        part["variable"] = name
        part["value"] = _numbers(frame[name])
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    long = long.sort_values(["period", "la_code", "variable"], kind="stable")
    return ContextValues.validate(long.reset_index(drop=True))


def read_context(data: bytes, filename: str) -> pd.DataFrame:
    """Validate a context file (CSV or XLSX bytes) and return its values, long.

    Columns ``la_code`` (the LA's current GSS code), ``period`` (reporting year, e.g.
    ``"2025"``), ``variable`` (a name of :data:`CONTEXT_VARIABLES`) and ``value`` (float; NaN
    where the file has an EES symbol): :class:`ContextValues`, which conforms to
    ``workers.analytics.similar.ContextFrame``. National and Regional rows are ignored.
    Raises :class:`ContextFileError` with every problem when the file is not valid.
    """
    name = Path(filename).name or "context file"
    try:
        read = read_upload(data, name, header_hint=frozenset(REQUIRED_COLUMNS))
    except UploadReadError as exc:
        p = exc.problem
        raise ContextFileError(
            name, [ContextProblem(name, p.row, p.column, p.value, p.rule, p.message)]
        ) from None
    problems = [
        ContextProblem(name, p.row, p.column, p.value, p.rule, p.message) for p in read.problems
    ]
    problems += _header_problems(name, read.columns, read.original_headers)
    if problems:
        raise ContextFileError(name, problems)
    frame = _tidy(read.frame)
    frame = frame[~frame["geographic_level"].isin(IGNORED_LEVELS)].reset_index(drop=True)
    if frame.empty:
        raise ContextFileError(
            name,
            [
                ContextProblem(
                    name,
                    None,
                    "geographic_level",
                    None,
                    "file_empty",
                    f"the file has no {LOCAL_AUTHORITY!r} rows (National and Regional rows "
                    "are ignored)",
                )
            ],
        )
    try:
        ContextFileModel.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        raise ContextFileError(name, _problems_from(name, errors, frame)) from None
    return _long(frame)


# --- The template ----------------------------------------------------------------------------

_EXAMPLE = {
    "time_period": "2025",
    "time_identifier": "Reporting year",
    "geographic_level": LOCAL_AUTHORITY,
    "country_code": ENGLAND_CODE,
    "country_name": "England",
    "region_code": "E12000001",
    "region_name": "North East",
    "old_la_code": "840",
    "new_la_code": "E06000047",
    "la_name": "County Durham",
    CHILD_POPULATION: "100000",
    IDACI_SCORE: "0.215",
    SPEND_PER_CHILD: "1250",
    UASC_PER_10K: "x",
    INFLOW_FAMILIES: "2.5",
}


def context_template() -> str:
    """A context file's header and one example row (made-up figures), as CSV text."""
    columns = context_columns()
    lines = [",".join(columns), ",".join(_EXAMPLE[c] for c in columns)]
    return "\n".join(lines) + "\n"
