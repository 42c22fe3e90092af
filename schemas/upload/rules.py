"""Rules that need more than one cell: across columns of a row, or across rows.

Each rule is a function of :class:`RowFacts` returning a boolean array, True where the row is
fine. The rule's name is its id in the report, and :data:`RULES` says which column it blames
(the cell a user should look at) and its default wording; a rule can give row-specific wording
through ``facts.messages``.

Everything is vectorised over integer codes: identity columns arrive as pandas categoricals,
so comparisons, group ids and look-ups cost one pass over an int array, not over strings. The
1,000,000-row benchmark (docs/benchmarks.md) depends on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from schemas.periods import TIME_IDENTIFIERS, PeriodError, parse_period

from . import checks
from .columns import MEASURE_COLUMNS, TOTAL

if TYPE_CHECKING:
    from .validate import ValidationContext

__all__ = ["RULES", "RowFacts", "Rule", "rules_for"]

GROUP_COLUMNS = ("time_period", "time_identifier", "new_la_code", "indicator_id")
COUNT_COLUMNS = ("numerator", "denominator", "respondents", "n")


@dataclass
class RowFacts:
    """Per-row facts computed once per validation and shared by every rule."""

    frame: pd.DataFrame
    ctx: ValidationContext
    messages: dict[str, np.ndarray] = field(default_factory=dict)
    cache: dict[str, object] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.frame)

    def codes(self, column: str) -> np.ndarray:
        return self.frame[column].cat.codes.to_numpy()

    def categories(self, column: str) -> list[str]:
        return list(self.frame[column].cat.categories)

    def equals(self, column: str, value: str) -> np.ndarray:
        cats = self.categories(column)
        if value not in cats:
            return np.zeros(self.n, dtype=bool)
        return self.codes(column) == cats.index(value)

    def isin(self, column: str, values: object) -> np.ndarray:
        wanted = set(values)  # type: ignore[call-overload]
        per_cat = np.array([c in wanted for c in self.categories(column)] + [False])
        return per_cat[self.codes(column)]  # code -1 (missing) takes the trailing False

    def by_category(self, column: str, fn: Callable[[str], object], dtype: object) -> np.ndarray:
        """fn applied once per category, spread over the rows."""
        per_cat = np.array([fn(c) for c in self.categories(column)] + [fn("")], dtype=dtype)
        return per_cat[self.codes(column)]

    # ---------------------------------------------------------------------------- indicator info

    def info(self, name: str) -> np.ndarray:
        """A catalogue fact (``ValidationContext.indicators`` column) for each row.

        Looked up once per indicator category, then spread over the rows by code; rows with
        an unknown indicator get NaN (False for flags).
        """
        if name not in self._info:
            column = self._indicator_table[name]
            if self.ctx.indicators[name].dtype == bool:
                column = column.fillna(False).astype(bool)  # unknown indicators need nothing
            self._info[name] = column.to_numpy()[self.codes("indicator_id")]
        return self._info[name]

    @cached_property
    def _indicator_table(self) -> pd.DataFrame:
        # The extra last row answers for code -1 (a missing cell).
        return self.ctx.indicators.reindex([*self.categories("indicator_id"), ""])

    @cached_property
    def _info(self) -> dict[str, np.ndarray]:
        return {}

    @cached_property
    def known_indicator(self) -> np.ndarray:
        return pd.notna(self.info("measure_type"))

    def flag(self, name: str) -> np.ndarray:
        return np.asarray(self.info(name), dtype=bool)

    def code(self, name: str) -> np.ndarray:
        """An integer catalogue fact per row (0 for unknown indicators)."""
        return np.nan_to_num(np.asarray(self.info(name), dtype="float64")).astype(np.int8)

    # ----------------------------------------------------------------------------------- numbers

    def number(self, column: str) -> np.ndarray:
        if column not in self.frame:
            return np.full(self.n, np.nan)
        return self._numbers[column]

    @cached_property
    def _scans(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {c: checks.scan_numbers(self.frame[c]) for c in MEASURE_COLUMNS if c in self.frame}

    @cached_property
    def _numbers(self) -> dict[str, np.ndarray]:
        return {c: numbers for c, (numbers, _) in self._scans.items()}

    def present(self, column: str) -> np.ndarray:
        """The cell holds a number, an EES symbol or (for value) yes/no: it is not missing."""
        if column not in self._present:
            self._present[column] = self._compute_present(column)
        return self._present[column]

    @cached_property
    def _present(self) -> dict[str, np.ndarray]:
        return {}

    def _compute_present(self, column: str) -> np.ndarray:
        # Anything written counts as present: what is wrong with it is the cell check's report.
        if column not in self.frame:
            return np.zeros(self.n, dtype=bool)
        return ~checks.scan(self.frame[column]).blank

    @cached_property
    def yes_no_text(self) -> np.ndarray:
        if "value" not in self.frame:
            return np.zeros(self.n, dtype=bool)
        return checks.scan(self.frame["value"]).yes_no

    # ------------------------------------------------------------------------------------ groups

    def combo(self, *parts: str | np.ndarray) -> np.ndarray:
        """A dense id (0, 1, ...) per distinct combination of columns (or int arrays), in order
        of first appearance: mixed-radix codes, then one hash pass."""
        key = np.zeros(self.n, dtype=np.int64)
        for part in parts:
            codes = self.codes(part) if isinstance(part, str) else part
            codes = codes.astype(np.int64) + 1  # code -1 (missing) becomes 0
            key = key * (int(codes.max(initial=0)) + 1) + codes
        return pd.factorize(key)[0]

    def first_rows(self, combo: np.ndarray) -> np.ndarray:
        """The first row of each combination id, in id order."""
        return pd.Series(combo).drop_duplicates().index.to_numpy()

    @cached_property
    def group(self) -> np.ndarray:
        """An id per (period, LA, indicator): the unit whose rows belong together."""
        return self.combo(*GROUP_COLUMNS)

    @cached_property
    def n_groups(self) -> int:
        return int(self.group.max()) + 1 if self.n else 0

    @cached_property
    def is_total(self) -> np.ndarray:
        return self.equals("breakdown_topic", TOTAL) & self.equals("breakdown", TOTAL)

    def group_any(self, mask: np.ndarray) -> np.ndarray:
        """For each row, whether any row of its group has ``mask``."""
        hit = np.zeros(self.n_groups, dtype=bool)
        hit[self.group[mask]] = True
        return hit[self.group]

    @cached_property
    def cell(self) -> np.ndarray:
        """An id per (period, LA, indicator, breakdown): the upload's key."""
        return self.combo(self.group, "breakdown_topic", "breakdown")

    @cached_property
    def is_duplicate(self) -> np.ndarray:
        topic = self.codes("breakdown_topic").astype(np.int64) + 1
        value = self.codes("breakdown").astype(np.int64) + 1
        key = (self.group.astype(np.int64) * (int(topic.max(initial=0)) + 1) + topic) * (
            int(value.max(initial=0)) + 1
        ) + value
        return pd.Series(key).duplicated(keep="first").to_numpy()


