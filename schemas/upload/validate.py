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
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.catalogue import Catalogue, load_catalogue
from schemas.periods import TIME_IDENTIFIERS, PeriodError, parse_period
from schemas.reference import ReferenceData, load_reference

from . import checks
from .columns import (
    EES_SYMBOLS,
    GEOGRAPHY_OPTIONAL,
    IDENTITY_COLUMNS,
    KEY_COLUMNS,
    MEASURE_COLUMNS,
    TOTAL,
)
from .reading import ROW_COLUMN, FileLimits, UploadReadError, read_upload
from .report import Problem, ValidationReport

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
                    "counts": mt.counts,
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


@dataclass
class _Derived:
    """Per-row facts computed once per validation and shared by the dataframe checks."""

    frame: pd.DataFrame
    ctx: ValidationContext
    messages: dict[str, pd.Series] = field(default_factory=dict)

    @cached_property
    def info(self) -> pd.DataFrame:
        """The catalogue facts of each row's indicator (NaN for unknown indicators)."""
        ids = self.frame["indicator_id"].astype("str").str.strip()
        return self.ctx.indicators.reindex(ids.to_numpy()).set_index(self.frame.index)

    @cached_property
    def known_indicator(self) -> pd.Series:
        return self.info["measure_type"].notna()

    def number(self, column: str) -> pd.Series:
        if column not in self.frame:
            return pd.Series(np.nan, index=self.frame.index)
        return self._numbers[column]

    @cached_property
    def _numbers(self) -> dict[str, pd.Series]:
        return {c: checks.parse_numbers(self.frame[c]) for c in MEASURE_COLUMNS if c in self.frame}

    def present(self, column: str) -> pd.Series:
        """The cell holds a number or an EES symbol (so it is not missing)."""
        if column not in self.frame:
            return pd.Series(False, index=self.frame.index)
        return self.number(column).notna() | checks.is_symbol(self.frame[column])

    def text(self, column: str) -> pd.Series:
        return self.frame[column].astype("str").str.strip()

    @cached_property
    def periods(self) -> pd.DataFrame:
        """Per distinct (time_period, time_identifier): parse result and valid LA codes."""
        pairs = self.frame[["time_period", "time_identifier"]].drop_duplicates()
        rows = []
        for tp, ti in pairs.itertuples(index=False):
            tp, ti = str(tp).strip(), str(ti).strip()
            try:
                parse_period(tp, ti)
                error = None
            except PeriodError as exc:
                error = str(exc)
            rows.append({"time_period": tp, "time_identifier": ti, "error": error})
        return pd.DataFrame(rows, columns=["time_period", "time_identifier", "error"])


def _la_validity(d: _Derived) -> pd.DataFrame:
    """Row-aligned codes check: for each row, whether its codes are valid for its period."""
    f = d.frame
    keys = pd.DataFrame(
        {
            "time_period": d.text("time_period"),
            "time_identifier": d.text("time_identifier"),
            "old_la_code": d.text("old_la_code"),
            "new_la_code": d.text("new_la_code"),
        },
        index=f.index,
    )
    distinct = keys.drop_duplicates()
    out = []
    cache: dict[tuple[str, str], pd.DataFrame | None] = {}
    for tp, ti, old, new in distinct.itertuples(index=False):
        if (tp, ti) not in cache:
            cache[(tp, ti)] = d.ctx.codes_for_period(tp, ti)
        valid = cache[(tp, ti)]
        status, message = "ok", ""
        if valid is None:
            status = "no_period"  # reported by the period rule
        else:
            match_new = valid[valid.new_la_code == new]
            match_old = valid[valid.old_la_code == old]
            canonical = match_new[match_new.alias_of.isna()]
            if len(match_new) and not len(canonical):
                status = "alias"
                message = (
                    f"{new} was replaced by {match_new.alias_of.iloc[0]} for "
                    f"{match_new.la_name.iloc[0]}; use the new code for {ti} {tp}"
                )
            elif not len(match_new):
                status = "new_invalid"
                message = f"{new} is not a local authority code in use for {ti} {tp}"
            elif not len(match_old):
                status = "old_invalid"
                message = f"{old} is not a local authority number in use for {ti} {tp}"
            elif old not in set(match_new.old_la_code):
                status = "mismatch"
                expected = match_new.old_la_code.iloc[0]
                message = (
                    f"old_la_code {old} does not match new_la_code {new} (expected {expected})"
                )
        out.append((tp, ti, old, new, status, message))
    table = pd.DataFrame(
        out,
        columns=["time_period", "time_identifier", "old_la_code", "new_la_code", "status", "msg"],
    )
    merged = keys.reset_index().merge(
        table, on=["time_period", "time_identifier", "old_la_code", "new_la_code"], how="left"
    )
    return merged.set_index("index").reindex(f.index)


