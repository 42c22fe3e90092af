"""Differential privacy: policy, sensitivities, OpenDP noise, spend and the budget ledger."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from tables import random_table

from privacy.dp import (
    LEVELS,
    BudgetExceeded,
    DPPolicy,
    add_noise,
    check_budget,
    indicator_sensitivities,
    noise_variance,
    sensitivity,
    spend_per_area,
    total_copies,
)
from schemas.catalogue import load_catalogue

ENGLAND = "E92000001"
EVEN = dict.fromkeys(LEVELS, 1 / 3)

# A statistical test's false-alarm rate: each test below fails by chance with probability at
# most ALPHA when the code is right (two-sided normal approximation, z at 1 - ALPHA / 2).
ALPHA = 1e-6
Z_CRITICAL = 4.8916  # scipy.stats.norm.isf(ALPHA / 2)


def flat_frame(n_las: int, count: int = 0, public: bool = False) -> pd.DataFrame:
    """England, one region and ``n_las`` LAs, one indicator with a Total cell only."""
    las = [f"E06{i:06d}" for i in range(n_las)]
    rows = [("National", ENGLAND, "", count * n_las), ("Regional", "E12000001", ENGLAND, 0)]
    rows[1] = ("Regional", "E12000001", ENGLAND, count * n_las)
    rows += [("Local authority", la, "E12000001", count) for la in las]
    frame = pd.DataFrame(rows, columns=["geographic_level", "area_code", "parent_code", "count"])
    frame["indicator_id"] = "ind"
    frame["breakdown_topic"] = "Total"
    frame["breakdown"] = "Total"
    frame["measure"] = "numerator"
    frame["count"] = frame["count"].astype("int64")
    frame["public"] = public
    return frame


def london_frame() -> pd.DataFrame:
    """England -> London (E12000007) -> Inner/Outer London -> two LAs each, plus one region."""
    rows = [
        ("National", ENGLAND, "", 100),
        ("Regional", "E12000007", ENGLAND, 60),
        ("Regional", "E13000001", "E12000007", 25),
        ("Regional", "E13000002", "E12000007", 35),
        ("Regional", "E12000001", ENGLAND, 40),
        ("Local authority", "E09000001", "E13000001", 10),
        ("Local authority", "E09000007", "E13000001", 15),
        ("Local authority", "E09000002", "E13000002", 20),
        ("Local authority", "E09000003", "E13000002", 15),
        ("Local authority", "E06000001", "E12000001", 40),
    ]
    frame = pd.DataFrame(rows, columns=["geographic_level", "area_code", "parent_code", "count"])
    frame = frame.assign(
        indicator_id="ind", breakdown_topic="Total", breakdown="Total", measure="numerator"
    )
    frame["public"] = False
    return frame


# ----------------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epsilon": 0.0}, "positive"),
        ({"epsilon": math.inf}, "finite"),
        ({"mechanism": "exponential"}, "mechanism"),
        ({"level_shares": {"Local authority": 0.5, "National": 0.5}}, "keys"),
        ({"level_shares": {"Local authority": 0.5, "Regional": 0.3, "National": 0.3}}, "sum"),
        ({"level_shares": {"Local authority": 1.0, "Regional": 0.0, "National": 0.0}}, "positive"),
        ({"total_share": 1.0}, "total_share"),
    ],
)
def test_dp_policy_rejects_invalid_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DPPolicy(**kwargs)


def test_dp_policy_default_shares_sum_to_one_and_are_frozen() -> None:
    policy = DPPolicy()
    assert sum(policy.level_shares.values()) == pytest.approx(1.0)
    assert sum(policy.level_loss(level) for level in LEVELS) == pytest.approx(policy.epsilon)
    with pytest.raises(TypeError):
        policy.level_shares["National"] = 1.0  # type: ignore[index]
    assert hash(policy) == hash(DPPolicy())
    assert DPPolicy(mechanism="gaussian").measure == "rho"


# ------------------------------------------------------------------------------ sensitivity


@pytest.mark.parametrize(
    ("dims", "measures", "expected"), [(0, 1, 1), (1, 1, 2), (5, 1, 6), (5, 2, 12), (6, 2, 14)]
)
def test_sensitivity_counts_total_and_one_category_per_dimension(
    dims: int, measures: int, expected: int
) -> None:
    assert sensitivity(dims, measures) == expected


def test_sensitivity_rejects_impossible_shapes() -> None:
    with pytest.raises(ValueError, match="n_count_measures"):
        sensitivity(2, 0)


@pytest.fixture(scope="module")
def national() -> pd.DataFrame:
    """The national cells of three LAs' synthetic returns (every indicator, one period)."""
    from privacy.national import national_cells
    from schemas.reference import load_reference
    from schemas.synth import generate

    rows = generate([2025], 7, las=["840", "841", "202"])
    cells, _ = national_cells(rows, load_catalogue(), load_reference())
    return cells


