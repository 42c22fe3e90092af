"""The comparison-statistics disclosure rule (privacy.groups)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privacy.groups import MIN_CONTRIBUTORS, group_statistic_allowed, group_statistics


@pytest.mark.parametrize(
    ("contributors", "viewer_contributes", "allowed"),
    [(3, False, True), (3, True, False), (4, True, True), (2, False, False), (0, False, False)],
)
def test_group_statistic_allowed(
    contributors: int, viewer_contributes: bool, allowed: bool
) -> None:
    assert MIN_CONTRIBUTORS == 3
    assert group_statistic_allowed(contributors, viewer_contributes) is allowed


def test_group_statistic_allowed_with_a_configured_minimum() -> None:
    assert group_statistic_allowed(6, True, minimum=5)
    assert not group_statistic_allowed(5, True, minimum=5)


def values() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group": ["north"] * 4 + ["south"] * 4 + ["east"],
            "area_code": ["A", "B", "C", "D", "A", "E", "F", "G", "H"],
            "value": [10.0, 20.0, 30.0, None, 1.0, 2.0, 3.0, 6.0, 5.0],
        }
    )


def test_group_statistics_for_a_reader_who_is_not_an_la() -> None:
    stats = group_statistics(values(), viewer=None).set_index("group")
    assert stats.loc["north", "n"] == 3  # D is suppressed: it does not contribute
    assert stats.loc["north", "mean"] == 20.0
    assert stats.loc["south", "median"] == 2.5
    assert (stats.loc["south", "min"], stats.loc["south", "max"]) == (1.0, 6.0)
    assert not stats.loc["east", "allowed"]
    assert np.isnan(stats.loc["east", "mean"])


def test_group_statistics_blank_groups_the_viewer_could_difference() -> None:
    stats = group_statistics(values(), viewer="A").set_index("group")
    # north: B and C besides A, 2 < 3: blanked. south: E, F, G besides A: shown.
    assert not stats.loc["north", "allowed"]
    assert stats[["mean", "median", "min", "max"]].loc["north"].isna().all()
    assert stats.loc["south", "allowed"]
    assert stats.loc["south", "mean"] == 3.0
    # A viewer outside the group changes nothing.
    assert group_statistics(values(), viewer="Z").set_index("group").loc["north", "allowed"]


def test_group_statistics_viewer_whose_own_value_is_suppressed_does_not_count() -> None:
    stats = group_statistics(values(), viewer="D").set_index("group")
    assert stats.loc["north", "allowed"]  # D contributes nothing to north: A, B, C are 3


def test_group_statistics_empty_input() -> None:
    empty = pd.DataFrame({"group": [], "area_code": [], "value": []})
    stats = group_statistics(empty, viewer="A")
    assert stats.empty
    assert list(stats.columns) == ["group", "n", "mean", "median", "min", "max", "allowed"]