# ------------------------------------------------------------------------------------------ rules


def time_period_form(f: RowFacts) -> np.ndarray:
    pairs = f.frame[["time_period", "time_identifier"]]
    combo = f.combo("time_period", "time_identifier")
    order = pairs.iloc[f.first_rows(combo)]
    messages = {}
    for tp, ti in order.itertuples(index=False):
        if ti not in TIME_IDENTIFIERS or not str(tp).strip():
            continue  # reported by the time_identifier and time_period column checks
        try:
            parse_period(str(tp), str(ti))
        except PeriodError as exc:
            messages[(tp, ti)] = str(exc)
    if not messages:
        return np.ones(f.n, dtype=bool)
    per_combo = np.array(
        [messages.get((tp, ti), "") for tp, ti in order.itertuples(index=False)], dtype=object
    )
    text = per_combo[combo]
    f.messages["time_period_form"] = text
    return text == ""


@dataclass(frozen=True)
class _PeriodCodes:
    """The LA codes valid for one period, indexed for look-up."""

    canonical: dict[str, tuple[str, str]]  # new code -> (old code, name)
    aliases: dict[str, tuple[str, str]]  # superseded new code -> (replacement, name)
    old_codes: frozenset[str]

    @classmethod
    def of(cls, valid: pd.DataFrame) -> _PeriodCodes:
        canonical = valid[valid.alias_of.isna()]
        alias = valid[valid.alias_of.notna()]
        return cls(
            canonical=dict(
                zip(
                    canonical.new_la_code,
                    zip(canonical.old_la_code, canonical.la_name, strict=True),
                    strict=True,
                )
            ),
            aliases=dict(
                zip(alias.new_la_code, zip(alias.alias_of, alias.la_name, strict=True), strict=True)
            ),
            old_codes=frozenset(canonical.old_la_code.dropna()),
        )


