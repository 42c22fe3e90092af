"""The national cell frame: LA cells and their sums up the real geography."""

from __future__ import annotations

import pandas as pd
import pytest

from privacy.national import ENGLAND, LONDON, area_parents, la_cells, national_cells
from schemas.catalogue import load_catalogue
from schemas.reference import load_reference

KEY = ["indicator_id", "breakdown_topic", "breakdown", "measure"]


@pytest.fixture(scope="module")
def catalogue():  # type: ignore[no-untyped-def]
    return load_catalogue()


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    return load_reference()


def rows(*records: tuple[str, str, str, str, object, object]) -> pd.DataFrame:
    return pd.DataFrame(
        records,
        columns=[
            "new_la_code",
            "indicator_id",
            "breakdown_topic",
            "breakdown",
            "numerator",
            "denominator",
        ],
    ).assign(respondents="z", n="z")


def test_area_parents_london_las_sum_into_inner_and_outer_london(reference) -> None:  # type: ignore[no-untyped-def]
    areas = area_parents(["E09000007", "E09000003", "E06000047"], reference).set_index("area_code")
    assert areas.loc["E09000007", "parent_code"] == "E13000001"  # Camden: Inner London
    assert areas.loc["E09000003", "parent_code"] == "E13000002"  # Barnet: Outer London
    assert areas.loc["E13000001", "parent_code"] == LONDON
    assert areas.loc["E06000047", "parent_code"] == "E12000001"  # County Durham: North East
    assert areas.loc[LONDON, "parent_code"] == ENGLAND
    assert areas.loc[ENGLAND, "geographic_level"] == "National"
    assert areas.loc["E13000002", "geographic_level"] == "Regional"


def test_la_cells_drops_symbols_blanks_and_unused_measures(catalogue) -> None:  # type: ignore[no-untyped-def]
    frame = rows(
        ("E06000047", "t3_referrals_nfa", "Total", "Total", "12", "c"),
        ("E06000047", "t3_referrals_nfa", "gender", "Male", "", "40"),
    )
    cells = la_cells(frame, catalogue)
    assert sorted(map(tuple, cells[["breakdown", "measure", "count"]].to_numpy().tolist())) == [
        ("Male", "denominator", 40),
        ("Total", "numerator", 12),
    ]
    assert not cells["public"].any()


def test_national_cells_sums_hold_exactly_up_to_england(catalogue, reference) -> None:  # type: ignore[no-untyped-def]
    frame = rows(
        ("E09000007", "t3_referrals_nfa", "Total", "Total", 3, 30),  # Camden, Inner London
        ("E09000003", "t3_referrals_nfa", "Total", "Total", 4, 40),  # Barnet, Outer London
        ("E06000047", "t3_referrals_nfa", "Total", "Total", 5, 50),  # Durham, North East
        ("E06000005", "t3_referrals_nfa", "Total", "Total", 6, "x"),  # Darlington
    )
    cells, structure = national_cells(frame, catalogue, reference)
    count = cells.set_index(["area_code", "measure"])["count"]
    assert count[("E13000001", "numerator")] == 3
    assert count[(LONDON, "numerator")] == 7
    assert count[("E12000001", "numerator")] == 11
    assert count[("E12000001", "denominator")] == 50  # Darlington's "x" adds nothing
    assert count[(ENGLAND, "numerator")] == 18
    assert count[(ENGLAND, "denominator")] == 120
    kids = cells[cells["parent_code"] != ""].groupby(["parent_code", *KEY])["count"].sum()
    parents = cells.set_index(["area_code", *KEY])["count"]
    for key, total in kids.items():
        assert parents[key] == total
    assert "gender" in structure.additive_topics
