"""The cell frame schema and the relations an attacker can use."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pandera.errors
import pytest
from tables import random_table

from privacy.cells import Attacker, CellFrame, Structure, build_relations, validate_cells

COLUMNS = list(CellFrame.to_schema().columns)


def frame(*rows: tuple) -> pd.DataFrame:  # type: ignore[type-arg]
    """Cells from (level, area, parent, topic, breakdown, measure, count) tuples."""
    return pd.DataFrame(
        [(lv, a, p, "ind", t, b, m, c, False) for lv, a, p, t, b, m, c in rows], columns=COLUMNS
    )


LA, REG, NAT = "Local authority", "Regional", "National"


def small() -> pd.DataFrame:
    """England = R1 = A + B; each area's Total = Male + Female; numerator <= denominator."""
    return frame(
        (NAT, "E", "", "Total", "Total", "numerator", 10),
        (NAT, "E", "", "gender", "Male", "numerator", 6),
        (NAT, "E", "", "gender", "Female", "numerator", 4),
        (REG, "R1", "E", "Total", "Total", "numerator", 10),
        (REG, "R1", "E", "gender", "Male", "numerator", 6),
        (REG, "R1", "E", "gender", "Female", "numerator", 4),
        (LA, "A", "R1", "Total", "Total", "numerator", 7),
        (LA, "A", "R1", "gender", "Male", "numerator", 4),
        (LA, "A", "R1", "gender", "Female", "numerator", 3),
        (LA, "B", "R1", "Total", "Total", "numerator", 3),
        (LA, "B", "R1", "gender", "Male", "numerator", 2),
        (LA, "B", "R1", "gender", "Female", "numerator", 1),
        (LA, "A", "R1", "Total", "Total", "denominator", 20),
    )


def test_structure_defaults_bound_numerators_by_denominators_and_respondents() -> None:
    structure = Structure(additive_topics=frozenset({"gender"}))
    assert structure.bounds == (("numerator", "denominator"), ("numerator", "respondents"))
    with pytest.raises(AttributeError):
        structure.additive_topics = frozenset()  # type: ignore[misc]


def test_attacker_is_hashable_and_knows_its_areas() -> None:
    coalition = Attacker("north east", frozenset({"A", "B"}))
    assert {coalition} == {Attacker("north east", frozenset({"B", "A"}))}
    assert "A" in coalition.areas


def test_cell_frame_coerces_counts_from_text() -> None:
    cells = small().astype({"count": str})
    assert validate_cells(cells)["count"].dtype == np.int64


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda f: f.assign(extra=1), "extra"),
        (lambda f: f.assign(count=-1), "count"),
        (lambda f: f.assign(measure="value"), "measure"),
        (lambda f: f.assign(geographic_level="Ward"), "geographic_level"),
        (lambda f: pd.concat([f, f.head(1)]), "duplicate cell key"),
    ],
)
def test_cell_frame_rejects_bad_frames(change, column: str) -> None:  # type: ignore[no-untyped-def]
    errors = (pandera.errors.SchemaError, pandera.errors.SchemaErrors)
    with pytest.raises(errors, match=column):
        validate_cells(change(small()))


def rows_of(matrix, cells: pd.DataFrame) -> set[tuple[tuple[str, str, str, int], ...]]:  # type: ignore[no-untyped-def]
    """Each relation row as a set of (area, breakdown, measure, coefficient)."""
    out = set()
    dense = matrix.toarray()
    for row in dense:
        members = np.flatnonzero(row)
        out.add(
            tuple(
                sorted(
                    (
                        cells.at[i, "area_code"],
                        cells.at[i, "breakdown"],
                        cells.at[i, "measure"],
                        int(row[i]),
                    )
                    for i in members
                )
            )
        )
    return out


def test_build_relations_breakdown_geography_and_bounds() -> None:
    cells = small()
    relations = build_relations(cells, Structure(additive_topics=frozenset({"gender"})))
    eq = rows_of(relations.eq, cells)
    assert (
        ("A", "Female", "numerator", -1),
        ("A", "Male", "numerator", -1),
        ("A", "Total", "numerator", 1),
    ) in eq
    assert (
        ("A", "Male", "numerator", -1),
        ("B", "Male", "numerator", -1),
        ("R1", "Male", "numerator", 1),
    ) in eq
    assert (("E", "Total", "numerator", 1), ("R1", "Total", "numerator", -1)) in eq
    # 4 areas x 1 topic breakdown rows, 3 breakdown cells x 2 parents geography rows.
    assert len(eq) == 4 + 6
    assert list(relations.eq_kind).count("geography") == 6
    assert rows_of(relations.ub, cells) == {
        (("A", "Total", "denominator", -1), ("A", "Total", "numerator", 1))
    }
    counts = cells["count"].to_numpy()
    assert not (relations.eq @ counts).any()
    assert (relations.ub @ counts <= 0).all()


def test_build_relations_keeps_only_relations_that_hold() -> None:
    cells = small()
    # A's Female is missing (A's Total is no longer the sum of its categories), and the
    # denominator is below the numerator (data error: not a bound an attacker can use).
    cells = cells[~((cells["area_code"] == "A") & (cells["breakdown"] == "Female"))]
    cells.loc[cells["measure"] == "denominator", "count"] = 5
    cells = cells.reset_index(drop=True)
    relations = build_relations(cells, Structure(additive_topics=frozenset({"gender"})))
    eq = rows_of(relations.eq, cells)
    assert not any(("A", "Total", "numerator", 1) in row for row in eq)
    # R1's Female = B's Female alone no longer holds (A's is missing): dropped.
    assert not any(("R1", "Female", "numerator", 1) in row for row in eq)
    assert relations.ub.shape[0] == 0


def test_build_relations_ignores_topics_that_are_not_additive() -> None:
    cells = small()
    relations = build_relations(cells, Structure(additive_topics=frozenset()))
    assert set(relations.eq_kind) == {"geography"}


def test_build_relations_is_fast_on_a_large_frame() -> None:
    tables = [
        random_table(
            seed,
            regions=(12, 12, 12),
            topics={"gender": 2, "age": 5, "eth": 8},
            denominators=True,
            indicator=f"ind{seed}",
        )[0]
        for seed in range(60)
    ]
    cells = pd.concat(tables, ignore_index=True)
    assert len(cells) > 70_000
    start = time.perf_counter()
    relations = build_relations(
        cells, Structure(additive_topics=frozenset({"gender", "age", "eth"}))
    )
    elapsed = time.perf_counter() - start
    counts = cells["count"].to_numpy()
    assert not (relations.eq @ counts).any()
    assert elapsed < 2.0
