"""The τ-ARGUS style audit: how far can an attacker narrow each primary-suppressed count?

For each primary-suppressed cell and each attacker, the auditor solves the two linear
programmes min x_v and max x_v over everything the attacker knows:

* every relation of the table (:func:`privacy.cells.build_relations`: breakdown and geography
  sums that hold on the true counts, numerator <= denominator bounds);
* each cell's interval as published: exact cells are constants, rounded cells lie in their
  rounding interval, suppressed cells in ``[known_lower, BIG]`` (``c`` means >= 1 when the policy
  shows true zeros as 0);
* the attacker's own knowledge: the true count of every cell of its areas, less the victim's
  area and every area that sums into it (see :class:`privacy.cells.Attacker`).

The cell is protected iff every attacker's interval ``[lo, hi]`` holds at least
``protection_width`` integers: ``floor(hi) - ceil(lo) + 1 >= protection_width`` ("not exactly
recoverable", sdcTable's weaker test, is not enough: narrowing a 1..5 count to 2..3 discloses).

Performance (the programmes are many: two per primary cell per attacker):

* Exact cells are constants, and a cell pinned by a relation whose other cells are all known
  is a constant too (propagated first), so the LPs range over the suppressed and loosely
  rounded cells only.
* Those cells fall into independent connected components (linked by a shared relation);
  a component without a primary cell is skipped.
* An attacker whose knowledge does not touch the component sees what the outsider sees; an
  attacker whose knowledge (within the component) is contained in another's is implied by it
  (its feasible set is a superset) and is not solved. So the outsider is solved only for
  cells no attacker touches, and a single LA only when no coalition holds it.
* When several attackers are left for a cell, one LP with their knowledge pooled is tried
  first, then pooled LPs that leave one region out (see :class:`_Plan`); only attackers no
  passing pooled LP stands for get their own exact LP. Pooled LPs can only pass a cell, never
  fail it: the report's failures are always exact intervals of real attackers.
* Each LP is cut down to what the attacker faces: its known cells, and the cells they pin,
  are constants, and only the cells still linked to the victim remain.
* The LPs are stacked as block-diagonal sparse LPs (a batch of about
  :data:`BATCH_VARIABLES` variables) and solved by HiGHS in one call each: minimising a sum
  of independent objectives minimises each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import breadth_first_order, connected_components

from ._moves import MOVE_CERTIFIED, Grid
from ._screen import outer_screen
from .cells import KEY, Attacker, Relations, Structure, ancestors, build_relations, descendants
from .certificates import local_intervals

__all__ = [
    "OUTSIDER",
    "AuditReport",
    "DisclosureRisk",
    "audit",
    "require_protected",
]

OUTSIDER = "outsider"
"""The attacker who knows nothing but the published release (always audited)."""

CERTIFIED = "every attacker (local certificate)"
"""The attacker name of intervals proved by :mod:`privacy.certificates`: an inner bound on
every attacker's interval, so one row stands for all of them."""

BATCH_VARIABLES = 3_000
"""Variables per stacked LP: large enough to amortise the solver call, small enough that one
slow block does not hold up thousands of others."""

TOLERANCE = 1e-6
"""Slack when turning LP optima into integer bounds (HiGHS' feasibility tolerance is 1e-7)."""

INTERVAL_COLUMNS = [*KEY, "attacker", "lower", "upper", "n_values", "ok"]


class DisclosureRisk(Exception):
    """A release would let some attacker narrow a suppressed count. Carries the report; the
    message names cells and counts but never a cell's value or interval."""

    def __init__(self, report: AuditReport) -> None:
        self.report = report
        failed = report.failures()
        cells = failed[KEY].drop_duplicates()
        shown = [" / ".join(str(v) for v in row) for row in cells.head(10).itertuples(index=False)]
        more = "" if len(cells) <= 10 else f" (and {len(cells) - 10} more)"
        attackers = sorted(set(failed["attacker"]))
        super().__init__(
            f"{len(cells)} suppressed cell(s) can be narrowed below the protection width of "
            f"{report.protection_width} by {len(attackers)} attacker(s) "
            f"({', '.join(attackers[:5])}{'...' if len(attackers) > 5 else ''}): "
            + "; ".join(shown)
            + more
        )


