"""Differential privacy for national count tables: OpenDP noise, sensitivities, budget ledger.

Unit of privacy
---------------
One child (or member of staff, or survey respondent: whoever an indicator counts) in one LA's
return. Two releases are *neighbouring* if one LA's return differs by that one person being
present or absent. Every guarantee below is per LA, per indicator, per period.

Sensitivity
-----------
A person counted by an indicator appears in its Total cell and in exactly one category of each
additive breakdown topic (a topic's categories partition the cohort), so adding or removing
them changes ``1 + dims`` cells of one count measure by one each: the L1 sensitivity of that
measure's vector is ``dims + 1``. A proportion counts them in its denominator and, maybe, its
numerator, so the L1 sensitivity of the indicator's whole count vector (numerator cells and
denominator cells) is ``2 x (dims + 1)``. The L2 sensitivity is the square root of the same
number of changed cells (:func:`sensitivity`). A non-additive topic (a person may be in several
categories) would count each of its categories; the catalogue has none today.

Mechanisms
----------
``laplace`` (the default): pure ε-DP, OpenDP's ``make_laplace`` on integer vectors, which samples
the discrete Laplace distribution (Canonne, Kamath & Steinke 2020) exactly: P(noise = k) is
proportional to exp(-|k| / scale) with scale = L1 sensitivity / ε. ``gaussian``: ρ-zero-
concentrated DP (zCDP), OpenDP's ``make_gaussian`` (discrete Gaussian) with sigma =
sqrt(L2 sensitivity² / (2 ρ)). With ``gaussian`` the policy's ``epsilon`` field holds ρ (the
ledger's ``measure`` says which). Noise never comes from numpy's random generator.

Geography and the level shares
------------------------------
A person in LA *a* is counted in LA *a*'s vector, in its region's vector and in England's vector.
Each geographic level is measured independently with its share of the budget
(``level_shares``), so by sequential composition each LA is charged ``sum(shares) x ε = ε`` per
indicator per release (:func:`spend_per_area`). Inner and Outer London are measured; London
(E12000007), whose children are Inner and Outer London, is *derived* as their sum (pure
post-processing) rather than measured again, so that London's children are not charged twice
at the regional level.

Within a level, an indicator's vector in an area is measured as *parts* — its Total cells, and
each topic's categories — each part of L1 sensitivity "cells of it one person changes" (the
number of count measures for the Total and an additive topic), with the level's share split
between the parts (``total_share``; split in proportion to sensitivity, the noise is exactly
that of one measurement of the whole vector at sensitivity ``dims + 1`` per measure). By
sequential composition the parts spend the level's share.

One OpenDP measurement is made per distinct (part sensitivity, loss), on the concatenation of
those parts over every area and indicator. This is the same mechanism as one measurement per
(area, indicator, part): each coordinate gets independent noise of the same scale. Its
privacy: different areas of one level hold disjoint people (parallel composition), so one
person changes only their own area's piece of the concatenation, by at most the part's
sensitivity, and the measurement's own privacy map at that sensitivity gives the part's share
(checked in code); different indicators are charged separately by the ledger (sequential
composition, which the ledger's per-LA mode adds up).

Accuracy (the benchmark in tests/benchmarks/bench_privacy_dp.py)
---------------------------------------------------------------
See :data:`DEFAULT_LEVEL_SHARES` and :data:`DEFAULT_TOTAL_SHARE` for the reasoning and the
measured figures.

Noise is drawn once per release version: :func:`add_noise` draws fresh noise on every call, so
the caller MUST store its output and re-derive every view of the release from the stored noisy
values (re-drawing would let a reader average the noise away).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any

import numpy as np
import opendp.prelude as dp
import pandas as pd

from .cells import LOCAL_AUTHORITY, NATIONAL, REGIONAL
from .consistency import _isin, derived_areas

__all__ = [
    "DEFAULT_EPSILON",
    "DEFAULT_LEVEL_SHARES",
    "LEVELS",
    "MECHANISMS",
    "BudgetExceeded",
    "DPPolicy",
    "add_noise",
    "check_budget",
    "derived_areas",
    "indicator_sensitivities",
    "noise_variance",
    "own_categories",
    "sensitivity",
    "spend_per_area",
    "total_copies",
]

dp.enable_features("contrib")

LEVELS = (LOCAL_AUTHORITY, REGIONAL, NATIONAL)
MECHANISMS = ("laplace", "gaussian")

DEFAULT_EPSILON = 1.0
"""ε charged to each LA per indicator per release (ρ for the gaussian mechanism). The exchange's
default budget is 4 per indicator and period, so four releases of a period fit in it."""

DEFAULT_LEVEL_SHARES: Mapping[str, float] = MappingProxyType(
    {LOCAL_AUTHORITY: 0.25, REGIONAL: 0.32, NATIONAL: 0.43}
)
"""How ε is split between the three vectors a person is counted in (measured, not guessed).

