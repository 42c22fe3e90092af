"""Improvement progress for each audience (workers.analytics.progress; seed 4.5.7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_trajectories import STAGE_META, improve, journeys_frame, stage_values

from workers.analytics.progress import own_progress, shared_progress

ON_JOURNEY = "E06000003"  # improves every domain: stage 3 from its raw values
NOT_ON_JOURNEY = "E06000001"


def raw_values() -> pd.DataFrame:
    return stage_values(
        {ON_JOURNEY: improve("c1", "c2", "r1", "v1", "o1", "o2"), NOT_ON_JOURNEY: {}}
    )


def test_own_progress_trends_every_la_and_stages_journeys_only() -> None:
    own = own_progress(
        raw_values(), journeys_frame({ON_JOURNEY: "2020-01-15"}), None, STAGE_META, "2024"
    )
    assert set(own.trends["la_code"]) == {ON_JOURNEY, NOT_ON_JOURNEY}
    assert own.stages["la_code"].tolist() == [ON_JOURNEY]
    assert own.stages["stage"].tolist() == [3]
    assert set(own.evidence["la_code"]) == {ON_JOURNEY}
    assert set(own.anomalies["la_code"]) == {ON_JOURNEY}


def test_own_progress_without_journeys_still_has_trends() -> None:
    own = own_progress(raw_values(), None, None, STAGE_META, "2024")
    assert own.stages.empty
    assert own.evidence.empty
    assert len(own.trends) == raw_values().groupby(["la_code", "indicator_id"]).ngroups


def test_shared_progress_reads_protected_values_only() -> None:
    # The journey LA's outcome figures are suppressed in what others see: its shared stage
    # cannot count child outcomes as improved, and no suppressed value is aligned.
    raw = raw_values()
    protected = raw.copy()
    hidden = protected["indicator_id"].isin(["o1", "o2"]) & (protected["la_code"] == ON_JOURNEY)
    protected.loc[hidden, "value"] = np.nan
    journeys = journeys_frame({ON_JOURNEY: "2020-01-15"})
    shared = shared_progress(protected, journeys, None, STAGE_META, "2024")
    assert shared.stages["stage"].tolist() == [2]
    assert not shared.aligned["indicator_id"].isin(["o1", "o2"]).any()
    assert set(shared.aligned["la_code"]) == {ON_JOURNEY}
    own = own_progress(raw, journeys, None, STAGE_META, "2024")
    assert own.stages["stage"].tolist() == [3]


def test_shared_progress_without_journeys_is_empty() -> None:
    shared = shared_progress(raw_values(), None, None, STAGE_META, "2024")
    assert shared.stages.empty
    assert shared.aligned.empty


def test_shared_progress_leaves_out_journeys_with_nothing_published() -> None:
    protected = raw_values()
    protected.loc[protected["la_code"] == NOT_ON_JOURNEY, "value"] = np.nan
    journeys = journeys_frame({ON_JOURNEY: "2020-01-15", NOT_ON_JOURNEY: "2021-01-15"})
    shared = shared_progress(protected, journeys, None, STAGE_META, "2024")
    assert shared.stages["la_code"].tolist() == [ON_JOURNEY]
