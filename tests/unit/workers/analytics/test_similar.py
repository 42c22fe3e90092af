""" "Similar challenges" sets from context variables (workers.analytics.similar)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.analytics.meta import Groups
from workers.analytics.similar import (
    CHILD_POPULATION,
    DEFAULT_SETS,
    UASC_PRESSURE,
    SimilarGroups,
    WeightSet,
    group_id,
    similar_sets,
)

A, B, C, D, E = (f"E06{n:06d}" for n in range(1, 6))


def context(values: dict[str, dict[str, float]], period: str = "2025") -> pd.DataFrame:
    """A ContextFrame from {variable: {la: value}}."""
    return pd.DataFrame(
        [
            {"la_code": la, "period": period, "variable": var, "value": value}
            for var, by_la in values.items()
            for la, value in by_la.items()
        ]
    )


# x: 0, 1, 2, 3 -> mean 1.5, population sd sqrt(1.25); z = (x - 1.5) / 1.1180
# y: 0, 0, 1, 1 -> mean 0.5, population sd 0.5;        z = -1, -1, +1, +1
FOUR = context({"x": {A: 0, B: 1, C: 2, D: 3}, "y": {A: 0, B: 0, C: 1, D: 1}})


def test_similar_sets_hand_computed_distances() -> None:
    result = similar_sets(FOUR, "2025", {"x": 1, "y": 1}, k=2)
    got = result.members.set_index(["owner", "la_code"])["distance"]
    # d(A,B) = sqrt(((-1.342 + 0.447)^2 + 0^2) / 2) = sqrt(0.8 / 2) = sqrt(0.4)
    assert got[(A, B)] == pytest.approx(math.sqrt(0.4))
    # d(A,C) = sqrt((1.789^2 + 2^2) / 2) = sqrt((3.2 + 4) / 2) = sqrt(3.6)
    assert got[(A, C)] == pytest.approx(math.sqrt(3.6))
    # d(B,C) = sqrt((0.894^2 + 2^2) / 2) = sqrt(2.4); d(B,D) = sqrt(3.6) is farther
    assert got[(B, C)] == pytest.approx(math.sqrt(2.4))
    b = result.members[result.members["owner"] == B]
    assert list(b["la_code"]) == [A, C]
    assert list(b["rank"]) == [1, 2]


def test_similar_sets_groups_follow_the_groups_contract() -> None:
    result = similar_sets(FOUR, "2025", {"x": 1, "y": 1}, k=3, name="my_set")
    groups = result.groups
    assert list(groups.columns) == ["group_id", "group_type", "owner", "la_code"]
    assert set(groups["group_type"]) == {"similar"}
    assert (groups["group_id"] == "similar:my_set:" + groups["owner"]).all()
    assert not (groups["owner"] == groups["la_code"]).any()  # an LA is not its own neighbour
    assert groups.groupby("owner").size().to_dict() == {A: 3, B: 3, C: 3, D: 3}
    SimilarGroups.validate(groups)
    Groups.validate(groups)  # the shared contract of workers.analytics.meta


def test_group_id_format() -> None:
    assert group_id("uasc_pressure", A) == f"similar:uasc_pressure:{A}"


def test_similar_sets_named_weight_set_names_the_group() -> None:
    data = context(
        {
            "uasc_per_10k": {A: 1, B: 2, C: 30, D: 31},
            "idaci_score": {A: 0.1, B: 0.2, C: 0.1, D: 0.2},
            CHILD_POPULATION: {A: 1e4, B: 2e4, C: 1e4, D: 2e4},
        }
    )
    result = similar_sets(data, "2025", UASC_PRESSURE, k=1)
    nearest = result.members.set_index("owner")["la_code"].to_dict()
    # The UASC rate carries 3/5 of the weight: the two high-UASC LAs pick each other, even
    # though A and C are identical on deprivation and size.
    assert nearest == {A: B, B: A, C: D, D: C}
    assert set(result.groups["group_id"].str.rsplit(":", n=1).str[0]) == {"similar:uasc_pressure"}


def test_similar_sets_ties_broken_by_code() -> None:
    # B is at distance 1 sd-unit from both A and C: the lower code wins the single place.
    data = context({"x": {A: 0, B: 1, C: 2}})
    result = similar_sets(data, "2025", {"x": 1}, k=1)
    assert result.members.set_index("owner").loc[B, "la_code"] == A


@pytest.mark.parametrize(
    ("weights", "nearest_to_a"),
    [
        # x: A=0, B=0, C=3; y: A=0, B=3, C=0. Weighting x picks B (same x), y picks C.
        ({"x": 10.0, "y": 1.0}, B),
        ({"x": 1.0, "y": 10.0}, C),
    ],
)
def test_similar_sets_weights_decide_the_nearest(
    weights: dict[str, float], nearest_to_a: str
) -> None:
    data = context({"x": {A: 0, B: 0, C: 3, D: 1.5}, "y": {A: 0, B: 3, C: 0, D: 1.5}})
    result = similar_sets(data, "2025", weights, k=1)
    assert result.members.set_index("owner").loc[A, "la_code"] == nearest_to_a


def test_similar_sets_distance_uses_only_shared_variables() -> None:
    # D has no y. z-scores are over the LAs with a value: x over A-D, y over A-C.
    data = context({"x": {A: 0, B: 1, C: 2, D: 3}, "y": {A: 0, B: 0, C: 1}})
    result = similar_sets(data, "2025", {"x": 1, "y": 1}, k=3, min_variables=1, min_weight_share=0)
    got = result.members.set_index(["owner", "la_code"])
    # d(C, D) over x only: |z_C - z_D| = 1 / sqrt(1.25) = 0.894, weight 1 / 1
    assert got.loc[(C, D), "distance"] == pytest.approx(1 / math.sqrt(1.25))
    assert got.loc[(C, D), "shared_variables"] == 1
    assert got.loc[(A, B), "shared_variables"] == 2


def test_similar_sets_skip_pairs_sharing_too_few_variables() -> None:
    data = context({"x": {A: 0, B: 1, C: 2, D: 3}, "y": {A: 0, B: 0, C: 1}})
    result = similar_sets(data, "2025", {"x": 1, "y": 1}, k=3)  # default: 2 shared variables
    assert D not in set(result.groups["owner"])  # D has only x: no set of its own
    assert D not in set(result.groups["la_code"])  # and is nobody's member
    assert result.groups.groupby("owner").size().to_dict() == {A: 2, B: 2, C: 2}


def test_similar_sets_skip_pairs_without_the_heavy_variable() -> None:
    # D lacks the variable carrying 3/5 of the weight: 2/5 shared < half, so not compared,
    # even though it shares 2 variables with everyone.
    weights = {"u": 3.0, "x": 1.0, "y": 1.0}
    data = context(
        {
            "u": {A: 0, B: 1, C: 2},
            "x": {A: 0, B: 1, C: 2, D: 0},
            "y": {A: 1, B: 0, C: 1, D: 1},
        }
    )
    result = similar_sets(data, "2025", weights, k=3)
    assert D not in set(result.groups["owner"]) | set(result.groups["la_code"])
    relaxed = similar_sets(data, "2025", weights, k=3, min_weight_share=0.4)
    assert D in set(relaxed.groups["owner"])  # 2/5 = 0.4 >= 0.4


@pytest.mark.parametrize(("log_scale", "nearest_to_b"), [((CHILD_POPULATION,), C), ((), A)])
def test_similar_sets_population_on_a_log_scale(
    log_scale: tuple[str, ...], nearest_to_b: str
) -> None:
    # Raw: B=10,000 is 9,000 from A and 40,000 from C. Log: ln(10000/1000) = 2.30 from A,
    # ln(50000/10000) = 1.61 from C.
    data = context({CHILD_POPULATION: {A: 1_000, B: 10_000, C: 50_000}})
    result = similar_sets(data, "2025", {CHILD_POPULATION: 1}, k=1, log_scale=log_scale)
    assert result.members.set_index("owner").loc[B, "la_code"] == nearest_to_b


def test_similar_sets_reject_non_positive_log_values() -> None:
    data = context({CHILD_POPULATION: {A: 0, B: 10, C: 20}})
    with pytest.raises(ValueError, match="positive"):
        similar_sets(data, "2025", {CHILD_POPULATION: 1})


def test_similar_sets_ignore_rows_that_are_not_las() -> None:
    with_england = pd.concat(
        [FOUR, context({"x": {"E92000001": 100.0}, "y": {"E12000001": 100.0}})]
    )
    plain = similar_sets(FOUR, "2025", {"x": 1, "y": 1})
    mixed = similar_sets(with_england, "2025", {"x": 1, "y": 1})
    pd.testing.assert_frame_equal(plain.members, mixed.members)


def test_similar_sets_read_only_the_period_asked() -> None:
    other_year = context({"x": {A: 9, B: -9, C: 0, D: 4}, "y": {A: 1, B: 2, C: 3, D: 4}}, "2024")
    both = pd.concat([FOUR, other_year])
    pd.testing.assert_frame_equal(
        similar_sets(both, "2025", {"x": 1, "y": 1}).members,
        similar_sets(FOUR, "2025", {"x": 1, "y": 1}).members,
    )
    empty = similar_sets(FOUR, "2023", {"x": 1, "y": 1})
    assert all(frame.empty for frame in empty)


def test_similar_sets_k_larger_than_the_las() -> None:
    result = similar_sets(FOUR, "2025", {"x": 1, "y": 1}, k=10)
    assert result.groups.groupby("owner").size().to_dict() == {A: 3, B: 3, C: 3, D: 3}


def test_similar_sets_explanation_shows_weights_and_z_scores() -> None:
    result = similar_sets(FOUR, "2025", {"x": 3, "y": 1, "absent": 1}, k=1, min_weight_share=0)
    expl = result.explanation.set_index(["owner", "variable"])
    assert expl.loc[(A, "x"), "weight_share"] == pytest.approx(3 / 5)
    assert expl.loc[(A, "x"), "owner_value"] == 0
    assert expl.loc[(A, "x"), "owner_z"] == pytest.approx(-1.5 / math.sqrt(1.25))
    assert expl.loc[(A, "y"), "owner_z"] == pytest.approx(-1.0)
    # A's single member is B (d = sqrt(3 x 0.8 / 4) = 0.77, vs C: sqrt((3 x 3.2 + 4) / 4) = 1.84):
    # the members' mean z is B's z.
    assert expl.loc[(A, "x"), "members_mean_z"] == pytest.approx(-0.5 / math.sqrt(1.25))
    assert expl.loc[(A, "x"), "n_las"] == 4
    # A variable nobody has is listed (so the UI can say it was not used) but not used.
    assert not expl.loc[(A, "absent"), "used"]
    assert np.isnan(expl.loc[(A, "absent"), "owner_z"])
    assert set(expl.loc[A].index) == {"x", "y", "absent"}


def test_similar_sets_variable_without_spread_is_not_used() -> None:
    data = context({"x": {A: 0, B: 1, C: 5}, "flat": {A: 2, B: 2, C: 2}})
    result = similar_sets(data, "2025", {"x": 1, "flat": 1}, min_variables=1, min_weight_share=0)
    assert not result.explanation.loc[result.explanation["variable"] == "flat", "used"].any()
    assert result.scores.loc[result.scores["variable"] == "flat", "z"].isna().all()
    assert (result.members["shared_variables"] == 1).all()


def test_similar_sets_reject_duplicate_context_rows() -> None:
    with pytest.raises(ValueError, match="more than one value"):
        similar_sets(pd.concat([FOUR, FOUR.iloc[:1]]), "2025", {"x": 1, "y": 1})


@pytest.mark.parametrize(
    "weights",
    [{}, {"x": 0.0}, {"x": -1.0, "y": 2.0}, {"x": float("nan")}],
)
def test_similar_sets_reject_bad_weights(weights: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="weight"):
        similar_sets(FOUR, "2025", weights)


@pytest.mark.parametrize("name", ["UASC", "has:colon", "", "1st"])
def test_weight_set_rejects_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        WeightSet(name=name, label="x", weights={"x": 1.0}, rationale="x")


def test_weight_set_weights_are_read_only() -> None:
    with pytest.raises(TypeError):
        UASC_PRESSURE.weights["uasc_per_10k"] = 0.0  # type: ignore[index]


def test_default_sets_are_distinct_and_explained() -> None:
    names = [s.name for s in DEFAULT_SETS]
    assert len(set(names)) == len(names)
    for s in DEFAULT_SETS:
        assert "Seed 4.5." in s.rationale
        assert all(w > 0 for w in s.weights.values())


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(-100, 100)),
            st.one_of(st.none(), st.floats(-100, 100)),
        ),
        min_size=2,
        max_size=12,
    )
)
def test_similar_sets_distances_symmetric_and_ranked(rows: list[tuple]) -> None:
    codes = [f"E06{n:06d}" for n in range(len(rows))]
    values = {
        var: {c: r[i] for c, r in zip(codes, rows, strict=True) if r[i] is not None}
        for i, var in enumerate(("x", "y"))
    }
    data = context(values)
    if data.empty:
        return
    result = similar_sets(data, "2025", {"x": 1, "y": 2}, k=len(rows), min_variables=1)
    members = result.members
    dist = members.set_index(["owner", "la_code"])["distance"]
    swapped = members.set_index(["la_code", "owner"])["distance"]
    swapped.index.names = ["owner", "la_code"]
    # With k = all LAs every comparable pair appears both ways, with the same distance.
    pd.testing.assert_series_equal(dist.sort_index(), swapped.sort_index())
    for _, group in members.groupby("owner"):
        assert group["distance"].is_monotonic_increasing
        assert list(group["rank"]) == list(range(1, len(group) + 1))
