"""The LP relaxation that guides deletion (privacy._relaxation)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from tables import la_attackers, random_table, region_coalitions

from privacy import _relaxation
from privacy._relaxation import _flows, guide
from privacy.audit import audit
from privacy.cells import Attacker, build_relations, descendants
from privacy.policy import DFE, OPENSAFELY_ROUND5, SuppressionPolicy
from privacy.suppression import _better_per_unit, _eligible, apply_pattern, primary

EXACT = dataclasses.replace(DFE, name="dfe_exact", round_levels={})


def _guide(cells: pd.DataFrame, structure, policy: SuppressionPolicy, attackers):  # type: ignore[no-untyped-def]
    frame = cells.reset_index(drop=True)
    relations = build_relations(frame, structure)
    first = primary(frame, policy).to_numpy()
    got = guide(
        frame["count"].to_numpy(np.int64),
        frame["area_code"].to_numpy(),
        descendants(frame),
        relations,
        np.arange(len(frame)),
        first,
        _eligible(frame, policy),
        attackers,
        policy.protection_width,
        policy.known_lower_suppressed,
    )
    return frame, first, got


@pytest.mark.parametrize(
    ("seed", "policy"), [(1, EXACT), (2, EXACT), (3, DFE), (4, OPENSAFELY_ROUND5)]
)
def test_guide_support_passes_the_audit(seed: int, policy: SuppressionPolicy) -> None:
    # A dived pattern routes every flow through suppressed cells: each flow is a table the
    # attacker cannot tell from the truth, so the exact audit passes on the support alone.
    cells, structure = random_table(seed, regions=(3, 2), topics={"age_band": 3})
    attackers = [*la_attackers(cells), *region_coalitions(cells)]
    frame, first, got = _guide(cells, structure, policy, attackers)
    assert got is not None
    support, priority = got
    assert first.any()
    assert (support[first]).all()
    assert not (support & ~first & ~_eligible(frame, policy)).any()
    assert ((priority >= -1e-9) & (priority <= 1 + 1e-9)).all()
    report = audit(
        apply_pattern(frame, policy, support, first),
        structure,
        protection_width=policy.protection_width,
        attackers=attackers,
    )
    assert report.ok, report.summary()


def test_guide_support_passes_the_audit_without_diving(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every cell a flow moves has s > 0, so even the first relaxation's support (fractional,
    # larger) protects every primary cell.
    monkeypatch.setattr(_relaxation, "MAX_DIVES", 0)
    cells, structure = random_table(5, regions=(3, 2), topics={"age_band": 3})
    attackers = la_attackers(cells)
    frame, first, got = _guide(cells, structure, EXACT, attackers)
    assert got is not None
    report = audit(
        apply_pattern(frame, EXACT, got[0], first),
        structure,
        protection_width=EXACT.protection_width,
        attackers=attackers,
    )
    assert report.ok, report.summary()


def test_guide_declines_units_over_the_variable_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    cells, structure = random_table(1, regions=(2, 2), topics={"gender": 2})
    monkeypatch.setattr(_relaxation, "MAX_VARIABLES", 10)
    assert _guide(cells, structure, EXACT, la_attackers(cells))[2] is None


def test_guide_declines_units_without_primary_cells() -> None:
    # Ten times every count keeps the sums and leaves no count from 1 to 5.
    cells, structure = random_table(1, regions=(2,), topics={"gender": 2})
    cells = cells.assign(count=cells["count"] * 10)
    _, first, got = _guide(cells, structure, EXACT, la_attackers(cells))
    assert not first.any()
    assert got is None


@pytest.mark.parametrize(
    ("knowledge", "expected"),
    [
        # The outsider only when no attacker knows a cell.
        ([], [set()]),
        # A subset of another attacker's knowledge is implied by it.
        ([{"B"}, {"B", "C"}], [{"B", "C"}]),
        # Attackers who know the same cells need one flow.
        ([{"B"}, {"B"}, {"C", "B"}, {"C"}], [{"B", "C"}]),
        # Incomparable knowledge: both kept; the victim's own area is never known.
        ([{"A", "B"}, {"C"}], [{"B"}, {"C"}]),
    ],
)
def test_flows_keep_the_maximal_knowledge_per_victim(
    knowledge: list[set[str]], expected: list[set[str]]
) -> None:
    where = np.array(["A", "A", "B", "C"])
    attackers = [Attacker(f"k{i}", frozenset(k)) for i, k in enumerate(knowledge)]
    below = {area: (area,) for area in "ABC"}
    flows = _flows(
        np.array([0]), np.array([2.0]), np.array([2.0]), where, below, np.ones(4, bool), attackers
    )
    # Two directions per knowledge set.
    assert [amount for _, amount, _ in flows] == [2.0] * len(expected) + [-2.0] * len(expected)
    got = [set(where[known]) for _, amount, known in flows if amount > 0]
    assert sorted(map(sorted, got)) == sorted(map(sorted, expected))


def test_flows_skip_a_direction_without_room() -> None:
    # A count of 1 with c meaning >= 1 cannot go down: only the rise is routed.
    flows = _flows(
        np.array([0]),
        np.array([0.0]),
        np.array([4.0]),
        np.array(["A", "B"]),
        {},
        np.ones(2, bool),
        [],
    )
    assert [amount for _, amount, _ in flows] == [4.0]


def test_better_per_unit_takes_fewer_cells_then_smaller_counts() -> None:
    first = np.array([True, False, False, True, False, False, False])
    count = np.array([2, 10, 30, 3, 5, 6, 40])
    led = np.array([0, 0, 0, 1, 1, 1, 1])
    by_count = np.array([True, True, True, True, True, False, False])  # unit 0: 2 cells
    guided = np.array([True, False, True, True, False, True, False])  # unit 0: 1, unit 1: 1
    got = _better_per_unit(by_count, guided, first, count, led)
    # Unit 0: the guided pattern (one complement); unit 1: equal counts, 5 < 6 keeps by_count.
    assert got.tolist() == [True, False, True, True, True, False, False]
