"""The whole comparison recompute, from values to what each LA is shown (seed 4.5.1, 4.5.6).

One pure function, :func:`run_comparisons`, chains the analytics modules:

1. the figures of :func:`workers.analytics.comparisons.compare` — rank, quartile band,
   change and group statistics (neighbours, region, alliances, England, custom and similar
   sets), each LA's own raw value among the others' protected values (computed with its
   internals, on key columns coded as integers once, straight into the result);
2. significance (:mod:`workers.analytics.intervals`) of the LA's value against England's
   published value and against its statistical-neighbour mean: the LA's own confidence
   interval (Wilson for percentages, Byar / exact Poisson for rates) against the comparator,
   judged better / worse / similar by polarity, and its funnel-plot position against England;
3. triangulation (:mod:`workers.analytics.triangulation`): per outcome, the judgements of its
   indicators against the neighbours read together.

Neighbour lists depend on the period (DfE's 2025 list from 2025, the 2021 list before), so
``groups`` carries a ``period_from``/``period_to`` range per group and the comparison runs once
per distinct set of groups. Only the viewer's own rows are ever returned with its raw value.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
import pandas as pd
from pandera.config import config_context

from .comparisons import (
    _BAND_LABELS,
    DIRECTIONS,
    _column_codes,
    _group_frame,
    _group_las,
    _group_plan,
    _GroupPlan,
    _labels,
    _Layout,
    _layout,
    _per_la_columns,
)
from .intervals import (
    _FUNNEL_LABELS,
    _JUDGEMENT_CODES,
    _JUDGEMENT_LABELS,
    _POLARITIES,
    _funnel_codes,
    _significance_codes,
    value_interval,
)
from .meta import CELL, KEY, TOTAL, Groups, IndicatorMeta, ValueFrame
from .triangulation import outcome_readings

__all__ = ["Comparisons", "run_comparisons"]

NEIGHBOURS = "neighbours"
ENGLAND = "england"


class Comparisons(NamedTuple):
    per_la: pd.DataFrame
    per_group: pd.DataFrame
    outcomes: pd.DataFrame


def run_comparisons(
    raw: pd.DataFrame,
    protected: pd.DataFrame,
    england: pd.DataFrame,
    groups: pd.DataFrame,
    meta: pd.DataFrame,
) -> Comparisons:
    """Every LA's comparisons (see the module docstring).

    ``raw``/``protected``: ValueFrames (:mod:`workers.analytics.meta`); ``england``: England's
    published value per cell (``indicator_id``, ``period``, ``breakdown_topic``,
    ``breakdown``, ``england``); ``groups``: the Groups contract plus ``period_from`` and
    ``period_to`` (inclusive reporting years; a group applies to the periods in its range);
    ``meta``: IndicatorMeta.

    The inputs are validated here, once, against their contracts; the inner steps then run
    with pandera's validation switched off, since they only see slices of validated frames
    (validating millions of rows again at every step was a third of the time).
    """
    raw = ValueFrame.validate(raw)
    protected = ValueFrame.validate(protected)
    meta = IndicatorMeta.validate(meta)
    Groups.validate(groups.drop(columns=["period_from", "period_to"]))
    with config_context(validation_enabled=False):
        return _run(raw, protected, england, groups, meta)


class _Range(NamedTuple):
    """One range of periods compared with one set of groups (see :func:`_ranges`)."""

    rows: np.ndarray  # the raw rows compared: the range's own and their previous year's
    kept: np.ndarray  # positions in ``rows`` of the range's own rows (the results)
    protected: np.ndarray  # the protected rows they need
    groups: pd.DataFrame  # the groups that apply to the whole range
    years: np.ndarray  # the periods of the range's own rows


def _ranges(groups: pd.DataFrame, periods: np.ndarray, prot_periods: np.ndarray) -> list[_Range]:
    """The ranges of periods over which the same groups apply, with the rows each needs.

    Neighbour lists change with the period, so the comparison runs once per distinct set of
    groups; the change from the previous period needs that period's raw values too.
    """
    ranges = groups[["period_from", "period_to"]].drop_duplicates()
    group_from = groups["period_from"].astype(int).to_numpy()
    group_to = groups["period_to"].astype(int).to_numpy()
    starts = set(map(int, ranges["period_from"]))
    bounds = sorted(starts | {int(p) + 1 for p in ranges["period_to"]})
    out = []
    for start, stop in itertools.pairwise(bounds):
        # The groups that apply to the whole of [start, stop).
        chosen = groups.loc[(group_from <= start) & (group_to >= stop - 1)]
        chosen = chosen.drop(columns=["period_from", "period_to"])
        in_raw = (periods >= start) & (periods < stop)
        if not in_raw.any() or chosen.empty:
            continue
        # Compare one more year of values (for the change) and keep only this range's rows.
        rows = np.flatnonzero((periods >= start - 1) & (periods < stop))
        # Only the years the raw rows of this range need (theirs and each one's previous).
        years = np.flatnonzero(np.bincount(periods[in_raw] - start)) + start
        needed = np.isin(prot_periods, np.union1d(years, years - 1))
        out.append(
            _Range(
                rows=rows,
                kept=np.flatnonzero(periods[rows] >= start),
                protected=np.flatnonzero(needed),
                groups=chosen.reset_index(drop=True),
                years=years,
            )
        )
    return out


_PER_LA: dict[str, type] = {
    "value": np.float64,
    "rank": np.float64,
    "n_ranked": np.int64,
    "band": np.int8,
    "q1": np.float64,
    "q2": np.float64,
    "q3": np.float64,
    "previous_value": np.float64,
    "change": np.float64,
    "direction": np.int8,
    "england": np.float64,
    "neighbours_n": np.int64,
    "neighbours_mean": np.float64,
    "neighbours_median": np.float64,
    "lower": np.float64,
    "upper": np.float64,
    "vs_england": np.int8,
    "vs_neighbours": np.int8,
    "funnel": np.int8,
}
"""The per-LA columns after the key, in order, and their types while computed (the labels
as codes, turned into strings at the end)."""

_LABELS = {
    "band": _BAND_LABELS,
    "direction": DIRECTIONS,
    "vs_england": _JUDGEMENT_LABELS,
    "vs_neighbours": _JUDGEMENT_LABELS,
    "funnel": _FUNNEL_LABELS,
}

_ROW_CHUNK = 1 << 18
"""Raw rows whose per-LA figures are computed at once, straight into the result. Every step
is row by row once the per-cell arrays exist, and chunks keep its temporary arrays small
(recycled memory rather than fresh pages, which cost more than the arithmetic)."""


def _run(
    raw: pd.DataFrame,
    protected: pd.DataFrame,
    england: pd.DataFrame,
    groups: pd.DataFrame,
    meta: pd.DataFrame,
) -> Comparisons:
    groups = _concerning(groups, raw["la_code"])
    # The key columns as categoricals on shared codes, once: every later step then takes and
    # compares small integers instead of millions of (pyarrow) strings, which was most of the
    # time. Periods as integers once too.
    coded_raw, coded_protected = _coded([raw, protected])
    ranges = _ranges(groups, _years(coded_raw["period"]), _years(coded_protected["period"]))
    if not ranges:
        raise ValueError("no groups apply to the periods of the raw values")
    offsets = np.cumsum([0, *(len(r.kept) for r in ranges)])
    per_la = {name: np.empty(offsets[-1], dtype=kind) for name, kind in _PER_LA.items()}
    counts = (raw["numerator"].to_numpy(float), raw["denominator"].to_numpy(float))
    plans = []
    for part, offset in zip(ranges, offsets[:-1], strict=True):
        lay = _layout(
            coded_raw.take(part.rows),
            coded_protected.take(part.protected),
            meta,
            extra_las=_group_las(part.groups),
        )
        # Group statistics only of the cells of the range's own rows.
        plan = _group_plan(lay, part.groups, cells=np.flatnonzero(np.isin(lay.year, part.years)))
        _fill_per_la(per_la, int(offset), lay, plan, part, england, meta, counts)
        plans.append(plan)
    source = np.concatenate([part.rows[part.kept] for part in ranges])
    keys = raw[KEY]
    if not np.array_equal(source, np.arange(len(raw))):
        keys = keys.take(source)
    columns = {
        name: _labels(_LABELS[name], values) if name in _LABELS else values
        for name, values in per_la.items()
    }
    # copy=False: the columns are fresh arrays, so they need not be copied into 2-D blocks.
    frame = pd.DataFrame(
        {**{col: keys[col].array.copy() for col in KEY}, **columns},
        copy=False,
    )
    per_group = _group_frame(plans)
    judged = frame[[*KEY, "vs_neighbours"]].loc[frame["breakdown_topic"] == TOTAL]
    judged = judged.rename(columns={"vs_neighbours": "judgement"})
    outcomes = outcome_readings(judged.reset_index(drop=True), meta)
    return Comparisons(frame, per_group, outcomes)


def _fill_per_la(
    out: dict[str, np.ndarray],
    offset: int,
    lay: _Layout,
    plan: _GroupPlan,
    part: _Range,
    england: pd.DataFrame,
    meta: pd.DataFrame,
    counts: tuple[np.ndarray, np.ndarray],
) -> None:
    """Write the per-LA figures of the range's own rows into ``out[...][offset:]``: those of
    :func:`workers.analytics.comparisons.compare`, England's value and the viewer's
    statistical-neighbour figures beside them, and their significance."""
    # Per cell: England's published value (few cells: a string join is cheap here), and how
    # to judge the indicator.
    cell_codes, england_codes = _joint_codes(lay.cells, england, CELL)
    by_cell = pd.Series(england["england"].to_numpy(float), index=england_codes)
    england_of_cell = by_cell.reindex(cell_codes).to_numpy()
    judging = _judging(lay.cells["indicator_id"], meta)
    neighbours = plan.own_groups(NEIGHBOURS)
    for lo in range(0, len(part.kept), _ROW_CHUNK):
        rows = part.kept[lo : lo + _ROW_CHUNK]
        la, cell = lay.raw_la[rows], lay.raw_cell[rows]
        columns = _per_la_columns(lay, rows)
        columns["england"] = england_of_cell[cell]
        (
            columns["neighbours_n"],
            columns["neighbours_mean"],
            columns["neighbours_median"],
        ) = plan.viewer_statistics(neighbours, la, cell)
        source = part.rows[rows]
        columns.update(_significance(columns, counts[0][source], counts[1][source], judging, cell))
        at = slice(offset + lo, offset + lo + len(rows))
        for name, values in columns.items():
            out[name][at] = values


class _Judging(NamedTuple):
    """Per cell: the indicator's value kind (codes of ``kinds``), scale and polarity (code
    into the intervals module's polarities)."""

    kinds: pd.CategoricalDtype
    kind: np.ndarray
    scale: np.ndarray
    polarity: np.ndarray


