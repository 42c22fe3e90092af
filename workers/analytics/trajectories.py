"""Improvement-stage trajectories: trends, the stage of an improvement journey, and what next.

Seed section 4.5.7 (La Valle et al., 2019, "Supporting performance improvement"): the framework's
indicators let an authority on an improvement journey monitor its progress; "in the early stages
one would expect improvements in the right organisational conditions and culture indicators
outlined in table 2, while improvements in child outcomes outlined in table 5 will require
considerably more time"; authorities may "compare themselves with authorities that are at a
similar stage in their journey or … look at the trajectory of others that are further ahead";
and the journey "could also result in statistical anomalies" (more child protection plans or
entries into care as assessment improves, a temporary rise in staff turnover as skills change).

Method
------
*Trend.* Per LA x indicator x breakdown cell, over its periods (reporting years; the slope is
per year), two slopes with intervals:

- the Theil–Sen slope (Theil 1950; Sen 1968): the median of the slopes between every pair of
  points, with Sen's distribution-free interval (Sen 1968, eq. 2.6: the order statistics of the
  pairwise slopes either side of the median, ``(N ∓ z·σ)/2``, where ``σ²`` is the variance of
  Kendall's S with tie corrections). This is exactly what :func:`scipy.stats.theilslopes`
  computes, but scipy takes one series at a time; here every series is done at once on padded
  ``(series, point, point)`` arrays, which is cheap for the short series of annual returns
  (10 periods → 45 pairs) and equal to scipy's result (tested);
- the ordinary least squares slope with its t interval (``b ± t(n-2)·se``), shown beside it
  because it is the figure most readers know.

The *direction* is read from the Theil–Sen interval, which is robust to one odd year (a
changed recording practice, a small cohort): when the interval contains 0 there is "no clear
change"; otherwise the movement is judged by the indicator's polarity ("improving" /
"declining"), and context-dependent indicators are only described ("rising" / "falling"),
never judged. A series needs :data:`MIN_TREND_POINTS` points to be read at all.

*Months since the start.* A journey starts on a date (e.g. the date of the Ofsted judgement
that triggered it). A reporting year ``P`` runs from 1 April ``P-1`` to 31 March ``P``
(:mod:`schemas.periods`), so a period is placed at its end: the months since the start of
period ``P`` are the complete calendar months from the start date to 31 March ``P`` (negative
before the start). :func:`months_between` is that count.

*Stage.* For each LA on a journey, each domain's indicators (Tables 2–5 of the framework) are
trended from the baseline (the reporting year that ended in the :data:`BASELINE_MONTHS` before
the start) to the period the stage is read at; a domain has *improved* when at least
:data:`IMPROVED_SHARE` of its polarity-judged indicators with a readable trend are improving
(at least :data:`MIN_INDICATORS_WITH_DATA` have one, and more improve than decline). The
stage is the furthest step of the framework's expected order with an improved domain
(:data:`STAGE_LABELS`): conditions and culture (Table 2), then reaching and involving families
(Tables 3–4), then child outcomes (Table 5); ``in_expected_order`` says whether every earlier
step has improved as well. The stage is a *reading aid* for an authority and its peers, not a
judgement of the authority: it depends on which indicators an LA returns, and it is published
with its evidence (which indicators were read, and which way each moved).

*Aligned trajectories.* Values re-indexed on months (and complete years) since each LA's start,
so an LA sees LAs at a similar stage (:func:`peers_at_stage`) and the later trajectories of
LAs further ahead (:func:`what_next`), summarised per offset bin as a median over other LAs
under the comparison disclosure rule (:data:`privacy.groups.MIN_CONTRIBUTORS`).

*Expected anomalies.* :func:`expected_anomalies` annotates the movement of context-dependent
indicators during a journey as "expected for the stage" instead of reading it as decline
(rule in its docstring and :data:`EXPECTED_MOVES`).

References: H. Theil, "A rank-invariant method of linear and polynomial regression analysis",
Nederl. Akad. Wetensch. Proc. 53 (1950); P. K. Sen, "Estimates of the regression coefficient
based on Kendall's tau", JASA 63 (1968) 1379–1389; I. La Valle et al., "Improving children's
social care services: an outcomes framework" (2019), section 4.5.7.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import DataFrame, Series
from scipy import stats

from privacy.groups import MIN_CONTRIBUTORS
from workers.analytics.meta import (
    CONTEXT_DEPENDENT,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    POLARITIES,
    TOTAL,
    IndicatorMeta,
    ValueFrame,
)

__all__ = [
    "BASELINE_MONTHS",
    "CONFIDENCE",
    "DIRECTIONS",
    "EXPECTED_MOVES",
    "EXPECTED_UNTIL_STAGE",
    "IMPROVED_SHARE",
    "JUDGEMENTS",
    "MIN_INDICATORS_WITH_DATA",
    "MIN_TREND_POINTS",
    "STAGE_LABELS",
    "STAGE_OF_TABLE",
    "Aligned",
    "Anomalies",
    "DomainReadings",
    "Evidence",
    "ImprovementStage",
    "Journeys",
    "OfstedJudgements",
    "Peers",
    "Stages",
    "Trends",
    "WhatNext",
    "aligned_trajectories",
    "expected_anomalies",
    "improvement_stage",
    "months_between",
    "peers_at_stage",
    "period_end",
    "trends",
    "what_next",
]

SERIES = ["la_code", "indicator_id", "breakdown_topic", "breakdown"]
"""The columns that identify one series (its periods are the points of a trend)."""

CONFIDENCE = 0.95
"""Coverage of the slope intervals (Theil–Sen and OLS) unless a caller asks for another."""

MIN_TREND_POINTS = 3
"""A trend is read (given a direction) only from at least this many periods. With two points
Sen's interval collapses to the single pairwise slope, so any wobble would read as a change;
from three points on the interval spans the pairwise slopes."""

IMPROVING, DECLINING = "improving", "declining"
RISING, FALLING = "rising", "falling"
NO_CLEAR_CHANGE, TOO_FEW_POINTS = "no clear change", "too few points"
DIRECTIONS = (IMPROVING, DECLINING, RISING, FALLING, NO_CLEAR_CHANGE, TOO_FEW_POINTS)
"""``direction`` of a trend: judged by polarity ("improving"/"declining"), described only for
context-dependent indicators ("rising"/"falling"), "no clear change" when the Theil–Sen interval
contains 0, "too few points" below :data:`MIN_TREND_POINTS`."""

BASELINE_MONTHS = 12
"""A trend *since the start* of a journey uses the periods ending less than this many months
before the start date: the baseline year (the reporting year that ended in the 12 months up to
the start, i.e. the last one before the journey or the one it began in) and every later one."""

IMPROVED_SHARE = 0.5
"""A domain has improved when at least this share of its polarity-judged indicators with a
readable trend since the start are improving, and more of them improve than decline (so one
improving and one declining indicator out of two is not an improvement)."""

MIN_INDICATORS_WITH_DATA = 2
"""…and at least this many such indicators: one indicator alone is not a reading of a domain
(seed 4.5.1: no single data item captures the complexity of the service)."""

STAGE_OF_TABLE = {2: 1, 3: 2, 4: 2, 5: 3}
"""The framework's expected order of improvement (seed 4.5.7): conditions and culture (Table 2)
first, reaching and involving families (Tables 3 and 4) next, child outcomes (Table 5) last."""

STAGE_LABELS = {
    0: "0 – early / not yet improving",
    1: "1 – building the right conditions",
    2: "2 – reaching and involving families",
    3: "3 – improving outcomes",
}
"""The stage label of each step of :data:`STAGE_OF_TABLE` (0: no domain has improved yet)."""

JUDGEMENTS = ("Outstanding", "Good", "Requires improvement to be good", "Inadequate")
"""Ofsted's overall effectiveness grades for local authority children's services (ILACS)."""

EXPECTED_MOVES: dict[str, str] = {
    # "low staff turnover would normally be seen as desirable, [but] if staff with a different
    # set of skills are required to improve practice this would result in a (temporary)
    # increase in staff turnover" (seed 4.5.7).
    "t2_staff_turnover": RISING,
    # "an authority that has recently improved the quality of their assessments may see an
    # increase in children on child protection plans" (seed 4.5.7), including children whose
    # earlier plans ended too soon (catalogue polarity note).
    "t3_repeat_cp_plans": RISING,
    # "while de-escalation of plans would usually be regarded as a positive outcome", better
    # assessment identifies more children who need a higher level of support (seed 4.5.7), so
    # fewer plans are de-escalated for a time (catalogue polarity note).
    "t3_deescalated_no_return": FALLING,
}
"""The direction in which an indicator is expected to move during an improvement journey, for
the indicators seed 4.5.7 names (their catalogue polarity notes cite that section). Other
context-dependent indicators have no expected direction: any clear movement is expected."""

EXPECTED_UNTIL_STAGE = 3
"""The movements of :data:`EXPECTED_MOVES` are expected while a journey has not reached this
stage ("3 – improving outcomes"): they come from changed practice (better assessment, a changing
workforce), which the framework expects before child outcomes improve."""

EXPECTED = "expected for the stage"
IN_CONTEXT = "read in context"
DECLINE = "decline"
ANNOTATIONS = (EXPECTED, IN_CONTEXT, DECLINE, "")
"""``annotation`` of :func:`expected_anomalies`."""


# --- frame models ----------------------------------------------------------------------------


class Journeys(pa.DataFrameModel):
    """One row per LA on an improvement journey: its current journey.

    ``start_date``: when the journey started (e.g. the date of the judgement that triggered it);
    ``trigger``: e.g. "Ofsted inadequate 2021"; ``focus_areas``: free text.
    """

    la_code: Series[str] = pa.Field(unique=True)
    start_date: Series[pa.DateTime]
    trigger: Series[str]
    focus_areas: Series[str]

    class Config:
        strict = "filter"
        coerce = True


class OfstedJudgements(pa.DataFrameModel):
    """Ofsted judgement history (context beside the stage): one row per LA and inspection."""

    la_code: Series[str]
    date: Series[pa.DateTime]
    judgement: Series[str] = pa.Field(isin=list(JUDGEMENTS))

    class Config:
        strict = "filter"
        coerce = True


class Trends(pa.DataFrameModel):
    """One row per series: slopes per year with their intervals, and the direction."""

    la_code: Series[str]
    indicator_id: Series[str]
    breakdown_topic: Series[str]
    breakdown: Series[str]
    polarity: Series[str] = pa.Field(isin=list(POLARITIES))
    n_points: Series[int] = pa.Field(ge=1)
    first_period: Series[str]
    last_period: Series[str]
    ts_slope: Series[float] = pa.Field(nullable=True)
    ts_low: Series[float] = pa.Field(nullable=True)
    ts_high: Series[float] = pa.Field(nullable=True)
    ols_slope: Series[float] = pa.Field(nullable=True)
    ols_low: Series[float] = pa.Field(nullable=True)
    ols_high: Series[float] = pa.Field(nullable=True)
    movement: Series[str] = pa.Field(isin=[RISING, FALLING, NO_CLEAR_CHANGE, TOO_FEW_POINTS])
    direction: Series[str] = pa.Field(isin=list(DIRECTIONS))

    class Config:
        coerce = True


class Evidence(Trends):
    """The trends since the start behind a stage: :class:`Trends` plus the domain they read.

    ``counted``: the trend enters its domain's share (a polarity-judged indicator with at least
    :data:`MIN_TREND_POINTS` points); ``supports``: it is improving.
    """

    domain: Series[str]
    table: Series[int]
    counted: Series[bool]
    supports: Series[bool]


class Stages(pa.DataFrameModel):
    """One row per LA on a journey: where it is, read at ``as_of_period``."""

    la_code: Series[str] = pa.Field(unique=True)
    start_date: Series[pa.DateTime]
    trigger: Series[str]
    focus_areas: Series[str]
    as_of_period: Series[str]
    months_since_start: Series[int] = pa.Field(ge=0)
    years_since_start: Series[int] = pa.Field(ge=0)
    stage: Series[int] = pa.Field(isin=list(STAGE_LABELS))
    stage_label: Series[str] = pa.Field(isin=list(STAGE_LABELS.values()))
    in_expected_order: Series[bool]
    improved_domains: Series[str]
    latest_judgement: Series[str] = pa.Field(nullable=True)
    latest_judgement_date: Series[pa.DateTime] = pa.Field(nullable=True)

    class Config:
        coerce = True


class DomainReadings(pa.DataFrameModel):
    """One row per journey LA x domain: how many of its indicators improved since the start."""

    la_code: Series[str]
    domain: Series[str]
    table: Series[int]
    n_indicators: Series[int] = pa.Field(ge=0)
    n_with_data: Series[int] = pa.Field(ge=0)
    n_improving: Series[int] = pa.Field(ge=0)
    n_declining: Series[int] = pa.Field(ge=0)
    share_improving: Series[float] = pa.Field(nullable=True, ge=0, le=1)
    improved: Series[bool]

    class Config:
        coerce = True


class Aligned(pa.DataFrameModel):
    """Values placed on months (and complete years) since each LA's journey started."""

    la_code: Series[str]
    indicator_id: Series[str]
    breakdown_topic: Series[str]
    breakdown: Series[str]
    period: Series[str]
    value: Series[float]
    months_since_start: Series[int]
    years_since_start: Series[int]
    polarity: Series[str]
    table: Series[int]
    domain: Series[str]

    class Config:
        coerce = True