def _la_statuses(f: RowFacts) -> tuple[np.ndarray, np.ndarray]:
    """(ok, message) per row: the LA codes are valid for the row's period."""
    cols = ["time_period", "time_identifier", "old_la_code", "new_la_code"]
    keys = f.frame[cols]
    combo = f.combo(*cols)
    periods: dict[tuple[str, str], _PeriodCodes | None] = {}
    status, texts = [], []
    for tp, ti, old, new in keys.iloc[f.first_rows(combo)].itertuples(index=False):
        if new not in f.ctx.known_new_codes or old not in f.ctx.known_old_codes:
            status.append(True)  # an unknown code is reported by its column check
            texts.append("")
            continue
        if (tp, ti) not in periods:
            valid = f.ctx.codes_for_period(str(tp), str(ti))
            periods[(tp, ti)] = None if valid is None else _PeriodCodes.of(valid)
        ok, message = _la_status(periods[(tp, ti)], tp, ti, old, new)
        status.append(ok)
        texts.append(message)
    return np.array(status, dtype=bool)[combo], np.array(texts, dtype=object)[combo]


def _la_status(
    codes: _PeriodCodes | None, tp: str, ti: str, old: str, new: str
) -> tuple[bool, str]:
    if codes is None or not (old and new):
        return True, ""  # a wrong period or a blank code is reported by its own check
    if new not in codes.canonical and new in codes.aliases:
        replacement, name = codes.aliases[new]
        return False, (
            f"{new} was replaced by {replacement} for {name}; use {replacement} for {ti} {tp}"
        )
    if new not in codes.canonical:
        return False, f"{new} is not a local authority code in use for {ti} {tp}"
    if old not in codes.old_codes:
        return False, f"{old} is not a local authority number in use for {ti} {tp}"
    expected = codes.canonical[new][0]
    if old != expected:
        return False, f"old_la_code {old} does not match new_la_code {new} (expected {expected})"
    return True, ""


def la_code_valid_for_period(f: RowFacts) -> np.ndarray:
    ok, messages = _la_statuses(f)
    f.messages["la_code_valid_for_period"] = messages
    return ok


def la_matches_authority(f: RowFacts) -> np.ndarray:
    codes = f.ctx.authority_codes
    return f.isin("new_la_code", codes) | f.isin("old_la_code", codes)


def breakdown_topic_allowed(f: RowFacts) -> np.ndarray:
    allowed = f.ctx.allowed_pairs
    topics = f.categories("breakdown_topic")
    ids = f.categories("indicator_id")
    table = np.array(
        [[(i, t) in allowed or t not in f.ctx.topic_values for t in topics] for i in ids]
        + [[True] * len(topics)],
        dtype=bool,
    ).reshape(len(ids) + 1, len(topics))
    ok = table[f.codes("indicator_id"), f.codes("breakdown_topic")]
    return ok | ~f.known_indicator


def breakdown_value_allowed(f: RowFacts) -> np.ndarray:
    topics = f.categories("breakdown_topic")
    values = f.categories("breakdown")
    table = np.array(
        [
            [t not in f.ctx.topic_values or v in f.ctx.topic_values[t] for v in values]
            for t in topics
        ],
        dtype=bool,
    ).reshape(len(topics), len(values))
    ok = table[f.codes("breakdown_topic"), f.codes("breakdown")]
    return ok & ~(f.equals("breakdown_topic", TOTAL) & ~f.equals("breakdown", TOTAL))


def duplicate_key(f: RowFacts) -> np.ndarray:
    return ~f.is_duplicate


def total_row_missing(f: RowFacts) -> np.ndarray:
    """Every (period, LA, indicator) with breakdown rows must also have its Total row."""
    return f.group_any(f.is_total) | f.is_total | ~f.known_indicator


def required_breakdown_missing(f: RowFacts) -> np.ndarray:
    """Distribution indicators need their category rows (e.g. More / Same / Fewer)."""
    ok = np.ones(f.n, dtype=bool)
    messages = np.full(f.n, "", dtype=object)
    for ind in f.ctx.catalogue.indicators.values():
        if not ind.required_breakdowns:
            continue
        rows = f.equals("indicator_id", ind.id)
        if not rows.any():
            continue
        for topic in ind.required_breakdowns:
            has = f.group_any(rows & f.equals("breakdown_topic", topic))
            bad = rows & f.is_total & ~has
            ok &= ~bad
            dim = f.ctx.catalogue.breakdowns[topic]
            messages[bad] = (
                f"{ind.id} needs a row for each {dim.label.lower()} category "
                f"({', '.join(dim.values)}) besides its Total"
            )
    f.messages["required_breakdown_missing"] = messages
    return ok


