"""The synthetic data generator: deterministic, complete, internally consistent and realistic.

Most tests share one generation of two reporting years for every LA (module fixture). The
validation of generated files with the real validator is in
``tests/integration/test_validate_cli.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas.catalogue import load_catalogue
from schemas.reference import load_reference
from schemas.synth import (
    COLUMNS,
    generate,
    journeys,
    rows_per_return,
    write_benchmark_file,
    write_broken_files,
    write_files,
)
from schemas.synth.broken import CASE_NAMES
from schemas.synth.derive import derive_la_rates, rates_csv
from schemas.synth.files import benchmark_years, frame_to_csv
from schemas.upload import validate_path

SEED = 20261126
YEARS = [2023, 2024]
COUNTS = ("numerator", "denominator", "respondents", "n")
SYMBOLS = ("c", "x", "z", "u", "low")
REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_PUBLISHED = REPO_ROOT.parent / "shared" / "published"
PACKAGED_RATES = REPO_ROOT / "schemas" / "synth" / "data" / "la_rates.csv"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(YEARS, SEED)


@pytest.fixture(scope="module")
def numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """The measure columns as numbers (NaN for blanks and symbols), plus catalogue facts."""
    catalogue = load_catalogue()
    out = pd.DataFrame(
        {c: pd.to_numeric(frame[c], errors="coerce") for c in (*COUNTS, "value", "sd")}
    )
    kinds = {i: ind.measure_type for i, ind in catalogue.indicators.items()}
    out["measure_type"] = frame["indicator_id"].map(kinds)
    out["decimals"] = frame["indicator_id"].map(
        {i: ind.decimals for i, ind in catalogue.indicators.items()}
    )
    return out


def _used(measure_type: str) -> tuple[str, ...]:
    mt = load_catalogue().measure_types[measure_type]
    return (*mt.required, *mt.optional)


# ---------------------------------------------------------------------------------- determinism


def test_generate_same_seed_same_bytes() -> None:
    first = frame_to_csv(generate([2024], 11, las=["840", "201"]))
    second = frame_to_csv(generate([2024], 11, las=["840", "201"]))
    assert first == second


def test_generate_different_seed_differs() -> None:
    one = generate([2024], 11, las=["840"])
    other = generate([2024], 12, las=["840"])
    assert one[["indicator_id", "breakdown"]].equals(other[["indicator_id", "breakdown"]])
    assert not one["numerator"].equals(other["numerator"])


def test_generate_subset_matches_full(frame: pd.DataFrame) -> None:
    """An LA's rows do not depend on which other LAs or periods were asked for."""
    alone = generate([2024], SEED, las=["E06000047"]).reset_index(drop=True)
    full = frame[(frame["time_period"] == "2024") & (frame["old_la_code"] == "840")]
    pd.testing.assert_frame_equal(alone, full.reset_index(drop=True))


def test_write_files_same_seed_same_bytes(tmp_path: Path) -> None:
    for fmt in ("csv", "xlsx"):
        first = write_files(tmp_path / f"a_{fmt}", [2025], 5, fmt=fmt, las=["857"])
        second = write_files(tmp_path / f"b_{fmt}", [2025], 5, fmt=fmt, las=["857"])
        assert [p.name for p in first] == [f"857_rutland_2025.{fmt}"]
        assert first[0].read_bytes() == second[0].read_bytes()


def test_journeys_same_seed_same_rows() -> None:
    pd.testing.assert_frame_equal(journeys(3), journeys(3))
    assert not journeys(3)["old_la_code"].equals(journeys(4)["old_la_code"])


# --------------------------------------------------------------------------------- completeness


def test_generate_all_las_and_indicators_present(frame: pd.DataFrame) -> None:
    catalogue, reference = load_catalogue(), load_reference()
    latest = frame[frame["time_period"] == "2024"]
    assert set(latest["old_la_code"]) == set(reference.las["old_la_code"])
    assert latest["old_la_code"].nunique() == 153
    assert set(latest["indicator_id"]) == set(catalogue.indicators)
    assert len(catalogue.indicators) == 125
    assert list(frame.columns) == list(COLUMNS)
    per_return = latest.groupby("old_la_code").size()
    assert (per_return == rows_per_return()).all()
    totals = latest[latest["breakdown_topic"] == "Total"]
    assert len(totals) == 153 * 125


def test_generate_every_allowed_breakdown_category(frame: pd.DataFrame) -> None:
    catalogue = load_catalogue()
    one = frame[(frame["time_period"] == "2024") & (frame["old_la_code"] == "840")]
    for ind in catalogue.indicators.values():
        rows = one[one["indicator_id"] == ind.id]
        for dim in ind.breakdowns:
            got = list(rows.loc[rows["breakdown_topic"] == dim, "breakdown"])
            assert got == list(catalogue.breakdowns[dim].values), (ind.id, dim)


