"""Differencing attacks: an LA holding its own values, plus every published total and group
statistic, must not recover another LA's suppressed count.

Each case builds a table by hand where a naive suppression pattern IS attackable, checks the
auditor catches it, and checks :func:`privacy.suppression.protect` fixes it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tables import grid, hide

from privacy.audit import OUTSIDER, audit
from privacy.cells import Attacker, Structure
from privacy.groups import group_statistics
from privacy.policy import DFE, SuppressionPolicy
from privacy.suppression import apply_pattern, protect

PLAIN = SuppressionPolicy(name="plain", threshold=5, suppress_zeros=False, protection_width=5)
GENDER = Structure(additive_topics=frozenset({"gender"}))
LAS = {"A": (3, 20), "B": (30, 25), "C": (12, 14)}
SINGLES = [Attacker(la, frozenset({la})) for la in LAS]

# The classic rectangle: A's Male (3) with complements in A's row and B's column. The
# outsider cannot narrow A's Male, but B knows its own Male, so R's published Male minus B's
# and C's gives A's exactly.
NAIVE = (("A", "Male"), ("A", "Female"), ("B", "Male"), ("B", "Female"))


def failures(report) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    failed = report.failures()
    return set(zip(failed["area_code"], failed["breakdown"], failed["attacker"], strict=True))


def test_differencing_naive_rectangle_is_safe_from_outsiders_only() -> None:
    cells = grid(LAS)
    protected = apply_pattern(cells, PLAIN, hide(cells, *NAIVE))
    outsider = audit(protected, GENDER, protection_width=5)
    assert outsider.ok
    with_las = audit(protected, GENDER, protection_width=5, attackers=SINGLES)
    assert failures(with_las) == {("A", "Male", "B")}
    row = with_las.failures().iloc[0]
    assert (row["lower"], row["upper"]) == (3.0, 3.0)


def test_differencing_protect_fixes_the_naive_rectangle() -> None:
    cells = grid(LAS)
    protected = protect(cells, GENDER, PLAIN, attackers=SINGLES)
    report = audit(protected, GENDER, protection_width=5, attackers=SINGLES)
    assert report.ok
    # Against B, A's Male now hides behind cells B does not know: C's, or the region's (with
    # R's Total published, A's row and R's row can move together).
    hidden = set(
        zip(protected["area_code"], protected["breakdown"], protected["symbol"], strict=True)
    )
    assert ("A", "Male", "c") in hidden
    assert any(area in {"C", "R"} and symbol == "c" for area, _, symbol in hidden)
    published = protected[protected["symbol"] == ""]
    assert (published["published"] == published["count"]).all()


def test_differencing_coalition_pools_its_values_against_a_rounded_region() -> None:
    # DfE rounds regions and England to 10. The rectangle A/B hides A's Male (3) from the
    # outsider, but B and C together (a coalition of R1 without A) know B's cells, and then
    # R1's row and A's Total give A's Male back.
    cells = _with_england(
        grid({"A": (3, 20), "B": (30, 25), "C": (10, 14)}, region="R1"),
        grid({"D": (40, 41), "E": (50, 9)}, region="R2"),
    )
    naive = hide(cells, *NAIVE)
    coalition = Attacker("B and C", frozenset({"B", "C"}))
    protected = apply_pattern(cells, DFE, naive)
    assert audit(protected, GENDER, protection_width=5).ok
    report = audit(protected, GENDER, protection_width=5, attackers=[coalition])
    assert failures(report) == {("A", "Male", "B and C")}
    attackers = [coalition, *SINGLES]
    fixed = protect(cells, GENDER, DFE, attackers=attackers)
    assert audit(fixed, GENDER, protection_width=5, attackers=attackers).ok


def _with_england(*regions: pd.DataFrame) -> pd.DataFrame:
    """Stack region grids (their top rows are regions) under an England that sums them."""
    parts = [
        r.assign(
            geographic_level=np.where(r["parent_code"] == "", "Regional", r["geographic_level"]),
            parent_code=np.where(r["parent_code"] == "", "ENG", r["parent_code"]),
        )
        for r in regions
    ]
    frame = pd.concat(parts, ignore_index=True)
    tops = frame[frame["geographic_level"] == "Regional"]
    england = (
        tops.groupby(["breakdown_topic", "breakdown"], sort=False)["count"].sum().reset_index()
    )
    england = england.assign(
        geographic_level="National", area_code="ENG", parent_code="", indicator_id="ind",
        measure="numerator", public=False,
    )  # fmt: skip
    return pd.concat([england[frame.columns], frame], ignore_index=True)


def la_values(protected: pd.DataFrame, breakdown: str) -> pd.DataFrame:
    """The LA values a comparison page would use: published (protected) counts only."""
    rows = protected[
        (protected["geographic_level"] == "Local authority") & (protected["breakdown"] == breakdown)
    ]
    return pd.DataFrame(
        {
            "group": "neighbours",
            "area_code": rows["area_code"],
            "value": rows["published"].astype("Float64"),
        }
    )


def test_differencing_group_mean_of_three_with_the_viewer_is_blanked() -> None:
    cells = grid({"A": (3, 20), "B": (30, 25), "C": (12, 14)})
    protected = protect(cells, GENDER, PLAIN, attackers=SINGLES)
    # A naive mean over the true values of {A, B, C} would give B: 3*mean - B - C = A.
    stats = group_statistics(la_values(protected, "Male"), viewer="B")
    assert not stats["allowed"].iloc[0]
    assert stats[["mean", "median", "min", "max"]].isna().all(axis=None)


@pytest.mark.parametrize("viewer", ["B", "C", None])
def test_differencing_group_statistics_never_read_a_suppressed_count(viewer: str | None) -> None:
    cells = grid({"A": (3, 20), "B": (30, 25), "C": (12, 14), "D": (15, 16), "F": (17, 18)})
    attackers = [Attacker(la, frozenset({la})) for la in "ABCDF"]
    protected = protect(cells, GENDER, PLAIN, attackers=attackers)
    assert audit(protected, GENDER, protection_width=5, attackers=attackers).ok
    stats = group_statistics(la_values(protected, "Male"), viewer=viewer)
    # Change A's (suppressed) true count: no published statistic moves.
    moved = protected.copy()
    moved.loc[(moved["area_code"] == "A") & (moved["breakdown"] == "Male"), "count"] = 5
    pd.testing.assert_frame_equal(stats, group_statistics(la_values(moved, "Male"), viewer=viewer))
    # And the viewer cannot difference A out: A contributes nothing to the mean.
    a_male = protected[(protected["area_code"] == "A") & (protected["breakdown"] == "Male")]
    assert a_male["published"].isna().all()


def test_differencing_outsider_row_when_nobody_knows_more() -> None:
    cells = grid(LAS)
    protected = apply_pattern(cells, PLAIN, hide(cells, *NAIVE))
    report = audit(protected, GENDER, protection_width=5, exact=True)
    assert set(report.intervals["attacker"]) == {OUTSIDER}