def test_indicator_sensitivities_follow_the_catalogue(national: pd.DataFrame) -> None:
    catalogue = load_catalogue()
    sensitivities = indicator_sensitivities(national, catalogue)
    checked = 0
    for indicator_id, value in sensitivities.items():
        indicator = catalogue.indicators[indicator_id]
        mt = catalogue.measure_types[indicator.measure_type]
        topics = set(national.loc[national["indicator_id"] == indicator_id, "breakdown_topic"])
        if topics - {"Total"} != set(indicator.breakdowns):
            continue  # a whole breakdown missing from these returns
        if indicator.measure_type == "change_distribution":
            # The denominators of its own categories are the cohort: copies of the Total.
            own = len(indicator.required_breakdowns)
            expected = sensitivity(len(indicator.breakdowns)) + sensitivity(
                len(indicator.breakdowns) - own
            )
        else:
            expected = sensitivity(len(indicator.breakdowns), len(mt.counts))
        assert value == expected, indicator_id
        checked += 1
    assert checked > 100


def test_indicator_sensitivities_skip_public_measures() -> None:
    cells, _ = random_table(1, denominators=True)
    both = indicator_sensitivities(cells)
    cells.loc[cells["measure"] == "denominator", "public"] = True
    assert both == {"ind1": sensitivity(2, 2)}
    assert indicator_sensitivities(cells) == {"ind1": sensitivity(2, 1)}


def test_total_copies_only_where_every_child_copies(national: pd.DataFrame) -> None:
    ind = "t5_self_harm_change"
    frame = national.loc[national["indicator_id"] == ind].reset_index(drop=True)
    copies = total_copies(frame)
    own = (frame["measure"] == "denominator") & (frame["breakdown_topic"] == "change_direction")
    assert not copies[~own.to_numpy()].any()
    # Copies equal their Total on the true counts.
    totals = frame.loc[frame["breakdown_topic"] == "Total"].set_index(["area_code", "measure"])
    copied = frame.loc[copies]
    expected = totals.loc[list(zip(copied["area_code"], copied["measure"], strict=True)), "count"]
    assert (copied["count"].to_numpy() == expected.to_numpy()).all()
    # Remove one LA's Total denominator: it and every area above it stop being copies.
    la = frame.loc[frame["geographic_level"] == "Local authority", "area_code"].iloc[0]
    drop = (frame["area_code"] == la) & (frame["measure"] == "denominator")
    drop &= frame["breakdown_topic"] == "Total"
    fewer = frame.loc[~drop].reset_index(drop=True)
    still = total_copies(fewer)
    lost = fewer.loc[~still & (fewer["breakdown_topic"] == "change_direction")]
    lost = lost.loc[lost["measure"] == "denominator", "area_code"]
    assert {la, ENGLAND} <= set(lost)


# ------------------------------------------------------------------------------------ noise


def test_add_noise_draws_fresh_noise_on_every_call() -> None:
    cells, _ = random_table(3, regions=(4, 4), denominators=True)
    sens = indicator_sensitivities(cells)
    first = add_noise(cells, DPPolicy(), sens)
    second = add_noise(cells, DPPolicy(), sens)
    assert first["noisy"].dtype == np.int64
    # Noise is not a function of the input: two calls differ (the caller must store it).
    assert (first["noisy"] != second["noisy"]).any()
    assert (first["noisy"] != first["count"]).any()
    assert first[list(cells.columns)].equals(cells)  # the input columns are untouched


