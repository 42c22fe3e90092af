"""Consistency post-processing of noisy counts: non-negative integers that add up.

Input: a cell frame with the noisy counts of every level (:func:`privacy.dp.add_noise`:
``noisy``, ``noise_variance``, and optionally ``own_category``). Output: the same frame (fresh
0..n-1 index) with a ``consistent`` int64 column. This is pure post-processing of the noisy
values and public facts (which cells exist, which are public), so it costs no privacy: it never
reads the true ``count`` except of public cells, which are known anyway. It is deterministic:
the same stored noisy frame always gives the same output, so a release is re-derived exactly.

Method (Hay, Rastogi, Miklau & Suciu 2010; the US Census TopDown algorithm, Abowd et al. 2022)
------------------------------------------------------------------------------------------
1. **Weighted least squares** (:func:`_least_squares`), every indicator and measure at once:
   minimise sum((x - noisy)² / noise_variance) subject to every parent cell = the sum of its
   children's cells present, and, at every LA, Total = the sum of each additive topic's
   categories where all of them are present (the same relations at regions and England then
   follow). Exact: the Schur complement (A D A') λ = A y with one sparse LU factorisation.
   Public cells are constants. London (measured only as Inner + Outer London) is not a
   variable: England's children are Inner and Outer London directly.
2. **Bounds** (numerator <= denominator, <= respondents). Where the least-squares numerator
   exceeds its larger measure, both move to their inverse-variance weighted mean (the weighted
   projection onto the bound, :func:`_project_bounds`). Then the larger measure is replaced by
   its *complement* K = larger - smaller, which is additive with the same relations: steps 3-4
   make the numerator and K non-negative, and the published denominator is numerator + K, so
   it is >= the numerator and adds up by construction. A public larger measure (a rate's child
   population) is an upper bound of the numerator instead.
3. **Missing categories.** Where an area's categories of a topic are not all present, a
   "missing categories" cell (Total - the categories present, truly >= 0 and additive over
   geography) is added for the top-down step, so every area with Totals below it keeps an
   exact Total = sum relation. These cells are never published.
4. **Non-negativity and integers, top down** (:func:`_top_down`): England, then its children,
   then theirs. Given the parents' final integers, a joint non-negative real split of each
   parent's cells among its children, with each child's Total = each topic's categories
   (alternating projections, :func:`_joint_projection`, from the least-squares values); the
   Totals are rounded within each parent (largest remainder), then each topic's children x
   categories table by *controlled rounding* (:func:`_flow_round`): round to nearest, then a
   maximum flow (``scipy.sparse.csgraph.maximum_flow``) moves single cells between their floor
   and ceiling until every row and column sum is exact (a table with fixed margins is a
   transportation problem, whose matrix is totally unimodular, so such a table exists when the
   real one meets the sums).
5. **Change distributions' own-category denominators** (``own_category``: each of More /
   Same / Fewer has the whole cohort as denominator): the Total's final value where the area
   has one, and aggregates sum their children, so they stay exact over geography.

What is exact after rounding, and what is approximate
-----------------------------------------------------
Exact, always: every published count is a non-negative integer; every parent cell equals the
sum of its children's (LAs -> region or Inner/Outer London -> London -> England); numerator <=
denominator and numerator <= respondents.
Exact except in tables with no solution: at every area, the Total equals the sum of each
additive topic's categories. The top-down step fixes a parent before its children, and when
children lack cells their parent has (a return missing a category row), a parent's split can
be impossible for its children (say, the missing-categories mass sits with a child whose other
topic's columns are all 0). Then, in that parent's table only, the row sums are freed — first
those of children with missing categories (whose sum is not published), then all — and the
geography stays exact. On the synthetic national release (546,202 cells, 0.4% of rows missing)
0.3% of the breakdown relations that hold on the true counts end up off, all in small-count
tables (counts of a few dozen nationally against noise of similar size).
Where a relation does not exist it is not imposed: a return with a category missing has no
Total = sum relation for that topic (nor, then, its region or England); non-additive topics
only add up over geography.
Approximate by design: each count is within about one unit of its non-negative real value per
rounding (the flow may move a cell to the other side of its real value to balance a sum); the
real values approximate the exact non-negative least-squares solution (a QP per parent) by
projections; least squares itself is exact. ``frame.attrs["consistency"]`` reports how many
row sums had to be freed.

Relations come from the frame's structure, never from true counts: a parent's cell is the sum
of its children's cells present (as :func:`privacy.national.national_cells` builds
aggregates), and an LA's Total is the sum of an additive topic's categories when all of them
are present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow
from scipy.sparse.linalg import splu

from .cells import REGIONAL, TOTAL

__all__ = ["DEFAULT_BOUNDS", "derived_areas", "make_consistent"]

DEFAULT_BOUNDS: tuple[tuple[str, str], ...] = (
    ("numerator", "denominator"),
    ("numerator", "respondents"),
)

# Alternating projections stop when every row sum is within this of its target (the flow
# rounding then makes sums exact), or after this many rounds.
_PROJECTION_TOLERANCE = 1e-6
_PROJECTION_ROUNDS = 2000
# Cells within this of an integer are integers (floating-point noise of the projections).
_INTEGER_TOLERANCE = 1e-7


def _isin(values: pd.Series | np.ndarray, members: Any) -> np.ndarray:
    """``values.isin(members)`` as a numpy mask, through factorised codes (pandas' isin on
    Arrow strings compares element by element in Python: seconds on a national frame)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    wanted = np.asarray(pd.Index(uniques).isin(list(members)), dtype=bool)
    return wanted[codes] if len(codes) else np.zeros(0, dtype=bool)


