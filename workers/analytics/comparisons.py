"""Neighbour comparisons: national rank, quartile band, group statistics and change.

The definitions are those of DfE's Local Authority Interactive Tool (LAIT), as also coded in
DfE's R/Shiny benchmarking tool that succeeds it (its ``calculate_rank`` and
``calculate_quartile_band``), so our figures match LAIT's on the same data (issue 5, seed
4.5.6):

- **National rank**: 1 is best by polarity; tied values share the best (lowest) rank (R's
  ``rank(ties.method = "min")``, pandas' ``"min"``); a missing value is not ranked.
  LAIT ranks descending for "high is good", ascending for "low is good". A
  ``context_dependent`` indicator is ranked ascending (1 = the lowest value), our reading of
  LAIT for indicators without a polarity; such a rank is a *position*, never a judgement.
  (DfE's R tool shows "-" instead of a rank for indicators without a polarity: a view
  mirroring it blanks ``rank`` for these indicators; the position still serves sorting.)
  ``n_ranked`` says how many values were ranked.
- **Quartile band**: cut points q1, q2, q3 over all LAs' values of the cell (indicator x
  period x breakdown) by R's default ``quantile`` (type 7, numpy ``method="linear"``). A value
  exactly on a cut point belongs to the band below it in value order (LAIT's ``<=``
  boundaries: ``value <= q1`` is the lowest quarter). Bands are lettered A-D with A best by
  polarity: for "higher is better" the highest quarter is A, for "lower is better" the lowest.
  No band for ``context_dependent`` indicators (LAIT shows "-"); the cut points stay. The
  viewer's raw value may lie outside the range of the protected values (LAIT, banding the
  same values it cut, never meets this): it takes the outer band on its side.
- **Group statistics** (statistical neighbours, region, alliances, England, custom and
  "similar challenges" sets): number of contributing LAs, mean, median, min and max. The
  statistical-neighbour figure is the mean of the neighbours that have a value, with the
  median beside it (LAIT's "statistical neighbour average").
- **Change from the previous period**: only when the two periods are consecutive reporting
  years (LAIT's "change from previous year"), with a direction judged by polarity
  ("improved"/"declined"/"no change"; ``context_dependent``: "up"/"down", not judged).

Every figure is computed *as the viewer may see it* (issue 5, privacy layer): an LA's own
value comes from ``raw``, everything about other LAs from ``protected`` (suppressed -> NaN, so
a suppressed value is simply absent). The viewer's raw value is ranked and banded among the
others' protected values; it never enters a group statistic or a cut point, which are
computed from protected values only and blanked unless at least
:data:`privacy.groups.MIN_CONTRIBUTORS` LAs *other than the viewer* contribute.

Method (vectorised; the national recompute of ~1 million value rows has a 10 s budget): the
protected values are laid out as a dense LA x cell grid (England has ~153 LAs, so for a
national return the grid is no larger than the long frame; it grows as LAs x distinct cells
for sparse inputs) and sorted within each cell. A viewer's rank counts the values of its cell
below and at or below its raw value, corrected for the viewer's own protected value, which is
replaced by its raw one. Mostly the raw value *is* the viewer's protected value, whose place
in the sorted cell is known: the run of values tied with it gives both counts. The other raw
values are searched for in their cell's sorted values, all at once by bisection. Quartiles
interpolate the sorted grid directly. Group statistics sort each group's member rows of the
grid, one batch per group size, and are expanded to (viewer, group, cell) rows by index
arithmetic rather than a loop over viewers.

Memory is time here: on the target machines, fresh pages for the hundreds of MB of
temporaries cost more than the arithmetic on them. So key columns are carried as integer codes
(categoricals) and labels as small codes turned into strings once, and the millions of output
rows are written in chunks straight into the result arrays.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandas.api.types import union_categoricals
from pandera.typing import DataFrame, Series

from privacy.groups import group_statistic_allowed

from .meta import (
    CELL,
    CONTEXT_DEPENDENT,
    HIGHER_IS_BETTER,
    KEY,
    LOWER_IS_BETTER,
    SHARED_OWNER,
    Groups,
    IndicatorMeta,
    ValueFrame,
)

__all__ = [
    "BANDS",
    "DIRECTIONS",
    "QUARTILES",
    "BandFrame",
    "ChangeFrame",
    "GroupComparisonFrame",
    "PerLAFrame",
    "RankFrame",
    "compare",
    "group_comparisons",
    "national_ranks",
    "period_change",
    "quartile_bands",
]

QUARTILES = (0.25, 0.5, 0.75)
"""The cut points of the quartile bands, computed as R's default ``quantile`` (type 7, numpy
``method="linear"``) over every LA's protected value of the cell, as LAIT does."""

BANDS = ("A", "B", "C", "D")
"""Quartile band letters, A best by polarity. A value on a cut point belongs to the band below
it in value order (LAIT: ``value <= q1`` is the lowest quarter)."""

NO_BAND = ""
"""The band of a missing value, of a ``context_dependent`` indicator (no band is "best"), and
of a cell whose cut points the viewer may not see."""

IMPROVED, DECLINED, NO_CHANGE, UP, DOWN, NO_DIRECTION = (
    "improved",
    "declined",
    "no change",
    "up",
    "down",
    "",
)
DIRECTIONS = (IMPROVED, DECLINED, NO_CHANGE, UP, DOWN, NO_DIRECTION)
"""Direction of the change from the previous period: judged by polarity ("improved",
"declined"), or only "up"/"down" for ``context_dependent`` indicators (seed 4.5.7: these move
"the wrong way" during improvement, so a rise is not a decline); "" when there is no change
figure (no consecutive previous period, or a missing value)."""

CONSECUTIVE = 1
"""Periods are consecutive when their reporting years differ by exactly this: a change over
a gap year is not a "change from the previous year" (LAIT shows none)."""

