"""Comparison recompute benchmark (issue 5: neighbour comparisons).

The whole national recompute (:func:`workers.analytics.pipeline.run_comparisons`: LAIT ranks,
quartile bands, every comparison group's statistics, change, PHE significance and funnels,
outcome triangulation) for 153 LAs x every catalogue indicator x every breakdown cell x 10
reporting years of the project's synthetic returns (``schemas.synth.generate(periods=
2016..2025, seed=1)``, about 2.7 million value rows). Protected values are the raw ones with
every value whose numerator or denominator is 1 to 5 removed (primary suppression); the
comparison groups are DfE's statistical neighbours (2021 and 2025 lists), regions (Inner and
Outer London for London), England.

Target: <= 10 s. Reported against a floor measured in the same run on the same rows: one
pandas group-by mean per cell (indicator x period x breakdown).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from run import Benchmark, Figure  # type: ignore[import-not-found]

PERIODS = list(range(2016, 2026))
TARGET_SECONDS = 10.0
CELL = ["indicator_id", "period", "breakdown_topic", "breakdown"]


def _raw(data: Path) -> pd.DataFrame:
    cached = data / "comparisons" / "raw.parquet"
    if cached.exists():
        return pd.read_parquet(cached)
    from schemas.synth import generate

    rows = generate(periods=PERIODS, seed=1)
    raw = pd.DataFrame(
        {
            "la_code": rows["new_la_code"].astype(str),
            "indicator_id": rows["indicator_id"].astype(str),
            "period": rows["time_period"].astype(str),
            "breakdown_topic": rows["breakdown_topic"].astype(str),
            "breakdown": rows["breakdown"].astype(str),
            **{
                c: pd.to_numeric(rows[c], errors="coerce").astype("float64")
                for c in ("value", "numerator", "denominator")
            },
        }
    ).drop_duplicates(["la_code", *CELL])
    cached.parent.mkdir(parents=True, exist_ok=True)
    raw.reset_index(drop=True).to_parquet(cached, index=False)
    return pd.read_parquet(cached)


def run(data: Path) -> list[Figure]:
    from schemas.catalogue import load_catalogue
    from schemas.reference import load_reference
    from workers.analytics.meta import indicator_meta
    from workers.analytics.pipeline import run_comparisons, standard_groups

    raw = _raw(data)
    protected = raw.copy()
    small = protected["numerator"].between(1, 5) | protected["denominator"].between(1, 5)
    protected.loc[small, ["value", "numerator", "denominator"]] = np.nan
    england = raw.groupby(CELL, as_index=False)["value"].mean()
    england = england.rename(columns={"value": "england"})
    meta = indicator_meta(load_catalogue())
    groups = standard_groups(load_reference(), sorted(raw["la_code"].unique()))

    started = time.perf_counter()
    raw.groupby(CELL, sort=False)["value"].mean()
    floor = time.perf_counter() - started

    started = time.perf_counter()
    result = run_comparisons(raw, protected, england, groups, meta)
    seconds = time.perf_counter() - started
    assert len(result.per_la) == len(raw)
    name = f"comparisons: national recompute ({len(raw):,} rows, 10 periods)"
    return [
        Figure(name, seconds, "s", f"target {TARGET_SECONDS:.0f} s", TARGET_SECONDS, 1.0),
        Figure(f"{name} vs floor", seconds, "s", "pandas group-by mean", floor, float("inf")),
    ]


def benchmarks() -> list[Benchmark]:
    return [Benchmark("comparisons national recompute", run)]