def region_matches_la(f: RowFacts) -> np.ndarray:
    """region_code / region_name, when the file has them, are the LA's region."""
    present = [c for c in ("region_code", "region_name") if c in f.frame]
    if not present:
        return np.ones(f.n, dtype=bool)
    regions = f.ctx.la_regions
    ok = np.ones(f.n, dtype=bool)
    messages = np.full(f.n, "", dtype=object)
    for position, column in enumerate(("region_code", "region_name")):
        if column not in f.frame:
            continue
        # Decide once per distinct (LA, region) pair, then spread over the rows.
        combo = f.combo("new_la_code", column)
        first = f.first_rows(combo)
        las = f.frame["new_la_code"].iloc[first].tolist()
        written = f.frame[column].iloc[first].tolist()
        verdicts = []
        for la, region in zip(las, written, strict=True):
            wanted = regions.get(str(la), ("", ""))[position]
            # Blank cells are the not_blank check's to report.
            wrong = bool(wanted) and bool(str(region)) and str(region) != wanted
            verdicts.append(f"{region} is not the LA's {column} ({wanted})" if wrong else "")
        texts = np.array(verdicts, dtype=object)[combo]
        bad = texts != ""
        ok &= ~bad
        both = bad & (messages != "")
        messages[both] = messages[both] + "; " + texts[both]
        messages[bad & ~both] = texts[bad & ~both]
    f.messages["region_matches_la"] = messages
    return ok


def country_is_england(f: RowFacts) -> np.ndarray:
    ok = np.ones(f.n, dtype=bool)
    if "country_code" in f.frame:
        ok &= f.isin("country_code", {"E92000001", ""})
    if "country_name" in f.frame:
        ok &= f.isin("country_name", {"England", ""})
    return ok


def _required(column: str) -> Callable[[RowFacts], np.ndarray]:
    def rule(f: RowFacts) -> np.ndarray:
        return ~f.flag(f"req_{column}") | f.present(column)

    rule.__name__ = f"{column}_required"
    return rule


def yes_no_value(f: RowFacts) -> np.ndarray:
    if "value" not in f.frame:
        return np.ones(f.n, dtype=bool)
    is_yes_no = f.flag("is_yes_no")
    number = ~np.isnan(f.number("value"))
    # yes/no indicators need yes or no (or a symbol, or blank: value_required reports that);
    # every other indicator needs a number, never yes/no.
    # Unknown indicators have no measure type: indicator_unknown is their only problem.
    return np.where(is_yes_no, ~number, ~f.yes_no_text) | ~f.known_indicator


