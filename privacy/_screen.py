"""A cheap screen that proves suppressed cells narrowed, one relation at a time.

Each equality of the table, taken alone, bounds a suppressed cell: with the other cells of the
relation in the intervals a reader knows (and at their true value where the attacker knows
them), the cell can move only as far as the others can absorb. One relation is a relaxation of
the auditor's LP (:mod:`privacy.audit`), so its interval contains the LP's: when even that
interval holds fewer than ``protection_width`` integers, the attacker certainly narrows the
cell. The complementary-suppression loop uses this to add complements that are certainly
needed *before* it pays for any LP; it proves failures only, never a pass, so the audit still
decides.

Everything is vectorised: the (relation, victim, other member) triples are expanded from the
sparse relation matrix, and what each attacker knows comes from one sparse product with its
area-knowledge matrix. Bounds (numerator <= denominator) are left out: fewer constraints give a
wider interval, so the screen stays a sound proof of narrowing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .cells import Attacker, Relations, descendants
from .certificates import local_intervals

__all__ = ["outer_screen", "screen"]

TOLERANCE = 1e-6


def screen(
    protected: pd.DataFrame,
    relations: Relations,
    attackers: Sequence[Attacker],
    protection_width: int,
    victims: np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """``(cells, attacker names)``: primary cells among ``victims`` that some attacker (or the
    outsider, named "outsider") provably narrows through one relation, each with the attacker
    whose single-relation interval is narrowest."""
    truth = protected["count"].to_numpy(np.float64)
    lower = protected["known_lower"].to_numpy(np.float64)
    upper = protected["known_upper"].to_numpy(np.float64)
    eq = sp.csr_array(relations.eq)
    if not eq.shape[0] or not victims.any():
        return np.zeros(0, np.int64), []

    # Victim entries (row, victim, its coefficient), then every other member of those rows.
    coo = sp.coo_array(eq)
    at = victims[coo.col]
    v_row, v_cell, v_coef = coo.row[at], coo.col[at], coo.data[at]
    starts, ends = eq.indptr[v_row], eq.indptr[v_row + 1]
    lengths = (ends - starts).astype(np.int64)
    pair = np.repeat(np.arange(len(v_row)), lengths)
    offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    entry = np.repeat(starts, lengths) + offset
    other = eq.indices[entry].astype(np.int64)
    o_coef = eq.data[entry]
    keep = other != v_cell[pair]
    pair, other, o_coef = pair[keep], other[keep], o_coef[keep]

    # How far each other member can move while the victim moves up (or down) by one.
    same = np.sign(o_coef) == np.sign(v_coef[pair])
    give = truth[other] - lower[other]  # room to fall
    take = upper[other] - truth[other]  # room to rise
    room_up = np.where(same, give, take)
    room_down = np.where(same, take, give)

    # Which attacker knows which member: the area of the member, unless that area is the
    # victim's or sums into it (no attacker knows its victim's own cells).
    area_code, area_names = pd.factorize(protected["area_code"].to_numpy())
    pairs_frame = protected[["area_code", "parent_code"]].drop_duplicates("area_code")
    index = {a: i for i, a in enumerate(area_names)}
    n_areas = len(area_names)
    below = np.zeros((n_areas, n_areas), bool)
    for a, under in descendants(pairs_frame).items():
        if a in index:
            below[index[a], [index[b] for b in under if b in index]] = True
    np.fill_diagonal(below, True)
    knowable = ~below[area_code[v_cell[pair]], area_code[other]]
    knows = np.zeros((max(len(attackers), 1), n_areas), bool)
    for i, attacker in enumerate(attackers):
        knows[i, [index[a] for a in attacker.areas if a in index]] = True

    n_pairs = len(v_row)
    totals = []
    for room in (room_up, room_down):
        finite = np.isfinite(room)
        fin = np.bincount(pair, weights=np.where(finite, room, 0.0), minlength=n_pairs)
        inf = np.bincount(pair, weights=(~finite).astype(np.float64), minlength=n_pairs)
        totals.append((fin, inf))

    rows: list[np.ndarray] = []
    names: list[np.ndarray] = []
    widths: list[np.ndarray] = []
    cells_v = v_cell

    def narrow(up_fin, up_inf, down_fin, down_inf, pairs):  # type: ignore[no-untyped-def]
        v = cells_v[pairs]
        hi = np.where(up_inf > 0.5, np.inf, truth[v] + up_fin)
        lo = np.where(down_inf > 0.5, -np.inf, truth[v] - down_fin)
        lo = np.maximum(lo, lower[v])
        hi = np.minimum(hi, upper[v])
        with np.errstate(invalid="ignore"):
            count = np.floor(hi + TOLERANCE) - np.ceil(lo - TOLERANCE) + 1
        count = np.where(np.isinf(hi) | np.isinf(lo), np.inf, count)
        return count

    # The outsider knows no member.
    (uf, ui), (df, di) = totals
    all_pairs = np.arange(n_pairs)
    count = narrow(uf, ui, df, di, all_pairs)
    bad = count < protection_width
    rows.append(all_pairs[bad])
    names.append(np.full(int(bad.sum()), -1))
    widths.append(count[bad])

    if attackers:
        # Per (pair, area): the known part of each sum; per (pair, attacker) by a sparse
        # product with the knowledge matrix.
        k_pair, k_area = pair[knowable], area_code[other[knowable]]
        shape = (n_pairs, n_areas)
        know = sp.csr_array(knows.T.astype(np.float64))
        parts = []
        for room in (room_up, room_down):
            r = room[knowable]
            finite = np.isfinite(r)
            fin = sp.csr_array((np.where(finite, r, 0.0), (k_pair, k_area)), shape=shape)
            inf = sp.csr_array(((~finite).astype(np.float64), (k_pair, k_area)), shape=shape)
            parts.append((sp.coo_array(fin @ know), sp.coo_array(inf @ know)))
        touch = sp.coo_array(
            sp.csr_array((np.ones(len(k_pair)), (k_pair, k_area)), shape=shape) @ know
        )
        n_att = know.shape[1]
        key = np.unique(touch.row.astype(np.int64) * n_att + touch.col)
        p, a = key // n_att, key % n_att

        def gather(matrix: sp.coo_array) -> np.ndarray:
            matrix.sum_duplicates()
            where = matrix.row.astype(np.int64) * n_att + matrix.col
            pos = np.minimum(np.searchsorted(key, where), max(len(key) - 1, 0))
            out = np.zeros(len(key))
            hit = key[pos] == where
            out[pos[hit]] = matrix.data[hit]
            return out

        (kuf, kui), (kdf, kdi) = (tuple(gather(m) for m in part) for part in parts)
        count = narrow(uf[p] - kuf, ui[p] - kui, df[p] - kdf, di[p] - kdi, p)
        bad = count < protection_width
        rows.append(p[bad])
        names.append(a[bad])
        widths.append(count[bad])

    hit_pair = np.concatenate(rows)
    if not len(hit_pair):
        return np.zeros(0, np.int64), []
    who = np.concatenate(names)
    width = np.concatenate(widths)
    cell = v_cell[hit_pair]
    # One attacker per cell: the narrowest interval (ties: the outsider, then attacker order).
    order = np.lexsort((who, width, cell))
    cell, who = cell[order], who[order]
    first = np.ones(len(cell), bool)
    first[1:] = cell[1:] != cell[:-1]
    label = [attackers[w].name if w >= 0 else "outsider" for w in who[first]]
    return cell[first].astype(np.int64), label


def outer_screen(
    protected: pd.DataFrame,
    relations: Relations,
    attackers: Sequence[Attacker],
    protection_width: int,
    victims: np.ndarray,
    big: float,
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """``(cells, attacker names, lower, upper)``: like :func:`screen`, over a victim's whole
    neighbourhood (its area's free cells and its ancestors', :mod:`privacy.certificates`),
    for the attacker that knows most of the victim's sibling areas. The LP keeps only the
    relations that attacker can evaluate around the neighbourhood, so its interval is an
    outer bound and a narrow one proves failure."""
    none = np.zeros(0, np.int64), [], np.zeros(0), np.zeros(0)
    if not attackers:
        return none
    lower = protected["known_lower"].to_numpy(np.float64)
    upper = protected["known_upper"].to_numpy(np.float64)
    free = lower != upper
    victims = victims & free
    if not victims.any():
        return none
    area = protected["area_code"].to_numpy(dtype=object)
    parent_of = dict(zip(protected["area_code"], protected["parent_code"], strict=False))
    below = {a: set(under) | {a} for a, under in descendants(protected).items()}
    siblings: dict[str, set[str]] = {}
    for a, parent in parent_of.items():
        siblings.setdefault(parent, set()).add(a)
    chosen: dict[str, tuple[str, np.ndarray]] = {}

    def strongest(victim_area: str) -> tuple[str, np.ndarray]:
        if victim_area not in chosen:
            own = below.get(victim_area, {victim_area})
            near = siblings.get(parent_of.get(victim_area, ""), set()) - own
            best = max(attackers, key=lambda a: len(a.areas & near))
            knows = set(best.areas) - own
            chosen[victim_area] = (best.name, np.isin(area, list(knows)))
        return chosen[victim_area]

    cells, lo, hi = local_intervals(
        protected, relations, victims, free, big, known=lambda a: strongest(a)[1]
    )
    with np.errstate(invalid="ignore"):
        n = np.floor(hi + TOLERANCE) - np.ceil(lo - TOLERANCE) + 1
    n = np.where(hi >= big * (1 - 1e-9), np.inf, n)
    bad = n < protection_width
    names = [strongest(str(area[c]))[0] for c in cells[bad]]
    return cells[bad].astype(np.int64), names, lo[bad], hi[bad]
