"""Neighbour comparisons (workers.analytics.comparisons) on hand-computed fixtures.

The main fixture is one cell (period 2025, Total) of six LAs, with the same numbers for a
higher-is-better (``hib``), a lower-is-better (``lib``) and a context-dependent (``ctx``)
indicator::

    LA          A    B    C    D    E    F
    raw        10   20   30   25   --   40
    protected  10   20   30   20   --   --     (D published rounded/noised, F suppressed)

Each viewer sees its own raw value and the others' protected values.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from privacy.groups import MIN_CONTRIBUTORS
from schemas.catalogue import load_catalogue
from workers.analytics.comparisons import (
    compare,
    group_comparisons,
    national_ranks,
    period_change,
    quartile_bands,
)
from workers.analytics.meta import KEY, indicator_meta

# Hypothesis keeps its files out of the work tree (a stray .hypothesis folder breaks collection).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "csc-exchange-hypothesis")

NAN = np.nan
INDICATORS = {"hib": "higher_is_better", "lib": "lower_is_better", "ctx": "context_dependent"}


def meta() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "indicator_id": list(INDICATORS),
            "polarity": list(INDICATORS.values()),
            "value_kind": "percentage",
            "value_scale": 100.0,
            "table": 2,
            "domain": "conditions",
            "outcome": 1,
        }
    )


def values(
    by_la: dict[str, float],
    indicators: tuple[str, ...] = tuple(INDICATORS),
    period: str = "2025",
    topic: str = "Total",
    breakdown: str = "Total",
) -> pd.DataFrame:
    """A ValueFrame: ``by_la`` values for every one of ``indicators`` in one cell."""
    rows = [
        (la, ind, period, topic, breakdown, value)
        for ind in indicators
        for la, value in by_la.items()
    ]
    frame = pd.DataFrame(rows, columns=[*KEY, "value"])
    return frame.assign(numerator=NAN, denominator=NAN)


RAW = {"A": 10.0, "B": 20.0, "C": 30.0, "D": 25.0, "E": NAN, "F": 40.0}
PROTECTED = {"A": 10.0, "B": 20.0, "C": 30.0, "D": 20.0, "E": NAN, "F": NAN}


def by_viewer(frame: pd.DataFrame, indicator: str, column: str) -> dict[str, object]:
    rows = frame[frame["indicator_id"] == indicator].set_index("la_code")[column]
    return rows.to_dict()


# --- National rank -----------------------------------------------------------------------

# higher_is_better: rank = 1 + the others' protected values strictly above the viewer's raw.
#   A 10 vs {B 20, C 30, D 20}       -> 3 above -> 4
#   B 20 vs {A 10, C 30, D 20}       -> 1 above -> 2 (D's 20 ties B: they share 2, not 3)
#   C 30 vs {A 10, B 20, D 20}       -> 0       -> 1
#   D 25 vs {A 10, B 20, C 30}       -> 1       -> 2 (its own protected 20 is replaced)
#   E -- (missing)                   -> unranked
#   F 40 vs {A 10, B 20, C 30, D 20} -> 0       -> 1 (its own value is suppressed for others)
# lower_is_better (and context_dependent, ranked ascending): 1 + the others strictly below.
#   A 10 vs {20, 30, 20} -> 1;  B 20 vs {10, 30, 20} -> 2 (tie with D shares 2);
#   C 30 vs {10, 20, 20} -> 4;  D 25 vs {10, 20, 30} -> 3;  F 40 vs {10, 20, 30, 20} -> 5
EXPECTED_RANKS = {
    "hib": {"A": 4, "B": 2, "C": 1, "D": 2, "E": NAN, "F": 1},
    "lib": {"A": 1, "B": 2, "C": 4, "D": 3, "E": NAN, "F": 5},
    "ctx": {"A": 1, "B": 2, "C": 4, "D": 3, "E": NAN, "F": 5},
}


@pytest.mark.parametrize("indicator", list(INDICATORS))
def test_national_ranks_ties_polarity_and_missing(indicator: str) -> None:
    ranks = national_ranks(values(RAW), values(PROTECTED), meta())
    got = by_viewer(ranks, indicator, "rank")
    assert got == pytest.approx(EXPECTED_RANKS[indicator], nan_ok=True)


def test_national_ranks_count_each_la_once() -> None:
    ranks = national_ranks(values(RAW), values(PROTECTED), meta())
    # The others with a protected value plus the viewer's own raw value: A-D see 3 others + 1;
    # E has no value (4 others ranked, itself not); F sees A-D (4) + its own raw value = 5.
    # D: 3 others + its raw value = 4, not 5 (its protected 20 is not counted as well).
    assert by_viewer(ranks, "hib", "n_ranked") == {"A": 4, "B": 4, "C": 4, "D": 4, "E": 4, "F": 5}


def test_national_ranks_viewer_with_suppressed_value_is_ranked_others_suppressed_are_not() -> None:
    ranks = national_ranks(values(RAW), values(PROTECTED), meta())
    hib = ranks[ranks["indicator_id"] == "hib"].set_index("la_code")
    # F's own value is suppressed for everyone else, yet F sees its raw 40 ranked first ...
    assert hib.loc["F", "rank"] == 1
    assert hib.loc["F", "value"] == 40.0
    # ... while nobody else's rank counts F: C's 30 is first, not second behind F's 40.
    assert hib.loc["C", "rank"] == 1


def test_national_ranks_keep_raw_rows_and_order() -> None:
    raw = values(RAW).sample(frac=1, random_state=1)
    ranks = national_ranks(raw, values(PROTECTED), meta())
    assert ranks[KEY].to_numpy().tolist() == raw[KEY].to_numpy().tolist()
    assert ranks["value"].to_numpy() == pytest.approx(raw["value"].to_numpy(), nan_ok=True)


def test_national_ranks_unknown_indicator_is_an_error() -> None:
    raw = values({"A": 1.0}, indicators=("nope",))
    with pytest.raises(ValueError, match="nope"):
        national_ranks(raw, raw, meta())


def test_national_ranks_rejects_duplicate_rows() -> None:
    raw = values(RAW)
    with pytest.raises(pandera.errors.SchemaError):
        national_ranks(pd.concat([raw, raw.iloc[:1]]), values(PROTECTED), meta())


# --- Quartile bands ----------------------------------------------------------------------

# Nine LAs; cut points come from the protected values only (Q9 is suppressed):
#   protected  10 20 30 40 50 60 70 80 --      raw  10 27.5 30 40 50 60 70 80 45
# R type 7 over n = 8 values: index (n - 1) p = 7p (0-based)
#   q1: 1.75 -> 20 + 0.75 x (30 - 20) = 27.5
#   q2: 3.5  -> 40 + 0.5  x (50 - 40) = 45
#   q3: 5.25 -> 60 + 0.25 x (70 - 60) = 62.5
# Quarter in value order (a value on a cut point is in the quarter below: LAIT's <=):
#   Q1 10 -> 1st;  Q2 27.5 (= q1) -> 1st;  Q3 30, Q4 40 -> 2nd;  Q9 45 (= q2) -> 2nd;
#   Q5 50, Q6 60 -> 3rd;  Q7 70, Q8 80 -> 4th.
# Letters: lower_is_better A B C D from the lowest quarter; higher_is_better D C B A.
QUARTILE_RAW = {f"Q{i}": v for i, v in enumerate([10, 27.5, 30, 40, 50, 60, 70, 80, 45], 1)}
QUARTILE_PROTECTED = {f"Q{i}": 10.0 * i for i in range(1, 9)} | {"Q9": NAN}
QUARTER = {"Q1": 0, "Q2": 0, "Q3": 1, "Q4": 1, "Q9": 1, "Q5": 2, "Q6": 2, "Q7": 3, "Q8": 3}


def test_quartile_bands_cut_points_are_r_type_7_of_protected_values() -> None:
    bands = quartile_bands(values(QUARTILE_RAW), values(QUARTILE_PROTECTED), meta())
    cuts = bands[["q1", "q2", "q3"]].drop_duplicates().to_numpy()
    assert cuts.tolist() == [[27.5, 45.0, 62.5]]
    published = [v for v in QUARTILE_PROTECTED.values() if not np.isnan(v)]
    assert cuts[0] == pytest.approx(np.quantile(published, [0.25, 0.5, 0.75], method="linear"))


@pytest.mark.parametrize(
    ("indicator", "letters"), [("lib", "ABCD"), ("hib", "DCBA"), ("ctx", "    ")]
)
def test_quartile_bands_letters_by_polarity_and_cut_point_belongs_below(
    indicator: str, letters: str
) -> None:
    bands = quartile_bands(values(QUARTILE_RAW), values(QUARTILE_PROTECTED), meta())
    expected = {la: letters[q].strip() for la, q in QUARTER.items()}
    assert by_viewer(bands, indicator, "band") == expected


def test_quartile_bands_context_dependent_keeps_cut_points() -> None:
    bands = quartile_bands(values(QUARTILE_RAW), values(QUARTILE_PROTECTED), meta())
    ctx = bands[bands["indicator_id"] == "ctx"]
    assert (ctx["band"] == "").all()
    assert (ctx["q2"] == 45.0).all()


def test_quartile_bands_missing_value_has_no_band() -> None:
    bands = quartile_bands(values(RAW), values(PROTECTED), meta())
    assert by_viewer(bands, "hib", "band")["E"] == ""


def test_quartile_bands_blank_below_the_contributor_minimum() -> None:
    # X1-X3 published (1, 2, 3), X4 suppressed (raw 4). X1 contributes, so only 2 others:
    # blank. X4 contributes nothing: 3 others is enough. Quantiles of [1, 2, 3]: index 2p
    # -> 1.5, 2, 2.5; X4's 4 is above q3: the top quarter, A for higher_is_better.
    assert MIN_CONTRIBUTORS == 3
    raw = values({"X1": 1.0, "X2": 2.0, "X3": 3.0, "X4": 4.0}, indicators=("hib",))
    protected = values({"X1": 1.0, "X2": 2.0, "X3": 3.0, "X4": NAN}, indicators=("hib",))
    bands = quartile_bands(raw, protected, meta()).set_index("la_code")
    assert bands.loc["X1", ["q1", "q2", "q3"]].isna().all()
    assert bands.loc["X1", "band"] == ""
    assert bands.loc["X4", ["q1", "q2", "q3"]].tolist() == [1.5, 2.0, 2.5]
    assert bands.loc["X4", "band"] == "A"


# --- Group statistics --------------------------------------------------------------------


def groups() -> pd.DataFrame:
    rows = (
        [("neighbours:A", "neighbours", "A", la) for la in "BCDF"]
        + [("neighbours:B", "neighbours", "B", la) for la in "ADF"]
        + [("region:R", "region", "", la) for la in "ABCD"]
        + [("region:T", "region", "", la) for la in "ABC"]
        + [("england", "england", "", la) for la in "ABCDEF"]
    )
    return pd.DataFrame(rows, columns=["group_id", "group_type", "owner", "la_code"])


def group_table(viewer: str | None = None) -> pd.DataFrame:
    out = group_comparisons(values(RAW), values(PROTECTED), groups(), meta())
    out = out[out["indicator_id"] == "hib"]
    if viewer is not None:
        out = out[out["la_code"] == viewer]
    return out.set_index(["la_code", "group_id"]) if viewer is None else out.set_index("group_id")


def test_group_comparisons_groups_that_concern_each_viewer() -> None:
    out = group_table()
    seen = out.reset_index().groupby("la_code")["group_id"].agg(sorted).to_dict()
    # Own neighbour sets (owner), shared groups it is in, England for every LA.
    assert seen == {
        "A": ["england", "neighbours:A", "region:R", "region:T"],
        "B": ["england", "neighbours:B", "region:R", "region:T"],
        "C": ["england", "region:R", "region:T"],
        "D": ["england", "region:R"],
        "E": ["england"],
        "F": ["england"],
    }


def test_group_comparisons_neighbour_figure_is_mean_of_neighbours_with_a_value() -> None:
    a = group_table("A").loc["neighbours:A"]
    # A's neighbours B, C, D, F: protected 20, 30, 20 and F suppressed -> 3 contributors,
    # none of them A: mean (20 + 30 + 20) / 3 = 23.33.., median 20, min 20, max 30.
    assert a["n"] == 3
    assert a["allowed"]
    assert a["mean"] == pytest.approx(70 / 3)
    assert (a["median"], a["min"], a["max"]) == (20.0, 20.0, 30.0)


def test_group_comparisons_blank_below_three_others() -> None:
    out = group_table()
    # B's neighbours A, D, F: 10, 20 (F suppressed) -> 2 contributors: blank.
    b = out.loc[("B", "neighbours:B")]
    assert (b["n"], b["allowed"]) == (2, False)
    assert b[["mean", "median", "min", "max"]].isna().all()
    # Region T = A, B, C (10, 20, 30): each viewer is one of the 3, leaving 2 others: blank.
    for viewer in "ABC":
        t = out.loc[(viewer, "region:T")]
        assert (t["n"], t["allowed"]) == (3, False)
        assert np.isnan(t["mean"])
    # Region R = A, B, C, D: 4 contributors, 3 besides any one of them: shown.
    r = out.loc[("A", "region:R")]
    assert r["allowed"]
    # (10 + 20 + 30 + 20) / 4 = 20; median of 10 20 20 30 = (20 + 20) / 2 = 20.
    assert (r["n"], r["mean"], r["median"], r["min"], r["max"]) == (4, 20.0, 20.0, 10.0, 30.0)


def test_group_comparisons_never_use_a_raw_value() -> None:
    out = group_table()
    protected_mean = np.nanmean(list(PROTECTED.values()))  # (10 + 20 + 30 + 20) / 4 = 20
    for viewer in "ABCDEF":
        england = out.loc[(viewer, "england")]
        # Every viewer, D (raw 25, protected 20) and F (raw 40, suppressed) included, sees
        # the protected mean 20: not (10 + 20 + 30 + 25) / 4 = 21.25, not 125 / 5 = 25.
        assert england["mean"] == protected_mean
        assert england["n"] == 4
        assert england["max"] == 30.0
        assert england["allowed"]


def test_group_comparisons_cells_without_member_rows_are_left_out() -> None:
    raw = values(RAW)
    protected = values(PROTECTED)
    # A second period only A submitted: region R (A-D) has a row, neighbours:B (A, D, F)
    # too, neighbours:A (B, C, D, F) has none, so A gets no neighbours:A row for it.
    extra = values({"A": 5.0}, indicators=("hib",), period="2024")
    out = group_comparisons(
        pd.concat([raw, extra]), pd.concat([protected, extra]), groups(), meta()
    )
    y2024 = out[out["period"] == "2024"]
    assert set(zip(y2024["la_code"], y2024["group_id"], strict=True)) >= {
        ("A", "region:R"),
        ("B", "neighbours:B"),
    }
    assert ("A", "neighbours:A") not in set(zip(y2024["la_code"], y2024["group_id"], strict=True))
    assert not y2024["allowed"].any()  # one contributor


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (("region:R", "region", "", "A"), "listed twice"),
        (("region:R", "region", "B", "E"), "more than one type or owner"),
        (("region:R", "alliance", "", "E"), "more than one type or owner"),
    ],
)
def test_group_comparisons_reject_inconsistent_groups(bad_row: tuple, message: str) -> None:
    bad = pd.concat([groups(), pd.DataFrame([bad_row], columns=groups().columns)])
    with pytest.raises(pandera.errors.SchemaError, match=message):
        group_comparisons(values(RAW), values(PROTECTED), bad, meta())


# --- Change from the previous period -----------------------------------------------------


def change_frame() -> pd.DataFrame:
    parts = [
        values({"A": 5.0}, ("hib",), "2022"),
        values({"A": 8.0}, ("hib",), "2023"),
        values({"A": 10.0}, ("hib",), "2025"),  # 2024 missing: no change figure
        values({"B": 25.0, "C": 20.0, "D": NAN}, tuple(INDICATORS), "2024"),
        values({"B": 20.0, "C": 20.0, "D": 20.0}, tuple(INDICATORS), "2025"),
        # A breakdown category has its own series: B's Male 2025 has no Male 2024.
        values({"B": 7.0}, ("hib",), "2025", topic="gender", breakdown="Male"),
    ]
    return pd.concat(parts, ignore_index=True)


def test_period_change_only_for_consecutive_periods() -> None:
    out = period_change(change_frame(), meta())
    a = out[out["la_code"] == "A"].set_index("period")
    # 2023: 8 - 5 = +3 (2022 -> 2023 consecutive); 2025: 2024 is missing, 2023 is not "previous".
    assert a.loc["2023", ["previous_value", "change"]].tolist() == [5.0, 3.0]
    assert a.loc["2023", "direction"] == "improved"
    assert a.loc["2025", ["previous_value", "change"]].isna().all()
    assert a.loc["2025", "direction"] == ""
    assert a.loc["2022", "direction"] == ""


@pytest.mark.parametrize(
    ("indicator", "direction"), [("hib", "declined"), ("lib", "improved"), ("ctx", "down")]
)
def test_period_change_direction_by_polarity(indicator: str, direction: str) -> None:
    out = period_change(change_frame(), meta())
    total = out[(out["period"] == "2025") & (out["breakdown"] == "Total")]
    # B: 25 -> 20 = -5; C: 20 -> 20 = 0; D: previous value missing.
    b = total[(total["la_code"] == "B") & (total["indicator_id"] == indicator)].iloc[0]
    assert (b["change"], b["direction"]) == (-5.0, direction)
    # A has only hib values (2024 missing: ""); D's previous value is missing.
    expected = {"B": direction, "C": "no change", "D": ""} | (
        {"A": ""} if indicator == "hib" else {}
    )
    assert by_viewer(total, indicator, "direction") == expected


def test_period_change_keeps_breakdown_series_apart() -> None:
    out = period_change(change_frame(), meta())
    male = out[out["breakdown"] == "Male"].iloc[0]
    assert np.isnan(male["previous_value"])  # not B's Total 2024 (25)
    assert male["direction"] == ""


def test_period_change_uses_own_raw_values_only() -> None:
    raw = change_frame()
    out = period_change(raw, meta())
    assert len(out) == len(raw)
    c = out[(out["la_code"] == "C") & (out["period"] == "2025") & (out["indicator_id"] == "hib")]
    assert c["previous_value"].tolist() == [20.0]


# --- compare: everything at once ---------------------------------------------------------


def test_compare_matches_the_separate_functions() -> None:
    raw = pd.concat([values(RAW), change_frame()[lambda f: f["period"] != "2025"]])
    raw = raw.reset_index(drop=True)
    protected = values(PROTECTED)
    per_la, per_group = compare(raw, protected, groups(), meta())
    ranks = national_ranks(raw, protected, meta())
    bands = quartile_bands(raw, protected, meta())
    changes = period_change(raw, meta())
    pd.testing.assert_frame_equal(per_la[ranks.columns], ranks)
    pd.testing.assert_frame_equal(per_la[bands.columns], bands)
    pd.testing.assert_frame_equal(per_la[changes.columns], changes)
    pd.testing.assert_frame_equal(per_group, group_comparisons(raw, protected, groups(), meta()))
    # B's hib 2025: 20 after 25 in 2024 -> declined; rank 2 (see EXPECTED_RANKS).
    b = per_la[(per_la["la_code"] == "B") & (per_la["indicator_id"] == "hib")]
    b = b[b["period"] == "2025"].iloc[0]
    assert (b["rank"], b["change"], b["direction"]) == (2.0, -5.0, "declined")


def test_compare_with_no_groups() -> None:
    empty = groups().iloc[:0]
    per_la, per_group = compare(values(RAW), values(PROTECTED), empty, meta())
    assert len(per_la) == len(values(RAW))
    assert per_group.empty


# --- indicator_meta ----------------------------------------------------------------------


def test_indicator_meta_from_the_catalogue() -> None:
    catalogue = load_catalogue()
    frame = indicator_meta(catalogue).set_index("indicator_id")
    assert len(frame) == len(catalogue.indicators)
    for ind in catalogue.indicators.values():
        measure = catalogue.measure_types[ind.measure_type]
        row = frame.loc[ind.id]
        assert row["polarity"] == str(ind.polarity)
        assert (row["value_kind"], row["value_scale"]) == (
            measure.value_kind,
            measure.value_scale,
        )
        assert (row["table"], row["domain"], row["outcome"]) == (ind.table, ind.domain, ind.outcome)


# --- Properties over random frames -------------------------------------------------------

LAS = [f"L{i}" for i in range(7)]
small_values = st.sampled_from([NAN, 0.0, 1.0, 2.0, 2.0, 3.0, 5.0])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Raw and protected values of 4-7 LAs over three indicators and two periods, and groups."""
    las = LAS[: draw(st.integers(4, len(LAS)))]
    parts_raw, parts_prot = [], []
    for period in ("2024", "2025"):
        raw = {la: draw(small_values) for la in las}
        # Protected: suppressed (NaN) or published, sometimes moved (rounding, noise).
        prot = {
            la: draw(st.sampled_from([NAN, v, v, v + 1.0])) if not np.isnan(v) else NAN
            for la, v in raw.items()
        }
        parts_raw.append(values(raw, period=period))
        parts_prot.append(values(prot, period=period))
    rows = [("england", "england", "", la) for la in las]
    region = draw(st.lists(st.sampled_from(las), min_size=1, unique=True))
    rows += [("region:R", "region", "", la) for la in region]
    for owner in las[:3]:
        others = [la for la in las if la != owner]
        members = draw(st.lists(st.sampled_from(others), min_size=1, unique=True))
        rows += [(f"neighbours:{owner}", "neighbours", owner, la) for la in members]
    groups = pd.DataFrame(rows, columns=["group_id", "group_type", "owner", "la_code"])
    return pd.concat(parts_raw), pd.concat(parts_prot), groups


