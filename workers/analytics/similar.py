""" "Similar challenges" comparison sets from context variables (seed 4.5.6, 4.5.3–4.5.4).

The seed asks for comparisons "with statistical neighbours and authorities that face similar
challenges not captured by standard socio-economic indicators (e.g. high number of
unaccompanied asylum seekers under 18; housing policies which result in higher than average
inflow of families that are more likely to need CSCS support)" (4.5.6), and for funding (4.5.3)
and deprivation (4.5.4) to be part of the backdrop. DfE's statistical neighbours are fixed lists;
this module builds the extra sets from context data an administrator loads per LA and period.

Method: the nearest-neighbour "distance" approach of the DfE/NFER Children's Services
Statistical Neighbour Benchmarking Tool (Benton, Chamberlain, Wilson & Teeman, NFER 2007) and
CIPFA's Nearest Neighbours Model: each variable is standardised to z-scores over the LAs that
have a value (mean 0, population standard deviation 1), and the distance between two LAs is a
weighted Euclidean distance over the standardised variables. Here

    d(i, j) = sqrt( sum_v w_v (z_iv - z_jv)^2 / sum_v w_v )

with both sums over the variables *both* LAs have, so a missing value neither counts as zero
nor makes the LA unusable (the rescaling of sklearn's ``nan_euclidean_distances``, in weighted
form); a pair sharing too few variables, or too little of the weight, is not compared at all
(:data:`MIN_SHARED_VARIABLES`, :data:`MIN_SHARED_WEIGHT_SHARE`). Each LA's set is its
:data:`DEFAULT_K` nearest *other* LAs (10, as in DfE's lists). Sizes are compared on a log
scale (:data:`LOG_SCALE_VARIABLES`).

Unlike NFER, whose weights were chosen by optimising how well neighbours predict outcomes, the
weights of the named sets below are stated judgements (the challenge variable dominates, size
and deprivation keep the comparison realistic); the variables, weights and each LA's z-scores
are returned with the sets so the exchange can show *why* these LAs were chosen. A pilot with
outcome data could calibrate them.

All context data is published (ONS, DfE, section 251 returns), so nothing here is protected.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import DataFrame, Series

__all__ = [
    "CHILD_POPULATION",
    "DEFAULT_K",
    "DEFAULT_SETS",
    "DEPRIVATION_AND_SIZE",
    "FAMILY_INFLOW",
    "GROUP_TYPE",
    "IDACI_SCORE",
    "INFLOW_FAMILIES",
    "LA_CODE_PREFIXES",
    "LOG_SCALE_VARIABLES",
    "MIN_SHARED_VARIABLES",
    "MIN_SHARED_WEIGHT_SHARE",
    "SPEND_AND_NEED",
    "SPEND_PER_CHILD",
    "UASC_PER_10K",
    "UASC_PRESSURE",
    "ContextFrame",
    "SimilarExplanation",
    "SimilarGroups",
    "SimilarMembers",
    "SimilarScores",
    "SimilarSets",
    "WeightSet",
    "group_id",
    "similar_sets",
]

# --- Context variables (the `variable` values of a ContextFrame) -----------------------------

CHILD_POPULATION = "child_population"
"""Children aged 0 to 17 (ONS mid-year estimate). Compared on a log scale."""

IDACI_SCORE = "idaci_score"
"""Income Deprivation Affecting Children Index: the LA's average score (seed 4.5.4: poverty and
disadvantaged neighbourhoods)."""

SPEND_PER_CHILD = "spend_per_child"
"""Children's social care spend per child, from the section 251 outturn (seed 4.5.3)."""

UASC_PER_10K = "uasc_per_10k"
"""Unaccompanied asylum-seeking children looked after, per 10,000 children (seed 4.5.6)."""

INFLOW_FAMILIES = "inflow_families"
"""Inflow of families likely to need CSCS support (e.g. placed in the area's temporary
accommodation by other authorities), as a rate (seed 4.5.6: "housing policies which result in
higher than average inflow of families")."""

