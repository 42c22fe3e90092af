"""The cell frame, its additive structure, and who might attack it.

A *cell frame* is a long DataFrame with one row per count cell of a release table (see
:class:`CellFrame`). Its *relations* are the linear facts an attacker can combine with the
published numbers (:func:`build_relations`):

1. Breakdown: an area's Total equals the sum of one additive topic's categories.
2. Geography: a parent area's cell equals the sum of its children's cells present in the frame.
3. Bounds: a numerator is at most its denominator (and its respondents).

A relation is only included where it holds exactly on the true counts: an attacker cannot use a
relation that is not true (categories may be missing from a return, an LA may be missing from
a region), and the auditor's linear programmes must be feasible at the true counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa
import scipy.sparse as sp
from pandera.typing import Series

__all__ = [
    "KEY",
    "LEVELS",
    "LOCAL_AUTHORITY",
    "MEASURES",
    "NATIONAL",
    "REGIONAL",
    "TOTAL",
    "Attacker",
    "CellFrame",
    "Relations",
    "Structure",
    "ancestors",
    "build_relations",
    "descendants",
    "validate_cells",
]

NATIONAL = "National"
REGIONAL = "Regional"
LOCAL_AUTHORITY = "Local authority"
LEVELS = (NATIONAL, REGIONAL, LOCAL_AUTHORITY)
"""EES geographic levels (Inner and Outer London are ``Regional``)."""

MEASURES = ("numerator", "denominator", "respondents", "n")
"""The count measures of the data contract."""

TOTAL = "Total"
"""The EES filter value of a total: ``breakdown_topic == breakdown == "Total"``."""

KEY = ["area_code", "indicator_id", "breakdown_topic", "breakdown", "measure"]
"""The columns that identify a cell."""


@dataclass(frozen=True)
class Structure:
    """Which relations of a release are real.

    ``additive_topics``: breakdown topics whose categories sum to the Total (a child is in
    exactly one category). ``bounds``: ``(smaller, larger)`` measure pairs, ``smaller <= larger``
    for the same area, indicator and breakdown cell.
    """

    additive_topics: frozenset[str]
    bounds: tuple[tuple[str, str], ...] = (
        ("numerator", "denominator"),
        ("numerator", "respondents"),
    )


@dataclass(frozen=True)
class Attacker:
    """A reader who knows the true count of every cell of ``areas``.

    An LA knows its own values; an alliance or a region's LAs acting together pool theirs.
    When a cell of area ``v`` is audited, the attacker's knowledge is ``areas`` minus ``v`` and
    minus every area that sums into ``v`` (a coalition minus its victim: for an aggregate cell
    the victims are its contributors, and a coalition holding all of them holds the cell).
    """

    name: str
    areas: frozenset[str] = field(default_factory=frozenset)


class CellFrame(pa.DataFrameModel):
    """One row per count cell; ``count`` is the TRUE count, ``public`` cells are never hidden."""

    geographic_level: Series[str] = pa.Field(isin=list(LEVELS))
    area_code: Series[str]
    parent_code: Series[str]
    indicator_id: Series[str]
    breakdown_topic: Series[str]
    breakdown: Series[str]
    measure: Series[str] = pa.Field(isin=list(MEASURES))
    count: Series[np.int64] = pa.Field(ge=0)
    public: Series[bool]

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="duplicate cell key")
    @classmethod
    def one_row_per_key(cls, frame: pd.DataFrame) -> pd.Series:
        """A cell key (area, indicator, topic, breakdown, measure) appears once."""
        return ~frame.duplicated(KEY, keep=False)


def validate_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` checked and coerced by :class:`CellFrame`, with a fresh 0..n-1 index."""
    # A fresh index first: pandera's error report cannot reshape a duplicated index.
    return CellFrame.validate(cells.reset_index(drop=True))


