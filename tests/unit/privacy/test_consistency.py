"""Consistency post-processing: non-negative integers that add up, deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tables import random_table

from privacy.consistency import (
    _flow_round,
    _least_squares,
    _parent_rows,
    _Table,
    _tree,
    make_consistent,
)
from privacy.dp import DPPolicy, add_noise, indicator_sensitivities

KEY = ["indicator_id", "breakdown_topic", "breakdown", "measure"]
ENGLAND = "E92000001"


def noisy_table(seed: int, epsilon: float = 1.0, **table: object) -> tuple[pd.DataFrame, frozenset]:
    cells, structure = random_table(seed, **table)  # type: ignore[arg-type]
    policy = DPPolicy(epsilon=epsilon)
    return add_noise(cells, policy, indicator_sensitivities(cells)), structure.additive_topics


def geography_violations(out: pd.DataFrame) -> int:
    """Parent cells that differ from the sum of their children's cells present."""
    kids = out.loc[out["parent_code"] != ""].groupby(["parent_code", *KEY])["consistent"].sum()
    parents = out.set_index(["area_code", *KEY])["consistent"]
    parents.index = parents.index.set_names(["parent_code", *KEY])
    both = pd.concat([parents.rename("parent"), kids.rename("kids")], axis=1, join="inner")
    return int((both["parent"] != both["kids"]).sum())


def breakdown_violations(out: pd.DataFrame, topics: frozenset) -> int:
    """(area, measure, topic) whose categories do not sum to the Total, where they do in truth."""
    group = ["area_code", "indicator_id", "measure"]
    totals = out.loc[out["breakdown_topic"] == "Total"].set_index(group)[["consistent", "count"]]
    cats = out.loc[out["breakdown_topic"].isin(list(topics))]
    sums = cats.groupby([*group, "breakdown_topic"])[["consistent", "count"]].sum().reset_index()
    joined = sums.merge(totals.reset_index(), on=group, suffixes=("", "_total"))
    holds = joined["count"] == joined["count_total"]
    return int((joined.loc[holds, "consistent"] != joined.loc[holds, "consistent_total"]).sum())


def bound_violations(
    out: pd.DataFrame, small: str = "numerator", large: str = "denominator"
) -> int:
    cell = ["area_code", "indicator_id", "breakdown_topic", "breakdown"]
    a = out.loc[out["measure"] == small, [*cell, "consistent"]]
    b = out.loc[out["measure"] == large, [*cell, "consistent"]]
    joined = a.merge(b, on=cell, suffixes=("", "_large"))
    return int((joined["consistent"] > joined["consistent_large"]).sum())


def assert_consistent(out: pd.DataFrame, topics: frozenset) -> None:
    assert out["consistent"].dtype == np.int64
    assert (out["consistent"] >= 0).all()
    assert geography_violations(out) == 0
    assert breakdown_violations(out, topics) == 0
    assert bound_violations(out) == 0


# ---------------------------------------------------------------------------- properties


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    regions=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    epsilon=st.sampled_from([0.1, 1.0, 10.0]),
    denominators=st.booleans(),
)
def test_make_consistent_gives_non_negative_integers_with_exact_sums(
    seed: int, regions: list[int], epsilon: float, denominators: bool
) -> None:
    noisy, topics = noisy_table(
        seed, epsilon, regions=tuple(regions), denominators=denominators, small_share=0.7
    )
    out = make_consistent(noisy, topics)
    assert_consistent(out, topics)
    assert len(out) == len(noisy)


def test_make_consistent_is_deterministic_on_stored_noise() -> None:
    """Noise is drawn once and stored; re-deriving the release from it gives the same counts."""
    noisy, topics = noisy_table(11, regions=(5, 4, 6), denominators=True)
    stored = noisy.copy()
    first = make_consistent(noisy, topics)
    second = make_consistent(stored, topics)
    assert first["consistent"].equals(second["consistent"])
    assert noisy.equals(stored)  # the input is not modified


