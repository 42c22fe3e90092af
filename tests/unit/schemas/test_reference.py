"""Tests for schemas.reference: the packaged LA, region, neighbour and population reference data."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest

from schemas.reference import (
    INNER_LONDON_CODES,
    LocalAuthority,
    Neighbour,
    ReferenceData,
    UnknownCodeError,
    load_reference,
    neighbour_edition_for_year,
    reporting_year_period,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_REFERENCE = REPO_ROOT.parent / "shared" / "reference"
PACKAGED = REPO_ROOT / "schemas" / "reference" / "data"
COPIED_FILES = [
    "local_authorities_2025.csv",
    "local_authorities_history.csv",
    "regions.csv",
    "region_la_hierarchy.csv",
    "countries.csv",
    "statistical_neighbours_2021.csv",
    "statistical_neighbours_2025.csv",
    "child_population_2012_to_2024.csv",
]


@pytest.fixture(scope="module")
def ref() -> ReferenceData:
    return load_reference()


def _population_csv(year: int) -> dict[str, int | None]:
    """The published 0-17 population for ``year``, keyed as the CSV keys it (old code for LAs)."""
    values: dict[str, int | None] = {}
    with (SHARED_REFERENCE / "child_population_2012_to_2024.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if int(row["time_period"]) != year:
                continue
            key = row["old_la_code"] or row["region_code"] or row["country_code"]
            estimate = row["population_estimate"]
            values[key] = None if estimate == "x" else int(estimate)
    return values


# ------------------------------------------------------------------------------------ the copies


@pytest.mark.parametrize("name", COPIED_FILES)
def test_copy_byte_identical_to_shared(name: str) -> None:
    assert (PACKAGED / name).read_bytes() == (SHARED_REFERENCE / name).read_bytes()


@pytest.mark.parametrize("name", COPIED_FILES)
def test_provenance_describes_file(name: str) -> None:
    assert f"`{name}`" in (PACKAGED / "PROVENANCE.md").read_text(encoding="utf-8")


def test_load_reference_cached_same_object() -> None:
    assert load_reference() is load_reference()


# ------------------------------------------------------------------------------------- LA tables


def test_las_count_153(ref: ReferenceData) -> None:
    assert len(ref.las) == 153
    assert ref.las["old_la_code"].is_unique
    assert ref.las["new_la_code"].is_unique
    assert ref.las["old_la_code"].str.fullmatch(r"\d{3}").all()


def test_las_every_la_has_known_region(ref: ReferenceData) -> None:
    known = set(ref.regions["region_code"])
    assert ref.las["region_code"].isin(known).all()
    assert ref.las["region_name"].notna().all()
    assert ref.las["region_code"].nunique() == 9


def test_history_excludes_pseudo_rows(ref: ReferenceData) -> None:
    codes = set(ref.history["new_la_code"])
    assert not {c for c in codes if " / " in c or c == "z"}
    assert len(ref.history) == 176 - 3 - 1  # three combined rows and the British Forces "z" row
    assert set(ref.las["new_la_code"]) <= codes


def test_history_dates_parsed(ref: ReferenceData) -> None:
    cumbria = ref.history.set_index("new_la_code").loc["E10000006"]
    assert cumbria["date_of_termination"].date() == date(2023, 3, 31)
    assert cumbria["status"] == "terminated"
    live = ref.history[ref.history["status"] == "live"]
    assert live["date_of_termination"].isna().all()


# --------------------------------------------------------------------------------------- lookups


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("370", ("E08000038", "Barnsley")),
        ("E08000038", ("E08000038", "Barnsley")),
        ("E08000016", ("E08000016", "Barnsley")),
        ("909", ("E10000006", "Cumbria")),
        ("928", ("E10000021", "Northamptonshire")),
        ("815", ("E06000065", "North Yorkshire")),
        ("E10000023", ("E10000023", "North Yorkshire")),
        ("201", ("E09000001", "City of London")),
    ],
)
def test_la_old_or_new_code(ref: ReferenceData, code: str, expected: tuple[str, str]) -> None:
    record = ref.la(code)
    assert isinstance(record, LocalAuthority)
    assert (record.new_la_code, record.la_name) == expected
    assert ref.la_name(code) == expected[1]


@pytest.mark.parametrize("code", ["999", "x", "z", "E06000061 / E06000062", "", "e08000038", "702"])
def test_la_unknown_code_raises(ref: ReferenceData, code: str) -> None:
    with pytest.raises(UnknownCodeError):
        ref.la(code)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("370", ("E12000003", "Yorkshire and The Humber")),
        ("E08000038", ("E12000003", "Yorkshire and The Humber")),
        ("E08000016", ("E12000003", "Yorkshire and The Humber")),
        ("942", ("E12000002", "North West")),
        ("E06000064", ("E12000002", "North West")),
        ("928", ("E12000004", "East Midlands")),
        ("E06000062", ("E12000004", "East Midlands")),
        ("213", ("E12000007", "London")),
        ("E09000033", ("E12000007", "London")),
    ],
)
def test_region_of_old_and_new_code(
    ref: ReferenceData, code: str, expected: tuple[str, str]
) -> None:
    assert ref.region_of(code) == expected


def test_london_subregion_counts(ref: ReferenceData) -> None:
    subregions = [ref.london_subregion(code) for code in ref.las["new_la_code"]]
    assert subregions.count("Inner London") == 14
    assert subregions.count("Outer London") == 19
    assert sum(ref.is_london(code) for code in ref.las["old_la_code"]) == 33
    assert len(INNER_LONDON_CODES) == 14


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("201", "Inner London"),  # City of London
        ("E09000014", "Inner London"),  # Haringey: statistical Inner London
        ("316", "Inner London"),  # Newham
        ("203", "Outer London"),  # Greenwich: statistical Outer London
        ("302", "Outer London"),  # Barnet
        ("370", None),
        ("E10000006", None),
    ],
)
def test_london_subregion_single(ref: ReferenceData, code: str, expected: str | None) -> None:
    assert ref.london_subregion(code) == expected
    assert ref.is_london(code) is (expected is not None)


@pytest.mark.parametrize(
    ("subregion", "code"), [("Inner London", "E13000001"), ("Outer London", "E13000002")]
)
def test_london_subregion_matches_ons_population_rows(
    ref: ReferenceData, subregion: str, code: str
) -> None:
    members = [c for c in ref.las["old_la_code"] if ref.london_subregion(c) == subregion]
    for year in (2012, 2024):
        total = sum(ref.child_population(c, year) or 0 for c in members)
        assert total == ref.child_population(code, year)


# ------------------------------------------------------------------------------ period validity


def _valid(ref: ReferenceData, end: date) -> tuple[set[str], dict[str, str]]:
    """(canonical GSS codes, alias → canonical) for a period ending on ``end``."""
    frame = ref.codes_valid_for(date(end.year - 1, 4, 1), end)
    canonical = set(frame.loc[frame["alias_of"].isna(), "new_la_code"])
    aliases = frame[frame["alias_of"].notna()]
    return canonical, dict(zip(aliases["new_la_code"], aliases["alias_of"], strict=True))


@pytest.mark.parametrize(
    ("end", "valid", "invalid"),
    [
        # Northamptonshire ends 2021-03-31: the 2020-21 return is still its own.
        (date(2021, 3, 31), {"E10000021"}, {"E06000061", "E06000062"}),
        (date(2022, 3, 31), {"E06000061", "E06000062"}, {"E10000021"}),
        # Cumbria ends 2023-03-31: 2022-23 is Cumbria's, 2023-24 Cumberland's / W&F's.
        (date(2023, 3, 31), {"E10000006"}, {"E06000063", "E06000064"}),
        (date(2024, 3, 31), {"E06000063", "E06000064"}, {"E10000006"}),
        # Barnsley/Sheffield: 2024-25 uses the old GSS codes, as DfE's 2025 data does.
        (date(2025, 3, 31), {"E08000016", "E08000019"}, {"E08000038", "E08000039"}),
        (date(2025, 4, 30), {"E08000016", "E08000019"}, {"E08000038", "E08000039"}),
        (date(2025, 5, 1), {"E08000038", "E08000039"}, {"E08000016", "E08000019"}),
        (date(2026, 3, 31), {"E08000038", "E08000039"}, {"E08000016", "E08000019"}),
    ],
)
def test_codes_valid_for_boundary_changes(
    ref: ReferenceData, end: date, valid: set[str], invalid: set[str]
) -> None:
    canonical, _ = _valid(ref, end)
    assert valid <= canonical
    assert not invalid & canonical


@pytest.mark.parametrize(
    ("end", "expected_aliases"),
    [
        (date(2025, 3, 31), {}),
        (date(2025, 5, 1), {"E08000016": "E08000038", "E08000019": "E08000039"}),
        (date(2026, 3, 31), {"E08000016": "E08000038", "E08000019": "E08000039"}),
    ],
)
def test_codes_valid_for_barnsley_sheffield_aliases(
    ref: ReferenceData, end: date, expected_aliases: dict[str, str]
) -> None:
    _, aliases = _valid(ref, end)
    barnsley_sheffield = {k: v for k, v in aliases.items() if k in {"E08000016", "E08000019"}}
    assert barnsley_sheffield == expected_aliases


@pytest.mark.parametrize(
    ("end", "count"),
    [(date(2021, 3, 31), 151), (date(2022, 3, 31), 152), (date(2024, 3, 31), 153)],
)
def test_codes_valid_for_canonical_count(ref: ReferenceData, end: date, count: int) -> None:
    canonical, _ = _valid(ref, end)
    assert len(canonical) == count


def test_codes_valid_for_columns_and_no_aliases(ref: ReferenceData) -> None:
    frame = ref.codes_valid_for(date(2025, 4, 1), date(2026, 3, 31), include_aliases=False)
    assert list(frame.columns) == [
        "old_la_code",
        "new_la_code",
        "la_name",
        "region_code",
        "region_name",
        "alias_of",
    ]
    assert frame["alias_of"].isna().all()
    assert set(frame["new_la_code"]) == set(ref.las["new_la_code"])


def test_codes_valid_for_accepts_datetime(ref: ReferenceData) -> None:
    by_date = ref.codes_valid_for(date(2020, 4, 1), date(2021, 3, 31))
    by_datetime = ref.codes_valid_for(datetime(2020, 4, 1), datetime(2021, 3, 31, 23, 59))
    assert by_date.equals(by_datetime)


def test_codes_valid_for_reversed_period_raises(ref: ReferenceData) -> None:
    with pytest.raises(ValueError, match="after its end"):
        ref.codes_valid_for(date(2021, 3, 31), date(2020, 4, 1))


def test_code_aliases_same_old_code_and_name(ref: ReferenceData) -> None:
    aliases = ref.code_aliases()
    assert dict(zip(aliases["alias_code"], aliases["new_la_code"], strict=True)) == {
        "E06000048": "E06000057",  # Northumberland 2013
        "E08000016": "E08000038",  # Barnsley 2025
        "E08000019": "E08000039",  # Sheffield 2025
        "E08000020": "E08000037",  # Gateshead 2013
        "E10000002": "E06000060",  # Buckinghamshire 2020
        "E10000023": "E06000065",  # North Yorkshire 2023
        "E10000027": "E06000066",  # Somerset 2023
    }


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2021, (date(2020, 4, 1), date(2021, 3, 31))), (2025, (date(2024, 4, 1), date(2025, 3, 31)))],
)
def test_reporting_year_period_april_to_march(year: int, expected: tuple[date, date]) -> None:
    assert reporting_year_period(year) == expected


# ---------------------------------------------------------------------------------------- lineage


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("E10000006", ["E06000063", "E06000064"]),  # Cumbria 2023
        ("909", ["E06000063", "E06000064"]),
        ("E10000021", ["E06000061", "E06000062"]),  # Northamptonshire 2021
        ("928", ["E06000061", "E06000062"]),
        ("E08000016", ["E08000038"]),  # Barnsley re-coded 2025
        ("E08000019", ["E08000039"]),  # Sheffield re-coded 2025
        ("370", []),  # the series under old code 370 continues unbroken
        ("E06000028", ["E06000058"]),  # Bournemouth → BCP
        ("E10000009", ["E06000058", "E06000059"]),  # Dorset county → BCP (Christchurch) + Dorset
        ("E10000001", ["E06000055", "E06000056"]),  # Bedfordshire 2009
        ("E10000010", ["E06000047"]),  # Durham county → County Durham 2009
        ("E06000063", []),  # live
    ],
)
def test_successors_from_history(ref: ReferenceData, code: str, expected: list[str]) -> None:
    assert [la.new_la_code for la in ref.successors(code)] == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("942", ["E10000006"]),
        ("E06000064", ["E10000006"]),
        ("940", ["E10000021"]),
        ("E08000038", ["E08000016"]),
        ("373", []),
        ("839", ["E06000028", "E06000029", "E10000009"]),
        ("838", ["E10000009"]),
        ("E10000006", []),
    ],
)
def test_predecessors_from_history(ref: ReferenceData, code: str, expected: list[str]) -> None:
    assert [la.new_la_code for la in ref.predecessors(code)] == expected


def test_successors_unknown_code_raises(ref: ReferenceData) -> None:
    with pytest.raises(UnknownCodeError):
        ref.successors("999")


# --------------------------------------------------------------------------- statistical neighbours


def test_neighbours_2025_ten_for_every_live_la(ref: ReferenceData) -> None:
    for code in ref.las["old_la_code"]:
        neighbours = ref.statistical_neighbours(code, 2025)
        assert [n.rank for n in neighbours] == list(range(1, 11)), code
        assert code not in {n.old_la_code for n in neighbours}


def test_neighbours_2021_ten_except_new_cumbrian_las(ref: ReferenceData) -> None:
    counts = {code: len(ref.statistical_neighbours(code, 2021)) for code in ref.las["old_la_code"]}
    assert {code for code, n in counts.items() if n != 10} == {"942", "943"}
    assert counts["942"] == counts["943"] == 0
    assert len(ref.statistical_neighbours("909", 2021)) == 10  # Cumbria, terminated since


def test_neighbours_2025_codes_are_live_las(ref: ReferenceData) -> None:
    lists = ref.neighbour_lists[ref.neighbour_lists["edition"] == 2025]
    live = set(ref.las["old_la_code"])
    assert set(lists["la_code"]) == live
    assert set(lists["neighbour_code"]) <= live


def test_neighbours_2021_codes_resolve_only_cumbria_terminated(ref: ReferenceData) -> None:
    lists = ref.neighbour_lists[ref.neighbour_lists["edition"] == 2021]
    live = set(ref.las["old_la_code"])
    codes = set(lists["la_code"]) | set(lists["neighbour_code"])
    assert codes - live == {"909"}
    cumbria = ref.la("909")
    assert (cumbria.is_live, cumbria.date_of_termination) == (False, date(2023, 3, 31))
    assert (lists["neighbour_code"] == "909").sum() == 8
    assert not (live - set(lists["la_code"])) - {"942", "943"}


def test_neighbours_closeness_normalised(ref: ReferenceData) -> None:
    assert set(ref.neighbour_lists["closeness"]) == {
        "Extremely close",
        "Very close",
        "Close",
        "Somewhat close",
        "Not close",
    }


def test_neighbours_by_new_code_named(ref: ReferenceData) -> None:
    first = ref.statistical_neighbours("E08000038")[0]
    assert first == Neighbour(1, "372", "Rotherham", "Very close")
    assert ref.statistical_neighbours("E08000016") == ref.statistical_neighbours("370")


def test_neighbours_absent_from_edition_empty(ref: ReferenceData) -> None:
    assert ref.statistical_neighbours("909", 2025) == []


def test_neighbours_unknown_edition_raises(ref: ReferenceData) -> None:
    with pytest.raises(ValueError, match="edition"):
        ref.statistical_neighbours("370", 2019)


@pytest.mark.parametrize(
    ("year", "edition"), [(2013, 2021), (2021, 2021), (2024, 2021), (2025, 2025), (2026, 2025)]
)
def test_neighbour_edition_for_year_rule(ref: ReferenceData, year: int, edition: int) -> None:
    assert neighbour_edition_for_year(year) == edition
    assert ref.neighbour_edition_for_year(year) == edition


@pytest.mark.parametrize("year", [202425, 25, True])
def test_neighbour_edition_for_year_rejects_non_year(year: int) -> None:
    with pytest.raises(ValueError, match="4-digit"):
        neighbour_edition_for_year(year)


# ------------------------------------------------------------------------------------ population


@pytest.mark.parametrize(
    ("code", "csv_key"),
    [
        ("370", "370"),  # Barnsley by old code
        ("E08000038", "370"),  # by new GSS code (the CSV still says E08000016)
        ("E08000016", "370"),
        ("942", "942"),
        ("E12000007", "E12000007"),  # London region
        ("E13000001", "E13000001"),  # Inner London
        ("E92000001", "E92000001"),  # England
        ("England", "E92000001"),
    ],
)
def test_child_population_2024_matches_csv(ref: ReferenceData, code: str, csv_key: str) -> None:
    expected = _population_csv(2024)[csv_key]
    assert expected is not None
    assert ref.child_population(code, 2024) == expected


def test_child_population_every_live_la_2024(ref: ReferenceData) -> None:
    published = _population_csv(2024)
    for code in ref.las["old_la_code"]:
        assert ref.child_population(code, 2024) == published[code]
    total = sum(published[code] or 0 for code in ref.las["old_la_code"])
    assert total == ref.child_population("E92000001", 2024)


@pytest.mark.parametrize(
    ("code", "year"),
    [
        ("942", 2020),
        ("940", 2020),
        ("837", 2015),
        ("E10000009", 2018),
        ("370", 2030),
        ("370", 2011),
    ],
)
def test_child_population_missing_is_none(ref: ReferenceData, code: str, year: int) -> None:
    assert ref.child_population(code, year) is None


@pytest.mark.parametrize(
    ("code", "year", "expected"), [("928", 2020, 170287), ("909", 2022, 90547)]
)
def test_child_population_terminated_la(
    ref: ReferenceData, code: str, year: int, expected: int
) -> None:
    assert ref.child_population(code, year) == expected


def test_child_population_unknown_code_raises(ref: ReferenceData) -> None:
    with pytest.raises(UnknownCodeError):
        ref.child_population("E99999999", 2024)


def test_child_population_frame_is_copy(ref: ReferenceData) -> None:
    frame = ref.child_population_frame()
    frame.loc[:, "population"] = 0
    assert ref.child_population("E92000001", 2024) == 12183016
    assert ref.population["population"].max() == 12183016


# ---------------------------------------------------------------------------------------- export


def test_to_frames_tables_and_columns(ref: ReferenceData) -> None:
    frames = ref.to_frames()
    assert set(frames) == {
        "las",
        "la_history",
        "regions",
        "statistical_neighbours",
        "child_population",
    }
    assert len(frames["las"]) == 153
    assert set(frames["statistical_neighbours"]["edition"]) == {2021, 2025}
    assert (frames["statistical_neighbours"]["neighbour_code"] != "-").all()
    assert len(frames["statistical_neighbours"]) == 1530 + 1520
    assert list(frames["child_population"].columns) == [
        "year",
        "geographic_level",
        "area_code",
        "area_name",
        "old_la_code",
        "region_code",
        "population",
    ]
    assert frames["child_population"]["population"].isna().sum() == 21
    assert frames["las"] is not ref.las