class Peers(Stages):
    """Stages of LAs within a window of an LA's months since start; ``months_difference`` is
    theirs minus the LA's (positive: further ahead)."""

    months_difference: Series[int]


class WhatNext(pa.DataFrameModel):
    """Per offset bin beyond an LA's current months: other LAs' later values, summarised.

    ``n_las``/``median_value``: LAs with a value in the bin and its median; ``n_change`` /
    ``median_change``: LAs with a value both in the bin and at the viewer's current months
    (their latest value up to it), and the median of the difference. Each median is blank
    when fewer than :data:`privacy.groups.MIN_CONTRIBUTORS` LAs contribute to it.
    """

    indicator_id: Series[str]
    offset_from_months: Series[int]
    offset_to_months: Series[int]
    n_las: Series[int] = pa.Field(ge=0)
    median_value: Series[float] = pa.Field(nullable=True)
    n_change: Series[int] = pa.Field(ge=0)
    median_change: Series[float] = pa.Field(nullable=True)

    class Config:
        coerce = True


class Anomalies(pa.DataFrameModel):
    """Each trend of a journey LA with its annotation (see :func:`expected_anomalies`)."""

    la_code: Series[str]
    indicator_id: Series[str]
    breakdown_topic: Series[str]
    breakdown: Series[str]
    polarity: Series[str]
    direction: Series[str]
    stage: Series[int]
    expected_direction: Series[str]
    annotation: Series[str] = pa.Field(isin=list(ANNOTATIONS))

    class Config:
        coerce = True