def test_make_consistent_sums_london_through_inner_and_outer_london() -> None:
    cells, structure = random_table(12, regions=(3, 3, 2, 2), denominators=True)
    # Region 3 -> Inner London, region 4 -> Outer London, both under London.
    rename = {"E12000003": "E13000001", "E12000004": "E13000002"}
    cells["area_code"] = cells["area_code"].replace(rename)
    cells["parent_code"] = cells["parent_code"].replace(rename)
    subregion = cells["area_code"].isin(rename.values())
    cells.loc[subregion, "parent_code"] = "E12000007"
    london = cells.loc[subregion].groupby(KEY, as_index=False)["count"].sum()
    london = london.assign(
        geographic_level="Regional", area_code="E12000007", parent_code=ENGLAND, public=False
    )
    cells = pd.concat([cells, london[cells.columns]], ignore_index=True)
    noisy = add_noise(cells, DPPolicy(), indicator_sensitivities(cells))
    out = make_consistent(noisy, structure.additive_topics)
    assert_consistent(out, structure.additive_topics)
    assert (out["area_code"] == "E12000007").sum() == len(london)


def test_make_consistent_keeps_public_cells() -> None:
    cells, structure = random_table(13, regions=(4, 4), denominators=True)
    cells.loc[cells["measure"] == "denominator", "public"] = True
    noisy = add_noise(cells, DPPolicy(), indicator_sensitivities(cells))
    out = make_consistent(noisy, structure.additive_topics)
    public = out["public"].to_numpy(bool)
    assert (out.loc[public, "consistent"] == out.loc[public, "count"]).all()
    assert_consistent(out, structure.additive_topics)


def test_make_consistent_with_a_missing_category_keeps_geography_and_bounds() -> None:
    """An LA without one category row: its Total = sum relation (and its region's and
    England's) does not exist; everything that does exist still holds."""
    noisy, topics = noisy_table(14, regions=(4, 5), denominators=True, small_share=0.0)
    la = noisy.loc[noisy["geographic_level"] == "Local authority", "area_code"].iloc[0]
    gone = (noisy["area_code"] == la) & (noisy["breakdown"] == "age_band_2")
    # The region and England sum the categories present.
    removed = noisy.loc[gone].set_index(["measure"])["count"]
    parent = noisy.loc[noisy["area_code"] == la, "parent_code"].iloc[0]
    for area in (parent, ENGLAND):
        for measure, value in removed.items():
            at = (noisy["area_code"] == area) & (noisy["breakdown"] == "age_band_2")
            at &= noisy["measure"] == measure
            noisy.loc[at, "count"] -= value
    out = make_consistent(noisy.loc[~gone], topics)
    assert_consistent(out, topics)


def test_make_consistent_improves_small_counts() -> None:
    """Non-negativity and the sums pull noisy small counts towards the truth."""
    noisy, topics = noisy_table(15, epsilon=0.5, regions=(8, 8, 8), small_share=1.0)
    out = make_consistent(noisy, topics)
    la = out["geographic_level"] == "Local authority"
    raw = (out.loc[la, "noisy"] - out.loc[la, "count"]).abs().mean()
    ours = (out.loc[la, "consistent"] - out.loc[la, "count"]).abs().mean()
    assert ours < 0.8 * raw


def test_make_consistent_copies_totals_into_own_category_denominators() -> None:
    from privacy.national import national_cells
    from schemas.catalogue import load_catalogue
    from schemas.reference import load_reference
    from schemas.synth import generate

    catalogue = load_catalogue()
    rows = generate([2025], 3, las=["840", "841", "805"])
    rows = rows.loc[rows["indicator_id"] == "t5_exclusions_change"]
    cells, structure = national_cells(rows, catalogue, load_reference())
    noisy = add_noise(cells, DPPolicy(), indicator_sensitivities(cells))
    out = make_consistent(noisy, structure.additive_topics)
    assert (out["consistent"] >= 0).all()
    assert geography_violations(out) == 0
    copies = out.loc[out["copy_of_total"]]
    totals = out.loc[out["breakdown_topic"] == "Total"].set_index(["area_code", "measure"])
    total = totals.loc[list(zip(copies["area_code"], copies["measure"], strict=True))]
    assert (copies["consistent"].to_numpy() == total["consistent"].to_numpy()).all()
    assert bound_violations(out) == 0


# --------------------------------------------------------------------------- least squares


