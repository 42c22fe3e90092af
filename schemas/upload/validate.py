"""Validating an upload against a Pandera schema generated from the catalogue.

``validate_upload`` reads the file (``reading``), checks the header, then validates every row
with :func:`build_upload_model`'s ``DataFrameModel`` in lazy mode, so the report lists every
problem, not just the first. Column checks (registered in ``checks``) cover single cells;
dataframe checks cover rules that need several columns or rows (LA code valid for the period,
breakdown allowed for the indicator, numerator <= denominator, percentages agree, no duplicate
keys, categories sum to their Total). Each failure becomes a :class:`Problem` with the row number a
spreadsheet user sees, the column, the value as written and the rule.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera.typing import Series

from schemas.catalogue import Catalogue, load_catalogue
from schemas.periods import TIME_IDENTIFIERS, PeriodError, parse_period
from schemas.reference import ReferenceData, load_reference

from . import checks
from .columns import (
    EES_SYMBOLS,
    GEOGRAPHY_OPTIONAL,
    IDENTITY_COLUMNS,
    MEASURE_COLUMNS,
    TOTAL,
)
from .reading import ROW_COLUMN, FileLimits, UploadReadError, read_upload
from .report import Problem, ValidationReport
from .rules import RULES, RowFacts, details, rules_for

__all__ = ["ValidationContext", "build_upload_model", "validate_frame", "validate_upload"]

LOCAL_AUTHORITY = "Local authority"
_KNOWN_COLUMNS = (*IDENTITY_COLUMNS, *GEOGRAPHY_OPTIONAL, *MEASURE_COLUMNS)
_CATEGORICAL = (*IDENTITY_COLUMNS, *GEOGRAPHY_OPTIONAL)

# Column aliases seen in real returns, mapped to the name the format uses (after normalising
# case and punctuation). Anything else unknown gets a "did you mean" suggestion instead.
HEADER_ALIASES: dict[str, str] = {
    "la_code": "new_la_code",
    "gss_code": "new_la_code",
    "la_gss_code": "new_la_code",
    "la_number": "old_la_code",
    "la_old_code": "old_la_code",
    "local_authority": "la_name",
    "la": "la_name",
    "indicator": "indicator_id",
    "indicator_code": "indicator_id",
    "year": "time_period",
    "period": "time_period",
    "num": "numerator",
    "denom": "denominator",
    "percent": "value",
    "percentage": "value",
}


@dataclass
class ValidationContext:
    """What validation needs from the catalogue and reference data, precomputed once."""

    catalogue: Catalogue
    reference: ReferenceData
    authority: str | None = None  # old or new code of the uploading LA, if known

    @cached_property
    def indicators(self) -> pd.DataFrame:
        rows = []
        for ind in self.catalogue.indicators.values():
            mt = self.catalogue.measure_types[ind.measure_type]
            rows.append(
                {
                    "indicator_id": ind.id,
                    "measure_type": ind.measure_type,
                    "value_kind": mt.value_kind,
                    "decimals": ind.decimals,
                    "value_numerator": mt.value_numerator,
                    "value_denominator": mt.value_denominator,
                    "value_scale": mt.value_scale,
                    "negative_ok": mt.value_may_be_negative,
                    **{f"req_{c}": c in mt.required for c in MEASURE_COLUMNS},
                    **{f"use_{c}": c in (*mt.required, *mt.optional) for c in MEASURE_COLUMNS},
                    **{f"count_{c}": c in mt.counts for c in MEASURE_COLUMNS},
                    # Numeric codes for the hot path: 1 numerator; 1 denominator, 2 respondents.
                    "num_code": 1 if mt.value_numerator == "numerator" else 0,
                    "den_code": {"denominator": 1, "respondents": 2}.get(
                        mt.value_denominator or "", 0
                    ),
                    "is_yes_no": mt.value_kind == "yes_no",
                }
            )
        return pd.DataFrame(rows).set_index("indicator_id")

    @cached_property
    def allowed_pairs(self) -> frozenset[tuple[str, str]]:
        """(indicator_id, breakdown_topic) pairs a row may have; Total always allowed."""
        pairs = {(i, TOTAL) for i in self.catalogue.indicators}
        for ind in self.catalogue.indicators.values():
            pairs |= {(ind.id, b) for b in ind.breakdowns}
        return frozenset(pairs)

    @cached_property
    def topic_values(self) -> dict[str, frozenset[str]]:
        values = {b.id: frozenset(b.values) for b in self.catalogue.breakdowns.values()}
        values[TOTAL] = frozenset({TOTAL})
        return values

    @cached_property
    def authority_codes(self) -> frozenset[str]:
        if self.authority is None:
            return frozenset()
        la = self.reference.la(self.authority)
        codes = {la.old_la_code, la.new_la_code}
        # Re-coded LAs (Barnsley, Sheffield) may still return under their previous GSS code.
        aliases = self.reference.code_aliases()
        codes |= set(aliases.loc[aliases.new_la_code == la.new_la_code, "alias_code"])
        return frozenset(codes)

    @cached_property
    def la_regions(self) -> dict[str, tuple[str, str]]:
        """GSS code (live, terminated or alias) -> (region code, region name)."""
        history = self.reference.history
        return {
            code: (region_code, region_name)
            for code, region_code, region_name in zip(
                history["new_la_code"], history["region_code"], history["region_name"], strict=True
            )
        }

    @cached_property
    def known_old_codes(self) -> frozenset[str]:
        return frozenset(self.reference.history["old_la_code"].dropna())

    @cached_property
    def known_new_codes(self) -> frozenset[str]:
        return frozenset(self.reference.history["new_la_code"].dropna())

    def codes_for_period(self, time_period: str, time_identifier: str) -> pd.DataFrame | None:
        try:
            period = parse_period(time_period, time_identifier)
        except PeriodError:
            return None
        return self.reference.codes_valid_for(period.start, period.end)


def build_upload_model(
    ctx: ValidationContext, frame: pd.DataFrame
) -> tuple[type[pa.DataFrameModel], RowFacts]:
    """Generate the upload DataFrameModel for ``frame`` from the catalogue and reference data.

    Only the optional columns present in the file are declared, so ``strict`` rejects anything
    else. Every rule is a check on the column it blames, so each failure names its cell; rules
    needing several columns or rows read the shared :class:`RowFacts` of the frame.
    """
    columns = list(frame.columns)
    facts = RowFacts(frame, ctx)
    annotations: dict[str, object] = {}
    namespace: dict[str, object] = {}

    def column(name: str, **field_checks: object) -> None:
        annotations[name] = Series[pa.typing.Category] if name in _CATEGORICAL else Series[str]
        namespace[name] = pa.Field(**field_checks)

    column("time_period", not_blank=())
    column("time_identifier", isin=list(TIME_IDENTIFIERS))
    column("geographic_level", isin=[LOCAL_AUTHORITY])
    column("new_la_code", isin=sorted(ctx.known_new_codes))
    column("old_la_code", isin=sorted(ctx.known_old_codes))
    column("la_name", not_blank=())
    column("indicator_id", isin=sorted(ctx.catalogue.indicators))
    column("breakdown_topic", isin=[TOTAL, *sorted(ctx.catalogue.breakdowns)])
    column("breakdown", not_blank=())
    for name in GEOGRAPHY_OPTIONAL:
        if name in columns:
            column(name, not_blank=())
    for name in MEASURE_COLUMNS:
        if name in columns:
            column(name, **({"ees_number": ()} if name in ("value", "sd") else {"ees_count": ()}))
    # The spreadsheet row number travels with the data (pandera ignores "_" attribute names,
    # so the field is declared under another name with the column as its alias).
    annotations["source_row"] = Series[np.int64]
    namespace["source_row"] = pa.Field(ge=1, alias=ROW_COLUMN)

    for number, fn in enumerate(rules_for(ctx)):
        blamed = getattr(fn, "blame", RULES[fn.__name__].column)
        if fn.__name__ == "region_matches_la" and blamed not in columns:
            blamed = "region_name"
        if fn.__name__ == "country_is_england" and blamed not in columns:
            blamed = "country_name"
        target = blamed if blamed in columns else "indicator_id"

        def check(cls: object, series: pd.Series, fn: Callable = fn) -> pd.Series:
            return pd.Series(fn(facts), index=series.index)

        namespace[f"rule_{number}"] = pa.check(target, name=fn.__name__, ignore_na=False)(check)

    namespace["__annotations__"] = annotations
    namespace["Config"] = type("Config", (), {"strict": True, "coerce": False, "name": "upload"})
    return type("UploadModel", (pa.DataFrameModel,), namespace), facts


COLUMN_CHECK_MESSAGES: dict[str, str] = {
    "ees_count": "must be a whole number of 0 or more (or an EES symbol: c, x, z, u, low)",
    "ees_number": "must be a number (or an EES symbol: c, x, z, u, low)",
}


def _column_message(ctx: ValidationContext, column: str, check: str, value: str) -> tuple[str, str]:
    """(rule id, plain-English message) for a failed single-cell check."""
    name = check.split("(")[0]
    if value.strip() == "":
        return f"{column}_blank", f"{column} is blank; every row needs it"
    if column == "indicator_id":
        close = difflib.get_close_matches(value.strip(), list(ctx.catalogue.indicators), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return "indicator_unknown", f"{value!r} is not an indicator in the catalogue.{hint}"
    if column == "time_identifier":
        return (
            "time_identifier_unknown",
            f"{value!r} is not an EES time_identifier; use one of: {', '.join(TIME_IDENTIFIERS)}",
        )
    if column == "geographic_level":
        return (
            "geographic_level",
            f"uploads are for one local authority: geographic_level must be {LOCAL_AUTHORITY!r}",
        )
    if column == "old_la_code":
        digits = value.strip()
        if digits.isdigit() and len(digits) < 3:
            return (
                "la_code_unknown",
                f"{value!r} is too short: old LA numbers have three digits (e.g. 840). Check "
                "the spreadsheet did not store the code as a number and trim it",
            )
        return "la_code_unknown", f"{value!r} is not a known old (3-digit) LA number"
    if column == "new_la_code":
        return "la_code_unknown", f"{value!r} is not a known LA GSS code (like E06000047)"
    if column == "breakdown_topic":
        return (
            "breakdown_topic_unknown",
            f"{value!r} is not a breakdown topic; use Total or one of: "
            + ", ".join(sorted(ctx.catalogue.breakdowns)),
        )
    if name == "ees_count":
        text = value.strip()
        if "," in text and text.replace(",", "").replace(".", "", 1).isdigit():
            return (
                "count_invalid",
                f"{column} {value!r}: write numbers without thousands separators",
            )
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if "e" in text.lower() and not math.isnan(number):
            return (
                "count_invalid",
                f"{column} {value!r} is in scientific notation: format the cell as a plain number",
            )
        if number < 0:
            return "count_negative", f"{column} is a count and cannot be negative"
        if not math.isnan(number):
            return "count_not_integer", f"{column} is a count and must be a whole number"
        return "count_invalid", f"{column} {COLUMN_CHECK_MESSAGES['ees_count']}"
    if name == "ees_number":
        return "number_invalid", f"{column} {COLUMN_CHECK_MESSAGES['ees_number']}"
    return name, f"{column} fails {check}"


def pa_compute_take(series: pd.Series, index: np.ndarray) -> list[str]:
    """Cells at ``index`` of a text column, via Arrow (no pandas intermediate)."""
    array = pyarrow.chunked_array(pyarrow.array(series.astype("str")))
    return [str(v) for v in array.take(pyarrow.array(index)).to_pylist()]


def _cell_text(series: pd.Series, index: np.ndarray) -> list[str]:
    """The cells at ``index`` as written (categoricals decoded without expanding the column)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = np.asarray(series.cat.categories, dtype=object)
        codes = series.cat.codes.to_numpy()[index]
        return [categories[c] if c >= 0 else "" for c in codes.tolist()]
    return pa_compute_take(series, index)


