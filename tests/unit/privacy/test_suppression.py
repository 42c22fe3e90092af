"""Primary suppression, rounding and the protect pipeline (privacy.suppression)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tables import la_attackers, random_table, region_coalitions

from privacy import suppression
from privacy._complements import deletion
from privacy.audit import DisclosureRisk, audit
from privacy.cells import Attacker, Structure
from privacy.policy import DFE, OPENSAFELY_MIDPOINT6, OPENSAFELY_ROUND5, SuppressionPolicy
from privacy.suppression import (
    PROTECTED_COLUMNS,
    apply_pattern,
    known_intervals,
    primary,
    protect,
    protect_with_report,
    round_counts,
    rounding_interval,
    secondary,
)

KEY_COLUMNS = ["area_code", "indicator_id", "breakdown_topic", "breakdown", "measure"]
PLAIN = SuppressionPolicy(name="plain", threshold=5, suppress_zeros=False, protection_width=5)


@pytest.mark.parametrize(
    ("counts", "base", "rounding", "expected"),
    [
        ([0, 4, 5, 14, 15, 25, 104], 10, "nearest", [0, 0, 10, 10, 20, 30, 100]),
        ([8, 12, 13, 17, 18], 5, "nearest", [10, 10, 15, 15, 20]),
        ([0, 1, 6, 7, 12, 13], 6, "midpoint", [0, 3, 3, 9, 9, 15]),
    ],
)
def test_round_counts(counts: list[int], base: int, rounding: str, expected: list[int]) -> None:
    assert round_counts(np.array(counts), base, rounding).tolist() == expected


@pytest.mark.parametrize(
    ("base", "rounding"), [(10, "nearest"), (5, "nearest"), (6, "midpoint"), (1, "nearest")]
)
def test_rounding_interval_is_exactly_the_preimage(base: int, rounding: str) -> None:
    counts = np.arange(0, 300)
    shown = round_counts(counts, base, rounding)
    lo, hi = rounding_interval(shown, base, rounding)
    for value in np.unique(shown):
        at = shown == value
        pre = counts[at]
        # The counts that round to a value are exactly its interval (clipped to 0..299).
        assert (max(lo[at][0], 0), min(hi[at][0], 299)) == (pre.min(), pre.max())


def test_known_intervals_exclude_the_suppressed_band() -> None:
    # DfE: a region shown as 10 is 6..14 (5 would be "c"); shown as 0 is exactly 0.
    lo, hi = known_intervals(np.array([10, 0, 20, 7]), np.array([10, 10, 10, 0]), DFE)
    assert lo.tolist() == [6, 0, 15, 7]
    assert hi.tolist() == [14, 0, 24, 7]
    # OpenSAFELY: a count shown as 10 is 8..12 (7 or fewer would be "c").
    lo, hi = known_intervals(np.array([10]), np.array([5]), OPENSAFELY_ROUND5)
    assert (lo.tolist(), hi.tolist()) == ([8], [12])


def test_primary_follows_the_policy_and_spares_public_cells() -> None:
    cells, _ = random_table(1)
    cells.loc[cells.index[:5], "public"] = True
    hidden = primary(cells, DFE)
    count = cells["count"]
    assert (hidden == (count.between(1, 5) & ~cells["public"])).all()
    assert (primary(cells, OPENSAFELY_ROUND5) == (count.le(7) & ~cells["public"])).all()


def test_apply_pattern_columns_symbols_and_intervals() -> None:
    cells, _ = random_table(2)
    hidden = primary(cells, DFE).to_numpy()
    protected = apply_pattern(cells, DFE, hidden)
    assert list(protected.columns) == [*cells.columns, *PROTECTED_COLUMNS]
    assert protected["published"].dtype == "Int64"
    assert protected.loc[hidden, "published"].isna().all()
    assert (protected.loc[hidden, "symbol"] == "c").all()
    assert (protected.loc[~hidden, "symbol"] == "").all()
    assert (protected.loc[hidden, "known_lower"] == 1).all()
    assert np.isinf(protected.loc[hidden, "known_upper"]).all()
    las = protected["geographic_level"] == "Local authority"
    exact = protected[las & ~hidden]
    assert (exact["published"] == exact["count"]).all()
    assert (exact["status"] == "exact").all()
    rounded = protected[~las & ~hidden]
    assert (rounded["status"] == "rounded").all()
    assert (rounded["published"] % 10 == 0).all()
    assert rounded["count"].between(rounded["known_lower"], rounded["known_upper"]).all()


def attackers_for(cells: pd.DataFrame) -> list[Attacker]:
    return [*la_attackers(cells), *region_coalitions(cells)]


@pytest.mark.parametrize("policy", [DFE, OPENSAFELY_ROUND5, OPENSAFELY_MIDPOINT6])
def test_protect_passes_the_audit_and_keeps_its_promises(policy: SuppressionPolicy) -> None:
    cells, structure = random_table(3, denominators=True)
    attackers = attackers_for(cells)
    protected = protect(cells, structure, policy, attackers=attackers)
    report = audit(
        protected, structure, protection_width=policy.protection_width, attackers=attackers
    )
    assert report.ok
    hidden = protected["symbol"] == "c"
    assert (protected.loc[primary(cells, policy), "status"] == "primary").all()
    assert set(protected.loc[hidden, "status"]) <= {"primary", "secondary"}
    if not policy.suppress_zeros:
        assert not (hidden & (protected["count"] == 0)).any()


def test_protect_never_hides_public_cells() -> None:
    # Public denominators (a child population) are large: a public denominator of 4 would
    # itself pin its numerator to 1..4, and protect would rightly refuse.
    cells, structure = random_table(4, denominators=True, denominator_extra=(500, 2000))
    public = cells["measure"] == "denominator"
    cells["public"] = public
    protected = protect(cells, structure, DFE, attackers=attackers_for(cells))
    assert (protected.loc[public, "status"] == "public").all()
    assert (protected.loc[public, "published"] == protected.loc[public, "count"]).all()


def test_protect_is_deterministic_and_order_independent() -> None:
    cells, structure = random_table(5)
    attackers = attackers_for(cells)
    first = protect(cells, structure, DFE, attackers=attackers)
    again = protect(cells, structure, DFE, attackers=attackers)
    pd.testing.assert_frame_equal(first, again)
    shuffled = cells.sample(frac=1.0, random_state=7).reset_index(drop=True)
    other = protect(shuffled, structure, DFE, attackers=attackers)
    key = ["area_code", "breakdown_topic", "breakdown", "measure"]
    a = first.set_index(key)["symbol"].sort_index()
    b = other.set_index(key)["symbol"].sort_index()
    pd.testing.assert_series_equal(a, b)


def test_secondary_returns_the_pattern_protect_publishes() -> None:
    cells, structure = random_table(6)
    pattern = secondary(cells, structure, DFE, primary(cells, DFE))
    protected = protect(cells, structure, DFE)
    assert (pattern.to_numpy() == (protected["symbol"] == "c").to_numpy()).all()
    assert pattern.sum() > primary(cells, DFE).sum()


def test_protect_refuses_what_no_suppression_can_protect() -> None:
    # A public Total of 4 = Male 3 + Female 1 of one LA, no other relation: any attacker
    # holding... nothing can hide a cell pinned by a public total and one exact zero part.
    cells = pd.DataFrame(
        {
            "geographic_level": "Local authority",
            "area_code": "A",
            "parent_code": "",
            "indicator_id": "ind",
            "breakdown_topic": ["Total", "gender", "gender"],
            "breakdown": ["Total", "Male", "Female"],
            "measure": "numerator",
            "count": [3, 3, 0],
            "public": [True, False, False],
        }
    )
    with pytest.raises(DisclosureRisk) as caught:
        protect(cells, Structure(additive_topics=frozenset({"gender"})), DFE)
    assert caught.value.report.summary()["cells_narrowed"] == 1


def _repair_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the refinement passes (privacy._complements): the repair loop's pattern."""
    monkeypatch.setattr(suppression, "REFINE_MAX_CELLS", 0)