@dataclass
class AuditReport:
    """The feasible interval of every primary-suppressed cell for every attacker solved.

    ``intervals``: the cell key, ``attacker``, ``lower``/``upper`` (the LP optima, +inf when
    unbounded), ``n_values`` (integers in the interval) and ``ok``. ``attacker`` is a real
    attacker's name, :data:`OUTSIDER`, or a pooled attacker (:data:`POOLED`, or "... outside
    <region>") whose passing interval stands for every attacker it implies. Attackers implied
    by a stronger one have no row of their own, and a failing row is always a real attacker's
    exact interval.
    """

    intervals: pd.DataFrame
    protection_width: int
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.intervals["ok"].all())

    @classmethod
    def combine(cls, reports: Sequence[AuditReport], protection_width: int) -> AuditReport:
        """One report for parts audited on their own (e.g. the indicators of a release):
        their rows together, their statistics summed."""
        stats: dict[str, int] = {}
        for report in reports:
            for key, value in report.stats.items():
                stats[key] = stats.get(key, 0) + value
        rows = [r.intervals for r in reports]
        intervals = (
            pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=INTERVAL_COLUMNS)
        )
        return cls(intervals=intervals, protection_width=protection_width, stats=stats)

    def failures(self) -> pd.DataFrame:
        """The (cell, attacker) rows whose interval is narrower than the protection width."""
        return self.intervals.loc[~self.intervals["ok"]].reset_index(drop=True)

    def summary(self) -> dict[str, int]:
        """Counts only (safe to log or show): never a cell value or interval."""
        failed = self.failures()
        return {
            "primary_cells": int(self.intervals[KEY].drop_duplicates().shape[0]),
            "intervals_checked": len(self.intervals),
            "cells_narrowed": int(failed[KEY].drop_duplicates().shape[0]),
            "intervals_narrowed": len(failed),
            "protection_width": self.protection_width,
            **self.stats,
        }


def require_protected(
    protected: pd.DataFrame,
    structure: Structure,
    *,
    protection_width: int,
    attackers: Sequence[Attacker] = (),
    relations: Relations | None = None,
) -> AuditReport:
    """:func:`audit`, raising :class:`DisclosureRisk` when any primary cell is narrowed."""
    report = audit(
        protected,
        structure,
        protection_width=protection_width,
        attackers=attackers,
        relations=relations,
    )
    if not report.ok:
        raise DisclosureRisk(report)
    return report


# --- the area hierarchy --------------------------------------------------------------------


# --- fixing what is known --------------------------------------------------------------------


def _propagate(eq: sp.csr_array, fixed: np.ndarray) -> np.ndarray:
    """Also fix every cell pinned by an equality whose other cells are all fixed (repeat).

    Such a cell equals a sum of constants, so every attacker knows it; treating it as a
    constant removes it from the LPs and splits components (a rounded region total whose LAs
    are all published exactly is not a variable at all).
    """
    member = abs(eq).astype(bool).astype(np.int64).tocsr()
    position = np.arange(member.shape[1], dtype=np.int64)
    fixed = fixed.copy()
    while True:
        free = (~fixed).astype(np.int64)
        n_free = member @ free
        single = n_free == 1
        if not single.any():
            return fixed
        # The one free member of such a row is the sum of the free positions in it.
        pinned = (member @ (free * position))[single]
        if fixed[pinned].all():
            return fixed
        fixed[pinned] = True


# --- components ------------------------------------------------------------------------------


