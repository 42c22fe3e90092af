"""Exact optimal cell suppression for SMALL tables: the yardstick for ``privacy.suppression``.

Given a cell frame (the shared data model: ``area_code``, ``parent_code``, ``indicator_id``,
``breakdown_topic``, ``breakdown``, ``measure``, ``count``, ``public``), the primary-suppressed
cells, the table's additive relations, a protection width ``W`` and the attackers, find the
complementary suppressions that protect every primary cell at the least information loss:
fewest complementary cells first, then the smallest total value (lexicographic, encoded as one
objective with weight ``BIG + value`` per cell, ``BIG`` above any total value).

The model is the classical one of Fischetti & Salazar (2001): binary ``y_i`` says cell ``i`` is
suppressed; for each primary cell ``p`` and each attacker ``k`` there must exist two tables
``z+`` and ``z-`` that the attacker cannot tell from the truth (they satisfy every relation,
agree with every published cell, move a suppressed cell by at most ``M*y_i``, give every cell
of an area the attacker knows its true value, and give a suppressed cell at least 1 when the
policy shows true zeros as 0) with ``floor(z+_p) - ceil(z-_p) + 1 >= W``: the auditor's rule
(``floor(hi) - ceil(lo) + 1 >= W`` on the attacker's LP interval ``[lo, hi]``).

It is solved by Benders decomposition, as they do: a master MILP over the ``y`` alone, and,
at each master solution, the attackers' LPs, whose duals give a valid cut on ``y`` wherever an
interval is too narrow (see :func:`optimal_suppression`). Writing all the attackers' tables
into one MILP also works but took minutes per 8-LA table instead of seconds.

Semantics shared with ``privacy.suppression`` (so both solvers face the same problem):

* True zeros and public cells are never complementary suppressions; every cell not suppressed
  is published exactly (the benchmark uses a policy without rounding).
* The attacker of a cell of area ``v`` knows the true counts of every cell of ``attacker.areas``
  less ``v`` and the areas summing into ``v``; the outsider (knows nothing) is always
  included. A block whose knowledge is a strict subset of another block's for the same cell
  is dropped: protection against the stronger attacker implies protection against the weaker
  one (its feasible set is a superset).
* Only equality relations (breakdown Total = sum of categories, parent = sum of children).
  Bounds such as numerator <= denominator are not modelled: the benchmark tables have one
  measure. Ignoring a relation only weakens the attacker, so the optimum here is never above
  the true one and a ratio against it is conservative.

The master is ``scipy.optimize.milp`` (HiGHS) with a relative gap of 0 and the LPs are
``scipy.optimize.linprog`` (HiGHS): a returned "optimal" is a proven optimum, not a 0.01 % one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

__all__ = [
    "Optimum",
    "optimal_suppression",
    "pattern_protected",
    "relations_from_cells",
]

TOTAL = "Total"

# A relation: (index of the total cell, indices of its parts): a[total] == sum(a[parts]).
Relation = tuple[int, Sequence[int]]


@dataclass(frozen=True)
class Optimum:
    """The result of :func:`optimal_suppression`.

    ``status`` is ``"optimal"`` (proven), ``"time_limit"`` or ``"infeasible"`` (no pattern
    protects the primaries); ``complementary`` is empty unless optimal.
    """

    status: str
    complementary: np.ndarray  # bool per cell: chosen complementary suppressions
    count: int
    value: int
    seconds: float
    blocks: int  # (primary cell, attacker knowledge) pairs modelled

    @property
    def proven(self) -> bool:
        return self.status == "optimal"


def relations_from_cells(cells: pd.DataFrame, additive_topics: Iterable[str]) -> list[Relation]:
    """The additive equalities of ``cells``, built independently of ``privacy.cells``.

    Breakdown: per (area, indicator, measure) and additive topic, the Total cell = the sum of
    the topic's category cells. Geography: per (indicator, topic, breakdown, measure), a parent
    area's cell = the sum of its children's cells present. A relation is kept only if it holds
    exactly on the true counts (one that does not hold is not one an attacker can use).
    """
    frame = cells.reset_index(drop=True)
    count = frame["count"].to_numpy(dtype=np.int64)
    idx = pd.Series(np.arange(len(frame)), index=frame.index)
    relations: list[Relation] = []
    topics = set(additive_topics)

    is_total = (frame["breakdown_topic"] == TOTAL).to_numpy()
    group_key = ["area_code", "indicator_id", "measure"]
    totals = frame.loc[is_total, group_key].assign(row=idx[is_total])
    parts = frame.loc[frame["breakdown_topic"].isin(topics), [*group_key, "breakdown_topic"]]
    parts = parts.assign(row=idx[parts.index])
    merged = parts.merge(totals, on=group_key, suffixes=("", "_total"))
    for (total, _topic), group in merged.groupby(["row_total", "breakdown_topic"], sort=True):
        rows = group["row"].to_numpy()
        if count[rows].sum() == count[int(total)]:
            relations.append((int(total), rows.tolist()))

    key = ["indicator_id", "breakdown_topic", "breakdown", "measure"]
    parents = frame[[*key, "area_code"]].assign(row=idx).rename(columns={"area_code": "parent"})
    children = (
        frame[[*key, "parent_code"]].assign(row=idx).rename(columns={"parent_code": "parent"})
    )
    children = children[children["parent"] != ""]
    merged = children.merge(parents, on=[*key, "parent"], suffixes=("", "_parent"))
    for parent, group in merged.groupby("row_parent", sort=True):
        rows = group["row"].to_numpy()
        if count[rows].sum() == count[int(parent)]:
            relations.append((int(parent), rows.tolist()))
    return relations


def _relation_matrix(relations: Sequence[Relation], n: int) -> sparse.csr_array:
    """One row per relation: +1 on the parts, -1 on the total (so R @ a == 0 on true counts)."""
    rows, cols, vals = [], [], []
    for r, (total, parts) in enumerate(relations):
        rows += [r] * (len(parts) + 1)
        cols += [total, *parts]
        vals += [-1.0] + [1.0] * len(parts)
    return sparse.csr_array((vals, (rows, cols)), shape=(len(relations), n))


def _below(cells: pd.DataFrame) -> dict[str, set[str]]:
    """Each area with every area that sums into it (itself included)."""
    pairs = cells[["area_code", "parent_code"]].drop_duplicates("area_code")
    parent_of = dict(zip(pairs["area_code"], pairs["parent_code"], strict=True))
    below: dict[str, set[str]] = {area: {area} for area in parent_of}
    for area in parent_of:
        up = parent_of[area]
        while up:
            below.setdefault(up, {up}).add(area)
            up = parent_of.get(up, "")
    return below


def _knowledge_blocks(
    cells: pd.DataFrame, primary: np.ndarray, attackers: Iterable[Any]
) -> list[tuple[int, frozenset[str]]]:
    """(primary cell, areas its attacker knows) pairs, keeping only maximal knowledge sets.

    An attacker of a cell of area ``v`` knows its areas less ``v`` and every area summing into
    ``v`` (as ``privacy.cells.Attacker`` says: for an aggregate the victims are its
    contributors, and a coalition holding all of them holds the cell).
    """
    knowledge = [frozenset(a.areas) for a in attackers]
    areas = cells["area_code"].to_numpy()
    below = _below(cells)
    blocks: list[tuple[int, frozenset[str]]] = []
    for p in np.flatnonzero(primary):
        victims = below.get(areas[p], {areas[p]})
        sets = {k - victims for k in knowledge} | {frozenset()}
        maximal = [s for s in sets if not any(s < other for other in sets)]
        blocks += [(int(p), s) for s in sorted(maximal, key=sorted)]
    return blocks


@dataclass(frozen=True)
class _Block:
    """The attacker's LP for one (primary cell, knowledge) pair, over the cells it cannot see."""

    p: int  # position of the primary cell among ``cols``
    cols: np.ndarray  # cell indices of the free variables
    A: sparse.csr_array  # relations restricted to the free cells (empty rows dropped)
    b: np.ndarray
    cand: np.ndarray  # positions (among cols) of candidate cells
    y: np.ndarray  # their y-variable index