@pytest.mark.parametrize("how", ["deletion", "cleanup"])
def test_protect_refinement_keeps_the_audit_and_drops_complements(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells, structure = random_table(8, denominators=True)
    attackers = attackers_for(cells)
    if how == "cleanup":
        # Units too large to rebuild: the repair's pattern is cleaned up instead.
        monkeypatch.setattr(suppression, "DELETION_MAX_CELLS", 0)
    refined, report = protect_with_report(cells, structure, DFE, attackers=attackers)
    with monkeypatch.context() as m:
        _repair_only(m)
        repaired = protect(cells, structure, DFE, attackers=attackers)
    fresh = audit(refined, structure, protection_width=DFE.protection_width, attackers=attackers)
    assert fresh.ok
    assert report.ok
    # The returned report covers every primary cell of the final pattern.
    primaries = refined.loc[refined["status"] == "primary", KEY_COLUMNS].drop_duplicates()
    assert len(report.intervals[KEY_COLUMNS].drop_duplicates()) == len(primaries)
    n_refined = (refined["status"] == "secondary").sum()
    n_repaired = (repaired["status"] == "secondary").sum()
    assert n_refined < n_repaired
    assert (refined["status"] == "primary").equals(repaired["status"] == "primary")


def test_deletion_gives_the_one_at_a_time_result() -> None:
    # A monotone toy audit: a unit's victims fail once more than ``allowed`` of its critical
    # cells are published. Deletion's runs-and-halving must match publishing one by one.
    rng = np.random.default_rng(3)
    n = 60
    unit = np.repeat([0, 1, 2], n // 3)
    first = rng.random(n) < 0.2
    eligible = rng.random(n) < 0.9
    count = rng.integers(1, 40, n)
    rank = np.arange(n)
    critical = rng.random(n) < 0.5
    allowed = {0: 3, 1: 0, 2: 7}

    def passing(pattern: np.ndarray, victims: np.ndarray) -> np.ndarray:
        ok = np.ones(n, bool)
        for u, limit in allowed.items():
            if (critical & ~pattern & (unit == u)).sum() > limit:
                ok[victims & (unit == u)] = False
        return ok

    got = deletion(np.zeros(n, bool), first, eligible, -count, rank, unit, passing)
    expected = eligible | first
    for cell in np.lexsort((rank, -count)):
        if not eligible[cell] or first[cell]:
            continue
        trial = expected.copy()
        trial[cell] = False
        if passing(trial, first).all():
            expected = trial
    assert (got == expected).all()
    assert (got[first]).all()


def test_protect_refinement_is_deterministic_and_order_independent() -> None:
    cells, structure = random_table(9)
    attackers = attackers_for(cells)
    first = protect(cells, structure, DFE, attackers=attackers)
    shuffled = cells.sample(frac=1.0, random_state=3).reset_index(drop=True)
    other = protect(shuffled, structure, DFE, attackers=attackers)
    key = ["area_code", "breakdown_topic", "breakdown", "measure"]
    a = first.set_index(key)["status"].sort_index()
    b = other.set_index(key)["status"].sort_index()
    pd.testing.assert_series_equal(a, b)