LOG_SCALE_VARIABLES: frozenset[str] = frozenset({CHILD_POPULATION})
"""Variables standardised on the natural-log scale. LA child populations span three orders of
magnitude (the Isles of Scilly to Birmingham); on the raw scale the largest LAs would sit many
standard deviations out and every other LA would look the same size. Values must be > 0."""

LA_CODE_PREFIXES = ("E06", "E08", "E09", "E10")
"""GSS prefixes of English LAs. Other rows of a context file (England, regions) are ignored:
z-scores are over LAs only."""

# --- The rules -------------------------------------------------------------------------------

DEFAULT_K = 10
"""Members of each LA's set: its 10 nearest other LAs, as in DfE's statistical neighbours."""

MIN_SHARED_VARIABLES = 2
"""Two LAs are compared only on at least 2 variables both have (capped at the number of
variables the set weights), so one shared variable cannot make two LAs "similar"."""

MIN_SHARED_WEIGHT_SHARE = 0.5
"""…and only when the variables both have carry at least half the set's total weight: an LA
without UASC data must not join a UASC-pressure set on size and deprivation alone."""

GROUP_TYPE = "similar"
"""``group_type`` of these sets in the Groups contract."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class WeightSet:
    """A named set of context variables and their weights (weights need not sum to 1).

    ``name`` goes into group ids (``similar:<name>:<la>``), so it is a lower-case identifier.
    """

    name: str
    label: str
    weights: Mapping[str, float]
    rationale: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"weight set name must match {_NAME.pattern}: {self.name!r}")
        weights = {str(k): float(v) for k, v in self.weights.items()}
        _check_weights(weights)
        # Read-only, so a shared constant cannot be changed by one caller for everyone.
        object.__setattr__(self, "weights", MappingProxyType(weights))


def _check_weights(weights: Mapping[str, float]) -> None:
    values = np.array(list(weights.values()), dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"weights must be finite and non-negative: {dict(weights)}")
    if not np.any(values > 0):
        raise ValueError("at least one weight must be positive")


DEPRIVATION_AND_SIZE = WeightSet(
    name="deprivation_and_size",
    label="Similar deprivation and size",
    weights={IDACI_SCORE: 1.0, CHILD_POPULATION: 1.0},
    rationale=(
        "Seed 4.5.4: poverty and living in a very disadvantaged neighbourhood affect children's "
        "outcomes. Child deprivation and the number of children, equally weighted: a transparent "
        "baseline beside DfE's statistical neighbours."
    ),
)

UASC_PRESSURE = WeightSet(
    name="uasc_pressure",
    label="Many unaccompanied asylum-seeking children",
    weights={UASC_PER_10K: 3.0, IDACI_SCORE: 1.0, CHILD_POPULATION: 1.0},
    rationale=(
        "Seed 4.5.6: authorities with a 'high number of unaccompanied asylum seekers under 18'. "
        "The UASC rate carries 3/5 of the weight; deprivation and size keep the set realistic."
    ),
)

FAMILY_INFLOW = WeightSet(
    name="family_inflow",
    label="High inflow of families",
    weights={INFLOW_FAMILIES: 3.0, IDACI_SCORE: 1.0, CHILD_POPULATION: 1.0},
    rationale=(
        "Seed 4.5.6: 'housing policies which result in higher than average inflow of families "
        "that are more likely to need CSCS support'. The inflow carries 3/5 of the weight."
    ),
)

SPEND_AND_NEED = WeightSet(
    name="spend_and_need",
    label="Similar spend and need",
    weights={SPEND_PER_CHILD: 2.0, IDACI_SCORE: 1.0, CHILD_POPULATION: 1.0},
    rationale=(
        "Seed 4.5.3: budgets shape what CSCS can do. Section 251 spend per child carries half "
        "the weight, deprivation and size the rest."
    ),
)

DEFAULT_SETS: tuple[WeightSet, ...] = (
    DEPRIVATION_AND_SIZE,
    UASC_PRESSURE,
    FAMILY_INFLOW,
    SPEND_AND_NEED,
)
"""The named sets the exchange builds by default."""


def group_id(set_name: str, la_code: str) -> str:
    """The Groups-contract id of ``la_code``'s set: ``similar:<set name>:<la>``."""
    return f"{GROUP_TYPE}:{set_name}:{la_code}"


