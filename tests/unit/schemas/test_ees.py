"""EES files of a release: columns, geography, metadata and footnotes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from schemas.catalogue import load_catalogue
from schemas.ees import (
    GEOGRAPHY_COLUMNS,
    INDICATOR_COLUMNS,
    META_COLUMNS,
    meta_table,
    release_table,
    write_ees,
)
from schemas.reference import load_reference


def published() -> pd.DataFrame:
    base = {"indicator_id": "t3_referrals_nfa", "breakdown_topic": "Total", "breakdown": "Total"}
    rows = [
        ("National", "E92000001", "120", "1000", "12.0"),
        ("Regional", "E13000001", "10", "100", "10.0"),
        ("Local authority", "E09000007", "c", "57", "c"),
    ]
    return pd.DataFrame(
        [
            {
                **base,
                "geographic_level": level,
                "area_code": code,
                "numerator": num,
                "denominator": den,
                "respondents": "z",
                "n": "z",
                "value": value,
                "sd": "z",
            }
            for level, code, num, den, value in rows
        ]
    )


def test_release_table_has_ees_columns_and_geography() -> None:
    table = release_table(
        published(),
        load_catalogue(),
        load_reference(),
        time_period="2025",
        time_identifier="Reporting year",
    )
    assert list(table.columns[: len(GEOGRAPHY_COLUMNS)]) == list(GEOGRAPHY_COLUMNS)
    assert list(table.columns[-len(INDICATOR_COLUMNS) :]) == list(INDICATOR_COLUMNS)
    assert table["geographic_level"].tolist() == ["National", "Regional", "Local authority"]
    camden = table.iloc[2]
    assert (camden["region_code"], camden["region_name"]) == ("E13000001", "Inner London")
    assert (camden["old_la_code"], camden["la_name"]) == ("202", "Camden")
    assert camden["numerator"] == "c"
    assert camden["percent"] == "c"
    assert table.iloc[0]["percent"] == "12.0"
    assert table.iloc[0]["mean"] == "z"
    assert table.iloc[1]["region_name"] == "Inner London"


def test_meta_table_lists_every_filter_and_indicator_column() -> None:
    meta = meta_table()
    assert list(meta.columns) == list(META_COLUMNS)
    filters = meta[meta["col_type"] == "Filter"]
    assert set(filters["filter_default"]) == {"Total"}
    assert (
        meta.set_index("col_name").loc["breakdown", "filter_grouping_column"] == "breakdown_topic"
    )
    assert set(meta.loc[meta["col_type"] == "Indicator", "col_name"]) == set(INDICATOR_COLUMNS)
    assert meta.set_index("col_name").loc["percent", "indicator_unit"] == "%"


def test_write_ees_writes_data_meta_and_footnotes(tmp_path: Path) -> None:
    table = release_table(
        published(),
        load_catalogue(),
        load_reference(),
        time_period="2025",
        time_identifier="Reporting year",
    )
    paths = write_ees(table, meta_table(), tmp_path / "out", "rel", ["Policy: dfe.", "Rounded."])
    assert [p.name for p in paths] == ["rel.csv", "rel.meta.csv", "rel.footnotes.txt"]
    back = pd.read_csv(paths[0], dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, table)
    assert paths[2].read_text() == "1. Policy: dfe.\n2. Rounded.\n"