def _combined_codes(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One code per distinct combination of ``columns`` (in order of first appearance), and the
    first row of each code (faster than factorising a MultiIndex of strings)."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(column)
        combined = combined * (len(uniques) + 1) + codes
    codes, _ = pd.factorize(combined)
    _, first = np.unique(codes, return_index=True)
    return codes, first


def derived_areas(cells: pd.DataFrame) -> frozenset[str]:
    """Regional areas whose children are regional areas (London above Inner/Outer London).

    They are not measured: their noisy value is the sum of their children's, so that a person
    is in one regional vector only.
    """
    areas = cells[["area_code", "parent_code", "geographic_level"]].drop_duplicates()
    regional = areas.loc[areas["geographic_level"] == REGIONAL]
    has_regional_child = regional["parent_code"].isin(regional["area_code"])
    return frozenset(regional.loc[has_regional_child, "parent_code"].astype(str))


# ------------------------------------------------------------------------------ geography


@dataclass(frozen=True)
class _Tree:
    """The measured areas: ``code`` (position = area id), effective ``parent`` (-1 at the
    root; derived areas skipped), ``depth``; ``derived``: derived area code -> child codes."""

    code: np.ndarray
    parent: np.ndarray
    depth: np.ndarray
    derived: dict[str, list[str]]


def _tree(cells: pd.DataFrame) -> _Tree:
    areas = cells[["area_code", "parent_code"]].drop_duplicates("area_code")
    parent_of = dict(zip(areas["area_code"], areas["parent_code"], strict=True))
    skip = derived_areas(cells)
    codes = [c for c in areas["area_code"] if c not in skip]
    index = {c: i for i, c in enumerate(codes)}

    def effective(code: str) -> str:
        seen = set()
        parent = parent_of.get(code, "")
        while parent in skip and parent not in seen:
            seen.add(parent)
            parent = parent_of.get(parent, "")
        return parent

    parent = np.array([index.get(effective(c), -1) for c in codes], dtype=np.int64)
    depth = np.zeros(len(codes), dtype=np.int64)
    for i in range(len(codes)):
        p, d = parent[i], 0
        while p >= 0 and d <= len(codes):
            p, d = parent[p], d + 1
        depth[i] = d
    derived = {d: sorted(c for c, p in parent_of.items() if p == d) for d in sorted(skip)}
    return _Tree(np.array(codes, dtype=object), parent, depth, derived)


# ---------------------------------------------------------------------------- group kernels


def _group_sum(values: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(group, weights=values, minlength=n)


def _simplex(y: np.ndarray, group: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Euclidean projection of each group of ``y`` onto {x >= 0, sum(x) = target[group]}.

    Michelot's algorithm, all groups at once: the threshold λ = (sum of the active y - target)
    / (active count); drop the y at or below λ; repeat until no group drops anything (the
    active set only shrinks, so this ends after at most the largest group's size rounds).
    """
    n = len(target)
    target = np.maximum(target, 0.0)
    active = np.ones(len(y), dtype=bool)
    lam = np.zeros(n)
    for _ in range(len(y) + 1):
        count = np.bincount(group, weights=active, minlength=n)
        total = _group_sum(np.where(active, y, 0.0), group, n)
        lam = np.where(count > 0, (total - target) / np.maximum(count, 1), 0.0)
        still = active & (y > lam[group])
        if (still == active).all():
            break
        active = still
    x = np.maximum(y - lam[group], 0.0)
    x[target[group] <= 0] = 0.0
    return x


def _largest_remainder(x: np.ndarray, group: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Integers within one of ``x`` whose group sums are exactly the integer ``target``s.

    ``x >= 0`` and each group's sum is (nearly) its target: floor everything, then give the
    missing units to the largest fractional parts of the group.
    """
    n = len(target)
    floor = np.floor(x + _INTEGER_TOLERANCE)
    need = np.rint(target - _group_sum(floor, group, n)).astype(np.int64)
    order = np.lexsort((-(x - floor), group))
    first = np.searchsorted(group[order], np.arange(n))
    rank = np.empty(len(x), dtype=np.int64)
    rank[order] = np.arange(len(x)) - first[group[order]]
    return floor.astype(np.int64) + (rank < need[group])


def _flow_round(
    x: np.ndarray,
    row: np.ndarray,
    row_target: np.ndarray,
    col: np.ndarray,
    col_target: np.ndarray,
    hub: np.ndarray,
    n_hubs: int,
    soft: np.ndarray,
    upper: np.ndarray,
    stats: dict[str, int] | None = None,
) -> np.ndarray:
    """Controlled rounding: integers near ``x >= 0`` with exact constrained row and column sums.

    ``row``/``col``: each cell's row and column group; ``*_target``: the groups' integer sums,
    or -1 for a free group (no constraint). ``hub``: each cell's table; a table's free rows and
    columns trade units through its hub node.

    Start from nearest rounding, then a maximum flow moves units: a +1 on cell (r, c) is an arc
    r -> c, a -1 is an arc c -> r. Rows and columns that must rise take flow from the source,
    those that must fall send it to the sink, free groups exchange with their table's hub, and
    the hub supplies (or absorbs) the table's imbalance between its constrained column and row
    changes. Every sum is met iff the flow saturates the source. First pass: each cell between
    its floor and ceiling (always enough when ``x`` meets the sums exactly: the transportation
    matrix is totally unimodular); second pass, only if the first falls short: any change that
    keeps cells non-negative.
    """
    n_rows, n_cols = len(row_target), len(col_target)
    # Groups without a cell here (a column of Totals) are not this call's business.
    row_fixed = (row_target >= 0) & (np.bincount(row, minlength=n_rows) > 0)
    col_fixed = (col_target >= 0) & (np.bincount(col, minlength=n_cols) > 0)
    # ``upper``: a public larger measure bounds the cell (inf elsewhere).
    bound = np.where(np.isfinite(upper), upper, np.iinfo(np.int64).max // 4).astype(np.int64)
    floor = np.minimum(np.floor(x + _INTEGER_TOLERANCE).astype(np.int64), bound)
    ceil = np.minimum(np.ceil(x - _INTEGER_TOLERANCE).astype(np.int64), bound)
    out = np.clip(np.rint(x).astype(np.int64), floor, ceil)
    hub_of_row = np.zeros(n_rows, dtype=np.int64)
    hub_of_row[row] = hub
    hub_of_col = np.zeros(n_cols, dtype=np.int64)
    hub_of_col[col] = hub
    free_rows, free_cols = np.flatnonzero(~row_fixed), np.flatnonzero(~col_fixed)
    s, t = n_rows + n_cols + n_hubs, n_rows + n_cols + n_hubs + 1
    col_node = n_rows + col
    hub_node = n_rows + n_cols + np.arange(n_hubs)
    for strict in (True, False):
        d_row = np.where(row_fixed, row_target - np.bincount(row, out, n_rows), 0).astype(np.int64)
        d_col = np.where(col_fixed, col_target - np.bincount(col, out, n_cols), 0).astype(np.int64)
        if not d_row.any() and not d_col.any():
            return out
        mismatch = np.bincount(hub_of_col, d_col, n_hubs) - np.bincount(hub_of_row, d_row, n_hubs)
        mismatch = mismatch.astype(np.int64)
        inf = int(np.abs(d_row).sum() + np.abs(d_col).sum() + np.abs(mismatch).sum()) + 1
        if strict:
            up, down = out < ceil, out > floor
            up_cap, down_cap = np.ones(up.sum()), np.ones(down.sum())
        else:
            up, down = out < bound, out > 0
            up_cap, down_cap = np.minimum(bound - out, inf)[up], out[down]
        arcs = [
            (row[up], col_node[up], up_cap),
            (col_node[down], row[down], down_cap),
            (np.full((d_row > 0).sum(), s), np.flatnonzero(d_row > 0), d_row[d_row > 0]),
            (np.flatnonzero(d_row < 0), np.full((d_row < 0).sum(), t), -d_row[d_row < 0]),
            (np.full((d_col < 0).sum(), s), n_rows + np.flatnonzero(d_col < 0), -d_col[d_col < 0]),
            (n_rows + np.flatnonzero(d_col > 0), np.full((d_col > 0).sum(), t), d_col[d_col > 0]),
            (hub_node[hub_of_row[free_rows]], free_rows, np.full(len(free_rows), inf)),
            (free_rows, hub_node[hub_of_row[free_rows]], np.full(len(free_rows), inf)),
            (n_rows + free_cols, hub_node[hub_of_col[free_cols]], np.full(len(free_cols), inf)),
            (hub_node[hub_of_col[free_cols]], n_rows + free_cols, np.full(len(free_cols), inf)),
            (np.full((mismatch > 0).sum(), s), hub_node[mismatch > 0], mismatch[mismatch > 0]),
            (hub_node[mismatch < 0], np.full((mismatch < 0).sum(), t), -mismatch[mismatch < 0]),
        ]
        src = np.concatenate([a[0] for a in arcs]).astype(np.int64)
        dst = np.concatenate([a[1] for a in arcs]).astype(np.int64)
        cap = np.concatenate([a[2] for a in arcs]).astype(np.int64)
        if cap.max(initial=0) >= 2**31:
            raise OverflowError("rounding deficits too large for an int32 flow")
        keep = cap > 0
        graph = sp.csr_array(
            (cap[keep].astype(np.int32), (src[keep], dst[keep])), shape=(t + 1, t + 1)
        )
        graph.sum_duplicates()
        needed = int(cap[keep & (src == s)].sum())
        result = maximum_flow(graph, s, t, method="dinic")
        # The flow is antisymmetric: flow[r, c] is the net +1s minus -1s on cell (r, c).
        out = out + np.asarray(result.flow[row, col_node]).ravel().astype(np.int64)
        if result.flow_value == needed:
            return out
    # No integer table meets every sum (possible only when some children lack cells their
    # parent has): free row sums of the tables still short, keeping the column sums — first
    # those of rows with ``soft`` sums (a missing-categories cell: the sum is not published),
    # then all of the table's.
    d_row = np.where(row_fixed, row_target - np.bincount(row, out, n_rows), 0)
    d_col = np.where(col_fixed, col_target - np.bincount(col, out, n_cols), 0)
    short = np.isin(hub_of_row, np.union1d(hub_of_row[d_row != 0], hub_of_col[d_col != 0]))
    loosen = short & row_fixed & soft
    if not loosen.any():
        loosen = short & row_fixed
        if not loosen.any():
            raise RuntimeError("controlled rounding found no integer table with the column sums")
    if stats is not None:
        stats["relaxed_rows"] = stats.get("relaxed_rows", 0) + int(loosen.sum())
    relaxed = np.where(loosen, -1, row_target)
    return _flow_round(x, row, relaxed, col, col_target, hub, n_hubs, soft, upper, stats)


# ------------------------------------------------------------------------------ the model


@dataclass
class _Table:
    """The cells being solved, all tables together, as parallel numpy arrays.

    ``table``: (indicator, measure) id; ``area``: tree area id; ``cell``: (indicator, topic,
    breakdown) id; ``topic``: additive-topic id or -1 (the Total, or a non-additive topic);
    ``total``: the cell is a Total; ``fixed``: public (its value is known); ``y``: its value
    to fit (noisy, or the public count).
    """

    table: np.ndarray
    area: np.ndarray
    cell: np.ndarray
    topic: np.ndarray
    total: np.ndarray
    fixed: np.ndarray
    y: np.ndarray

    FIELDS = ("table", "area", "cell", "topic", "total", "fixed", "y")

    def __len__(self) -> int:
        return len(self.table)


def _positions(keys: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """Position in ``keys`` of each of ``lookup`` (-1 if absent); ``keys`` are unique."""
    index = pd.Index(keys)
    return index.get_indexer(lookup)


def _parent_rows(tab: _Table, tree: _Tree) -> np.ndarray:
    """Row of each cell's parent cell (same table and cell, parent area), -1 if none."""
    n_areas = len(tree.code) + 1
    n_cells = int(tab.cell.max(initial=0)) + 1
    key = (tab.table * n_areas + tab.area) * n_cells + tab.cell
    parent = tree.parent[tab.area]
    has = parent >= 0
    out = np.full(len(tab), -1, dtype=np.int64)
    out[has] = _positions(key, (tab.table[has] * n_areas + parent[has]) * n_cells + tab.cell[has])
    return out


def _breakdown_status(tab: _Table, tree: _Tree) -> pd.DataFrame:
    """Which Total = sum-of-categories relations hold structurally, per (table, area, topic).

    ``complete``: the relation holds over the categories present — at an LA, its Total and
    every category of the topic that the table has anywhere are present; at an aggregate, that
    and ``complete`` at every child holding cells of the table (an aggregate sums its children).
    ``totals``: the area and every area below it holding cells of the table have a Total; then
    Total >= the sum of the categories present, and the difference (the people in missing
    categories) is a non-negative count that adds up over geography like any other cell.
    Indexed by (table, area, topic); additive topics only.
    """
    cats = pd.DataFrame(
        {"table": tab.table, "area": tab.area, "topic": tab.topic, "cell": tab.cell}
    )
    cats = cats.loc[tab.topic >= 0]
    n_cats = cats.groupby(["table", "topic"])["cell"].nunique().rename("n_cats")
    present = cats.groupby(["table", "area", "topic"]).size().rename("present")
    areas = pd.DataFrame({"table": tab.table, "area": tab.area}).drop_duplicates()
    grid = areas.merge(n_cats.reset_index(), on="table")
    grid = grid.merge(present.reset_index(), on=["table", "area", "topic"], how="left")
    totals = pd.DataFrame({"table": tab.table[tab.total], "area": tab.area[tab.total]})
    totals["totals"] = True
    grid = grid.merge(totals, on=["table", "area"], how="left")
    grid["totals"] = grid["totals"].fillna(False).astype(bool)
    grid["complete"] = grid["totals"] & (grid["present"].fillna(0) == grid["n_cats"]).to_numpy()
    grid["depth"] = tree.depth[grid["area"].to_numpy()]
    grid["parent"] = tree.parent[grid["area"].to_numpy()]
    grid = grid.set_index(["table", "area", "topic"])
    for depth in range(int(grid["depth"].to_numpy().max(initial=0)), 0, -1):
        level = grid.loc[grid["depth"] == depth]
        for flag in ("complete", "totals"):
            bad = level.loc[~level[flag]].reset_index()
            if bad.empty:
                continue
            spoilt = pd.MultiIndex.from_arrays(
                [bad["table"].to_numpy(), bad["parent"].to_numpy(), bad["topic"].to_numpy()]
            )
            grid.loc[grid.index.isin(spoilt), flag] = False
    return grid[["complete", "totals"]]


def _with_missing_categories(
    tab: _Table, xhat: np.ndarray, status: pd.DataFrame
) -> tuple[_Table, np.ndarray]:
    """``tab`` plus one "missing categories" cell per incomplete (table, area, topic).

    Its value is Total - the sum of the categories present (from the least-squares values,
    which satisfy every relation, so these cells add up over geography too). With them, every
    area with Totals below it has an exact Total = sum relation for the top-down step.
    """
    need = status.loc[status["totals"] & ~status["complete"]].reset_index()
    if need.empty:
        return tab, xhat
    n_areas = int(tab.area.max(initial=0)) + 1
    n_topics = int(tab.topic.max(initial=0)) + 1
    base = need["table"].to_numpy() * n_areas + need["area"].to_numpy()
    totals = np.flatnonzero(tab.total)
    total_row = totals[_positions(tab.table[totals] * n_areas + tab.area[totals], base)]
    cat = np.flatnonzero(tab.topic >= 0)
    group = _positions(
        base * n_topics + need["topic"].to_numpy(),
        (tab.table[cat] * n_areas + tab.area[cat]) * n_topics + tab.topic[cat],
    )
    present = np.bincount(group[group >= 0], weights=xhat[cat[group >= 0]], minlength=len(need))
    # One new cell id per (table, topic), shared by the measures of an indicator's tables only
    # through their own table ids, so a complement finds its partner's cell.
    topic = need["topic"].to_numpy()
    indicator_cell = pd.factorize(pd.MultiIndex.from_arrays([tab.cell[total_row], topic]))[0]
    cell = int(tab.cell.max(initial=0)) + 1 + indicator_cell
    extra = _Table(
        table=need["table"].to_numpy(np.int64),
        area=need["area"].to_numpy(np.int64),
        cell=cell.astype(np.int64),
        topic=topic.astype(np.int64),
        total=np.zeros(len(need), dtype=bool),
        fixed=np.zeros(len(need), dtype=bool),
        y=np.full(len(need), np.nan),
    )
    both = _Table(*(np.concatenate([getattr(tab, f), getattr(extra, f)]) for f in _Table.FIELDS))
    return both, np.concatenate([xhat, xhat[total_row] - present])


def _least_squares(
    tab: _Table, variance: np.ndarray, tree: _Tree, parent_row: np.ndarray, valid: pd.Series
) -> np.ndarray:
    # ``valid``: (table, area, topic) -> the relation holds over the categories present.
    """Minimise sum((x - y)² / variance) subject to the geography and LA breakdown relations.

    Relations: every parent cell = the sum of its children's; at every leaf area (LA),
    Total = the sum of each valid topic's categories. The breakdown relations of aggregates
    follow from these (an aggregate's relation is valid only if all its children's are), so
    the relations are linearly independent and A D A' (D = the variances) is positive definite.
    Public cells are constants. Solution: x = y - D A' λ with (A D A') λ = A y.
    """
    n = len(tab)
    rows, cols, vals = [], [], []
    # Geography: parent - sum(children) = 0, one relation per parent cell.
    child = np.flatnonzero(parent_row >= 0)
    parents, group = np.unique(parent_row[child], return_inverse=True)
    rows += [np.arange(len(parents)), group]
    cols += [parents, child]
    vals += [np.ones(len(parents)), -np.ones(len(child))]
    n_rel = len(parents)
    # Breakdowns at leaves: Total - sum(categories) = 0.
    is_parent = np.zeros(len(tree.code), dtype=bool)
    is_parent[tree.parent[tree.parent >= 0]] = True
    ok = valid[valid].reset_index()
    if len(ok):
        ok = ok.loc[~is_parent[ok["area"].to_numpy()]]
    if len(ok):
        n_areas = len(tree.code) + 1
        n_topics = int(tab.topic.max(initial=0)) + 1
        base = ok["table"].to_numpy() * n_areas + ok["area"].to_numpy()
        cat = np.flatnonzero(tab.topic >= 0)
        cat_rel = _positions(
            base * n_topics + ok["topic"].to_numpy(),
            (tab.table[cat] * n_areas + tab.area[cat]) * n_topics + tab.topic[cat],
        )
        cat, cat_rel = cat[cat_rel >= 0], cat_rel[cat_rel >= 0]
        totals = np.flatnonzero(tab.total)
        total_pos = totals[_positions(tab.table[totals] * n_areas + tab.area[totals], base)]
        rows += [n_rel + np.arange(len(ok)), n_rel + cat_rel]
        cols += [total_pos, cat]
        vals += [np.ones(len(ok)), -np.ones(len(cat))]
        n_rel += len(ok)
    a = sp.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rel, n)
    )
    x = tab.y.astype(float).copy()
    free = np.flatnonzero(~tab.fixed)
    a_free = a[:, free]
    rhs = a @ tab.y  # public cells enter as constants
    keep = np.flatnonzero(np.diff(a_free.indptr) > 0)  # drop relations among constants only
    if len(keep) == 0:
        return x
    a_free, rhs = a_free[keep], rhs[keep]
    scaled = a_free @ sp.diags_array(variance[free])
    schur = sp.csc_matrix(scaled @ a_free.T)
    lam = splu(schur, permc_spec="COLAMD").solve(rhs)
    x[free] -= scaled.T @ lam
    return x


def _top_down(
    tab: _Table,
    xhat: np.ndarray,
    tree: _Tree,
    parent_row: np.ndarray,
    valid: pd.Series,
    n_real: int,
    upper: np.ndarray,
    stats: dict[str, int],
) -> np.ndarray:
    """Non-negative integers, level by level from the root (see the module docstring).

    At each level, given the parents' final integers: a joint non-negative real split of every
    parent cell among the children, with each child's Total equal to each valid topic's
    categories (:func:`_joint_projection`); then the Totals are rounded within each parent
    (largest remainder) and each topic's children x categories table by controlled rounding
    (:func:`_flow_round`) to those integer Totals and the parent's categories. Cells from
    ``n_real`` on are missing-categories cells; ``upper`` bounds cells by a public larger
    measure; ``stats`` counts row sums freed.
    """
    n = len(tab)
    final = np.where(tab.fixed, np.rint(tab.y), 0).astype(np.int64)
    depth = tree.depth[tab.area]
    n_areas = len(tree.code) + 1
    n_topics = int(tab.topic.max(initial=0)) + 1
    ok = valid[valid].reset_index()
    valid_key = pd.Index(
        (ok["table"].to_numpy() * n_areas + ok["area"].to_numpy()) * n_topics
        + ok["topic"].to_numpy()
    )
    totals = np.flatnonzero(tab.total)
    total_row = np.full(n, -1, dtype=np.int64)
    found = _positions(
        tab.table[totals] * n_areas + tab.area[totals], tab.table * n_areas + tab.area
    )
    total_row[found >= 0] = totals[found[found >= 0]]
    for d in range(int(depth.max(initial=0)) + 1):
        level = np.flatnonzero(depth == d)
        own = np.arange(len(level))
        fixed = tab.fixed[level]
        is_total = tab.total[level]
        # Columns: the children's cells of one parent cell sum to it (free at the root).
        col, col_codes = pd.factorize(np.where(parent_row[level] >= 0, parent_row[level], -1 - own))
        col_codes = np.asarray(col_codes)
        col_target = np.where(col_codes >= 0, final[np.maximum(col_codes, 0)], -1)
        col_target = _less_fixed(col_target, col, fixed, final[level])
        # Tables (hubs): (table, parent, topic); free rows and columns trade units through them.
        parent_area = np.where(
            parent_row[level] >= 0, tree.parent[tab.area[level]], tab.area[level]
        )
        hub_key = (tab.table[level] * n_areas + parent_area) * (n_topics + 1) + tab.topic[level] + 1
        hub, hub_codes = pd.factorize(hub_key)
        # Rows: an additive topic's categories at a child with a valid relation sum to its Total.
        row_key = (tab.table[level] * n_areas + tab.area[level]) * n_topics + tab.topic[level]
        additive = (tab.topic[level] >= 0) & ~is_total
        constrained = additive & (total_row[level] >= 0)
        constrained &= valid_key.get_indexer(row_key) >= 0
        # An area without a Total (rare) leaves its parent's categories unrelated to the
        # children's Totals: the rows of that table are then freed (geography stays exact).
        constrained &= ~np.isin(hub, np.unique(hub[additive & ~constrained]))
        rel, rel_codes = pd.factorize(np.where(constrained, row_key, -1 - own))
        rel_total = np.full(len(rel_codes), -1, dtype=np.int64)  # position in ``level``
        where_total = _positions(level, total_row[level])
        rel_total[rel] = np.where(constrained, where_total, -1)

        block = pd.factorize(tab.table[level] * n_areas + parent_area)[0]
        x = _joint_projection(
            xhat[level], fixed, final[level], col, col_target, rel, rel_total, block, upper[level]
        )
        # Totals: largest remainder within each parent's Total (rounded alone at the root).
        tot = own[is_total & ~fixed]
        split = tot[col_target[col[tot]] >= 0]
        alone = tot[col_target[col[tot]] < 0]
        final[level[alone]] = np.clip(np.rint(x[alone]), 0, upper[level[alone]]).astype(np.int64)
        if len(split):
            group, groups = pd.factorize(col[split])
            target = col_target[np.asarray(groups)].astype(float)
            final[level[split]] = _largest_remainder(x[split], group, target)
        # Categories: controlled rounding to the integer Totals and the parent's categories.
        cats = own[~is_total]
        if len(cats) == 0:
            continue
        row_target = np.where(rel_total >= 0, final[level[np.maximum(rel_total, 0)]], -1)
        row_target = _less_fixed(row_target, rel[cats], fixed[cats], final[level[cats]])
        free = cats[~fixed[cats]]
        # Rows holding a missing-categories cell have an unpublished sum: relaxed first.
        soft = np.zeros(len(row_target), dtype=bool)
        soft[rel[own[level >= n_real]]] = True
        final[level[free]] = _flow_round(
            x[free],
            rel[free],
            row_target,
            col[free],
            col_target,
            hub[free],
            len(hub_codes),
            soft,
            upper[level[free]],
            stats,
        )
    return final


def _less_fixed(
    target: np.ndarray, group: np.ndarray, fixed: np.ndarray, value: np.ndarray
) -> np.ndarray:
    """Targets net of the group's public cells; a group with only public cells becomes free."""
    n = len(target)
    fixed_sum = np.bincount(group[fixed], weights=value[fixed], minlength=n).astype(np.int64)
    has_free = np.bincount(group[~fixed], minlength=n) > 0
    return np.where((target >= 0) & has_free, np.maximum(target - fixed_sum, 0), -1)


def _joint_projection(
    y: np.ndarray,
    fixed: np.ndarray,
    value: np.ndarray,
    col: np.ndarray,
    col_target: np.ndarray,
    rel: np.ndarray,
    rel_total: np.ndarray,
    block: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    """A non-negative real split of the parents' cells with each child's breakdowns adding up.

    Alternating Euclidean projections (von Neumann / POCS, from the least-squares values) onto
    (1) every parent cell's children summing to it, non-negative (:func:`_simplex` per column);
    (2) each child's Total equal to the sum of each valid topic's categories — for one child
    with topics t of k_t free categories summing to s_t, the projection sets the Total to
    (T + sum(s_t / k_t)) / (1 + sum(1 / k_t)) and shifts each topic's categories equally;
    (3) non-negativity and the ``upper`` bounds (a public larger measure). Always ends on (1),
    so columns are exact; rows are within ``_PROJECTION_TOLERANCE`` unless the round limit was
    hit (the flow rounding then still makes every sum exact, or relaxes a table that has no
    solution). ``fixed`` cells keep ``value``. ``block``: the independent sub-problems
    ((table, parent) pairs); rounds after the first few only touch the blocks not yet within
    tolerance, and a block that stops improving (no solution) is left to the rounding.
    """
    x = np.where(fixed, value, np.clip(y, 0.0, upper)).astype(float)
    n = len(x)
    n_blocks = int(block.max(initial=-1)) + 1
    rel_block = np.full(len(rel_total), -1, dtype=np.int64)
    rel_block[rel_total >= 0] = block[rel_total[rel_total >= 0]]
    active = np.ones(n_blocks, dtype=bool)
    previous = np.full(n_blocks, np.inf)
    position = np.full(n, -1, dtype=np.int64)
    done, phase = 0, 8
    while done < _PROJECTION_ROUNDS and active.any():
        sub = np.flatnonzero(active[block])
        position[sub] = np.arange(len(sub))
        cols, sub_col = np.unique(col[sub], return_inverse=True)
        rels, sub_rel = np.unique(rel[sub], return_inverse=True)
        sub_total = np.where(rel_total[rels] >= 0, position[np.maximum(rel_total[rels], 0)], -1)
        rounds = min(phase, _PROJECTION_ROUNDS - done)
        x[sub], gap = _pocs(
            x[sub], fixed[sub], sub_col, col_target[cols], sub_rel, sub_total, rounds, upper[sub]
        )
        done, phase = done + rounds, phase * 2
        worst = np.zeros(n_blocks)
        np.maximum.at(worst, rel_block[rels], np.where(rel_block[rels] >= 0, gap, 0.0))
        # Stop on blocks within tolerance, and on blocks no longer improving (no solution:
        # the rounding relaxes them).
        active &= (worst >= _PROJECTION_TOLERANCE) & (worst < 0.99 * previous)
        previous = worst
    return x


def _pocs(
    x: np.ndarray,
    fixed: np.ndarray,
    col: np.ndarray,
    col_target: np.ndarray,
    rel: np.ndarray,
    rel_total: np.ndarray,
    rounds: int,
    upper: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``rounds`` rounds of :func:`_joint_projection`'s projections; returns x (columns
    exact) and each relation's remaining |Total - sum of categories| (0 without a relation)."""
    x = x.copy()
    free = ~fixed
    in_col = (col_target[col] >= 0) & free
    col_goal = col_target.astype(float)
    n_rel = len(rel_total)
    rels = np.flatnonzero(rel_total >= 0)
    totals = rel_total[rels]
    member = rel_total[rel] >= 0
    is_cat = member & free
    k = np.bincount(rel[is_cat], minlength=n_rel)[rels].astype(float)
    # 1/k_t summed over each Total's topics (topics with no free category constrain nothing).
    inv_k = np.where(k > 0, 1.0 / np.maximum(k, 1), 0.0)
    weight = np.bincount(totals, weights=inv_k, minlength=len(x))
    has_rel = np.zeros(len(x), dtype=bool)
    has_rel[totals] = True
    gap = np.zeros(n_rel)
    for _ in range(rounds):
        if in_col.any():
            x[in_col] = _simplex(x[in_col], col[in_col], col_goal)
        sums = np.bincount(rel[member], weights=x[member], minlength=n_rel)[rels]
        gap[rels] = np.abs(x[totals] - sums)
        if not len(rels) or gap.max(initial=0.0) < _PROJECTION_TOLERANCE:
            return x, gap
        # (2) per child: the new Total, then each topic's categories shifted to meet it.
        pull = np.bincount(totals, weights=inv_k * sums, minlength=len(x))
        new_total = np.where(free, (x + pull) / (1.0 + weight), x)
        shift = np.zeros(n_rel)
        shift[rels] = np.where(k > 0, (new_total[totals] - sums) / np.maximum(k, 1), 0.0)
        x[is_cat] += shift[rel[is_cat]]
        x[has_rel & free] = new_total[has_rel & free]
        # (3) non-negativity and upper bounds.
        np.clip(x, 0.0, upper, out=x, where=free)
    if in_col.any():
        x[in_col] = _simplex(x[in_col], col[in_col], col_goal)
    sums = np.bincount(rel[member], weights=x[member], minlength=n_rel)[rels]
    gap[rels] = np.abs(x[totals] - sums)
    return x, gap


# ------------------------------------------------------------------------------- assembly


def make_consistent(
    noisy: pd.DataFrame,
    additive_topics: frozenset[str],
    bounds: Sequence[tuple[str, str]] = DEFAULT_BOUNDS,
) -> pd.DataFrame:
    """``noisy`` with a ``consistent`` int64 column: non-negative integers that add up.

    ``noisy``: a cell frame with ``noisy`` and ``noise_variance`` (from
    :func:`privacy.dp.add_noise`), every level present. ``additive_topics``: the breakdown
    topics whose categories sum to the Total (``Structure.additive_topics``). ``bounds``:
    ``(smaller, larger)`` measure pairs (``Structure.bounds``). See the module docstring for
    the method and for which sums are exact.
    """
    frame = noisy.reset_index(drop=True)
    tree = _tree(frame)
    area_id = _positions(tree.code, frame["area_code"].to_numpy())
    public = frame["public"].to_numpy(bool)
    y = np.where(public, frame["count"].to_numpy(float), frame["noisy"].to_numpy(float))
    variance = frame["noise_variance"].to_numpy(float)
    if (~public & (area_id >= 0) & ~(variance > 0)).any():
        raise ValueError("every non-public cell needs a positive noise_variance")

    indicator = frame["indicator_id"].to_numpy(dtype=object)
    topic = frame["breakdown_topic"].to_numpy(dtype=object)
    breakdown = frame["breakdown"].to_numpy(dtype=object)
    is_total = (topic == TOTAL) & (breakdown == TOTAL)
    cell = _combined_codes(indicator, topic, breakdown)[0]
    additive = _isin(topic, additive_topics) & ~is_total
    topic_id = np.where(additive, pd.factorize(topic)[0], -1)
    table, first_row = _combined_codes(indicator, frame["measure"].to_numpy(dtype=object))
    table_codes = list(
        zip(indicator[first_row], frame["measure"].to_numpy()[first_row], strict=True)
    )
    # Own-category denominators of change distributions are settled afterwards.
    own = (
        frame["own_category"].to_numpy(bool)
        if "own_category" in frame
        else np.zeros(len(frame), dtype=bool)
    )
    # Tables with a non-public cell are solved; all-public tables stay as they are.
    solved = (area_id >= 0) & ~own
    private_tables = np.unique(table[~public & solved])
    rows = np.flatnonzero(solved & np.isin(table, private_tables))
    tab = _Table(
        table=table[rows],
        area=area_id[rows],
        cell=cell[rows],
        topic=topic_id[rows],
        total=is_total[rows],
        fixed=public[rows],
        y=y[rows],
    )
    parent_row = _parent_rows(tab, tree)
    status = _breakdown_status(tab, tree)
    variance = np.where(tab.fixed, 1.0, variance[rows])
    xhat = _least_squares(tab, variance, tree, parent_row, status["complete"])
    n_cells = len(tab)
    tab, xhat = _with_missing_categories(tab, xhat, status)
    parent_row = _parent_rows(tab, tree)

    # Bounds: solve the complement K = larger - smaller instead of the larger (module doc).
    small_table = _complements(tab, list(table_codes), bounds)
    large_rows, small_rows = _partner_rows(tab, small_table)
    xhat_td = _project_bounds(xhat, large_rows, small_rows, variance, len(tab))
    td_valid = _complement_validity(status["totals"], small_table)
    upper = _public_bounds(frame, rows, len(tab), bounds)
    stats = {"relaxed_rows": 0}
    final = _top_down(tab, xhat_td, tree, parent_row, td_valid, n_cells, upper, stats)
    final[large_rows] += np.where(small_rows >= 0, final[np.maximum(small_rows, 0)], 0)
    final = final[:n_cells]  # drop the missing-categories cells

    consistent = np.rint(y).astype(np.int64)
    consistent[rows] = final
    frame["consistent"] = consistent
    _derive(frame, tree, own)
    _own_categories(frame, own, bounds)
    _bounds_fallback(frame, bounds)
    # Diagnostics (no cell values): row sums freed because no exact integer table existed.
    frame.attrs["consistency"] = stats
    return frame


def _project_bounds(
    xhat: np.ndarray,
    large_rows: np.ndarray,
    small_rows: np.ndarray,
    variance: np.ndarray,
    n: int,
) -> np.ndarray:
    """The values the top-down step starts from: complements K = larger - smaller.

    Where the least-squares smaller exceeds its larger, both move to their inverse-variance
    weighted mean (the weighted projection of the pair onto smaller <= larger) before K is
    formed, so the smaller measure gains from the larger one's measurement instead of the
    larger simply dropping onto it; K is then 0 there. Cell by cell, so the values may break a
    relation slightly: the top-down projections restore them.
    """
    out = xhat.copy()
    paired = small_rows >= 0
    large, small = large_rows[paired], small_rows[paired]
    gap = xhat[large] - xhat[small]
    over = gap < 0
    var = np.concatenate([variance, np.ones(n - len(variance))])  # missing-category cells
    weight = var[small] / (var[small] + var[large])
    out[small[over]] += weight[over] * gap[over]
    out[large_rows] -= np.where(paired, out[np.maximum(small_rows, 0)], 0.0)
    out[large[over]] = 0.0
    return out


def _public_bounds(
    frame: pd.DataFrame, rows: np.ndarray, n: int, bounds: Sequence[tuple[str, str]]
) -> np.ndarray:
    """Upper bound of each solved cell: its larger measure's count where that is public (a
    rate's child population), else inf. (Noised larger measures bound through complements.)"""
    upper = np.full(n, np.inf)
    cell = ["area_code", "indicator_id", "breakdown_topic", "breakdown"]
    solved = frame.iloc[rows].reset_index(drop=True)
    for small, large in bounds:
        limits = frame.loc[(frame["measure"] == large) & frame["public"], [*cell, "count"]]
        if limits.empty:
            continue
        mine = np.flatnonzero((solved["measure"] == small).to_numpy())
        found = pd.Series(
            limits["count"].to_numpy(float), index=pd.MultiIndex.from_frame(limits[cell])
        ).reindex(pd.MultiIndex.from_frame(solved.iloc[mine][cell]))
        upper[mine] = np.fmin(upper[mine], found.fillna(np.inf).to_numpy())
    return upper


def _complements(
    tab: _Table, codes: list[tuple[str, str]], bounds: Sequence[tuple[str, str]]
) -> np.ndarray:
    """For each table: the table of the smaller measure it is complemented by, or -1.

    A larger measure is complemented when it is not public and every cell of the smaller one
    has a larger partner (then K = larger - smaller keeps the relations of both). Each measure
    takes part in one pair at most (the first in ``bounds``).
    """
    code_of = {key: i for i, key in enumerate(codes)}
    small_table = np.full(len(codes), -1, dtype=np.int64)
    public_tables = set(np.unique(tab.table[tab.fixed]).tolist())
    n_cells = int(tab.cell.max(initial=0)) + 1
    key = tab.area * n_cells + tab.cell
    used: set[int] = set()
    for i, (indicator, measure) in enumerate(codes):
        for small, large in bounds:
            if measure != large or (indicator, small) not in code_of:
                continue
            j = code_of[(indicator, small)]
            if i in used or j in used or i in public_tables or j in public_tables:
                continue
            # Every smaller cell whose cell id the larger has needs its partner there.
            small_keys = key[tab.table == j]
            large_keys = key[tab.table == i]
            shared = np.isin(tab.cell[tab.table == j], tab.cell[tab.table == i])
            if not np.isin(small_keys[shared], large_keys).all():
                continue
            small_table[i] = j
            used |= {i, j}
    return small_table


def _partner_rows(tab: _Table, small_table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of complemented (larger) cells and their smaller partner's row (-1 if absent)."""
    large_rows = np.flatnonzero(small_table[tab.table] >= 0)
    n_areas = int(tab.area.max(initial=0)) + 1
    n_cells = int(tab.cell.max(initial=0)) + 1
    key = (tab.table * n_areas + tab.area) * n_cells + tab.cell
    partner = (small_table[tab.table[large_rows]] * n_areas + tab.area[large_rows]) * n_cells
    return large_rows, _positions(key, partner + tab.cell[large_rows])


def _complement_validity(valid: pd.Series, small_table: np.ndarray) -> pd.Series:
    """K = larger - smaller adds up where both do (an area without the smaller counts as 0)."""
    frame = valid.rename("valid").reset_index()
    partner = small_table[frame["table"].to_numpy()]
    has = partner >= 0
    look = valid.reindex(
        pd.MultiIndex.from_arrays(
            [partner[has], frame["area"].to_numpy()[has], frame["topic"].to_numpy()[has]]
        )
    ).to_numpy()
    small_ok = np.where(pd.isna(look), True, look).astype(bool)
    frame.loc[has, "valid"] = frame.loc[has, "valid"].to_numpy(bool) & small_ok
    return frame.set_index(["table", "area", "topic"])["valid"].astype(bool)


def _own_categories(
    frame: pd.DataFrame, own: np.ndarray, bounds: Sequence[tuple[str, str]]
) -> None:
    """Own-category denominators: their Total where the area has one (it is the same number),
    else the noisy value (>= 0, >= its numerator); aggregates sum their children bottom up,
    so they stay exact over geography and equal their Total wherever all children do."""
    if not own.any():
        return
    group = ["area_code", "indicator_id", "measure"]
    key = ["indicator_id", "breakdown_topic", "breakdown", "measure"]
    parents = set(frame["parent_code"])
    leaf = own & ~_isin(frame["area_code"], parents)
    is_total = (frame["breakdown_topic"] == TOTAL).to_numpy()
    totals = pd.Series(
        frame.loc[is_total, "consistent"].to_numpy(),
        index=pd.MultiIndex.from_frame(frame.loc[is_total, group]),
    )
    total = totals.reindex(pd.MultiIndex.from_frame(frame.loc[leaf, group])).to_numpy(float)
    noisy = np.maximum(frame.loc[leaf, "noisy"].to_numpy(float), 0)
    value = np.where(np.isnan(total), noisy, total)
    # Without a Total, keep it at least its numerator (the bound a complement gives the rest).
    cell = ["area_code", "indicator_id", "breakdown_topic", "breakdown"]
    smaller = {large: small for small, large in bounds}
    leaves = frame.loc[leaf, [*cell, "measure"]].reset_index()
    leaves["small"] = leaves["measure"].map(smaller)
    partner = frame[[*cell, "measure", "consistent"]].rename(
        columns={"measure": "small", "consistent": "partner"}
    )
    floor = leaves.merge(partner, on=[*cell, "small"], how="left")["partner"].to_numpy(float)
    value = np.where(np.isnan(total), np.fmax(value, floor), value)
    frame.loc[leaf, "consistent"] = np.rint(value).astype(np.int64)
    # Aggregates, deepest first.
    depth = _depths(frame)
    done = leaf.copy()
    for d in sorted(set(depth[own & ~leaf]), reverse=True):
        rows = np.flatnonzero(own & ~leaf & (depth == d))
        kids = frame.loc[own & done]
        sums = kids.groupby(["parent_code", *key], sort=False)["consistent"].sum()
        at = pd.MultiIndex.from_frame(
            frame.loc[rows, ["area_code", *key]].rename(columns={"area_code": "parent_code"})
        )
        frame.loc[rows, "consistent"] = sums.reindex(at).fillna(0).to_numpy(np.int64)
        done[rows] = True


def _depths(frame: pd.DataFrame) -> np.ndarray:
    """Each row's area's depth below the root (England 0)."""
    areas = frame[["area_code", "parent_code"]].drop_duplicates("area_code")
    parent_of = dict(zip(areas["area_code"], areas["parent_code"], strict=True))
    depth = {}
    for area in parent_of:
        d, p, seen = 0, parent_of[area], {area}
        while p in parent_of and p not in seen:
            seen.add(p)
            d, p = d + 1, parent_of[p]
        depth[area] = d
    return frame["area_code"].map(depth).to_numpy(np.int64)


def _derive(frame: pd.DataFrame, tree: _Tree, own: np.ndarray) -> None:
    """Derived areas (London) = the sum of their children's consistent cells."""
    if not tree.derived:
        return
    key = ["indicator_id", "breakdown_topic", "breakdown", "measure"]
    for area, children in tree.derived.items():
        kids = frame.loc[_isin(frame["area_code"], children)]
        sums = kids.groupby(key, sort=False)["consistent"].sum()
        mine = (frame["area_code"] == area).to_numpy() & ~frame["public"].to_numpy(bool)
        mine &= ~own
        found = sums.reindex(pd.MultiIndex.from_frame(frame.loc[mine, key]))
        frame.loc[mine, "consistent"] = found.fillna(0).to_numpy(np.int64)


def _bounds_fallback(frame: pd.DataFrame, bounds: Sequence[tuple[str, str]]) -> None:
    """Bounds the complements do not cover: a public larger measure (child population) or an
    own-category denominator. Where the smaller exceeds the larger, raise the larger to it,
    or, when the larger is public (fixed), lower the smaller to it."""
    key = ["area_code", "indicator_id", "breakdown_topic", "breakdown"]
    for small, large in bounds:
        smalls = frame.loc[frame["measure"] == small, [*key, "consistent"]]
        larges = frame.loc[frame["measure"] == large, [*key, "consistent", "public"]]
        if smalls.empty or larges.empty:
            continue
        joined = smalls.reset_index().merge(larges.reset_index(), on=key, suffixes=("", "_large"))
        over = joined.loc[(joined["consistent"] > joined["consistent_large"]).to_numpy()]
        if over.empty:
            continue
        public = over["public"].to_numpy(bool)
        lower, raise_ = over.loc[public], over.loc[~public]
        frame.loc[lower["index"].to_numpy(), "consistent"] = lower["consistent_large"].to_numpy()
        frame.loc[raise_["index_large"].to_numpy(), "consistent"] = raise_["consistent"].to_numpy()