@dataclass(frozen=True)
class _Problem:
    a: np.ndarray
    lb: float  # what an attacker knows a suppressed cell is at least
    width: int
    candidates: np.ndarray  # cell index of each y variable
    blocks: list[_Block]


def _problem(
    cells: pd.DataFrame,
    primary: np.ndarray,
    relations: Sequence[Relation],
    protection_width: int,
    attackers: Iterable[Any],
    zeros_shown: bool,
) -> _Problem:
    a = cells["count"].to_numpy(dtype=float)
    public = cells["public"].to_numpy(dtype=bool)
    # Same rule as ours: true zeros and public cells are never complementary suppressions.
    candidate = ~primary & ~public & (a > 0)
    free = primary | candidate  # cells an attacker may not see
    cand_idx = np.flatnonzero(candidate)
    y_of = np.full(len(a), -1)
    y_of[cand_idx] = np.arange(len(cand_idx))
    R = _relation_matrix(relations, len(a)).tocsc()
    area = cells["area_code"].to_numpy()
    blocks = []
    for p, known in _knowledge_blocks(cells, primary, attackers):
        cols = np.flatnonzero(free & ~np.isin(area, list(known)))
        A = R[:, cols].tocsr()
        A = A[np.flatnonzero(np.diff(A.indptr) > 0)]
        cand = np.flatnonzero(candidate[cols])
        blocks.append(
            _Block(int(np.searchsorted(cols, p)), cols, A, A @ a[cols], cand, y_of[cols[cand]])
        )
    return _Problem(a, 1.0 if zeros_shown else 0.0, protection_width, cand_idx, blocks)