def build_upload_model(ctx: ValidationContext, columns: list[str]) -> type[pa.DataFrameModel]:
    """Generate the upload DataFrameModel from the catalogue and reference data.

    Only the optional columns present in the file are declared, so ``strict`` rejects anything
    else. The model's dataframe checks share per-row facts through ``_Derived`` (computed once).
    """
    indicator_ids = sorted(ctx.catalogue.indicators)
    topics = [TOTAL, *sorted(ctx.catalogue.breakdowns)]
    state: dict[str, _Derived] = {}
    messages: dict[str, pd.Series] = {}  # rule -> row-specific wording, kept across frames

    def derived(df: pd.DataFrame) -> _Derived:
        d = state.get("d")
        if d is None or d.frame is not df:
            state["derived_builds"] = state.get("derived_builds", 0) + 1  # type: ignore[assignment]
            d = state["d"] = _Derived(df, ctx, messages)
        return d

    annotations: dict[str, object] = {}
    namespace: dict[str, object] = {}

    def column(name: str, **checks_: object) -> None:
        annotations[name] = Series[pa.typing.Category] if name in _CATEGORICAL else Series[str]
        namespace[name] = pa.Field(**checks_)

    column("time_period", not_blank=())
    column("time_identifier", isin=list(TIME_IDENTIFIERS))
    column("geographic_level", isin=[LOCAL_AUTHORITY])
    column("new_la_code", isin=sorted(ctx.known_new_codes))
    column("old_la_code", isin=sorted(ctx.known_old_codes))
    column("la_name", not_blank=())
    column("indicator_id", isin=indicator_ids)
    column("breakdown_topic", isin=topics)
    column("breakdown", not_blank=())
    for name in GEOGRAPHY_OPTIONAL:
        if name in columns:
            column(name, not_blank=())
    for name in MEASURE_COLUMNS:
        if name in columns:
            if name in ("value", "sd"):
                column(name, ees_number=())
            else:
                column(name, ees_count=())
    # The spreadsheet row number travels with the data (pandera ignores "_" attribute names,
    # so the field is declared under another name with the column as its alias).
    annotations["source_row"] = Series[np.int64]
    namespace["source_row"] = pa.Field(ge=1, alias=ROW_COLUMN)

    def rule(fn: Callable[[_Derived], pd.Series]) -> None:
        def check(cls: object, df: pd.DataFrame) -> pd.Series:
            return fn(derived(df))

        check.__name__ = fn.__name__
        namespace[fn.__name__] = pa.dataframe_check(check)

    for fn in _dataframe_rules(ctx, columns):
        rule(fn)

    namespace["__annotations__"] = annotations
    namespace["Config"] = type(
        "Config", (), {"strict": True, "coerce": False, "name": "upload", "ordered": False}
    )
    model = type("UploadModel", (pa.DataFrameModel,), namespace)
    model.derived = derived  # type: ignore[attr-defined]
    return model


# --------------------------------------------------------------------------- dataframe rules
# Each rule returns True where the row is fine. Its name is the rule id in the report; the
# RULES table below says which column it blames and how to word the message.


def _dataframe_rules(ctx: ValidationContext, columns: list[str]) -> list[Callable]:
    rules: list[Callable] = [
        time_period_form,
        la_code_valid_for_period,
        breakdown_topic_allowed,
        breakdown_value_allowed,
        duplicate_key,
        total_row_missing,
    ]
    if ctx.authority is not None:
        rules.append(la_matches_authority)
    for name in MEASURE_COLUMNS:
        rules.append(_required_rule(name))
    rules += [yes_no_value, numerator_within_denominator, value_agrees, negative_value]
    rules += [breakdown_sum]
    return rules


