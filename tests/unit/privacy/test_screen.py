"""The failure screens (privacy._screen): they may only ever prove a real narrowing."""

from __future__ import annotations

import numpy as np
import pytest
from tables import grid, hide, la_attackers, random_table, reference_intervals, region_coalitions

from privacy._screen import outer_screen, screen
from privacy.audit import _big_bound
from privacy.cells import Structure, build_relations
from privacy.policy import DFE, SuppressionPolicy
from privacy.suppression import apply_pattern, primary

PLAIN = SuppressionPolicy(name="plain", threshold=5, suppress_zeros=False, protection_width=5)
GENDER = Structure(additive_topics=frozenset({"gender"}))


def _pattern(seed: int):  # type: ignore[no-untyped-def]
    # Primary cells plus a few random complements under DfE rounding: many cells stay
    # narrowed, which is what the screens must find (and nothing else).
    cells, structure = random_table(seed, regions=(3, 2), denominators=seed % 2 == 1)
    rng = np.random.default_rng(seed)
    first = primary(cells, DFE).to_numpy()
    extra = (rng.random(len(cells)) < 0.1) & (cells["count"].to_numpy() > 0)
    protected = apply_pattern(cells, DFE, first | extra, first).reset_index(drop=True)
    attackers = [*la_attackers(cells), *region_coalitions(cells)]
    return protected, structure, attackers, first


def test_screen_pins_a_lone_suppression_for_the_outsider() -> None:
    cells = grid({"A": (3, 20), "B": (30, 25)})
    first = hide(cells, ("A", "Male"))
    protected = apply_pattern(cells, PLAIN, first)
    relations = build_relations(protected, GENDER)
    found, names = screen(protected, relations, [], 5, first)
    assert found.tolist() == [int(np.flatnonzero(first)[0])]
    assert names == ["outsider"]


def test_screen_leaves_a_rectangle_to_the_audit() -> None:
    # A 2x2 rectangle of suppressions: no single relation pins any of its cells.
    cells = grid({"A": (3, 20), "B": (30, 25)})
    first = hide(cells, ("A", "Male"), ("A", "Female"), ("B", "Male"), ("B", "Female"))
    protected = apply_pattern(cells, PLAIN, first)
    relations = build_relations(protected, GENDER)
    found, _ = screen(protected, relations, [], 5, first)
    assert len(found) == 0


@pytest.mark.parametrize("seed", range(4))
def test_screen_flags_only_cells_the_full_lp_narrows(seed: int) -> None:
    protected, structure, attackers, first = _pattern(seed)
    relations = build_relations(protected, structure)
    found, names = screen(protected, relations, attackers, 5, first)
    reference = reference_intervals(protected, structure, attackers)
    n_values = reference.set_index(["cell", "attacker"])["n_values"]
    for cell, name in zip(found, names, strict=True):
        assert n_values.loc[(cell, name)] < 5, (cell, name)


@pytest.mark.parametrize("seed", range(4))
def test_outer_screen_bounds_contain_the_attackers_interval(seed: int) -> None:
    protected, structure, attackers, first = _pattern(seed)
    relations = build_relations(protected, structure)
    big = _big_bound(protected["count"].to_numpy(np.float64))
    found, names, lo, hi = outer_screen(protected, relations, attackers, 5, first, big)
    reference = reference_intervals(protected, structure, attackers).set_index(["cell", "attacker"])
    for cell, name, low, high in zip(found, names, lo, hi, strict=True):
        ref = reference.loc[(cell, name)]
        assert ref["n_values"] < 5
        assert low <= ref["lower"] + 1e-6
        assert high >= min(ref["upper"], 1e7) - 1e-6


def test_screens_find_failures_on_a_thin_pattern() -> None:
    # Across a few tables with only primary suppression, both screens prove some failures
    # (the soundness tests above are not vacuous).
    single = outer = 0
    for seed in range(4):
        cells, structure = random_table(seed, regions=(3, 2))
        first = primary(cells, DFE).to_numpy()
        protected = apply_pattern(cells, DFE, first, first).reset_index(drop=True)
        relations = build_relations(protected, structure)
        attackers = [*la_attackers(cells), *region_coalitions(cells)]
        single += len(screen(protected, relations, attackers, 5, first)[0])
        big = _big_bound(protected["count"].to_numpy(np.float64))
        outer += len(outer_screen(protected, relations, attackers, 5, first, big)[0])
    assert single > 0
    assert outer > 0
