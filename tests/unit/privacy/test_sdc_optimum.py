"""Tests for the benchmark's exact cell-suppression solver (tests/benchmarks/sdc_optimum.py).

The optima are worked out by hand on tables small enough to enumerate: a one-way table, and a
2 x 2 table with margins (two LAs, one region) with and without LA attackers.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "sdc_optimum.py"
_SPEC = importlib.util.spec_from_file_location("sdc_optimum", _PATH)
assert _SPEC is not None
assert _SPEC.loader is not None
sdc_optimum = importlib.util.module_from_spec(_SPEC)
sys.modules["sdc_optimum"] = sdc_optimum
_SPEC.loader.exec_module(sdc_optimum)


@dataclass(frozen=True)
class _Attacker:
    name: str
    areas: frozenset[str]


def _frame(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """Cells (area, parent, breakdown, count) of one indicator, topic "sex" (or Total)."""
    return pd.DataFrame(
        {
            "geographic_level": ["Regional" if r[1] == "" else "Local authority" for r in rows],
            "area_code": [r[0] for r in rows],
            "parent_code": [r[1] for r in rows],
            "indicator_id": "t3_x",
            "breakdown_topic": ["Total" if r[2] == "Total" else "sex" for r in rows],
            "breakdown": [r[2] for r in rows],
            "measure": "numerator",
            "count": np.array([r[3] for r in rows], dtype=np.int64),
            "public": False,
        }
    )


def _two_by_two() -> pd.DataFrame:
    """LA1: 3 + 10 = 13, LA2: 8 + 12 = 20, region R: 11 + 22 = 33. LA1 F (3) is primary."""
    return _frame(
        [
            ("LA1", "R", "F", 3),
            ("LA1", "R", "M", 10),
            ("LA1", "R", "Total", 13),
            ("LA2", "R", "F", 8),
            ("LA2", "R", "M", 12),
            ("LA2", "R", "Total", 20),
            ("R", "", "F", 11),
            ("R", "", "M", 22),
            ("R", "", "Total", 33),
        ]
    )


def _solve(cells: pd.DataFrame, attackers: tuple[_Attacker, ...] = (), width: int = 5):
    relations = sdc_optimum.relations_from_cells(cells, {"sex"})
    primary = (cells["count"].between(1, 5) & ~cells["public"]).to_numpy()
    result = sdc_optimum.optimal_suppression(
        cells, primary, relations, protection_width=width, attackers=attackers
    )
    return result, relations, primary


def _labels(cells: pd.DataFrame, mask: np.ndarray) -> set[str]:
    chosen = cells[mask]
    return set(chosen["area_code"] + ":" + chosen["breakdown"])


def test_sdc_optimum_relations_found_and_only_exact_ones():
    cells = _two_by_two()
    relations = sdc_optimum.relations_from_cells(cells, {"sex"})
    # 3 breakdown relations (one per area) + 3 geography relations (F, M, Total).
    assert len(relations) == 6
    counts = cells["count"].to_numpy()
    for total, parts in relations:
        assert counts[list(parts)].sum() == counts[total]
    broken = cells.copy()
    broken.loc[2, "count"] = 14  # LA1 Total no longer 3 + 10, nor part of R's Total = 33
    assert len(sdc_optimum.relations_from_cells(broken, {"sex"})) == 4


def test_sdc_optimum_one_way_table_takes_smaller_partner():
    cells = _frame([("A", "", "F", 3), ("A", "", "M", 20), ("A", "", "Total", 23)])
    result, _, _ = _solve(cells)
    assert result.proven
    assert _labels(cells, result.complementary) == {"A:M"}
    assert (result.count, result.value) == (1, 20)


def test_sdc_optimum_zeros_shown_lower_bound_forces_total():
    # F=3 and M=3 are both primary; with "c" meaning >= 1 each is pinned to [1, 5] while the
    # Total is published: 5 values, enough for width 5 but not for width 7, where the Total must
    # go too.
    cells = _frame([("A", "", "F", 3), ("A", "", "M", 3), ("A", "", "Total", 6)])
    result, _, _ = _solve(cells, width=5)
    assert result.proven
    assert result.count == 0
    result, _, _ = _solve(cells, width=7)
    assert result.proven
    assert _labels(cells, result.complementary) == {"A:Total"}


def test_sdc_optimum_two_by_two_outsider_takes_the_rectangle():
    cells = _two_by_two()
    result, _, _ = _solve(cells)
    assert result.proven
    # Three complements are needed; the cheapest rectangle is 10 + 8 + 12 = 30.
    assert _labels(cells, result.complementary) == {"LA1:M", "LA2:F", "LA2:M"}
    assert (result.count, result.value) == (3, 30)


def test_sdc_optimum_two_by_two_la_attacker_avoids_its_cells():
    cells = _two_by_two()
    attackers = (_Attacker("LA1", frozenset({"LA1"})), _Attacker("LA2", frozenset({"LA2"})))
    result, _, _ = _solve(cells, attackers)
    assert result.proven
    # LA2 knows its own cells, so the rectangle through LA2 is no protection against it; the
    # cheapest pattern avoiding LA2 is LA1 M + region F + region M = 10 + 11 + 22.
    assert _labels(cells, result.complementary) == {"LA1:M", "R:F", "R:M"}
    assert (result.count, result.value) == (3, 43)


@pytest.mark.parametrize(
    ("pattern", "with_attackers", "expected"),
    [
        ({"LA1:M", "LA2:F", "LA2:M"}, False, True),
        ({"LA1:M", "LA2:F", "LA2:M"}, True, False),
        ({"LA1:M", "R:F", "R:M"}, True, True),
        ({"LA1:M", "LA2:F"}, False, False),
    ],
)
def test_sdc_optimum_pattern_protected_agrees_with_hand(pattern, with_attackers, expected):
    cells = _two_by_two()
    attackers = (
        (_Attacker("LA1", frozenset({"LA1"})), _Attacker("LA2", frozenset({"LA2"})))
        if with_attackers
        else ()
    )
    relations = sdc_optimum.relations_from_cells(cells, {"sex"})
    primary = cells["count"].between(1, 5).to_numpy()
    labels = cells["area_code"] + ":" + cells["breakdown"]
    suppressed = labels.isin(pattern).to_numpy() | primary
    assert (
        sdc_optimum.pattern_protected(cells, primary, suppressed, relations, attackers=attackers)
        is expected
    )


def test_sdc_optimum_never_suppresses_zeros_or_public_cells():
    # The only partners for F=3 are M (a true zero) and the Total (public), neither of which may
    # be suppressed: no pattern protects F.
    cells = _frame([("A", "", "F", 3), ("A", "", "M", 0), ("A", "", "Total", 3)])
    cells.loc[2, "public"] = True
    result, _, _ = _solve(cells)
    assert result.status == "infeasible"
    assert not result.complementary.any()


def test_sdc_optimum_no_primaries_is_trivially_optimal():
    cells = _frame([("A", "", "F", 30), ("A", "", "M", 20), ("A", "", "Total", 50)])
    result, _, _ = _solve(cells)
    assert result.proven
    assert result.count == 0


def _three_by_two() -> pd.DataFrame:
    """Two LAs x three categories with margins; LA1 F (2) and LA2 M (4) are primary."""
    return _frame(
        [
            ("LA1", "R", "F", 2),
            ("LA1", "R", "M", 9),
            ("LA1", "R", "X", 14),
            ("LA1", "R", "Total", 25),
            ("LA2", "R", "F", 7),
            ("LA2", "R", "M", 4),
            ("LA2", "R", "X", 11),
            ("LA2", "R", "Total", 22),
            ("R", "", "F", 9),
            ("R", "", "M", 13),
            ("R", "", "X", 25),
            ("R", "", "Total", 47),
        ]
    )


@pytest.mark.parametrize("with_attackers", [False, True])
def test_sdc_optimum_matches_brute_force(with_attackers):
    cells = _three_by_two()
    attackers = (
        (_Attacker("LA1", frozenset({"LA1"})), _Attacker("LA2", frozenset({"LA2"})))
        if with_attackers
        else ()
    )
    result, relations, primary = _solve(cells, attackers)
    assert result.proven
    counts = cells["count"].to_numpy()
    candidates = np.flatnonzero(~primary & (counts > 0))
    best = None
    for k in range(result.count + 1):  # every pattern of up to the optimum's size
        for combo in itertools.combinations(candidates, k):
            pattern = primary.copy()
            pattern[list(combo)] = True
            if sdc_optimum.pattern_protected(
                cells, primary, pattern, relations, attackers=attackers
            ):
                found = (k, int(counts[list(combo)].sum()))
                best = found if best is None else min(best, found)
        if best is not None:
            break
    assert best == (result.count, result.value)
    assert sdc_optimum.pattern_protected(
        cells, primary, primary | result.complementary, relations, attackers=attackers
    )


def test_sdc_optimum_aggregate_victim_hides_its_contributors():
    # A region cell's attacker loses the knowledge of the LAs summing into it, so an LA of
    # that region attacks it as the outsider does; an LA of another region keeps its own.
    cells = _frame(
        [("LA1", "R1", "F", 3), ("LA2", "R2", "F", 9), ("R1", "E", "F", 3), ("R2", "E", "F", 9)]
    )
    cells = pd.concat([cells, _frame([("E", "", "F", 12)])], ignore_index=True)
    primary = (cells["area_code"] == "R1").to_numpy()
    attackers = (_Attacker("LA1", frozenset({"LA1"})), _Attacker("LA2", frozenset({"LA2"})))
    blocks = sdc_optimum._knowledge_blocks(cells, primary, attackers)
    assert blocks == [(2, frozenset({"LA2"}))]