def test_generate_codes_valid_for_each_period(frame: pd.DataFrame) -> None:
    """Cumbria until 2023, its successors from 2024; Barnsley's GSS code changes for 2026."""
    y2023 = set(frame.loc[frame["time_period"] == "2023", "old_la_code"])
    y2024 = set(frame.loc[frame["time_period"] == "2024", "old_la_code"])
    assert "909" in y2023
    assert not {"942", "943"} & y2023
    assert "909" not in y2024
    assert {"942", "943"} <= y2024
    barnsley = generate([2025, 2026], SEED, las=["370"])
    codes = barnsley.groupby("time_period")["new_la_code"].unique()
    assert list(codes["2025"]) == ["E08000016"]
    assert list(codes["2026"]) == ["E08000038"]
    assert generate([2021], SEED, las=["928"])["la_name"].iloc[0] == "Northamptonshire"


def test_generate_keys_unique(frame: pd.DataFrame) -> None:
    key = ["time_period", "time_identifier", "new_la_code", "indicator_id"]
    assert not frame.duplicated([*key, "breakdown_topic", "breakdown"]).any()


def test_generate_fixed_columns(frame: pd.DataFrame) -> None:
    assert set(frame["time_identifier"]) == {"Reporting year"}
    assert set(frame["geographic_level"]) == {"Local authority"}
    assert set(frame["country_code"]) == {"E92000001"}
    reference = load_reference()
    regions = dict(zip(reference.las["old_la_code"], reference.las["region_code"], strict=True))
    latest = frame[frame["time_period"] == "2024"].drop_duplicates("old_la_code")
    assert (latest["old_la_code"].map(regions) == latest["region_code"]).all()


def test_generate_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="not a known LA code"):
        generate([2024], 1, las=["999"])
    with pytest.raises(ValueError, match="reporting year"):
        generate([202425], 1)
    with pytest.raises(ValueError, match="seed"):
        generate([2024], -1)
    with pytest.raises(ValueError, match="repeat"):
        generate([2024, 2024], 1)


# ---------------------------------------------------------------------------------- consistency


def test_generate_sums_exact(frame: pd.DataFrame, numbers: pd.DataFrame) -> None:
    """Every complete, all-numeric category set sums exactly to its Total, for every count the
    measure type uses; a distribution's own categories each carry the whole cohort."""
    catalogue = load_catalogue()
    own = {
        (i, d)
        for i, ind in catalogue.indicators.items()
        if ind.measure_type == "change_distribution"
        for d in ind.required_breakdowns
    }
    sizes = {d: len(b.values) for d, b in catalogue.breakdowns.items()}
    group = ["time_period", "old_la_code", "indicator_id"]
    keys = frame[[*group, "breakdown_topic"]]
    is_total = keys["breakdown_topic"] == "Total"
    is_own = pd.Series(
        [(i, t) in own for i, t in zip(keys["indicator_id"], keys["breakdown_topic"], strict=True)],
        index=frame.index,
    )
    checked = 0
    for column in COUNTS:
        values = numbers[column]
        totals = pd.concat([keys, values], axis=1)[is_total].set_index(group)[column]
        cats = pd.concat([keys, values], axis=1)[~is_total & values.notna()]
        if column == "denominator":
            own_rows = pd.concat([keys, values], axis=1)[is_own & values.notna()]
            joined = own_rows.join(totals.rename("total"), on=group)
            assert (joined[column] == joined["total"]).all()
            cats = cats[~is_own[cats.index]]
        summed = cats.groupby([*group, "breakdown_topic"])[column].agg(["sum", "count"])
        complete = summed[summed["count"] == summed.index.get_level_values(-1).map(sizes)]
        joined = complete.join(totals.rename("total"), on=group)
        mismatched = joined[joined["sum"] != joined["total"]]
        assert mismatched.empty, mismatched.head()
        checked += len(joined)
    assert checked > 100_000


def test_generate_numerator_within_denominator(numbers: pd.DataFrame) -> None:
    den = numbers["denominator"].fillna(numbers["respondents"])
    assert not (numbers["numerator"] > den).any()
    assert (numbers[list(COUNTS)].fillna(0) >= 0).all().all()


