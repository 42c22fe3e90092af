"""The whole comparison recompute (workers.analytics.pipeline) on the project's synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privacy.groups import MIN_CONTRIBUTORS
from schemas.catalogue import load_catalogue
from schemas.reference import load_reference
from schemas.synth import generate
from workers.analytics import comparisons, pipeline
from workers.analytics.comparisons import compare
from workers.analytics.meta import KEY, indicator_meta
from workers.analytics.pipeline import run_comparisons, standard_groups

CELL = ["indicator_id", "period", "breakdown_topic", "breakdown"]


@pytest.fixture(scope="module")
def inputs() -> tuple[pd.DataFrame, ...]:
    # Two regions' LAs, three indicators, 2024 and 2025: the neighbour list changes between
    # them (2021 edition for 2024, 2025 edition for 2025).
    reference = load_reference()
    catalogue = load_catalogue()
    rows = generate(periods=[2024, 2025], seed=3)
    keep_regions = {"E12000001", "E12000007"}
    codes = reference.las.loc[reference.las["region_code"].isin(keep_regions), "new_la_code"]
    indicators = sorted(rows["indicator_id"].unique())[:3]
    rows = rows[rows["new_la_code"].isin(set(codes)) & rows["indicator_id"].isin(indicators)]
    raw = pd.DataFrame(
        {
            "la_code": rows["new_la_code"],
            "indicator_id": rows["indicator_id"],
            "period": rows["time_period"].astype(str),
            "breakdown_topic": rows["breakdown_topic"],
            "breakdown": rows["breakdown"],
            **{
                c: pd.to_numeric(rows[c], errors="coerce")
                for c in ("value", "numerator", "denominator")
            },
        }
    ).reset_index(drop=True)
    protected = raw.copy()
    small = protected["numerator"].between(1, 5) | protected["denominator"].between(1, 5)
    protected.loc[small, ["value", "numerator", "denominator"]] = np.nan
    england = raw.groupby(CELL, as_index=False)["value"].mean().rename(columns={"value": "england"})
    groups = standard_groups(reference, sorted(raw["la_code"].unique()))
    return raw, protected, england, groups, indicator_meta(catalogue)


def test_run_comparisons_gives_every_la_its_own_rows(inputs) -> None:  # type: ignore[no-untyped-def]
    raw, protected, england, groups, meta = inputs
    out = run_comparisons(raw, protected, england, groups, meta)
    assert len(out.per_la) == len(raw)
    merged = out.per_la.merge(raw, on=KEY, suffixes=("", "_raw"))
    # Each LA's row carries its own raw value, never a protected stand-in.
    np.testing.assert_array_equal(merged["value"].to_numpy(), merged["value_raw"].to_numpy())
    assert set(out.outcomes["la_code"]) == set(raw["la_code"])


def test_run_comparisons_neighbour_mean_uses_the_period_edition(inputs) -> None:  # type: ignore[no-untyped-def]
    raw, protected, england, groups, meta = inputs
    out = run_comparisons(raw, protected, england, groups, meta)
    ids = out.per_group.loc[out.per_group["group_type"] == "neighbours", ["period", "group_id"]]
    editions = ids.assign(edition=ids["group_id"].str.split(":").str[1]).drop_duplicates()
    assert set(editions.loc[editions["period"] == "2024", "edition"]) == {"2021"}
    assert set(editions.loc[editions["period"] == "2025", "edition"]) == {"2025"}


def test_run_comparisons_neighbour_mean_is_the_protected_mean(inputs) -> None:  # type: ignore[no-untyped-def]
    raw, protected, england, groups, meta = inputs
    out = run_comparisons(raw, protected, england, groups, meta)
    row = out.per_la.loc[out.per_la["neighbours_n"] > MIN_CONTRIBUTORS].iloc[0]
    edition = "2025" if row["period"] == "2025" else "2021"
    members = groups.loc[groups["group_id"] == f"neighbours:{edition}:{row['la_code']}", "la_code"]
    cell = (protected[CELL] == row[CELL]).all(axis=1) & protected["la_code"].isin(members)
    expected = protected.loc[cell, "value"].dropna()
    assert row["neighbours_n"] == len(expected)
    assert row["neighbours_mean"] == pytest.approx(expected.mean())


def test_run_comparisons_judges_only_with_an_interval(inputs) -> None:  # type: ignore[no-untyped-def]
    raw, protected, england, groups, meta = inputs
    out = run_comparisons(raw, protected, england, groups, meta)
    judged = out.per_la["vs_england"].isin(["better", "worse", "similar"])
    assert judged.any()
    assert out.per_la.loc[judged, "lower"].notna().all()
    assert out.per_la.loc[out.per_la["lower"].isna(), "vs_england"].eq("").all()


def test_standard_groups_put_london_las_in_their_subregion() -> None:
    reference = load_reference()
    groups = standard_groups(reference, ["E09000001", "E09000002", "E06000001"])
    regions = groups.loc[groups["group_type"] == "region"].set_index("la_code")["group_id"]
    assert regions["E09000001"] == "region:E13000001"
    assert regions["E09000002"] == "region:E13000002"
    assert regions["E06000001"] == "region:E12000001"


def _strings(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its categorical columns as strings (categories differ between a whole
    run and one range of it; the values must not)."""
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(categorical, str)).reset_index(drop=True)


