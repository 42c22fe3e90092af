"""Small-number suppression: primary suppression, rounding, complementary (secondary)
suppression, and the audit loop that makes the result provably protected.

:func:`protect` is the whole pipeline. It returns the *protected frame*: the cell frame plus
``published`` (Int64, <NA> when suppressed), ``symbol`` ("" or "c"), ``status`` ("exact",
"rounded", "primary", "secondary", "public") and ``known_lower``/``known_upper`` (what a reader
learns about the cell from its own published form).

Complementary suppression works in three passes:

1. A fast vectorised rule over the relations: a relation whose only non-constant cell is a
   suppressed one gives that cell away, so one more cell of the relation is suppressed. Then
   cycles (:mod:`privacy._moves`): for each primary cell some attacker could still narrow,
   the cheapest move that attacker does not know is suppressed, until moves prove every cell
   protected or none helps.
2. The auditor (:func:`privacy.audit.audit`) then finds every primary cell some attacker can
   still narrow below the protection width; for each, one more cell is suppressed in the
   relation that pins it hardest, among the cells that attacker does not know. Repeat until
   the audit passes. Only the components touched by new suppressions are audited again.

3. Refinement (:mod:`privacy._complements`, frames of at most ``REFINE_MAX_CELLS`` cells):
   a small table is rebuilt by deletion (everything eligible suppressed, then cells published
   back while the audit still passes) twice: largest count first, and from the support and in
   the order of the LP relaxation of the flow model (:mod:`privacy._relaxation`); the one with
   fewer complements (then smaller counts) is kept. Larger components are cleaned up
   (secondary cells given back one at a time, largest first, where the audit still passes).
   The changed components are audited again and the repair's pattern stands unless they pass.

Complements are chosen to lose the least information: one cell per exposed relation, the
smallest count that can absorb the protection range (a complement of 1 next to a ``c`` of 1
moves neither), never a public cell, never a true zero when zeros are shown (``c`` would then
wrongly say ">= 1"), and cells already suppressed are used first. Ties go to the cell that
sorts first by key, so the same input always gives the same output.

The loop always ends: every round suppresses at least one more cell, or widens its search to
further relations of the component, and when nothing eligible is left
:class:`privacy.audit.DisclosureRisk` is raised (a public or attacker-known total can make a
cell unprotectable).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._complements import (
    DELETION_MAX_CELLS,
    REFINE_MAX_CELLS,
    affected,
    cleanup,
    deletion,
    units,
)
from ._moves import MOVE_CERTIFIED, Grid
from ._relaxation import guide
from ._screen import screen
from .audit import AuditReport, DisclosureRisk, _audit, _big_bound, _intervals, _rows
from .cells import KEY, Attacker, Relations, Structure, build_relations, descendants, validate_cells
from .policy import SUPPRESSED_SYMBOL, SuppressionPolicy

__all__ = [
    "PROTECTED_COLUMNS",
    "apply_pattern",
    "known_intervals",
    "primary",
    "protect",
    "protect_with_report",
    "round_counts",
    "rounding_interval",
    "secondary",
]

PROTECTED_COLUMNS = ["published", "symbol", "status", "known_lower", "known_upper"]
"""The columns :func:`protect` adds to a cell frame."""

MAX_ROUNDS = 10_000
"""A safety net only: each round adds a suppression or widens the search, so the loop ends
long before this on any real table."""


# --- primary suppression and rounding --------------------------------------------------------


def primary(cells: pd.DataFrame, policy: SuppressionPolicy) -> pd.Series:
    """True where the policy hides a count by itself (public cells never are)."""
    count = cells["count"].to_numpy(np.int64)
    low = 0 if policy.suppress_zeros else 1
    hidden = (count >= low) & (count <= policy.threshold) & ~cells["public"].to_numpy(bool)
    return pd.Series(hidden, index=cells.index, name="primary")


def round_counts(counts: np.ndarray, base: int, rounding: str = "nearest") -> np.ndarray:
    """Counts rounded to ``base``: ``"nearest"`` (half up) or OpenSAFELY ``"midpoint"``."""
    counts = np.asarray(counts, dtype=np.int64)
    if base <= 1:
        return counts
    if rounding == "nearest":
        return (counts + base // 2) // base * base
    if rounding == "midpoint":
        up = -(-counts // base) * base  # ceil to a multiple of base
        return np.where(counts == 0, 0, up - base // 2)
    raise ValueError(f"unknown rounding {rounding!r}")


def rounding_interval(
    published: np.ndarray, base: int, rounding: str = "nearest"
) -> tuple[np.ndarray, np.ndarray]:
    """The integers ``[lo, hi]`` a rounded value can stand for (before other knowledge)."""
    published = np.asarray(published, dtype=np.int64)
    if base <= 1:
        return published, published
    if rounding == "nearest":
        return published - base // 2, published + (base - 1 - base // 2)
    if rounding == "midpoint":
        lo = published + base // 2 - base + 1
        hi = published + base // 2
        return np.where(published == 0, 0, lo), np.where(published == 0, 0, hi)
    raise ValueError(f"unknown rounding {rounding!r}")


def known_intervals(
    published: np.ndarray, base: np.ndarray, policy: SuppressionPolicy
) -> tuple[np.ndarray, np.ndarray]:
    """What a reader knows of a published (not suppressed) count, as an integer interval.

    Exact cells (``base`` 0) are known exactly. A rounded value stands for its rounding
    interval, intersected with what "not suppressed" says (the count is >= 0 and not in the
    primary band; when zeros are shown and the interval still holds 0, it is the hull of {0}
    and the values above the band).
    """
    published = np.asarray(published, dtype=np.int64)
    lo = published.astype(np.float64)
    hi = published.astype(np.float64)
    for b in np.unique(base[base > 1]):
        at = base == b
        r_lo, r_hi = rounding_interval(published[at], int(b), policy.rounding)
        lo[at], hi[at] = r_lo, r_hi
    rounded = base > 1
    lo = np.where(rounded, np.maximum(lo, 0), lo)
    band_top = policy.threshold
    if policy.suppress_zeros:
        lo = np.where(rounded, np.maximum(lo, band_top + 1), lo)
    else:
        in_band = rounded & (lo >= 1) & (lo <= band_top)
        lo = np.where(in_band, band_top + 1, lo)
        only_zero = rounded & (lo <= 0) & (hi <= band_top)
        hi = np.where(only_zero, 0, hi)
    return lo, hi


def apply_pattern(
    cells: pd.DataFrame,
    policy: SuppressionPolicy,
    suppressed: np.ndarray | pd.Series,
    primary_cells: np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """The protected frame for a given suppression pattern: suppressed cells become ``c``,
    the others are published exactly or rounded by ``policy``, with what a reader learns of
    each (``known_lower``/``known_upper``). ``primary_cells`` (default: the policy's primary
    cells among ``suppressed``) get status "primary", the other suppressed ones "secondary".

    No complementary suppression and no audit: :func:`protect` does those. Useful to audit a
    pattern chosen elsewhere (tests, benchmarks, a naive pattern to compare).
    """
    hidden = np.asarray(suppressed, dtype=bool)
    if primary_cells is None:
        first = primary(cells, policy).to_numpy() & hidden
    else:
        first = np.asarray(primary_cells, dtype=bool)
    count = cells["count"].to_numpy(np.int64)
    public = cells["public"].to_numpy(bool)
    base = cells["geographic_level"].map(dict(policy.round_levels)).fillna(0)
    base = base.to_numpy(np.int64)
    base = np.where(hidden | public, 0, base)
    shown = count.copy()
    for b in np.unique(base[base > 1]):
        at = base == b
        shown[at] = round_counts(count[at], int(b), policy.rounding)
    lo, hi = known_intervals(shown, base, policy)
    lo = np.where(hidden, policy.known_lower_suppressed, lo)
    hi = np.where(hidden, np.inf, hi)
    status = np.where(base > 1, "rounded", "exact").astype(object)
    status[public] = "public"
    status[hidden] = "secondary"
    status[hidden & first] = "primary"
    out = cells.copy()
    out["published"] = pd.array(np.where(hidden, 0, shown), dtype="Int64")
    out.loc[hidden, "published"] = pd.NA
    out["symbol"] = np.where(hidden, SUPPRESSED_SYMBOL, "")
    out["status"] = status.astype(str)
    out["known_lower"] = lo.astype(np.float64)
    out["known_upper"] = hi.astype(np.float64)
    return out


def _known_fn(frame: pd.DataFrame, policy: SuppressionPolicy):  # type: ignore[no-untyped-def]
    """``hidden -> (known_lower, known_upper)``: what readers know of each cell under a
    pattern, as :func:`apply_pattern` computes it, without building a frame."""
    count = frame["count"].to_numpy(np.int64)
    public = frame["public"].to_numpy(bool)
    level_base = frame["geographic_level"].map(dict(policy.round_levels)).fillna(0)
    level_base = level_base.to_numpy(np.int64)
    shown = count.copy()
    for b in np.unique(level_base[level_base > 1]):
        at = level_base == b
        shown[at] = round_counts(count[at], int(b), policy.rounding)

    def known(hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        base = np.where(hidden | public, 0, level_base)
        lo, hi = known_intervals(np.where(base > 1, shown, count), base, policy)
        lo = np.where(hidden, policy.known_lower_suppressed, lo)
        hi = np.where(hidden, np.inf, hi)
        return lo.astype(np.float64), hi.astype(np.float64)

    return known


# --- choosing complements ---------------------------------------------------------------------


def _key_rank(cells: pd.DataFrame) -> np.ndarray:
    """Each cell's position in key order: the deterministic tie-break."""
    order = np.lexsort([cells[c].to_numpy() for c in reversed(KEY)])
    rank = np.empty(len(cells), dtype=np.int64)
    rank[order] = np.arange(len(cells))
    return rank