def time_period_form(d: _Derived) -> pd.Series:
    rows = pd.DataFrame(
        {"time_period": d.text("time_period"), "time_identifier": d.text("time_identifier")}
    )
    errors = rows.merge(d.periods, on=["time_period", "time_identifier"], how="left")["error"]
    # Unknown identifiers are reported by the time_identifier column check.
    known_ti = rows["time_identifier"].isin(list(TIME_IDENTIFIERS)).to_numpy()
    bad = errors.notna().to_numpy() & known_ti
    d.messages["time_period_form"] = pd.Series(errors.fillna("").to_numpy(), index=d.frame.index)
    return pd.Series(~bad, index=d.frame.index)


def la_code_valid_for_period(d: _Derived) -> pd.Series:
    v = d.__dict__.setdefault("_la", _la_validity(d))
    ok = v["status"].isin(["ok", "no_period"])
    d.messages["la_code_valid_for_period"] = v["msg"]
    return pd.Series(ok.to_numpy(), index=d.frame.index)


def la_matches_authority(d: _Derived) -> pd.Series:
    codes = d.ctx.authority_codes
    return d.text("new_la_code").isin(codes) | d.text("old_la_code").isin(codes)


def breakdown_topic_allowed(d: _Derived) -> pd.Series:
    pairs = pd.MultiIndex.from_arrays([d.text("indicator_id"), d.text("breakdown_topic")])
    allowed = pd.MultiIndex.from_tuples(sorted(d.ctx.allowed_pairs))
    ok = pairs.isin(allowed) | ~d.known_indicator.to_numpy()
    # Unknown topics are reported by the column check; here only known-but-not-allowed ones.
    ok |= ~d.text("breakdown_topic").isin(list(d.ctx.topic_values)).to_numpy()
    return pd.Series(ok, index=d.frame.index)


def breakdown_value_allowed(d: _Derived) -> pd.Series:
    topic, value = d.text("breakdown_topic"), d.text("breakdown")
    ok = pd.Series(True, index=d.frame.index)
    for t, values in d.ctx.topic_values.items():
        rows = topic == t
        ok &= ~rows | value.isin(values) | (value == TOTAL)
    return ok & ~((topic == TOTAL) & (value != TOTAL))


def _key(d: _Derived) -> pd.DataFrame:
    return pd.DataFrame({c: d.text(c) for c in KEY_COLUMNS}, index=d.frame.index)


def duplicate_key(d: _Derived) -> pd.Series:
    return ~_key(d).duplicated(keep="first")


def total_row_missing(d: _Derived) -> pd.Series:
    """Every (period, LA, indicator) with breakdown rows must also have its Total row."""
    group = ["time_period", "time_identifier", "new_la_code", "indicator_id"]
    k = _key(d)
    is_total = (k.breakdown_topic == TOTAL) & (k.breakdown == TOTAL)
    has_total = is_total.groupby([k[c] for c in group]).transform("any")
    return has_total | is_total


def _required_rule(column: str) -> Callable[[_Derived], pd.Series]:
    def rule(d: _Derived) -> pd.Series:
        needed = d.info[f"req_{column}"].fillna(False).astype(bool)
        return ~needed | d.present(column)

    rule.__name__ = f"{column}_required"
    return rule


def yes_no_value(d: _Derived) -> pd.Series:
    if "value" not in d.frame:
        return pd.Series(True, index=d.frame.index)
    yes_no = (d.info["value_kind"] == "yes_no").fillna(False).to_numpy(dtype=bool)
    text = d.text("value").str.lower()
    good = text.isin(["yes", "no", ""]) | checks.is_symbol(d.frame["value"])
    numeric_kind = ~yes_no & text.isin(["yes", "no"])
    return (~pd.Series(yes_no, index=d.frame.index) | good) & ~numeric_kind


def _pair(d: _Derived) -> tuple[pd.Series, pd.Series]:
    """Each row's (numerator-like, denominator-like) numbers per its measure type."""
    num = pd.Series(np.nan, index=d.frame.index)
    den = pd.Series(np.nan, index=d.frame.index)
    for col in ("numerator",):
        rows = d.info["value_numerator"] == col
        num = num.where(~rows, d.number(col))
    for col in ("denominator", "respondents"):
        rows = d.info["value_denominator"] == col
        den = den.where(~rows, d.number(col))
    return num, den