POISON = 1e6
"""A raw value no protected value, rank, count or statistic of the scenarios can equal."""


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.sampled_from(LAS[:4]))
def test_compare_never_shows_a_viewer_another_las_suppressed_raw_value(
    scenario: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], viewer: str
) -> None:
    raw, protected, groups_ = scenario
    # Every other LA's raw value where it is suppressed becomes a distinct poison value.
    published = protected.set_index(KEY)["value"].reindex(pd.MultiIndex.from_frame(raw[KEY]))
    hidden = published.isna().to_numpy() & (raw["la_code"] != viewer).to_numpy()
    poisoned = raw.assign(value=np.where(hidden, POISON + np.arange(len(raw)), raw["value"]))
    per_la, per_group = compare(poisoned, protected, groups_, meta())
    mine_la = per_la[per_la["la_code"] == viewer].select_dtypes("number")
    mine_group = per_group[per_group["la_code"] == viewer].select_dtypes("number")
    assert not (mine_la.abs() >= POISON).any(axis=None)
    assert not (mine_group.abs() >= POISON).any(axis=None)
    # And the viewer's rows do not depend on any other LA's raw values at all.
    clean_la, clean_group = compare(raw, protected, groups_, meta())
    pd.testing.assert_frame_equal(
        per_la[per_la["la_code"] == viewer], clean_la[clean_la["la_code"] == viewer]
    )
    pd.testing.assert_frame_equal(
        per_group[per_group["la_code"] == viewer],
        clean_group[clean_group["la_code"] == viewer],
    )