def test_add_noise_leaves_public_cells_exact() -> None:
    cells, _ = random_table(4, denominators=True)
    cells.loc[cells["measure"] == "denominator", "public"] = True
    noisy = add_noise(cells, DPPolicy(), indicator_sensitivities(cells))
    public = noisy["public"].to_numpy(bool)
    assert (noisy.loc[public, "noisy"] == noisy.loc[public, "count"]).all()
    assert (noisy.loc[public, "noise_variance"] == 0).all()
    assert (noisy.loc[~public, "noise_variance"] > 0).all()


def test_add_noise_derives_london_from_inner_and_outer_london() -> None:
    noisy = add_noise(london_frame(), DPPolicy(), {"ind": 1})
    value = dict(zip(noisy["area_code"], noisy["noisy"], strict=True))
    variance = dict(zip(noisy["area_code"], noisy["noise_variance"], strict=True))
    assert value["E12000007"] == value["E13000001"] + value["E13000002"]
    assert variance["E12000007"] == pytest.approx(2 * variance["E13000001"])
    # London is not measured, so its LAs are charged the regional share once.
    spend = spend_per_area(london_frame(), DPPolicy())
    assert spend["epsilon"].to_numpy() == pytest.approx(DPPolicy().epsilon)


def test_add_noise_copies_its_total_into_own_category_denominators(
    national: pd.DataFrame,
) -> None:
    frame = national.loc[national["indicator_id"] == "t5_self_harm_change"]
    noisy = add_noise(frame, DPPolicy(), indicator_sensitivities(frame))
    copies = noisy.loc[noisy["copy_of_total"]]
    assert len(copies) > 0
    totals = noisy.loc[noisy["breakdown_topic"] == "Total"].set_index(["area_code", "measure"])
    source = totals.loc[list(zip(copies["area_code"], copies["measure"], strict=True)), "noisy"]
    assert (copies["noisy"].to_numpy() == source.to_numpy()).all()
    assert noisy["own_category"].sum() >= len(copies)


def test_add_noise_requires_a_sensitivity_for_every_noised_indicator() -> None:
    with pytest.raises(KeyError, match="ind"):
        add_noise(flat_frame(3), DPPolicy(), {})


def _discrete_laplace_moments(scale: float) -> tuple[float, float]:
    """Variance and fourth central moment of P(k) proportional to exp(-|k| / scale)."""
    k = np.arange(-int(80 * scale) - 50, int(80 * scale) + 51, dtype=float)
    p = np.exp(-np.abs(k) / scale)
    p /= p.sum()
    return float((p * k**2).sum()), float((p * k**4).sum())


@pytest.mark.parametrize("epsilon", [1.0, 0.25])
def test_add_noise_scale_matches_the_configured_epsilon(epsilon: float) -> None:
    """The sample variance of the noise is that of discrete Laplace(sensitivity / ε_level).

    Test: z = (s² - σ²) / sqrt((μ4 - σ⁴) / n), asymptotically standard normal for the sample
    variance s² of n iid draws (σ², μ4 the exact moments of the configured distribution);
    |z| <= 4.89 fails with probability 1e-6 when the scale is right. A scale off by 5% moves
    the variance by ~10%, about 6 standard errors at n = 60 000, so the test has power (checked
    below against the moments of the wrong scale).
    """
    n = 60_000
    policy = DPPolicy(epsilon=epsilon)
    noisy = add_noise(flat_frame(n), policy, {"ind": 1})
    la = noisy["geographic_level"] == "Local authority"
    noise = (noisy.loc[la, "noisy"] - noisy.loc[la, "count"]).to_numpy(float)
    loss = policy.level_loss("Local authority")
    variance, fourth = _discrete_laplace_moments(1 / loss)
    assert noise_variance("laplace", loss, 1) == pytest.approx(variance, rel=1e-9)
    z = (noise.var() - variance) / math.sqrt((fourth - variance**2) / n)
    assert abs(z) <= Z_CRITICAL
    # The mean is 0 (z-test with the same false-alarm rate).
    assert abs(noise.mean()) / math.sqrt(variance / n) <= Z_CRITICAL
    # Power: the same statistic against a 5% larger scale is far out.
    wrong, wrong_fourth = _discrete_laplace_moments(1.05 / loss)
    assert abs((noise.var() - wrong) / math.sqrt((wrong_fourth - wrong**2) / n)) > Z_CRITICAL
    # Regions and England are measured with their own shares (one cell each here).
    for level in ("Regional", "National"):
        cell = noisy.loc[noisy["geographic_level"] == level, "noise_variance"]
        assert cell.to_numpy() == pytest.approx(
            noise_variance("laplace", policy.level_loss(level), 1)
        )


