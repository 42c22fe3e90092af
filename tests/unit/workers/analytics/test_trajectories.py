"""Improvement-stage trajectories (workers.analytics.trajectories; seed 4.5.7)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from privacy.groups import MIN_CONTRIBUTORS
from schemas.catalogue import load_catalogue
from workers.analytics.trajectories import (
    EXPECTED_MOVES,
    IMPROVED_SHARE,
    MIN_INDICATORS_WITH_DATA,
    MIN_TREND_POINTS,
    STAGE_LABELS,
    ImprovementStage,
    aligned_trajectories,
    expected_anomalies,
    improvement_stage,
    months_between,
    peers_at_stage,
    period_end,
    trends,
    what_next,
)

HIGHER, LOWER, CONTEXT = "higher_is_better", "lower_is_better", "context_dependent"
DOMAIN_OF_TABLE = {
    2: "conditions_culture",
    3: "reaching_families",
    4: "valued_involved",
    5: "child_outcomes",
}


# --- fixtures --------------------------------------------------------------------------------


def meta_frame(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    """IndicatorMeta rows from ``(indicator_id, polarity, table)``."""
    return pd.DataFrame(
        {
            "indicator_id": [r[0] for r in rows],
            "polarity": [r[1] for r in rows],
            "value_kind": "percentage",
            "value_scale": 100.0,
            "table": [r[2] for r in rows],
            "domain": [DOMAIN_OF_TABLE[r[2]] for r in rows],
            "outcome": 1,
        }
    )


def value_frame(series: dict[tuple[str, str], dict[int, float]], **cell: str) -> pd.DataFrame:
    """A ValueFrame from ``{(la, indicator): {year: value}}`` (Total cells unless ``cell``)."""
    rows = [
        (la, ind, str(year), value)
        for (la, ind), points in series.items()
        for year, value in points.items()
    ]
    frame = pd.DataFrame(rows, columns=["la_code", "indicator_id", "period", "value"])
    frame.insert(3, "breakdown_topic", cell.get("breakdown_topic", "Total"))
    frame.insert(4, "breakdown", cell.get("breakdown", "Total"))
    frame["numerator"] = np.nan
    frame["denominator"] = np.nan
    return frame


def journeys_frame(starts: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "la_code": list(starts),
            "start_date": pd.to_datetime(list(starts.values())),
            "trigger": "Ofsted inadequate",
            "focus_areas": "",
        }
    )


def one_trend(points: dict[int, float], polarity: str = HIGHER) -> pd.Series:
    meta = meta_frame([("i", polarity, 2)])
    out = trends(value_frame({("E06000001", "i"): points}), meta)
    assert len(out) == 1
    return out.iloc[0]


# --- Theil–Sen and OLS -----------------------------------------------------------------------


def test_trends_theil_sen_hand_computed() -> None:
    # Years 2020..2023, values 1, 3, 2, 5. Pairwise slopes (later minus earlier over the gap):
    # (3-1)/1=2, (2-1)/2=0.5, (5-1)/3=4/3, (2-3)/1=-1, (5-3)/2=1, (5-2)/1=3
    # sorted: -1, 0.5, 1, 4/3, 2, 3 -> median (1 + 4/3)/2 = 7/6.
    # Sen's interval: n=4, N=6 pairs, sigma^2 = 4*3*13/18 = 26/3, sigma = 2.944, z = -1.960,
    # upper index min(round((6 + 5.770)/2), 5) = min(6, 5) = 5 -> 3;
    # lower index max(round((6 - 5.770)/2) - 1, 0) = max(-1, 0) = 0 -> -1.
    row = one_trend({2020: 1.0, 2021: 3.0, 2022: 2.0, 2023: 5.0})
    assert row["ts_slope"] == pytest.approx(7 / 6)
    assert (row["ts_low"], row["ts_high"]) == (-1.0, 3.0)
    assert row["direction"] == "no clear change"  # the interval [-1, 3] contains 0
    assert (row["n_points"], row["first_period"], row["last_period"]) == (4, "2020", "2023")


def test_trends_ols_interval_hand_computed() -> None:
    # x centred: -1.5, -0.5, 0.5, 1.5 (Sxx = 5); y - mean(2.75): -1.75, 0.25, -0.75, 2.25.
    # Sxy = 2.625 - 0.125 - 0.375 + 3.375 = 5.5, slope b = 5.5/5 = 1.1.
    # Residuals: -0.1, 0.8, -1.3, 0.6 -> SSE = 0.01 + 0.64 + 1.69 + 0.36 = 2.7; s^2 = 2.7/2.
    # se = sqrt(1.35/5) = sqrt(0.27) = 0.519615; t(0.975, df 2) = 4.302653;
    # half-width 4.302653 * 0.519615 = 2.235724.
    row = one_trend({2020: 1.0, 2021: 3.0, 2022: 2.0, 2023: 5.0})
    assert row["ols_slope"] == pytest.approx(1.1)
    assert row["ols_low"] == pytest.approx(1.1 - 2.235724, abs=1e-6)
    assert row["ols_high"] == pytest.approx(1.1 + 2.235724, abs=1e-6)


def test_trends_ols_has_no_interval_from_two_points() -> None:
    row = one_trend({2020: 1.0, 2022: 5.0})
    assert row["ols_slope"] == pytest.approx(2.0)  # (5 - 1) / 2 years
    assert np.isnan(row["ols_low"])
    assert np.isnan(row["ols_high"])
    assert row["direction"] == "too few points"
    assert MIN_TREND_POINTS == 3


def random_series(seed: int, count: int) -> pd.DataFrame:
    """``count`` series of 2..12 points in years with gaps, values with ties or continuous."""
    rng = np.random.default_rng(seed)
    parts = []
    for s in range(count):
        n = int(rng.integers(2, 13))
        years = np.sort(rng.choice(np.arange(2008, 2026), size=n, replace=False))
        ties = s % 2 == 0  # small integers: many tied values (Sen's tie correction)
        values = rng.integers(0, 4, n).astype(float) if ties else rng.normal(50, 10, n)
        parts.append(
            pd.DataFrame(
                {"la_code": f"E06{s:06d}", "indicator_id": "i", "year": years, "value": values}
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trends_theil_sen_equals_scipy(seed: int, confidence: float) -> None:
    series = random_series(seed, 100)
    values = value_frame(
        {
            (la, "i"): dict(zip(g["year"], g["value"], strict=True))
            for la, g in series.groupby("la_code")
        }
    )
    out = trends(values, meta_frame([("i", HIGHER, 2)]), confidence=confidence)
    out = out.set_index("la_code")
    assert len(out) == 100
    for la, g in series.groupby("la_code"):
        x, y = g["year"].to_numpy(float), g["value"].to_numpy()
        expected = stats.theilslopes(y, x, alpha=confidence)
        got = out.loc[la]
        # Equal, not close: the vectorised version repeats scipy's arithmetic.
        assert got["ts_slope"] == expected.slope
        assert got["ts_low"] == expected.low_slope
        assert got["ts_high"] == expected.high_slope
        fit = stats.linregress(x, y)
        assert got["ols_slope"] == pytest.approx(fit.slope, rel=1e-9, abs=1e-12)
        if len(g) > 2:
            half = stats.t.ppf(0.5 + confidence / 2, len(g) - 2) * fit.stderr
            assert got["ols_high"] - got["ols_slope"] == pytest.approx(half, rel=1e-7, abs=1e-12)


# --- direction by polarity -------------------------------------------------------------------

RISING_POINTS = {2020: 10.0, 2021: 12.0, 2022: 14.0, 2023: 16.0, 2024: 18.0}  # all slopes 2
FALLING_POINTS = {year: 30.0 - v for year, v in RISING_POINTS.items()}  # all slopes -2
FLAT_POINTS = {2020: 5.0, 2021: 6.0, 2022: 5.0, 2023: 6.0, 2024: 5.0}


@pytest.mark.parametrize(
    ("points", "polarity", "direction"),
    [
        (RISING_POINTS, HIGHER, "improving"),
        (RISING_POINTS, LOWER, "declining"),
        (RISING_POINTS, CONTEXT, "rising"),
        (FALLING_POINTS, HIGHER, "declining"),
        (FALLING_POINTS, LOWER, "improving"),
        (FALLING_POINTS, CONTEXT, "falling"),
        (FLAT_POINTS, HIGHER, "no clear change"),
        (FLAT_POINTS, CONTEXT, "no clear change"),
    ],
)
def test_trends_direction_by_polarity(
    points: dict[int, float], polarity: str, direction: str
) -> None:
    row = one_trend(points, polarity)
    assert row["direction"] == direction


def test_trends_rising_series_interval() -> None:
    # Every pairwise slope of 10, 12, 14, 16, 18 is 2, so the slope and both bounds are 2.
    row = one_trend(RISING_POINTS)
    assert (row["ts_slope"], row["ts_low"], row["ts_high"]) == (2.0, 2.0, 2.0)
    assert row["movement"] == "rising"


def test_trends_flat_series_interval_contains_zero() -> None:
    # 5, 6, 5, 6, 5 in 2020..2024. Pairwise slopes: from 2020: 1, 0, 1/3, 0; from 2021: -1, 0,
    # -1/3; from 2022: 1, 0; from 2023: -1. Sorted: -1, -1, -1/3, 0, 0, 0, 0, 1/3, 1, 1, so the
    # median is 0. Ties: three 5s and two 6s: 3*2*11 + 2*1*9 = 84; sigma^2 = (5*4*15 - 84)/18
    # = 12, sigma = 3.464, z*sigma = -6.790: upper index round(16.79/2) = 8 -> 1, lower index
    # round(3.21/2) - 1 = 1 -> -1.
    row = one_trend(FLAT_POINTS)
    assert (row["ts_slope"], row["ts_low"], row["ts_high"]) == (0.0, -1.0, 1.0)


def test_trends_skip_missing_values_and_breakdowns_by_default() -> None:
    points = {2020: 1.0, 2021: np.nan, 2022: 3.0, 2023: 4.0}
    totals = value_frame({("E06000001", "i"): points})
    boys = value_frame({("E06000001", "i"): RISING_POINTS}, breakdown_topic="g", breakdown="b")
    values = pd.concat([totals, boys], ignore_index=True)
    meta = meta_frame([("i", HIGHER, 2)])
    out = trends(values, meta)
    assert len(out) == 1
    assert out.iloc[0]["n_points"] == 3
    both = trends(values, meta, include_breakdowns=True)
    assert sorted(both["breakdown"]) == ["Total", "b"]


def test_trends_unknown_indicator_is_an_error() -> None:
    values = value_frame({("E06000001", "nope"): RISING_POINTS})
    with pytest.raises(ValueError, match="not in meta"):
        trends(values, meta_frame([("i", HIGHER, 2)]))


# --- months since the start ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        ("2021-11-15", "2022-03-31", 4),  # 15 Mar is 4 months on; 15 Apr not reached
        ("2022-03-31", "2022-03-31", 0),
        ("2022-04-01", "2022-03-31", -1),  # the period ended the day before the start
        ("2021-04-30", "2022-03-31", 11),  # 30 Mar 2022 is 11 months on
        ("2021-03-31", "2024-03-31", 36),
        ("2023-06-15", "2022-03-31", -15),  # (2022-2023)*12 + (3-6) = -15; 31 >= 15
    ],
)
def test_months_between(start: str, end: str, months: int) -> None:
    got = months_between(pd.Series(pd.to_datetime([start])), pd.Series(pd.to_datetime([end])))
    assert got.tolist() == [months]


def test_period_end_is_31_march_of_the_reporting_year() -> None:
    ends = period_end(pd.Series(["2025", "2019", "2025"]))
    assert ends.dt.strftime("%Y-%m-%d").tolist() == ["2025-03-31", "2019-03-31", "2025-03-31"]


# --- the stage of a journey ------------------------------------------------------------------

STAGE_META = meta_frame(
    [
        ("c1", HIGHER, 2),
        ("c2", LOWER, 2),
        ("c_turnover", CONTEXT, 2),
        ("r1", HIGHER, 3),
        ("r2", HIGHER, 3),
        ("v1", HIGHER, 4),
        ("v2", HIGHER, 4),
        ("o1", HIGHER, 5),
        ("o2", HIGHER, 5),
    ]
)
# Start 15 Jan 2020, read at 2024 (ends 31 Mar 2024): (2024-2020)*12 + (3-1) = 50 months.
# Periods since the start: 2019 (ends 31 Mar 2019, -10 months: the baseline) .. 2024;
# 2018 (-22 months) and 2025 (after the reading) are outside the trend.
YEARS = range(2019, 2025)
UP = {y: 10.0 + (y - 2019) for y in YEARS}  # 10..15: every pairwise slope +1
DOWN = {y: 20.0 - (y - 2019) for y in YEARS}  # every pairwise slope -1
FLAT = dict.fromkeys(YEARS, 10.0)  # slope 0, interval [0, 0]: no clear change


def improving(indicator: str) -> dict[int, float]:
    return DOWN if indicator == "c2" else UP  # c2 is lower-is-better


def stage_values(las: dict[str, dict[str, dict[int, float]]]) -> pd.DataFrame:
    series = {}
    for la, by_indicator in las.items():
        for ind in ("c1", "c2", "c_turnover", "r1", "r2", "v1", "v2", "o1", "o2"):
            points = by_indicator.get(ind, FLAT)
            if points is not None:
                # 2018 dips and 2025 jumps: a trend that used them would read as improving.
                series[(la, ind)] = {2018: -100.0, **points, 2025: 1000.0}
    return value_frame(series)


def improve(*indicators: str) -> dict[str, dict[int, float]]:
    return {ind: improving(ind) for ind in indicators}


STAGE_CASES = {
    "E06000001": improve("c1", "c2"),  # conditions only -> 1
    "E06000002": improve("c1", "c2", "r1", "r2"),  # conditions, reaching -> 2
    "E06000003": improve("c1", "c2", "r1", "v1", "o1", "o2"),  # all steps -> 3
    "E06000004": {},  # nothing -> 0
    "E06000005": improve("o1", "o2"),  # outcomes before conditions -> 3, out of order
    # One conditions indicator with data (c2 missing): one indicator is not a domain reading.
    "E06000006": {"c1": UP, "c2": None},
    # c1 improves and c2 declines: share 1/2 but not more improving than declining.
    "E06000007": {"c1": UP, "c2": UP},
    # c1 improves, c2 flat: share 1/2 = IMPROVED_SHARE and 1 improving > 0 declining.
    "E06000008": {"c1": UP},
}
STAGE_EXPECTED = {
    "E06000001": (1, True),
    "E06000002": (2, True),
    "E06000003": (3, True),
    "E06000004": (0, True),
    "E06000005": (3, False),
    "E06000006": (0, True),
    "E06000007": (0, True),
    "E06000008": (1, True),
}


@functools.cache
def stage_result() -> ImprovementStage:
    """Computed once: the tests only read it."""
    journeys = journeys_frame(dict.fromkeys(STAGE_CASES, "2020-01-15"))
    return improvement_stage(journeys, stage_values(STAGE_CASES), STAGE_META, "2024")


@pytest.mark.parametrize("la", list(STAGE_EXPECTED))
def test_improvement_stage_labels(la: str) -> None:
    stages = stage_result().stages.set_index("la_code")
    stage, in_order = STAGE_EXPECTED[la]
    assert stages.loc[la, "stage"] == stage
    assert stages.loc[la, "stage_label"] == STAGE_LABELS[stage]
    assert bool(stages.loc[la, "in_expected_order"]) is in_order


def test_improvement_stage_months_and_years() -> None:
    stages = stage_result().stages
    assert set(stages["months_since_start"]) == {50}  # (2024-2020)*12 + (3-1)
    assert set(stages["years_since_start"]) == {4}
    assert set(stages["as_of_period"]) == {"2024"}


def test_improvement_stage_domain_counts() -> None:
    domains = stage_result().domains.set_index(["la_code", "domain"])
    # E06000008 conditions: c1 up, c2 flat, c_turnover context-dependent (not counted).
    row = domains.loc[("E06000008", "conditions_culture")]
    assert (row["n_indicators"], row["n_with_data"], row["n_improving"]) == (2, 2, 1)
    assert row["share_improving"] == IMPROVED_SHARE == 0.5
    assert bool(row["improved"])
    # E06000007: c1 up (improving), c2 up (lower is better: declining) -> 1 vs 1, not improved.
    row = domains.loc[("E06000007", "conditions_culture")]
    assert (row["n_improving"], row["n_declining"], bool(row["improved"])) == (1, 1, False)
    # E06000006: only c1 has data: 1 < MIN_INDICATORS_WITH_DATA.
    row = domains.loc[("E06000006", "conditions_culture")]
    assert row["n_with_data"] == 1 < MIN_INDICATORS_WITH_DATA
    assert not bool(row["improved"])
    # Every journey LA gets a row for every domain.
    assert len(domains) == len(STAGE_CASES) * 4


def test_improvement_stage_trends_run_from_the_baseline_year_to_the_reading() -> None:
    evidence = stage_result().evidence
    row = evidence.loc[(evidence["la_code"] == "E06000004") & (evidence["indicator_id"] == "c1")]
    # 2019..2024 only: the 2018 dip and the 2025 jump would otherwise make it "improving".
    assert row[["first_period", "last_period", "n_points"]].values.tolist() == [["2019", "2024", 6]]
    assert row["direction"].item() == "no clear change"


def test_improvement_stage_evidence_lists_supporting_indicators() -> None:
    evidence = stage_result().evidence
    mine = evidence.loc[evidence["la_code"] == "E06000002"].set_index("indicator_id")
    assert sorted(mine.index[mine["supports"]]) == ["c1", "c2", "r1", "r2"]
    assert not bool(mine.loc["c_turnover", "counted"])  # context-dependent: read, not counted
    assert mine.loc["r1", "domain"] == "reaching_families"
    stages = stage_result().stages.set_index("la_code")
    assert stages.loc["E06000002", "improved_domains"] == "conditions_culture, reaching_families"


def test_improvement_stage_leaves_out_journeys_not_started() -> None:
    journeys = journeys_frame({"E06000001": "2020-01-15", "E06000009": "2024-04-01"})
    result = improvement_stage(journeys, stage_values(STAGE_CASES), STAGE_META, "2024")
    assert result.stages["la_code"].tolist() == ["E06000001"]


def test_improvement_stage_latest_ofsted_judgement() -> None:
    journeys = journeys_frame({"E06000001": "2020-01-15", "E06000004": "2020-01-15"})
    ofsted = pd.DataFrame(
        {
            "la_code": ["E06000001"] * 3,
            "date": pd.to_datetime(["2019-06-01", "2023-01-10", "2024-06-01"]),
            "judgement": ["Inadequate", "Requires improvement to be good", "Good"],
        }
    )
    values = stage_values(STAGE_CASES)
    stages = improvement_stage(journeys, values, STAGE_META, "2024", ofsted).stages
    stages = stages.set_index("la_code")
    # The June 2024 inspection is after the reading (31 Mar 2024).
    assert stages.loc["E06000001", "latest_judgement"] == "Requires improvement to be good"
    assert stages.loc["E06000001", "latest_judgement_date"] == pd.Timestamp("2023-01-10")
    assert pd.isna(stages.loc["E06000004", "latest_judgement"])


# --- aligned trajectories, peers and what next ------------------------------------------------

VIEWER = "E06000100"
# Viewer starts 15 Jan 2022; its latest period 2024 ends (2024-2022)*12 + 2 = 26 months on.
# A, B, C start 15 Jan 2019: period P is (P-2019)*12 + 2 months on: 2021 -> 26, 2022 -> 38,
# 2023 -> 50. D starts 15 Jan 2023: 2025 is 26 months on, so it is not further ahead.
AHEAD = {
    "E06000101": {2021: 10.0, 2022: 12.0, 2023: 15.0},
    "E06000102": {2021: 20.0, 2022: 21.0, 2023: 22.0},
    "E06000103": {2021: 30.0, 2022: 36.0},
}


def aligned_fixture(ahead: dict[str, dict[int, float]]) -> pd.DataFrame:
    starts = {VIEWER: "2022-01-15", **dict.fromkeys(ahead, "2019-01-15")}
    starts["E06000104"] = "2023-01-15"
    series = {(la, "i"): points for la, points in ahead.items()}
    series[(VIEWER, "i")] = {2022: 5.0, 2023: 6.0, 2024: 7.0}
    series[("E06000104", "i")] = {2024: 99.0, 2025: 99.0}
    series[("E06000101", "other")] = {2022: 1000.0}  # another indicator: not in the summary
    meta = meta_frame([("i", HIGHER, 5), ("other", HIGHER, 2)])
    return aligned_trajectories(journeys_frame(starts), value_frame(series), meta)


def test_aligned_trajectories_months_and_years() -> None:
    aligned = aligned_fixture(AHEAD)
    a = aligned.loc[(aligned["la_code"] == "E06000101") & (aligned["indicator_id"] == "i")]
    assert a["months_since_start"].tolist() == [26, 38, 50]
    assert a["years_since_start"].tolist() == [2, 3, 4]
    d = aligned.loc[aligned["la_code"] == "E06000104"]
    # Start 15 Jan 2023: period 2024 ends 14 months on, 2025 26 months on.
    assert d["months_since_start"].tolist() == [14, 26]
    assert set(aligned["table"]) == {2, 5}


def test_aligned_trajectories_keep_the_run_up_as_negative_months() -> None:
    journeys = journeys_frame({"E06000001": "2022-01-15"})
    values = value_frame({("E06000001", "i"): {2021: 1.0, 2022: 2.0}})
    aligned = aligned_trajectories(journeys, values, meta_frame([("i", HIGHER, 2)]))
    # 2021 ends 31 Mar 2021: (2021-2022)*12 + (3-1) = -10 months, year -1.
    assert aligned["months_since_start"].tolist() == [-10, 2]
    assert aligned["years_since_start"].tolist() == [-1, 0]


def test_what_next_summarises_las_further_ahead() -> None:
    out = what_next(aligned_fixture(AHEAD), VIEWER, "i").set_index("offset_from_months")
    # Bins beyond the viewer's 26 months: 38 -> [36, 47], 50 -> [48, 59].
    assert out.index.tolist() == [36, 48]
    assert out.loc[36, "offset_to_months"] == 47
    # [36, 47]: A 12, B 21, C 36 -> median 21; changes from their 26-month values (10, 20, 30):
    # 2, 1, 6 -> median 2. D (not ahead) and the other indicator do not contribute.
    assert (out.loc[36, "n_las"], out.loc[36, "median_value"]) == (3, 21.0)
    assert (out.loc[36, "n_change"], out.loc[36, "median_change"]) == (3, 2.0)
    # [48, 59]: only A and B (C has no 2023 value): 2 < MIN_CONTRIBUTORS, so blank.
    assert out.loc[48, "n_las"] == 2 < MIN_CONTRIBUTORS
    assert np.isnan(out.loc[48, "median_value"])
    assert np.isnan(out.loc[48, "median_change"])


def test_what_next_blank_below_three_other_las() -> None:
    two = {la: AHEAD[la] for la in list(AHEAD)[:2]}
    out = what_next(aligned_fixture(two), VIEWER, "i")
    assert out["n_las"].tolist() == [2, 2]
    assert out["median_value"].isna().all()
    assert out["median_change"].isna().all()


def test_what_next_with_given_current_months() -> None:
    # Beyond 40 months: A 15 and B 22 at 50 months (bin 48): 2 LAs, blank; nothing else is later.
    out = what_next(aligned_fixture(AHEAD), VIEWER, "i", current_months=40)
    assert out["offset_from_months"].tolist() == [48]
    assert out["n_las"].tolist() == [2]
    # Their values at 40 months are the 38-month ones (12, 21): changes 3 and 1.
    assert out["n_change"].tolist() == [2]


def test_what_next_for_an_la_without_values_is_an_error() -> None:
    with pytest.raises(ValueError, match="no aligned values"):
        what_next(aligned_fixture(AHEAD), "E06000999", "i")


def stages_frame(months: dict[str, int], stage: dict[str, int] | None = None) -> pd.DataFrame:
    stage = stage or {}
    return pd.DataFrame(
        {
            "la_code": list(months),
            "start_date": pd.Timestamp("2020-01-01"),
            "trigger": "",
            "focus_areas": "",
            "as_of_period": "2024",
            "months_since_start": list(months.values()),
            "years_since_start": [m // 12 for m in months.values()],
            "stage": [stage.get(la, 0) for la in months],
            "stage_label": [STAGE_LABELS[stage.get(la, 0)] for la in months],
            "in_expected_order": True,
            "improved_domains": "",
            "latest_judgement": None,
            "latest_judgement_date": pd.NaT,
        }
    )


def test_peers_at_stage_within_the_window() -> None:
    frame = stages_frame({"A": 24, "B": 30, "C": 12, "D": 18, "E": 36, "F": 37})
    peers = peers_at_stage(frame, "A", 12)
    # |30-24| = 6, |18-24| = 6, |12-24| = 12, |36-24| = 12; F is 13 months away.
    assert peers["la_code"].tolist() == ["B", "D", "C", "E"]
    assert peers["months_difference"].tolist() == [6, -6, -12, 12]


def test_peers_at_stage_unknown_la_is_an_error() -> None:
    with pytest.raises(ValueError, match="no improvement journey"):
        peers_at_stage(stages_frame({"A": 24}), "Z", 12)


# --- expected anomalies ----------------------------------------------------------------------

ANOMALY_META = meta_frame(
    [
        ("t2_staff_turnover", CONTEXT, 2),
        ("t3_deescalated_no_return", CONTEXT, 3),
        ("t3_plan_same_type", CONTEXT, 3),
        ("judged", HIGHER, 3),
    ]
)


def anomaly_trends() -> pd.DataFrame:
    series = {}
    for la in ("E06000001", "E06000003"):
        series[(la, "t2_staff_turnover")] = RISING_POINTS  # expected: rising
        series[(la, "t3_deescalated_no_return")] = RISING_POINTS  # expected: falling
        series[(la, "t3_plan_same_type")] = FALLING_POINTS  # no expected direction
        series[(la, "judged")] = FALLING_POINTS  # higher is better: declining
    series[("E06000999", "judged")] = FALLING_POINTS  # not on a journey
    return trends(value_frame(series), ANOMALY_META)


def test_expected_anomalies_annotations() -> None:
    stages = stages_frame({"E06000001": 20, "E06000003": 60}, {"E06000001": 1, "E06000003": 3})
    out = expected_anomalies(anomaly_trends(), stages, ANOMALY_META)
    got = out.set_index(["la_code", "indicator_id"])["annotation"].to_dict()
    assert got == {
        # Stage 1: turnover rising as expected; de-escalations rising is not the expected move;
        # a context-dependent indicator with no expected direction may move either way.
        ("E06000001", "t2_staff_turnover"): "expected for the stage",
        ("E06000001", "t3_deescalated_no_return"): "read in context",
        ("E06000001", "t3_plan_same_type"): "expected for the stage",
        ("E06000001", "judged"): "decline",
        # Stage 3 (outcomes improving): the improvement-period allowance no longer applies.
        ("E06000003", "t2_staff_turnover"): "read in context",
        ("E06000003", "t3_deescalated_no_return"): "read in context",
        ("E06000003", "t3_plan_same_type"): "read in context",
        ("E06000003", "judged"): "decline",
    }
    first = out.set_index(["la_code", "indicator_id"]).loc[("E06000001", "t2_staff_turnover")]
    assert first["expected_direction"] == "rising"


def test_expected_anomalies_listed_judged_indicator_is_not_flagged() -> None:
    stages = stages_frame({"E06000001": 20}, {"E06000001": 2})
    out = expected_anomalies(anomaly_trends(), stages, ANOMALY_META, {"judged": "falling"})
    judged = out.loc[out["indicator_id"] == "judged", "annotation"]
    assert judged.tolist() == ["expected for the stage"]


def test_expected_anomalies_no_clear_change_is_not_annotated() -> None:
    values = value_frame({("E06000001", "t2_staff_turnover"): FLAT_POINTS})
    stages = stages_frame({"E06000001": 20}, {"E06000001": 1})
    out = expected_anomalies(trends(values, ANOMALY_META), stages, ANOMALY_META)
    assert out["annotation"].tolist() == [""]


def test_expected_moves_are_the_catalogue_indicators_citing_the_seed() -> None:
    catalogue = load_catalogue()
    for indicator_id, direction in EXPECTED_MOVES.items():
        indicator = catalogue.indicators[indicator_id]
        assert str(indicator.polarity) == CONTEXT
        assert "4.5.7" in (indicator.polarity_note or "")
        assert direction in {"rising", "falling"}