def _group_ids(set_name: str, owners: np.ndarray) -> np.ndarray:
    """:func:`group_id` for an array of owners, without a Python loop."""
    return (group_id(set_name, "") + pd.Series(owners, dtype=str)).to_numpy(dtype=object)


# --- Frames ----------------------------------------------------------------------------------


class ContextFrame(pa.DataFrameModel):
    """Context values: one row per LA x period x variable (extra columns are dropped).

    Only the rows of the period asked for must be unique per LA and variable (checked by
    :func:`similar_sets`)."""

    la_code: Series[str]
    period: Series[str]
    variable: Series[str]
    value: Series[float] = pa.Field(nullable=True)

    class Config:
        strict = "filter"
        coerce = True


class SimilarGroups(pa.DataFrameModel):
    """Membership in the Groups contract: one row per set x member."""

    group_id: Series[str]
    group_type: Series[str] = pa.Field(isin=[GROUP_TYPE])
    owner: Series[str]
    la_code: Series[str]

    class Config:
        strict = True
        coerce = True


class SimilarMembers(SimilarGroups):
    """The same rows with how close each member is (rank 1 = nearest)."""

    set_name: Series[str]
    period: Series[str]
    rank: Series[np.int64] = pa.Field(ge=1)
    distance: Series[float] = pa.Field(ge=0)
    shared_variables: Series[np.int64] = pa.Field(ge=1)


class SimilarExplanation(pa.DataFrameModel):
    """Why these LAs: per set owner x weighted variable, the weight and the owner's z-score.

    ``weight_share``: the variable's share of the set's total weight. ``used``: the owner has a
    usable value (a variable with no spread over LAs is not used by anyone). ``members_mean_z``:
    mean z-score of the members that have the variable, to show "like you, these LAs …".
    """

    group_id: Series[str]
    set_name: Series[str]
    period: Series[str]
    owner: Series[str]
    variable: Series[str]
    weight: Series[float] = pa.Field(ge=0)
    weight_share: Series[float] = pa.Field(ge=0, le=1)
    scale: Series[str] = pa.Field(isin=["linear", "log"])
    used: Series[bool]
    owner_value: Series[float] = pa.Field(nullable=True)
    owner_z: Series[float] = pa.Field(nullable=True)
    members_mean_z: Series[float] = pa.Field(nullable=True)
    n_las: Series[np.int64] = pa.Field(ge=0)

    class Config:
        strict = True
        coerce = True


class SimilarScores(pa.DataFrameModel):
    """Every LA's value and z-score per weighted variable (to show members beside the owner)."""

    la_code: Series[str]
    period: Series[str]
    variable: Series[str]
    value: Series[float]
    z: Series[float] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True


class SimilarSets(NamedTuple):
    """The result of :func:`similar_sets` (each frame validated by its model)."""

    groups: pd.DataFrame
    """:class:`SimilarGroups`: exactly the Groups-contract columns."""
    members: pd.DataFrame
    """:class:`SimilarMembers`: the groups with rank, distance and shared variables."""
    explanation: pd.DataFrame
    """:class:`SimilarExplanation`: variables, weights and z-scores per owner."""
    scores: pd.DataFrame
    """:class:`SimilarScores`: values and z-scores of every LA."""


# --- The computation -------------------------------------------------------------------------