class ImprovementStage(NamedTuple):
    """The result of :func:`improvement_stage`."""

    stages: DataFrame[Stages]
    domains: DataFrame[DomainReadings]
    evidence: DataFrame[Evidence]


# --- dates -----------------------------------------------------------------------------------


def period_end(periods: pd.Series) -> pd.Series:
    """The last day of each reporting year ``P`` ("2025" → 31 March 2025; schemas.periods)."""
    codes, uniques = pd.factorize(periods)  # ~10 distinct periods: convert each once
    ends = pd.to_datetime([f"{int(p)}-03-31" for p in uniques])
    return pd.Series(ends[codes], index=periods.index, name="period_end")


def months_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Complete calendar months from ``start`` to ``end`` (floored, so negative before it).

    E.g. 15 Nov 2021 → 31 Mar 2022 is 4 (15 Mar is 4 months on and 31 Mar is not yet 15 Apr);
    1 Apr 2022 → 31 Mar 2022 is -1.
    """
    start, end = pd.to_datetime(start), pd.to_datetime(end)
    months = (end.dt.year - start.dt.year) * 12 + (end.dt.month - start.dt.month)
    # A month is complete when the day of the month has come round again.
    months = months - (end.dt.day < start.dt.day).astype("int64")
    return months.astype("int64")


# --- trends ----------------------------------------------------------------------------------


def _sen_tie_term(a: np.ndarray) -> np.ndarray:
    """Per row, ``Σ k(k-1)(2k+5)`` over groups of k tied values (Sen 1968 eq. 2.6); NaN = absent.

    Each member of a group of k contributes ``(k-1)(2k+5)``, so the group contributes
    ``k(k-1)(2k+5)``; counting, for every value, how many values equal it needs no sort.
    """
    k = (a[:, :, None] == a[:, None, :]).sum(axis=2)  # NaN equals nothing, so k = 0 there
    return np.where(k >= 2, (k - 1) * (2 * k + 5), 0).sum(axis=1)


def _theil_sen(x: np.ndarray, y: np.ndarray, confidence: float) -> tuple[np.ndarray, ...]:
    """Row-wise :func:`scipy.stats.theilslopes` (slope, low, high) of NaN-padded ``x``, ``y``.

    Follows scipy step by step (same pairs, same order statistics, same rounding) so the results
    are equal, not merely close.
    """
    rows, m = y.shape
    dx = x[:, :, None] - x[:, None, :]
    dy = y[:, :, None] - y[:, None, :]
    pair = dx > 0  # scipy keeps the pairs with x_i > x_j; padding (NaN) compares False
    slopes = np.where(pair, dy / np.where(pair, dx, 1.0), np.nan).reshape(rows, m * m)
    slopes.sort(axis=1)  # NaN last, so the N pairwise slopes come first
    nt = pair.sum(axis=(1, 2))
    has = nt > 0
    last = np.maximum(nt - 1, 0)

    def order_stat(i: np.ndarray) -> np.ndarray:
        return np.take_along_axis(slopes, np.clip(i, 0, None)[:, None], axis=1)[:, 0]

    # The median of the N slopes: the middle one, or the mean of the middle two.
    median = (order_stat((nt - 1) // 2) + order_stat(nt // 2)) / 2
    median = np.where(has, median, np.nan)

    alpha = 1.0 - confidence if confidence > 0.5 else confidence  # as scipy reads ``alpha``
    z = stats.norm.ppf(alpha / 2.0)
    n = np.isfinite(y).sum(axis=1)
    ties = _sen_tie_term(x) + _sen_tie_term(y)
    sigsq = 1 / 18.0 * (n * (n - 1) * (2 * n + 5) - ties)
    with np.errstate(invalid="ignore"):
        sigma = np.sqrt(sigsq)
    ok = has & np.isfinite(sigma)
    sigma = np.where(ok, sigma, 0.0)
    upper = np.minimum(np.round((nt - z * sigma) / 2.0).astype(np.int64), last)
    lower = np.maximum(np.round((nt + z * sigma) / 2.0).astype(np.int64) - 1, 0)
    low = np.where(ok, order_stat(lower), np.nan)
    high = np.where(ok, order_stat(upper), np.nan)
    return median, low, high


def _ols(x: np.ndarray, y: np.ndarray, confidence: float) -> tuple[np.ndarray, ...]:
    """Row-wise least squares slope of NaN-padded ``x``, ``y`` and its t interval.

    ``b = Sxy / Sxx``, ``se = sqrt(SSE / (n-2) / Sxx)``, interval ``b ± t(1-α/2, n-2)·se``;
    no interval below 3 points (no residual degrees of freedom).
    """
    n = np.isfinite(y).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = np.nansum(x, axis=1) / n
        ym = np.nansum(y, axis=1) / n
        xc, yc = x - xm[:, None], y - ym[:, None]
        sxx = np.nansum(xc * xc, axis=1)
        slope = np.nansum(xc * yc, axis=1) / sxx
        sse = np.nansum((yc - slope[:, None] * xc) ** 2, axis=1)
        df = n - 2
        se = np.sqrt(sse / np.where(df > 0, df, np.nan) / sxx)
        t = stats.t.ppf(0.5 + confidence / 2.0, np.where(df > 0, df, np.nan))
    slope = np.where(n >= 2, slope, np.nan)
    return slope, slope - t * se, slope + t * se


def _padded(values: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The series of ``values`` (non-missing values only) as NaN-padded year/value arrays.

    Returns the first row of each series (its key), and ``(series, point)`` arrays of the years
    and values in period order.
    """
    v = values.loc[values["value"].notna(), [*SERIES, "period", "value"]]
    gid = v.groupby(SERIES, sort=False).ngroup().to_numpy()
    codes, uniques = pd.factorize(v["period"])
    year = np.asarray(uniques, dtype=np.int64)[codes]
    order = np.lexsort((year, gid))
    gid, year = gid[order], year[order]
    value = v["value"].to_numpy(np.float64)[order]
    if len(gid) and ((np.diff(gid) == 0) & (np.diff(year) == 0)).any():
        raise ValueError("values has more than one row for an LA x indicator x period x cell")
    new = np.r_[True, np.diff(gid) != 0] if len(gid) else np.zeros(0, bool)
    starts = np.flatnonzero(new)
    counts = np.diff(np.r_[starts, len(gid)])
    pos = np.arange(len(gid)) - np.repeat(starts, counts)
    width = int(counts.max()) if len(counts) else 0
    x = np.full((len(starts), width), np.nan)
    y = np.full((len(starts), width), np.nan)
    x[np.repeat(np.arange(len(starts)), counts), pos] = year
    y[np.repeat(np.arange(len(starts)), counts), pos] = value
    first = v.iloc[order[starts]][SERIES].reset_index(drop=True)
    first["n_points"] = counts
    first["first_period"] = year[starts].astype(str)
    first["last_period"] = year[starts + counts - 1].astype(str)
    return first, x, y