def numerator_within_denominator(d: _Derived) -> pd.Series:
    num, den = _pair(d)
    return ~(num > den)


def value_agrees(d: _Derived) -> pd.Series:
    """A supplied percentage or rate agrees with numerator / denominator x scale."""
    num, den = _pair(d)
    value = d.number("value")
    scale = d.info["value_scale"].astype("float64")
    expected = num / den * scale
    text = d.text("value") if "value" in d.frame else pd.Series("", index=d.frame.index)
    places = text.str.split(".").str[1].str.len().fillna(0).astype("float64")
    tolerance = np.maximum(0.5 * 10.0 ** (-places), 0.05) + 1e-9
    checkable = value.notna() & expected.notna() & (den > 0)
    return ~checkable | ((value - expected).abs() <= tolerance)


def negative_value(d: _Derived) -> pd.Series:
    value = d.number("value")
    negative_ok = d.info["negative_ok"].fillna(False).astype(bool)
    return ~(value < 0) | negative_ok


def breakdown_sum(d: _Derived) -> pd.Series:
    """Where every category of an additive breakdown is present, counts sum to the Total row."""
    k = _key(d)
    ok = pd.Series(True, index=d.frame.index)
    messages = pd.Series("", index=d.frame.index, dtype="str")
    group = ["time_period", "time_identifier", "new_la_code", "indicator_id"]
    is_total = (k.breakdown_topic == TOTAL) & (k.breakdown == TOTAL)
    for topic, dim in d.ctx.catalogue.breakdowns.items():
        if not dim.additive:
            continue
        in_topic = (k.breakdown_topic == topic) & k.breakdown.isin(dim.values)
        if not in_topic.any():
            continue
        for column in ("numerator", "denominator", "respondents", "n"):
            if column not in d.frame:
                continue
            counts_col = d.info["counts"].map(
                lambda c, col=column: isinstance(c, tuple) and col in c
            )
            numbers = d.number(column)
            cats = pd.DataFrame(
                {**{c: k[c] for c in group}, "x": numbers, "breakdown": k.breakdown}
            )[in_topic & counts_col.astype(bool)]
            if cats.empty:
                continue
            summary = cats.groupby(group, observed=True).agg(
                total=("x", "sum"), n_cat=("breakdown", "nunique"), n_num=("x", "count")
            )
            complete = summary[
                (summary.n_cat == len(dim.values)) & (summary.n_num == summary.n_cat)
            ]
            if complete.empty:
                continue
            totals = pd.DataFrame({**{c: k[c] for c in group}, "x": numbers})[is_total]
            joined = totals.reset_index().merge(complete.reset_index(), on=group, how="inner")
            bad = joined[(joined.x - joined.total).abs() > 1e-9]
            if bad.empty:
                continue
            index = bad["index"].to_numpy()
            ok.loc[index] = False
            messages.loc[index] = [
                f"the {dim.label.lower()} categories' {column} add up to {_fmt(t)} but the "
                f"Total row has {_fmt(x)}"
                for t, x in zip(bad.total, bad.x, strict=True)
            ]
    d.messages["breakdown_sum"] = messages
    return ok


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# --------------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Rule:
    column: str | Callable[[pd.DataFrame], pd.Series] | None
    message: str


def _blame_measure(col: str) -> Rule:
    return Rule(col, f"{col} is required for this indicator's measure type")


