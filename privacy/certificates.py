"""Local certificates: a cheap, sound proof that most suppressed cells are protected.

The full audit (:mod:`privacy.audit`) solves, for every primary-suppressed cell and every
attacker, LPs over the cell's whole connected component; under rounding of regional and
national figures a component is a whole indicator, so a national release means hundreds of
thousands of large LPs. Most cells do not need that.

**Why a local LP is a proof.** Fix every cell *outside* a small neighbourhood of the victim at
its true value, as if the attacker knew it, and solve the min/max LPs over the neighbourhood
only. Fixing cells only shrinks the feasible set, so the interval found is *inside* every
attacker's true interval (an attacker never knows the victim's own LA's cells or the
aggregates, which is all the neighbourhood holds). If even that interval holds
``protection_width`` integers, every attacker's does: the cell is certified for all attackers
at once. A cell the certificate cannot vouch for is not failed: it goes to the full audit.

**The neighbourhood** of a victim in area *a*, indicator *I*: the free (suppressed or
rounded) cells of *a* for *I*, and the free cells of *a*'s ancestors (region, Inner/Outer
London, England) in the same breakdown and measure columns. This is what a coalition of every
other LA sees move (they know the rest), so the certificate is close to the strongest
attacker's real interval and vouches for most protected cells.

All victims of one (area, indicator) share a neighbourhood; the min and max LPs of all of them
are stacked block-diagonally and solved in a few HiGHS calls, with variables shifted by the
true counts (``y = x - truth``) so every block is homogeneous: ``A y = 0``, ``B y <= slack``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from .cells import Relations, ancestors

__all__ = ["BATCH_VARIABLES", "local_intervals"]

BATCH_VARIABLES = 40_000
"""Variables per stacked LP (small blocks, so larger batches than the full audit's)."""

_COLUMN = ["indicator_id", "breakdown_topic", "breakdown", "measure"]


def _neighbourhoods(
    frame: pd.DataFrame, victim: np.ndarray, free: np.ndarray, *, siblings: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(group, cell)`` pairs: for each (area, indicator) with a victim, its neighbourhood.

    ``siblings``: also the cells of the ancestors' sibling areas (the other regions beside the
    victim's region, the other London sub-region) in the same columns: the outer bound keeps
    the England relations over them while dropping their own, unknown, insides."""
    area = frame["area_code"].to_numpy(dtype=object)
    indicator = frame["indicator_id"].to_numpy(dtype=object)
    group_key = pd.Series(area).astype(str) + "\x1f" + pd.Series(indicator).astype(str)
    victims = np.flatnonzero(victim)
    groups = pd.unique(group_key.to_numpy()[victims])
    group_id = pd.Series(np.arange(len(groups)), index=groups)

    # Own free cells of each group's area and indicator.
    own = np.flatnonzero(free)
    own_group = group_id.reindex(group_key.to_numpy()[own]).to_numpy()
    keep = ~np.isnan(own_group)
    pair_group = [own_group[keep].astype(np.int64)]
    pair_cell = [own[keep]]

    # Ancestor cells in the same columns as the group's own free cells.
    column = frame[_COLUMN[0]].astype(str)
    for name in _COLUMN[1:]:
        column = column + "\x1f" + frame[name].astype(str)
    column = column.to_numpy(dtype=object)
    cell_of = pd.Series(np.arange(len(frame)), index=pd.Index(area.astype(str) + "|" + column))
    chains = ancestors(frame)
    parent_of = dict(zip(frame["area_code"], frame["parent_code"], strict=False))
    children: dict[str, list[str]] = {}
    for a, parent in parent_of.items():
        children.setdefault(str(parent), []).append(str(a))
    own_cells = own[keep]
    own_groups = own_group[keep].astype(np.int64)

    def add(up: np.ndarray, cells_from: np.ndarray, groups_from: np.ndarray) -> None:
        has = up != ""
        if not has.any():
            return
        keys = up[has].astype(str) + "|" + column[cells_from[has]]
        found = cell_of.reindex(keys).to_numpy()
        ok = ~np.isnan(found)
        cells = found[ok].astype(np.int64)
        loose = free[cells]
        pair_group.append(groups_from[has][ok][loose])
        pair_cell.append(cells[loose])

    for depth in range(3):
        up = np.array(
            [(*chains.get(a, ()), "", "", "")[depth] for a in area[own_cells].astype(str)],
            dtype=object,
        )
        if not (up != "").any():
            break
        add(up, own_cells, own_groups)
        if not siblings:
            continue
        # Each ancestor's siblings (same parent), one pass per sibling position.
        kin = [
            [b for b in children.get(str(parent_of.get(u, "")), []) if b != u] if u else []
            for u in up
        ]
        for k in range(max((len(x) for x in kin), default=0)):
            add(
                np.array([x[k] if k < len(x) else "" for x in kin], dtype=object),
                own_cells,
                own_groups,
            )
    pg = np.concatenate(pair_group)
    pc = np.concatenate(pair_cell)
    unique = np.unique(np.column_stack([pg, pc]), axis=0)
    return unique[:, 0], unique[:, 1]


def local_intervals(
    frame: pd.DataFrame,
    relations: Relations,
    victim: np.ndarray,
    free: np.ndarray,
    big: float,
    *,
    known: Callable[[str], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Certified (lower, upper) intervals of the ``victim`` cells: ``(cells, lower, upper)``.

    ``frame`` is the protected frame (0..n-1), ``free`` the cells that are not constants.
    The intervals are inner bounds on every attacker's (see the module docstring).

    With ``known`` (area code -> mask of the cells one attacker knows when the victim is in
    that area) the same neighbourhood gives an *outer* bound on that attacker's interval
    instead: cells it knows are constants, and every relation with a free cell outside the
    neighbourhood that it does not know is dropped rather than fixed (fewer constraints, so
    the interval can only be wider than the attacker's). A narrow outer interval proves the
    attacker narrows the cell without solving its whole component.
    """
    truth = frame["count"].to_numpy(np.float64)
    lower = frame["known_lower"].to_numpy(np.float64)
    upper = np.minimum(frame["known_upper"].to_numpy(np.float64), big)
    victims = np.flatnonzero(victim & free)
    if not len(victims):
        empty = np.zeros(0)
        return victims, empty, empty
    pair_group, pair_cell = _neighbourhoods(frame, victim & free, free, siblings=known is not None)
    order = np.lexsort((pair_cell, pair_group))
    pair_group, pair_cell = pair_group[order], pair_cell[order]
    n_groups = int(pair_group.max()) + 1
    starts = np.searchsorted(pair_group, np.arange(n_groups + 1))

    # Slack of the bound rows given everything else at its true value.
    ub_slack = -(relations.ub @ truth) if relations.ub.shape[0] else np.zeros(0)
    eq_cols = relations.eq.tocsc()
    ub_cols = relations.ub.tocsc()

    # Victims with their group and position inside the group's block.
    position = pd.Series(
        np.arange(len(pair_cell)), index=pd.MultiIndex.from_arrays([pair_group, pair_cell])
    )
    area_ind = frame["area_code"].astype(str) + "\x1f" + frame["indicator_id"].astype(str)
    group_keys = pd.unique(area_ind.to_numpy()[victims])
    gid = pd.Series(np.arange(len(group_keys)), index=group_keys)
    victim_group = gid.reindex(area_ind.to_numpy()[victims]).to_numpy(np.int64)
    victim_pos = (
        position.reindex(pd.MultiIndex.from_arrays([victim_group, victims])).to_numpy(np.int64)
        - starts[victim_group]
    )

    blocks: list[_Block] = []
    eq_rows = relations.eq.tocsr()
    ub_rows_all = relations.ub.tocsr()
    for g in range(n_groups):
        cells = pair_cell[starts[g] : starts[g + 1]]
        if known is None:
            a = eq_cols[:, cells].tocoo()
            b = ub_cols[:, cells].tocoo()
        else:
            constant = ~free | known(str(group_keys[g]).split("\x1f", 1)[0])
            a = _outer_rows(eq_rows, eq_cols, cells, constant)
            b = _outer_rows(ub_rows_all, ub_cols, cells, constant)
        keep_rows, a_row = np.unique(a.row, return_inverse=True)
        b_rows, b_row = np.unique(b.row, return_inverse=True)
        blocks.append(
            _Block(
                a_row.astype(np.int64),
                a.col.astype(np.int64),
                a.data.astype(np.float64),
                len(keep_rows),
                b_row.astype(np.int64),
                b.col.astype(np.int64),
                b.data.astype(np.float64),
                ub_slack[b_rows] if len(b_rows) else np.zeros(0),
                lower[cells] - truth[cells],
                upper[cells] - truth[cells],
            )
        )

    lo_out = np.empty(len(victims))
    hi_out = np.empty(len(victims))
    copies = [(i, sense) for i in range(len(victims)) for sense in (1.0, -1.0)]
    batch: list[tuple[int, float]] = []
    size = 0
    for copy in copies:
        k = len(blocks[victim_group[copy[0]]].low)
        if batch and size + k > BATCH_VARIABLES:
            _solve(batch, blocks, victim_group, victim_pos, lo_out, hi_out)
            batch, size = [], 0
        batch.append(copy)
        size += k
    if batch:
        _solve(batch, blocks, victim_group, victim_pos, lo_out, hi_out)
    return victims, truth[victims] + lo_out, truth[victims] + hi_out


def _outer_rows(
    rows: sp.csr_array, cols: sp.csc_array, cells: np.ndarray, constant: np.ndarray
) -> sp.coo_array:
    """The neighbourhood's columns of the rows whose every cell outside ``cells`` is a
    constant for the attacker (the rows an outer bound may keep), in COO form."""
    touched = np.unique(cols[:, cells].tocoo().row)
    if not len(touched):
        return sp.coo_array((rows.shape[0], len(cells)))
    sub = rows[touched].tocoo()
    inside = np.zeros(rows.shape[1], bool)
    inside[cells] = True
    loose = ~inside[sub.col] & ~constant[sub.col]
    bad = np.zeros(len(touched), bool)
    bad[sub.row[loose]] = True
    kept = touched[~bad]
    block = sp.coo_array(sp.csr_array(cols[:, cells])[kept])
    return sp.coo_array(
        (block.data, (kept[block.row], block.col)), shape=(rows.shape[0], len(cells))
    )


class _Block(NamedTuple):
    """One neighbourhood's LP in COO form (rows renumbered from 0)."""

    a_row: np.ndarray
    a_col: np.ndarray
    a_val: np.ndarray
    a_rows: int
    b_row: np.ndarray
    b_col: np.ndarray
    b_val: np.ndarray
    b_slack: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _solve(
    batch: list[tuple[int, float]],
    blocks: list[_Block],
    victim_group: np.ndarray,
    victim_pos: np.ndarray,
    lo_out: np.ndarray,
    hi_out: np.ndarray,
) -> None:
    # The block-diagonal matrices are assembled from COO pieces with offsets: far cheaper
    # than scipy's block_diag over thousands of small blocks.
    a_r, a_c, a_v, b_r, b_c, b_v, b_ub, lo, hi, cost, where = ([] for _ in range(11))
    col = row_a = row_b = 0
    for i, sense in batch:
        block = blocks[victim_group[i]]
        k = len(block.low)
        a_r.append(block.a_row + row_a)
        a_c.append(block.a_col + col)
        a_v.append(block.a_val)
        b_r.append(block.b_row + row_b)
        b_c.append(block.b_col + col)
        b_v.append(block.b_val)
        b_ub.append(block.b_slack)
        lo.append(block.low)
        hi.append(block.high)
        c = np.zeros(k)
        c[victim_pos[i]] = sense
        cost.append(c)
        where.append(col + victim_pos[i])
        col += k
        row_a += block.a_rows
        row_b += len(block.b_slack)
    a_eq = sp.csr_array(
        (np.concatenate(a_v), (np.concatenate(a_r), np.concatenate(a_c))), shape=(row_a, col)
    )
    a_ub = sp.csr_array(
        (np.concatenate(b_v), (np.concatenate(b_r), np.concatenate(b_c))), shape=(row_b, col)
    )
    result = linprog(
        np.concatenate(cost),
        A_ub=a_ub if row_b else None,
        b_ub=np.concatenate(b_ub) if row_b else None,
        A_eq=a_eq if row_a else None,
        b_eq=np.zeros(row_a) if row_a else None,
        bounds=np.column_stack([np.concatenate(lo), np.concatenate(hi)]),
        method="highs",
    )
    if result.status != 0:
        # y = 0 (the true table) is feasible, so this is a bug or inconsistent input.
        raise RuntimeError(f"certificate LP failed: {result.message}")
    values = result.x[np.array(where)]
    for (i, sense), v in zip(batch, values, strict=True):
        if sense > 0:
            lo_out[i] = v
        else:
            hi_out[i] = v