@pytest.mark.parametrize("chunk", [None, 7])
def test_run_comparisons_is_compare_range_by_range(inputs, chunk, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The pipeline codes the key columns once and writes its rows chunk by chunk (chunk=7:
    # many chunks, split mid-LA); its figures must be exactly compare()'s on each range of
    # periods: 2024 with the 2021 neighbour list, 2025 with the 2025 list (and 2024's values
    # for the change).
    if chunk:
        monkeypatch.setattr(pipeline, "_ROW_CHUNK", chunk)
        monkeypatch.setattr(comparisons, "_ROW_CHUNK", chunk)
    raw, protected, england, groups, meta = inputs
    out = run_comparisons(raw, protected, england, groups, meta)
    for year in (2024, 2025):
        applies = (groups["period_from"] <= year) & (groups["period_to"] >= year)
        chosen = groups.loc[applies].drop(columns=["period_from", "period_to"])
        periods = [str(year - 1), str(year)]
        per_la, per_group = compare(
            raw.loc[raw["period"].isin(periods)].reset_index(drop=True),
            protected.loc[protected["period"].isin(periods)].reset_index(drop=True),
            chosen.reset_index(drop=True),
            meta,
        )
        period = str(year)
        got = out.per_la.loc[out.per_la["period"] == period, list(per_la.columns)]
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True),
            per_la.loc[per_la["period"] == period].reset_index(drop=True),
        )
        pd.testing.assert_frame_equal(
            _strings(out.per_group.loc[out.per_group["period"] == period]),
            _strings(per_group.loc[per_group["period"] == period]),
        )


def test_run_comparisons_neighbour_figures_are_the_viewers_group_row(inputs) -> None:  # type: ignore[no-untyped-def]
    raw, protected, england, groups, meta = inputs
    out = run_comparisons(raw, protected, england, groups, meta)
    own = _strings(out.per_group.loc[out.per_group["group_type"] == "neighbours"])
    merged = out.per_la.merge(own, on=KEY, how="left", validate="one_to_one")
    # No neighbour row for the cell: 0 contributors and no figure.
    np.testing.assert_array_equal(merged["neighbours_n"], merged["n"].fillna(0))
    np.testing.assert_array_equal(merged["neighbours_mean"], merged["mean"])
    np.testing.assert_array_equal(merged["neighbours_median"], merged["median"])
    assert merged["n"].notna().any()


def test_run_comparisons_rejects_two_neighbour_groups_of_one_viewer(inputs) -> None:  # type: ignore[no-untyped-def]
    raw, protected, england, groups, meta = inputs
    twin = groups.loc[groups["group_type"] == "neighbours"]
    twin = twin.assign(group_id=twin["group_id"] + ":twin")
    with pytest.raises(ValueError, match="two neighbours groups"):
        run_comparisons(raw, protected, england, pd.concat([groups, twin]), meta)
