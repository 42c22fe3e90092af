"""Values a release shows are derived from its published counts only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privacy.release import published_table
from schemas.catalogue import load_catalogue

NE, DURHAM, DARLINGTON, ENGLAND = "E12000001", "E06000047", "E06000005", "E92000001"
LEVEL = {
    ENGLAND: "National",
    NE: "Regional",
    DURHAM: "Local authority",
    DARLINGTON: "Local authority",
}
PARENT = {ENGLAND: "", NE: ENGLAND, DURHAM: NE, DARLINGTON: NE}
PROPORTION = "t3_referrals_nfa"
MEAN = "t5_sdq_total_difficulties_change"


@pytest.fixture(scope="module")
def catalogue():  # type: ignore[no-untyped-def]
    return load_catalogue()


def cells(*records: tuple[str, str, str, int, int | None, str]) -> pd.DataFrame:
    """(area, indicator, measure, count, published, symbol) -> a protected frame (Total rows)."""
    rows = []
    for area, indicator, measure, count, published, symbol in records:
        rows.append(
            {
                "geographic_level": LEVEL[area],
                "area_code": area,
                "parent_code": PARENT[area],
                "indicator_id": indicator,
                "breakdown_topic": "Total",
                "breakdown": "Total",
                "measure": measure,
                "count": count,
                "public": False,
                "published": published,
                "symbol": symbol,
                "status": "primary" if symbol else "exact",
            }
        )
    frame = pd.DataFrame(rows)
    frame["published"] = frame["published"].astype("Int64")
    return frame


def la_rows(*records: tuple[str, str, float | None, float | None, dict | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "new_la_code": a,
                "indicator_id": i,
                "breakdown_topic": "Total",
                "breakdown": "Total",
                "value": v,
                "sd": sd,
                "symbols": s,
            }
            for a, i, v, sd, s in records
        ],
        columns=[
            "new_la_code",
            "indicator_id",
            "breakdown_topic",
            "breakdown",
            "value",
            "sd",
            "symbols",
        ],
    )


def shown(table: pd.DataFrame, area: str, column: str) -> str:
    return table.set_index("area_code").loc[area, column]


def test_published_table_percentage_of_suppressed_numerator_is_c(catalogue) -> None:  # type: ignore[no-untyped-def]
    protected = cells(
        (DURHAM, PROPORTION, "numerator", 3, None, "c"),
        (DURHAM, PROPORTION, "denominator", 40, 40, ""),
        (NE, PROPORTION, "numerator", 13, 10, ""),
        (NE, PROPORTION, "denominator", 87, 90, ""),
    )
    table = published_table(protected, la_rows(), catalogue)
    assert shown(table, DURHAM, "numerator") == "c"
    assert shown(table, DURHAM, "value") == "c"
    assert shown(table, DURHAM, "respondents") == "z"  # not a measure of a proportion
    # From the rounded counts (10 / 90), never from the true ones (13 / 87).
    assert shown(table, NE, "value") == "11.1"


def test_published_table_missing_count_shows_the_las_own_symbol(catalogue) -> None:  # type: ignore[no-untyped-def]
    protected = cells((DURHAM, PROPORTION, "denominator", 40, 40, ""))
    rows = la_rows((DURHAM, PROPORTION, None, None, {"numerator": "u"}))
    table = published_table(protected, rows, catalogue)
    assert shown(table, DURHAM, "numerator") == "u"
    assert shown(table, DURHAM, "value") == "x"


def test_published_table_means_use_published_las_only(catalogue) -> None:  # type: ignore[no-untyped-def]
    protected = cells(
        (DURHAM, MEAN, "n", 30, 30, ""),
        (DARLINGTON, MEAN, "n", 4, None, "c"),
        (NE, MEAN, "n", 34, 30, ""),
        (ENGLAND, MEAN, "n", 34, 30, ""),
    )
    rows = la_rows((DURHAM, MEAN, -1.0, 2.0, None), (DARLINGTON, MEAN, 5.0, 1.0, None))
    table = published_table(protected, rows, catalogue)
    assert shown(table, DARLINGTON, "value") == "c"
    assert shown(table, DARLINGTON, "sd") == "c"
    assert shown(table, DURHAM, "value") == "-1.00"
    # Darlington's suppressed mean does not move the region's: only Durham contributes.
    assert shown(table, NE, "value") == "-1.00"
    assert shown(table, ENGLAND, "value") == "-1.00"
    assert shown(table, NE, "sd") == "x"


def test_published_table_withholds_means_for_noise_only_releases(catalogue) -> None:  # type: ignore[no-untyped-def]
    protected = cells((DURHAM, MEAN, "n", 30, 31, ""))
    rows = la_rows((DURHAM, MEAN, -1.0, 2.0, None))
    table = published_table(protected, rows, catalogue, withhold_means=True)
    assert shown(table, DURHAM, "value") == "x"
    assert shown(table, DURHAM, "n") == "31"


def test_published_table_yes_no_facts_are_shown_for_las_only(catalogue) -> None:  # type: ignore[no-untyped-def]
    yes_no = next(i.id for i in catalogue.indicators.values() if i.measure_type == "yes_no")
    protected = cells((NE, PROPORTION, "numerator", 13, 10, ""))
    rows = la_rows((DURHAM, yes_no, 1.0, None, None), (DARLINGTON, yes_no, 0.0, None, None))
    table = published_table(protected, rows, catalogue).set_index(["area_code", "indicator_id"])
    assert table.loc[(DURHAM, yes_no), "value"] == "1"
    assert table.loc[(DARLINGTON, yes_no), "value"] == "0"
    assert np.all(table.loc[(DURHAM, yes_no), ["numerator", "n"]].to_numpy() == "z")