def test_generate_values_rounded_from_counts(numbers: pd.DataFrame) -> None:
    """value = numerator / denominator x 100, rounded half up to the indicator's decimals."""
    den = numbers["denominator"].fillna(numbers["respondents"])
    rows = numbers["numerator"].notna() & (den > 0)
    assert rows.sum() > 400_000
    num, den, dec = numbers["numerator"][rows], den[rows], numbers["decimals"][rows]
    unit = 10.0**dec
    expected = np.floor((2 * num * 100 * unit + den) / (2 * den)) / unit
    assert np.allclose(numbers["value"][rows], expected, rtol=0, atol=1e-9)


def test_generate_values_written_to_decimals(frame: pd.DataFrame) -> None:
    numeric = frame["value"].str.fullmatch(r"-?[0-9]+(\.[0-9]+)?")
    decimals = frame["indicator_id"].map(
        {i: ind.decimals for i, ind in load_catalogue().indicators.items()}
    )
    places = frame["value"].str.partition(".")[2].str.len()
    assert (places[numeric] == decimals[numeric]).all()


def test_generate_means_non_negative_unless_allowed(numbers: pd.DataFrame) -> None:
    mean_rows = numbers["measure_type"] == "mean"
    assert (numbers.loc[mean_rows, "value"].dropna() >= 0).all()
    change = numbers["measure_type"] == "mean_change"
    assert (numbers.loc[change, "value"].dropna() < 0).any()


def test_generate_unused_measure_cells_blank(frame: pd.DataFrame, numbers: pd.DataFrame) -> None:
    for measure_type, rows in frame.groupby(numbers["measure_type"]):
        for column in ("numerator", "denominator", "respondents", "n", "value", "sd"):
            if column not in _used(str(measure_type)):
                assert (rows[column] == "").all(), (measure_type, column)


def test_generate_yes_no_values(frame: pd.DataFrame, numbers: pd.DataFrame) -> None:
    values = frame.loc[numbers["measure_type"] == "yes_no", "value"]
    assert set(values) <= {"yes", "no", "x"}
    assert {"yes", "no"} <= set(values)
    # "Report 'no' where there is no values statement", and the item on applying the values
    # is not applicable (z) there.
    totals = frame[frame["breakdown_topic"] == "Total"].set_index(["time_period", "old_la_code"])
    statement = totals.loc[totals["indicator_id"] == "t2_values_statement", "value"]
    describes = totals.loc[
        totals["indicator_id"] == "t2_values_statement_describes_operation", "value"
    ]
    applies = totals.loc[totals["indicator_id"] == "t2_staff_apply_values", "numerator"]
    without = statement[statement == "no"].index
    assert len(without) > 0
    assert (describes[without] == "no").all()
    assert (applies[without] == "z").all()


# ------------------------------------------------------------------------------------- symbols


def test_generate_symbols_present_and_consistent(
    frame: pd.DataFrame, numbers: pd.DataFrame
) -> None:
    cells = frame[["numerator", "denominator", "respondents", "n", "value", "sd"]]
    used = cells != ""
    x_share = (cells == "x").sum().sum() / used.sum().sum()
    assert 0.003 < x_share < 0.02
    assert (cells == "z").any().any()
    # Whole-row consistency: a count given as a symbol means every measure cell is that symbol.
    count_symbol = frame["numerator"].isin(SYMBOLS) | frame["n"].isin(SYMBOLS)
    for column in ("denominator", "respondents", "value", "sd"):
        rows = count_symbol & (frame[column] != "")
        assert (
            frame.loc[rows, column]
            == frame.loc[rows, "numerator"].where(
                frame.loc[rows, "numerator"] != "", frame.loc[rows, "n"]
            )
        ).all(), column
    # z without a symbol count only where a figure cannot exist: a percentage of nobody, a
    # mean of nobody, or the SD of fewer than two.
    den = numbers["denominator"].fillna(numbers["respondents"])
    value_z = (frame["value"] == "z") & ~count_symbol
    assert ((den[value_z] == 0) | (numbers.loc[value_z, "n"] == 0)).all()
    sd_z = (frame["sd"] == "z") & ~count_symbol
    assert (numbers.loc[sd_z, "n"] < 2).all()


# ------------------------------------------------------------------------------------- realism


def test_generate_small_counts_present(frame: pd.DataFrame, numbers: pd.DataFrame) -> None:
    counts = numbers[list(COUNTS)]
    small = ((counts >= 1) & (counts <= 5)).any(axis=1)
    for code in ("201", "420", "857"):  # City of London, Isles of Scilly, Rutland
        share = small[frame["old_la_code"] == code].mean()
        assert share > 0.2, code
    assert small[frame["breakdown_topic"] != "Total"].sum() > 20_000