_GRID_CHUNK = 1_000_000
"""Elements of the member x cell block sorted at once for group statistics (~8 MB of
float64): bounds memory for large groups or many cells without a per-cell loop. Blocks this
small are recycled by the allocator; fresh pages for larger ones cost more than the sort."""

_ROW_CHUNK = 1 << 20
"""Group-statistic rows (viewer x group x cell) expanded at once: millions of rows are
written chunk by chunk into the result, so that the temporary index arrays stay small
(recycled memory rather than fresh pages, which dominated the time)."""

_DENSE_CODES = 1 << 22
"""Distinct combinations of column codes (:func:`_factorize_rows`) are found with a presence
array rather than a hash when there are at most this many possible ones (or 4 per row): a
linear pass, exact, and ordered like the sorted hash."""

# Polarity codes of the per-cell arrays, and the band letter of each value-order quarter
# (0 = lowest values) for each code, as an index into _BAND_LABELS. Labels are carried as
# small integer codes and turned into strings once, by taking from the few labels (building a
# string column from millions of Python strings is the slow way).
_HIGHER, _LOWER, _CONTEXT = 0, 1, 2
_POLARITY_CODE = {HIGHER_IS_BETTER: _HIGHER, LOWER_IS_BETTER: _LOWER, CONTEXT_DEPENDENT: _CONTEXT}
_BAND_LABELS = (*BANDS, NO_BAND)
_NO_BAND_CODE = len(BANDS)
_LETTER_CODES = np.array(
    [list(reversed(range(len(BANDS)))), list(range(len(BANDS))), [_NO_BAND_CODE] * len(BANDS)],
    dtype=np.intp,
)
_DIRECTION_CODE = {d: i for i, d in enumerate(DIRECTIONS)}


