"""The comparison-statistics disclosure rule.

A group statistic (a neighbour, alliance or region mean or median, quartile cut points) of n
LAs, shown to a viewer who is one of them, lets the viewer difference its own value out: a
mean of 2 LAs is the other LA's value. So a group statistic is published only when enough LAs
*other than the viewer* contribute, and only from protected values (a suppressed ``c`` cell
contributes nothing, so the statistic cannot leak it either).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "MIN_CONTRIBUTORS",
    "STATISTICS",
    "group_statistic_allowed",
    "group_statistics",
]

MIN_CONTRIBUTORS = 3
"""A group statistic (neighbour/alliance/region mean or median, quartile cut points) is
published only with at least this many contributing LAs besides the viewer, computed from
protected (published) values: with fewer, a viewer can difference its own value out of the
statistic and learn a small group's values."""

STATISTICS = ["mean", "median", "min", "max"]
"""The statistics :func:`group_statistics` computes (blanked together when not allowed)."""


def group_statistic_allowed(
    contributors: int, viewer_contributes: bool, minimum: int = MIN_CONTRIBUTORS
) -> bool:
    """Whether a statistic over ``contributors`` LAs may be shown to a viewer.

    The viewer's own value does not count: it is the one value the viewer can subtract.
    """
    others = contributors - (1 if viewer_contributes else 0)
    return others >= minimum


def group_statistics(
    values: pd.DataFrame, viewer: str | None, minimum: int = MIN_CONTRIBUTORS
) -> pd.DataFrame:
    """Per group: ``n`` contributing LAs and their mean, median, min and max, or blanks.

    ``values``: columns ``group``, ``area_code``, ``value`` (protected values; null where
    suppressed or missing, and such rows do not contribute). ``viewer``: the area code of the
    LA looking (None for a reader who is not an LA). ``allowed`` says whether the statistics
    could be shown; where not, they are NaN. Every group of ``values`` gets a row.
    """
    groups = pd.Index(pd.unique(values["group"]), name="group")
    value = pd.to_numeric(values["value"], errors="coerce")
    present = values.loc[value.notna(), ["group", "area_code"]].assign(value=value[value.notna()])
    stats = present.groupby("group", sort=False)["value"].agg(["count", *STATISTICS])
    stats = stats.reindex(groups)
    n = stats["count"].fillna(0).astype("int64")
    if viewer is None:
        viewer_in = pd.Series(False, index=groups)
    else:
        viewer_groups = present.loc[present["area_code"] == viewer, "group"].unique()
        viewer_in = pd.Series(groups.isin(viewer_groups), index=groups)
    others = n - viewer_in.astype("int64")
    allowed = (others >= minimum).to_numpy()
    out = pd.DataFrame({"group": groups, "n": n.to_numpy()})
    for stat in STATISTICS:
        out[stat] = np.where(allowed, stats[stat].to_numpy(np.float64), np.nan)
    out["allowed"] = allowed
    return out.reset_index(drop=True)
