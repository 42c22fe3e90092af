"""Improvement progress as the exchange stores it: each LA's own trends and stage, and the
journeys its peers may see (seed 4.5.7).

Two compositions of :mod:`workers.analytics.trajectories`, one per audience:

* :func:`own_progress` reads an LA's **own raw** values: the trend of every indicator (totals),
  and, for an LA on an improvement journey, its stage with the evidence behind it (each
  indicator's trend since the start, per domain) and the annotation of each trend
  ("expected for the stage", "read in context", "decline"). Only the LA itself sees these.
* :func:`shared_progress` reads **protected** values only (what any LA may see of another):
  the stage of every journey LA as its published figures show it, its domain readings, and the
  values of journey LAs aligned on months since their start, from which a viewer's "what to
  expect next" is summarised (:func:`workers.analytics.trajectories.what_next`, under the
  group-statistic disclosure rule). An LA's private or suppressed figures never reach a peer
  through its stage, because a peer's copy of the stage is read from protected values.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from .trajectories import (
    Journeys,
    OfstedJudgements,
    aligned_trajectories,
    expected_anomalies,
    improvement_stage,
    trends,
)

__all__ = ["OwnProgress", "SharedProgress", "own_progress", "shared_progress"]


class OwnProgress(NamedTuple):
    trends: pd.DataFrame  # Trends: every LA's own trends (totals)
    stages: pd.DataFrame  # Stages: journey LAs' own stages
    domains: pd.DataFrame  # DomainReadings
    evidence: pd.DataFrame  # Evidence: the trends since each start behind the stage
    anomalies: pd.DataFrame  # Anomalies: the evidence annotated


class SharedProgress(NamedTuple):
    stages: pd.DataFrame  # Stages, read from protected values
    domains: pd.DataFrame  # DomainReadings, from protected values
    aligned: pd.DataFrame  # Aligned: protected values of journey LAs on months since start


def _journeys(journeys: pd.DataFrame | None) -> pd.DataFrame:
    if journeys is None or journeys.empty:
        return Journeys.validate(
            pd.DataFrame(
                {
                    "la_code": pd.Series(dtype=str),
                    "start_date": pd.Series(dtype="datetime64[ns]"),
                    "trigger": pd.Series(dtype=str),
                    "focus_areas": pd.Series(dtype=str),
                }
            )
        )
    return Journeys.validate(journeys)


def _ofsted(ofsted: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if ofsted is None or ofsted.empty else OfstedJudgements.validate(ofsted)


def own_progress(
    raw: pd.DataFrame,
    journeys: pd.DataFrame | None,
    ofsted: pd.DataFrame | None,
    meta: pd.DataFrame,
    as_of_period: str,
) -> OwnProgress:
    """Every LA's trends from its own raw values, and each journey LA's own stage read at
    ``as_of_period`` (the latest reporting year of the data) with evidence and annotations.
    ``raw``: a ValueFrame of the LAs to compute (each row is the LA's own value)."""
    j = _journeys(journeys)
    j = j.loc[j["la_code"].isin(raw["la_code"].unique())].reset_index(drop=True)
    all_trends = trends(raw, meta)
    stage = improvement_stage(j, raw, meta, as_of_period, _ofsted(ofsted))
    anomalies = expected_anomalies(stage.evidence, stage.stages, meta)
    return OwnProgress(all_trends, stage.stages, stage.domains, stage.evidence, anomalies)


def shared_progress(
    protected: pd.DataFrame,
    journeys: pd.DataFrame | None,
    ofsted: pd.DataFrame | None,
    meta: pd.DataFrame,
    as_of_period: str,
) -> SharedProgress:
    """What every LA may see of the journeys: stages and domain readings read from protected
    values, and journey LAs' protected values aligned on months since their start. Journey
    LAs with no published figure are left out."""
    j = _journeys(journeys)
    # Only LAs with published figures: a journey LA that has none has nothing to show peers.
    published = protected.loc[protected["value"].notna(), "la_code"].unique()
    j = j.loc[j["la_code"].isin(published)].reset_index(drop=True)
    stage = improvement_stage(j, protected, meta, as_of_period, _ofsted(ofsted))
    aligned = aligned_trajectories(j, protected, meta)
    return SharedProgress(stage.stages, stage.domains, aligned)