def _judging(indicators: pd.Series, meta: pd.DataFrame) -> _Judging:
    info = meta.set_index("indicator_id")
    ids = pd.Index(np.asarray(indicators, dtype=object))
    kind = pd.Categorical(ids.map(info["value_kind"]).fillna("number").to_numpy(object))
    polarity = ids.map(info["polarity"]).fillna("context_dependent")
    return _Judging(
        kinds=kind.dtype,
        kind=kind.codes,
        scale=ids.map(info["value_scale"]).astype(float).to_numpy(),
        polarity=polarity.map({p: i for i, p in enumerate(_POLARITIES)}).to_numpy(np.intp),
    )


def _significance(
    per_la: dict[str, np.ndarray],
    numerator: np.ndarray,
    denominator: np.ndarray,
    judging: _Judging,
    cell: np.ndarray,
) -> dict[str, np.ndarray]:
    """``lower``/``upper`` (95 % interval of the LA's value), ``vs_england``,
    ``vs_neighbours`` (codes of better / worse / similar / not judged / "") and ``funnel``
    (codes), from the per-LA columns and the numerator and denominator behind each row."""
    kind = pd.Categorical.from_codes(judging.kind[cell], dtype=judging.kinds, validate=False)
    scale = judging.scale[cell]
    polarity = judging.polarity[cell]
    value = per_la["value"]
    lower, upper = value_interval(numerator, denominator, kind, scale, 0.95)
    out = {"lower": lower, "upper": upper}
    for column, comparator in (
        ("vs_england", per_la["england"]),
        ("vs_neighbours", per_la["neighbours_mean"]),
    ):
        direction = _significance_codes(value, lower, upper, comparator)
        out[column] = _JUDGEMENT_CODES[direction, polarity]
    out["funnel"] = _funnel_codes(value, denominator, per_la["england"], kind, scale)
    return out