def _matrix(
    context: pd.DataFrame, period: str, variables: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(LA codes sorted, LA x variable matrix of values with NaN where missing)."""
    rows = context[
        (context["period"] == period)
        & context["variable"].isin(variables)
        & context["value"].notna()
        & context["la_code"].str.startswith(LA_CODE_PREFIXES)
    ]
    # Checked here rather than by the model: pandera cannot report duplicates on a frame whose
    # index is duplicated (e.g. made by pd.concat).
    duplicated = rows.duplicated(["la_code", "variable"])
    if duplicated.any():
        first = rows.loc[duplicated].iloc[0]
        raise ValueError(
            f"more than one value of {first['variable']} for {first['la_code']} in {period}"
        )
    wide = rows.pivot(index="la_code", columns="variable", values="value")
    wide = wide.reindex(columns=variables).sort_index()
    return wide.index.to_numpy(dtype=object), wide.to_numpy(dtype=float)


def _standardise(values: np.ndarray, log_columns: np.ndarray) -> np.ndarray:
    """z-scores per column over the rows with a value (population sd); NaN stays NaN.

    A column with fewer than 2 values or no spread gets NaN throughout: it cannot tell LAs
    apart, and counting it as a shared variable would only shrink every distance.
    """
    x = values.copy()
    if np.any(x[:, log_columns] <= 0):
        raise ValueError("log-scale context variables must be positive")
    x[:, log_columns] = np.log(x[:, log_columns])
    present = ~np.isnan(x)
    n = present.sum(axis=0)
    filled = np.where(present, x, 0.0)
    # Sums by hand rather than nanmean/nanstd: an all-missing column would warn.
    mean = np.divide(filled.sum(axis=0), n, out=np.zeros(x.shape[1]), where=n > 0)
    centred = np.where(present, x - mean, 0.0)
    sd = np.sqrt(np.divide((centred**2).sum(axis=0), n, out=np.zeros(x.shape[1]), where=n > 0))
    usable = (n >= 2) & (sd > 0)
    z = np.full_like(x, np.nan)
    z[:, usable] = (x[:, usable] - mean[usable]) / sd[usable]
    return z


def _distances(
    z: np.ndarray, weights: np.ndarray, min_variables: int, min_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """(LA x LA weighted distances, +inf where not comparable or on the diagonal; shared counts).

    Broadcast over all pairs at once: 153 x 153 x a handful of variables is a few hundred
    thousand numbers.
    """
    present = ~np.isnan(z)
    shared = present[:, None, :] & present[None, :, :]
    diff2 = np.where(shared, (z[:, None, :] - z[None, :, :]) ** 2, 0.0)
    numerator = diff2 @ weights
    shared_weight = shared.astype(float) @ weights
    n_shared = shared.sum(axis=2)
    comparable = (n_shared >= min_variables) & (shared_weight >= min_weight) & (shared_weight > 0)
    np.fill_diagonal(comparable, False)
    dist = np.full(numerator.shape, np.inf)
    np.divide(numerator, shared_weight, out=dist, where=comparable)
    np.sqrt(dist, out=dist, where=comparable)
    return dist, n_shared


def _resolve(
    weights: WeightSet | Mapping[str, float], name: str | None
) -> tuple[str, dict[str, float]]:
    if isinstance(weights, WeightSet):
        return name or weights.name, dict(weights.weights)
    resolved = {str(k): float(v) for k, v in weights.items()}
    _check_weights(resolved)
    name = name or "custom"
    if not _NAME.match(name):
        raise ValueError(f"set name must match {_NAME.pattern}: {name!r}")
    return name, resolved


@pa.check_types
def similar_sets(
    context: DataFrame[ContextFrame],
    period: str,
    weights: WeightSet | Mapping[str, float],
    k: int = DEFAULT_K,
    min_variables: int | None = None,
    *,
    name: str | None = None,
    min_weight_share: float = MIN_SHARED_WEIGHT_SHARE,
    log_scale: Collection[str] = LOG_SCALE_VARIABLES,
) -> SimilarSets:
    """Each LA's ``k`` nearest other LAs on the weighted context variables of ``period``.

    ``weights``: a :class:`WeightSet` or a mapping variable -> weight (then ``name``, default
    ``"custom"``, names the set). Variables with weight 0 are ignored. ``min_variables``
    defaults to :data:`MIN_SHARED_VARIABLES` capped at the number of weighted variables.
    Ties in distance are broken by LA code, so the result is deterministic. An LA with no
    comparable other LA gets no set. Returns the four frames of :class:`SimilarSets`.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    set_name, weight_map = _resolve(weights, name)
    variables = [v for v, w in weight_map.items() if w > 0]
    w = np.array([weight_map[v] for v in variables])
    if min_variables is None:
        min_variables = min(MIN_SHARED_VARIABLES, len(variables))
    log_columns = np.array([v in log_scale for v in variables], dtype=bool)

    codes, values = _matrix(context, period, variables)
    z = _standardise(values, log_columns)
    dist, n_shared = _distances(z, w, min_variables, min_weight_share * w.sum())

    # Codes are sorted, so a stable sort breaks distance ties by code; inf sorts last.
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    nearest = np.take_along_axis(dist, order, axis=1)
    keep = np.isfinite(nearest)
    owner_idx = np.broadcast_to(np.arange(len(codes))[:, None], order.shape)[keep]
    member_idx = order[keep]
    rank = np.broadcast_to(np.arange(1, order.shape[1] + 1), order.shape)[keep]

    owners = codes[owner_idx].astype(str)
    members = pd.DataFrame(
        {
            "group_id": _group_ids(set_name, owners),
            "group_type": GROUP_TYPE,
            "owner": owners,
            "la_code": codes[member_idx].astype(str),
            "set_name": set_name,
            "period": period,
            "rank": rank.astype(np.int64),
            "distance": nearest[keep],
            "shared_variables": n_shared[owner_idx, member_idx].astype(np.int64),
        }
    )
    groups = members[list(SimilarGroups.to_schema().columns)]

    explanation = _explanation(
        codes, values, z, order, keep, variables, w, log_columns, set_name, period
    )
    scores = _scores(codes, values, z, variables, period)
    return SimilarSets(
        groups=SimilarGroups.validate(groups),
        members=SimilarMembers.validate(members),
        explanation=SimilarExplanation.validate(explanation),
        scores=SimilarScores.validate(scores),
    )


def _explanation(
    codes: np.ndarray,
    values: np.ndarray,
    z: np.ndarray,
    order: np.ndarray,
    keep: np.ndarray,
    variables: list[str],
    weights: np.ndarray,
    log_columns: np.ndarray,
    set_name: str,
    period: str,
) -> pd.DataFrame:
    """Owner x variable rows for every LA that has a set."""
    has_set = keep.any(axis=1)
    # Members' mean z per owner and variable: gather members' z (owner x member x variable).
    member_z = np.where(keep[:, :, None], z[order], np.nan)
    member_present = ~np.isnan(member_z)
    count = member_present.sum(axis=1)
    total = np.where(member_present, member_z, 0.0).sum(axis=1)
    members_mean = np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)

    owners = np.flatnonzero(has_set)
    n_var = len(variables)
    owner_rep = np.repeat(owners, n_var)
    var_rep = np.tile(np.arange(n_var), len(owners))
    owner_codes = codes[owner_rep].astype(str)
    return pd.DataFrame(
        {
            "group_id": _group_ids(set_name, owner_codes),
            "set_name": set_name,
            "period": period,
            "owner": owner_codes,
            "variable": np.array(variables, dtype=object)[var_rep].astype(str),
            "weight": weights[var_rep],
            "weight_share": weights[var_rep] / weights.sum(),
            "scale": np.where(log_columns[var_rep], "log", "linear"),
            "used": ~np.isnan(z[owner_rep, var_rep]),
            "owner_value": values[owner_rep, var_rep],
            "owner_z": z[owner_rep, var_rep],
            "members_mean_z": members_mean[owner_rep, var_rep],
            "n_las": (~np.isnan(z)).sum(axis=0)[var_rep].astype(np.int64),
        }
    )


def _scores(
    codes: np.ndarray, values: np.ndarray, z: np.ndarray, variables: list[str], period: str
) -> pd.DataFrame:
    """Long frame of every LA's value and z-score (only cells with a value)."""
    row, col = np.nonzero(~np.isnan(values))
    return pd.DataFrame(
        {
            "la_code": codes[row].astype(str),
            "period": period,
            "variable": np.array(variables, dtype=object)[col].astype(str),
            "value": values[row, col],
            "z": z[row, col],
        }
    )
