"""Triangulation: outcome readings and cross-domain pairs (workers.analytics.triangulation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandera.errors import SchemaError

from schemas.catalogue import load_catalogue
from workers.analytics.meta import indicator_meta
from workers.analytics.triangulation import (
    AGREE,
    DIVERGE,
    INSUFFICIENT,
    INSUFFICIENT_DATA,
    MIXED,
    MOSTLY_BETTER,
    MOSTLY_WORSE,
    PARTIAL,
    SEED_PAIRS,
    SIMILAR,
    PairMembers,
    SeedPair,
    cross_domain_pairs,
    outcome_readings,
    pair_readings,
    reading,
)

LA1, LA2 = "E06000001", "E06000002"


def comparisons(rows: list[tuple[str, str, str, str | None]]) -> pd.DataFrame:
    """Total comparison rows from (la, indicator, period, judgement)."""
    return pd.DataFrame(
        [
            {
                "la_code": la,
                "indicator_id": ind,
                "period": period,
                "breakdown_topic": "Total",
                "breakdown": "Total",
                "judgement": judgement,
            }
            for la, ind, period, judgement in rows
        ]
    )


# Outcome (d, 1): i1, i2, i3 (i3 context-dependent); outcome (d, 2): j1 alone.
META = pd.DataFrame(
    {
        "indicator_id": ["i1", "i2", "i3", "j1"],
        "polarity": [
            "higher_is_better",
            "lower_is_better",
            "context_dependent",
            "higher_is_better",
        ],
        "value_kind": "percentage",
        "value_scale": 100.0,
        "table": 2,
        "domain": "d",
        "outcome": [1, 1, 1, 2],
    }
)


@pytest.mark.parametrize(
    ("better", "similar", "worse", "required", "expected"),
    [
        (0, 0, 0, 2, INSUFFICIENT_DATA),  # nothing judged
        (1, 0, 0, 2, INSUFFICIENT_DATA),  # 1 < 2 judged
        (1, 0, 0, 1, MOSTLY_BETTER),  # a one-indicator outcome: 1/1 better
        (1, 1, 0, 2, MOSTLY_BETTER),  # 1/2 = 0.5 >= 0.5 and 1 > 0
        (1, 2, 0, 2, SIMILAR),  # 1/3 < 0.5
        (0, 1, 1, 2, MOSTLY_WORSE),  # 1/2 worse
        (1, 0, 1, 2, MIXED),  # 1/2 and 1/2 both >= 1/4
        (6, 0, 2, 2, MIXED),  # worse 2/8 = 0.25 >= 0.25: a quarter points the other way
        (7, 1, 2, 2, MOSTLY_BETTER),  # worse 2/10 = 0.2 < 0.25; better 0.7
        (1, 2, 1, 2, MIXED),  # 1/4 and 1/4
        (2, 7, 1, 2, SIMILAR),  # better 0.2, worse 0.1: most are similar
        (0, 5, 0, 2, SIMILAR),
    ],
)
def test_reading_rule(better: int, similar: int, worse: int, required: int, expected: str) -> None:
    got = reading(np.array([better]), np.array([similar]), np.array([worse]), required)
    assert got.tolist() == [expected]


def test_outcome_readings_hand_fixture() -> None:
    data = comparisons(
        [
            (LA1, "i1", "2025", "better"),
            (LA1, "i2", "2025", "similar"),
            (LA1, "i3", "2025", "worse"),  # context-dependent: read as not judged
            (LA1, "j1", "2025", "worse"),
            (LA2, "i1", "2025", "better"),  # i2 has no row, i3 has no value
            (LA2, "i3", "2025", ""),
            (LA1, "unknown", "2025", "worse"),  # not in meta: ignored
        ]
    )
    # A breakdown row must not count.
    breakdown = data.iloc[:1].assign(
        breakdown_topic="age_band", breakdown="Under 1", judgement="worse"
    )
    got = outcome_readings(pd.concat([data, breakdown], ignore_index=True), META)
    got = got.set_index(["la_code", "outcome"])
    counts = ["n_indicators", "n_better", "n_similar", "n_worse", "n_not_judged", "n_no_data"]
    # LA1 outcome 1: better 1, similar 1 (1/2 better -> mostly better), i3 not judged.
    assert got.loc[(LA1, 1), counts].tolist() == [3, 1, 1, 0, 1, 0]
    assert got.loc[(LA1, 1), "reading"] == MOSTLY_BETTER
    # LA1 outcome 2: one indicator, one judgeable, so 1 judged is enough.
    assert got.loc[(LA1, 2), counts].tolist() == [1, 0, 0, 1, 0, 0]
    assert got.loc[(LA1, 2), "reading"] == MOSTLY_WORSE
    # LA2 outcome 1: only i1 judged, 2 judgeable indicators needed.
    assert got.loc[(LA2, 1), counts].tolist() == [3, 1, 0, 0, 0, 2]
    assert got.loc[(LA2, 1), "reading"] == INSUFFICIENT_DATA
    # LA2 outcome 2: no row at all, still listed as no data.
    assert got.loc[(LA2, 2), counts].tolist() == [1, 0, 0, 0, 0, 1]
    assert got.loc[(LA1, 1), "indicators"] == ("i1", "i2", "i3")
    assert len(got) == 4  # 2 LAs x 1 period x 2 outcomes


def test_outcome_readings_null_judgement_is_no_data() -> None:
    data = comparisons([(LA1, "i1", "2025", None), (LA1, "i2", "2025", "similar")])
    got = outcome_readings(data, META).set_index("outcome")
    assert got.loc[1, "n_no_data"] == 2  # i1 null, i3 missing
    assert got.loc[1, "n_similar"] == 1


def test_outcome_readings_per_period() -> None:
    data = comparisons(
        [
            (LA1, "i1", "2024", "worse"),
            (LA1, "i2", "2024", "worse"),
            (LA1, "i1", "2025", "better"),
            (LA1, "i2", "2025", "better"),
        ]
    )
    got = outcome_readings(data, META)
    got = got[got["outcome"] == 1].set_index("period")["reading"]
    assert got.to_dict() == {"2024": MOSTLY_WORSE, "2025": MOSTLY_BETTER}


def test_outcome_readings_reject_two_judgements_for_one_indicator() -> None:
    data = comparisons([(LA1, "i1", "2025", "better"), (LA1, "i1", "2025", "worse")])
    with pytest.raises(ValueError, match="one comparator"):
        outcome_readings(data, META)


def test_outcome_readings_reject_unknown_judgement() -> None:
    data = comparisons([(LA1, "i1", "2025", "excellent")])
    with pytest.raises(SchemaError):
        outcome_readings(data, META)


def test_outcome_readings_cover_every_catalogue_outcome() -> None:
    catalogue = load_catalogue()
    meta = indicator_meta(catalogue)  # the IndicatorMeta contract frame
    data = comparisons([(LA1, i, "2025", "similar") for i in meta["indicator_id"]])
    got = outcome_readings(data, meta)
    assert set(zip(got["domain"], got["outcome"], strict=True)) == {
        (o.domain, o.number) for o in catalogue.outcomes
    }
    assert (got["n_indicators"] == got["n_similar"] + got["n_not_judged"]).all()


# --- Pairs -----------------------------------------------------------------------------------


def test_cross_domain_pairs_refer_to_catalogue_indicators() -> None:
    catalogue = load_catalogue()
    pairs = cross_domain_pairs(catalogue)
    assert set(pairs["indicator_id"]) <= set(catalogue.indicators)
    for seed_pair in SEED_PAIRS:
        assert set(seed_pair.a) | set(seed_pair.b) <= set(catalogue.indicators)
    # Every pair has two non-empty sides.
    assert (pairs.groupby("pair_id")["side"].nunique() == 2).all()


@pytest.mark.parametrize("seed_pair", SEED_PAIRS, ids=lambda p: p.pair_id)
def test_seed_pairs_are_backed_by_catalogue_links(seed_pair: SeedPair) -> None:
    # Every indicator of each side is linked (triangulation) to some indicator of the other.
    catalogue = load_catalogue()
    for side, other in ((seed_pair.a, seed_pair.b), (seed_pair.b, seed_pair.a)):
        for ind in side:
            assert set(catalogue.triangulation_group(ind)) & set(other), ind
    assert seed_pair.seed_section in {"4.5.1", "4.5.2"}
    assert seed_pair.rationale.count("'") >= 2  # quotes the seed


def test_cross_domain_pairs_cover_every_cross_outcome_link() -> None:
    catalogue = load_catalogue()
    pairs = cross_domain_pairs(catalogue)
    side_sets = pairs.groupby(["pair_id", "side"])["indicator_id"].agg(set).unstack("side")
    for ind in catalogue.indicators.values():
        for other_id in catalogue.triangulation_group(ind.id):
            other = catalogue.indicators[other_id]
            if (ind.domain, ind.outcome) == (other.domain, other.outcome):
                continue  # read together by outcome_readings
            covered = side_sets.apply(
                lambda s, i=ind.id, o=other_id: (
                    (i in s["a"] and o in s["b"]) or (i in s["b"] and o in s["a"])
                ),
                axis=1,
            )
            assert covered.any(), (ind.id, other_id)


def test_cross_domain_pairs_include_the_seed_examples() -> None:
    pairs = cross_domain_pairs(load_catalogue())
    seed = pairs[pairs["source"] == "seed"]
    assert set(seed["pair_id"]) == {p.pair_id for p in SEED_PAIRS}
    corporate = seed[seed["pair_id"] == "seed:corporate_support_vs_infrastructure"]
    assert set(corporate.loc[corporate["side"] == "a", "indicator_id"]) == {
        "t2_council_commitment",
        "t2_strategic_priorities",
    }
    assert set(corporate["outcome"]) == {1, 5}


def test_cross_domain_pairs_reject_unknown_indicators() -> None:
    bad = SeedPair("seed:x", "x", "4.5.1", "'x'", "a", ("t2_council_commitment",), "b", ("nope",))
    with pytest.raises(ValueError, match="nope"):
        cross_domain_pairs(load_catalogue(), seed_pairs=(bad,))


def hand_pairs() -> pd.DataFrame:
    """One pair p: side a = x1, x2; side b = y1, y2 (all higher is better)."""
    return PairMembers.validate(
        pd.DataFrame(
            {
                "pair_id": "p",
                "source": "seed",
                "name": "P",
                "seed_section": "4.5.1",
                "rationale": "'r'",
                "side": ["a", "a", "b", "b"],
                "side_label": ["A", "A", "B", "B"],
                "indicator_id": ["x1", "x2", "y1", "y2"],
                "domain": "d",
                "outcome": [1, 1, 2, 2],
                "polarity": "higher_is_better",
            }
        )
    )


@pytest.mark.parametrize(
    ("a", "b", "agreement"),
    [
        (("better", "better"), ("better", "similar"), AGREE),  # both mostly better
        (("similar", "similar"), ("similar", "similar"), AGREE),
        (("worse", "worse"), ("worse", "worse"), AGREE),
        (("better", "better"), ("worse", "worse"), DIVERGE),
        (("worse", "similar"), ("better", "similar"), DIVERGE),
        (("better", "better"), ("similar", "similar"), PARTIAL),  # one side stands out
        (("better", "worse"), ("better", "worse"), PARTIAL),  # mixed
        (("better", ""), ("better", "better"), INSUFFICIENT),  # side a: 1 judged < 2
        (("not judged", "better"), ("better", "better"), INSUFFICIENT),
    ],
)
def test_pair_readings_agreement(a: tuple[str, str], b: tuple[str, str], agreement: str) -> None:
    ids = ["x1", "x2", "y1", "y2"]
    data = comparisons([(LA1, i, "2025", j) for i, j in zip(ids, (*a, *b), strict=True)])
    got = pair_readings(data, hand_pairs())
    assert len(got) == 1
    assert got.loc[0, "agreement"] == agreement
    assert got.loc[0, "a_n_indicators"] == got.loc[0, "b_n_indicators"] == 2


def test_pair_readings_counts_and_labels() -> None:
    data = comparisons(
        [(LA1, "x1", "2025", "better"), (LA1, "x2", "2025", "better"), (LA1, "y1", "2025", "worse")]
    )
    row = pair_readings(data, hand_pairs()).iloc[0]
    assert (row["a_label"], row["b_label"], row["name"]) == ("A", "B", "P")
    assert (row["a_n_better"], row["a_reading"]) == (2, MOSTLY_BETTER)
    # b: y1 worse, y2 no row -> 1 judged < 2 required
    assert (row["b_n_worse"], row["b_n_no_data"], row["b_reading"]) == (1, 1, INSUFFICIENT_DATA)
    assert row["agreement"] == INSUFFICIENT


def test_pair_readings_every_pair_for_every_la_period() -> None:
    catalogue = load_catalogue()
    pairs = cross_domain_pairs(catalogue)
    ids = list(catalogue.indicators)
    data = comparisons(
        [(la, i, p, "better") for la in (LA1, LA2) for p in ("2024", "2025") for i in ids]
    )
    got = pair_readings(data, pairs)
    assert len(got) == 2 * 2 * pairs["pair_id"].nunique()
    # All better: every side with enough judgeable indicators reads mostly better.
    seed = got[got["pair_id"] == "seed:corporate_support_vs_infrastructure"]
    assert set(seed["agreement"]) == {AGREE}


def test_readings_of_no_comparisons_are_empty() -> None:
    catalogue = load_catalogue()
    empty = comparisons([]).reindex(
        columns=["la_code", "indicator_id", "period", "breakdown_topic", "judgement"]
    )
    assert outcome_readings(empty, indicator_meta(catalogue)).empty
    assert pair_readings(empty, cross_domain_pairs(catalogue)).empty