BLOCK_PAIRS = 2_000_000
"""Pairwise cells (series x points²) per block of the Theil–Sen arrays: bounds memory to a few
tens of MB per array however many series (10 periods: 20,000 series per block)."""


def _trends(values: pd.DataFrame, meta: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """:func:`trends` without the frame validation (for callers that already validated)."""
    out, x, y = _padded(values)
    block_rows = max(1, BLOCK_PAIRS // max(x.shape[1] ** 2, 1))
    parts = [
        np.column_stack(
            _theil_sen(x[i : i + block_rows], y[i : i + block_rows], confidence)
            + _ols(x[i : i + block_rows], y[i : i + block_rows], confidence)
        )
        for i in range(0, len(out), block_rows)
    ]
    cols = ["ts_slope", "ts_low", "ts_high", "ols_slope", "ols_low", "ols_high"]
    block = np.vstack(parts) if parts else np.zeros((0, len(cols)))
    for j, col in enumerate(cols):
        out[col] = block[:, j]

    polarity = out["indicator_id"].map(meta.set_index("indicator_id")["polarity"])
    if polarity.isna().any():
        unknown = sorted(out.loc[polarity.isna(), "indicator_id"].unique())
        raise ValueError(f"indicators not in meta: {unknown[:5]}")
    out.insert(4, "polarity", polarity.astype(str))

    low, high = out["ts_low"].to_numpy(), out["ts_high"].to_numpy()
    readable = out["n_points"].to_numpy() >= MIN_TREND_POINTS
    movement = np.select(
        [~readable, low > 0, high < 0], [TOO_FEW_POINTS, RISING, FALLING], NO_CLEAR_CHANGE
    )
    pol = out["polarity"].to_numpy()
    higher, lower = pol == HIGHER_IS_BETTER, pol == LOWER_IS_BETTER
    up_good = higher & (movement == RISING) | lower & (movement == FALLING)
    down_bad = higher & (movement == FALLING) | lower & (movement == RISING)
    out["movement"] = movement
    out["direction"] = np.select([up_good, down_bad], [IMPROVING, DECLINING], movement)
    return out


def _totals(values: pd.DataFrame, include_breakdowns: bool) -> pd.DataFrame:
    if include_breakdowns:
        return values
    return values.loc[(values["breakdown_topic"] == TOTAL) & (values["breakdown"] == TOTAL)]


@pa.check_types
def trends(
    values: DataFrame[ValueFrame],
    meta: DataFrame[IndicatorMeta],
    *,
    include_breakdowns: bool = False,
    confidence: float = CONFIDENCE,
) -> DataFrame[Trends]:
    """Per LA x indicator (x breakdown cell when ``include_breakdowns``) over all its periods:
    Theil–Sen and least squares slopes per year with ``confidence`` intervals, and the direction
    (module docstring). Missing values (NaN) are not points. Totals only by default."""
    return _trends(_totals(values, include_breakdowns), meta, confidence)


# --- the stage of a journey ------------------------------------------------------------------


def _with_start(values: pd.DataFrame, journeys: pd.DataFrame) -> pd.DataFrame:
    """``values`` of journey LAs with months and complete years since the LA's start."""
    v = values.merge(journeys[["la_code", "start_date"]], on="la_code", how="inner")
    months = months_between(v["start_date"], period_end(v["period"]))
    return v.assign(months_since_start=months, years_since_start=months // 12)


def _domain_readings(evidence: pd.DataFrame, journeys: pd.DataFrame, meta: pd.DataFrame):
    """Per journey LA x domain of ``meta``: indicators read, improving, declining; improved?"""
    judged = meta["polarity"] != CONTEXT_DEPENDENT
    domains = (
        meta.assign(judged=judged)
        .groupby(["domain", "table"], as_index=False, sort=False)["judged"]
        .sum()
        .rename(columns={"judged": "n_indicators"})
    )
    grid = journeys[["la_code"]].merge(domains, how="cross")
    counted = evidence.loc[evidence["counted"]]
    tally = counted.assign(
        n_improving=counted["direction"] == IMPROVING,
        n_declining=counted["direction"] == DECLINING,
    ).groupby(["la_code", "domain"], as_index=False, sort=False)
    tally = tally.agg(
        n_with_data=("counted", "sum"),
        n_improving=("n_improving", "sum"),
        n_declining=("n_declining", "sum"),
    )
    out = grid.merge(tally, on=["la_code", "domain"], how="left")
    for col in ("n_with_data", "n_improving", "n_declining"):
        out[col] = out[col].fillna(0).astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = out["n_improving"] / out["n_with_data"].where(out["n_with_data"] > 0)
    out["share_improving"] = share
    out["improved"] = (
        (out["n_with_data"] >= MIN_INDICATORS_WITH_DATA)
        & (share >= IMPROVED_SHARE)
        & (out["n_improving"] > out["n_declining"])
    )
    out = out.sort_values(["la_code", "table"], kind="stable").reset_index(drop=True)
    return out


def _stage(domains: pd.DataFrame) -> pd.DataFrame:
    """Per LA: the furthest step with an improved domain, and whether every earlier step has."""
    step = domains["table"].map(STAGE_OF_TABLE)
    reached = (
        domains.assign(step=step)
        .pivot_table(index="la_code", columns="step", values="improved", aggfunc="max")
        .reindex(columns=sorted(STAGE_LABELS)[1:], fill_value=False)
        .fillna(False)
        .astype(bool)
    )
    levels = reached.to_numpy()
    stage = np.where(levels.any(axis=1), levels.shape[1] - np.argmax(levels[:, ::-1], axis=1), 0)
    leading = np.cumprod(levels, axis=1).sum(axis=1)  # steps reached in order from the first
    improved = domains.loc[domains["improved"]].groupby("la_code", sort=False)["domain"]
    names = improved.agg(", ".join)
    return pd.DataFrame(
        {
            "la_code": reached.index,
            "stage": stage,
            "in_expected_order": leading == stage,
            "improved_domains": names.reindex(reached.index).fillna("").to_numpy(),
        }
    )


def _latest_judgement(stages: pd.DataFrame, ofsted: pd.DataFrame | None, as_of: pd.Timestamp):
    """Each LA's latest Ofsted judgement on or before ``as_of`` (blank when none)."""
    if ofsted is None or ofsted.empty:
        return stages.assign(latest_judgement=None, latest_judgement_date=pd.NaT)
    known = ofsted.loc[ofsted["date"] <= as_of].sort_values("date", kind="stable")
    latest = known.groupby("la_code", sort=False).tail(1)
    latest = latest.rename(
        columns={"judgement": "latest_judgement", "date": "latest_judgement_date"}
    )
    return stages.merge(latest, on="la_code", how="left")


@pa.check_types
def improvement_stage(
    journeys: DataFrame[Journeys],
    values: DataFrame[ValueFrame],
    meta: DataFrame[IndicatorMeta],
    as_of_period: str,
    ofsted: DataFrame[OfstedJudgements] | None = None,
    *,
    confidence: float = CONFIDENCE,
) -> ImprovementStage:
    """Each journey LA's stage read at the end of ``as_of_period``, with its evidence.

    Totals only, periods up to ``as_of_period``; trends run from the baseline year (see
    :data:`BASELINE_MONTHS`). Journeys that start after ``as_of_period`` ends are left out.
    ``values``: an LA's stage is about itself, so pass each LA's own (raw) values.
    A reading aid, not a judgement: see the module docstring.
    """
    as_of = pd.Timestamp(f"{int(as_of_period)}-03-31")
    months = months_between(journeys["start_date"], pd.Series(as_of, index=journeys.index))
    j = journeys.assign(months_since_start=months).loc[months >= 0].reset_index(drop=True)

    v = _totals(values, include_breakdowns=False)
    v = v.loc[v["period"].astype(int) <= int(as_of_period)]
    v = _with_start(v, j)
    v = v.loc[v["months_since_start"] > -BASELINE_MONTHS]
    tr = _trends(v, meta, confidence)

    evidence = tr.merge(meta[["indicator_id", "domain", "table"]], on="indicator_id", how="left")
    evidence["counted"] = (evidence["polarity"] != CONTEXT_DEPENDENT) & (
        evidence["n_points"] >= MIN_TREND_POINTS
    )
    evidence["supports"] = evidence["direction"] == IMPROVING
    evidence = evidence.sort_values(["la_code", "table", "indicator_id"], kind="stable")

    domains = _domain_readings(evidence, j, meta)
    stages = j.merge(_stage(domains), on="la_code", how="left")
    stages["as_of_period"] = str(as_of_period)
    stages["years_since_start"] = stages["months_since_start"] // 12
    stages["stage_label"] = stages["stage"].map(STAGE_LABELS)
    stages = _latest_judgement(stages, ofsted, as_of)
    return ImprovementStage(
        stages=Stages.validate(stages[list(Stages.to_schema().columns)]),
        domains=DomainReadings.validate(domains[list(DomainReadings.to_schema().columns)]),
        evidence=Evidence.validate(evidence.reset_index(drop=True)),
    )


# --- aligned trajectories --------------------------------------------------------------------


@pa.check_types
def aligned_trajectories(
    journeys: DataFrame[Journeys],
    values: DataFrame[ValueFrame],
    meta: DataFrame[IndicatorMeta],
    *,
    include_breakdowns: bool = False,
) -> DataFrame[Aligned]:
    """The values of journey LAs placed on months (and complete years) since their start.

    Periods before the start are kept (negative months: the run-up). Missing values are
    dropped. For comparisons between LAs pass *protected* values: other LAs read this frame.
    """
    v = _totals(values, include_breakdowns)
    v = _with_start(v.loc[v["value"].notna()], journeys)
    v = v.merge(meta[["indicator_id", "polarity", "table", "domain"]], on="indicator_id")
    cols = list(Aligned.to_schema().columns)
    return v[cols].sort_values([*SERIES, "period"], kind="stable").reset_index(drop=True)


@pa.check_types
def peers_at_stage(
    stage_frame: DataFrame[Stages], la_code: str, window_months: int
) -> DataFrame[Peers]:
    """The other LAs whose months since the start are within ``window_months`` of ``la_code``'s,
    nearest first."""
    mine = stage_frame.loc[stage_frame["la_code"] == la_code, "months_since_start"]
    if mine.empty:
        raise ValueError(f"{la_code} has no improvement journey in the stage frame")
    diff = stage_frame["months_since_start"] - int(mine.iloc[0])
    near = (diff.abs() <= window_months) & (stage_frame["la_code"] != la_code)
    peers = stage_frame.assign(months_difference=diff).loc[near]
    order = peers["months_difference"].abs().sort_values(kind="stable").index
    return peers.loc[order].reset_index(drop=True)


@pa.check_types
def what_next(
    aligned: DataFrame[Aligned],
    la_code: str,
    indicator_id: str,
    *,
    bin_months: int = 12,
    breakdown_topic: str = TOTAL,
    breakdown: str = TOTAL,
    current_months: int | None = None,
) -> DataFrame[WhatNext]:
    """The later trajectories of LAs further ahead than ``la_code`` on ``indicator_id``.

    The LA's *current months* are ``current_months`` (e.g. its stage's ``months_since_start``)
    or else its largest months since the start in ``aligned`` (its latest period, any
    indicator; pass ``current_months`` when ``aligned`` holds protected values, in which the
    LA's own latest values may be suppressed). Other LAs' values at later months are grouped
    in bins of ``bin_months`` months since the start (annual returns of LAs that started in
    different months never share an exact month, so the default bin is a year: ``[0, 11]``,
    ``[12, 23]`` …). Per bin each LA counts once (the mean of its values there), and the bin
    gets the median value and the median change from each LA's own value at the viewer's
    current months (its latest value up to them). A median is blank when fewer than
    ``MIN_CONTRIBUTORS`` other LAs contribute (privacy.groups; the viewer never contributes).
    """
    own = aligned.loc[aligned["la_code"] == la_code, "months_since_start"]
    if current_months is None and own.empty:
        raise ValueError(f"{la_code} has no aligned values")
    current = int(own.max()) if current_months is None else int(current_months)
    cell = (
        (aligned["indicator_id"] == indicator_id)
        & (aligned["breakdown_topic"] == breakdown_topic)
        & (aligned["breakdown"] == breakdown)
        & (aligned["la_code"] != la_code)
    )
    others = aligned.loc[cell, ["la_code", "months_since_start", "value"]]
    # Each other LA's value "at your stage": its latest value at or before the current months.
    before = others.loc[others["months_since_start"] <= current].sort_values("months_since_start")
    at_stage = before.groupby("la_code")["value"].last().rename("value_at_stage")

    later = others.loc[others["months_since_start"] > current]
    later = later.assign(bin=(later["months_since_start"] // bin_months) * bin_months)
    per_la = later.groupby(["bin", "la_code"], as_index=False)["value"].mean()
    per_la = per_la.merge(at_stage, on="la_code", how="left")
    per_la["change"] = per_la["value"] - per_la["value_at_stage"]
    out = per_la.groupby("bin", as_index=False).agg(
        n_las=("value", "count"),
        median_value=("value", "median"),
        n_change=("change", "count"),
        median_change=("change", "median"),
    )
    # The viewer is not among the contributors, so every contributor is an "other" LA.
    out["median_value"] = out["median_value"].where(out["n_las"] >= MIN_CONTRIBUTORS)
    out["median_change"] = out["median_change"].where(out["n_change"] >= MIN_CONTRIBUTORS)
    out.insert(0, "indicator_id", indicator_id)
    out.insert(1, "offset_from_months", out.pop("bin"))
    out.insert(2, "offset_to_months", out["offset_from_months"] + bin_months - 1)
    return out.astype({"n_las": "int64", "n_change": "int64"}).reset_index(drop=True)


# --- expected anomalies ----------------------------------------------------------------------


@pa.check_types
def expected_anomalies(
    trends: DataFrame[Trends],
    stages: DataFrame[Stages],
    meta: DataFrame[IndicatorMeta],
    expected: Mapping[str, str] | None = None,
) -> DataFrame[Anomalies]:
    """Annotate the trends of journey LAs: seed 4.5.7's "statistical anomalies" of improvement.

    Rule (per trend row of an LA in ``stages``; pass ``improvement_stage(...).evidence`` for the
    trends since each start):

    - "expected for the stage": the LA has not reached :data:`EXPECTED_UNTIL_STAGE` and the
      indicator moved clearly (its Theil–Sen interval excludes 0) in its expected direction
      (``expected``, default :data:`EXPECTED_MOVES`), or, for a context-dependent indicator
      with no expected direction, in either direction. A polarity-judged indicator listed in
      ``expected`` that declines in its expected direction is annotated this way too, rather
      than flagged;
    - "read in context": any other clear movement of a context-dependent indicator;
    - "decline": a polarity-judged indicator that is declining (and not expected);
    - "" otherwise.
    """
    expected = EXPECTED_MOVES if expected is None else expected
    t = trends.merge(stages[["la_code", "stage"]], on="la_code", how="inner")
    polarity = t["indicator_id"].map(meta.set_index("indicator_id")["polarity"])
    polarity = polarity.fillna(t["polarity"]).astype(str)
    expected_direction = t["indicator_id"].map(dict(expected)).fillna("")
    moved = t["movement"].isin([RISING, FALLING]).to_numpy()
    listed = (expected_direction != "").to_numpy()
    context = (polarity == CONTEXT_DEPENDENT).to_numpy()
    # A listed indicator must move its expected way; an unlisted context-dependent one may move
    # either way; an unlisted judged indicator is never "expected".
    in_direction = np.where(listed, t["movement"] == expected_direction, context)
    during = (t["stage"] < EXPECTED_UNTIL_STAGE).to_numpy()
    is_expected = moved & in_direction & during
    declining = (t["direction"] == DECLINING).to_numpy()
    annotation = np.select(
        [is_expected, context & moved, declining], [EXPECTED, IN_CONTEXT, DECLINE], ""
    )
    out = t.assign(polarity=polarity, expected_direction=expected_direction, annotation=annotation)
    return out[list(Anomalies.to_schema().columns)].reset_index(drop=True)
