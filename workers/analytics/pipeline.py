"""The whole comparison recompute, from values to what each LA is shown (seed 4.5.1, 4.5.6).

One pure function, :func:`run_comparisons`, chains the analytics modules:

1. :func:`workers.analytics.comparisons.compare` — rank, quartile band, change and group
   statistics (neighbours, region, alliances, England, custom and similar sets), each LA's
   own raw value among the others' protected values;
2. significance (:mod:`workers.analytics.intervals`) of the LA's value against England's
   published value and against its statistical-neighbour mean: the LA's own confidence
   interval (Wilson for percentages, Byar / exact Poisson for rates) against the comparator,
   judged better / worse / similar by polarity, and its funnel-plot position against England;
3. triangulation (:mod:`workers.analytics.triangulation`): per outcome, the judgements of its
   indicators against the neighbours read together.

Neighbour lists depend on the period (DfE's 2025 list from 2025, the 2021 list before), so
``groups`` carries a ``period_from``/``period_to`` range per group and the comparison runs once
per distinct set of groups. Only the viewer's own rows are ever returned with its raw value.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals
from pandera.config import config_context

from .comparisons import compare
from .intervals import funnel_significance, judge, significance, value_interval
from .meta import KEY, TOTAL, Groups, IndicatorMeta, ValueFrame
from .triangulation import outcome_readings

__all__ = ["Comparisons", "run_comparisons"]

NEIGHBOURS = "neighbours"
ENGLAND = "england"


class Comparisons(NamedTuple):
    per_la: pd.DataFrame
    per_group: pd.DataFrame
    outcomes: pd.DataFrame


def _significance(per_la: pd.DataFrame, counts: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """Adds ``lower``/``upper`` (95 % interval of the LA's value), ``vs_england``,
    ``vs_neighbours`` (better / worse / similar / not judged / "") and ``funnel``.
    ``counts``: the numerator and denominator behind each row of ``per_la``, row for row."""
    out = per_la.copy()
    out["numerator"] = counts["numerator"].to_numpy(float)
    out["denominator"] = counts["denominator"].to_numpy(float)
    info = meta.set_index("indicator_id")
    # Look each distinct indicator up once, then spread by code (mapping millions of strings
    # three times was a fifth of this step).
    code, ids = pd.factorize(out["indicator_id"])
    ids = pd.Index(np.asarray(ids, dtype=object))
    kind = ids.map(info["value_kind"]).fillna("number").to_numpy(object)[code]
    scale = ids.map(info["value_scale"]).astype(float).to_numpy()[code]
    polarity = ids.map(info["polarity"]).fillna("context_dependent").to_numpy(object)[code]
    num = out["numerator"].to_numpy(float)
    den = out["denominator"].to_numpy(float)
    lower, upper = value_interval(num, den, kind, scale, 0.95)
    value = out["value"].to_numpy(float)
    out["lower"], out["upper"] = lower, upper
    for column, comparator in (
        ("vs_england", out["england"].to_numpy(float)),
        ("vs_neighbours", out["neighbours_mean"].to_numpy(float)),
    ):
        direction = significance(value, lower, upper, comparator)
        out[column] = judge(direction, polarity)
    out["funnel"] = funnel_significance(value, den, out["england"].to_numpy(float), kind, scale)
    return out.drop(columns=["numerator", "denominator"])


def run_comparisons(
    raw: pd.DataFrame,
    protected: pd.DataFrame,
    england: pd.DataFrame,
    groups: pd.DataFrame,
    meta: pd.DataFrame,
) -> Comparisons:
    """Every LA's comparisons (see the module docstring).

    ``raw``/``protected``: ValueFrames (:mod:`workers.analytics.meta`); ``england``: England's
    published value per cell (``indicator_id``, ``period``, ``breakdown_topic``,
    ``breakdown``, ``england``); ``groups``: the Groups contract plus ``period_from`` and
    ``period_to`` (inclusive reporting years; a group applies to the periods in its range);
    ``meta``: IndicatorMeta.

    The inputs are validated here, once, against their contracts; the inner steps then run
    with pandera's validation switched off, since they only see slices of validated frames
    (validating millions of rows again at every step was a third of the time).
    """
    raw = ValueFrame.validate(raw)
    protected = ValueFrame.validate(protected)
    meta = IndicatorMeta.validate(meta)
    Groups.validate(groups.drop(columns=["period_from", "period_to"]))
    with config_context(validation_enabled=False):
        return _run(raw, protected, england, groups, meta)


def _run(
    raw: pd.DataFrame,
    protected: pd.DataFrame,
    england: pd.DataFrame,
    groups: pd.DataFrame,
    meta: pd.DataFrame,
) -> Comparisons:
    groups = _concerning(groups, raw["la_code"])
    ranges = groups[["period_from", "period_to"]].drop_duplicates()
    # Periods as integers once (converting millions of strings is slow; done per step it was
    # a fifth of the recompute).
    periods = _years(raw["period"])
    prot_periods = _years(protected["period"])
    group_from = groups["period_from"].astype(int).to_numpy()
    group_to = groups["period_to"].astype(int).to_numpy()
    parts_la: list[pd.DataFrame] = []
    parts_group: list[pd.DataFrame] = []
    sources: list[np.ndarray] = []
    starts = set(map(int, ranges["period_from"]))
    bounds = sorted(starts | {int(p) + 1 for p in ranges["period_to"]})
    for start, stop in itertools.pairwise(bounds):
        # The groups that apply to the whole of [start, stop).
        chosen = groups.loc[(group_from <= start) & (group_to >= stop - 1)]
        chosen = chosen.drop(columns=["period_from", "period_to"])
        in_raw = (periods >= start) & (periods < stop)
        if not in_raw.any() or chosen.empty:
            continue
        # The change from the previous period needs that period too: give compare one more
        # year of values and keep only this range's rows.
        with_previous = (periods >= start - 1) & (periods < stop)
        # Only the years the raw rows of this range need (theirs and each one's previous).
        years = np.unique(periods[in_raw])
        prot_rows = np.isin(prot_periods, np.union1d(years, years - 1))
        per_la, per_group = compare(
            raw.loc[with_previous].reset_index(drop=True),
            protected.loc[prot_rows].reset_index(drop=True),
            chosen.reset_index(drop=True),
            meta,
        )
        # compare keeps the row order of raw: remember which raw row each result row is.
        rows = np.flatnonzero(with_previous)
        keep = periods[rows] >= start
        parts_la.append(per_la.loc[keep])
        sources.append(rows[keep])
        parts_group.append(per_group.loc[np.isin(_years(per_group["period"]), years)])
    if not parts_la:
        raise ValueError("no groups apply to the periods of the raw values")
    per_la = pd.concat(parts_la, ignore_index=True)
    source = np.concatenate(sources)
    per_group = _concat_categorical(parts_group)
    cell = ["indicator_id", "period", "breakdown_topic", "breakdown"]
    left, right = _joint_codes(per_la, england, cell)
    per_la["england"] = (
        pd.Series(england["england"].to_numpy(float), index=right).reindex(left).to_numpy()
    )
    own = per_group.loc[per_group["group_type"].astype(str) == NEIGHBOURS]
    left, right = _joint_codes(per_la, own, KEY)
    for column, name in (
        ("n", "neighbours_n"),
        ("mean", "neighbours_mean"),
        ("median", "neighbours_median"),
    ):
        per_la[name] = pd.Series(own[column].to_numpy(), index=right).reindex(left).to_numpy()
    per_la["neighbours_n"] = per_la["neighbours_n"].fillna(0).astype("int64")
    counts = raw[["numerator", "denominator"]].iloc[source].reset_index(drop=True)
    per_la = _significance(per_la, counts, meta)
    judged = per_la.loc[per_la["breakdown_topic"] == TOTAL, [*KEY, "vs_neighbours"]].rename(
        columns={"vs_neighbours": "judgement"}
    )
    outcomes = outcome_readings(judged.reset_index(drop=True), meta)
    return Comparisons(per_la.reset_index(drop=True), per_group, outcomes)


def _concerning(groups: pd.DataFrame, viewers: pd.Series) -> pd.DataFrame:
    """The groups some viewer (an LA with raw rows) sees: its own per-LA groups and the shared
    groups it belongs to. A recompute for a few LAs then computes a few groups' statistics,
    not every LA's."""
    las = pd.unique(viewers.astype(str))
    owner = groups["owner"].astype(str)
    shared_seen = groups.loc[groups["la_code"].isin(las) & (owner == ""), "group_id"]
    keep = owner.isin(las) | ((owner == "") & groups["group_id"].isin(shared_seen))
    return groups if keep.all() else groups.loc[keep].reset_index(drop=True)


def _years(values: pd.Series) -> np.ndarray:
    """Reporting years as integers, converting each distinct value once."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        years = values.cat.categories.astype(int).to_numpy()
        return years[values.cat.codes.to_numpy()]
    codes, uniques = pd.factorize(values)
    return np.asarray(pd.Index(uniques).astype(int))[codes]


def _concat_categorical(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames whose key columns are categoricals with different categories,
    recoding (cheap) instead of falling back to strings (slow on millions of rows)."""
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    columns = {}
    for column in parts[0].columns:
        values = [p[column] for p in parts]
        if isinstance(values[0].dtype, pd.CategoricalDtype):
            columns[column] = union_categoricals([v.array for v in values])
        else:
            columns[column] = np.concatenate([v.to_numpy() for v in values])
    return pd.DataFrame(columns)


def _joint_codes(
    left: pd.DataFrame, right: pd.DataFrame, columns: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One int64 per row of each frame, equal exactly when the ``columns`` are: a fast join
    key for millions of rows (string merges are the slow part otherwise). Categorical columns
    are coded through their categories, never converted row by row."""
    key_left = np.zeros(len(left), np.int64)
    key_right = np.zeros(len(right), np.int64)
    for column in columns:
        a, a_values = _codes(left[column])
        b, b_values = _codes(right[column])
        joint, uniques = pd.factorize(pd.concat([a_values, b_values], ignore_index=True))
        a_joint, b_joint = joint[: len(a_values)], joint[len(a_values) :]
        key_left = key_left * (len(uniques) + 1) + np.where(a >= 0, a_joint[a], len(uniques))
        key_right = key_right * (len(uniques) + 1) + np.where(b >= 0, b_joint[b], len(uniques))
    if len(np.unique(key_right)) != len(key_right):
        raise ValueError(f"the right-hand frame repeats a key of {columns}")
    return key_left, key_right


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(code per row, the distinct values as strings) of a column."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(np.int64), pd.Series(values.cat.categories).astype(str)
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64), pd.Series(uniques).astype(str)


LONDON_SUBREGIONS = {"Inner London": "E13000001", "Outer London": "E13000002"}
"""London LAs are compared with their sub-region, as LAIT does (ONS codes)."""

FIRST_YEAR = 1900
LAST_YEAR = 2999
NEIGHBOUR_EDITION_FROM = {2021: (FIRST_YEAR, 2024), 2025: (2025, LAST_YEAR)}
"""Which reporting years each DfE statistical-neighbour list applies to
(:func:`schemas.reference.neighbour_edition_for_year`: the 2025 list from 2025, 2021 before)."""


def standard_groups(
    reference: object, la_codes: list[str], alliances: dict[str, list[str]] | None = None
) -> pd.DataFrame:
    """The comparison groups of LAIT and the exchange for ``la_codes`` (new GSS codes), with
    ``period_from``/``period_to``: each LA's statistical neighbours (per list edition), its
    region (Inner or Outer London for London LAs, as LAIT does), England, and each alliance
    (``{alliance code: member LA codes}``)."""
    codes = set(la_codes)
    rows: list[tuple[str, str, str, str, int, int]] = []
    for edition, (first, last) in NEIGHBOUR_EDITION_FROM.items():
        for la in sorted(codes):
            group = f"neighbours:{edition}:{la}"
            for n in reference.statistical_neighbours(la, edition):  # type: ignore[attr-defined]
                member = reference.la(n.old_la_code).new_la_code  # type: ignore[attr-defined]
                if member in codes and member != la:
                    rows.append((group, NEIGHBOURS, la, member, first, last))
    for la in sorted(codes):
        sub = reference.london_subregion(la)  # type: ignore[attr-defined]
        region = LONDON_SUBREGIONS[sub] if sub else reference.region_of(la)[0]  # type: ignore[attr-defined]
        rows.append((f"region:{region}", "region", "", la, FIRST_YEAR, LAST_YEAR))
        rows.append((ENGLAND, ENGLAND, "", la, FIRST_YEAR, LAST_YEAR))
    for code, members in sorted((alliances or {}).items()):
        for la in sorted(set(members) & codes):
            rows.append((f"alliance:{code}", "alliance", "", la, FIRST_YEAR, LAST_YEAR))
    columns = ["group_id", "group_type", "owner", "la_code", "period_from", "period_to"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.drop_duplicates(["group_id", "la_code", "period_from"]).reset_index(drop=True)