def test_generate_cohorts_scale_with_population(frame: pd.DataFrame, numbers: pd.DataFrame) -> None:
    reference = load_reference()
    totals = frame["breakdown_topic"] == "Total"
    rows = totals & (frame["indicator_id"] == "t5_went_missing") & (frame["time_period"] == "2024")
    cohort = numbers.loc[rows, "denominator"].set_axis(frame.loc[rows, "old_la_code"]).dropna()
    population = pd.Series({c: reference.child_population(c, 2024) for c in cohort.index})
    assert np.corrcoef(np.log(cohort + 1), np.log(population.astype(float)))[0, 1] > 0.9
    survey = totals & (frame["indicator_id"] == "t2_feel_valued") & (frame["time_period"] == "2024")
    respondents = numbers.loc[survey, "respondents"].dropna()
    assert respondents.quantile(0.1) >= 30
    assert respondents.quantile(0.9) <= 600
    agreement = totals & (numbers["measure_type"] == "agreement")
    assert numbers.loc[agreement, "value"].median() == pytest.approx(65, abs=10)
    assert numbers.loc[agreement & (frame["old_la_code"] == "840"), "value"].between(25, 97).all()


def test_generate_rates_follow_published(frame: pd.DataFrame, numbers: pd.DataFrame) -> None:
    """Each LA's share of referrals ending in NFA follows its published rate (c1)."""
    rates = pd.read_csv(PACKAGED_RATES, dtype={"old_la_code": str}).set_index("old_la_code")
    rows = (
        (frame["indicator_id"] == "t3_referrals_nfa")
        & (frame["breakdown_topic"] == "Total")
        & (frame["time_period"] == "2024")
    )
    generated = numbers.loc[rows, "value"].set_axis(frame.loc[rows, "old_la_code"]).dropna()
    published = rates["nfa_pct"].reindex(generated.index)
    big = published.notna() & (rates["referral_child_rate_years"].reindex(generated.index) >= 4)
    assert np.corrcoef(generated[big], published[big])[0, 1] > 0.8


def _composite(frame: pd.DataFrame) -> pd.DataFrame:
    """Per period, LA and table: the mean over indicators of the Total's z-score (across the LAs
    and periods in ``frame``), signed so that higher is better (polarity), for proportions,
    agreement items and means."""
    catalogue = load_catalogue()
    sign = {
        i: {"higher_is_better": 1, "lower_is_better": -1}.get(ind.polarity.value, 0)
        for i, ind in catalogue.indicators.items()
        if ind.measure_type not in ("yes_no", "change_distribution")
    }
    tables = {i: ind.table for i, ind in catalogue.indicators.items()}
    rows = frame[(frame["breakdown_topic"] == "Total") & frame["indicator_id"].isin(list(sign))]
    rows = rows.assign(
        v=pd.to_numeric(rows["value"], errors="coerce"), s=rows["indicator_id"].map(sign)
    )
    rows = rows[rows["s"] != 0]
    by = rows.groupby("indicator_id")["v"]
    rows = rows.assign(
        z=(rows["v"] - by.transform("mean")) / by.transform("std") * rows["s"],
        table=rows["indicator_id"].map(tables),
    )
    return rows.groupby(["time_period", "old_la_code", "table"])["z"].mean().unstack("table")


def test_generate_neighbours_correlated(frame: pd.DataFrame) -> None:
    """An LA's overall performance is closer to its statistical neighbours' than to random LAs'."""
    reference = load_reference()
    score = _composite(frame).loc["2024"].mean(axis=1)
    lists = reference.neighbour_lists[reference.neighbour_lists["edition"] == 2025]
    neighbours = lists.groupby("la_code")["neighbour_code"].apply(list)
    codes = score.index.to_numpy()
    own = score.reindex(neighbours.index)
    nb_mean = neighbours.map(lambda members: score.reindex(members).mean())
    r_neighbours = np.corrcoef(own, nb_mean)[0, 1]
    rng = np.random.default_rng(0)
    random_r = []
    for _ in range(20):
        picks = [rng.choice(codes[codes != c], 10, replace=False) for c in codes]
        means = [score.reindex(p).mean() for p in picks]
        random_r.append(np.corrcoef(score.to_numpy(), means)[0, 1])
    assert r_neighbours > 0.2
    assert r_neighbours > np.mean(random_r) + 0.15


def test_journeys_fields() -> None:
    table = journeys(SEED)
    assert len(table) == 15
    assert table["old_la_code"].is_unique
    assert set(table["old_la_code"]) <= set(load_reference().las["old_la_code"])
    assert (table["table2_from"] == table["start_year"]).all()
    assert (table["table2_from"] < table["table3_from"]).all()
    assert (table["table3_from"] <= table["table4_from"]).all()
    assert (table["table4_from"] < table["table5_from"]).all()
    assert table["trigger"].str.contains("Ofsted").sum() >= 8
    assert (table["focus_areas"].str.len() > 0).all()