@dataclass(frozen=True)
class Relations:
    """The linear relations over the cells of a frame (columns are cell positions 0..n-1).

    ``eq @ count == 0`` (one row per relation: +1 for the total or parent, -1 for each part),
    ``ub @ count <= 0`` (+1 for the smaller measure, -1 for the larger). ``eq_kind`` says which
    family each equality row comes from (``"breakdown"`` or ``"geography"``).
    """

    eq: sp.csr_array
    ub: sp.csr_array
    eq_kind: np.ndarray
    n_cells: int

    def incidence(self) -> sp.csr_array:
        """All rows (equalities then inequalities) as a 0/1 cell-membership matrix."""
        both = sp.vstack([self.eq, self.ub], format="csr")
        both.data = np.ones_like(both.data)
        return sp.csr_array(both)


def _codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One int64 code per distinct combination of ``columns`` (fast composite keys)."""
    return frame.groupby(columns, sort=False, observed=True).ngroup().to_numpy(np.int64)


def _rows_from_groups(
    whole: np.ndarray, parts: np.ndarray, part_group: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equality rows ``whole[g] - sum(parts in g) == 0`` for the groups that hold exactly.

    ``whole[g]`` is the cell position of group g's total (-1 if absent); ``parts`` are cell
    positions with their group in ``part_group``. Returns COO (row, col, value) arrays.
    """
    n_groups = len(whole)
    part_sum = np.bincount(part_group, weights=counts[parts], minlength=n_groups)
    n_parts = np.bincount(part_group, minlength=n_groups)
    has_whole = whole >= 0
    holds = has_whole & (n_parts > 0)
    holds[has_whole] &= part_sum[has_whole] == counts[whole[has_whole]]
    row_of = np.full(n_groups, -1, dtype=np.int64)
    row_of[holds] = np.arange(holds.sum())
    kept = holds[part_group]
    rows = np.concatenate([row_of[holds], row_of[part_group[kept]]])
    cols = np.concatenate([whole[holds], parts[kept]])
    vals = np.concatenate([np.ones(holds.sum()), -np.ones(kept.sum())])
    return rows, cols, vals


def _breakdown_rows(cells: pd.DataFrame, structure: Structure) -> tuple[np.ndarray, ...]:
    """Total = sum of categories, per (area, indicator, measure, additive topic)."""
    counts = cells["count"].to_numpy(np.int64)
    topic = cells["breakdown_topic"]
    is_total = (topic == TOTAL).to_numpy() & (cells["breakdown"] == TOTAL).to_numpy()
    is_part = topic.isin(list(structure.additive_topics)).to_numpy() & ~is_total
    base = _codes(cells, ["area_code", "indicator_id", "measure"])
    parts = np.flatnonzero(is_part)
    # Group = (area, indicator, measure, topic); its total is the (area, indicator, measure) Total.
    topic_code = pd.factorize(topic.to_numpy()[parts])[0]
    part_keys = pd.DataFrame({"base": base[parts], "topic": topic_code})
    group = _codes(part_keys, ["base", "topic"])
    group_base = np.zeros(group.max() + 1 if len(group) else 0, dtype=np.int64)
    group_base[group] = base[parts]
    total_of_base = np.full(base.max() + 1 if len(base) else 0, -1, dtype=np.int64)
    totals = np.flatnonzero(is_total)
    total_of_base[base[totals]] = totals
    whole = total_of_base[group_base] if len(group_base) else np.zeros(0, dtype=np.int64)
    return _rows_from_groups(whole, parts, group, counts)


