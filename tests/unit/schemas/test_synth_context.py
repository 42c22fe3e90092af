"""The synthetic context dataset (schemas.synth.context): every LA, reproducible, plausible, and
valid in the context file format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schemas.context import CONTEXT_VARIABLES, context_columns, read_context
from schemas.reference import load_reference
from schemas.synth import context
from schemas.synth.context import GATEWAY_LAS, RECEIVING_LAS

SEED = 20261126
YEARS = [2022, 2023, 2024, 2025]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return context(SEED, YEARS)


@pytest.fixture(scope="module")
def latest(frame: pd.DataFrame) -> pd.DataFrame:
    """The latest year, numbers, indexed by old LA code."""
    rows = frame[frame["time_period"] == str(YEARS[-1])].set_index("old_la_code")
    return rows[list(CONTEXT_VARIABLES)].apply(pd.to_numeric)


def test_context_same_seed_same_rows(frame: pd.DataFrame) -> None:
    assert context(SEED, YEARS).equals(frame)


def test_context_different_seed_differs(frame: pd.DataFrame) -> None:
    other = context(SEED + 1, YEARS)
    assert not other["spend_per_child"].equals(frame["spend_per_child"])
    # The child population is real, so it does not depend on the seed.
    assert other["child_population"].equals(frame["child_population"])


def test_context_a_period_does_not_depend_on_the_others(frame: pd.DataFrame) -> None:
    alone = context(SEED, [2024]).reset_index(drop=True)
    assert alone.equals(frame[frame["time_period"] == "2024"].reset_index(drop=True))


def test_context_layout(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == context_columns()
    assert set(frame["geographic_level"]) == {"Local authority"}
    assert set(frame["time_identifier"]) == {"Reporting year"}
    assert sorted(frame["time_period"].unique()) == [str(y) for y in YEARS]
    assert not frame.duplicated(["time_period", "new_la_code"]).any()


def test_context_every_live_la_in_the_latest_period(frame: pd.DataFrame) -> None:
    long = read_context(frame.to_csv(index=False).encode(), "context.csv")
    live = set(load_reference().las["new_la_code"])
    latest = set(long.loc[long["period"] == "2025", "la_code"])
    assert latest == live
    assert len(latest) == 153
    # Earlier years have the LAs of their day: Cumbria until 2023, its successors after.
    codes_2023 = set(frame.loc[frame["time_period"] == "2023", "old_la_code"])
    assert "909" in codes_2023
    assert not {"942", "943"} & codes_2023


def test_context_reads_back_without_problems(frame: pd.DataFrame) -> None:
    long = read_context(frame.to_csv(index=False).encode(), "context.csv")
    assert len(long) == len(frame) * len(CONTEXT_VARIABLES)
    assert long["value"].notna().all(), "the synthetic context has every value"


def test_context_child_population_is_the_reference(frame: pd.DataFrame) -> None:
    reference = load_reference()
    rows = frame[frame["time_period"] == "2024"]
    for old, value in zip(rows["old_la_code"], rows["child_population"], strict=True):
        published = reference.child_population(old, 2024)
        if published is not None:
            assert int(value) == published, old
    # Later years carry the latest estimate forward.
    durham = frame[(frame["old_la_code"] == "840") & (frame["time_period"] == "2025")]
    assert int(durham["child_population"].iloc[0]) == reference.child_population("840", 2024)


def test_context_plausible_ranges(frame: pd.DataFrame) -> None:
    x = frame[list(CONTEXT_VARIABLES)].apply(pd.to_numeric)
    assert x["child_population"].between(300, 400_000).all()
    assert x["idaci_score"].between(0.05, 0.35).all()
    assert x["spend_per_child"].between(600, 2_500).all()
    assert x["uasc_per_10k"].between(0, 60).all()
    assert (x["uasc_per_10k"] <= 10).mean() > 0.8, "most LAs have few UASC"
    assert x["inflow_families"].between(0, 40).all()
    assert x["idaci_score"].std() > 0.03, "deprivation varies between LAs"


def test_context_london_more_deprived_than_the_south_east(latest: pd.DataFrame) -> None:
    las = load_reference().las.set_index("old_la_code")
    region = las["region_code"].reindex(latest.index)
    inner = latest["idaci_score"][region == "E12000007"].mean()
    south_east = latest["idaci_score"][region == "E12000008"].mean()
    assert inner > south_east + 0.03
    # Spend follows need.
    assert np.corrcoef(latest["idaci_score"], latest["spend_per_child"])[0, 1] > 0.5


def test_context_gateway_and_receiving_las_stand_out(latest: pd.DataFrame) -> None:
    uasc = latest["uasc_per_10k"]
    assert uasc[list(GATEWAY_LAS)].min() > uasc.median() * 2
    assert uasc[list(GATEWAY_LAS)].min() >= uasc.quantile(0.9), "gateways are in the top 10 %"
    inflow = latest["inflow_families"]
    assert inflow[list(RECEIVING_LAS)].median() > inflow.median() * 3


def test_context_varies_slowly_between_periods(frame: pd.DataFrame) -> None:
    wide = frame.set_index(["old_la_code", "time_period"])[list(CONTEXT_VARIABLES)]
    wide = wide.apply(pd.to_numeric)
    a = wide.xs("2024", level="time_period")
    b = wide.xs("2025", level="time_period").reindex(a.index)
    change = (b["spend_per_child"] / a["spend_per_child"] - 1).abs()
    assert change.median() < 0.12
    assert (b["idaci_score"] - a["idaci_score"]).abs().max() < 0.03
    assert np.corrcoef(a["uasc_per_10k"], b["uasc_per_10k"])[0, 1] > 0.8


def test_context_rejects_bad_periods() -> None:
    with pytest.raises(ValueError, match="reporting year"):
        context(SEED, [202425])