def reference_per_la(raw: pd.DataFrame, protected: pd.DataFrame) -> pd.DataFrame:
    """The per-LA figures computed the slow, obvious way: one viewer row at a time."""
    polarity = dict(INDICATORS)
    prot = protected.set_index(KEY)["value"]
    out = []
    for row in raw.itertuples(index=False):
        cell = prot.xs((row.indicator_id, row.period), level=("indicator_id", "period"))
        mine = cell.index.get_level_values("la_code") == row.la_code
        own = cell[mine].iloc[0] if mine.any() else NAN
        others = cell.drop(row.la_code, level="la_code", errors="ignore").dropna().to_numpy()
        view = np.append(others, row.value) if not np.isnan(row.value) else others
        ascending = polarity[row.indicator_id] != "higher_is_better"
        ranks = pd.Series(view).rank(method="min", ascending=ascending).to_numpy()
        rank = ranks[-1] if not np.isnan(row.value) else NAN
        published = cell.dropna().to_numpy()
        if len(published) - (not np.isnan(own)) >= MIN_CONTRIBUTORS:
            q = np.quantile(published, [0.25, 0.5, 0.75])
        else:
            q = np.full(3, NAN)
        quarter = int((row.value > q).sum())
        letters = {"higher_is_better": "DCBA", "lower_is_better": "ABCD"}.get(
            polarity[row.indicator_id], "    "
        )
        band = "" if np.isnan(row.value) or np.isnan(q[0]) else letters[quarter].strip()
        out.append((rank, len(view), band, *q))
    return pd.DataFrame(out, columns=["rank", "n_ranked", "band", "q1", "q2", "q3"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_compare_agrees_with_a_row_by_row_reference(
    scenario: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    raw, protected, groups_ = scenario
    raw = raw.reset_index(drop=True)
    per_la, per_group = compare(raw, protected, groups_, meta())
    expected = reference_per_la(raw, protected)
    for column in ("rank", "q1", "q2", "q3"):
        assert per_la[column].to_numpy() == pytest.approx(
            expected[column].to_numpy(), nan_ok=True
        ), column
    assert per_la["n_ranked"].tolist() == expected["n_ranked"].tolist()
    assert per_la["band"].tolist() == expected["band"].tolist()
    # Group statistics: each (viewer, group, cell) row against the members' protected values.
    prot = protected.set_index(KEY)["value"]
    members = groups_.groupby("group_id")["la_code"].agg(list).to_dict()
    for row in per_group.itertuples(index=False):
        cell = prot.xs((row.indicator_id, row.period), level=("indicator_id", "period"))
        cell = cell.droplevel(["breakdown_topic", "breakdown"])
        vals = cell.reindex(members[row.group_id]).dropna()
        viewer_in = row.la_code in vals.index
        assert row.n == len(vals)
        assert row.allowed == (len(vals) - viewer_in >= MIN_CONTRIBUTORS)
        if row.allowed:
            assert row.mean == pytest.approx(vals.mean())
            assert (row.median, row.min, row.max) == (vals.median(), vals.min(), vals.max())
        else:
            assert np.isnan([row.mean, row.median, row.min, row.max]).all()