Units: σ² = the noise variance of a cell measured with the whole ε; a level with share s has
σ²/s², the naive baseline (ε/3 each, raw noisy counts) 9σ² everywhere.

* England: its own measurement dominates. Least squares adds the ten regions' sum (variance
  10σ²/s_R², a ~10% precision gain) and the breakdown relations, but in the synthetic data
  most of England's Total = sum relations do not exist (some LA misses a category row), so it
  gains little else. Only its share helps much.
* Regions: own measurement plus the breakdown relations (which exist where the region's LAs
  are complete).
* LAs: non-negativity. Most LA cells are 0-50 against a noise scale of tens, so projecting
  each region's children onto a non-negative split of the region removes much of the noise on
  zeros and small counts, and the gain degrades slowly as s falls.
* All levels: the bounds. Where a numerator is close to its denominator (change
  distributions, high rates) the weighted projection onto numerator <= denominator averages
  two measurements of nearly the same number.

Each level's ratio scales roughly as 1/s, so the LA level gives budget to England. With
:data:`DEFAULT_TOTAL_SHARE` and ε = 1, (0.25, 0.32, 0.43) measured 0.75, 0.76 and 0.73 of the
naive mean absolute error at LA, regional and England level (24 noise draws against the naive
error's exact expectation; Totals alone 0.88, 0.77, 0.77). Larger ε gains less at LA level
(0.84 at ε = 2, 0.90 at ε = 4: noise small next to counts leaves non-negativity little to do).
The grid is in tests/benchmarks/bench_privacy_dp.py's docstring.
"""

DEFAULT_TOTAL_SHARE: Mapping[str, float] = MappingProxyType({LOCAL_AUTHORITY: 0.05, REGIONAL: 0.05})
"""The share of a level's loss spent on an indicator's Total cells, per level (a level not
listed, or ``total_share=None``: as one measurement of the whole vector, 1 / (1 + topics) for
additive topics); the rest goes to the topics' categories (see :func:`_parts`).

At LA and regional level a Total is all but determined by its categories (Total = sum of each
topic's categories, and those relations exist there), so measuring it directly is mostly
wasted: with 5% of the budget on it, the categories' noise scale is 1.1x (five topics) to
1.9x (one topic) smaller. England keeps the uniform split because most of its relations are
missing in practice (a Total there cannot be rebuilt from its categories): a small England
share made its Total 1.3-1.9x worse than naive. Measured with the default level shares: Totals
alone at 0.88x (LA), 0.77x (regions) and 0.77x (England) the naive error.
"""

# Relative slack when comparing floating-point privacy losses: OpenDP rounds its privacy maps
# upwards (conservatively), so a loss of exactly the configured share can come back one or two
# ulps above it.
_FLOAT_SLACK = 1e-9

# OpenDP's ``T=int`` is a 32-bit integer; counts of children are far below this.
_I32_MAX = 2**31 - 1


# ------------------------------------------------------------------------------------ policy


@dataclass(frozen=True)
class DPPolicy:
    """How much privacy loss a release may cause and how it is split.

    ``epsilon``: the privacy-loss parameter charged to each LA per indicator per release — pure-DP
    ε for ``laplace``, zCDP ρ for ``gaussian``. ``level_shares``: the share of it spent on each
    geographic level's vector (keys :data:`LEVELS`, positive, summing to 1). ``total_share``:
    per level (or one number for all, or None for none), the share of that level's loss spent
    on Total cells rather than categories (:data:`DEFAULT_TOTAL_SHARE`). The defaults are the
    measured best of tests/benchmarks/bench_privacy_dp.py.
    """

    epsilon: float = DEFAULT_EPSILON
    level_shares: Mapping[str, float] = field(default_factory=lambda: DEFAULT_LEVEL_SHARES)
    mechanism: str = "laplace"
    total_share: Mapping[str, float] | float | None = field(
        default_factory=lambda: DEFAULT_TOTAL_SHARE
    )

    def __post_init__(self) -> None:
        if not (isinstance(self.epsilon, int | float) and math.isfinite(self.epsilon)):
            raise ValueError(f"epsilon must be a finite number, got {self.epsilon!r}")
        if self.epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {self.epsilon}")
        if self.mechanism not in MECHANISMS:
            raise ValueError(f"mechanism must be one of {MECHANISMS}, got {self.mechanism!r}")
        shares = dict(self.level_shares)
        if set(shares) != set(LEVELS):
            raise ValueError(
                f"level_shares must have exactly the keys {LEVELS}, got {sorted(shares)}"
            )
        if any(not (v > 0 and math.isfinite(v)) for v in shares.values()):
            raise ValueError(f"every level share must be positive, got {shares}")
        if abs(sum(shares.values()) - 1.0) > 1e-9:
            raise ValueError(f"level shares must sum to 1, got {sum(shares.values())}")
        total = self.total_share
        if total is not None and not isinstance(total, Mapping):
            total = dict.fromkeys(LEVELS, total)
        if total is not None:
            if not set(total) <= set(LEVELS):
                raise ValueError(f"total_share keys must be among {LEVELS}, got {sorted(total)}")
            if any(not 0 < float(v) < 1 for v in total.values()):
                raise ValueError(f"total_share must be in (0, 1), got {total}")
            object.__setattr__(self, "total_share", MappingProxyType(dict(total)))
        # Immutable, so the frozen policy really is frozen.
        object.__setattr__(self, "level_shares", MappingProxyType(shares))

    def __hash__(self) -> int:
        shares = tuple(sorted(self.level_shares.items()))
        total = None if self.total_share is None else tuple(sorted(self.total_share.items()))
        return hash((self.epsilon, shares, self.mechanism, total))

    @property
    def measure(self) -> str:
        """What ``epsilon`` measures (recorded by the ledger): ``"epsilon"`` or ``"rho"``."""
        return "epsilon" if self.mechanism == "laplace" else "rho"

    def total_part(self, level: str) -> float | None:
        """The share of ``level``'s loss spent on Total cells (None: as the whole vector)."""
        if self.total_share is None:
            return None
        return self.total_share.get(level)  # type: ignore[union-attr]

    def level_loss(self, level: str) -> float:
        """The privacy loss (ε or ρ) spent on one level's vector of one indicator."""
        return self.level_shares[level] * self.epsilon


# ------------------------------------------------------------------------------- sensitivity


def sensitivity(n_breakdown_dims: int, n_count_measures: int = 1) -> int:
    """Cells of an indicator's count vector that one person changes, by one each.

    The person is in the Total and in one category of each of the ``n_breakdown_dims`` additive
    breakdown topics, for each of the ``n_count_measures`` count measures that count them
    (numerator and denominator: 2). This is the L1 sensitivity (laplace); the L2 sensitivity
    (gaussian) is its square root.

    >>> sensitivity(0), sensitivity(5), sensitivity(5, 2)
    (1, 6, 12)
    """
    if n_breakdown_dims < 0 or n_count_measures < 1:
        raise ValueError("need n_breakdown_dims >= 0 and n_count_measures >= 1")
    return (n_breakdown_dims + 1) * n_count_measures


def _own_keys(catalogue: Any) -> set[tuple[str, str, str]]:
    own: set[tuple[str, str, str]] = set()
    for ind in catalogue.indicators.values():
        mt = catalogue.measure_types[ind.measure_type]
        if ind.measure_type == "change_distribution" and mt.value_denominator:
            own |= {(ind.id, mt.value_denominator, t) for t in ind.required_breakdowns}
    return own


def own_categories(cells: pd.DataFrame, catalogue: Any = None) -> np.ndarray:
    """Cells whose categories do not partition their Total: a change distribution's denominator
    in its own categories (each of More / Same / Fewer has the whole cohort as denominator).

    A person is in every one of those cells, and their Total = sum relation does not exist.
    """
    own = _own_keys(_catalogue(catalogue))
    mask = _isin(cells["indicator_id"], {i for i, _, _ in own})
    if not mask.any():
        return mask
    rows = np.flatnonzero(mask)
    keys = zip(
        cells["indicator_id"].to_numpy(dtype=object)[rows],
        cells["measure"].to_numpy(dtype=object)[rows],
        cells["breakdown_topic"].to_numpy(dtype=object)[rows],
        strict=True,
    )
    mask[rows] = [k in own for k in keys]
    return mask


def total_copies(cells: pd.DataFrame, catalogue: Any = None) -> np.ndarray:
    """Own-category cells (:func:`own_categories`) that equal their area's Total exactly.

    At an LA: where its Total is in the frame. At an aggregate: where, besides, every child
    holding the indicator's measure has that Total and that cell as a copy (an aggregate sums
    the cells present, so a child without its Total would make the two differ). Copies are not
    measured: they take the noisy (and later the consistent) value of their Total, as
    post-processing. Other own-category cells are measured like any cell, their topic counted
    as having all its categories in :func:`indicator_sensitivities`.
    """
    own = own_categories(cells, catalogue)
    if not own.any():
        return own
    # Only the indicators with own categories matter: work on their rows.
    rows = np.flatnonzero(_isin(cells["indicator_id"], set(cells["indicator_id"].to_numpy()[own])))
    group = ["area_code", "indicator_id", "measure"]
    frame = pd.DataFrame(
        {c: cells[c].to_numpy(dtype=object)[rows] for c in ["parent_code", *group]}
        | {
            "breakdown_topic": cells["breakdown_topic"].to_numpy(dtype=object)[rows],
            "breakdown": cells["breakdown"].to_numpy(dtype=object)[rows],
        }
    )
    is_total = (frame["breakdown_topic"] == "Total").to_numpy()
    has_total = pd.MultiIndex.from_frame(frame[group]).isin(
        pd.MultiIndex.from_frame(frame.loc[is_total, group])
    )
    copy = own[rows] & np.asarray(has_total, dtype=bool)
    # Aggregates, bottom up: a parent's cell is a copy when all its measure's children are.
    areas = cells[["area_code", "parent_code"]].drop_duplicates("area_code")
    parent_of = dict(zip(areas["area_code"], areas["parent_code"], strict=True))
    depth = {}
    for area in parent_of:
        d, p, seen = 0, parent_of[area], {area}
        while p and p in parent_of and p not in seen:
            seen.add(p)
            d, p = d + 1, parent_of[p]
        depth[area] = d
    area_depth = frame["area_code"].map(depth).to_numpy()
    cell_key = ["indicator_id", "measure", "breakdown_topic", "breakdown"]
    position = np.arange(len(frame))
    for d in sorted(set(depth.values()), reverse=True)[:-1]:
        kids = frame.loc[area_depth == d]
        present = kids[["parent_code", "area_code", "indicator_id", "measure"]].drop_duplicates()
        n_kids = present.groupby(["parent_code", "indicator_id", "measure"]).size()
        copied = kids.loc[copy[position[area_depth == d]]]
        n_copied = copied.groupby(["parent_code", *cell_key]).size()
        at = (area_depth == d - 1) & copy & frame["area_code"].isin(set(kids["parent_code"]))
        parents = frame.loc[at]
        need = n_kids.reindex(
            pd.MultiIndex.from_frame(parents[["area_code", "indicator_id", "measure"]])
        ).to_numpy()
        got = n_copied.reindex(pd.MultiIndex.from_frame(parents[["area_code", *cell_key]]))
        ok = np.nan_to_num(got.to_numpy(float)) == np.nan_to_num(need.astype(float))
        copy[position[at][~ok]] = False
    out = np.zeros(len(cells), dtype=bool)
    out[rows] = copy
    return out


def _catalogue(catalogue: Any) -> Any:
    if catalogue is None:
        from schemas.catalogue import load_catalogue

        catalogue = load_catalogue()
    return catalogue


def _part_sensitivities(cells: pd.DataFrame, noised: np.ndarray, catalogue: Any) -> pd.DataFrame:
    """``indicator_id``, ``part`` ("Total" or a topic), ``sens``: how many noised cells of that
    part of an indicator's vector one person changes (by one each).

    Summed over the count measures with noised cells: 1 for the Total; for a topic, 1 if a
    person is in one category (an additive topic), else its number of categories (a
    non-additive topic, and a change distribution's own-category denominators that are
    measured rather than copied: :func:`own_categories`).
    """
    frame = cells.loc[noised, ["indicator_id", "measure", "breakdown_topic"]].assign(
        own=own_categories(cells, catalogue)[noised]
    )
    keys = frame.groupby(["indicator_id", "measure", "breakdown_topic"], sort=True)["own"].any()
    keys = keys.reset_index()
    cost = np.ones(len(keys), dtype=np.int64)
    for i, (topic, own) in enumerate(zip(keys["breakdown_topic"], keys["own"], strict=True)):
        if topic == "Total":
            continue
        dimension = catalogue.breakdowns.get(topic)
        if dimension is None:
            raise ValueError(f"breakdown {topic!r} is not in the catalogue")
        if own or not dimension.additive:
            cost[i] = len(dimension.values)
    keys = keys.assign(sens=cost).rename(columns={"breakdown_topic": "part"})
    return keys.groupby(["indicator_id", "part"], as_index=False, sort=True)["sens"].sum()


def indicator_sensitivities(cells: pd.DataFrame, catalogue: Any = None) -> dict[str, int]:
    """The L1 sensitivity of each indicator's noised vector in ``cells``.

    Per count measure with noised cells (not public, not a copy of its Total,
    :func:`total_copies`): 1 for the Total, plus for each breakdown topic that measure has
    noised cells in, 1 if a person is in one of its categories (an additive topic) or its
    number of categories if they may be in all (a non-additive topic; a change distribution's
    measured own-category denominators). Summed over the measures. Public cells (child
    populations) get no noise, so a person's presence there costs nothing.
    ``catalogue`` defaults to :func:`schemas.catalogue.load_catalogue`.
    """
    catalogue = _catalogue(catalogue)
    noised = ~cells["public"].to_numpy(bool) & ~total_copies(cells, catalogue)
    parts = _part_sensitivities(cells, noised, catalogue)
    totals = parts.groupby("indicator_id", sort=True)["sens"].sum()
    return {str(k): int(v) for k, v in totals.items()}


# ------------------------------------------------------------------------------------- noise


@cache
def _measurement(mechanism: str, scale: float) -> dp.Measurement:
    if mechanism == "laplace":
        space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
        return dp.m.make_laplace(*space, scale=scale)
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=float)
    return dp.m.make_gaussian(*space, scale=scale)


def _scale(mechanism: str, loss: float, sens: int) -> float:
    """The noise scale that spends ``loss`` on a vector of sensitivity ``sens``."""
    if mechanism == "laplace":
        return sens / loss  # ε = Δ1 / scale
    return math.sqrt(sens / (2.0 * loss))  # ρ = Δ2² / (2 σ²), Δ2² = sens


def noise_variance(mechanism: str, loss: float, sens: int) -> float:
    """Variance of the noise on one cell of a vector of sensitivity ``sens`` (L1 for laplace,
    the number of changed cells for gaussian) measured at privacy loss ``loss`` (ε or ρ).

    Discrete Laplace with scale b: 2 e^(-1/b) / (1 - e^(-1/b))². Discrete Gaussian: sigma²
    (its true variance is below sigma² by a relative e^(-2 pi² sigma²), nothing at our scales).
    """
    scale = _scale(mechanism, loss, sens)
    if mechanism == "laplace":
        p = math.exp(-1.0 / scale)
        return 2.0 * p / (1.0 - p) ** 2
    return scale**2


def _noisy_vector(mechanism: str, loss: float, sens: int, counts: np.ndarray) -> np.ndarray:
    """One OpenDP measurement on concatenated vectors (see the module docstring)."""
    measurement = _measurement(mechanism, _scale(mechanism, loss, sens))
    d_in: float = sens if mechanism == "laplace" else math.sqrt(sens)
    spent = measurement.map(d_in)
    if spent > loss * (1 + _FLOAT_SLACK):
        raise RuntimeError(f"OpenDP privacy map {spent} exceeds the share {loss}")
    # A numpy int32 array goes to OpenDP without a per-element Python check.
    return np.asarray(measurement(counts.astype(np.int32)), dtype=np.int64)


def _parts(
    cells: pd.DataFrame,
    measured: np.ndarray,
    policy: DPPolicy,
    sensitivities: Mapping[str, int],
    catalogue: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Each measured cell's part sensitivity and its part's share of its level's loss.

    An indicator's vector in one area is measured as parts: its Total cells, and each topic's
    category cells, with the sensitivities of :func:`_part_sensitivities` (they add up to the
    vector's; a caller's larger sensitivity scales them up). The level's loss is split between
    the parts: in proportion to their sensitivities when ``policy.total_part(level)`` is None
    (the same noise as one measurement of the whole vector, scale = sensitivity / loss), else
    the Total part takes that share and the topics the rest, in proportion to theirs. By
    sequential composition the parts spend exactly the level's loss.
    """
    parts = _part_sensitivities(cells, measured, catalogue)
    whole = parts.groupby("indicator_id")["sens"].sum()
    given = pd.Series({str(k): int(v) for k, v in sensitivities.items()}, dtype=float)
    given = given.reindex(whole.index)
    if given.isna().any():
        raise KeyError(f"no sensitivity for indicators {sorted(given.index[given.isna()])}")
    if (given < whole).any():
        short = sorted(given.index[given < whole])
        raise ValueError(f"sensitivities below what the cells require for {short}")
    # A caller's larger sensitivity: scale every part up (never down).
    factor = (given / whole).to_numpy()
    parts["sens"] = np.ceil(
        parts["sens"].to_numpy() * factor[whole.index.get_indexer(parts["indicator_id"])]
    ).astype(np.int64)
    total_sens = parts.groupby("indicator_id")["sens"].sum()
    topic_sens = parts.loc[parts["part"] != "Total"].groupby("indicator_id")["sens"].sum()
    frame = cells.loc[measured, ["indicator_id", "breakdown_topic", "geographic_level"]]
    index = pd.MultiIndex.from_frame(parts[["indicator_id", "part"]])
    at = index.get_indexer(pd.MultiIndex.from_frame(frame[["indicator_id", "breakdown_topic"]]))
    sens = parts["sens"].to_numpy()[at]
    whole_sens = frame["indicator_id"].map(total_sens).to_numpy(float)
    topics = frame["indicator_id"].map(topic_sens).fillna(0).to_numpy(float)
    is_total = (frame["breakdown_topic"] == "Total").to_numpy()
    part_of = {lvl: policy.total_part(lvl) for lvl in LEVELS}
    w = frame["geographic_level"].map(lambda lvl: np.nan if part_of[lvl] is None else part_of[lvl])
    w = w.to_numpy(float)
    uniform = sens / whole_sens
    split = np.where(is_total, w, (1 - w) * sens / np.maximum(topics, 1))
    has_total = _isin(
        frame["indicator_id"], set(parts.loc[parts["part"] == "Total", "indicator_id"])
    )
    share = np.where(np.isnan(w) | (topics == 0) | ~has_total, uniform, split)
    # Guard the accounting: per indicator and level, the parts' shares add up to at most 1.
    used = pd.DataFrame(
        {
            "i": frame["indicator_id"].to_numpy(),
            "l": frame["geographic_level"].to_numpy(),
            "p": frame["breakdown_topic"].to_numpy(),
            "share": share,
        }
    ).drop_duplicates(["i", "l", "p"])
    if (used.groupby(["i", "l"])["share"].sum() > 1 + _FLOAT_SLACK).any():
        raise RuntimeError("part shares exceed the level's loss")
    return sens.astype(np.int64), share


def add_noise(
    cells: pd.DataFrame,
    policy: DPPolicy,
    sensitivities: Mapping[str, int],
    *,
    catalogue: Any = None,
) -> pd.DataFrame:
    """``cells`` with ``noisy`` (int64), ``noise_variance`` (float64), ``copy_of_total`` and
    ``own_category`` (bool: :func:`own_categories`, which
    :func:`privacy.consistency.make_consistent` settles from their Totals) columns.

    ``cells``: a cell frame with every level present (LAs, regions incl. Inner/Outer London,
    England). ``sensitivities``: the L1 sensitivity of each indicator's vector (see
    :func:`indicator_sensitivities`, which must see the same frame). Public cells keep their
    count (variance 0); a derived area's cells (London) are the sums of its children's noisy
    cells, with the summed variance; a copy of its Total (:func:`total_copies`) takes its
    Total's noisy value. ``catalogue`` defaults to the packaged one.

    Draws fresh noise on every call: store the result, never call this twice for one release.
    """
    out = cells.copy()
    n = len(out)
    level = out["geographic_level"].to_numpy(dtype=object)
    unknown = set(np.unique(level)) - set(LEVELS)
    if unknown:
        raise ValueError(f"unknown geographic levels {sorted(unknown)}")
    counts = out["count"].to_numpy(np.int64)
    if n and counts.max() > _I32_MAX // 2:
        raise ValueError("counts too large for OpenDP's 32-bit integer vectors")
    public = out["public"].to_numpy(bool)
    derived = _isin(out["area_code"], derived_areas(out))
    copies = total_copies(out, catalogue) & ~public
    measured = ~public & ~derived & ~copies
    indicators = out["indicator_id"].to_numpy(dtype=object)
    missing = set(np.unique(indicators[measured])) - set(sensitivities)
    if missing:
        raise KeyError(f"no sensitivity for indicators {sorted(missing)}")

    noisy = counts.copy()
    variance = np.zeros(n)
    part_sens, part_share = _parts(out, measured, policy, sensitivities, _catalogue(catalogue))
    loss = part_share * np.array([policy.level_loss(lvl) for lvl in level[measured]])
    # One OpenDP measurement per distinct (sensitivity, loss): all areas and indicators alike.
    groups = pd.DataFrame({"sens": part_sens, "loss": loss}).groupby(["sens", "loss"]).indices
    rows_measured = np.flatnonzero(measured)
    for (s, spend), members in groups.items():
        rows = rows_measured[members]
        noisy[rows] = _noisy_vector(policy.mechanism, float(spend), int(s), counts[rows])
        variance[rows] = noise_variance(policy.mechanism, float(spend), int(s))

    # Derived areas: sum of the children's noisy cells with the same key (post-processing).
    if derived.any():
        key = ["indicator_id", "breakdown_topic", "breakdown", "measure"]
        children = _isin(out["parent_code"], set(out.loc[derived, "area_code"]))
        children = children & ~public & ~copies
        parts = pd.DataFrame(
            {"area_code": out["parent_code"].to_numpy()[children]}
            | {k: out[k].to_numpy()[children] for k in key}
            | {"noisy": noisy[children], "variance": variance[children]}
        )
        sums = parts.groupby(["area_code", *key], sort=False).sum()
        rows = np.flatnonzero(derived & ~public & ~copies)
        found = sums.reindex(pd.MultiIndex.from_frame(out.iloc[rows][["area_code", *key]]))
        noisy[rows] = found["noisy"].fillna(0).to_numpy(np.int64)
        variance[rows] = found["variance"].fillna(0).to_numpy(float)
    # Copies of a Total: its noisy value (post-processing; the Total is always present).
    if copies.any():
        group = ["area_code", "indicator_id", "measure"]
        is_total = (out["breakdown_topic"] == "Total").to_numpy()
        totals = pd.DataFrame(
            {"noisy": noisy[is_total], "variance": variance[is_total]},
            index=pd.MultiIndex.from_frame(out.loc[is_total, group]),
        )
        source = totals.reindex(pd.MultiIndex.from_frame(out.loc[copies, group]))
        noisy[copies] = source["noisy"].to_numpy(np.int64)
        variance[copies] = source["variance"].to_numpy(float)
    out["noisy"] = noisy
    out["noise_variance"] = variance
    out["copy_of_total"] = copies
    out["own_category"] = own_categories(out, catalogue)
    return out


# ------------------------------------------------------------------------------ budget ledger


def _area_chains(cells: pd.DataFrame) -> pd.DataFrame:
    """``la``, ``area``, ``geographic_level``: each LA with itself and every ancestor."""
    areas = cells[["area_code", "parent_code", "geographic_level"]].drop_duplicates("area_code")
    parent = dict(zip(areas["area_code"], areas["parent_code"], strict=True))
    level = dict(zip(areas["area_code"], areas["geographic_level"], strict=True))
    rows = []
    for la in areas.loc[areas["geographic_level"] == LOCAL_AUTHORITY, "area_code"]:
        area, seen = la, set()
        while area and area in level and area not in seen:
            seen.add(area)
            rows.append((la, area, level[area]))
            area = parent[area]
    return pd.DataFrame(rows, columns=["la", "area", "geographic_level"])


def spend_per_area(cells: pd.DataFrame, policy: DPPolicy) -> pd.DataFrame:
    """What a release of ``cells`` charges each LA: ``area_code``, ``indicator_id``, ``epsilon``.

    A person in LA *a* is in LA *a*'s vector, its region's (Inner or Outer London's for a London
    LA; London itself is derived, not measured) and England's, so an LA is charged the share of
    every *measured* area on its path to England that has non-public cells of the indicator:
    ``sum(level_shares) x ε = ε`` per indicator when all three exist. LAs without a non-public
    cell of an indicator are not charged for it (their people are in none of its vectors).
    ``epsilon`` is ρ for the gaussian mechanism (``policy.measure``).
    """
    private = cells.loc[~cells["public"].to_numpy(bool), ["area_code", "indicator_id"]]
    private = private.drop_duplicates()
    chains = _area_chains(cells)
    chains = chains.loc[~chains["area"].isin(derived_areas(cells))]
    shares = {lvl: policy.level_loss(lvl) for lvl in LEVELS}
    chains = chains.assign(epsilon=chains["geographic_level"].map(shares))
    own = private.rename(columns={"area_code": "la"}).merge(chains[["la"]].drop_duplicates())
    # Each (LA, indicator) the LA reports, with every measured area above it holding the indicator.
    paths = own.merge(chains, on="la").merge(
        private.rename(columns={"area_code": "area"}), on=["area", "indicator_id"]
    )
    spend = paths.groupby(["la", "indicator_id"], as_index=False, sort=True)["epsilon"].sum()
    spend = spend.rename(columns={"la": "area_code"})
    spend["area_code"] = spend["area_code"].astype(str)
    spend["indicator_id"] = spend["indicator_id"].astype(str)
    return spend[["area_code", "indicator_id", "epsilon"]].reset_index(drop=True)


class BudgetExceeded(Exception):
    """A release would take an LA past its privacy-loss budget; nothing may be released.

    ``refusals``: one row per over-budget LA (and indicator): ``area_code``, ``indicator_id``,
    ``period``, ``requested``, ``spent``, ``budget``.
    """

    def __init__(self, refusals: pd.DataFrame, measure: str = "epsilon") -> None:
        self.refusals = refusals
        self.measure = measure
        lines = [
            f"LA {r.area_code}, indicator(s) {r.indicator_id}, period {r.period}: requested "
            f"{measure} {r.requested:g}, already spent {r.spent:g}, budget {r.budget:g}"
            for r in refusals.itertuples(index=False)
        ]
        shown = lines[:20] + ([f"... and {len(lines) - 20} more"] if len(lines) > 20 else [])
        super().__init__(
            f"release refused: {len(lines)} privacy-loss budget(s) would be exceeded:\n  "
            + "\n  ".join(shown)
        )


def _proxy_space() -> tuple[Any, Any]:
    return dp.atom_domain(T=int), dp.absolute_distance(T=int)


@cache
def _proxy(measure: str, loss: float) -> dp.Measurement:
    """A measurement whose privacy map at d_in = 1 is ``loss``: stands in for a recorded one.

    The odometer only needs each query's privacy map; the proxies run on a dummy input.
    """
    if measure == "epsilon":
        return dp.m.make_laplace(*_proxy_space(), scale=1.0 / loss)
    return dp.m.make_gaussian(*_proxy_space(), scale=1.0 / math.sqrt(2.0 * loss))


def _within_budget(measure: str, spent: float, requested: tuple[float, ...], budget: float) -> bool:
    """Would OpenDP's privacy filter accept ``requested`` after ``spent``, under ``budget``?

    A fully adaptive composition odometer (``make_fully_adaptive_composition``) behind a
    privacy filter (``make_privacy_filter``) with d_out = the budget: the recorded spend is
    replayed as one query (basic composition of ε-DP and of ρ-zCDP is additive, so one proxy of
    the recorded total is the same as replaying each entry), then the new release's
    measurements as one composition (``make_composition``). The filter refuses a query that
    would take the total past the budget.
    """
    requested = tuple(r for r in requested if r > 0)
    if budget <= 0:
        return spent <= 0 and not requested
    output = dp.max_divergence() if measure == "epsilon" else dp.zero_concentrated_divergence()
    odometer = dp.c.make_fully_adaptive_composition(*_proxy_space(), output)
    queryable = dp.c.make_privacy_filter(
        odometer, d_in=1, d_out=budget * (1 + _FLOAT_SLACK) + 1e-12
    )(0)
    try:
        if spent > 0:
            queryable(_proxy(measure, float(spent)))
        if requested:
            queryable(dp.c.make_composition([_proxy(measure, float(r)) for r in requested]))
    except dp.OpenDPException as refused:
        if "exceed" in str(refused) or "exhausted" in str(refused):
            return False
        raise
    return True


def _spent_frame(spent: pd.DataFrame | Mapping[Any, float] | None) -> pd.DataFrame:
    if spent is None:
        return pd.DataFrame({"area_code": [], "indicator_id": [], "epsilon": []})
    if isinstance(spent, pd.DataFrame):
        return spent
    rows = [(*(k if isinstance(k, tuple) else (k,)), float(v)) for k, v in spent.items()]
    if all(len(r) == 3 for r in rows):
        return pd.DataFrame(rows, columns=["area_code", "indicator_id", "epsilon"])
    return pd.DataFrame([r[-2:] for r in rows], columns=["area_code", "epsilon"])


def check_budget(
    charge: pd.DataFrame,
    spent: pd.DataFrame | Mapping[Any, float] | None,
    budgets: Mapping[str, float] | float,
    period: str,
    *,
    measure: str = "epsilon",
    per_indicator: bool = True,
) -> pd.DataFrame:
    """Refuse a release that would exceed a budget; else return the ledger entries to record.

    ``charge``: what the release charges (:func:`spend_per_area`: ``area_code``,
    ``indicator_id``, ``epsilon``). ``spent``: what earlier releases of the same ``period``
    charged, as the exchange persists it — a DataFrame (``area_code``, ``indicator_id``,
    ``epsilon``, several rows per key allowed) or a mapping from ``(area_code, indicator_id)``
    (or ``area_code`` when ``per_indicator`` is False) to the loss spent. ``budgets``: each LA's
    budget (one number for all); an LA without one has budget 0, so it is refused (fail closed).
    ``measure``: ``"epsilon"`` (pure DP) or ``"rho"`` (zCDP); never mix them in one ledger.

    ``per_indicator`` (the exchange's setting): the budget bounds each LA's loss per indicator
    and period. Set it False to bound an LA's loss over all indicators of the period (people
    appear in several indicators, so that total is their worst-case loss by composition).

    Composition is tracked with OpenDP's odometer semantics (see :func:`_within_budget`).
    Raises :class:`BudgetExceeded` naming every refused LA, indicator(s), the period and the
    requested, already spent and budget amounts. Returns ``charge``'s rows with ``epsilon > 0``
    plus ``period`` and ``spent_before``.
    """
    if measure not in ("epsilon", "rho"):
        raise ValueError(f"measure must be 'epsilon' or 'rho', got {measure!r}")
    charge = charge.loc[charge["epsilon"] > 0, ["area_code", "indicator_id", "epsilon"]]
    past = _spent_frame(spent)
    scope = ["area_code", "indicator_id"] if per_indicator else ["area_code"]
    if not set(scope) <= set(past.columns):
        raise ValueError(f"spent needs columns {scope} for this scope")
    before = past.groupby(scope)["epsilon"].sum() if len(past) else pd.Series(dtype=float)
    grouped = charge.groupby(scope, sort=True)
    requests = grouped["epsilon"].agg(lambda v: tuple(sorted(float(x) for x in v)))
    names = grouped["indicator_id"].agg(lambda v: ", ".join(sorted(map(str, v))))
    table = pd.DataFrame({"requested": requests, "indicators": names})
    table["spent"] = before.reindex(table.index).fillna(0.0).to_numpy(float)
    codes = table.index.get_level_values("area_code")
    if isinstance(budgets, Mapping):
        table["budget"] = [float(budgets.get(c, 0.0)) for c in codes]
    else:
        table["budget"] = float(budgets)
    # One odometer per distinct (spent, requests, budget): identical inputs, identical verdicts.
    triples = pd.Series(zip(table["spent"], table["requested"], table["budget"], strict=True))
    verdicts = {t: _within_budget(measure, *t) for t in set(triples)}
    refused = ~triples.map(verdicts).to_numpy(bool)
    if refused.any():
        bad = table.loc[refused].reset_index(drop=True)
        bad["area_code"] = codes[refused]
        bad["indicator_id"] = bad["indicators"]
        bad["period"] = period
        bad["requested"] = bad["requested"].map(sum)
        columns = ["area_code", "indicator_id", "period", "requested", "spent", "budget"]
        raise BudgetExceeded(bad[columns].reset_index(drop=True), measure)
    entries = charge.merge(
        past.groupby(scope, as_index=False)["epsilon"]
        .sum()
        .rename(columns={"epsilon": "spent_before"})
        if len(past)
        else pd.DataFrame(columns=[*scope, "spent_before"]),
        on=scope,
        how="left",
    )
    entries["spent_before"] = entries["spent_before"].astype(float).fillna(0.0)
    entries["period"] = period
    return entries.reset_index(drop=True)
