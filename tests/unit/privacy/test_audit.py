"""The τ-ARGUS style auditor (privacy.audit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tables import grid, hide, la_attackers, random_table, reference_intervals, region_coalitions

from privacy._moves import MOVE_CERTIFIED
from privacy.audit import OUTSIDER, DisclosureRisk, audit, require_protected
from privacy.cells import KEY, Attacker, Structure
from privacy.policy import DFE, SuppressionPolicy
from privacy.suppression import apply_pattern, primary

PLAIN = SuppressionPolicy(name="plain", threshold=5, suppress_zeros=False, protection_width=5)
"""1..5 hidden, zeros shown, nothing rounded: the relations alone decide."""

GENDER = Structure(additive_topics=frozenset({"gender"}))


def interval(report, area: str, breakdown: str, attacker: str = OUTSIDER) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    rows = report.intervals
    row = rows[
        (rows["area_code"] == area)
        & (rows["breakdown"] == breakdown)
        & (rows["attacker"] == attacker)
    ]
    assert len(row) == 1, rows
    return float(row["lower"].iloc[0]), float(row["upper"].iloc[0])


def test_audit_single_suppression_in_a_row_is_pinned() -> None:
    cells = grid({"A": (3, 20), "B": (30, 25)})
    protected = apply_pattern(cells, PLAIN, hide(cells, ("A", "Male")))
    report = audit(protected, GENDER, protection_width=5)
    assert interval(report, "A", "Male") == (3.0, 3.0)
    assert not report.ok
    assert report.failures()["n_values"].tolist() == [1]


def test_audit_rectangle_gives_the_lp_interval() -> None:
    # A: Male 3, Female 20; B: Male 30, Female 25. Hiding the four inner cells leaves
    # A.Male = 3 + t with A.Female = 20 - t, B.Male = 30 - t, B.Female = 25 + t, all >= 1.
    cells = grid({"A": (3, 20), "B": (30, 25)})
    hidden = hide(cells, ("A", "Male"), ("A", "Female"), ("B", "Male"), ("B", "Female"))
    protected = apply_pattern(cells, PLAIN, hidden)
    report = audit(protected, GENDER, protection_width=5, exact=True)
    assert interval(report, "A", "Male") == pytest.approx((1.0, 22.0))
    # The cycle certificate proves the same interval without an LP.
    certified = audit(protected, GENDER, protection_width=5)
    assert interval(certified, "A", "Male", MOVE_CERTIFIED) == pytest.approx((1.0, 22.0))
    assert report.ok


def test_audit_attacker_knowing_the_other_la_pins_the_cell() -> None:
    cells = grid({"A": (3, 20), "B": (30, 25)})
    hidden = hide(cells, ("A", "Male"), ("A", "Female"), ("B", "Male"), ("B", "Female"))
    b = Attacker("B", frozenset({"B"}))
    report = audit(apply_pattern(cells, PLAIN, hidden), GENDER, protection_width=5, attackers=[b])
    assert interval(report, "A", "Male", "B") == (3.0, 3.0)
    assert not report.ok
    # B's own cell is not attacked by B: its row for B's Male (not primary) does not exist,
    # and A's Male is reported against B, not against the outsider B implies.
    assert set(report.failures()["attacker"]) == {"B"}


def test_audit_rounded_totals_bound_the_cell_by_their_interval() -> None:
    # One LA hidden under a region total rounded to 10: the total's interval (with "not 1..5")
    # is all the outsider has.
    cells = grid({"A": (3, 20), "B": (30, 25)})
    hidden = hide(cells, ("A", "Male"), ("A", "Female"))
    policy = SuppressionPolicy(
        name="r", threshold=5, suppress_zeros=False, round_levels={"National": 10}
    )
    protected = apply_pattern(cells, policy, hidden)
    region_male = protected[(protected["area_code"] == "R") & (protected["breakdown"] == "Male")]
    assert region_male["published"].iloc[0] == 30  # 33 rounds to 30: interval [25, 34]
    report = audit(protected, GENDER, protection_width=5)
    # A.Male = R.Male - 30 <= 4; A.Female = R.Female - 25 >= 45 - 25 = 20 (R.Female 45 shows
    # as 50: [45, 54]) and A.Male = 23 - A.Female <= 3; with ">= 1": [1, 3].
    assert interval(report, "A", "Male") == pytest.approx((1.0, 3.0))
    assert not report.ok


def test_audit_without_primary_cells_is_empty_and_ok() -> None:
    cells = grid({"A": (13, 20), "B": (30, 25)})
    report = audit(
        apply_pattern(cells, PLAIN, np.zeros(len(cells), bool)), GENDER, protection_width=5
    )
    assert report.ok
    assert report.intervals.empty
    assert list(report.intervals.columns) == [
        *KEY, "attacker", "lower", "upper", "n_values", "ok",
    ]  # fmt: skip


def test_require_protected_raises_with_keys_but_no_values() -> None:
    cells = grid({"A": (3, 20), "B": (30, 25)})
    protected = apply_pattern(cells, PLAIN, hide(cells, ("A", "Male")))
    with pytest.raises(DisclosureRisk) as caught:
        require_protected(protected, GENDER, protection_width=5)
    message = str(caught.value)
    assert "A / ind / gender / Male / numerator" in message
    assert "1 suppressed cell(s)" in message
    assert "3" not in message.replace("protection width of 5", "")
    assert not caught.value.report.ok


def test_require_protected_returns_the_report_when_protected() -> None:
    cells = grid({"A": (3, 20), "B": (30, 25)})
    hidden = hide(cells, ("A", "Male"), ("A", "Female"), ("B", "Male"), ("B", "Female"))
    report = require_protected(apply_pattern(cells, PLAIN, hidden), GENDER, protection_width=5)
    assert report.ok


def test_audit_summary_holds_counts_only() -> None:
    cells = grid({"A": (3, 20), "B": (30, 25)})
    report = audit(
        apply_pattern(cells, PLAIN, hide(cells, ("A", "Male"))), GENDER, protection_width=5
    )
    summary = report.summary()
    assert summary["primary_cells"] == 1
    assert summary["cells_narrowed"] == 1
    assert all(isinstance(v, int) for v in summary.values())
    assert "lower" not in summary
    assert "upper" not in summary


def test_audit_victim_aggregate_is_not_attacked_with_its_own_contributors() -> None:
    # R's Male (3) is primary; a coalition of all R's LAs holds it (their own data): not an
    # attack. A single LA outside the victim's subtree would be.
    cells = grid({"A": (2, 20), "B": (1, 25)})
    hidden = primary(cells, PLAIN).to_numpy()
    everyone = Attacker("all", frozenset({"A", "B"}))
    report = audit(
        apply_pattern(cells, PLAIN, hidden), GENDER, protection_width=1, attackers=[everyone]
    )
    region_rows = report.intervals[report.intervals["area_code"] == "R"]
    assert set(region_rows["attacker"]) == {OUTSIDER}


@pytest.mark.parametrize("seed", range(6))
def test_audit_matches_a_brute_force_lp_per_attacker(seed: int) -> None:
    # Random patterns (primary cells plus random complements), DFE rounding, LA and
    # coalition attackers: the staged audit says "ok" for a cell exactly when every
    # attacker's own full-table LP does, and its exact rows equal those LPs.
    cells, structure = random_table(seed, regions=(3, 2), denominators=seed % 2 == 1)
    rng = np.random.default_rng(seed)
    first = primary(cells, DFE).to_numpy()
    extra = (rng.random(len(cells)) < 0.3) & (cells["count"].to_numpy() > 0)
    protected = apply_pattern(cells, DFE, first | extra, first)
    attackers = [*la_attackers(cells), *region_coalitions(cells)]
    report = audit(protected, structure, protection_width=5, attackers=attackers)
    reference = reference_intervals(protected, structure, attackers)
    frame = protected.reset_index(drop=True)
    reference[KEY] = frame.loc[reference["cell"], KEY].to_numpy()
    expected = reference.assign(ok=reference["n_values"] >= 5).groupby(KEY)["ok"].all()
    got = report.intervals.groupby(KEY)["ok"].all()
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    exact = report.intervals.merge(reference, on=[*KEY, "attacker"], suffixes=("", "_ref"))
    assert len(exact) > 0
    np.testing.assert_allclose(exact["lower"], exact["lower_ref"], atol=1e-6)
    np.testing.assert_allclose(
        np.minimum(exact["upper"], 1e7), np.minimum(exact["upper_ref"], 1e7), atol=1e-6
    )