def _labels(labels: tuple[str, ...], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The string column ``labels[codes]``, taken from the few labels."""
    return pd.array(list(labels), dtype="str").take(np.asarray(codes, dtype=np.intp))


# --- Output frames -----------------------------------------------------------------------


class _Keyed(pa.DataFrameModel):
    """The key of a viewer's row: the viewer and the cell."""

    la_code: Series[str]
    indicator_id: Series[str]
    period: Series[str]
    breakdown_topic: Series[str]
    breakdown: Series[str]


class RankFrame(_Keyed):
    """The viewer's national rank (1 best by polarity; NaN when its value is missing)."""

    value: Series[float] = pa.Field(nullable=True)
    rank: Series[float] = pa.Field(nullable=True, ge=1)
    n_ranked: Series[np.int64] = pa.Field(ge=0)

    class Config:
        strict = True


class BandFrame(_Keyed):
    """The viewer's quartile band and the cut points (NaN where the viewer may not see them)."""

    value: Series[float] = pa.Field(nullable=True)
    band: Series[str] = pa.Field(isin=[*BANDS, NO_BAND])
    q1: Series[float] = pa.Field(nullable=True)
    q2: Series[float] = pa.Field(nullable=True)
    q3: Series[float] = pa.Field(nullable=True)

    class Config:
        strict = True


class ChangeFrame(_Keyed):
    """Change from the previous (consecutive) period of the viewer's own values."""

    value: Series[float] = pa.Field(nullable=True)
    previous_value: Series[float] = pa.Field(nullable=True)
    change: Series[float] = pa.Field(nullable=True)
    direction: Series[str] = pa.Field(isin=list(DIRECTIONS))

    class Config:
        strict = True


class PerLAFrame(_Keyed):
    """Everything about the viewer's own value in a cell (one row per row of ``raw``)."""

    value: Series[float] = pa.Field(nullable=True)
    rank: Series[float] = pa.Field(nullable=True, ge=1)
    n_ranked: Series[np.int64] = pa.Field(ge=0)
    band: Series[str] = pa.Field(isin=[*BANDS, NO_BAND])
    q1: Series[float] = pa.Field(nullable=True)
    q2: Series[float] = pa.Field(nullable=True)
    q3: Series[float] = pa.Field(nullable=True)
    previous_value: Series[float] = pa.Field(nullable=True)
    change: Series[float] = pa.Field(nullable=True)
    direction: Series[str] = pa.Field(isin=list(DIRECTIONS))

    class Config:
        strict = True


class GroupComparisonFrame(pa.DataFrameModel):
    """Group statistics as viewer ``la_code`` may see them (blank where ``allowed`` is False).

    ``n`` is the number of members with a protected value (the viewer's own protected value
    included when it is a member). Statistics are blanked unless at least
    :data:`privacy.groups.MIN_CONTRIBUTORS` of them are LAs other than the viewer.

    The key columns are categoricals of strings: the frame has a row per viewer x group x
    cell (~3-9 million nationally), so repeating strings would cost ~3x the memory.
    """

    la_code: Series[pd.CategoricalDtype]
    group_id: Series[pd.CategoricalDtype]
    group_type: Series[pd.CategoricalDtype]
    indicator_id: Series[pd.CategoricalDtype]
    period: Series[pd.CategoricalDtype]
    breakdown_topic: Series[pd.CategoricalDtype]
    breakdown: Series[pd.CategoricalDtype]
    n: Series[np.int64] = pa.Field(ge=0)
    mean: Series[float] = pa.Field(nullable=True)
    median: Series[float] = pa.Field(nullable=True)
    min: Series[float] = pa.Field(nullable=True)
    max: Series[float] = pa.Field(nullable=True)
    allowed: Series[bool]

    class Config:
        strict = True


# --- The shared layout: raw rows and the protected LA x cell grid ------------------------


@dataclass(frozen=True)
class _Layout:
    """``raw`` and ``protected`` on shared integer codes.

    ``las``: every LA code (sorted); ``cells``: one row per cell (sorted), :data:`CELL`
    columns. ``raw_la``/``raw_cell``/``raw_value``: the raw rows, in ``raw``'s order.
    ``grid[la, cell]``: the protected value (NaN when suppressed, missing or absent);
    ``has_row[la, cell]``: whether ``protected`` has a row there at all. ``polarity`` and
    ``year``: per cell.
    """

    raw: pd.DataFrame
    las: pd.Index
    cells: pd.DataFrame
    raw_la: np.ndarray
    raw_cell: np.ndarray
    raw_value: np.ndarray
    grid: np.ndarray
    has_row: np.ndarray
    polarity: np.ndarray
    year: np.ndarray

    @cached_property
    def order(self) -> np.ndarray:
        """The LAs of each cell in ascending order of protected value, NaN last (cells x LAs)."""
        return np.argsort(np.ascontiguousarray(self.grid.T), axis=1)

    @cached_property
    def by_cell(self) -> np.ndarray:
        """The protected values of each cell, ascending, NaN last (cells x LAs)."""
        return np.take_along_axis(self.grid.T, self.order, axis=1)

    @cached_property
    def count(self) -> np.ndarray:
        """The number of protected (non-missing) values of each cell."""
        return np.count_nonzero(~np.isnan(self.by_cell), axis=1)

    @cached_property
    def place(self) -> np.ndarray:
        """Where each LA's protected value stands in its cell's sorted values (cells x LAs)."""
        place = np.empty(self.order.shape, dtype=np.int32)
        positions = np.arange(self.order.shape[1], dtype=np.int32)[None, :]
        np.put_along_axis(place, self.order, positions, axis=1)
        return place

    @cached_property
    def ties(self) -> tuple[np.ndarray, np.ndarray]:
        """For each position of :attr:`by_cell`: the first and one past the last position of
        the run of values equal to it (within its cell)."""
        return _tie_runs(self.by_cell)

    @cached_property
    def cut_points(self) -> tuple[np.ndarray, np.ndarray]:
        """See :func:`_cut_points`."""
        return _cut_points(self)

    @cached_property
    def previous_cell(self) -> np.ndarray:
        """See :func:`_previous_cells`."""
        return _previous_cells(self)

    @cached_property
    def own_raw(self) -> np.ndarray:
        """The raw values as an LA x cell grid (NaN where there is no raw row)."""
        own = np.full(self.grid.shape, np.nan)
        own[self.raw_la, self.raw_cell] = self.raw_value
        return own

    def rows(self, rows: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(LA, cell, raw value) of the raw rows ``rows``."""
        return self.raw_la[rows], self.raw_cell[rows], self.raw_value[rows]

    def keyed(self) -> pd.DataFrame:
        """The key columns of the raw rows, fresh 0..n-1 index."""
        return self.raw[KEY].reset_index(drop=True)


def _column_codes(frames: list[pd.DataFrame], col: str) -> tuple[list[np.ndarray], pd.Index]:
    """Codes of ``col`` in each frame against its distinct values over all ``frames``, sorted.

    Each frame is factorised on its own (a categorical column is taken by its codes, keeping
    only the categories it uses) and the few distinct values are then merged and sorted: the
    same codes as factorising the concatenation with ``sort=True``, without concatenating
    millions of strings.
    """
    codes: list[np.ndarray] = []
    uniques: list[pd.Index] = []
    for frame in frames:
        values = frame[col]
        categorical = isinstance(values.dtype, pd.CategoricalDtype)
        code = values.cat.codes.to_numpy() if categorical else None
        if code is not None and not (code < 0).any():
            # Keep only the categories in use (a slice of a frame uses fewer).
            unique = values.cat.categories
            used = np.bincount(code, minlength=len(unique)) > 0
            if not used.all():
                code = (np.cumsum(used) - 1).astype(code.dtype)[code]
                unique = unique[used]
        else:
            code, unique = pd.factorize(values)
        codes.append(code)
        uniques.append(pd.Index(unique))
    levels = uniques[0].append(uniques[1:]).unique().sort_values() if uniques else pd.Index([])
    # Codes in the smallest integer type (millions of them: less memory to fill).
    kind = _code_dtype(len(levels))
    out = []
    for code, unique in zip(codes, uniques, strict=True):
        at = levels.get_indexer(unique).astype(kind)
        if (code < 0).any():
            out.append(np.where(code >= 0, at[code], -1).astype(kind))
        elif np.array_equal(at, np.arange(len(at))):
            out.append(code)
        else:
            out.append(at[code])
    return out, levels


def _factorize_rows(
    frames: list[pd.DataFrame], columns: list[str]
) -> tuple[list[np.ndarray], pd.DataFrame]:
    """Codes of the distinct rows of ``columns`` over all ``frames`` (sorted lexicographically).

    Each column is factorised on its own and the codes combined in mixed radix, which is far
    cheaper than hashing row tuples of strings. Frames with categorical columns (the pipeline
    codes its inputs once) are taken by their codes.
    """
    keys = [np.zeros(len(f), dtype=np.int64) for f in frames]
    uniques: list[pd.Index] = []
    radix = 1
    for col in columns:
        codes, levels = _column_codes(frames, col)
        for key, code in zip(keys, codes, strict=True):
            key *= len(levels)
            key += code
        uniques.append(levels)
        radix *= max(len(levels), 1)
    total = sum(len(f) for f in frames)
    if radix <= max(_DENSE_CODES, 4 * total):
        # A presence array over every possible combination: its running count renumbers the
        # combinations present, in sorted order, as a sorted factorisation would.
        present = np.zeros(radix, dtype=bool)
        for key in keys:
            present[key] = True
        distinct = np.flatnonzero(present)
        renumber = np.cumsum(present) - 1
        split = [renumber[key] for key in keys]
    else:
        codes, distinct = pd.factorize(np.concatenate(keys), sort=True)
        lengths = [len(f) for f in frames]
        split = np.split(np.asarray(codes, dtype=np.intp), np.cumsum(lengths)[:-1])
    # Decode the distinct combined codes back into their column values (last column first).
    decoded = {}
    rest = np.asarray(distinct, dtype=np.int64)
    for col, levels in zip(reversed(columns), reversed(uniques), strict=True):
        rest, code = np.divmod(rest, max(len(levels), 1))
        decoded[col] = levels.take(code)
    table = pd.DataFrame({col: decoded[col] for col in columns})
    return split, table


def _polarity_codes(indicators: pd.Series, meta: pd.DataFrame) -> np.ndarray:
    """The polarity code of each indicator id; every indicator must be in ``meta``."""
    polarity = meta.set_index("indicator_id")["polarity"].reindex(pd.Index(indicators))
    unknown = sorted(set(indicators[polarity.isna().to_numpy()]))
    if unknown:
        raise ValueError(f"indicators missing from the metadata: {', '.join(unknown)}")
    return polarity.map(_POLARITY_CODE).to_numpy(np.int8)


def _layout(
    raw: pd.DataFrame,
    protected: pd.DataFrame,
    meta: pd.DataFrame,
    extra_las: pd.Series | None = None,
) -> _Layout:
    """Lay ``raw`` and ``protected`` out on shared codes (see :class:`_Layout`)."""
    la_frames = [raw[["la_code"]], protected[["la_code"]]]
    if extra_las is not None:
        la_frames.append(extra_las.to_frame("la_code"))
    la_codes, la_table = _factorize_rows(la_frames, ["la_code"])
    (raw_cell, prot_cell), cells = _factorize_rows([raw, protected], CELL)
    n_la, n_cells = len(la_table), len(cells)
    grid = np.full((n_la, n_cells), np.nan)
    grid[la_codes[1], prot_cell] = protected["value"].to_numpy(np.float64)
    has_row = np.zeros((n_la, n_cells), dtype=bool)
    has_row[la_codes[1], prot_cell] = True
    return _Layout(
        raw=raw,
        las=pd.Index(la_table["la_code"]),
        cells=cells,
        raw_la=la_codes[0],
        raw_cell=raw_cell,
        raw_value=raw["value"].to_numpy(np.float64),
        grid=grid,
        has_row=has_row,
        polarity=_polarity_codes(cells["indicator_id"], meta),
        year=cells["period"].astype(np.int64).to_numpy(),
    )


# --- National rank -----------------------------------------------------------------------


def _tie_runs(by_cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each position of the sorted cells x LAs array: the first and one past the last
    position (within its cell) of the run of values equal to it."""
    width = by_cell.shape[1]
    position = np.arange(width, dtype=np.int32)
    starts = np.ones(by_cell.shape, dtype=bool)
    np.not_equal(by_cell[:, 1:], by_cell[:, :-1], out=starts[:, 1:])
    first = np.where(starts, position, np.int32(0))
    np.maximum.accumulate(first, axis=1, out=first)
    ends = np.ones(by_cell.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    stop = np.where(ends, position + 1, np.int32(width))[:, ::-1]
    stop = np.minimum.accumulate(stop, axis=1)[:, ::-1]
    return first, stop


def _search_cells(
    by_cell: np.ndarray, count: np.ndarray, cell: np.ndarray, value: np.ndarray, right: bool
) -> np.ndarray:
    """``searchsorted`` of each ``value`` among the non-missing sorted values of its ``cell``
    (the first ``count`` of its row of ``by_cell``), all rows at once by bisection."""
    width = by_cell.shape[1]
    flat = by_cell.ravel()
    base = cell * width
    lo = np.zeros(len(cell), dtype=np.intp)
    hi = count[cell].astype(np.intp)
    for _ in range(max(width, 1).bit_length()):
        active = lo < hi
        mid = (lo + hi) >> 1
        probe = flat[base + np.minimum(mid, width - 1)]
        go_right = (probe <= value) if right else (probe < value)
        lo = np.where(active & go_right, mid + 1, lo)
        hi = np.where(active & ~go_right, mid, hi)
    return lo


def _rank_arrays(
    lay: _Layout, rows: np.ndarray | slice = slice(None)
) -> tuple[np.ndarray, np.ndarray]:
    """Rank and number ranked of each raw row's value among the others' protected values
    (of the raw rows ``rows``)."""
    la, cell, r = lay.rows(rows)
    count = lay.count
    has_r = ~np.isnan(r)
    own = lay.grid[la, cell]
    own_in = ~np.isnan(own)
    # How many of the cell's protected values (the viewer's own included) are below, and at or
    # below, the raw value. Mostly the raw value is the viewer's own protected value: its place
    # in the sorted cell is known, and the run of values tied with it gives both counts. Other
    # raw values (the viewer's protected one suppressed or different) are searched for.
    same = own == r  # False where either is missing
    first, stop = lay.ties
    at = lay.place[cell, la]
    below = np.where(same, first[cell, at], 0).astype(np.intp)
    at_or_below = np.where(same, stop[cell, at], 0).astype(np.intp)
    other = np.flatnonzero(has_r & ~same)
    if len(other):
        for out, right in ((below, False), (at_or_below, True)):
            out[other] = _search_cells(lay.by_cell, count, cell[other], r[other], right)
    # The viewer's own protected value is replaced by its raw one: take it out of the counts.
    below -= own_in & (own < r)
    at_or_below -= own_in & (own <= r)
    total = count[cell]
    above = total - own_in - at_or_below
    # Ties share the best rank ("min"): 1 + the number of others strictly better.
    better = np.where(lay.polarity[cell] == _HIGHER, above, below)
    rank = np.where(has_r, 1.0 + better, np.nan)
    n_ranked = total - own_in + has_r
    return rank, n_ranked.astype(np.int64)


@pa.check_types
def national_ranks(
    raw: DataFrame[ValueFrame],
    protected: DataFrame[ValueFrame],
    meta: DataFrame[IndicatorMeta],
) -> DataFrame[RankFrame]:
    """Each raw row's national rank as its LA sees it: its raw value among the others'.

    One row per row of ``raw``: the LA's own raw value is ranked among every *other* LA's
    protected value of the cell; 1 is best by polarity (1 = lowest for ``context_dependent``
    indicators, a position rather than a judgement); ties share the best rank; a missing raw
    value has no rank. ``n_ranked``: the values ranked (the others' non-missing protected
    values, plus the LA's own when present).
    """
    lay = _layout(raw, protected, meta)
    return _ranks(lay)


def _ranks(lay: _Layout) -> pd.DataFrame:
    rank, n_ranked = _rank_arrays(lay)
    return lay.keyed().assign(value=lay.raw_value, rank=rank, n_ranked=n_ranked)


# --- Quartile bands ----------------------------------------------------------------------


def _quantile_lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's own linear interpolation (``np.quantile``'s ``_lerp``), for identical digits."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _cut_points(lay: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: q1, q2, q3 (cells x 3, NaN for a cell with no value) and the number of values."""
    by_cell, count = lay.by_cell, lay.count
    probs = np.asarray(QUARTILES)
    virtual = np.maximum(count - 1, 0)[:, None] * probs  # R type 7: (n - 1) p
    lower = np.floor(virtual).astype(np.intp)
    upper = np.minimum(lower + 1, np.maximum(count - 1, 0)[:, None])
    rows = np.arange(len(count))[:, None]
    cuts = _quantile_lerp(by_cell[rows, lower], by_cell[rows, upper], virtual - lower)
    cuts[count == 0] = np.nan
    return cuts, count


def _band_arrays(
    lay: _Layout, rows: np.ndarray | slice = slice(None)
) -> tuple[np.ndarray, np.ndarray]:
    """Each raw row's band (code into :data:`_BAND_LABELS`) and the cut points it may see
    (rows x 3), of the raw rows ``rows``."""
    cuts, count = lay.cut_points
    la, cell, r = lay.rows(rows)
    # Cut points are a group statistic of the whole cell: shown only when enough LAs besides
    # the viewer contribute (its own protected value is the one it could difference out).
    viewer_in = ~np.isnan(lay.grid[la, cell])
    allowed = group_statistic_allowed(count[cell] - viewer_in, viewer_contributes=False)
    seen = np.where(allowed[:, None], cuts[cell], np.nan)
    # Quarter in value order; `>` so a value on a cut point falls in the quarter below (<=).
    quarter = (r[:, None] > seen).sum(axis=1)
    letters = _LETTER_CODES[lay.polarity[cell], quarter]
    letters[np.isnan(r) | ~allowed] = _NO_BAND_CODE
    return letters, seen


@pa.check_types
def quartile_bands(
    raw: DataFrame[ValueFrame],
    protected: DataFrame[ValueFrame],
    meta: DataFrame[IndicatorMeta],
) -> DataFrame[BandFrame]:
    """Each raw row's quartile band (A best by polarity) among all LAs' protected values.

    Cut points: R's default quantile of every LA's protected value of the cell (the viewer's
    own protected value included: the cut points are one set for the whole cell). The band
    places the viewer's raw value; a value on a cut point is in the quarter below. No band for
    ``context_dependent`` indicators or missing values; cut points blank (and no band) where
    fewer than :data:`~privacy.groups.MIN_CONTRIBUTORS` LAs besides the viewer contribute.
    """
    lay = _layout(raw, protected, meta)
    return _bands(lay)


def _bands(lay: _Layout) -> pd.DataFrame:
    letters, seen = _band_arrays(lay)
    return lay.keyed().assign(
        value=lay.raw_value,
        band=_labels(_BAND_LABELS, letters),
        q1=seen[:, 0],
        q2=seen[:, 1],
        q3=seen[:, 2],
    )


# --- Change from the previous period -----------------------------------------------------


def _previous_cells(lay: _Layout) -> np.ndarray:
    """Each cell's cell of the previous consecutive year (same indicator and breakdown), -1
    where there is none."""
    (series,), _ = _factorize_rows([lay.cells], ["indicator_id", *CELL[2:]])
    previous = np.full(len(series), -1, dtype=np.intp)
    if len(series):
        first = lay.year.min()
        # One slot more than the span of years, so "year - 1" of a series' first year lands
        # on an empty slot, never on the previous series' last year.
        span = np.int64(lay.year.max() - first + 2)
        key = series.astype(np.int64) * span + (lay.year - first + 1)
        cell_at = np.full((int(series.max()) + 1) * int(span), -1, dtype=np.intp)
        cell_at[key] = np.arange(len(key))
        previous = cell_at[key - CONSECUTIVE]
    return previous


def _change_arrays(
    lay: _Layout, rows: np.ndarray | slice = slice(None)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Previous consecutive-period raw value, change and direction (code into
    :data:`DIRECTIONS`) of the raw rows ``rows``."""
    la, cell, value = lay.rows(rows)
    # The previous value is one look-up in the grid of raw values, at the previous year's
    # cell of the same series.
    before = lay.previous_cell[cell]
    previous = np.where(before >= 0, lay.own_raw[la, np.maximum(before, 0)], np.nan)
    change = value - previous
    sign = np.sign(change)
    polarity = lay.polarity[cell]
    judged = np.where(polarity == _LOWER, -sign, sign)
    direction = np.select(
        [
            np.isnan(change),
            sign == 0,
            (polarity == _CONTEXT) & (sign > 0),
            (polarity == _CONTEXT) & (sign < 0),
            judged > 0,
        ],
        [_DIRECTION_CODE[d] for d in (NO_DIRECTION, NO_CHANGE, UP, DOWN, IMPROVED)],
        default=_DIRECTION_CODE[DECLINED],
    )
    return previous, change, direction


@pa.check_types
def period_change(
    raw: DataFrame[ValueFrame], meta: DataFrame[IndicatorMeta]
) -> DataFrame[ChangeFrame]:
    """Each raw row's change from the LA's own value of the previous reporting year.

    Only consecutive years count (2025 against 2024; 2025 against 2023 gives no change).
    ``direction`` by polarity: "improved", "declined" or "no change"; for
    ``context_dependent`` indicators "up", "down" or "no change" (not judged); "" when there
    is no change figure.
    """
    lay = _layout(raw, raw.iloc[:0], meta)
    return _changes(lay)


def _changes(lay: _Layout) -> pd.DataFrame:
    previous, change, direction = _change_arrays(lay)
    return lay.keyed().assign(
        value=lay.raw_value,
        previous_value=previous,
        change=change,
        direction=_labels(DIRECTIONS, direction),
    )


# --- Group statistics --------------------------------------------------------------------


@dataclass(frozen=True)
class _GroupStats:
    """Per group x cell: contributors and statistics (unblanked), and whether any member
    has a protected row there."""

    n: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    min: np.ndarray
    max: np.ndarray
    any_row: np.ndarray


def _group_stats(
    grid: np.ndarray,
    has_row: np.ndarray,
    member_la: np.ndarray,
    member_group: np.ndarray,
    n_groups: int,
) -> _GroupStats:
    """Statistics of every group over every cell of ``grid`` (protected values, LAs x cells;
    ``has_row``: where ``protected`` has a row).

    Groups of the same size are stacked into one (groups x members x cells) block and sorted
    along the members axis (NaN last), so min, max and median are positions in the sort.
    """
    n_cells = grid.shape[1]
    shape = (n_groups, n_cells)
    out = _GroupStats(
        n=np.zeros(shape, dtype=np.int64),
        mean=np.full(shape, np.nan),
        median=np.full(shape, np.nan),
        min=np.full(shape, np.nan),
        max=np.full(shape, np.nan),
        any_row=np.zeros(shape, dtype=bool),
    )
    order = np.argsort(member_group, kind="stable")
    member_la, member_group = member_la[order], member_group[order]
    size = np.bincount(member_group, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    # One pass per distinct group size (a handful: neighbour sets, regions, England), not
    # per group or per viewer.
    for s in np.unique(size[size > 0]):
        groups = np.flatnonzero(size == s)
        las = member_la[start[groups][:, None] + np.arange(s)]  # groups x s
        width = max(1, _GRID_CHUNK // (len(groups) * s))
        for c0 in range(0, n_cells, width):
            cols = slice(c0, c0 + width)
            block = np.sort(grid[:, cols][las], axis=1)  # groups x s x cells
            k = np.count_nonzero(~np.isnan(block), axis=1)
            at = np.ix_(groups, np.arange(n_cells)[cols])
            out.n[at] = k
            out.any_row[at] = has_row[:, cols][las].any(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.mean[at] = np.where(np.isnan(block), 0.0, block).sum(axis=1) / k
            lo = np.take_along_axis(block, np.maximum((k - 1) // 2, 0)[:, None], axis=1)[:, 0]
            hi = np.take_along_axis(block, (k // 2)[:, None].clip(0, s - 1), axis=1)[:, 0]
            out.median[at] = np.where(k > 0, (lo + hi) / 2, np.nan)
            out.min[at] = block[:, 0]
            out.max[at] = np.take_along_axis(block, np.maximum(k - 1, 0)[:, None], axis=1)[:, 0]
    return out


def _viewer_pairs(
    groups: pd.DataFrame, gid: np.ndarray, glas: np.ndarray, lay: _Layout
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(viewer LA code, group code, viewer is a member) for every group that concerns a viewer.

    Per-LA groups concern their owner; shared groups their members; England every LA with a
    raw value as well as its members. Only LAs with a raw row are viewers.
    """
    owner = groups["owner"].to_numpy()
    shared = owner == SHARED_OWNER
    owner_la = lay.las.get_indexer(pd.Index(owner[~shared]))
    england = groups["group_type"].to_numpy() == "england"
    all_viewers = np.flatnonzero(np.bincount(lay.raw_la, minlength=len(lay.las)))
    england_groups = np.unique(gid[england])
    viewer = np.concatenate([owner_la, glas[shared], np.repeat(all_viewers, len(england_groups))])
    group = np.concatenate([gid[~shared], gid[shared], np.tile(england_groups, len(all_viewers))])
    # Only LAs with raw rows are viewers: an incremental recompute for a few LAs must not
    # expand every member of a shared group into a viewer.
    is_viewer = np.isin(viewer, all_viewers)
    viewer, group = viewer[is_viewer], group[is_viewer]
    n_groups = int(gid.max(initial=-1)) + 1
    pair = np.unique(viewer.astype(np.int64) * max(n_groups, 1) + group)
    viewer, group = np.divmod(pair, max(n_groups, 1))
    member_key = np.unique(glas.astype(np.int64) * max(n_groups, 1) + gid)
    is_member = np.isin(pair, member_key)
    return viewer.astype(np.intp), group.astype(np.intp), is_member


@dataclass(frozen=True)
class _GroupPlan:
    """The rows of a :class:`GroupComparisonFrame` before they are written out.

    ``stats``: per group x column, where the columns are the layout cells ``cells`` (all
    of them when computed for every cell). One row per (viewer, group) pair and column in
    which the group has a protected row: the pairs (``viewer``, ``group``, ``is_member``)
    have ``rows`` rows each, whose columns are ``columns[start[group] : ...]`` (ascending).
    ``levels``: the values each key column's codes index (``la_code``: ``viewer``;
    ``group_id``/``group_type``: ``group``; the cell columns: ``cells``).
    """

    levels: dict[str, pd.Index | pd.Series]
    cells: np.ndarray
    stats: _GroupStats
    has_value: np.ndarray  # viewer x column: its own protected value is present
    viewer: np.ndarray
    group: np.ndarray
    is_member: np.ndarray
    rows: np.ndarray
    columns: np.ndarray
    start: np.ndarray

    @property
    def size(self) -> int:
        return int(self.rows.sum())

    def fill(self, out: dict[str, np.ndarray], offset: int, recode: dict[str, np.ndarray]) -> None:
        """Write the rows into ``out[...][offset : offset + size]``: key columns as codes
        ``recode[col][level code]``, then ``n``, the statistics and ``allowed``. (The
        takes into ``out`` use ``mode="clip"``, which numpy does not buffer; the positions
        are in range by construction.)"""
        n_columns = self.stats.n.shape[1]
        row_end = np.cumsum(self.rows)
        # Chunks of whole pairs of about _ROW_CHUNK rows.
        cuts = np.searchsorted(row_end, np.arange(_ROW_CHUNK, self.size, _ROW_CHUNK))
        bounds = np.unique(
            np.concatenate([[0], cuts + 1, [len(self.rows)]]).clip(0, len(self.rows))
        )
        for p0, p1 in itertools.pairwise(bounds):
            rows = self.rows[p0:p1]
            first = int(row_end[p0] - self.rows[p0])
            lo, hi = offset + first, offset + int(row_end[p1 - 1])
            if hi == lo:
                continue
            viewer, group = self.viewer[p0:p1], self.group[p0:p1]
            # Row i of a pair is column columns[start[its group] + i].
            at = np.repeat(self.start[group] - (np.cumsum(rows) - rows), rows)
            at += np.arange(hi - lo)
            column = self.columns[at]
            for col in CELL:
                np.take(recode[col], column, out=out[col][lo:hi], mode="clip")
            out["la_code"][lo:hi] = np.repeat(recode["la_code"][viewer], rows)
            for col in ("group_id", "group_type"):
                out[col][lo:hi] = np.repeat(recode[col][group], rows)
            # The viewer's own protected value is a contribution it can subtract: only
            # others count.
            at = np.repeat(viewer * n_columns, rows)
            at += column
            viewer_in = self.has_value.ravel().take(at)
            viewer_in &= np.repeat(self.is_member[p0:p1], rows)
            at = np.repeat(group * n_columns, rows)
            at += column  # flat positions in the group x column arrays
            n = np.take(self.stats.n.ravel(), at, out=out["n"][lo:hi], mode="clip")
            allowed = np.asarray(
                group_statistic_allowed(n - viewer_in, viewer_contributes=False), dtype=bool
            )
            out["allowed"][lo:hi] = allowed
            for stat in _STATISTICS:
                shown = out[stat][lo:hi]
                np.take(getattr(self.stats, stat).ravel(), at, out=shown, mode="clip")
                np.copyto(shown, np.nan, where=~allowed)

    def own_groups(self, group_type: str) -> np.ndarray:
        """Per viewer x column: the pair of the viewer's group of ``group_type`` that has a
        row in the column, -1 where none. A viewer with two such groups with a row in the
        same column is an error (which of them would be its figure?)."""
        n_la, n_columns = self.has_value.shape
        types = np.asarray(self.levels["group_type"], dtype=object) == group_type
        pairs = np.flatnonzero(types[self.group])
        pairs = pairs[np.argsort(self.viewer[pairs], kind="stable")]
        viewers, first = np.unique(self.viewer[pairs], return_index=True)
        found = np.full((n_la, n_columns), -1, dtype=np.int32)
        if not len(pairs):
            return found
        has_row = self.stats.any_row[self.group[pairs]]  # pairs x columns
        if len(viewers) < len(pairs):
            per_viewer = np.add.reduceat(has_row.astype(np.int32), first, axis=0)
            if (per_viewer > 1).any():
                raise ValueError(f"a viewer has two {group_type} groups with a row in one cell")
        mine = np.where(has_row, pairs.astype(np.int32)[:, None], np.int32(-1))
        found[viewers] = np.maximum.reduceat(mine, first, axis=0)
        return found

    def viewer_statistics(
        self, found: np.ndarray, la: np.ndarray, cell: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For rows (viewer ``la``, layout ``cell``): ``n``, mean and median of the viewer's
        own group (``found``: :meth:`own_groups`) in the cell, as the viewer may see them
        (0, NaN, NaN where it has none)."""
        n_columns = self.has_value.shape[1]
        column = np.full(len(self.levels["indicator_id"]), -1, dtype=np.intp)
        column[self.cells] = np.arange(len(self.cells))
        column = column[cell]
        pair = np.where(column >= 0, found[la, np.maximum(column, 0)], -1)
        hit = pair >= 0
        pair, column = pair[hit], column[hit]
        at = self.group[pair] * n_columns + column
        n = np.zeros(len(la), dtype=np.int64)
        n[hit] = self.stats.n.ravel()[at]
        viewer_in = self.is_member[pair] & self.has_value[la[hit], column]
        allowed = np.zeros(len(la), dtype=bool)
        allowed[hit] = group_statistic_allowed(n[hit] - viewer_in, viewer_contributes=False)
        out = []
        for stat in ("mean", "median"):
            values = np.full(len(la), np.nan)
            values[hit] = getattr(self.stats, stat).ravel()[at]
            values[~allowed] = np.nan
            out.append(values)
        return n, out[0], out[1]


_STATISTICS = ("mean", "median", "min", "max")


def _group_plan(lay: _Layout, groups: pd.DataFrame, cells: np.ndarray | None = None) -> _GroupPlan:
    """The group rows (see :func:`group_comparisons`) of ``lay``, for ``cells`` (codes of
    ``lay.cells``) only when given."""
    (gid,), gtable = _factorize_rows([groups], ["group_id"])
    gtype = (
        groups.assign(code=gid).drop_duplicates("code").set_index("code")["group_type"]
    ).reindex(np.arange(len(gtable)))
    glas = lay.las.get_indexer(pd.Index(groups["la_code"]))
    if cells is None:
        cells = np.arange(len(lay.cells))
        grid, has_row = lay.grid, lay.has_row
    else:
        grid, has_row = lay.grid[:, cells], lay.has_row[:, cells]
    stats = _group_stats(grid, has_row, glas, gid, len(gtable))
    viewer, group, is_member = _viewer_pairs(groups, gid, glas, lay)
    group_of, columns = np.nonzero(stats.any_row)  # row-major: by group, then column
    per_group = np.bincount(group_of, minlength=len(gtable))
    return _GroupPlan(
        levels={
            "la_code": lay.las,
            "group_id": gtable["group_id"],
            "group_type": gtype,
            **{col: lay.cells[col] for col in CELL},
        },
        cells=cells,
        stats=stats,
        has_value=~np.isnan(grid),
        viewer=viewer,
        group=group,
        is_member=is_member,
        rows=per_group[group],
        columns=columns,
        start=np.concatenate([[0], np.cumsum(per_group)[:-1]]).astype(np.intp),
    )


def _code_dtype(n_categories: int) -> type[np.signedinteger]:
    """The integer type pandas keeps the codes of a categorical with this many categories in
    (so that building one from codes of that type copies nothing)."""
    for kind in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(kind).max:
            return kind
    return np.int64


def _group_frame(plans: list[_GroupPlan]) -> pd.DataFrame:
    """The :class:`GroupComparisonFrame` of ``plans``, one after another.

    Each key column is a categorical whose categories are those each plan's own frame would
    have (the distinct values of its levels, sorted) united in order (``union_categoricals``
    of the plans' frames): the codes are written straight into the result.
    """
    sizes = [plan.size for plan in plans]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
    total = int(offsets[-1])
    dtypes = {}
    recodes: list[dict[str, np.ndarray]] = [{} for _ in plans]
    for col in plans[0].levels:
        own = [pd.Categorical(np.asarray(plan.levels[col], dtype=object)) for plan in plans]
        dtype = own[0].dtype if len(plans) == 1 else union_categoricals(own).dtype
        kind = _code_dtype(len(dtype.categories))
        for plan, cat, recode in zip(plans, own, recodes, strict=True):
            codes = dtype.categories.get_indexer(cat.categories)[cat.codes].astype(kind)
            recode[col] = codes[plan.cells] if col in CELL else codes
        dtypes[col] = (dtype, kind)
    out = {col: np.empty(total, dtype=kind) for col, (_, kind) in dtypes.items()}
    out["n"] = np.empty(total, dtype=np.int64)
    out.update({stat: np.empty(total, dtype=np.float64) for stat in _STATISTICS})
    out["allowed"] = np.empty(total, dtype=bool)
    for plan, offset, recode in zip(plans, offsets[:-1], recodes, strict=True):
        plan.fill(out, int(offset), recode)
    for col, (dtype, _) in dtypes.items():
        out[col] = pd.Categorical.from_codes(out[col], dtype=dtype, validate=False)
    # copy=False: fresh arrays, no need to copy them into 2-D blocks.
    return pd.DataFrame(out, copy=False)


def _group_rows(lay: _Layout, groups: pd.DataFrame) -> pd.DataFrame:
    return _group_frame([_group_plan(lay, groups)])


@pa.check_types
def group_comparisons(
    raw: DataFrame[ValueFrame],
    protected: DataFrame[ValueFrame],
    groups: DataFrame[Groups],
    meta: DataFrame[IndicatorMeta],
) -> DataFrame[GroupComparisonFrame]:
    """Group statistics for every viewer x group that concerns it x cell.

    A viewer sees its own per-LA groups (``owner == viewer``: its statistical neighbours, its
    similar-challenges and custom sets), the shared groups it belongs to (its region, Inner
    or Outer London, its alliances) and England. Statistics come from protected values only
    (the viewer's raw value never enters them); a cell appears for a group when any member
    has a protected row there. ``raw`` supplies the viewers (every LA with a raw row sees
    England).
    """
    lay = _layout(raw, protected, meta, extra_las=_group_las(groups))
    return _group_rows(lay, groups)


def _group_las(groups: pd.DataFrame) -> pd.Series:
    owners = groups["owner"][groups["owner"] != SHARED_OWNER]
    return pd.concat([groups["la_code"], owners], ignore_index=True)


# --- Everything at once ------------------------------------------------------------------


@pa.check_types
def compare(
    raw: DataFrame[ValueFrame],
    protected: DataFrame[ValueFrame],
    groups: DataFrame[Groups],
    meta: DataFrame[IndicatorMeta],
) -> tuple[DataFrame[PerLAFrame], DataFrame[GroupComparisonFrame]]:
    """The whole comparison set in one call: ``(per_la, per_group)``.

    ``per_la``: one row per row of ``raw`` with the LA's value, national rank, quartile band
    and cut points, previous consecutive-period value, change and direction (see
    :func:`national_ranks`, :func:`quartile_bands`, :func:`period_change`). ``per_group``:
    :func:`group_comparisons`. The inputs are laid out once and validated once.
    """
    lay = _layout(raw, protected, meta, extra_las=_group_las(groups))
    columns = _per_la_columns(lay)
    columns["band"] = _labels(_BAND_LABELS, columns["band"])
    columns["direction"] = _labels(DIRECTIONS, columns["direction"])
    per_la = lay.keyed().assign(**columns)
    return per_la, _group_rows(lay, groups)


def _per_la_columns(lay: _Layout, rows: np.ndarray | slice = slice(None)) -> dict[str, np.ndarray]:
    """The :class:`PerLAFrame` columns after the key, as arrays (``band`` and ``direction``
    as codes into :data:`_BAND_LABELS` and :data:`DIRECTIONS`), of the raw rows ``rows``."""
    rank, n_ranked = _rank_arrays(lay, rows)
    letters, seen = _band_arrays(lay, rows)
    previous, change, direction = _change_arrays(lay, rows)
    return {
        "value": lay.raw_value[rows],
        "rank": rank,
        "n_ranked": n_ranked,
        "band": letters,
        "q1": seen[:, 0],
        "q2": seen[:, 1],
        "q3": seen[:, 2],
        "previous_value": previous,
        "change": change,
        "direction": direction,
    }