def _components(incidence: sp.csr_array, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the free cells (linked through shared relations).

    Returns (label per free cell, label per relation row or -1 for rows without free cells).
    """
    sub = sp.csr_array(incidence[:, free])
    k = sub.shape[1]
    graph = sp.bmat([[None, sub.T], [sub, None]], format="csr")
    _, labels = connected_components(graph, directed=False)
    cell_label = labels[:k]
    row_has = np.diff(sub.indptr) > 0
    row_label = np.where(row_has, labels[k:], -1)
    # Relabel densely over the free cells.
    uniq, cell_label = np.unique(cell_label, return_inverse=True)
    lookup = np.full(labels.max() + 1, -1)
    lookup[uniq] = np.arange(len(uniq))
    row_label = np.where(row_label >= 0, lookup[np.maximum(row_label, 0)], -1)
    return cell_label, row_label


@dataclass
class _Component:
    """One component's LP: ``eq @ y == b_eq``, ``ub @ y <= b_ub``, ``lo <= y <= hi``."""

    cells: np.ndarray  # global positions of its free cells
    eq: sp.csr_array
    b_eq: np.ndarray
    ub: sp.csr_array
    b_ub: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    _member: sp.csr_array | None = None
    _adjacency: sp.csr_array | None = None

    def member(self) -> sp.csr_array:
        """0/1 equality rows (for propagation)."""
        if self._member is None:
            self._member = sp.csr_array(abs(self.eq).astype(bool).astype(np.int64))
        return self._member

    def adjacency(self) -> sp.csr_array:
        """Cell x cell: 1 where two cells share a relation."""
        if self._adjacency is None:
            both = sp.vstack([abs(self.eq), abs(self.ub)], format="csr").astype(bool)
            both = sp.csr_array(both.astype(np.int64))
            self._adjacency = sp.csr_array((both.T @ both).astype(bool))
        return self._adjacency

    def reduce(
        self, known: np.ndarray | None, victim: int, truth: np.ndarray
    ) -> tuple[_Component, int] | None:
        """The smaller LP an attacker knowing ``known`` faces for ``victim``.

        Known cells become constants, then every cell a relation pins given the constants
        (their value is the truth: every other cell of the relation is at its truth), and
        only the cells still linked to the victim stay. Exact: the LP optimum for the victim
        is unchanged. None when the victim itself is pinned (its interval is one value).
        """
        k = len(self.cells)
        fixed = np.zeros(k, bool) if known is None else known.copy()
        member = self.member()
        position = np.arange(k, dtype=np.int64)
        while True:
            free = (~fixed).astype(np.int64)
            single = (member @ free) == 1
            if not single.any():
                break
            pinned = (member @ (free * position))[single]
            if fixed[pinned].all():
                break
            fixed[pinned] = True
        if fixed[victim]:
            return None
        free_idx = np.flatnonzero(~fixed)
        sub = sp.csr_array(self.adjacency()[free_idx][:, free_idx])
        start = int(np.searchsorted(free_idx, victim))
        reach = breadth_first_order(sub, start, directed=False, return_predecessors=False)
        keep = np.sort(free_idx[reach])
        constants = np.where(fixed, truth[self.cells], 0.0)
        eq_rows = np.flatnonzero(abs(self.eq)[:, keep].sum(axis=1) > 0)
        ub_rows = np.flatnonzero(abs(self.ub)[:, keep].sum(axis=1) > 0)
        b_eq = (self.b_eq - self.eq @ constants)[eq_rows]
        b_ub = (self.b_ub - self.ub @ constants)[ub_rows]
        small = _Component(
            self.cells[keep],
            sp.csr_array(self.eq[eq_rows][:, keep]),
            b_eq,
            sp.csr_array(self.ub[ub_rows][:, keep]),
            b_ub,
            self.lo[keep],
            self.hi[keep],
        )
        return small, int(np.searchsorted(keep, victim))


@dataclass
class _Copy:
    """One LP to solve: minimise ``sense * y[victim]`` over component ``comp`` with the
    ``known`` cells fixed at their true counts, on behalf of attacker ``name``."""

    comp: int
    victim: int  # local index in the component
    name: str
    sense: float
    known: np.ndarray | None


def _slice_blocks(
    matrix: sp.csr_array, row_label: np.ndarray, cell_label: np.ndarray
) -> dict[int, tuple[sp.csr_array, np.ndarray]]:
    """Split ``matrix`` (already restricted to free columns) into per-component blocks."""
    rows = np.flatnonzero(row_label >= 0)
    if not len(rows):
        return {}
    order = rows[np.argsort(row_label[rows], kind="stable")]
    labels = row_label[order]
    cuts = np.flatnonzero(np.diff(labels)) + 1
    out: dict[int, tuple[sp.csr_array, np.ndarray]] = {}
    col_order = np.argsort(cell_label, kind="stable")
    col_starts = np.searchsorted(cell_label[col_order], np.arange(cell_label.max() + 2))
    permuted = sp.csr_array(matrix[:, col_order])
    for chunk in np.split(order, cuts):
        comp = int(row_label[chunk[0]])
        c0, c1 = col_starts[comp], col_starts[comp + 1]
        out[comp] = (sp.csr_array(permuted[chunk][:, c0:c1]), chunk)
    return out


# --- the audit --------------------------------------------------------------------------------


def audit(
    protected: pd.DataFrame,
    structure: Structure,
    *,
    protection_width: int,
    attackers: Sequence[Attacker] = (),
    relations: Relations | None = None,
    exact: bool = False,
) -> AuditReport:
    """Audit a protected frame (see the module docstring). ``relations`` may be passed when
    already built for the same cells in the same row order.

    By default cells the certificates prove protected (cycle moves, local LPs) get one row
    with the proved (inner) interval; ``exact=True`` solves the LPs for every cell instead,
    so every row is an LP optimum (slower; the verdict is the same)."""
    frame = protected.reset_index(drop=True)
    if relations is None:
        relations = build_relations(frame, structure)
    return _audit(
        frame,
        relations,
        protection_width=protection_width,
        attackers=attackers,
        certify=not exact,
        additive_topics=structure.additive_topics,
    )


def _audit(
    frame: pd.DataFrame,
    relations: Relations,
    *,
    protection_width: int,
    attackers: Sequence[Attacker] = (),
    victims: np.ndarray | None = None,
    fail_fast: bool = False,
    certify: bool = True,
    additive_topics: frozenset[str] | None = None,
    grid: Grid | None = None,
) -> AuditReport:
    """:func:`audit` on a 0..n-1 indexed frame.

    ``victims`` (a cell mask) limits the audit to those primary cells. ``fail_fast``: a cell
    is reported with its first failing attacker only (enough to repair it), which saves the
    other attackers' LPs while a pattern is still being built. ``grid``: the
    :class:`privacy._moves.Grid` of this frame and relations, when the caller has one (it does
    not depend on the pattern, so the suppression loop builds it once).
    """
    truth = frame["count"].to_numpy(np.float64)
    lower = frame["known_lower"].to_numpy(np.float64)
    upper = frame["known_upper"].to_numpy(np.float64)
    victim = (frame["status"] == "primary").to_numpy()
    if victims is not None:
        victim = victim & victims
    big = _big_bound(truth)

    fixed = _propagate(relations.eq, lower == upper)
    free = ~fixed
    stats = {"components_audited": 0, "lp_batches": 0, "lp_copies": 0}
    rows: list[pd.DataFrame] = []

    # A primary cell that is a constant (published, or pinned by a relation) is disclosed.
    pinned = np.flatnonzero(victim & fixed)
    if len(pinned):
        rows.append(_rows(pinned, [OUTSIDER] * len(pinned), truth[pinned], truth[pinned]))

    if (victim & free).any() and certify:
        if grid is None:
            grid = Grid(frame, relations, additive_topics)
        cells, lo, hi, _ = grid.certify(
            np.isinf(upper),
            lower,
            upper,
            np.flatnonzero(victim & free),
            attackers,
            protection_width,
        )
        stats["certified_by_moves"] = len(cells)
        if len(cells):
            rows.append(_rows(cells, [MOVE_CERTIFIED] * len(cells), lo, hi))
            victim = victim.copy()
            victim[cells] = False

    if (victim & free).any() and certify:
        # Cheap inner bounds first: a cell they already show wide enough is protected against
        # every attacker (privacy.certificates); only the rest need the component LPs.
        cells, lo, hi = local_intervals(frame, relations, victim, free, big)
        wide = _n_values(lo, hi) >= protection_width
        stats["certified_locally"] = int(wide.sum())
        if wide.any():
            rows.append(_rows(cells[wide], [CERTIFIED] * int(wide.sum()), lo[wide], hi[wide]))
            victim = victim.copy()
            victim[cells[wide]] = False

    if fail_fast and (victim & free).any():
        # While a pattern is being built one failure per cell is enough: an outer bound
        # over the victim's neighbourhood that is already too narrow proves it without the
        # component LPs (privacy._screen); such a row's interval is that outer bound.
        cells, names, lo, hi = outer_screen(
            frame, relations, attackers, protection_width, victim & free, big
        )
        stats["failed_by_outer_bound"] = len(cells)
        if len(cells):
            rows.append(_rows(cells, names, lo, hi))
            victim = victim.copy()
            victim[cells] = False

    if (victim & free).any():
        comps: list[_Component | None] = list(
            _build_components(relations, free, truth, lower, upper, big)
        )
        plan = _Plan(frame, comps, victim, attackers)
        stats["components_audited"] = sum(
            1 for c in comps if c is not None and victim[c.cells].any()
        )
        rows.append(plan.run(truth, protection_width, big, stats, fail_fast=fail_fast))

    intervals = _intervals(frame, rows, protection_width, big)
    return AuditReport(intervals=intervals, protection_width=protection_width, stats=stats)


def _rows(cell: np.ndarray, names: Sequence[str], lo: np.ndarray, hi: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"cell": cell, "attacker": list(names), "lower": lo, "upper": hi})