def test_add_noise_gaussian_scale_matches_the_configured_rho() -> None:
    """zCDP: sigma² = Δ2² / (2 ρ_level); same test as the Laplace one (Gaussian μ4 = 3σ⁴)."""
    n = 40_000
    policy = DPPolicy(epsilon=0.5, mechanism="gaussian")
    noisy = add_noise(flat_frame(n), policy, {"ind": 1})
    la = noisy["geographic_level"] == "Local authority"
    noise = (noisy.loc[la, "noisy"] - noisy.loc[la, "count"]).to_numpy(float)
    variance = 1 / (2 * policy.level_loss("Local authority"))
    assert noise_variance("gaussian", policy.level_loss("Local authority"), 1) == pytest.approx(
        variance
    )
    z = (noise.var() - variance) / math.sqrt(2 * variance**2 / n)
    assert abs(z) <= Z_CRITICAL


def test_add_noise_splits_a_level_between_total_and_topics() -> None:
    """With ``total_share`` the Total part and the topic parts have their own scales, and the
    parts' losses add up to the level's share."""
    cells, _ = random_table(5, denominators=True)  # 2 topics, 2 measures: parts of sens 2
    policy = DPPolicy(total_share=0.2)
    noisy = add_noise(cells, policy, indicator_sensitivities(cells))
    la = noisy.loc[noisy["geographic_level"] == "Local authority"]
    loss = policy.level_loss("Local authority")
    total = la.loc[la["breakdown_topic"] == "Total", "noise_variance"].unique()
    topic = la.loc[la["breakdown_topic"] != "Total", "noise_variance"].unique()
    assert total == pytest.approx([noise_variance("laplace", 0.2 * loss, 2)])
    assert topic == pytest.approx([noise_variance("laplace", 0.4 * loss, 2)])
    uniform = add_noise(cells, DPPolicy(total_share=None), indicator_sensitivities(cells))
    expected = noise_variance("laplace", loss, sensitivity(2, 2))
    lav = uniform.loc[uniform["geographic_level"] == "Local authority", "noise_variance"]
    assert lav.to_numpy() == pytest.approx(expected)


# ------------------------------------------------------------------------- spend and ledger


def test_spend_per_area_charges_each_la_epsilon_per_indicator(national: pd.DataFrame) -> None:
    policy = DPPolicy(epsilon=0.7)
    spend = spend_per_area(national, policy)
    las = set(national.loc[national["geographic_level"] == "Local authority", "area_code"])
    assert set(spend["area_code"]) == las
    assert spend["epsilon"].to_numpy() == pytest.approx(0.7)
    assert not spend.duplicated(["area_code", "indicator_id"]).any()


def test_spend_per_area_skips_public_only_indicators() -> None:
    assert spend_per_area(flat_frame(3, public=True), DPPolicy()).empty
    spend = spend_per_area(flat_frame(3), DPPolicy(epsilon=2.0))
    assert spend["epsilon"].to_numpy() == pytest.approx(2.0)


def charge(areas: list[str], indicators: list[str], epsilon: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        [(a, i, epsilon) for a in areas for i in indicators],
        columns=["area_code", "indicator_id", "epsilon"],
    )