def _geography_rows(cells: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Parent cell = sum of the children's cells present, per (indicator, breakdown, measure)."""
    counts = cells["count"].to_numpy(np.int64)
    # Code areas and parents in one vocabulary so a child's parent_code finds the parent's row.
    areas = pd.concat([cells["area_code"], cells["parent_code"]], ignore_index=True)
    area_codes = pd.factorize(areas.to_numpy())[0]
    n = len(cells)
    own, parent = area_codes[:n], area_codes[n:]
    cell_key = _codes(cells, ["indicator_id", "breakdown_topic", "breakdown", "measure"])
    n_keys = cell_key.max() + 1 if n else 0
    position = pd.Series(np.arange(n), index=own * n_keys + cell_key)
    has_parent = (cells["parent_code"] != "").to_numpy()
    children = np.flatnonzero(has_parent)
    parent_pos = position.reindex(parent[children] * n_keys + cell_key[children]).to_numpy()
    found = ~np.isnan(parent_pos)
    children = children[found]
    parent_pos = parent_pos[found].astype(np.int64)
    # Groups are the distinct parent cells.
    group, whole = pd.factorize(parent_pos)
    return _rows_from_groups(np.asarray(whole, dtype=np.int64), children, group, counts)


def _bound_rows(cells: pd.DataFrame, structure: Structure) -> tuple[np.ndarray, ...]:
    """``smaller - larger <= 0`` for each bound pair present and true on the counts."""
    counts = cells["count"].to_numpy(np.int64)
    cell_key = _codes(cells, ["area_code", "indicator_id", "breakdown_topic", "breakdown"])
    measure = cells["measure"].to_numpy()
    rows, cols, vals = [], [], []
    n_rows = 0
    for smaller, larger in structure.bounds:
        small = np.flatnonzero(measure == smaller)
        large = np.flatnonzero(measure == larger)
        large_at = pd.Series(large, index=cell_key[large])
        partner = large_at.reindex(cell_key[small]).to_numpy()
        found = ~np.isnan(partner)
        small, partner = small[found], partner[found].astype(np.int64)
        ok = counts[small] <= counts[partner]
        small, partner = small[ok], partner[ok]
        ids = n_rows + np.arange(len(small))
        n_rows += len(small)
        rows += [ids, ids]
        cols += [small, partner]
        vals += [np.ones(len(small)), -np.ones(len(small))]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _matrix(parts: list[tuple[np.ndarray, ...]], n: int) -> tuple[sp.csr_array, np.ndarray]:
    """Stack COO blocks into one CSR matrix; returns it and each row's block index."""
    offset = 0
    rows, cols, vals, block = [], [], [], []
    for i, (r, c, v) in enumerate(parts):
        m = int(r.max()) + 1 if len(r) else 0
        rows.append(r + offset)
        cols.append(c)
        vals.append(v)
        block.append(np.full(m, i))
        offset += m
    matrix = sp.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(offset, n)
    )
    return matrix, np.concatenate(block)


def build_relations(cells: pd.DataFrame, structure: Structure) -> Relations:
    """The breakdown, geography and bound relations of ``cells`` that hold on the true counts.

    Cell positions are ``range(len(cells))`` (the frame's row order). Vectorised: one pass of
    pandas group codes and numpy bincounts, no per-cell Python.
    """
    cells = cells.reset_index(drop=True)
    n = len(cells)
    eq, block = _matrix([_breakdown_rows(cells, structure), _geography_rows(cells)], n)
    kinds = np.array(["breakdown", "geography"])[block] if len(block) else np.zeros(0, dtype=str)
    ub, _ = _matrix([_bound_rows(cells, structure)], n)
    return Relations(eq=eq, ub=ub, eq_kind=kinds, n_cells=n)


def ancestors(cells: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Each area's chain of ancestors, nearest first (an LA: its region, then England), from
    the frame's ``area_code``/``parent_code`` pairs. A cycle in bad input stops the chain
    rather than looping forever."""
    pairs = cells[["area_code", "parent_code"]].drop_duplicates("area_code")
    parent_of = dict(zip(pairs["area_code"], pairs["parent_code"], strict=True))
    chains: dict[str, tuple[str, ...]] = {}
    for area in parent_of:
        chain: list[str] = []
        up = parent_of.get(area, "")
        while up and up != area and up not in chain:
            chain.append(up)
            up = parent_of.get(up, "")
        chains[area] = tuple(chain)
    return chains


def descendants(cells: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Each area with every area that sums into it, itself first."""
    below: dict[str, list[str]] = {}
    for area, chain in ancestors(cells).items():
        below.setdefault(area, [area])
        for up in chain:
            below.setdefault(up, [up]).append(area)
    return {area: tuple(areas) for area, areas in below.items()}