def test_journeys_table2_improves_before_table5() -> None:
    """Seed 4.5.7: conditions and culture (Table 2) improve first, child outcomes (Table 5) later.

    For each journey LA, composite change from the year before its start to the year after:
    Table 2 has improved while Table 5 has not yet; two years later Table 5 improves too."""
    table = journeys(SEED)
    years = list(range(int(table["start_year"].min()) - 1, int(table["start_year"].max()) + 4))
    composite = _composite(generate(years, SEED, las=list(table["old_la_code"])))
    change = {2: [], 5: [], "late5": []}
    for la in table.itertuples():
        series = composite.xs(la.old_la_code, level="old_la_code")
        before, after = str(la.start_year - 1), str(la.start_year + 1)
        later = str(la.start_year + 3)
        change[2].append(series.loc[after, 2] - series.loc[before, 2])
        change[5].append(series.loc[after, 5] - series.loc[before, 5])
        change["late5"].append(series.loc[later, 5] - series.loc[after, 5])
    early2, early5, late5 = (float(np.mean(change[k])) for k in (2, 5, "late5"))
    assert early2 > 0.3
    assert early2 > early5 + 0.25
    assert late5 > 0.3
    assert sum(a > b for a, b in zip(change[2], change[5], strict=True)) >= 13


def test_journeys_context_dependent_move_wrong_way_first() -> None:
    """Staff turnover rises in the first years of a journey before settling (seed 4.5.7)."""
    table = journeys(SEED)
    years = list(range(int(table["start_year"].min()) - 1, int(table["start_year"].max()) + 4))
    data = generate(years, SEED, las=list(table["old_la_code"]))
    rows = data[
        (data["indicator_id"] == "t2_staff_turnover") & (data["breakdown_topic"] == "Total")
    ]
    rate = pd.to_numeric(rows["value"], errors="coerce").set_axis(
        pd.MultiIndex.from_frame(rows[["old_la_code", "time_period"]])
    )

    def change(first: int, second: int) -> float:
        return float(
            np.nanmean(
                [
                    rate.get((la.old_la_code, str(la.start_year + second)), np.nan)
                    - rate.get((la.old_la_code, str(la.start_year + first)), np.nan)
                    for la in table.itertuples()
                ]
            )
        )

    assert change(-1, 0) > 2.0  # percentage points: up in the first year
    assert change(1, 2) < -2.0  # and down once the workforce settles


# ------------------------------------------------------------------------------ files and data


def test_write_files_names_and_contents(tmp_path: Path) -> None:
    paths = write_files(tmp_path, [2023, 2024], SEED, las=["909", "942", "E09000001"])
    names = sorted(p.name for p in paths)
    assert names == [
        "201_city-of-london_2023.csv",
        "201_city-of-london_2024.csv",
        "909_cumbria_2023.csv",
        "942_cumberland_2024.csv",
    ]
    for path in paths:
        assert re.fullmatch(r"\d{3}_[a-z0-9-]+_\d{4}\.csv", path.name)
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") == rows_per_return() + 1
        assert not text.startswith("\ufeff")


def test_write_benchmark_file_rows_and_valid(tmp_path: Path) -> None:
    path = tmp_path / "bench.csv"
    written = write_benchmark_file(path, 20_000, SEED)
    assert 19_000 < written <= 20_000
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(frame) == written
    assert frame["old_la_code"].nunique() > 5
    report = validate_path(path)
    assert report.ok, report.to_text(limit=10)


def test_benchmark_years_most_recent_first() -> None:
    assert benchmark_years(20_000) == [2025]
    assert benchmark_years(1_000_000) == [2022, 2023, 2024, 2025]


def test_write_broken_files_cases(tmp_path: Path) -> None:
    cases = write_broken_files(tmp_path, SEED)
    assert tuple(cases) == CASE_NAMES
    assert {c.path.parent for c in cases.values()} == {tmp_path}
    assert all(c.path.exists() for c in cases.values())
    assert cases["empty_file"].path.stat().st_size == 0
    assert cases["zip_bomb_xlsx"].path.stat().st_size < 1_000_000
    assert all(c.valid or c.expected for c in cases.values())


def test_la_rates_match_published_derivation() -> None:
    """The packaged rates are exactly what the derivation gives from ../shared/published."""
    text = rates_csv(derive_la_rates(SHARED_PUBLISHED))
    assert text == PACKAGED_RATES.read_text(encoding="utf-8")
