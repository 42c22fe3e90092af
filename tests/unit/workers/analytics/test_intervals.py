"""Confidence intervals, funnel limits and significance (workers.analytics.intervals).

Expected values are published ones wherever a publication exists: Newcombe (1998) for Wilson
intervals, the Garwood exact Poisson table, and PHE/UKHSA's own test data for the
PHEindicatormethods R package (``tests/testthat/testdata_funnel_prop_outputs.csv``,
``testdata_funnel_rate_outputs.csv`` and ``testdata_funnel_prop_inputs.csv``), to the decimals
published. The rest are hand-computed, with the arithmetic in a comment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schemas.catalogue import Polarity
from workers.analytics.intervals import (
    LEVELS,
    MIN_BYAR_EVENTS,
    byar_interval,
    exact_poisson_interval,
    funnel_limits,
    funnel_significance,
    judge,
    rate_interval,
    significance,
    value_interval,
    wilson_interval,
    z_value,
)

# ---------------------------------------------------------------------------------------------
# Levels


def test_levels_and_byar_threshold_are_the_phe_ones() -> None:
    assert LEVELS == (0.95, 0.998)
    assert MIN_BYAR_EVENTS == 10


@pytest.mark.parametrize(("level", "z"), [(0.95, 1.959964), (0.998, 3.090232)])
def test_z_value_two_sided(level: float, z: float) -> None:
    # PHE: qnorm(0.975) = 1.959964, qnorm(0.999) = 3.090232.
    assert z_value(level) == pytest.approx(z, abs=5e-7)


@pytest.mark.parametrize("level", [0.0, 1.0, 95.0, -0.5])
def test_z_value_rejects_levels_outside_zero_one(level: float) -> None:
    with pytest.raises(ValueError, match="confidence level"):
        z_value(level)


# ---------------------------------------------------------------------------------------------
# Wilson score interval


@pytest.mark.parametrize(
    ("k", "n", "lower", "upper"),
    [
        # Newcombe RG (1998) Stat Med 17:857-872, Table I, method 3 (score, no continuity
        # correction), published to 4 decimals.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0000),
    ],
)
def test_wilson_interval_matches_newcombe_1998(k: int, n: int, lower: float, upper: float) -> None:
    got_lower, got_upper = wilson_interval(k, n)
    assert got_lower == pytest.approx(lower, abs=5e-5)
    assert got_upper == pytest.approx(upper, abs=5e-5)


def test_wilson_interval_at_99_8_percent_hand_computed() -> None:
    # k = 50, n = 100, z = 3.090232, z^2 = 9.549536:
    # centre = 2*50 + 9.549536 = 109.549536; spread = z * sqrt(9.549536 + 4*50*0.5)
    # = 3.090232 * 10.466591 = 32.344209; denominator = 2 * (100 + 9.549536) = 219.099072.
    # lower = 77.205327 / 219.099072 = 0.352376; upper = 141.893745 / 219.099072 = 0.647624.
    lower, upper = wilson_interval(50, 100, level=0.998)
    assert lower == pytest.approx(0.352376, abs=1e-6)
    assert upper == pytest.approx(0.647624, abs=1e-6)


def test_wilson_interval_is_vectorised_and_broadcasts() -> None:
    lower, upper = wilson_interval(np.array([0, 81, 263]), 263)
    assert lower.shape == upper.shape == (3,)
    assert lower[0] == 0.0
    assert upper[2] == 1.0
    assert lower[1] == pytest.approx(0.2553, abs=5e-5)
    assert np.all(lower <= np.array([0, 81, 263]) / 263)
    assert np.all(upper >= np.array([0, 81, 263]) / 263)


@pytest.mark.parametrize(
    ("k", "n"), [(1, 0), (1, np.nan), (np.nan, 10), (11, 10), (-1, 10), (0, -5)]
)
def test_wilson_interval_blank_when_not_computable(k: float, n: float) -> None:
    lower, upper = wilson_interval(k, n)
    assert np.isnan(lower)
    assert np.isnan(upper)


def test_wilson_interval_takes_nullable_pandas_columns() -> None:
    k = pd.Series([1, None], dtype="Int64")
    lower, upper = wilson_interval(k, pd.Series([29, 29]))
    assert lower[0] == pytest.approx(0.0061, abs=5e-5)
    assert np.isnan(lower[1])
    assert np.isnan(upper[1])


# ---------------------------------------------------------------------------------------------
# Poisson intervals


def test_byar_interval_hand_computed_at_ten_events() -> None:
    # O = 10, z = 1.959964:
    # lower = 10 * (1 - 1/90 - 1.959964/(3*sqrt 10))^3 = 10 * (1 - 0.011111 - 0.206597)^3
    #       = 10 * 0.782292^3 = 10 * 0.478745 = 4.78745
    # upper = 11 * (1 - 1/99 + 1.959964/(3*sqrt 11))^3 = 11 * (1 - 0.010101 + 0.196985)^3
    #       = 11 * 1.186884^3 = 11 * 1.671951 = 18.39146
    lower, upper = byar_interval(10)
    assert lower == pytest.approx(4.78745, abs=1e-5)
    assert upper == pytest.approx(18.39146, abs=1e-5)


def test_byar_interval_hand_computed_at_sixty_five_events() -> None:
    # PHE's byars_lower(65) example. 65 * (1 - 1/585 - 1.959964/(3*sqrt 65))^3
    # = 65 * (1 - 0.001709 - 0.081034)^3 = 65 * 0.917257^3 = 65 * 0.771741 = 50.1632;
    # upper 66 * (1 - 1/594 + 1.959964/(3*sqrt 66))^3 = 66 * 1.078735^3 = 66 * 1.255290 = 82.849.
    lower, upper = byar_interval(65)
    assert lower == pytest.approx(50.1632, abs=1e-4)
    assert upper == pytest.approx(82.8491, abs=1e-4)


@pytest.mark.parametrize("which", [0, 1])
def test_byar_interval_within_two_tenths_percent_of_exact_from_ten_events(which: int) -> None:
    # PHE Technical Guide "Confidence intervals": "for 95% confidence intervals, Byar's method
    # is within 0.2% of the exact value for numerators of 10 or more".
    events = np.arange(MIN_BYAR_EVENTS, 5001)
    byar = byar_interval(events)[which]
    exact = exact_poisson_interval(events)[which]
    assert np.max(np.abs(byar - exact) / exact) < 0.002


def test_byar_interval_lower_limit_of_zero_events_is_zero() -> None:
    lower, upper = byar_interval(np.array([0.0, np.nan, -1.0]))
    assert lower[0] == 0.0
    assert upper[0] > 0
    assert np.isnan(lower[1:]).all()
    assert np.isnan(upper[1:]).all()


# Exact 95% limits for a Poisson count (Garwood 1936), as tabulated to 3 decimals in the standard
# tables (e.g. Sahai & Khurshid 1993; Ulm 1990).
GARWOOD_95 = [
    (0, 0.000, 3.689),
    (1, 0.025, 5.572),
    (2, 0.242, 7.225),
    (3, 0.619, 8.767),
    (4, 1.090, 10.242),
    (5, 1.623, 11.668),
    (6, 2.202, 13.059),
    (7, 2.814, 14.423),
    (8, 3.454, 15.763),
    (9, 4.115, 17.085),
]


def test_exact_poisson_interval_matches_garwood_table() -> None:
    events = np.array([row[0] for row in GARWOOD_95])
    lower, upper = exact_poisson_interval(events)
    assert lower == pytest.approx([row[1] for row in GARWOOD_95], abs=5e-4)
    assert upper == pytest.approx([row[2] for row in GARWOOD_95], abs=5e-4)


def test_exact_poisson_interval_zero_events_upper_is_minus_log_tail() -> None:
    # P(X = 0 | mu) = exp(-mu) = 0.025  =>  mu = ln 40 = 3.688879 (and ln 1000 = 6.907755 at
    # 99.8%); the lower limit of 0 events is 0.
    assert exact_poisson_interval(0)[1] == pytest.approx(np.log(40), rel=1e-12)
    assert exact_poisson_interval(0, 0.998)[1] == pytest.approx(np.log(1000), rel=1e-12)
    assert exact_poisson_interval(0)[0] == 0.0


def test_rate_interval_switches_method_at_ten_events() -> None:
    # 9 events: exact (Garwood 4.115..17.085); 10 events: Byar (4.78745..18.39146); both per 1000
    # over a denominator of 1000, so the rate limits equal the count limits.
    lower, upper = rate_interval([9, 10], [1000, 1000], 1000)
    assert lower == pytest.approx([4.115, 4.78745], abs=5e-4)
    assert upper == pytest.approx([17.085, 18.39146], abs=5e-4)


def test_rate_interval_scales_to_the_rate() -> None:
    # 65 events in 100,000 per 100,000: the count limits 50.1632..82.8491 unchanged; per 10,000
    # over 20,000 children: 65/20000*10000 = 32.5, limits 50.1632/2 = 25.0816, 82.8491/2 = 41.4246.
    assert rate_interval(65, 100_000, 100_000)[0] == pytest.approx(50.1632, abs=1e-4)
    lower, upper = rate_interval(65, 20_000, 10_000)
    assert (lower, upper) == pytest.approx((25.0816, 41.4246), abs=1e-4)


@pytest.mark.parametrize(("events", "denominator"), [(5, 0), (np.nan, 10), (-1, 10), (5, np.nan)])
def test_rate_interval_blank_when_not_computable(events: float, denominator: float) -> None:
    lower, upper = rate_interval(events, denominator, 10_000)
    assert np.isnan(lower)
    assert np.isnan(upper)


# ---------------------------------------------------------------------------------------------
# Interval of an indicator value


def test_value_interval_by_value_kind() -> None:
    lower, upper = value_interval(
        numerator=[81, 10, 5, 1],
        denominator=[263, 20_000, 9, np.nan],
        value_kind=["percentage", "rate", "number", "yes_no"],
        value_scale=[100, 10_000, np.nan, np.nan],
    )
    # 81/263: Wilson 0.2553..0.3662 -> 25.53..36.62 %. 10 per 20,000, per 10,000: Byar
    # 4.78745/2 = 2.39372 .. 18.39146/2 = 9.19573. Numbers and yes/no: not computed.
    assert lower[:2] == pytest.approx([25.53, 2.39372], abs=5e-3)
    assert upper[:2] == pytest.approx([36.62, 9.19573], abs=5e-3)
    assert np.isnan(lower[2:]).all()
    assert np.isnan(upper[2:]).all()


def test_value_interval_scalar_kind_and_scale_broadcast() -> None:
    # 0/29: lower 0, upper z^2 / (n + z^2) = 3.841459 / 32.841459 = 0.116970 -> 11.697 %.
    # 29/29: lower n / (n + z^2) = 29 / 32.841459 = 0.883030 -> 88.303 % (Newcombe 0.8830);
    # upper 1.
    lower, upper = value_interval([0, 29], 29, "percentage", 100, level=0.95)
    assert lower == pytest.approx([0.0, 88.303], abs=5e-4)
    assert upper == pytest.approx([11.697, 100.0], abs=5e-4)


def test_value_interval_missing_kind_is_not_computed() -> None:
    kinds = pd.Series(["percentage", None], dtype="string")
    lower, upper = value_interval([81, 81], [263, 263], kinds, 100)
    assert lower[0] == pytest.approx(25.53, abs=5e-3)
    assert np.isnan(lower[1])
    assert np.isnan(upper[1])


@pytest.mark.parametrize("as_series", [False, True])
def test_value_interval_categorical_kind_same_as_strings(as_series: bool) -> None:
    # A categorical value kind (what the pipeline passes) is read by its codes; the figures
    # must be exactly those of the same kinds as strings, a missing kind included.
    kinds = ["percentage", "rate", "number", None, "percentage"]
    categorical = pd.Categorical(kinds)
    args = ([81, 10, 5, 81, 0], [263, 20_000, 9, 263, 29])
    scale = [100, 10_000, 1, 100, 100]
    expected = value_interval(*args, np.array(kinds, dtype=object), scale)
    got = value_interval(*args, pd.Series(categorical) if as_series else categorical, scale)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(g, e)
    assert np.isnan(got[0][2:4]).all()  # a number and a missing kind: no interval


def test_value_interval_99_8_is_wider_than_95() -> None:
    numerator = np.array([3, 30, 300, 3000])
    for kind, scale in [("percentage", 100), ("rate", 10_000)]:
        low95, high95 = value_interval(numerator, 5000, kind, scale, 0.95)
        low998, high998 = value_interval(numerator, 5000, kind, scale, 0.998)
        assert np.all(low998 < low95)
        assert np.all(high998 > high95)


# ---------------------------------------------------------------------------------------------
# Funnel limits


# PHEindicatormethods tests/testthat/testdata_funnel_prop_outputs.csv (PHE/UKHSA): Population,
# Lower2s0025limit, Upper2s0025limit, Lower3s0001limit, Upper3s0001limit around the Baseline
# 80.642448 %, to 6 decimals; the limits are clipped to [0, 100].
PHE_PROPORTION_FUNNEL = [
    (1, 3.204264, 100, 0, 100),
    (10, 56.154344, 100, 42.03259, 100),
    (41, 68.548635, 92.73626, 61.574398, 99.710497),
    (50, 69.691035, 91.593861, 63.375595, 97.909301),
    (1008, 78.203374, 83.081521, 76.796814, 84.488082),
    (9998, 79.867989, 81.416907, 79.421375, 81.863521),
    (110000, 80.408963, 80.875933, 80.274317, 81.010578),
]


@pytest.mark.parametrize(("n", "low95", "high95", "low998", "high998"), PHE_PROPORTION_FUNNEL)
def test_funnel_limits_proportion_match_phe(
    n: int, low95: float, high95: float, low998: float, high998: float
) -> None:
    # 1e-6 for the published rounding of the limits, and as much again for the baseline's.
    assert funnel_limits(80.642448, n, "percentage", 100, 0.95) == pytest.approx(
        (low95, high95), abs=1.5e-6
    )
    assert funnel_limits(80.642448, n, "percentage", 100, 0.998) == pytest.approx(
        (low998, high998), abs=1.5e-6
    )


def test_funnel_limits_proportion_hand_computed() -> None:
    # t = 50 %, n = 100: 50 +/- 1.959964 * sqrt(0.5 * 0.5 / 100) * 100 = 50 +/- 9.799820.
    assert funnel_limits(50, 100, "percentage", 100) == pytest.approx(
        (40.200180, 59.799820), abs=1e-6
    )


# PHEindicatormethods tests/testthat/testdata_funnel_rate_outputs.csv (PHE/UKHSA): a rate funnel
# around 116.1720835 per 100,000 over 3 years of data. Each row is a count of events and, per
# limit, the one-year population at which that count is the limit, and the limit (events /
# (3 x population) x 100,000). Columns: events, then (population, limit) for the 95% lower,
# 95% upper, 99.8% lower and 99.8% upper limits.
PHE_RATE_FUNNEL = [
    (1, 1598.675694, 20.85059119, 7.264481402, 4588.535848),
    (1, 2649.348525, 12.58170943, 0.287087625, 116108.569),
    (10, 5276.757672, 63.17010446, 1375.943768, 242.2579623),
    (10, 6924.776769, 48.13632908, 849.4639547, 392.4043292),
    (99, 34583.45945, 95.42133877, 23087.10848, 142.9369123),
    (99, 38382.78582, 85.97604186, 20393.92315, 161.8129075),
    (1360, 411529.9259, 110.158048, 369759.5622, 122.6021934),
    (1360, 424043.2424, 106.9073359, 358342.3275, 126.5084525),
]


@pytest.mark.parametrize(("row", "level"), [(i, (0.95, 0.998)[i % 2]) for i in range(8)])
def test_funnel_limits_rate_match_phe(row: int, level: float) -> None:
    _, low_population, low_limit, high_population, high_limit = PHE_RATE_FUNNEL[row]
    lower = funnel_limits(116.1720835, 3 * low_population, "rate", 100_000, level)[0]
    upper = funnel_limits(116.1720835, 3 * high_population, "rate", 100_000, level)[1]
    # PHE finds these by bisection to ~1e-7 of a transformed variable: agree to 1e-5.
    assert lower == pytest.approx(low_limit, rel=1e-5)
    assert upper == pytest.approx(high_limit, rel=1e-5)


@pytest.mark.parametrize("level", LEVELS)
def test_funnel_limits_rate_are_counts_whose_exact_limits_reach_the_expected_count(
    level: float,
) -> None:
    # The defining property, over expected counts spanning the interpolated table (1e-6 to 1e9)
    # and beyond it on both sides (solved exactly there).
    rng = np.random.default_rng(3)
    expected = np.exp(rng.uniform(np.log(1e-8), np.log(1e11), 3000))
    n = np.full(expected.shape, 1000.0)
    lower, upper = funnel_limits(expected, n, "rate", 1000, level)  # target = expected per 1000
    low_count, high_count = lower / 1000 * n, upper / 1000 * n
    reaches_lower = low_count > 0
    upper_of_lower = exact_poisson_interval(low_count[reaches_lower], level)[1]
    lower_of_upper = exact_poisson_interval(high_count, level)[0]
    assert upper_of_lower == pytest.approx(expected[reaches_lower], rel=1e-9)
    assert lower_of_upper == pytest.approx(expected, rel=1e-9)
    # Where the lower limit is 0 even 0 events (exact upper limit -ln((1 - level) / 2)) is not
    # significantly low.
    assert np.all(expected[~reaches_lower] <= -np.log((1 - level) / 2))


@pytest.mark.parametrize(
    ("kind", "target", "scale"), [("percentage", 23.0, 100), ("rate", 480.0, 1e4)]
)
def test_funnel_limits_contain_target_and_narrow_as_denominator_grows(
    kind: str, target: float, scale: float
) -> None:
    n = np.geomspace(20, 2e6, 60)
    low95, high95 = funnel_limits(target, n, kind, scale, 0.95)
    low998, high998 = funnel_limits(target, n, kind, scale, 0.998)
    assert np.all(low998 <= low95)
    assert np.all(low95 < target)
    assert np.all(target < high95)
    assert np.all(high95 <= high998)
    for low, high in [(low95, high95), (low998, high998)]:
        assert np.all(np.diff(low) >= 0)
        assert np.all(np.diff(high) <= 0)
        assert np.all(np.diff(high - low) < 0)
    # At two million the 95% funnel is about +/- 1.96 sqrt(t (1 - t) / n) (proportion) or
    # +/- 1.96 sqrt(mu) events (rate): within 2% of the target either way.
    assert high95[-1] - low95[-1] < 0.02 * target


def test_funnel_limits_take_per_element_kinds_and_targets() -> None:
    lower, upper = funnel_limits(
        target=[50, 116.1720835, 3.5, np.nan, 50],
        denominator=[100, 3 * 5276.757672, 40, 100, 0],
        value_kind=["percentage", "rate", "number", "percentage", "percentage"],
        value_scale=[100, 100_000, np.nan, 100, 100],
    )
    assert lower[:2] == pytest.approx([40.200180, 63.17010446], rel=1e-5)
    assert np.isnan(lower[2:]).all()
    assert np.isnan(upper[2:]).all()


def test_funnel_limits_at_a_target_of_zero_collapse() -> None:
    assert funnel_limits(0.0, 500, "percentage", 100) == (0.0, 0.0)
    assert funnel_limits(0.0, 500, "rate", 10_000) == (0.0, 0.0)


# ---------------------------------------------------------------------------------------------
# Funnel significance


PHE_LABELS = {
    "High (0.001)": "above 99.8%",
    "High (0.025)": "above 95%",
    "Not significant": "within",
    "Low (0.025)": "below 95%",
    "Low (0.001)": "below 99.8%",
}

# PHEindicatormethods tests/testthat/testdata_funnel_prop_inputs.csv (PHE/UKHSA): numerator,
# denominator and PHE's significance against the all-area proportion (80.642448 %).
PHE_PROPORTION_SIGNIFICANCE = [
    ("New Forest PCT", 35078.4880, 41980, "High (0.001)"),
    ("Norwich PCT", 24803.6256, 31824, "Low (0.001)"),
    ("South Gloucestershire PCT", 50050.7443, 61921, "Not significant"),
    ("West Norfolk PCT", 26789.2380, 33012, "High (0.025)"),
    ("North Tees PCT", 36850.0492, 45449, "High (0.025)"),
    ("North Devon PCT", 30277.5312, 37828, "Low (0.025)"),
    ("East Devon PCT", 21139.2936, 25992, "High (0.025)"),
    ("Heywood and Middleton PCT", 14493.3552, 17964, "Not significant"),
    ("Rowley Regis and Tipton PCT", 13240.9172, 16477, "Not significant"),
    ("Wokingham PCT", 31573.5024, 39212, "Not significant"),
]


def test_funnel_significance_matches_phe_proportions() -> None:
    numerator = np.array([row[1] for row in PHE_PROPORTION_SIGNIFICANCE])
    denominator = np.array([row[2] for row in PHE_PROPORTION_SIGNIFICANCE])
    labels = funnel_significance(
        100 * numerator / denominator, denominator, 80.642448, "percentage", 100
    )
    assert list(labels) == [PHE_LABELS[row[3]] for row in PHE_PROPORTION_SIGNIFICANCE]


@pytest.mark.parametrize(
    ("kind", "target", "scale"), [("percentage", 31.0, 100), ("rate", 52.0, 1e4)]
)
def test_funnel_significance_agrees_with_funnel_limits(
    kind: str, target: float, scale: float
) -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(30, 200_000, 4000).astype(float)
    # Values spread around the target, from far inside to far outside the funnels.
    spread = rng.normal(0, 4, n.size) * np.sqrt(target * scale / n)
    value = np.clip(target + spread, 0, scale if kind == "percentage" else None)
    labels = funnel_significance(value, n, target, kind, scale)
    low95, high95 = funnel_limits(target, n, kind, scale, 0.95)
    low998, high998 = funnel_limits(target, n, kind, scale, 0.998)
    expected = np.select(
        [value > high998, value > high95, value < low998, value < low95],
        ["above 99.8%", "above 95%", "below 99.8%", "below 95%"],
        "within",
    )
    # Leave out values within a hair of a limit, where the two computations may round apart.
    limits = np.stack([low95, high95, low998, high998])
    clear = np.all(np.abs(value - limits) > 1e-9 * np.maximum(1.0, np.abs(limits)), axis=0)
    assert clear.mean() > 0.99
    assert list(labels[clear]) == list(expected[clear])
    assert set(labels) == {"above 99.8%", "above 95%", "within", "below 95%", "below 99.8%"}


def test_funnel_significance_rate_edge_cases() -> None:
    labels = funnel_significance(
        value=[0.0, 5.0, 1.0, 0.0, 2.0],
        denominator=[1000, 1000, 1000, 1000, 1000],
        target=[0.0, 0.0, 1.0, 20.0, 2.0],
        value_kind="rate",
        value_scale=1000,
    )
    # 0 events at a target of 0: equal. 5 events where none are expected: above. 1 event where
    # 1 is expected: within. 0 where 20 are expected: P(X <= 0) = e^-20, below 99.8%. Equal: within.
    assert list(labels) == ["within", "above 99.8%", "within", "below 99.8%", "within"]


def test_funnel_significance_blank_when_not_computable() -> None:
    labels = funnel_significance(
        value=[np.nan, 50.0, 50.0, 50.0, 3.2, 120.0],
        denominator=[100, 0, 100, 100, 100, 100],
        target=[50.0, 50.0, np.nan, 50.0, 3.0, 50.0],
        value_kind=["percentage", "percentage", "percentage", "rate", "number", "percentage"],
        value_scale=[100, 100, 100, np.nan, np.nan, 100],
    )
    assert list(labels) == [""] * 6


# ---------------------------------------------------------------------------------------------
# Significance against a comparator, and judgement


def test_significance_by_confidence_interval() -> None:
    labels = significance(
        value=[30.0, 30.0, 30.0, 30.0, np.nan, 30.0],
        lower=[25.0, 25.0, 25.0, 20.0, 25.0, np.nan],
        upper=[35.0, 35.0, 35.0, 35.0, 35.0, np.nan],
        comparator=[24.9, 35.1, 25.0, 30.0, 20.0, 20.0],
    )
    # Lower limit above: higher. Upper limit below: lower. Touching: similar (Fingertips needs
    # the limit strictly beyond the comparator). Contains: similar. Missing: blank.
    assert list(labels) == ["higher", "lower", "similar", "similar", "", ""]


def test_significance_of_wilson_interval_equals_funnel_position() -> None:
    # The proportion funnel is the inversion of the Wilson score test: outside the 95% funnel
    # around t exactly when the 95% Wilson interval excludes t.
    rng = np.random.default_rng(11)
    n = rng.integers(5, 5000, 3000)
    k = rng.binomial(n, 0.3)
    lower, upper = wilson_interval(k, n)
    by_interval = significance(k / n, lower * 100, upper * 100, 31.0)
    by_funnel = funnel_significance(100 * k / n, n, 31.0, "percentage", 100)
    as_direction = {"above 99.8%": "higher", "above 95%": "higher", "within": "similar"}
    as_direction |= {"below 95%": "lower", "below 99.8%": "lower"}
    assert list(by_interval) == [as_direction[label] for label in by_funnel]


@pytest.mark.parametrize(
    ("direction", "polarity", "judgement"),
    [
        ("higher", "higher_is_better", "better"),
        ("lower", "higher_is_better", "worse"),
        ("higher", "lower_is_better", "worse"),
        ("lower", "lower_is_better", "better"),
        ("similar", "higher_is_better", "similar"),
        ("similar", "context_dependent", "similar"),
        ("higher", "context_dependent", "not judged"),
        ("lower", "context_dependent", "not judged"),
        ("", "lower_is_better", ""),
        ("above 99.8%", "higher_is_better", "better"),
        ("above 95%", "lower_is_better", "worse"),
        ("within", "lower_is_better", "similar"),
        ("below 95%", "lower_is_better", "better"),
        ("below 99.8%", "context_dependent", "not judged"),
    ],
)
def test_judge_by_polarity(direction: str, polarity: str, judgement: str) -> None:
    assert list(judge([direction], [polarity])) == [judgement]


def test_judge_broadcasts_a_scalar_polarity_and_takes_the_enum() -> None:
    labels = judge(np.array(["higher", "lower", "similar", ""]), Polarity.LOWER_IS_BETTER)
    assert list(labels) == ["worse", "better", "similar", ""]


@pytest.mark.parametrize(
    ("direction", "polarity"), [("up", "higher_is_better"), ("higher", "bigger_is_better")]
)
def test_judge_rejects_unknown_labels(direction: str, polarity: str) -> None:
    with pytest.raises(ValueError, match="unknown"):
        judge([direction], [polarity])


def test_judge_rejects_a_missing_direction() -> None:
    with pytest.raises(ValueError, match="missing"):
        judge(np.array(["higher", None], dtype=object), "higher_is_better")