def _eligible(cells: pd.DataFrame, policy: SuppressionPolicy) -> np.ndarray:
    """Cells that may ever be a complement: not public, not a shown true zero."""
    count = cells["count"].to_numpy(np.int64)
    ok = ~cells["public"].to_numpy(bool)
    if not policy.suppress_zeros:
        ok &= count != 0
    return ok


def _preference(count: np.ndarray, rank: np.ndarray, need: int, floor: int) -> np.ndarray:
    """Each cell's place in the order of preference among complements (lower is better).

    A complement that can move by ``need`` (count - floor >= need) comes first, smallest count
    first; then the others, most room first. Ties by key order.
    """
    room = count - floor
    short = room < need
    order = np.lexsort((rank, np.where(short, -room, count), short))
    place = np.empty(len(count), dtype=np.int64)
    place[order] = np.arange(len(count))
    return place


def _pick_per_row(
    rows: np.ndarray, cols: np.ndarray, cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each distinct row among (rows, cols) candidate pairs, the col of least cost."""
    if not len(rows):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((cost[cols], rows))
    rows, cols = rows[order], cols[order]
    first = np.ones(len(rows), bool)
    first[1:] = rows[1:] != rows[:-1]
    return rows[first], cols[first]


def _singleton_pass(
    member: sp.csr_array,
    hidden: np.ndarray,
    loose: np.ndarray,
    eligible: np.ndarray,
    cost: np.ndarray,
) -> np.ndarray:
    """Suppress one more cell in every equality whose only non-constant cell is suppressed.

    ``member``: 0/1 equality rows; ``loose``: cells that are not constants even when published
    (rounded). Repeats until no relation gives a suppressed cell away or none can be helped
    (the audit deals with those).
    """
    hidden = hidden.copy()
    tried = np.zeros(member.shape[0], bool)
    while True:
        n_free = member @ (hidden | loose).astype(np.int64)
        n_hidden = member @ hidden.astype(np.int64)
        exposed = (n_free == 1) & (n_hidden == 1) & ~tried
        if not exposed.any():
            return hidden
        at = np.flatnonzero(exposed)
        sub = sp.coo_array(member[at])
        rows, cols = at[sub.row], sub.col
        keep = eligible[cols] & ~hidden[cols]
        _, picks = _pick_per_row(rows[keep], cols[keep], cost)
        tried |= exposed
        if not len(picks):
            return hidden
        hidden[picks] = True


class _Neighbours:
    """Row/column access to the relations for the repair step."""

    def __init__(self, relations: Relations) -> None:
        self.eq = relations.eq
        self.eq_cols = sp.csc_array(relations.eq)
        both = sp.vstack([abs(relations.eq), abs(relations.ub)], format="csr")
        self.rows = sp.csr_array(both)
        self.cols = sp.csc_array(both)

    def eq_rows_of(self, cell: int) -> np.ndarray:
        return self.eq_cols.indices[self.eq_cols.indptr[cell] : self.eq_cols.indptr[cell + 1]]

    def eq_members(self, row: int) -> np.ndarray:
        return self.eq.indices[self.eq.indptr[row] : self.eq.indptr[row + 1]]

    def ring(self, cells: np.ndarray) -> np.ndarray:
        """The cells sharing any relation with ``cells`` (and ``cells``)."""
        rows = np.unique(sp.csc_array(self.cols[:, cells]).indices)
        if not len(rows):
            return cells
        return np.union1d(cells, sp.csr_array(self.rows[rows]).indices)


def _complement_for(
    cell: int,
    known: set[str],
    areas: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray],
    hidden: np.ndarray,
    eligible: np.ndarray,
    cost: np.ndarray,
    near: _Neighbours,
) -> int | None:
    """One more cell to suppress so an attacker knowing ``known`` areas cannot narrow
    ``cell``: first in the relation that alone pins it hardest, else in ever wider rings of
    relations around it. None when nothing eligible is left anywhere it could help."""
    truth, lo, hi = bounds

    def usable(members: np.ndarray) -> np.ndarray:
        ok = eligible[members] & ~hidden[members]
        if known:
            ok &= np.array([areas[m] not in known for m in members], dtype=bool)
        return members[ok]

    widths = []
    rows = near.eq_rows_of(cell)
    for r in rows:
        members = near.eq_members(r)
        others = members[members != cell]
        is_known = np.array([areas[m] in known for m in others], dtype=bool)
        o_lo = np.where(is_known, truth[others], lo[others])
        o_hi = np.where(is_known, truth[others], hi[others])
        widths.append(float(np.sum(o_hi - o_lo)))
    for r in rows[np.argsort(widths, kind="stable")]:
        candidates = usable(near.eq_members(r))
        if len(candidates):
            return int(candidates[np.argmin(cost[candidates])])
    ring = np.array([cell])
    while True:
        wider = near.ring(ring)
        candidates = usable(wider)
        if len(candidates):
            return int(candidates[np.argmin(cost[candidates])])
        if len(wider) == len(ring):
            return None
        ring = wider


def _repair(
    frame: pd.DataFrame,
    cells_failed: np.ndarray,
    failed_by: Sequence[str],
    hidden: np.ndarray,
    eligible: np.ndarray,
    cost: np.ndarray,
    attackers: Sequence[Attacker],
    below: dict[str, set[str]],
    near: _Neighbours,
) -> np.ndarray | None:
    """New suppressions for ``cells_failed`` (each narrowed by the attacker named in
    ``failed_by``); None if some cell cannot be helped by any further suppression."""
    by_name = {a.name: a for a in attackers}
    areas = frame["area_code"].to_numpy()
    bounds = (
        frame["count"].to_numpy(np.float64),
        frame["known_lower"].to_numpy(np.float64),
        frame["known_upper"].to_numpy(np.float64),
    )
    picks: set[int] = set()
    for cell, name in zip(cells_failed, failed_by, strict=True):
        attacker = by_name.get(name)
        own = below.get(areas[cell], {areas[cell]})
        known = set(attacker.areas - own) if attacker is not None else set()
        pick = _complement_for(int(cell), known, areas, bounds, hidden, eligible, cost, near)
        if pick is None:
            return None
        picks.add(pick)
    return np.array(sorted(picks), dtype=np.int64)


def secondary(
    cells: pd.DataFrame,
    structure: Structure,
    policy: SuppressionPolicy,
    hidden: pd.Series | np.ndarray,
    *,
    attackers: Sequence[Attacker] = (),
    relations: Relations | None = None,
) -> pd.Series:
    """The full suppression pattern (``hidden`` plus complements) that protects ``hidden``'s
    cells against the outsider and ``attackers``; see the module docstring."""
    frame = validate_cells(cells)
    first = np.asarray(hidden, bool)
    _, pattern, _ = _protect(frame, structure, policy, first, attackers, relations)
    return pd.Series(pattern, index=cells.index, name="suppressed")


def _protect(
    frame: pd.DataFrame,
    structure: Structure,
    policy: SuppressionPolicy,
    first: np.ndarray,
    attackers: Sequence[Attacker],
    relations: Relations | None,
    refine: bool = True,
) -> tuple[pd.DataFrame, np.ndarray, AuditReport]:
    """The suppression loop on a validated 0..n-1 frame (``first``: primary cells)."""
    if relations is None:
        relations = build_relations(frame, structure)
    count = frame["count"].to_numpy(np.int64)
    public = frame["public"].to_numpy(bool)
    first = first & ~public
    eligible = _eligible(frame, policy)
    rank = _key_rank(frame)
    need = policy.protection_width - 1
    cost = _preference(count, rank, need, policy.known_lower_suppressed)
    loose = frame["geographic_level"].isin(list(policy.round_levels)).to_numpy() & ~public
    member = sp.csr_array(abs(relations.eq).astype(bool).astype(np.int8))
    hidden = _singleton_pass(member, first, loose, eligible, cost)
    # Cycles first (privacy._moves): a vectorised hypercube-style pass that suppresses, for
    # each primary cell, moves no attacker knows, until closed-form certificates prove it
    # protected; the audit loop below only has the cells it could not settle.
    grid = Grid(frame, relations, structure.additive_topics)
    hidden, proved = grid.construct(
        hidden,
        eligible,
        _known_fn(frame, policy),
        np.flatnonzero(first),
        attackers,
        policy.protection_width,
        policy.known_lower_suppressed,
        rank,
    )
    hidden[:] = _singleton_pass(member, hidden, loose, eligible, cost)
    below = {area: set(under) for area, under in descendants(frame).items()}
    near = _Neighbours(relations)
    positions = frame.reset_index().set_index(KEY)["index"]
    repair_args = (hidden, eligible, cost, attackers, below, near)

    def fix(protected: pd.DataFrame, cells: np.ndarray, names: Sequence[str]) -> np.ndarray:
        picks = _repair(protected, cells, names, *repair_args)
        if picks is None or not len(picks):
            return np.zeros(0, np.int64)
        return picks

    def proven(protected: pd.DataFrame) -> tuple[np.ndarray, Sequence[str]]:
        """Cells some attacker provably narrows through one relation (privacy._screen)."""
        return screen(protected, relations, attackers, policy.protection_width, first)

    # The screens first: complements they prove necessary cost no component LP.
    for _ in range(MAX_ROUNDS):
        protected = apply_pattern(frame, policy, hidden, first)
        cells, names = proven(protected)
        if not len(cells):
            break
        picks = fix(protected, cells, names)
        if not len(picks):
            break  # the audit reports the cells nothing can help
        hidden[picks] = True
        hidden[:] = _singleton_pass(member, hidden, loose, eligible, cost)
    # Suppressing one more cell only widens every attacker's feasible set, so a cell that
    # passed stays passed: each round audits just the cells that failed the round before.
    # The cells the cycles proved need no audit round: their proofs start the report.
    cells, lo, hi = proved
    previous: AuditReport | None = AuditReport(
        intervals=_intervals(
            frame,
            [_rows(cells, [MOVE_CERTIFIED] * len(cells), lo, hi)],
            policy.protection_width,
            _big_bound(frame["count"].to_numpy(np.float64)),
        ),
        protection_width=policy.protection_width,
        stats={"certified_by_moves": len(cells)},
    )
    failing: np.ndarray | None = first.copy()
    failing[cells] = False
    report: AuditReport | None = None
    for _ in range(MAX_ROUNDS):
        protected = apply_pattern(frame, policy, hidden, first)
        report = _audit(
            protected,
            relations,
            protection_width=policy.protection_width,
            attackers=attackers,
            victims=failing,
            fail_fast=True,
            additive_topics=structure.additive_topics,
            grid=grid,
        )
        if previous is not None:
            report = _merge_reports(previous, report)
        if report.ok:
            break
        failed = report.failures()
        cells = positions.loc[pd.MultiIndex.from_frame(failed[KEY])].to_numpy()
        picks = fix(protected, cells, list(failed["attacker"]))
        if not len(picks):
            raise DisclosureRisk(report)
        hidden[picks] = True
        hidden[:] = _singleton_pass(member, hidden, loose, eligible, cost)
        # Complements the screen proves needed before the next round's LPs.
        for _ in range(MAX_ROUNDS):
            protected = apply_pattern(frame, policy, hidden, first)
            more, names = proven(protected)
            picks = fix(protected, more, names) if len(more) else np.zeros(0, np.int64)
            if not len(picks):
                break
            hidden[picks] = True
            hidden[:] = _singleton_pass(member, hidden, loose, eligible, cost)
        failing = np.zeros(len(frame), bool)
        failing[cells] = True
        previous = report
    else:  # pragma: no cover - see MAX_ROUNDS
        raise DisclosureRisk(report)  # type: ignore[arg-type]
    assert report is not None
    if not refine:
        return protected, hidden, report
    better = _fewer_complements(
        frame, policy, relations, attackers, hidden, first, eligible, loose, rank, positions
    )
    changed = better != hidden
    if changed.any():
        # Only the primary cells whose LPs the change touches are audited again; the final
        # pattern must pass that audit like any other, else the repair's pattern stands.
        victims = first & affected(relations, hidden | better, loose, changed)
        candidate = apply_pattern(frame, policy, better, first)
        fresh = _audit(
            candidate,
            relations,
            protection_width=policy.protection_width,
            attackers=attackers,
            victims=victims,
            fail_fast=True,
        )
        if fresh.ok:
            hidden, protected = better, candidate
            report = _merge_reports(report, fresh)
    # A cell passes a fail-fast round only after every attacker's LP passed, and later
    # suppressions only widen its intervals: the merged report passes exactly when a fresh
    # audit of the final pattern would (its rows for early passes show the narrower intervals
    # of the pattern they were audited on).
    return protected, hidden, report


def _fewer_complements(
    frame: pd.DataFrame,
    policy: SuppressionPolicy,
    relations: Relations,
    attackers: Sequence[Attacker],
    hidden: np.ndarray,
    first: np.ndarray,
    eligible: np.ndarray,
    loose: np.ndarray,
    rank: np.ndarray,
    positions: pd.Series,
) -> np.ndarray:
    """A pattern with fewer, smaller complements than the repair loop's (which passes the
    audit): small units rebuilt by deletion, the others cleaned up (privacy._complements)."""
    if len(frame) > REFINE_MAX_CELLS:
        return hidden
    count = frame["count"].to_numpy(np.int64)

    def passing(pattern: np.ndarray, victims: np.ndarray) -> np.ndarray:
        report = _audit(
            apply_pattern(frame, policy, pattern, first),
            relations,
            protection_width=policy.protection_width,
            attackers=attackers,
            victims=victims,
            fail_fast=True,
        )
        ok = np.ones(len(frame), bool)
        failed = report.failures()
        if len(failed):
            ok[positions.loc[pd.MultiIndex.from_frame(failed[KEY])].to_numpy()] = False
        return ok

    unit = units(relations)
    sizes = np.bincount(unit)
    with_primary = np.zeros(len(sizes), bool)
    with_primary[unit[first]] = True
    rebuild = (sizes[unit] <= DELETION_MAX_CELLS) & with_primary[unit]
    label = np.where(rebuild, unit, -1)
    pattern = deletion(hidden, first, eligible, -count, rank, label, passing)
    # The same deletion started from the LP relaxation's pattern, in its order; each unit
    # keeps whichever has fewer complements (then the smaller total count).
    guided = _guided(frame, policy, relations, attackers, first, eligible, label)
    if guided is not None:
        support, priority, led = guided
        other = deletion(hidden, first, support, priority, rank, led, passing)
        pattern = _better_per_unit(pattern, other, first, count, led)
    return cleanup(pattern, first, count, rank, loose, relations, rebuild, passing)


def _guided(
    frame: pd.DataFrame,
    policy: SuppressionPolicy,
    relations: Relations,
    attackers: Sequence[Attacker],
    first: np.ndarray,
    eligible: np.ndarray,
    label: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(support, priority, unit label)`` from the LP relaxation of each unit to rebuild
    (privacy._relaxation), or None when no unit could be guided (label -1 for those not)."""
    count = frame["count"].to_numpy(np.int64)
    area = frame["area_code"].to_numpy()
    below = descendants(frame)
    support = np.zeros(len(frame), bool)
    priority = np.zeros(len(frame))
    led = np.full(len(frame), -1, np.int64)
    for u in np.unique(label[label >= 0]):
        cells = np.flatnonzero(label == u)
        got = guide(
            count,
            area,
            below,
            relations,
            cells,
            first,
            eligible,
            attackers,
            policy.protection_width,
            policy.known_lower_suppressed,
        )
        if got is None:
            continue
        support |= got[0]
        priority[cells] = got[1][cells]
        led[cells] = u
    if not (led >= 0).any():
        return None
    return support, priority, led