def _problems_from(
    errors: pa.errors.SchemaErrors, frame: pd.DataFrame, facts: RowFacts
) -> list[Problem]:
    fc = errors.failure_cases
    problems: list[Problem] = []
    rows = frame[ROW_COLUMN].to_numpy().tolist()
    located = fc[fc["index"].notna() & fc["column"].notna()]
    for (column, check), group in located.groupby(["column", "check"], sort=False):
        index = group["index"].astype("int64").to_numpy()
        values = _cell_text(frame[column], index)
        row_numbers = [rows[i] for i in index.tolist()]
        if check in RULES:
            default = RULES[check].message
            texts = details(check, facts, index, column)
            problems += [
                Problem(check, text or default, row, column, value)
                for value, row, text in zip(values, row_numbers, texts, strict=True)
            ]
            continue
        cache: dict[str, tuple[str, str]] = {}
        yes_no = (
            facts.flag("is_yes_no")[index]
            if column == "value"
            else np.zeros(len(index), dtype=bool)
        )
        for value, row, is_yes_no in zip(values, row_numbers, yes_no, strict=True):
            if is_yes_no:
                problems.append(
                    Problem(
                        "yes_no_value",
                        f"{value!r}: a yes/no indicator's value is yes or no",
                        row,
                        column,
                        value,
                    )
                )
                continue
            if value not in cache:
                cache[value] = _column_message(facts.ctx, column, check, value)
            rule_id, message = cache[value]
            problems.append(Problem(rule_id, message, row, column, value))
    # Anything pandera reports without a cell (a wrong dtype, say) is a file-level problem.
    for record in fc[fc["index"].isna() | fc["column"].isna()].itertuples(index=False):
        problems.append(Problem(str(record.check), f"{record.column}: {record.failure_case}", None))
    return problems