RULES: dict[str, Rule] = {
    "time_period_form": Rule(
        "time_period", "time_period does not have the form its time_identifier needs"
    ),
    "la_code_valid_for_period": Rule(
        "new_la_code", "local authority code not valid for the period"
    ),
    "la_matches_authority": Rule(
        "new_la_code", "row is for a different local authority than the one uploading"
    ),
    "breakdown_topic_allowed": Rule(
        "breakdown_topic", "this breakdown is not allowed for the indicator"
    ),
    "breakdown_value_allowed": Rule("breakdown", "not a category of this breakdown_topic"),
    "duplicate_key": Rule(
        "indicator_id", "duplicate row: the same period, LA, indicator and breakdown appear earlier"
    ),
    "total_row_missing": Rule(
        "breakdown",
        "breakdown rows need the indicator's Total row (breakdown_topic Total, breakdown Total)",
    ),
    "yes_no_value": Rule(
        "value", "value must be yes or no for yes/no indicators, and a number for all others"
    ),
    "numerator_within_denominator": Rule("numerator", "numerator is larger than its denominator"),
    "value_agrees": Rule("value", "value does not agree with numerator / denominator"),
    "negative_value": Rule("value", "value cannot be negative for this measure type"),
    "breakdown_sum": Rule("numerator", "breakdown categories do not add up to the Total row"),
    **{f"{c}_required": _blame_measure(c) for c in MEASURE_COLUMNS},
}

COLUMN_CHECK_MESSAGES: dict[str, str] = {
    "isin": "is not one of the allowed values",
    "not_blank": "must not be blank",
    "ees_count": "must be a whole number of 0 or more (or an EES symbol: c, x, z, u, low)",
    "ees_number": "must be a number (or an EES symbol: c, x, z, u, low)",
    "greater_than_or_equal_to": "is out of range",
}


def _column_message(ctx: ValidationContext, column: str, check: str, value: str) -> tuple[str, str]:
    """(rule id, plain-English message) for a failed column check."""
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
        digits = value.strip().split(".")[0]
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
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None and number < 0:
            return "count_negative", f"{column} is a count and cannot be negative"
        if number is not None and not math.isnan(number):
            return "count_not_integer", f"{column} is a count of people and must be a whole number"
        return "count_invalid", f"{column} {COLUMN_CHECK_MESSAGES['ees_count']}"
    if name == "ees_number":
        return "number_invalid", f"{column} {COLUMN_CHECK_MESSAGES['ees_number']}"
    return name, f"{column} {COLUMN_CHECK_MESSAGES.get(name, 'fails ' + check)}"


def _problems_from(
    errors: pa.errors.SchemaErrors, frame: pd.DataFrame, ctx: ValidationContext, derived: _Derived
) -> list[Problem]:
    fc = errors.failure_cases
    problems: list[Problem] = []
    rows = frame[ROW_COLUMN]
    # Column checks: one failure per cell.
    col_fc = fc[fc.schema_context == "Column"]
    if not col_fc.empty:
        valid_index = col_fc["index"].notna()
        for (column, check), group in col_fc[valid_index].groupby(["column", "check"], sort=False):
            index = group["index"].astype("int64").to_numpy()
            values = frame[column].astype("str").to_numpy()[index]
            row_numbers = rows.to_numpy()[index]
            cache: dict[str, tuple[str, str]] = {}
            for value, row in zip(values, row_numbers, strict=True):
                if value not in cache:
                    cache[value] = _column_message(ctx, column, check, value)
                rule_id, message = cache[value]
                problems.append(Problem(rule_id, message, int(row), column, value))
    # Dataframe checks: pandera lists each failing row once per column; keep one per row.
    df_fc = fc[(fc.schema_context == "DataFrameSchema") & fc["index"].notna()]
    if not df_fc.empty:
        df_fc = df_fc[df_fc.check.isin(list(RULES))]
        unique = df_fc.drop_duplicates(["check", "index"])
        for check, group in unique.groupby("check", sort=False):
            rule = RULES[check]
            index = group["index"].astype("int64").to_numpy()
            column = rule.column if isinstance(rule.column, str) else None
            values = (
                frame[column].astype("str").to_numpy()[index]
                if column and column in frame
                else [None] * len(index)
            )
            custom = derived.messages.get(check)
            specific = custom.to_numpy()[index] if custom is not None else [""] * len(index)
            detail = _details(check, frame, index, derived)
            for i, (value, row) in enumerate(zip(values, rows.to_numpy()[index], strict=True)):
                message = specific[i] or detail[i] or rule.message
                problems.append(Problem(check, message, int(row), column, value))
    # Anything pandera reports without a row (e.g. a dtype problem) is a file-level problem.
    other = fc[fc["index"].isna()]
    for record in other.itertuples(index=False):
        problems.append(
            Problem(
                str(record.check), f"{record.column}: {record.failure_case}", None, record.column
            )
        )
    return problems