@dataclass(frozen=True)
class _Interval:
    lo: float
    hi: float
    # d(hi - lo)/dy per candidate of the block (a supergradient: hi - lo is concave in y).
    slope: np.ndarray


def _interval(problem: _Problem, block: _Block, y: np.ndarray, big_m: float) -> _Interval:
    """The attacker's LP interval of the primary cell when cell i may move by ``big_m * y_i``.

    Bounds per free cell: [max(lb, a - M y), a + M y] (primaries: y = 1). With an infinite M
    this is the auditor's LP exactly: suppressed cells in [lb, inf), published cells fixed.
    """
    a = problem.a[block.cols]
    yy = np.ones(len(a))
    yy[block.cand] = y[block.y]
    with np.errstate(invalid="ignore"):  # inf * 0 for published cells under an infinite M
        move = np.where(yy > 0, big_m * yy, 0.0)
    lower = np.maximum(problem.lb, a - move)
    upper = a + move
    bounds = np.column_stack([lower, np.where(np.isinf(upper), None, upper)])
    slope = np.zeros(len(block.cand))
    ends = []
    for sign in (-1.0, 1.0):  # maximise z_p, then minimise it
        c = np.zeros(len(a))
        c[block.p] = sign
        res = linprog(c, A_eq=block.A, b_eq=block.b, bounds=bounds, method="highs")
        if res.status == 3:  # unbounded above: the attacker learns no upper bound
            ends.append(np.inf)
            continue
        if res.status != 0:
            raise RuntimeError(f"attacker LP failed: {res.message}")
        ends.append(sign * res.fun)
        if np.isfinite(big_m):
            # Loosening a's upper bound by M dy raises hi (lowers lo) by |upper dual| M dy;
            # loosening the lower bound a - M y (where it binds above lb) by |lower dual| M dy.
            up = np.abs(res.upper.marginals[block.cand])
            down = np.abs(res.lower.marginals[block.cand])
            binds = (a - move)[block.cand] >= problem.lb
            slope += big_m * (up + np.where(binds, down, 0.0))
    return _Interval(lo=ends[1], hi=ends[0], slope=slope)


def _protected(problem: _Problem, interval: _Interval) -> bool:
    """The auditor's rule: the interval holds at least ``width`` integers."""
    if np.isinf(interval.hi):
        return True
    return np.floor(interval.hi + 1e-9) - np.ceil(interval.lo - 1e-9) + 1 >= problem.width


def _master(
    weight: np.ndarray, cuts: list[np.ndarray], rhs: list[float], integer: bool, time_limit: float
) -> tuple[np.ndarray | None, bool]:
    """min weight @ y over the cuts so far (y binary, or in [0, 1] when not ``integer``)."""
    constraints = [LinearConstraint(np.vstack(cuts), np.array(rhs), np.inf)] if cuts else []
    res = milp(
        weight,
        integrality=np.full(len(weight), 1 if integer else 0),
        bounds=Bounds(0, 1),
        constraints=constraints,
        options={"time_limit": max(time_limit, 1.0), "mip_rel_gap": 0.0},
    )
    if res.x is None:
        return None, res.status == 2
    y = np.round(res.x) if integer else np.clip(res.x, 0.0, 1.0)
    return y, res.status == 0