# ---------------------------------------------------------------------------------- entry points


def _header_problems(
    ctx: ValidationContext, columns: list[str], originals: dict[str, str]
) -> tuple[list[Problem], dict[str, str]]:
    problems: list[Problem] = []
    renames: dict[str, str] = {}
    present = set(columns)
    for col in columns:
        if col in _KNOWN_COLUMNS:
            continue
        target = HEADER_ALIASES.get(col)
        if target and target not in present:
            renames[col] = target
            problems.append(
                Problem(
                    "header_renamed",
                    f"column {originals[col]!r} was read as {target!r}; "
                    "please rename it in future files",
                    1,
                    originals[col],
                    originals[col],
                    "warning",
                )
            )
            continue
        close = difflib.get_close_matches(col, _KNOWN_COLUMNS, n=1, cutoff=0.75)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        problems.append(
            Problem(
                "header_unknown",
                f"unexpected column {originals[col]!r}.{hint}",
                1,
                originals[col],
                originals[col],
            )
        )
    present = (present - set(renames)) | set(renames.values())
    missing = [c for c in IDENTITY_COLUMNS if c not in present]
    for col in missing:
        problems.append(
            Problem(
                "header_missing", f"required column {col!r} is missing from the header row", 1, col
            )
        )
    if not any(c in present for c in MEASURE_COLUMNS):
        problems.append(
            Problem(
                "header_missing",
                "the file has no measure columns (" + ", ".join(MEASURE_COLUMNS) + ")",
                1,
            )
        )
    return problems, renames