def pair(f: RowFacts) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (numerator, denominator-like) numbers, per its measure type."""
    num = np.where(f.code("num_code") == 1, f.number("numerator"), np.nan)
    den_code = f.code("den_code")
    den = np.where(
        den_code == 1,
        f.number("denominator"),
        np.where(den_code == 2, f.number("respondents"), np.nan),
    )
    return num, den


def numerator_within_denominator(f: RowFacts) -> np.ndarray:
    num, den = pair(f)
    return ~(num > den)


def value_agrees(f: RowFacts) -> np.ndarray:
    """A supplied percentage or rate agrees with numerator / denominator x scale, to the
    precision the value is written with (33 agrees with 1/3; 33.3 too; 33.9 does not)."""
    num, den = pair(f)
    value = f.number("value")
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = num / den * f.info("value_scale").astype("float64")
    checkable = ~np.isnan(value) & ~np.isnan(expected) & (den > 0)
    if not checkable.any():
        return np.ones(f.n, dtype=bool)
    places = checks.decimal_places(f.frame["value"])
    tolerance = np.maximum(0.5 * 10.0 ** (-places), 0.05) + 1e-9
    return ~checkable | (np.abs(value - expected) <= tolerance)


def negative_value(f: RowFacts) -> np.ndarray:
    return ~(f.number("value") < 0) | f.flag("negative_ok")


def _breakdown_sums(f: RowFacts) -> dict[str, np.ndarray]:
    """Where every category of an additive breakdown is present, the counts the measure type
    uses sum exactly to the Total row's. In a distribution's own categories (More / Same /
    Fewer) each row's denominator is the whole cohort, so only numerators are summed there."""
    oks = {c: np.ones(f.n, dtype=bool) for c in COUNT_COLUMNS}
    topics = f.categories("breakdown_topic")
    topic_codes = f.codes("breakdown_topic")
    dims = {
        i: f.ctx.catalogue.breakdowns[t]
        for i, t in enumerate(topics)
        if t in f.ctx.catalogue.breakdowns and f.ctx.catalogue.breakdowns[t].additive
    }
    if not dims:
        return oks
    size = np.zeros(len(topics) + 1, dtype=np.int64)
    for i, dim in dims.items():
        size[i] = len(dim.values)
    in_dim = (size[topic_codes] > 0) & ~f.is_duplicate & breakdown_value_allowed(f)
    in_dim &= ~f.equals("breakdown", TOTAL)
    own_category = _own_category(f)
    total_index = np.full(f.n_groups, -1, dtype=np.int64)
    totals = np.flatnonzero(f.is_total & ~f.is_duplicate)
    total_index[f.group[totals]] = totals
    n_topics = len(topics) + 1
    for column in COUNT_COLUMNS:
        if column not in f.frame:
            continue
        x = f.number(column)
        rows = in_dim & f.flag(f"count_{column}")
        if column == "denominator":
            rows &= ~own_category
        if not rows.any():
            continue
        ok = oks[column]
        messages = np.full(f.n, "", dtype=object)
        f.messages[f"breakdown_sum:{column}"] = messages
        # One bucket per (group, topic): sums and counts by bincount, no sorting.
        bucket = f.group[rows].astype(np.int64) * n_topics + topic_codes[rows]
        size_all = f.n_groups * n_topics
        sums = np.bincount(bucket, weights=np.nan_to_num(x[rows]), minlength=size_all)
        n_rows = np.bincount(bucket, minlength=size_all)
        n_numbers = np.bincount(bucket, weights=~np.isnan(x[rows]), minlength=size_all)
        used = np.flatnonzero(n_rows)
        g, t = used // n_topics, used % n_topics
        complete = (n_rows[used] == size[t]) & (n_numbers[used] == size[t])
        target = total_index[g]
        complete &= target >= 0
        target_x = np.where(target >= 0, x[np.maximum(target, 0)], np.nan)
        diff = np.abs(sums[used] - target_x)
        mismatch = complete & ~np.isnan(target_x) & (diff > 1e-9)
        for ti, total, tx, row in zip(
            t[mismatch], sums[used][mismatch], target_x[mismatch], target[mismatch], strict=True
        ):
            ok[row] = False
            label = dims[int(ti)].label.lower()
            text = (
                f"the {label} categories' {column} add up to {_fmt(total)} but Total has {_fmt(tx)}"
            )
            messages[row] = f"{messages[row]}; {text}" if messages[row] else text
    _cohort_denominators(f, own_category, total_index, oks["denominator"])
    return oks


def _cohort_denominators(
    f: RowFacts, own_category: np.ndarray, total_index: np.ndarray, ok: np.ndarray
) -> None:
    """In a distribution's own categories every row's denominator is the whole cohort."""
    if "denominator" not in f.frame or not own_category.any():
        return
    rows = np.flatnonzero(own_category & ~f.is_duplicate)
    target = total_index[f.group[rows]]
    rows, target = rows[target >= 0], target[target >= 0]
    x = f.number("denominator")
    bad = ~np.isnan(x[rows]) & ~np.isnan(x[target]) & (x[rows] != x[target])
    messages = f.messages.setdefault("breakdown_sum:denominator", np.full(f.n, "", dtype=object))
    for row, total in zip(rows[bad], x[target][bad], strict=True):
        ok[row] = False
        messages[row] = (
            f"in a distribution every category's denominator is the whole cohort: the Total "
            f"row has {_fmt(total)}"
        )


def _breakdown_sum(column: str) -> Callable[[RowFacts], np.ndarray]:
    def rule(f: RowFacts) -> np.ndarray:
        if "sums" not in f.cache:
            f.cache["sums"] = _breakdown_sums(f)
        return f.cache["sums"][column]

    rule.__name__ = "breakdown_sum"
    rule.blame = column  # type: ignore[attr-defined]
    return rule