def _coded(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """``frames`` (ValueFrames) with the key columns as categoricals on categories shared
    by all of them (sorted), and the value column."""
    columns: list[dict[str, object]] = [{} for _ in frames]
    for col in KEY:
        codes, levels = _column_codes(frames, col)
        dtype = pd.CategoricalDtype(levels)
        for out, code in zip(columns, codes, strict=True):
            out[col] = pd.Categorical.from_codes(code, dtype=dtype, validate=False)
    for out, frame in zip(columns, frames, strict=True):
        out["value"] = frame["value"].to_numpy(np.float64)
    return [pd.DataFrame(out, copy=False) for out in columns]


def _concerning(groups: pd.DataFrame, viewers: pd.Series) -> pd.DataFrame:
    """The groups some viewer (an LA with raw rows) sees: its own per-LA groups and the shared
    groups it belongs to. A recompute for a few LAs then computes a few groups' statistics,
    not every LA's."""
    las = pd.unique(viewers.astype(str))
    owner = groups["owner"].astype(str)
    shared_seen = groups.loc[groups["la_code"].isin(las) & (owner == ""), "group_id"]
    keep = owner.isin(las) | ((owner == "") & groups["group_id"].isin(shared_seen))
    return groups if keep.all() else groups.loc[keep].reset_index(drop=True)


def _years(values: pd.Series) -> np.ndarray:
    """Reporting years as integers, converting each distinct value once."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        years = values.cat.categories.astype(int).to_numpy()
        return years[values.cat.codes.to_numpy()]
    codes, uniques = pd.factorize(values)
    return np.asarray(pd.Index(uniques).astype(int))[codes]


def _joint_codes(
    left: pd.DataFrame, right: pd.DataFrame, columns: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One int64 per row of each frame, equal exactly when the ``columns`` are: a fast join
    key (string merges are the slow part otherwise). Categorical columns are coded through
    their categories, never converted row by row."""
    key_left = np.zeros(len(left), np.int64)
    key_right = np.zeros(len(right), np.int64)
    for column in columns:
        a, a_values = _codes(left[column])
        b, b_values = _codes(right[column])
        joint, uniques = pd.factorize(pd.concat([a_values, b_values], ignore_index=True))
        a_joint, b_joint = joint[: len(a_values)], joint[len(a_values) :]
        key_left = key_left * (len(uniques) + 1) + np.where(a >= 0, a_joint[a], len(uniques))
        key_right = key_right * (len(uniques) + 1) + np.where(b >= 0, b_joint[b], len(uniques))
    if len(np.unique(key_right)) != len(key_right):
        raise ValueError(f"the right-hand frame repeats a key of {columns}")
    return key_left, key_right


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(code per row, the distinct values as strings) of a column."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(np.int64), pd.Series(values.cat.categories).astype(str)
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64), pd.Series(uniques).astype(str)