def _details(check: str, frame: pd.DataFrame, index: np.ndarray, d: _Derived) -> list[str]:
    """Row-specific wording for rules where the numbers help the user."""
    if check == "numerator_within_denominator":
        num, den = _pair(d)
        info = d.info
        return [
            f"numerator {_fmt(n)} is larger than {info['value_denominator'].iloc[i]} {_fmt(m)}"
            for i, n, m in zip(index, num.to_numpy()[index], den.to_numpy()[index], strict=True)
        ]
    if check == "value_agrees":
        num, den = _pair(d)
        scale = d.info["value_scale"].to_numpy()[index]
        n, m = num.to_numpy()[index], den.to_numpy()[index]
        return [
            f"value should be about {a / b * s:.1f} ({_fmt(a)} / {_fmt(b)} x {int(s)})"
            for a, b, s in zip(n, m, scale, strict=True)
        ]
    if check == "duplicate_key":
        k = _key(d)
        first = (
            k[~k.duplicated(keep="first")]
            .reset_index()
            .merge(k.iloc[index].reset_index(), on=list(KEY_COLUMNS), suffixes=("_first", ""))
        )
        first_row = dict(
            zip(first["index"], frame[ROW_COLUMN].to_numpy()[first["index_first"]], strict=True)
        )
        return [
            f"duplicate of row {first_row.get(i, '?')}: same period, LA, indicator and breakdown"
            for i in index
        ]
    if check == "breakdown_topic_allowed":
        ids = d.text("indicator_id").to_numpy()[index]
        allowed = {
            i: ", ".join(["Total", *d.ctx.catalogue.indicators[i].breakdowns])
            for i in set(ids)
            if i in d.ctx.catalogue.indicators
        }
        return [f"{i} can be broken down by: {allowed.get(i, 'Total')}" for i in ids]
    if check == "breakdown_value_allowed":
        topics = d.text("breakdown_topic").to_numpy()[index]
        out = []
        for t in topics:
            values = d.ctx.catalogue.breakdowns.get(t)
            out.append(
                f"not a category of {t}; use Total or one of: {', '.join(values.values)}"
                if values
                else "for breakdown_topic Total the breakdown must be Total"
            )
        return out
    return [""] * len(index)


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


def _numeric_code(code: str) -> str:
    head, dot, tail = code.partition(".")
    return head if dot and head.isdigit() and tail.strip("0") == "" else code


def validate_frame(frame: pd.DataFrame, ctx: ValidationContext) -> list[Problem]:
    """Validate a frame of text cells (with ``_row``) whose header has already been checked."""
    for col in _CATEGORICAL:
        if col in frame and not isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype("category")
    if "old_la_code" in frame:
        # Spreadsheets turn the code 840 into the number 840.0; the code is still 840.
        codes = frame["old_la_code"]
        if any(_numeric_code(c) != c for c in codes.cat.categories):
            frame["old_la_code"] = codes.astype("str").map(_numeric_code).astype("category")
    model = build_upload_model(ctx, list(frame.columns))
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return _problems_from(errors, frame, ctx, model.derived(frame))  # type: ignore[attr-defined]
    return []


def validate_upload(
    data: bytes,
    filename: str,
    *,
    authority: str | None = None,
    catalogue: Catalogue | None = None,
    reference: ReferenceData | None = None,
    limits: FileLimits | None = None,
) -> ValidationReport:
    """Validate an upload's bytes; the report lists every problem found."""
    ctx = ValidationContext(
        catalogue=catalogue or load_catalogue(),
        reference=reference or load_reference(),
        authority=authority,
    )
    report = ValidationReport(filename=Path(filename).name, catalogue_version=ctx.catalogue.version)
    try:
        read = read_upload(data, filename, header_hint=frozenset(IDENTITY_COLUMNS), limits=limits)
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
    return validate_upload(path.read_bytes(), path.name, **kwargs)  # type: ignore[arg-type]


# EES symbols are documented with their meanings for the report and the format docs.
SYMBOL_MEANINGS = EES_SYMBOLS