def test_check_budget_accepts_a_release_within_budget() -> None:
    spent = charge(["E06000001"], ["a"], 2.0)
    entries = check_budget(charge(["E06000001", "E06000002"], ["a", "b"]), spent, 4.0, "2025")
    assert len(entries) == 4
    assert set(entries["period"]) == {"2025"}
    before = entries.set_index(["area_code", "indicator_id"])["spent_before"]
    assert before[("E06000001", "a")] == 2.0
    assert before[("E06000002", "b")] == 0.0


def test_check_budget_accepts_spending_exactly_the_budget() -> None:
    spent = pd.concat([charge(["E06000001"], ["a"], 0.1)] * 9)
    assert len(check_budget(charge(["E06000001"], ["a"], 0.1), spent, 1.0, "2025")) == 1


def test_check_budget_refuses_and_names_la_indicator_period_and_amounts() -> None:
    spent = charge(["E06000001"], ["t3_referrals_nfa"], 3.5)
    with pytest.raises(BudgetExceeded) as refused:
        check_budget(
            charge(["E06000001", "E06000002"], ["t3_referrals_nfa"]),
            spent,
            {"E06000001": 4.0, "E06000002": 4.0},
            "Reporting year 2025",
        )
    message = str(refused.value)
    for part in (
        "E06000001",
        "t3_referrals_nfa",
        "Reporting year 2025",
        "requested epsilon 1",
        "already spent 3.5",
        "budget 4",
    ):
        assert part in message
    assert "E06000002" not in message  # within its budget
    assert refused.value.refusals[["requested", "spent", "budget"]].iloc[0].tolist() == [
        1.0,
        3.5,
        4.0,
    ]


def test_check_budget_fails_closed_without_a_budget() -> None:
    with pytest.raises(BudgetExceeded, match="budget 0"):
        check_budget(charge(["E06000009"], ["a"]), None, {"E06000001": 4.0}, "2025")


def test_check_budget_composes_indicators_when_the_budget_is_per_la() -> None:
    release = charge(["E06000001"], ["a", "b", "c"])
    assert len(check_budget(release, {"E06000001": 1.0}, 4.0, "2025", per_indicator=False)) == 3
    with pytest.raises(BudgetExceeded, match="a, b, c"):
        check_budget(release, {"E06000001": 1.5}, 4.0, "2025", per_indicator=False)


def test_check_budget_tracks_rho_for_the_gaussian_mechanism() -> None:
    release = charge(["E06000001"], ["a"], 0.3)
    assert len(check_budget(release, None, 0.5, "2025", measure="rho")) == 1
    with pytest.raises(BudgetExceeded, match=r"requested rho 0\.3"):
        check_budget(release, charge(["E06000001"], ["a"], 0.3), 0.5, "2025", measure="rho")


def test_spend_then_check_budget_on_a_release(national: pd.DataFrame) -> None:
    spend = spend_per_area(national, DPPolicy())
    entries = check_budget(spend, None, 4.0, "2025")
    assert len(entries) == len(spend)
    with pytest.raises(BudgetExceeded):
        check_budget(spend, spend.assign(epsilon=3.5), 4.0, "2025")


def test_measured_own_category_denominators_count_every_category(
    national: pd.DataFrame,
) -> None:
    """A change distribution's own-category denominators are the cohort: where they are
    measured (an LA without its Total), a person is in all of them."""
    catalogue = load_catalogue()
    ind = catalogue.indicators["t5_self_harm_change"]
    dims = len(ind.breakdowns)
    frame = national.loc[national["indicator_id"] == ind.id].reset_index(drop=True)
    copied = sensitivity(dims) + sensitivity(dims - 1)
    assert indicator_sensitivities(frame) == {ind.id: copied}
    la = frame.loc[frame["geographic_level"] == "Local authority", "area_code"].iloc[0]
    drop = (frame["area_code"] == la) & (frame["measure"] == "denominator")
    drop &= frame["breakdown_topic"] == "Total"
    measured = indicator_sensitivities(frame.loc[~drop])
    assert measured == {ind.id: copied + len(catalogue.breakdowns["change_direction"].values)}
    with pytest.raises(ValueError, match="below"):
        add_noise(frame.loc[~drop], DPPolicy(), {ind.id: copied})