def test_least_squares_matches_the_closed_form() -> None:
    """One parent with two children (Total cells only): the weighted least-squares estimate
    under parent = child1 + child2, against the textbook formula."""
    cells = pd.DataFrame(
        {
            "geographic_level": ["Regional", "Local authority", "Local authority"],
            "area_code": ["E12000001", "E06000001", "E06000002"],
            "parent_code": ["", "E12000001", "E12000001"],
        }
    )
    tree = _tree(cells)
    y = np.array([30.0, 12.0, 14.0])
    variance = np.array([1.0, 4.0, 9.0])
    tab = _Table(
        table=np.zeros(3, dtype=np.int64),
        area=np.array([list(tree.code).index(c) for c in cells["area_code"]]),
        cell=np.zeros(3, dtype=np.int64),
        topic=np.full(3, -1),
        total=np.ones(3, dtype=bool),
        fixed=np.zeros(3, dtype=bool),
        y=y,
    )
    x = _least_squares(tab, variance, tree, _parent_rows(tab, tree), pd.Series(dtype=bool))
    a = np.array([[1.0, -1.0, -1.0]])
    d = np.diag(variance)
    expected = y - d @ a.T @ np.linalg.solve(a @ d @ a.T, a @ y)
    assert x == pytest.approx(expected)
    assert x[0] == pytest.approx(x[1] + x[2])


def test_make_consistent_requires_noise_variances() -> None:
    noisy, topics = noisy_table(16)
    noisy["noise_variance"] = 0.0
    with pytest.raises(ValueError, match="noise_variance"):
        make_consistent(noisy, topics)


# ----------------------------------------------------------------------- controlled rounding


def _round_table(
    x: np.ndarray, rows: np.ndarray, cols: np.ndarray, upper: np.ndarray | None = None
) -> np.ndarray:
    """Round the matrix ``x`` so its rows sum to ``rows`` and its columns to ``cols``."""
    n_rows, n_cols = x.shape
    row = np.repeat(np.arange(n_rows), n_cols)
    col = np.tile(np.arange(n_cols), n_rows)
    out = _flow_round(
        x.ravel(),
        row,
        rows,
        col,
        cols,
        np.zeros(x.size, dtype=np.int64),
        1,
        np.zeros(n_rows, dtype=bool),
        np.full(x.size, np.inf) if upper is None else upper.ravel(),
    )
    return out.reshape(x.shape)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_rows=st.integers(1, 8), n_cols=st.integers(1, 8))
def test_flow_round_stays_within_one_unit_and_meets_both_margins(
    seed: int, n_rows: int, n_cols: int
) -> None:
    rng = np.random.default_rng(seed)
    integer = rng.integers(0, 20, size=(n_rows, n_cols))
    # A real table with those integer margins: move mass around cycles of four cells.
    x = integer.astype(float)
    for _ in range(10):
        if n_rows < 2 or n_cols < 2:
            break
        r, c = rng.choice(n_rows, 2, replace=False), rng.choice(n_cols, 2, replace=False)
        step = rng.uniform(0, min(x[r[0], c[0]], x[r[1], c[1]]))
        x[r[0], c[0]] -= step
        x[r[1], c[1]] -= step
        x[r[0], c[1]] += step
        x[r[1], c[0]] += step
    out = _round_table(x, integer.sum(1), integer.sum(0))
    assert (out.sum(1) == integer.sum(1)).all()
    assert (out.sum(0) == integer.sum(0)).all()
    assert (np.abs(out - x) < 1).all()


def test_flow_round_meets_margins_the_real_table_misses() -> None:
    """The second pass: margins the real values are far from are still met exactly."""
    x = np.array([[0.2, 3.7, 1.0], [2.5, 0.0, 4.4]])
    out = _round_table(x, np.array([9, 4]), np.array([5, 2, 6]))
    assert out.sum(1).tolist() == [9, 4]
    assert out.sum(0).tolist() == [5, 2, 6]
    assert (out >= 0).all()


def test_flow_round_respects_upper_bounds() -> None:
    x = np.array([[2.6, 1.4], [1.4, 2.6]])
    upper = np.array([[2, 9], [9, 9]], dtype=float)
    out = _round_table(x, np.array([4, 4]), np.array([4, 4]), upper)
    assert out[0, 0] <= 2
    assert out.sum(1).tolist() == [4, 4]
    assert out.sum(0).tolist() == [4, 4]


def test_flow_round_frees_row_sums_only_when_no_table_meets_them() -> None:
    """Row 0 lacks the cell of column 1 (structurally absent) but must sum to 5 while
    column 0 only has 2: no table exists, so the row sums are freed; columns stay exact."""
    x = np.array([1.0, 1.0, 3.0])
    row = np.array([0, 1, 1])
    col = np.array([0, 0, 1])
    out = _flow_round(
        x,
        row,
        np.array([5, 5]),
        col,
        np.array([2, 3]),
        np.zeros(3, dtype=np.int64),
        1,
        np.zeros(2, dtype=bool),
        np.full(3, np.inf),
    )
    assert out[0] + out[1] == 2
    assert out[2] == 3
    assert (out >= 0).all()