def _big_bound(truth: np.ndarray) -> float:
    """Finite stand-in for +inf on suppressed cells: an unbounded block would make the whole
    stacked LP unbounded. Far above any count, so hitting it means "unbounded"."""
    top = float(truth.max()) if len(truth) else 0.0
    return max(1e6, 100.0 * top)


def _build_components(
    relations: Relations,
    free: np.ndarray,
    truth: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    big: float,
) -> list[_Component]:
    free_pos = np.flatnonzero(free)
    fixed_values = np.where(free, 0.0, truth)
    b_eq_all = -(relations.eq @ fixed_values)
    b_ub_all = -(relations.ub @ fixed_values)
    eq_free = sp.csr_array(relations.eq[:, free_pos])
    ub_free = sp.csr_array(relations.ub[:, free_pos])
    incidence = sp.vstack([eq_free, ub_free], format="csr")
    incidence.data = np.ones_like(incidence.data)
    cell_label, row_label = _components(sp.csr_array(incidence), np.ones(len(free_pos), bool))
    m_eq = eq_free.shape[0]
    eq_blocks = _slice_blocks(eq_free, row_label[:m_eq], cell_label)
    ub_blocks = _slice_blocks(ub_free, row_label[m_eq:], cell_label)
    order = np.argsort(cell_label, kind="stable")
    starts = np.searchsorted(cell_label[order], np.arange(cell_label.max() + 2))
    comps = []
    for comp in range(cell_label.max() + 1):
        cells = free_pos[order[starts[comp] : starts[comp + 1]]]
        k = len(cells)
        eq, eq_rows = eq_blocks.get(comp, (sp.csr_array((0, k)), np.zeros(0, np.int64)))
        ub, ub_rows = ub_blocks.get(comp, (sp.csr_array((0, k)), np.zeros(0, np.int64)))
        lo = lower[cells]
        hi = np.minimum(upper[cells], big)
        comps.append(_Component(cells, eq, b_eq_all[eq_rows], ub, b_ub_all[ub_rows], lo, hi))
    return comps


