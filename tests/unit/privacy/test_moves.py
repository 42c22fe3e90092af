"""Cycle moves (privacy._moves): closed-form certificates and the patterns built from them.

The certificate is only worth having if it is sound: every interval it proves must lie inside
the exact LP interval of every attacker it stands for. The property test checks that against
the slow reference auditor (one linprog per cell, attacker and sense) on random hierarchical
tables with random suppression patterns, rounding and denominators.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from tables import grid, hide, la_attackers, random_table, reference_intervals, region_coalitions

from privacy._moves import Grid
from privacy.cells import Attacker, Structure, build_relations
from privacy.policy import DFE, SuppressionPolicy
from privacy.suppression import _known_fn, apply_pattern, primary, protect

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "csc-exchange-hypothesis")

PLAIN = SuppressionPolicy(name="plain", threshold=5, suppress_zeros=False, protection_width=5)
GENDER = Structure(additive_topics=frozenset({"gender"}))


def certify(protected, structure, attackers, width=5):  # type: ignore[no-untyped-def]
    frame = protected.reset_index(drop=True)
    relations = build_relations(frame, structure)
    lower = frame["known_lower"].to_numpy(float)
    upper = frame["known_upper"].to_numpy(float)
    victims = np.flatnonzero((frame["status"] == "primary").to_numpy())
    grid_ = Grid(frame, relations, structure.additive_topics)
    return grid_.certify(np.isinf(upper), lower, upper, victims, attackers, width)


def test_moves_rectangle_certifies_the_lp_interval() -> None:
    cells = grid({"A": (3, 20), "B": (30, 25)})
    hidden = hide(cells, ("A", "Male"), ("A", "Female"), ("B", "Male"), ("B", "Female"))
    cells_, lo, hi, failing = certify(apply_pattern(cells, PLAIN, hidden), GENDER, [])
    assert len(cells_) == 1
    assert len(failing) == 0
    assert (lo[0], hi[0]) == (1.0, 22.0)


def test_moves_category_moves_with_its_total_in_a_one_topic_row() -> None:
    # A: Male 1, Female 1 (Total 2): no other category of A can give way, but A's Male and
    # Total can rise together while B's Male and Total fall (B's Female stays published).
    cells = grid({"A": (1, 1), "B": (30, 25)})
    hidden = hide(cells, ("A", "Male"), ("A", "Female"), ("A", "Total"))
    hidden |= hide(cells, ("B", "Male"), ("B", "Total"))
    protected = apply_pattern(cells, PLAIN, hidden)
    cells_, lo, hi, _ = certify(protected, GENDER, [])
    a_male = int(np.flatnonzero(hide(protected, ("A", "Male")))[0])
    at = list(cells_).index(a_male)
    assert (lo[at], hi[at]) == (1.0, 1.0 + 29)
    exact = reference_intervals(protected, GENDER)
    row = exact[exact["cell"] == a_male]
    assert (row["lower"].iloc[0], row["upper"].iloc[0]) == pytest.approx((1.0, 30.0))


def test_moves_attacker_knowing_the_only_partner_is_left_to_the_lps() -> None:
    cells = grid({"A": (3, 20), "B": (30, 25)})
    hidden = hide(cells, ("A", "Male"), ("A", "Female"), ("B", "Male"), ("B", "Female"))
    b = Attacker("B", frozenset({"B"}))
    cells_, _, _, failing = certify(apply_pattern(cells, PLAIN, hidden), GENDER, [b])
    assert len(cells_) == 0
    assert failing["attacker"].tolist() == [0]


def test_moves_second_partner_covers_the_first_partners_attack() -> None:
    cells = grid({"A": (3, 20), "B": (30, 25), "C": (12, 14)})
    cells_hidden = [(la, s) for la in ("A", "B", "C") for s in ("Male", "Female")]
    protected = apply_pattern(cells, PLAIN, hide(cells, *cells_hidden))
    attackers = [Attacker("B", frozenset({"B"})), Attacker("C", frozenset({"C"}))]
    cells_, _, hi, failing = certify(protected, GENDER, attackers)
    assert len(failing) == 0
    a_male = int(
        np.flatnonzero((protected["area_code"] == "A") & (protected["breakdown"] == "Male"))[0]
    )
    assert a_male in cells_
    # The weakest attacker is B, who leaves only the rectangle with C (Male 12, so A's Male
    # can rise by 11), and it is the one reported.
    assert hi[list(cells_).index(a_male)] == 3 + min(20 - 1, 12 - 1)


def test_moves_respect_numerator_at_most_denominator() -> None:
    cells, structure = random_table(3, regions=(3, 3), topics={"gender": 2}, denominators=True)
    protected = protect(cells, structure, PLAIN, attackers=la_attackers(cells))
    cells_, lo, hi, _ = certify(protected, structure, la_attackers(cells))
    exact = reference_intervals(protected, structure, la_attackers(cells))
    for cell, low, high in zip(cells_, lo, hi, strict=True):
        rows = exact[exact["cell"] == cell]
        assert (rows["lower"] <= low + 1e-6).all()
        assert (rows["upper"] >= high - 1e-6).all()


patterns = st.builds(
    lambda seed, regions, topics, dens, extra, rounded: (
        seed,
        regions,
        topics,
        dens,
        extra,
        rounded,
    ),
    seed=st.integers(0, 2**32 - 1),
    regions=st.lists(st.integers(2, 3), min_size=2, max_size=3).map(tuple),
    # One-topic rows exercise moves with the Total; denominators, moves of both measures.
    topics=st.sampled_from(
        [{"gender": 2, "age_band": 3}, {"gender": 3, "ethnicity": 4}, {"gender": 3}, {"age": 4}]
    ),
    dens=st.booleans(),
    extra=st.floats(0.0, 0.5),
    rounded=st.booleans(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=patterns)
def test_moves_certified_intervals_lie_inside_every_attackers_lp_interval(
    params: tuple,  # type: ignore[type-arg]
) -> None:
    seed, regions, topics, dens, extra, rounded = params
    cells, structure = random_table(seed, regions=regions, topics=topics, denominators=dens)
    policy = DFE if rounded else PLAIN
    rng = np.random.default_rng(seed)
    hidden = primary(cells, policy).to_numpy() | (rng.random(len(cells)) < extra)
    hidden &= cells["count"].to_numpy() > 0
    protected = apply_pattern(cells, policy, hidden)
    attackers = [*la_attackers(cells), *region_coalitions(cells)]
    exact = reference_intervals(protected, structure, attackers)
    # One attacker at a time, so each reported interval is that attacker's proved interval
    # (with several, a row stands for the weakest of them).
    for attacker in [None, *attackers]:
        name = "outsider" if attacker is None else attacker.name
        given = [] if attacker is None else [attacker]
        cells_, lo, hi, _ = certify(protected, structure, given, policy.protection_width)
        rows = exact[(exact["attacker"] == name) & exact["cell"].isin(cells_)]
        proved = dict(zip(cells_.tolist(), zip(lo, hi, strict=True), strict=True))
        for row in rows.itertuples():
            low, high = proved[row.cell]
            assert row.lower <= low + 1e-6, (row, low, high)
            # The reference's stand-in for infinity is 1e7 on every cell, so an unbounded
            # cell reaches nearly that.
            reach = 1e6 if np.isinf(high) else high - 1e-6
            assert row.upper >= reach, (row, low, high)
            assert row.n_values >= policy.protection_width


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_moves_construct_certifies_every_primary_cell(seed: int) -> None:
    cells, structure = random_table(seed, regions=(4, 4, 3), topics={"gender": 2, "age_band": 3})
    frame = cells.reset_index(drop=True)
    relations = build_relations(frame, structure)
    first = primary(frame, DFE).to_numpy()
    eligible = frame["count"].to_numpy() > 0
    attackers = [*la_attackers(frame), *region_coalitions(frame)]
    grid_ = Grid(frame, relations, structure.additive_topics)
    known = _known_fn(frame, DFE)
    rank = np.arange(len(frame))
    victims = np.flatnonzero(first)
    before, _, _, _ = grid_.certify(first, *known(first), victims, attackers, 5)
    hidden, _ = grid_.construct(first, eligible, known, victims, attackers, 5, 1, rank)
    assert (hidden >= first).all()
    assert not (hidden & ~eligible & ~first).any()  # never a true zero
    after, _, _, failing = grid_.certify(hidden, *known(hidden), victims, attackers, 5)
    # More cells are proved protected, none lost (suppressing more only widens intervals);
    # what is left goes to the LP loop of protect.
    assert set(before) <= set(after)
    assert len(after) > len(before)
    assert set(after).isdisjoint(failing["v"])