def _recategorise(series: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """Apply ``fn`` to each category once, merging categories that become equal."""
    categories = list(series.cat.categories)
    tidied = [fn(c) for c in categories]
    if tidied == categories:
        return series
    mapping, uniques = pd.factorize(pd.Index(tidied, dtype="str"))
    codes = series.cat.codes.to_numpy()
    remapped = np.where(codes >= 0, mapping[codes] if len(mapping) else -1, -1)
    categorical = pd.Categorical.from_codes(remapped, categories=pd.Index(uniques, dtype="str"))
    return pd.Series(categorical, index=series.index, name=series.name)


def _numeric_code(code: str) -> str:
    head, dot, tail = code.partition(".")
    return head if dot and head.isdigit() and tail.strip("0") == "" else code


def validate_frame(frame: pd.DataFrame, ctx: ValidationContext) -> list[Problem]:
    """Validate a frame of text cells (with ``_row``) whose header has already been checked."""
    for col in _CATEGORICAL:
        if col not in frame:
            continue
        if not isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype("category")
        # Stray spaces around codes are forgiven (as in XLSX cells); spreadsheets also turn the
        # code 840 into the number 840.0, which is still the code 840.
        tidy = _numeric_code if col == "old_la_code" else str.strip
        frame[col] = _recategorise(frame[col], lambda c, tidy=tidy: tidy(str(c).strip()))
    model, facts = build_upload_model(ctx, frame)
    try:
        model.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        return _problems_from(errors, frame, facts)
    finally:
        checks.clear_scans()
    return []


def validate_upload(
    data: bytes | Path,
    filename: str,
    *,
    authority: str | None = None,
    catalogue: Catalogue | None = None,
    reference: ReferenceData | None = None,
    limits: FileLimits | None = None,
) -> ValidationReport:
    """Validate an upload (its bytes, or a path to it); the report lists every problem found."""
    ctx = ValidationContext(
        catalogue=catalogue or load_catalogue(),
        reference=reference or load_reference(),
        authority=authority,
    )
    report = ValidationReport(filename=Path(filename).name, catalogue_version=ctx.catalogue.version)
    try:
        read = read_upload(
            data,
            filename,
            header_hint=frozenset(IDENTITY_COLUMNS),
            categorical=frozenset(_CATEGORICAL),
            limits=limits,
        )
    except UploadReadError as exc:
        report.problems.append(exc.problem)
        return report
    report.sheet = read.sheet
    report.rows = len(read.frame)
    report.problems.extend(read.problems)
    header, renames = _header_problems(ctx, read.columns, read.original_headers)
    report.problems.extend(header)
    if any(p.severity == "error" for p in header):
        return report  # row checks would only repeat the header problem on every row
    if read.frame.empty:
        report.problems.append(Problem("file_empty", "The file has a header row but no data rows."))
        return report
    frame = read.frame.rename(columns=renames)
    report.problems.extend(validate_frame(frame, ctx))
    return report


def validate_path(path: str | Path, **kwargs: object) -> ValidationReport:
    path = Path(path)
    return validate_upload(path, path.name, **kwargs)  # type: ignore[arg-type]


# EES symbols are documented with their meanings for the report and the format docs.
SYMBOL_MEANINGS = EES_SYMBOLS
