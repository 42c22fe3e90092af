"""Cycle moves: closed-form certificates of protection, and the patterns built from them.

A *move* is a change of the counts that keeps every relation of the table true and every cell
inside what a reader knows of it: it is a feasible point of the audit's linear programmes. If
moves exist that lower a victim's count by ``down`` and raise it by ``up`` without touching
any cell an attacker knows, that attacker's feasible interval holds at least
``down + up + 1`` integers (the LP interval contains both points). So a victim with
``down + up + 1 >= protection_width`` for an attacker is protected against it, with no LP.

The moves are the *cycles* of the table, the cells τ-ARGUS' hypercube method suppresses
together. For a victim ``(A, b)`` (LA ``A``, category ``b`` of a topic, one measure) and
another suppressed category ``j`` of the same row:

* **up the chain**: ``(A, b) + t``, ``(A, j) - t`` and the same at every ancestor of ``A``
  (Inner/Outer London, region, England): each ancestor row still sums to its Total, each
  column to its parent. Valid against every attacker (none knows ``A``'s cells or an
  aggregate's true count), within the rounding slack of the aggregates;
* **with a partner LA** ``D`` whose ``(D, b)`` and ``(D, j)`` are suppressed: ``(D, b) - t``,
  ``(D, j) + t``, and the ancestors of ``A`` and of ``D`` below their lowest common ancestor
  move with them (the rectangle of a 2-D table when ``D`` shares ``A``'s parent). Valid
  against every attacker that does not know ``D`` (or a moved aggregate).

In a topic whose categories need not sum to the Total a category moves alone (no ``j``).
``t`` is limited by each moved cell's *room*: a suppressed count stays at or above what ``c``
says (>= 1 when zeros are shown), a rounded aggregate inside its rounding interval, and a
numerator at or below its denominator (the other measure does not move).

:class:`Grid` does the arithmetic, vectorised over numpy joins of the suppressed cells.
:meth:`Grid.certify` is the audit's first tier: sound, not complete (a victim it cannot vouch
for goes to the exact LPs). :meth:`Grid.construct` is the hypercube-style pattern builder of
:func:`privacy.suppression.protect`: for each victim some attacker could still narrow, it
suppresses the cheapest move that attacker does not know, until every victim is certified or
no move is left (the LP loop then takes over).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cells import TOTAL, Attacker, Relations, ancestors

__all__ = ["MOVE_CERTIFIED", "TOP_MOVES", "Grid"]

MOVE_CERTIFIED = "every attacker (cycle certificate)"
"""The attacker name of intervals proved by moves: each row stands for every attacker."""

TOP_MOVES = 8
"""Moves kept per victim and direction: an attacker who knows the partners of all of them is
left to the LPs (rare: the best moves use different partners)."""

CANDIDATE_CATEGORIES = 3
"""Partner categories ``j`` tried per victim when building a pattern (the cheapest ones)."""

LEAF_COST = 1_000.0
"""Cost of suppressing one more LA cell when choosing a move (values break ties)."""

AGGREGATE_COST = 50_000.0
"""Cost of suppressing a regional or national cell: only when no move without one works."""

PER_PARENT = 2
"""Partners kept per victim and parent area (region, Inner/Outer London) when certifying."""

SHORTLIST = 12
"""Moves per victim whose whole path (aggregates included) is built when choosing one."""

NATIONAL_COST = 1_000_000.0
"""Cost of suppressing an England cell: the figure readers most expect, so last of all."""

_DEPTH = 4  # ancestors kept per area (LA -> Inner London -> London -> England)


class Grid:
    """The cells of a frame as (area, column) coordinates, with ancestor chains and rows."""

    def __init__(
        self,
        frame: pd.DataFrame,
        relations: Relations,
        additive_topics: frozenset[str] | None = None,
    ) -> None:
        self.n = len(frame)
        self.truth = frame["count"].to_numpy(np.float64)
        codes, self.area = np.unique(frame["area_code"].to_numpy(dtype=str), return_inverse=True)
        self.area = self.area.astype(np.int64)
        self.codes = codes
        self.index_of = {code: i for i, code in enumerate(codes)}
        anc = np.full((len(codes), _DEPTH), -1, np.int64)
        for code, chain in ancestors(frame).items():
            ids = [self.index_of[c] for c in chain if c in self.index_of][:_DEPTH]
            anc[self.index_of[code], : len(ids)] = ids
        # Only as deep as the deepest chain (3 for a London LA), so paths carry no padding.
        self.depth = max(int((anc >= 0).sum(axis=1).max()) if len(codes) else 0, 1)
        self.anc = anc[:, : self.depth]
        has_children = np.zeros(len(codes), bool)
        parents = anc[:, 0]
        has_children[parents[parents >= 0]] = True
        self.leaf_area = ~has_children
        self.leaf = self.leaf_area[self.area]
        self.top = (anc[:, 0] < 0)[self.area]  # England: no ancestor
        topic = frame["breakdown_topic"].to_numpy(dtype=str)
        self.is_total = (topic == TOTAL) & (frame["breakdown"].to_numpy(dtype=str) == TOTAL)
        self.additive = (
            np.ones(self.n, bool)
            if additive_topics is None
            else np.isin(topic, list(additive_topics))
        )
        columns = ["indicator_id", "breakdown_topic", "breakdown", "measure"]
        self.column = frame.groupby(columns, sort=False).ngroup().to_numpy(np.int64)
        rows = ["area_code", "indicator_id", "breakdown_topic", "measure"]
        self.row = frame.groupby(rows, sort=False).ngroup().to_numpy(np.int64)
        # Each (area, indicator, measure): its Total cell and how many additive topics it has.
        bases = ["area_code", "indicator_id", "measure"]
        self.base = frame.groupby(bases, sort=False).ngroup().to_numpy(np.int64)
        n_bases = int(self.base.max()) + 1 if self.n else 0
        self.total_of = np.full(n_bases, -1, np.int64)
        self.total_of[self.base[self.is_total]] = np.flatnonzero(self.is_total)
        parts = ~self.is_total & self.additive
        topics = pd.DataFrame({"base": self.base[parts], "topic": topic[parts]}).drop_duplicates()
        self.n_topics = np.bincount(topics["base"].to_numpy(np.int64), minlength=n_bases)
        n_columns = int(self.column.max()) + 1 if self.n else 0
        self.position = np.full((len(codes), max(n_columns, 1)), -1, np.int64)
        self.position[self.area, self.column] = np.arange(self.n)
        # Room the bound rows leave (smaller <= larger, the other measure at its true count).
        self.up_bound = np.full(self.n, np.inf)
        self.down_bound = np.full(self.n, np.inf)
        self.twin = np.full(self.n, -1, np.int64)
        ub = relations.ub.tocoo()
        if ub.nnz:
            small = np.full(relations.ub.shape[0], -1, np.int64)
            large = np.full(relations.ub.shape[0], -1, np.int64)
            small[ub.row[ub.data > 0]] = ub.col[ub.data > 0]
            large[ub.row[ub.data < 0]] = ub.col[ub.data < 0]
            ok = (small >= 0) & (large >= 0)
            gap = self.truth[large[ok]] - self.truth[small[ok]]
            np.minimum.at(self.up_bound, small[ok], gap)
            np.minimum.at(self.down_bound, large[ok], gap)
            # Each cell's bound partner (an indicator has one bound pair of measures): a move
            # of both measures together keeps their bound, whatever its gap.
            self.twin[small[ok]] = large[ok]
            self.twin[large[ok]] = small[ok]

    # --- arithmetic ---------------------------------------------------------------------

    def rooms(self, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How far each cell can move up and down on its own, given what readers know."""
        up = np.minimum(upper - self.truth, self.up_bound)
        down = np.minimum(self.truth - lower, self.down_bound)
        return np.maximum(up, 0.0), np.maximum(down, 0.0)

    def paired(self, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rooms for moves of both measures of the bound pair together (numerator and
        denominator or respondents change by the same amount, so their bound holds): the
        least of a cell's and its twin's interval rooms; none without a twin."""
        up = np.maximum(upper - self.truth, 0.0)
        down = np.maximum(self.truth - lower, 0.0)
        has = self.twin >= 0
        twin = np.maximum(self.twin, 0)
        return (
            np.where(has, np.minimum(up, up[twin]), 0.0),
            np.where(has, np.minimum(down, down[twin]), 0.0),
        )

    def at(self, areas: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Cell positions of (area, column) pairs, -1 where either is absent."""
        ok = (areas >= 0) & (columns >= 0)
        out = np.full(len(areas), -1, np.int64)
        out[ok] = self.position[areas[ok], columns[ok]]
        return out

    def _together(self, v: np.ndarray, comps: np.ndarray) -> np.ndarray:
        """Which companions move with the victim: a Total or a category of another topic
        does; another category of the victim's own row moves against it."""
        safe = np.maximum(comps, 0)
        other_row = self.row[safe] != self.row[v][:, None]
        return (comps >= 0) & (self.is_total[safe] | other_row)

    def _at2(self, areas: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """:meth:`at` for one area per row and a matrix of columns."""
        wide = np.broadcast_to(areas[:, None], columns.shape)
        return self.at(wide.ravel(), columns.ravel()).reshape(columns.shape)

    def paths(
        self, v: np.ndarray, comps: np.ndarray, partner: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cells each move raises and lowers when its victim ``v`` goes up.

        ``comps`` (moves x m, -1 padded): the victim's companions in its own area: another
        category of its row (moves against it), its Total (with it), and for a move of the
        Total across topics one category of every other topic (with it). ``partner``: the
        LA whose same cells move the other way, or -1 for the chain up to the top.

        Returns ``(rise, fall, touched)``: position arrays (-1 padded; ``rise[:, 0]`` is the
        victim, -2 there when a step of the path is absent, which breaks the move), and the
        area ids each move touches besides A (an attacker knowing one of them cannot use the
        move)."""
        if not len(v):
            nothing = np.full((0, 1), -1, np.int64)
            return nothing, nothing, np.full((0, 1 + 2 * self.depth), -1, np.int64)
        a = self.area[v]
        anc_a = self.anc[a]
        with_d = partner >= 0
        anc_d = np.where(with_d[:, None], self.anc[np.maximum(partner, 0)], -2)
        shared = (anc_a[:, :, None] == anc_d[:, None, :]) & (anc_a[:, :, None] >= 0)
        below_a = ~np.logical_or.accumulate(shared.any(axis=2), axis=1) & (anc_a >= 0)
        below_d = ~np.logical_or.accumulate(shared.any(axis=1), axis=1) & (anc_d >= 0)
        ga = np.where(below_a, anc_a, -1)
        gd = np.where(below_d, anc_d, -1)
        d = np.where(with_d, partner, -1)
        k = self.depth
        own = np.concatenate([v[:, None], comps], axis=1)
        present = own >= 0
        cols = np.where(present, self.column[np.maximum(own, 0)], -1)
        with_v = np.concatenate([np.ones((len(v), 1), bool), self._together(v, comps)], axis=1)
        # Levels: A's own cells, then A's ancestors below the meeting point; D's likewise.
        a_cells = np.stack([own, *(self._at2(ga[:, i], cols) for i in range(k))], axis=1)
        d_cells = np.stack([self._at2(d, cols), *(self._at2(gd[:, i], cols) for i in range(k))], 1)
        steps_a = np.concatenate([np.ones((len(v), 1), bool), ga >= 0], axis=1)
        steps_d = np.concatenate([with_d[:, None], gd >= 0], axis=1)
        need_a = steps_a[:, :, None] & present[:, None, :]
        need_d = steps_d[:, :, None] & present[:, None, :]
        missing = (need_a & (a_cells < 0)).any(axis=(1, 2)) | (need_d & (d_cells < 0)).any(
            axis=(1, 2)
        )
        up_side = with_v[:, None, :]
        n = len(v)
        rise = np.concatenate(
            [
                np.where(up_side, a_cells, -1).reshape(n, -1),
                np.where(~up_side, d_cells, -1).reshape(n, -1),
            ],
            axis=1,
        )
        fall = np.concatenate(
            [
                np.where(~up_side, a_cells, -1).reshape(n, -1),
                np.where(up_side, d_cells, -1).reshape(n, -1),
            ],
            axis=1,
        )
        # Drop the columns no move uses (most paths are short), keeping the victim first.
        used_r = (rise >= 0).any(axis=0)
        used_r[0] = True
        used_f = (fall >= 0).any(axis=0)
        used_f[0] = True
        rise, fall = rise[:, used_r], fall[:, used_f]
        rise[missing, 0] = -2
        return rise, fall, np.concatenate([d[:, None], ga, gd], axis=1)

    @staticmethod
    def capacity(
        rise: np.ndarray, fall: np.ndarray, up: np.ndarray, down: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """How far each move can raise and lower its victim: the least room on its path."""
        # Rooms with +inf appended: position -1 (an absent step) reads it.
        up_x = np.append(up, np.inf)
        down_x = np.append(down, np.inf)
        raise_by = np.minimum(up_x[rise].min(axis=1), down_x[fall].min(axis=1))
        lower_by = np.minimum(down_x[rise].min(axis=1), up_x[fall].min(axis=1))
        broken = rise[:, 0] == -2
        raise_by[broken] = 0
        lower_by[broken] = 0
        return np.floor(raise_by + 1e-9), np.floor(lower_by + 1e-9)

    # --- candidate moves --------------------------------------------------------------------

    def _pairs(
        self, victims: np.ndarray, usable: np.ndarray, hidden: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Batches of ``(v, comps)``: each victim with its possible companions (see
        :meth:`paths`), among ``usable`` cells.

        * another category of its row (none, -1, in a topic that need not sum to its Total);
        * in the only additive topic of its area, indicator and measure: its Total;
        * otherwise its Total and one category of every other additive topic (suppressed
          ones first, then the largest), the move of a whole small LA's figures.
        """
        whole = victims[self.is_total[victims]]
        victims = victims[~self.is_total[victims]]
        # A Total with no additive topic below it moves alone; otherwise with one category
        # of every additive topic (below).
        alone = whole[self.n_topics[self.base[whole]] == 0]
        whole = whole[self.n_topics[self.base[whole]] > 0]
        cand = np.flatnonzero(usable & ~self.is_total & self.leaf)
        # Only the areas, indicators and measures of these victims matter.
        cand = cand[np.isin(self.base[cand], self.base[np.concatenate([victims, whole])])]
        by_row = pd.DataFrame({"row": self.row[cand], "j": cand})
        pairs = pd.DataFrame({"v": victims, "row": self.row[victims]}).merge(by_row, on="row")
        pairs = pairs.loc[pairs["v"] != pairs["j"]]
        v = pairs["v"].to_numpy(np.int64)
        j = pairs["j"].to_numpy(np.int64)
        loose = np.concatenate([victims[~self.additive[victims]], alone])
        additive = victims[self.additive[victims]]
        total = self.total_of[self.base[additive]]
        ok = total >= 0
        ok[ok] &= usable[total[ok]]
        additive, total = additive[ok], total[ok]
        single = self.n_topics[self.base[additive]] == 1
        v = np.concatenate([v, loose, additive[single]])
        j = np.concatenate([j, np.full(len(loose), -1), total[single]])
        batches = [(v, j[:, None])]
        many, many_total = additive[~single], total[~single]
        # A victim that is an LA's Total moves with one category of every additive topic.
        if len(many) or len(whole):
            across_v = np.concatenate([many, whole])
            first = np.concatenate([many_total, np.full(len(whole), -1)])
            batches.append((across_v, self._across(across_v, first, cand, hidden)))
        return batches

    def _across(
        self, victims: np.ndarray, totals: np.ndarray, cand: np.ndarray, hidden: np.ndarray
    ) -> np.ndarray:
        """Companions for moves of the Total across topics: the Total, then for every other
        additive topic of the victim's area, indicator and measure one usable category
        (suppressed first, then the largest count); -1 padded. A victim with some topic
        lacking a usable category gets none (its row is all -1 but the Total: broken)."""
        add = cand[self.additive[cand]]
        # Per row (area, indicator, topic, measure): its best usable category.
        order = np.lexsort((add, -self.truth[add], ~hidden[add], self.row[add]))
        add = add[order]
        first = np.r_[True, self.row[add][1:] != self.row[add][:-1]] if len(add) else []
        best_cell = add[np.asarray(first, bool)]
        best = pd.DataFrame(
            {"base": self.base[best_cell], "row": self.row[best_cell], "cell": best_cell}
        )
        per_victim = pd.DataFrame({"i": np.arange(len(victims)), "base": self.base[victims]})
        per_victim["own"] = self.row[victims]
        joined = per_victim.merge(best, on="base")
        joined = joined.loc[joined["row"] != joined["own"]]
        m = int(self.n_topics.max()) + 1 if len(self.n_topics) else 1
        comps = np.full((len(victims), m), -1, np.int64)
        comps[:, 0] = totals
        slot = joined.groupby("i").cumcount().to_numpy() + 1
        comps[joined["i"].to_numpy(), slot] = joined["cell"].to_numpy(np.int64)
        # Every other topic must have a category, else the move breaks a topic's sum.
        found = np.bincount(joined["i"].to_numpy(), minlength=len(victims))
        wanted = self.n_topics[self.base[victims]] - np.where(self.is_total[victims], 0, 1)
        lacking = found < wanted
        lacking |= ~self.is_total[victims] & (totals < 0)
        comps[lacking, 1:] = -1
        comps[lacking, 0] = -3  # a non-cell: the move is absent, not just short
        return comps

    def _moves(
        self, v: np.ndarray, comps: np.ndarray, usable: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(v, comps, partner)`` for every partner LA whose cells in the victim's and the
        companions' columns are usable, and the move up the chain (partner -1)."""
        keep = comps[:, 0] != -3
        v, comps = v[keep], comps[keep]
        # Dense over areas: each victim's column in every area (the grid's position table).
        areas = np.arange(len(self.codes))
        theirs = self.position[:, self.column[v]].T
        ok = (theirs >= 0) & usable[np.maximum(theirs, 0)] & self.leaf_area[None, :]
        ok &= areas[None, :] != self.area[v][:, None]
        for c in range(comps.shape[1]):
            comp = comps[:, c]
            col = np.where(comp >= 0, self.column[np.maximum(comp, 0)], 0)
            there = self.position[:, col].T
            fine = (there >= 0) & usable[np.maximum(there, 0)]
            ok &= (comp < 0)[:, None] | fine
        p, d = np.nonzero(ok)
        p = np.concatenate([p, np.arange(len(v))])
        d = np.concatenate([d, np.full(len(v), -1)])
        return v[p], comps[p], d

    # --- certification -----------------------------------------------------------------------

    def certify(
        self,
        hidden: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        victims: np.ndarray,
        attackers: Sequence[Attacker],
        protection_width: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
        """``(cells, lower, upper, failing)``: the victims every attacker's moves protect,
        each with the interval proved for its weakest attacker, and the (``v``, ``attacker``)
        pairs left (attacker -1: one that knows none of the victim's partners, e.g. the
        outsider), which the LPs or :meth:`construct` deal with."""
        victims = victims[hidden[victims] & self.leaf[victims]]
        none = np.zeros(0, np.int64)
        if not len(victims):
            return none, np.zeros(0), np.zeros(0), pd.DataFrame({"v": none, "attacker": none})
        up, down = self.rooms(lower, upper)
        pair_rooms = self.paired(lower, upper)
        found = []
        for v, comps in self._pairs(victims, hidden, hidden):
            mv, mc, partner = self._moves(v, comps, hidden)
            mv, mc, partner = self._diverse(mv, mc, partner, [(up, down), pair_rooms])
            rise, fall, touched = self.paths(mv, mc, partner)
            single = self.capacity(rise, fall, up, down)
            both = self.capacity(rise, fall, *pair_rooms)
            found.append(
                (mv, np.maximum(single[0], both[0]), np.maximum(single[1], both[1]), touched)
            )
        mv = np.concatenate([f[0] for f in found])
        caps = {"up": np.concatenate([f[1] for f in found])}
        caps["down"] = np.concatenate([f[2] for f in found])
        touched = np.concatenate([f[3] for f in found])
        knowers = self._knowers(attackers)

        best: dict[str, np.ndarray] = {}
        restricted: dict[str, pd.Series] = {}
        for name, cap in caps.items():
            overall, per_attacker = self._best(mv, cap, touched, knowers)
            best[name], restricted[name] = overall, per_attacker
        ok = np.zeros(self.n, bool)
        ok[victims] = best["up"][victims] + best["down"][victims] + 1 >= protection_width
        lo = self.truth - best["down"]
        hi = self.truth + best["up"]
        failing = [pd.DataFrame({"v": victims[~ok[victims]], "attacker": -1})]
        keys = restricted["up"].index.union(restricted["down"].index)
        if len(keys):
            kv = keys.get_level_values(0).to_numpy(np.int64)
            ka = keys.get_level_values(1).to_numpy(np.int64)
            up_k = restricted["up"].reindex(keys).to_numpy()
            up_k = np.where(np.isnan(up_k), best["up"][kv], up_k)
            down_k = restricted["down"].reindex(keys).to_numpy()
            down_k = np.where(np.isnan(down_k), best["down"][kv], down_k)
            fine = up_k + down_k + 1 >= protection_width
            bad = ~fine & ok[kv]
            failing.append(pd.DataFrame({"v": kv[bad], "attacker": ka[bad]}))
            ok[kv[~fine]] = False
            # Report the weakest attacker's interval (the narrowest one proved).
            width = up_k + down_k
            order = np.lexsort((width, kv))
            first = np.r_[True, kv[order][1:] != kv[order][:-1]]
            pick = order[first]
            weaker = width[pick] < (best["up"] + best["down"])[kv[pick]]
            at = kv[pick][weaker]
            lo[at] = self.truth[at] - down_k[pick][weaker]
            hi[at] = self.truth[at] + up_k[pick][weaker]
        cells = victims[ok[victims]]
        return cells, lo[cells], hi[cells], pd.concat(failing, ignore_index=True)

    def _knowers(self, attackers: Sequence[Attacker]) -> dict[int, list[int]]:
        """Area id -> the attackers (indices) that know it."""
        knowers: dict[int, list[int]] = {}
        for k, attacker in enumerate(attackers):
            for code in attacker.areas:
                if code in self.index_of:
                    knowers.setdefault(self.index_of[code], []).append(k)
        return knowers

    def _best(
        self,
        victim_of: np.ndarray,
        cap: np.ndarray,
        touched: np.ndarray,
        knowers: dict[int, list[int]],
    ) -> tuple[np.ndarray, pd.Series]:
        """Per victim, the largest capacity of its moves (for an attacker who knows none of
        their areas), and per (victim, attacker) that knows some of its top moves' areas, the
        largest capacity among its top moves that attacker does not know (0 if none)."""
        useful = cap > 0
        idx = np.flatnonzero(useful)
        idx = idx[np.lexsort((-cap[idx], victim_of[idx]))]
        vv = victim_of[idx]
        first = np.r_[True, vv[1:] != vv[:-1]] if len(vv) else np.zeros(0, bool)
        starts = np.maximum.accumulate(np.where(first, np.arange(len(vv)), 0))
        rank = np.arange(len(vv)) - starts
        top = rank < TOP_MOVES
        idx, vv, rank = idx[top], vv[top], rank[top]
        overall = np.zeros(self.n)
        overall[vv[rank == 0]] = cap[idx[rank == 0]]
        if not knowers or not len(idx):
            return overall, pd.Series(dtype=float)
        know_area = np.array(sorted(knowers), np.int64)
        lookup = np.full(len(self.codes), -1, np.int64)
        lookup[know_area] = np.arange(len(know_area))
        hit_v, hit_r, hit_a = [], [], []
        for col in range(touched.shape[1]):
            t = touched[idx, col]
            slot = np.where(t >= 0, lookup[np.maximum(t, 0)], -1)
            for s in np.flatnonzero(np.bincount(slot[slot >= 0], minlength=len(know_area))):
                rows = np.flatnonzero(slot == s)
                for k in knowers[int(know_area[s])]:
                    hit_v.append(vv[rows])
                    hit_r.append(rank[rows])
                    hit_a.append(np.full(len(rows), k))
        if not hit_v:
            return overall, pd.Series(dtype=float)
        bad = pd.DataFrame(
            {"v": np.concatenate(hit_v), "a": np.concatenate(hit_a), "r": np.concatenate(hit_r)}
        ).drop_duplicates()
        # The best move an attacker does not know: the lowest rank missing from its bad set
        # (ranks are bits of a mask; capacities fall with rank).
        bits = np.left_shift(np.int64(1), bad["r"].to_numpy(np.int64))
        mask = pd.Series(bits).groupby([bad["v"].to_numpy(), bad["a"].to_numpy()]).sum()
        m = mask.to_numpy(np.int64)
        free_bits = ~m & -(~m)  # lowest rank not known to the attacker
        r = np.log2(free_bits.astype(np.float64)).astype(np.int64)
        table = np.zeros((self.n, TOP_MOVES + 1))
        table[vv, rank] = cap[idx]
        mv = mask.index.get_level_values(0).to_numpy(np.int64)
        values = table[mv, np.minimum(r, TOP_MOVES)]
        return overall, pd.Series(values, index=mask.index)

    # --- building a pattern ---------------------------------------------------------------

    def construct(
        self,
        hidden: np.ndarray,
        eligible: np.ndarray,
        known: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        victims: np.ndarray,
        attackers: Sequence[Attacker],
        protection_width: int,
        floor: int,
        tie_break: np.ndarray,
        max_rounds: int = 50,
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Suppress moves until every victim is certified or nothing more helps.

        Returns the pattern and ``(cells, lower, upper)``: the victims proved protected on
        the way, with their intervals (proved on an earlier pattern of the rounds, so still
        inner bounds on the final one, which only suppresses more).

        ``known(hidden)`` gives the (lower, upper) readers know of each cell under a pattern;
        ``floor`` is what ``c`` says (1 when zeros are shown). Each round certifies the
        victims, then for every victim still exposed to some attacker suppresses the
        cheapest move that attacker does not know: fewest new LA cells, a regional or national
        cell only when nothing else works, then the smallest counts."""
        hidden = hidden.copy()
        as_hidden_up = self.up_bound
        as_hidden_down = np.maximum(np.minimum(self.truth - floor, self.down_bound), 0.0)
        pending = victims
        stuck = np.zeros(self.n, bool)  # victims no move can help: left to the LP loop
        proved: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for _ in range(max_rounds):
            lower, upper = known(hidden)
            # Suppressing more only widens intervals: certified victims stay certified.
            cells, lo, hi, failing = self.certify(
                hidden, lower, upper, pending, attackers, protection_width
            )
            proved.append((cells, lo, hi))
            failing = failing.loc[~stuck[failing["v"].to_numpy(np.int64)]]
            if not len(failing):
                break
            pending = np.unique(failing["v"].to_numpy(np.int64))
            failing = failing.drop_duplicates("v")  # one attacker per victim and round
            up, down = self.rooms(lower, upper)
            # Rooms if the cell were suppressed (eligible cells only).
            could = eligible & ~hidden
            up_if = np.where(could, as_hidden_up, up)
            down_if = np.where(could, as_hidden_down, down)
            low_if = np.where(could, floor, lower)
            high_if = np.where(could, np.inf, upper)
            pairs_all = self.paired(low_if, high_if)
            state = _Round(
                hidden=hidden,
                usable=hidden | eligible,
                could=could,
                now=(up, down),
                if_hidden=(up_if, down_if),
                pairs_all=pairs_all,
                pairs_now=self.paired(
                    np.where(self.leaf, low_if, lower), np.where(self.leaf, high_if, upper)
                ),
                floor=floor,
                protection_width=protection_width,
                tie_break=tie_break,
            )
            v = failing["v"].to_numpy(np.int64)
            who = failing["attacker"].to_numpy(np.int64)
            # Partners in the victim's own parent area first (no aggregate moves), then any.
            chosen, helped = self._search(v, who, attackers, state, near=True)
            rest = np.setdiff1d(v, helped)
            if len(rest):
                more, also = self._search(
                    rest,
                    failing.set_index("v").loc[rest, "attacker"].to_numpy(np.int64),
                    attackers,
                    state,
                    near=False,
                )
                chosen, helped = np.union1d(chosen, more), np.concatenate([helped, also])
            stuck[np.setdiff1d(v, helped)] = True
            fresh = chosen[~hidden[chosen]]
            if not len(fresh):
                break
            hidden[fresh] = True
        if not proved:
            return hidden, (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        return hidden, tuple(np.concatenate(part) for part in zip(*proved, strict=True))  # type: ignore[return-value]

    def _search(
        self,
        v: np.ndarray,
        who: np.ndarray,
        attackers: Sequence[Attacker],
        state: _Round,
        *,
        near: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One round's choice for victims ``v`` (each exposed to attacker ``who``, -1 for
        one knowing none of the partners): the cells to suppress and the victims helped.
        ``near``: only partners sharing the victim's parent area, and the chain, and no new
        regional or national suppression (those are left to the search over every partner,
        which can weigh them against partners in other regions)."""
        attacker_of = pd.Series(who, index=v)
        known_areas = {
            int(k): np.array(
                [self.index_of[c] for c in attackers[k].areas if c in self.index_of], np.int64
            )
            for k in np.unique(who[who >= 0])
        }
        up_if, down_if = state.if_hidden
        found = []
        for vj, comps in self._pairs(v, state.usable & self.leaf, state.hidden):
            if comps.shape[1] == 1:
                vj, jj = self._cheapest_categories(
                    vj, comps[:, 0], state.hidden, down_if, state.protection_width, state.floor
                )
                comps = jj[:, None]
            mv, mc, partner = self._moves(vj, comps, state.usable)
            # The partner first (cheap), the aggregates on the path once built.
            keep = _unknown_to(mv, partner, attacker_of, known_areas)
            if near:
                same = self.anc[np.maximum(partner, 0), 0] == self.anc[self.area[mv], 0]
                keep &= (partner < 0) | same
            mv, mc, partner = mv[keep], mc[keep], partner[keep]
            mv, mc, partner = self._shortlist(
                mv,
                mc,
                partner,
                state.hidden,
                [(up_if, down_if), state.pairs_all],
                state.protection_width,
            )
            rise, fall, touched = self.paths(mv, mc, partner)
            found.append((mv, rise, fall, _unknown_to(mv, touched, attacker_of, known_areas)))
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        width_r = max(f[1].shape[1] for f in found)
        width_f = max(f[2].shape[1] for f in found)
        mv = np.concatenate([f[0] for f in found])
        rise = np.concatenate([_pad(f[1], width_r) for f in found])
        fall = np.concatenate([_pad(f[2], width_f) for f in found])
        valid = np.concatenate([f[3] for f in found])
        up, down = state.now
        leaf_now = (
            (np.where(self.leaf, up_if, up), np.where(self.leaf, down_if, down)),
            (up_if, down_if),
            False,
        )
        return self._pick(
            mv,
            rise,
            fall,
            valid,
            state.could,
            [leaf_now, (state.pairs_now, state.pairs_all, True)],
            state.protection_width,
            state.tie_break,
            aggregates=not near,
        )

    def _leaf_paths(
        self, mv: np.ndarray, comps: np.ndarray, partner: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The LA cells of each move's path (no aggregates): ``(rise, fall)``."""
        own = np.concatenate([mv[:, None], comps], axis=1)
        cols = np.where(own >= 0, self.column[np.maximum(own, 0)], -1)
        theirs = self._at2(np.where(partner >= 0, partner, -1), cols)
        with_v = np.concatenate([np.ones((len(mv), 1), bool), self._together(mv, comps)], 1)
        rise = np.concatenate([np.where(with_v, own, -1), np.where(~with_v, theirs, -1)], 1)
        fall = np.concatenate([np.where(~with_v, own, -1), np.where(with_v, theirs, -1)], 1)
        return rise, fall

    def _diverse(
        self,
        mv: np.ndarray,
        comps: np.ndarray,
        partner: np.ndarray,
        rooms: list[tuple[np.ndarray, np.ndarray]],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The moves worth a full path when certifying: per victim and partner's parent area,
        the :data:`PER_PARENT` widest by their LA cells alone (an upper bound), and every
        move up the chain. An attacker knowing a partner (or a whole region's LAs) still finds
        the best moves through other partners and regions among them."""
        rise, fall = self._leaf_paths(mv, comps, partner)
        width = np.zeros(len(mv))
        for up, down in rooms:
            r, low = self.capacity(rise, fall, up, down)
            width = np.maximum(width, np.minimum(r, 1e6) + np.minimum(low, 1e6))
        group = np.where(partner >= 0, self.anc[np.maximum(partner, 0), 0], -1)
        chain = partner < 0
        idx = np.flatnonzero(~chain & (width > 0))
        idx = idx[np.lexsort((-width[idx], group[idx], mv[idx]))]
        key_v, key_g = mv[idx], group[idx]
        first = np.r_[True, (key_v[1:] != key_v[:-1]) | (key_g[1:] != key_g[:-1])]
        first = first if len(idx) else np.zeros(0, bool)
        rank = np.arange(len(idx)) - np.maximum.accumulate(np.where(first, np.arange(len(idx)), 0))
        keep = np.concatenate([idx[rank < PER_PARENT], np.flatnonzero(chain)])
        return mv[keep], comps[keep], partner[keep]

    def _shortlist(
        self,
        mv: np.ndarray,
        comps: np.ndarray,
        partner: np.ndarray,
        hidden: np.ndarray,
        rooms: list[tuple[np.ndarray, np.ndarray]],
        protection_width: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The :data:`SHORTLIST` cheapest moves per victim whose LA cells alone leave room
        enough (the aggregates can only lower that), before their full paths are built."""
        rise, fall = self._leaf_paths(mv, comps, partner)
        ok = np.zeros(len(mv), bool)
        for up, down in rooms:
            r, low = self.capacity(rise, fall, up, down)
            ok |= r + low + 1 >= protection_width
        cells = np.concatenate([rise, fall], axis=1)
        safe = np.maximum(cells, 0)
        new = (cells >= 0) & ~hidden[safe]
        cost = LEAF_COST * new.sum(axis=1) + np.where(new, self.truth[safe], 0).sum(axis=1)
        cost = np.where(partner < 0, -1.0, cost)  # the chain move is always kept
        idx = np.flatnonzero(ok)
        idx = idx[np.lexsort((cost[idx], mv[idx]))]
        vv = mv[idx]
        first = np.r_[True, vv[1:] != vv[:-1]] if len(vv) else np.zeros(0, bool)
        rank = np.arange(len(vv)) - np.maximum.accumulate(np.where(first, np.arange(len(vv)), 0))
        idx = idx[rank < SHORTLIST]
        return mv[idx], comps[idx], partner[idx]

    def _cheapest_categories(
        self,
        v: np.ndarray,
        j: np.ndarray,
        hidden: np.ndarray,
        down_if: np.ndarray,
        protection_width: int,
        floor: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keep each victim's :data:`CANDIDATE_CATEGORIES` best partner categories: those that
        can give the victim the room it needs, suppressed ones first, then the smallest."""
        need = np.maximum(protection_width - 1 - (self.truth[v] - floor), 1)
        safe = np.maximum(j, 0)
        enough = (j < 0) | (down_if[safe] >= need) | self.is_total[safe]
        fresh = (j >= 0) & ~hidden[safe]
        size = np.where(j >= 0, self.truth[safe], 0)
        order = np.lexsort((size, fresh, ~enough, v))
        v, j = v[order], j[order]
        first = np.r_[True, v[1:] != v[:-1]] if len(v) else np.zeros(0, bool)
        rank = np.arange(len(v)) - np.maximum.accumulate(np.where(first, np.arange(len(v)), 0))
        keep = rank < CANDIDATE_CATEGORIES
        return v[keep], j[keep]

    def _pick(
        self,
        mv: np.ndarray,
        rise: np.ndarray,
        fall: np.ndarray,
        valid: np.ndarray,
        could: np.ndarray,
        variants: list[tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], bool]],
        protection_width: int,
        tie_break: np.ndarray,
        *,
        aggregates: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The cells to suppress for each victim's cheapest valid move wide enough, and the
        victims helped (``aggregates=False``: only moves whose aggregates have the slack).

        ``variants``: (rooms with LA cells as if suppressed, rooms with every eligible cell
        as if suppressed, both measures). A move first tries its aggregates as they are; if
        their rounding slack is too short, the aggregates whose slack falls short of the
        move's amounts are suppressed too. Cost: new LA cells, then new regional cells, then
        new national ones (far dearer), then the counts."""
        need = protection_width - 1
        n_rise = rise.shape[1]
        best_cost = np.full(len(mv), np.inf)
        best_cells = np.full((len(mv), 2 * (n_rise + fall.shape[1])), -1, np.int64)
        for (up_now, down_now), (up_all, down_all), both in variants:
            cells = np.concatenate([rise, fall], axis=1)
            if both:
                twins = np.where(cells >= 0, self.twin[np.maximum(cells, 0)], -1)
            else:
                twins = np.full_like(cells, -1)
            moved = np.concatenate([cells, twins], axis=1)
            safe = np.maximum(moved, 0)
            could_here = (moved >= 0) & could[safe]
            leaf_new = could_here & self.leaf[safe]
            r_now, l_now = self.capacity(rise, fall, up_now, down_now)
            r_all, l_all = self.capacity(rise, fall, up_all, down_all)
            as_is = r_now + l_now >= need
            # The amounts the move must carry, and which aggregates cannot carry them now.
            u = np.minimum(r_all, need)
            d = np.minimum(l_all, np.maximum(need - u, 0))
            goes_up = np.concatenate([np.ones(n_rise, bool), np.zeros(fall.shape[1], bool)])
            goes_up = np.tile(goes_up, 2)[None, :]
            up_amount = np.where(goes_up, u[:, None], d[:, None])
            down_amount = np.where(goes_up, d[:, None], u[:, None])
            short = (up_now[safe] < up_amount) | (down_now[safe] < down_amount)
            agg_new = could_here & ~self.leaf[safe] & short & ~as_is[:, None]
            ok = valid & (as_is | (aggregates & (r_all + l_all >= need)))
            new = leaf_new | agg_new
            cost = (
                LEAF_COST * leaf_new.sum(axis=1)
                + AGGREGATE_COST * (agg_new & ~self.top[safe]).sum(axis=1)
                + NATIONAL_COST * (agg_new & self.top[safe]).sum(axis=1)
                + np.where(new, self.truth[safe], 0).sum(axis=1)
                + np.where(new, tie_break[safe], 0).max(axis=1) / (10.0 * (self.n + 1))
            )
            better = ok & (cost < best_cost)
            best_cost[better] = cost[better]
            best_cells[better] = np.where(new[better], moved[better], -1)
        fine = np.isfinite(best_cost)
        if not fine.any():
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        idx = np.flatnonzero(fine)
        idx = idx[np.lexsort((best_cost[idx], mv[idx]))]
        first = np.r_[True, mv[idx][1:] != mv[idx][:-1]]
        chosen = idx[first]
        picked = best_cells[chosen]
        return np.unique(picked[picked >= 0]), mv[chosen]


def _unknown_to(
    mv: np.ndarray,
    areas_of: np.ndarray,
    attacker_of: pd.Series,
    known_areas: dict[int, np.ndarray],
) -> np.ndarray:
    """Moves none of whose areas the victim's failing attacker knows (``attacker_of``:
    victim -> attacker index, -1 for one that knows none of them)."""
    ka = attacker_of.reindex(mv).to_numpy(np.int64)
    ok = np.ones(len(mv), bool)
    for k, areas in known_areas.items():
        sel = ka == k
        hit = np.isin(areas_of[sel], areas)
        ok[sel] &= ~(hit.any(axis=1) if hit.ndim > 1 else hit)
    return ok


def _pad(a: np.ndarray, width: int) -> np.ndarray:
    """``a`` widened to ``width`` columns with -1 (no cell)."""
    return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=-1)


@dataclass(frozen=True)
class _Round:
    """What one round of :meth:`Grid.construct` knows: the pattern and the cells' rooms
    (now, and as if every eligible cell were suppressed)."""

    hidden: np.ndarray
    usable: np.ndarray
    could: np.ndarray
    now: tuple[np.ndarray, np.ndarray]
    if_hidden: tuple[np.ndarray, np.ndarray]
    pairs_all: tuple[np.ndarray, np.ndarray]
    pairs_now: tuple[np.ndarray, np.ndarray]
    floor: int
    protection_width: int
    tie_break: np.ndarray