def optimal_suppression(
    cells: pd.DataFrame,
    primary: np.ndarray,
    relations: Sequence[Relation],
    *,
    protection_width: int = 5,
    attackers: Iterable[Any] = (),
    zeros_shown: bool = True,
    kappa: float = 1.0,
    time_limit: float = 120.0,
    relaxation_rounds: int = 25,
) -> Optimum:
    """The least-loss complementary suppression pattern that protects every primary cell.

    ``primary``: bool per row of ``cells``. ``attackers``: objects with ``.areas`` (e.g.
    ``privacy.cells.Attacker``); the outsider is always included. ``zeros_shown``: the policy
    shows true zeros as 0, so an attacker knows a suppressed cell is at least 1.

    Solved by Benders decomposition (Fischetti & Salazar): a master MILP over the binaries
    ``y`` alone, and for each (primary, attacker) the attacker's two LPs at the master's
    ``y``, whose duals give a cut ``sum_i slope_i * y_i >= ...`` whenever the interval is too
    narrow (first on the master's LP relaxation, then on integer solutions). The first integer
    master solution that every attacker's LP accepts is optimal, since every cut is valid.

    A suppressed cell may move by ``M * y_i`` with ``M = kappa * (W - 1)``. ``kappa = 1`` is
    exact when every circuit of the relation matrix has entries in {0, +-1} (true of LA x one
    breakdown topic with a geography hierarchy, a network: a witness table can be cut down to
    circuits through the primary cell, each moving no cell more than the primary itself);
    otherwise raise ``kappa`` (a larger M only weakens the cuts, never the answer).
    """
    start = time.perf_counter()
    frame = cells.reset_index(drop=True)
    primary = np.asarray(primary, dtype=bool)
    n = len(frame)
    none = np.zeros(n, dtype=bool)
    if not primary.any():
        return Optimum("optimal", none, 0, 0, 0.0, 0)
    problem = _problem(frame, primary, relations, protection_width, list(attackers), zeros_shown)
    big_m = kappa * (protection_width - 1)
    a_cand = problem.a[problem.candidates]
    # Lexicographic (count, then value): one more cell always outweighs any difference in value.
    weight = (a_cand.sum() + 1.0) + a_cand
    cuts: list[np.ndarray] = []
    rhs: list[float] = []
    y = np.zeros(len(problem.candidates))
    integer = False
    rounds = 0

    def elapsed() -> float:
        return time.perf_counter() - start

    while True:
        added = 0
        for block in problem.blocks:
            interval = _interval(problem, block, y, big_m)
            spread = interval.hi - interval.lo
            narrow = spread < protection_width - 1 - 1e-6
            if narrow:
                coef = np.zeros(len(y))
                coef[block.y] = interval.slope
                if not coef.any():  # no candidate can widen this interval: nothing protects p
                    return Optimum("infeasible", none, 0, 0, elapsed(), len(problem.blocks))
                cuts.append(coef)
                rhs.append(protection_width - 1 - spread + coef @ y)
                added += 1
            if integer and (narrow or not _protected(problem, interval)):
                # Some candidate this block can use and y leaves published must be suppressed
                # (fewer suppressions only narrow the interval). It cuts y off for certain,
                # where a Benders cut violated by a hair might not, and it covers intervals
                # wide enough as real numbers but not in whole numbers (a fractional vertex).
                coef = np.zeros(len(y))
                coef[block.y[y[block.y] < 0.5]] = 1.0
                cuts.append(coef)
                rhs.append(1.0)
                added += 1
        rounds += 1
        if not added:
            if integer:
                break
            integer = True  # the relaxation is separated: from now on, integer masters
        elif not integer and rounds >= relaxation_rounds:
            integer = True
        if elapsed() > time_limit:
            return Optimum("time_limit", none, 0, 0, elapsed(), len(problem.blocks))
        y, solved = _master(weight, cuts, rhs, integer, time_limit - elapsed())
        if y is None:
            status = "infeasible" if solved else "time_limit"
            return Optimum(status, none, 0, 0, elapsed(), len(problem.blocks))
    chosen = none.copy()
    chosen[problem.candidates[y > 0.5]] = True
    counts = frame["count"].to_numpy(dtype=np.int64)
    return Optimum(
        "optimal",
        chosen,
        int(chosen.sum()),
        int(counts[chosen].sum()),
        elapsed(),
        len(problem.blocks),
    )


def pattern_protected(
    cells: pd.DataFrame,
    primary: np.ndarray,
    suppressed: np.ndarray,
    relations: Sequence[Relation],
    *,
    protection_width: int = 5,
    attackers: Iterable[Any] = (),
    zeros_shown: bool = True,
) -> bool:
    """Whether suppressing ``suppressed`` (bool per cell; primaries are always suppressed)
    protects every primary cell: each attacker's exact LP interval (suppressed cells in
    ``[lb, inf)``, published cells fixed, no ``M``) holds at least ``protection_width`` integers.

    A cross-check for both sides: a pattern from ``privacy.suppression`` that passes our
    auditor must pass here (else the two disagree on the problem), and so must the optimum.
    """
    frame = cells.reset_index(drop=True)
    primary = np.asarray(primary, dtype=bool)
    pattern = np.asarray(suppressed, dtype=bool) & ~primary
    a = frame["count"].to_numpy()
    if (pattern & ((a == 0) | frame["public"].to_numpy(dtype=bool))).any():
        raise ValueError("the pattern suppresses a true zero or a public cell")
    problem = _problem(frame, primary, relations, protection_width, list(attackers), zeros_shown)
    y = pattern[problem.candidates].astype(float)
    return all(
        _protected(problem, _interval(problem, block, y, np.inf)) for block in problem.blocks
    )