def _better_per_unit(
    pattern: np.ndarray, other: np.ndarray, first: np.ndarray, count: np.ndarray, led: np.ndarray
) -> np.ndarray:
    """``pattern`` with each unit of ``led`` taken from ``other`` where that has fewer
    complements, or as many with a smaller total count."""
    out = pattern.copy()
    for u in np.unique(led[led >= 0]):
        at = led == u
        mine, theirs = pattern & at & ~first, other & at & ~first
        if (int(theirs.sum()), int(count[theirs].sum())) < (
            int(mine.sum()),
            int(count[mine].sum()),
        ):
            out[at] = other[at]
    return out


def _merge_reports(previous: AuditReport, fresh: AuditReport) -> AuditReport:
    """Intervals of the cells audited again replace their previous ones; the rest stand."""
    redone = fresh.intervals[KEY].drop_duplicates()
    old = previous.intervals.merge(redone, on=KEY, how="left", indicator=True)
    kept = old.loc[old["_merge"] == "left_only"].drop(columns="_merge")
    intervals = pd.concat([kept, fresh.intervals], ignore_index=True)
    intervals = intervals.sort_values([*KEY, "attacker"], kind="stable").reset_index(drop=True)
    stats = {k: previous.stats.get(k, 0) + v for k, v in fresh.stats.items()}
    return AuditReport(intervals=intervals, protection_width=fresh.protection_width, stats=stats)