def _own_category(f: RowFacts) -> np.ndarray:
    """Rows in a change distribution's own categories (its required breakdowns)."""
    pairs = {
        (ind.id, t)
        for ind in f.ctx.catalogue.indicators.values()
        if ind.measure_type == "change_distribution"
        for t in ind.required_breakdowns
    }
    if not pairs:
        return np.zeros(f.n, dtype=bool)
    ids, topics = f.categories("indicator_id"), f.categories("breakdown_topic")
    table = np.array(
        [[(i, t) in pairs for t in topics] + [False] for i in ids] + [[False] * (len(topics) + 1)]
    )
    return table[f.codes("indicator_id"), f.codes("breakdown_topic")]


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# ------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Rule:
    column: str
    message: str


def _blame_measure(column: str) -> Rule:
    return Rule(column, f"{column} is required for this indicator's measure type")


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
        "indicator_id",
        "duplicate row: the same period, LA, indicator and breakdown appear earlier",
    ),
    "total_row_missing": Rule(
        "breakdown",
        "breakdown rows need the indicator's Total row (breakdown_topic Total, breakdown Total)",
    ),
    "required_breakdown_missing": Rule(
        "indicator_id", "this indicator needs its category rows besides the Total"
    ),
    "yes_no_value": Rule(
        "value", "value must be yes or no for yes/no indicators, and a number for all others"
    ),
    "numerator_within_denominator": Rule("numerator", "numerator is larger than its denominator"),
    "value_agrees": Rule("value", "value does not agree with numerator / denominator"),
    "negative_value": Rule("value", "value cannot be negative for this measure type"),
    "breakdown_sum": Rule("numerator", "breakdown categories do not add up to the Total row"),
    "region_matches_la": Rule("region_code", "region does not match the local authority's"),
    "country_is_england": Rule(
        "country_code", "the exchange holds English LAs: country_code E92000001, England"
    ),
    **{f"{c}_required": _blame_measure(c) for c in MEASURE_COLUMNS},
}


def rules_for(ctx: ValidationContext) -> list[Callable[[RowFacts], np.ndarray]]:
    """The rules to run, in report order."""
    rules: list[Callable[[RowFacts], np.ndarray]] = [
        time_period_form,
        la_code_valid_for_period,
        breakdown_topic_allowed,
        breakdown_value_allowed,
        duplicate_key,
        total_row_missing,
        required_breakdown_missing,
    ]
    if ctx.authority is not None:
        rules.append(la_matches_authority)
    rules += [_required(c) for c in MEASURE_COLUMNS]
    rules += [yes_no_value, numerator_within_denominator, value_agrees, negative_value]
    rules += [_breakdown_sum(c) for c in COUNT_COLUMNS]
    if ctx.reference is not None:
        rules += [region_matches_la, country_is_england]
    return rules


def details(check: str, f: RowFacts, index: np.ndarray, column: str = "") -> list[str]:
    """Row-specific wording for rules where the numbers help the user."""
    for key in (f"{check}:{column}", check):
        if key in f.messages:
            return list(f.messages[key][index])
    if check == "numerator_within_denominator":
        num, den = pair(f)
        names = f.info("value_denominator")[index]
        return [
            f"numerator {_fmt(a)} is larger than {name} {_fmt(b)}"
            for a, b, name in zip(num[index], den[index], names, strict=True)
        ]
    if check == "value_agrees":
        num, den = pair(f)
        scale = f.info("value_scale")[index]
        return [
            f"value should be about {a / b * s:.1f} ({_fmt(a)} / {_fmt(b)} x {int(s)})"
            for a, b, s in zip(num[index], den[index], scale, strict=True)
        ]
    if check == "duplicate_key":
        first_of_cell = f.first_rows(f.cell)
        first_rows = f.frame["_row"].to_numpy()[first_of_cell[f.cell[index]]]
        return [
            f"duplicate of row {r}: same period, LA, indicator and breakdown" for r in first_rows
        ]
    if check == "breakdown_topic_allowed":
        ids = f.frame["indicator_id"].to_numpy()[index]
        return [
            f"{i} can be broken down by: "
            + ", ".join([TOTAL, *f.ctx.catalogue.indicators[i].breakdowns])
            for i in ids
        ]
    if check == "breakdown_value_allowed":
        out = []
        for t in f.frame["breakdown_topic"].to_numpy()[index]:
            dim = f.ctx.catalogue.breakdowns.get(t)
            out.append(
                f"not a category of {t}; use one of: {', '.join(dim.values)}"
                if dim
                else "for breakdown_topic Total the breakdown must be Total"
            )
        return out
    return [""] * len(index)