LONDON_SUBREGIONS = {"Inner London": "E13000001", "Outer London": "E13000002"}
"""London LAs are compared with their sub-region, as LAIT does (ONS codes)."""

FIRST_YEAR = 1900
LAST_YEAR = 2999
NEIGHBOUR_EDITION_FROM = {2021: (FIRST_YEAR, 2024), 2025: (2025, LAST_YEAR)}
"""Which reporting years each DfE statistical-neighbour list applies to
(:func:`schemas.reference.neighbour_edition_for_year`: the 2025 list from 2025, 2021 before)."""


def standard_groups(
    reference: object, la_codes: list[str], alliances: dict[str, list[str]] | None = None
) -> pd.DataFrame:
    """The comparison groups of LAIT and the exchange for ``la_codes`` (new GSS codes), with
    ``period_from``/``period_to``: each LA's statistical neighbours (per list edition), its
    region (Inner or Outer London for London LAs, as LAIT does), England, and each alliance
    (``{alliance code: member LA codes}``)."""
    codes = set(la_codes)
    rows: list[tuple[str, str, str, str, int, int]] = []
    for edition, (first, last) in NEIGHBOUR_EDITION_FROM.items():
        for la in sorted(codes):
            group = f"neighbours:{edition}:{la}"
            for n in reference.statistical_neighbours(la, edition):  # type: ignore[attr-defined]
                member = reference.la(n.old_la_code).new_la_code  # type: ignore[attr-defined]
                if member in codes and member != la:
                    rows.append((group, NEIGHBOURS, la, member, first, last))
    for la in sorted(codes):
        sub = reference.london_subregion(la)  # type: ignore[attr-defined]
        region = LONDON_SUBREGIONS[sub] if sub else reference.region_of(la)[0]  # type: ignore[attr-defined]
        rows.append((f"region:{region}", "region", "", la, FIRST_YEAR, LAST_YEAR))
        rows.append((ENGLAND, ENGLAND, "", la, FIRST_YEAR, LAST_YEAR))
    for code, members in sorted((alliances or {}).items()):
        for la in sorted(set(members) & codes):
            rows.append((f"alliance:{code}", "alliance", "", la, FIRST_YEAR, LAST_YEAR))
    columns = ["group_id", "group_type", "owner", "la_code", "period_from", "period_to"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.drop_duplicates(["group_id", "la_code", "period_from"]).reset_index(drop=True)