POOLED = "every attacker pooled"
"""The name of the audit row of a cell whose interval was checked against all attackers'
knowledge pooled (less the victim's own areas): if that passes, every attacker passes."""


def _outside(group: str) -> str:
    return f"every attacker pooled, outside {group}"


class _Plan:
    """Which LPs to solve for whom, in stages that let one LP stand for many attackers.

    Per primary cell, the attackers that matter are those whose knowledge touches its
    component and is not implied by another's. If more than one is left:

    1. One LP with all their knowledge pooled (every area any attacker knows, less the
       victim's): if even that leaves the cell wide enough, every attacker does.
    2. Otherwise two pooled LPs that each leave out one top-level group of areas (a region:
       the victim's own, and the one with most suppressed cells in the component). A pass
       covers every attacker that knows nothing in the group left out.
    3. Exact LPs for the attackers still uncovered.

    Only exact intervals can fail a cell: a pooled attacker is stronger than any real one.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        comps: list[_Component | None],
        victim: np.ndarray,
        attackers: Sequence[Attacker],
    ) -> None:
        self.comps = comps
        self.victim = victim
        self.attackers = list(attackers)
        pairs = frame[["area_code", "parent_code"]].drop_duplicates("area_code")
        below = descendants(pairs)
        self.area_code, area_names = pd.factorize(frame["area_code"].to_numpy())
        index = {a: i for i, a in enumerate(area_names)}
        self.area_names = np.asarray(area_names, dtype=object)
        self.knows = np.zeros((len(attackers), len(area_names)), bool)
        for i, attacker in enumerate(attackers):
            self.knows[i, [index[a] for a in attacker.areas if a in index]] = True
        self.below = {index[a]: np.array([index[b] for b in bs]) for a, bs in below.items()}
        top = _top_groups(pairs)
        self.group = np.array([index.get(top.get(a, ""), -1) for a in area_names])

    def run(
        self,
        truth: np.ndarray,
        protection_width: int,
        big: float,
        stats: dict[str, int],
        *,
        fail_fast: bool = False,
    ) -> pd.DataFrame:
        needs = list(self._needs())
        # Stage 1 (pooled) for cells with several attackers; exact for the others.
        exact: list[_Copy] = []
        pooled: list[tuple[_Copy, int]] = []
        for i, (ci, v, chosen, pooled_mask, _) in enumerate(needs):
            if len(chosen) > 1:
                pooled.append((_Copy(ci, v, POOLED, 1.0, pooled_mask), i))
            else:
                name, mask = chosen[0] if chosen else (OUTSIDER, None)
                exact.append(_Copy(ci, v, name, 1.0, mask))
        out = [self._solve_pairs(exact, truth, big, stats)]
        stage1 = self._solve_pairs([c for c, _ in pooled], truth, big, stats)
        passed1 = _wide(stage1, protection_width)
        out.append(stage1[passed1])
        # Stage 2: leave out one group at a time.
        stage2_copies: list[_Copy] = []
        owners: list[int] = []
        for (_, i), ok in zip(pooled, passed1, strict=True):
            if ok:
                continue
            ci, v, _, pooled_mask, groups = needs[i]
            cell_groups = self.group[self.area_code[self.comps[ci].cells]]
            for g in groups:
                mask = pooled_mask & (cell_groups != g)
                stage2_copies.append(_Copy(ci, v, _outside(self.area_names[g]), 1.0, mask))
                owners.append(i)
        stage2 = self._solve_pairs(stage2_copies, truth, big, stats)
        passed2 = _wide(stage2, protection_width)
        out.append(stage2[passed2])
        covering: dict[int, list[np.ndarray]] = {}
        for copy, owner, ok in zip(stage2_copies, owners, passed2, strict=True):
            if ok:
                covering.setdefault(owner, []).append(copy.known)
        # Stage 3: exact LPs for the attackers no passing pooled LP stands for.
        queues: list[list[_Copy]] = []
        for (_, i), ok in zip(pooled, passed1, strict=True):
            if ok:
                continue
            ci, v, chosen, _, _ = needs[i]
            masks = covering.get(i, [])
            uncovered = [
                _Copy(ci, v, name, 1.0, mask)
                for name, mask in chosen
                if not any(not (mask & ~m).any() for m in masks)
            ]
            # The attacker knowing most goes first: the likeliest to fail the cell.
            uncovered.sort(key=lambda c: -int(c.known.sum()) if c.known is not None else 0)
            if uncovered:
                queues.append(uncovered)
        if not fail_fast:
            out.append(self._solve_pairs([c for q in queues for c in q], truth, big, stats))
            return pd.concat(out, ignore_index=True)
        # Fail fast: one attacker per cell per round; a cell leaves at its first failure.
        while queues:
            heads = [q[0] for q in queues]
            solved = self._solve_pairs(heads, truth, big, stats)
            out.append(solved)
            wide = _wide(solved, protection_width)
            queues = [q[1:] for q, ok in zip(queues, wide, strict=True) if ok and len(q) > 1]
        return pd.concat(out, ignore_index=True)

    def _needs(self):  # type: ignore[no-untyped-def]
        """Per primary cell: (component, victim, [(attacker name, knowledge mask)], pooled
        knowledge mask, groups to leave out in stage 2)."""
        for ci, comp in enumerate(self.comps):
            if comp is None:
                continue
            local_victims = np.flatnonzero(self.victim[comp.cells])
            if not len(local_victims):
                continue
            cell_areas = self.area_code[comp.cells]
            members = self.knows[:, cell_areas]
            touching = np.flatnonzero(members.any(axis=1))
            useful = touching[~_dominated(members[touching])]
            cell_groups = self.group[cell_areas]
            # Groups by suppressed cells in the component, most first (stage 2's second pick).
            counts = pd.Series(cell_groups[cell_groups >= 0]).value_counts(sort=True)
            ranked = [int(g) for g in counts.index]
            for area in pd.unique(cell_areas[local_victims]):
                # Cells of the victim's area and of areas summing into it are not "known".
                below = np.isin(cell_areas, self.below[int(area)])
                known = members[useful] & ~below
                hits = np.flatnonzero(known.any(axis=1))
                chosen = [(self.attackers[useful[i]].name, known[i]) for i in hits]
                chosen = _drop_implied(chosen)
                pooled_mask = np.any([m for _, m in chosen], axis=0) if chosen else None
                own = int(self.group[int(area)])
                groups = [g for g in [own, *ranked] if g >= 0]
                groups = list(dict.fromkeys(groups))[:2]
                for v in local_victims[cell_areas[local_victims] == area]:
                    yield ci, int(v), chosen, pooled_mask, groups

    def _solve_pairs(
        self, copies: list[_Copy], truth: np.ndarray, big: float, stats: dict[str, int]
    ) -> pd.DataFrame:
        """Solve min and max for each copy; one row per copy."""
        if not copies:
            return _rows(np.zeros(0, np.int64), [], np.zeros(0), np.zeros(0))
        cell = np.array([self.comps[c.comp].cells[c.victim] for c in copies], dtype=np.int64)
        lo, hi = truth[cell].copy(), truth[cell].copy()
        # Each copy's own smaller LP (see _Component.reduce); min and max share it.
        small: list[_Component | None] = []
        both: list[_Copy] = []
        where: list[int] = []
        for i, copy in enumerate(copies):
            reduced = self.comps[copy.comp].reduce(copy.known, copy.victim, truth)
            if reduced is None:
                continue  # pinned: [truth, truth]
            comp, victim = reduced
            small.append(comp)
            both += [
                _Copy(len(small) - 1, victim, copy.name, 1.0, None),
                _Copy(len(small) - 1, victim, copy.name, -1.0, None),
            ]
            where.append(i)
        if both:
            stats["lp_copies"] += len(both)
            values = _solve(small, both, truth, stats)
            lo[where], hi[where] = values[0::2], values[1::2]
        return _rows(cell, [c.name for c in copies], lo, hi)


def _wide(rows: pd.DataFrame, protection_width: int) -> np.ndarray:
    """Whether each row's interval holds at least ``protection_width`` integers."""
    lo = rows["lower"].to_numpy(np.float64)
    hi = rows["upper"].to_numpy(np.float64)
    return _n_values(lo, hi) >= protection_width