def protect_with_report(
    cells: pd.DataFrame,
    structure: Structure,
    policy: SuppressionPolicy,
    *,
    attackers: Sequence[Attacker] = (),
    relations: Relations | None = None,
) -> tuple[pd.DataFrame, AuditReport]:
    """:func:`protect`, with the audit report of its last rounds (it passes), so a caller
    that must audit before publishing need not solve every LP a second time."""
    frame = validate_cells(cells)
    first = primary(frame, policy).to_numpy()
    protected, _, report = _protect(frame, structure, policy, first, attackers, relations)
    return protected, report


def protect(
    cells: pd.DataFrame,
    structure: Structure,
    policy: SuppressionPolicy,
    *,
    attackers: Sequence[Attacker] = (),
    relations: Relations | None = None,
    refine: bool = True,
) -> pd.DataFrame:
    """Primary suppression, complementary suppression and rounding by ``policy``, audited.

    Returns the protected frame (see the module docstring), which passes
    :func:`privacy.audit.audit` with the policy's protection width for the outsider and every
    attacker given. Raises :class:`privacy.audit.DisclosureRisk` if no pattern can protect
    some cell (e.g. a public total whose other parts an attacker knows).

    ``refine=False`` skips the refinement step (fewer complements on small tables, at the cost
    of many more audits): a national release, protected one indicator at a time, uses it.
    """
    frame = validate_cells(cells)
    protected, _, _ = _protect(
        frame,
        structure,
        policy,
        primary(frame, policy).to_numpy(),
        attackers,
        relations,
        refine=refine,
    )
    return protected
