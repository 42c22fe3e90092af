"""LP-guided complements for small units (a private helper of :mod:`privacy.suppression`).

The deletion refinement (:func:`privacy._complements.deletion`) publishes cells back largest
count first. That keeps many small complements where the optimum keeps a few larger ones
(regional cells that let many primary cells borrow room from each other). This module gives
deletion a better start and a better order, from the linear relaxation of the flow model of
cell suppression (Fischetti & Salazar, 2001; τ-ARGUS solves its integer form exactly):

* for each primary cell ``v`` and each attacker ``k`` that knows some cell of the unit (an
  attacker's knowledge less ``v``'s own area and the areas under it, as the audit has it; an
  attacker whose knowledge is contained in another's, the outsider included, is implied and
  dropped), two *flows* ``d``: changes of the counts that keep every equality and bound of the
  table true, are 0 on every cell ``k`` knows and keep each cell at or above ``floor`` (what
  ``c`` says). One raises ``v`` by ``up``, the other lowers it by ``down``, with
  ``up + down = width - 1`` (``down`` is half of that, or the victim's room above ``floor`` if
  less);
* a flow may move a cell only as far as it is suppressed: ``|d_i| <= amount * s_i`` with
  ``s_i`` in ``[0, 1]`` (1 for primary cells);
* minimise ``sum w_i s_i``, ``w_i = 1 + count_i / (1 + total)``: fewest cells, then the
  smallest counts (the issue's information loss).

If ``s`` is 0/1, the cells with ``s = 1`` protect every primary cell against every attacker:
each flow is a table the attacker cannot tell from the truth, so its interval holds
``v - down`` and ``v + up``, ``width`` integers. The relaxation lets flows share fractions of
cells; :func:`guide` rounds it by *diving*: cells at ``s >= 1/2`` (else the largest) are fixed
to 1 and the LP solved again, until ``s`` is integral. A slack per flow (at a large cost) keeps
the LP feasible when no flow exists for some attacker (the audit loop handles those cells).

The result is advice, never a proof: the support is where deletion starts, and the first
relaxation's ``s`` the order it publishes cells back in (least needed first). Deletion keeps
a cell published only if the exact audit still passes, and :func:`privacy.suppression.protect`
keeps whichever of the two deletions (by count, by this order) has fewer complements.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .audit import _dominated
from .cells import Attacker, Relations

__all__ = ["MAX_VARIABLES", "guide"]

MAX_VARIABLES = 400_000
"""Units whose relaxation would have more variables than this (two per cell per flow) are
not guided: they keep the deletion by count. The quality benchmark's largest table needs
about 150,000 (one LP solve takes a second or two there)."""

MAX_DIVES = 12
"""LP solves per unit at most (the benchmark tables need 1 to 6; each solve of the largest takes
one to three seconds); a dive that has not turned integral by then stops, and its support
(every cell some flow uses) is still a start deletion can work from."""

SLACK_COST = 1_000.0
"""Cost per unit of a flow's shortfall: far above any pattern's cost, so a flow falls short
only where no pattern at all gives it room."""

_EPS = 1e-6


def guide(
    count: np.ndarray,
    area: np.ndarray,
    below: dict[str, Sequence[str]],
    relations: Relations,
    cells: np.ndarray,
    first: np.ndarray,
    eligible: np.ndarray,
    attackers: Sequence[Attacker],
    protection_width: int,
    floor: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(support, priority)`` for the unit of frame positions ``cells``, or None when the
    unit is too large (:data:`MAX_VARIABLES`), has no primary cell or the LP fails.

    ``support``: the cells (frame positions) of the dived pattern, primary cells included;
    ``priority``: per frame position, the first relaxation's ``s`` (lower is published back
    first). ``below``: each area with the areas summing into it (itself included).
    """
    n = len(cells)
    a = count[cells].astype(np.float64)
    primary = first[cells]
    movable = (eligible[cells] | primary).copy()
    victims = np.flatnonzero(primary)
    if not len(victims):
        return None
    eq = sp.csr_array(relations.eq[:, cells])
    eq = sp.csr_array(eq[np.flatnonzero(np.diff(eq.indptr)), :])
    ub = sp.csr_array(relations.ub[:, cells])
    ub = sp.csr_array(ub[np.flatnonzero(np.diff(ub.indptr)), :])
    where = area[cells]
    need = protection_width - 1
    room = np.maximum(a[victims] - floor, 0)
    down = np.minimum(room, need // 2)
    flows = _flows(victims, down, need - down, where, below, movable, attackers)
    if not flows or 2 * n * len(flows) > MAX_VARIABLES:
        return None
    lp = _LP(a, eq, ub, movable, flows, floor)
    weight = 1.0 + a / (1.0 + a[movable].sum())
    fixed = primary.copy()
    s = lp.solve(weight, fixed, eligible[cells] | primary)
    if s is None:
        return None
    priority = np.zeros(len(count))
    priority[cells] = s
    for _ in range(MAX_DIVES):
        fractional = (s > _EPS) & (s < 1 - _EPS) & ~fixed
        fixed |= s >= 1 - _EPS
        if not fractional.any():
            break
        half = fractional & (s >= 0.5)
        if half.any():
            fixed |= half
        else:
            fixed[np.flatnonzero(fractional)[np.argmax(s[fractional])]] = True
        nxt = lp.solve(weight, fixed, eligible[cells] | primary)
        if nxt is None:
            break
        s = nxt
    support = np.zeros(len(count), bool)
    support[cells] = (s > _EPS) | primary
    return support, priority


def _flows(
    victims: np.ndarray,
    down: np.ndarray,
    up: np.ndarray,
    where: np.ndarray,
    below: dict[str, Sequence[str]],
    movable: np.ndarray,
    attackers: Sequence[Attacker],
) -> list[tuple[int, float, np.ndarray]]:
    """The flows to route: (victim, signed amount, cells the attacker knows) per victim,
    direction and maximal knowledge (the outsider only when no attacker knows a cell)."""
    n = len(where)
    # Each attacker's cells once (the outsider's: none), then per victim less its own areas.
    known_by = np.zeros((len(attackers) + 1, n), bool)
    for k, attacker in enumerate(attackers):
        known_by[k + 1] = np.isin(where, list(attacker.areas)) & movable
    flows = []
    for v, d, u in zip(victims, down, up, strict=True):
        mine = np.isin(where, list(below.get(where[v], (where[v],))))
        masks = known_by & ~mine
        masks = masks[~_dominated(masks)]  # the knowledge no other attacker's implies
        for amount in (float(u), -float(d)):
            if amount:
                flows += [(int(v), amount, known) for known in masks]
    return flows


class _LP:
    """The relaxation's constraint matrices, built once; each dive changes bounds only.

    Variables: per flow ``d+`` and ``d-`` (``n`` each), then ``s`` (``n``), then one slack per
    flow."""

    def __init__(
        self,
        a: np.ndarray,
        eq: sp.csr_array,
        ub: sp.csr_array,
        movable: np.ndarray,
        flows: list[tuple[int, float, np.ndarray]],
        floor: int,
    ) -> None:
        n, m = len(a), len(flows)
        self.n, self.m = n, m
        nd = 2 * n * m
        self.nd = nd
        n_var = nd + n + m
        eye = sp.identity(n, format="csr")

        def widen(block: sp.csr_array) -> sp.csr_array:
            """``block`` (over the first columns) padded with zero columns to every variable."""
            rest = sp.csr_array((block.shape[0], n_var - block.shape[1]))
            return sp.csr_array(sp.hstack([block, rest]))

        both = sp.csr_array(sp.hstack([eq, -eq]))
        rows_eq = [widen(sp.csr_array(sp.block_diag([both] * m, format="csr")))]
        # The victim moves by the flow's amount, less its slack.
        r, c, val = [], [], []
        b_eq = [np.zeros(rows_eq[0].shape[0])]
        target = np.zeros(m)
        for f, (v, amount, _known) in enumerate(flows):
            sign = 1.0 if amount > 0 else -1.0
            r += [f, f, f]
            c += [2 * n * f + v, 2 * n * f + n + v, nd + n + f]
            val += [1.0, -1.0, sign]
            target[f] = amount
        rows_eq.append(sp.csr_array((val, (r, c)), shape=(m, n_var)))
        b_eq.append(target)
        self.A_eq = sp.csr_array(sp.vstack(rows_eq))
        self.b_eq = np.concatenate(b_eq)
        rows_ub, b_ub = [], []
        if ub.shape[0]:
            both_ub = sp.csr_array(sp.hstack([ub, -ub]))
            rows_ub.append(widen(sp.csr_array(sp.block_diag([both_ub] * m, format="csr"))))
            b_ub.append(np.tile(-(ub @ a), m))
        # |d_i| <= amount * s_i for every flow.
        coupling = sp.block_diag([sp.hstack([eye, eye])] * m, format="csr")
        scale = sp.vstack([-abs(amount) * eye for _, amount, _ in flows], format="csr")
        rows_ub.append(sp.csr_array(sp.hstack([coupling, scale, sp.csr_array((n * m, m))])))
        b_ub.append(np.zeros(n * m))
        self.A_ub = sp.csr_array(sp.vstack(rows_ub))
        self.b_ub = np.concatenate(b_ub)
        lower, upper = [], []
        for v, amount, known in flows:
            free = movable & ~known
            free[v] = True
            reach = abs(amount)
            rise = np.where(free, reach, 0.0)
            fall = np.where(free, np.minimum(np.maximum(a - floor, 0.0), reach), 0.0)
            lower.append(np.zeros(2 * n))
            upper.append(np.concatenate([rise, fall]))
        self.d_lower = np.concatenate(lower)
        self.d_upper = np.concatenate(upper)
        self.slack_upper = np.array([abs(amount) for _, amount, _ in flows])

    def solve(
        self, weight: np.ndarray, fixed: np.ndarray, allowed: np.ndarray
    ) -> np.ndarray | None:
        """``s`` of the relaxation with ``fixed`` cells at 1 and cells not ``allowed`` at 0."""
        n, m = self.n, self.m
        lower = np.concatenate([self.d_lower, fixed.astype(float), np.zeros(m)])
        upper = np.concatenate([self.d_upper, allowed.astype(float), self.slack_upper])
        cost = np.concatenate(
            [np.full(self.nd, _EPS), np.where(fixed, 0.0, weight), np.full(m, SLACK_COST)]
        )
        result = linprog(
            cost,
            A_ub=self.A_ub,
            b_ub=self.b_ub,
            A_eq=self.A_eq,
            b_eq=self.b_eq,
            bounds=np.stack([lower, upper], axis=1),
            method="highs",
        )
        if result.status != 0:
            return None
        return np.asarray(result.x[self.nd : self.nd + n])