def _n_values(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        n = np.floor(hi + TOLERANCE) - np.ceil(lo - TOLERANCE) + 1
    # Cast only finite counts: an unbounded interval holds "every" integer.
    finite = np.nan_to_num(n, nan=0.0, posinf=0.0, neginf=0.0).astype(np.int64)
    return np.where(np.isinf(hi), np.iinfo(np.int64).max, finite)


def _top_groups(pairs: pd.DataFrame) -> dict[str, str]:
    """Each area's top-level group: its ancestor just below the root (a region), or itself."""
    # The chain [area, ...ancestors] ends at the root; the group is the one below it.
    return {area: (area, *chain)[-2] if chain else "" for area, chain in ancestors(pairs).items()}


def _dominated(members: np.ndarray) -> np.ndarray:
    """Attackers whose knowledge within a component is contained in another's (ties: the
    later one is dropped)."""
    k = len(members)
    if k <= 1:
        return np.zeros(k, bool)
    m = members.astype(np.int32)
    outside = m @ (1 - m).T  # [a, b] = cells a knows that b does not
    subset = outside == 0
    np.fill_diagonal(subset, False)
    equal = subset & subset.T
    strictly = subset & ~subset.T
    later_tie = np.triu(equal, k=1).T  # a is dominated by an earlier equal b
    return strictly.any(axis=1) | later_tie.any(axis=1)


def _drop_implied(chosen: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    """Drop attackers whose knowledge (after removing the victim's area) is implied."""
    if len(chosen) <= 1:
        return chosen
    masks = np.array([mask for _, mask in chosen])
    drop = _dominated(masks)
    return [c for c, d in zip(chosen, drop, strict=True) if not d]


def _solve(
    comps: list[_Component | None], copies: list[_Copy], truth: np.ndarray, stats: dict[str, int]
) -> np.ndarray:
    """The optimum of every copy, solved in stacked batches."""
    values = np.empty(len(copies))
    if not copies:
        return values
    batch: list[int] = []
    size = 0
    for i, copy in enumerate(copies):
        k = len(comps[copy.comp].cells)
        if batch and size + k > BATCH_VARIABLES:
            _solve_batch(comps, copies, batch, truth, values)
            stats["lp_batches"] += 1
            batch, size = [], 0
        batch.append(i)
        size += k
    if batch:
        _solve_batch(comps, copies, batch, truth, values)
        stats["lp_batches"] += 1
    return values


def _solve_batch(
    comps: list[_Component | None],
    copies: list[_Copy],
    batch: list[int],
    truth: np.ndarray,
    values: np.ndarray,
) -> None:
    eqs, ubs, b_eq, b_ub, lo, hi, cost, where = [], [], [], [], [], [], [], []
    offset = 0
    for i in batch:
        copy = copies[i]
        comp = comps[copy.comp]
        k = len(comp.cells)
        eqs.append(comp.eq)
        ubs.append(comp.ub)
        b_eq.append(comp.b_eq)
        b_ub.append(comp.b_ub)
        low, high = comp.lo.copy(), comp.hi.copy()
        if copy.known is not None:
            low[copy.known] = truth[comp.cells[copy.known]]
            high[copy.known] = low[copy.known]
        lo.append(low)
        hi.append(high)
        c = np.zeros(k)
        c[copy.victim] = copy.sense
        cost.append(c)
        where.append(offset + copy.victim)
        offset += k
    a_eq = sp.block_diag(eqs, format="csr")
    a_ub = sp.block_diag(ubs, format="csr")
    result = linprog(
        np.concatenate(cost),
        A_ub=a_ub if a_ub.shape[0] else None,
        b_ub=np.concatenate(b_ub) if a_ub.shape[0] else None,
        A_eq=a_eq if a_eq.shape[0] else None,
        b_eq=np.concatenate(b_eq) if a_eq.shape[0] else None,
        bounds=np.column_stack([np.concatenate(lo), np.concatenate(hi)]),
        method="highs",
    )
    if result.status != 0:
        # The true counts satisfy every constraint, so this is a bug or inconsistent input.
        raise RuntimeError(f"audit LP failed: {result.message}")
    values[batch] = result.x[np.array(where)]


def _intervals(
    frame: pd.DataFrame, parts: list[pd.DataFrame], protection_width: int, big: float
) -> pd.DataFrame:
    empty = _rows(np.zeros(0, np.int64), [], np.zeros(0), np.zeros(0))
    rows = pd.concat(parts, ignore_index=True) if parts else empty
    cell = rows["cell"].to_numpy(np.int64)
    lo = rows["lower"].to_numpy(np.float64)
    hi = rows["upper"].to_numpy(np.float64)
    hi = np.where(hi >= big * (1 - 1e-9), np.inf, hi)
    n_values = _n_values(lo, hi)
    out = frame.loc[cell, KEY].reset_index(drop=True)
    out["attacker"] = rows["attacker"].astype(str).to_numpy()
    out["lower"] = lo
    out["upper"] = hi
    out["n_values"] = n_values
    out["ok"] = n_values >= protection_width
    order = np.lexsort((out["attacker"].to_numpy(), cell))
    return out.iloc[order].reset_index(drop=True)
