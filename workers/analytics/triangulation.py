"""Triangulation: reading indicators together, never in isolation (seed 4.5.1).

"No single data item or small set of statistics can capture the complexity of the support that
CSCS deliver, and multiple measures are needed" (seed 4.5.1; also chapter 4: "None of the
indicators included in the framework are designed to be used in isolation"). Two readings are
built from the per-indicator judgements of the comparisons step (an LA's value against its
statistical neighbours or England: better, similar, worse, or not judged):

1. :func:`outcome_readings` — the multi-indicator outcomes: for each LA x period x outcome of
   the framework (domain and outcome number of the catalogue), how many of its indicators are
   better, similar, worse, not judged or missing, and an overall reading by the rule of
   :func:`reading` (constants :data:`MIN_JUDGED_INDICATORS`, :data:`MOSTLY_SHARE`,
   :data:`MIXED_MINORITY_SHARE`).
2. :func:`cross_domain_pairs` / :func:`pair_readings` — the other ways of triangulating that
   4.5.1 (and 4.5.2, other agencies) list: corporate support with support infrastructure,
   users' views with working conditions, good practice with users' views and child outcomes.
   Each pair has two sides, each side gets a reading, and the pair says whether the two agree
   or diverge: the seed expects them to move together, so a divergence is "worth exploring"
   rather than a verdict. Pairs come from the seed (:data:`SEED_PAIRS`, each citing its section)
   and from the catalogue's cross-outcome triangulation links (``docs/catalogue.md``).

The readings count judgements; they do not weigh indicators or test anything again (the
comparisons step already judged significance). A context-dependent indicator (seed 4.5.7) is
never counted as better or worse: its judgement is read as "not judged".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from schemas.catalogue import Catalogue

__all__ = [
    "AGREE",
    "AGREEMENTS",
    "BETTER",
    "COUNT_COLUMNS",
    "DIVERGE",
    "INSUFFICIENT",
    "INSUFFICIENT_DATA",
    "JUDGEMENTS",
    "MIN_JUDGED_INDICATORS",
    "MIXED",
    "MIXED_MINORITY_SHARE",
    "MOSTLY_BETTER",
    "MOSTLY_SHARE",
    "MOSTLY_WORSE",
    "NOT_JUDGED",
    "NO_DATA",
    "PARTIAL",
    "READINGS",
    "SEED_PAIRS",
    "SIMILAR",
    "WORSE",
    "Judgements",
    "OutcomeMeta",
    "OutcomeReadings",
    "PairMembers",
    "PairReadings",
    "SeedPair",
    "cross_domain_pairs",
    "outcome_readings",
    "pair_readings",
    "reading",
]

TOTAL = "Total"
CONTEXT_DEPENDENT = "context_dependent"

# --- Judgements (input) and readings (output) ------------------------------------------------

BETTER = "better"
SIMILAR = "similar"
WORSE = "worse"
NOT_JUDGED = "not judged"
NO_DATA = ""
JUDGEMENTS = (BETTER, SIMILAR, WORSE, NOT_JUDGED, NO_DATA)
"""The ``judgement`` values the comparisons step supplies. "not judged": a value exists but no
direction can be given (context-dependent polarity, too few LAs in the comparison group). ""
(or null): no value. A missing row is read as no data too."""

MOSTLY_BETTER = "mostly better"
MOSTLY_WORSE = "mostly worse"
MIXED = "mixed"
INSUFFICIENT_DATA = "insufficient data"
READINGS = (MOSTLY_BETTER, MIXED, MOSTLY_WORSE, SIMILAR, INSUFFICIENT_DATA)

MIN_JUDGED_INDICATORS = 2
"""A reading needs at least 2 judged indicators (better, similar or worse), or all the
judgeable ones where fewer exist (an outcome measured by one indicator, or by one plus
context-dependent ones): the seed's point is that one indicator is not enough."""

MIXED_MINORITY_SHARE = 0.25
""""mixed" when at least a quarter of the judged indicators are better AND at least a quarter
are worse: signals in both directions are worth reading together, whatever the majority."""

MOSTLY_SHARE = 0.5
"""Otherwise "mostly better" when at least half the judged indicators are better (and more
are better than worse), "mostly worse" likewise; anything else is "similar" (most indicators
are not different from the comparator)."""

# --- Pair agreement ---------------------------------------------------------------------------

AGREE = "agree"
DIVERGE = "divergence worth exploring"
PARTIAL = "partly consistent"
INSUFFICIENT = "insufficient data"
AGREEMENTS = (AGREE, PARTIAL, DIVERGE, INSUFFICIENT)
"""Pair rule: "insufficient data" if either side's reading is; "agree" if both sides have the
same reading of mostly better, similar or mostly worse; "divergence worth exploring" if one side
is mostly better and the other mostly worse (seed 4.5.1 expects them to move together);
otherwise "partly consistent" (one side stands out and the other does not, or a side is
mixed)."""

_DIRECTIONAL = (MOSTLY_BETTER, SIMILAR, MOSTLY_WORSE)
_JUDGEMENT_COLUMN = {
    BETTER: "n_better",
    SIMILAR: "n_similar",
    WORSE: "n_worse",
    NOT_JUDGED: "n_not_judged",
}


def reading(
    n_better: np.ndarray,
    n_similar: np.ndarray,
    n_worse: np.ndarray,
    required: np.ndarray | int = MIN_JUDGED_INDICATORS,
) -> np.ndarray:
    """The overall reading of counts of judged indicators (vectorised; see the constants).

    In order: fewer than ``required`` judged -> "insufficient data"; both better and worse at
    least :data:`MIXED_MINORITY_SHARE` of the judged -> "mixed"; better at least
    :data:`MOSTLY_SHARE` and more than worse -> "mostly better"; worse likewise -> "mostly
    worse"; else "similar".
    """
    better = np.asarray(n_better, dtype=float)
    worse = np.asarray(n_worse, dtype=float)
    judged = better + np.asarray(n_similar, dtype=float) + worse
    safe = np.where(judged > 0, judged, 1.0)
    share_better, share_worse = better / safe, worse / safe
    return np.select(
        [
            (judged < np.asarray(required)) | (judged == 0),
            (share_better >= MIXED_MINORITY_SHARE) & (share_worse >= MIXED_MINORITY_SHARE),
            (share_better >= MOSTLY_SHARE) & (better > worse),
            (share_worse >= MOSTLY_SHARE) & (worse > better),
        ],
        [INSUFFICIENT_DATA, MIXED, MOSTLY_BETTER, MOSTLY_WORSE],
        default=SIMILAR,
    ).astype(object)


def _agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The pair rule of :data:`AGREEMENTS` on two arrays of readings."""
    opposite = ((a == MOSTLY_BETTER) & (b == MOSTLY_WORSE)) | (
        (a == MOSTLY_WORSE) & (b == MOSTLY_BETTER)
    )
    return np.select(
        [
            (a == INSUFFICIENT_DATA) | (b == INSUFFICIENT_DATA),
            (a == b) & np.isin(a, _DIRECTIONAL),
            opposite,
        ],
        [INSUFFICIENT, AGREE, DIVERGE],
        default=PARTIAL,
    ).astype(object)


# --- Frames ----------------------------------------------------------------------------------


class Judgements(pa.DataFrameModel):
    """Per-LA comparison rows (other columns, e.g. the comparison group, may be present).

    Only the Total rows are read (``breakdown_topic == "Total"``, and ``breakdown == "Total"``
    where that column exists); they must hold one judgement per LA x indicator x period, so
    filter to one comparator (e.g. statistical neighbours) first.
    """

    la_code: Series[str]
    indicator_id: Series[str]
    period: Series[str]
    breakdown_topic: Series[str]
    judgement: Series[str] = pa.Field(isin=list(JUDGEMENTS), nullable=True)

    class Config:
        coerce = True


class OutcomeMeta(pa.DataFrameModel):
    """The columns of the IndicatorMeta contract this module needs (others are allowed)."""

    indicator_id: Series[str] = pa.Field(unique=True)
    polarity: Series[str]
    domain: Series[str]
    outcome: Series[np.int64]

    class Config:
        coerce = True


COUNT_COLUMNS = (
    "n_indicators",
    "n_better",
    "n_similar",
    "n_worse",
    "n_not_judged",
    "n_no_data",
)
"""The count columns of a reading: indicators of the outcome (or pair side), then how many
were judged better / similar / worse, not judged, and without data (they sum to n_indicators)."""


class OutcomeReadings(pa.DataFrameModel):
    """Per LA x period x outcome: the counts (:data:`COUNT_COLUMNS`), the reading, and the outcome's
    indicators (``indicators``: a tuple of ids in catalogue order; their judgements are in the
    input)."""

    la_code: Series[str]
    period: Series[str]
    domain: Series[str]
    outcome: Series[np.int64]
    n_indicators: Series[np.int64] = pa.Field(ge=0)
    n_better: Series[np.int64] = pa.Field(ge=0)
    n_similar: Series[np.int64] = pa.Field(ge=0)
    n_worse: Series[np.int64] = pa.Field(ge=0)
    n_not_judged: Series[np.int64] = pa.Field(ge=0)
    n_no_data: Series[np.int64] = pa.Field(ge=0)
    reading: Series[str] = pa.Field(isin=list(READINGS))
    indicators: Series[object]

    class Config:
        strict = True
        coerce = True


class PairMembers(pa.DataFrameModel):
    """One row per pair x side x indicator. ``source``: "seed" (a named pair of
    :data:`SEED_PAIRS`) or "catalogue" (cross-outcome triangulation links)."""

    pair_id: Series[str]
    source: Series[str] = pa.Field(isin=["seed", "catalogue"])
    name: Series[str]
    seed_section: Series[str]
    rationale: Series[str]
    side: Series[str] = pa.Field(isin=["a", "b"])
    side_label: Series[str]
    indicator_id: Series[str]
    domain: Series[str]
    outcome: Series[np.int64]
    polarity: Series[str]

    class Config:
        strict = True
        coerce = True
        unique = ("pair_id", "side", "indicator_id")


class PairReadings(pa.DataFrameModel):
    """Per LA x period x pair: each side's counts and reading (prefix ``a_`` / ``b_``) and
    whether the sides agree (:data:`AGREEMENTS`)."""

    la_code: Series[str]
    period: Series[str]
    pair_id: Series[str]
    name: Series[str]
    a_label: Series[str]
    a_n_indicators: Series[np.int64] = pa.Field(ge=0)
    a_n_better: Series[np.int64] = pa.Field(ge=0)
    a_n_similar: Series[np.int64] = pa.Field(ge=0)
    a_n_worse: Series[np.int64] = pa.Field(ge=0)
    a_n_not_judged: Series[np.int64] = pa.Field(ge=0)
    a_n_no_data: Series[np.int64] = pa.Field(ge=0)
    a_reading: Series[str] = pa.Field(isin=list(READINGS))
    b_label: Series[str]
    b_n_indicators: Series[np.int64] = pa.Field(ge=0)
    b_n_better: Series[np.int64] = pa.Field(ge=0)
    b_n_similar: Series[np.int64] = pa.Field(ge=0)
    b_n_worse: Series[np.int64] = pa.Field(ge=0)
    b_n_not_judged: Series[np.int64] = pa.Field(ge=0)
    b_n_no_data: Series[np.int64] = pa.Field(ge=0)
    b_reading: Series[str] = pa.Field(isin=list(READINGS))
    agreement: Series[str] = pa.Field(isin=list(AGREEMENTS))

    class Config:
        strict = True
        coerce = True


# --- Counting ---------------------------------------------------------------------------------


def _total_judgements(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The Total rows as (la_code, period, indicator_id, judgement), one per key."""
    total = comparisons["breakdown_topic"] == TOTAL
    if "breakdown" in comparisons.columns:
        total &= comparisons["breakdown"] == TOTAL
    rows = comparisons.loc[total, ["la_code", "period", "indicator_id", "judgement"]]
    duplicated = rows.duplicated(["la_code", "period", "indicator_id"])
    if duplicated.any():
        first = rows.loc[duplicated].iloc[0]
        raise ValueError(
            "more than one Total judgement for an LA x indicator x period (e.g. "
            f"{first['la_code']}, {first['indicator_id']}, {first['period']}): "
            "filter the comparisons to one comparator first"
        )
    return rows.assign(judgement=rows["judgement"].fillna(NO_DATA))


def _unit_readings(
    judgements: pd.DataFrame, membership: pd.DataFrame, unit: list[str]
) -> pd.DataFrame:
    """Counts and reading per LA x period x unit.

    ``membership``: one row per unit x indicator_id with ``polarity``. Every unit gets a row for
    every LA x period that has at least one judgement of any indicator; indicators without a
    row count as no data.
    """
    merged = judgements.merge(membership[[*unit, "indicator_id", "polarity"]], on="indicator_id")
    # A context-dependent indicator is never better or worse (seed 4.5.7, docs/catalogue.md).
    directional = merged["judgement"].isin([BETTER, WORSE])
    merged.loc[directional & (merged["polarity"] == CONTEXT_DEPENDENT), "judgement"] = NOT_JUDGED
    # No-data rows are not counted here: they are what is left of n_indicators below.
    merged = merged[merged["judgement"] != NO_DATA]
    judgement = pd.Categorical(merged["judgement"], categories=list(_JUDGEMENT_COLUMN))
    keys = ["la_code", "period", *unit]
    counts = (
        merged[keys]
        .assign(judgement=judgement)
        .groupby([*keys, "judgement"], observed=True, sort=False)
        .size()
        .unstack("judgement", fill_value=0)
        .reindex(columns=list(_JUDGEMENT_COLUMN), fill_value=0)
        .rename(columns=_JUDGEMENT_COLUMN)
        .reset_index()
    )
    counts.columns.name = None

    units = (
        membership.assign(judgeable=membership["polarity"] != CONTEXT_DEPENDENT)
        .groupby(unit, sort=False)
        .agg(n_indicators=("indicator_id", "size"), n_judgeable=("judgeable", "sum"))
    )
    la_periods = judgements[["la_code", "period"]].drop_duplicates()
    frame = la_periods.merge(units.reset_index(), how="cross")
    frame = frame.merge(counts, on=keys, how="left")
    count_columns = list(_JUDGEMENT_COLUMN.values())
    frame[count_columns] = frame[count_columns].fillna(0).astype(np.int64)
    frame["n_indicators"] = frame["n_indicators"].astype(np.int64)
    frame["n_no_data"] = frame["n_indicators"] - frame[count_columns].sum(axis=1)
    required = np.clip(np.minimum(MIN_JUDGED_INDICATORS, frame["n_judgeable"].to_numpy()), 1, None)
    frame["reading"] = reading(
        frame["n_better"].to_numpy(),
        frame["n_similar"].to_numpy(),
        frame["n_worse"].to_numpy(),
        required,
    )
    return frame.drop(columns="n_judgeable")


# --- Outcomes ---------------------------------------------------------------------------------


@pa.check_types
def outcome_readings(
    per_la_comparisons: DataFrame[Judgements], meta: DataFrame[OutcomeMeta]
) -> DataFrame[OutcomeReadings]:
    """Per LA x period x outcome (domain, outcome number): judgement counts and the reading.

    ``meta``: the indicator metadata (the IndicatorMeta contract; only indicator_id, polarity,
    domain and outcome are used). Every outcome of ``meta`` gets a row for every LA x period
    present in ``per_la_comparisons``; judgements of indicators not in ``meta`` are ignored.
    """
    judgements = _total_judgements(per_la_comparisons)
    membership = meta[["domain", "outcome", "indicator_id", "polarity"]]
    frame = _unit_readings(judgements, membership, ["domain", "outcome"])
    indicators = membership.groupby(["domain", "outcome"], sort=False)["indicator_id"].agg(tuple)
    frame = frame.merge(indicators.rename("indicators").reset_index(), on=["domain", "outcome"])
    # An empty merge gives the tuple column a float dtype; it is a column of tuples.
    frame["indicators"] = frame["indicators"].astype(object)
    columns = list(OutcomeReadings.to_schema().columns)
    return frame.sort_values(["la_code", "period", "domain", "outcome"])[columns].reset_index(
        drop=True
    )


# --- Cross-domain pairs -----------------------------------------------------------------------


@dataclass(frozen=True)
class SeedPair:
    """A pair of indicator sets the seed expects to move together, with where it says so."""

    pair_id: str
    name: str
    seed_section: str
    rationale: str
    a_label: str
    a: tuple[str, ...]
    b_label: str
    b: tuple[str, ...]


_PRACTICE = ("t2_evidence_informs_practice", "t2_whole_family_network")
_USERS_VIEWS = (
    "t4_child_relationship_with_worker",
    "t4_child_open_honest_communication",
    "t4_parent_relationship_with_worker",
    "t4_parent_open_honest_communication",
    "t4_child_involved_identifying_needs",
    "t4_child_involved_planning_support",
    "t4_parent_involved_identifying_needs",
    "t4_parent_involved_planning_support",
    "t4_child_collaborative_working",
    "t4_parent_collaborative_working",
)
_COLLABORATION_VIEWS = ("t4_child_collaborative_working", "t4_parent_collaborative_working")

SEED_PAIRS: tuple[SeedPair, ...] = (
    SeedPair(
        pair_id="seed:corporate_support_vs_infrastructure",
        name="Corporate support and support infrastructure",
        seed_section="4.5.1",
        rationale=(
            "'one would expect positive views on corporate support to be associated with "
            "positive views on staff reporting that they have the support and infrastructure to "
            "do their job properly'"
        ),
        a_label="Views on corporate support (Table 2, outcome 1)",
        a=("t2_council_commitment", "t2_strategic_priorities"),
        b_label="Staff views on support infrastructure (Table 2, outcome 5)",
        b=(
            "t2_access_to_information",
            "t2_case_management_systems",
            "t2_systems_training",
            "t2_physical_work_environment",
        ),
    ),
    SeedPair(
        pair_id="seed:users_views_vs_working_conditions",
        name="Users' views and working conditions",
        seed_section="4.5.1",
        rationale=(
            "'Negative users' feedback could indicate that staff are not sufficiently supported "
            "or motivated: conversely efforts to improve working conditions and staff morale "
            "should be reflected in more positive feedback from users'"
        ),
        a_label="Children's and parents' views (Table 4)",
        a=_USERS_VIEWS,
        b_label="Staff feel valued, manageable workloads, supervision (Table 2, outcome 8)",
        b=("t2_feel_valued", "t2_manageable_workloads", "t2_adequate_supervision"),
    ),
    SeedPair(
        pair_id="seed:practice_vs_users_views",
        name="Good practice and users' views that support meets their needs",
        seed_section="4.5.1",
        rationale=(
            "'High scores on good practice indicators (e.g. staff use evidence to inform "
            "practice, use tools and models of practice that support whole family working) "
            "should be reflected in users' views that the support they receive meets their needs'"
        ),
        a_label="Evidence-informed, whole-family practice (Table 2, outcome 6)",
        a=_PRACTICE,
        b_label="Children and parents think services respond to their needs (Table 4, 5-6)",
        b=_COLLABORATION_VIEWS,
    ),
    SeedPair(
        pair_id="seed:practice_vs_child_outcomes",
        name="Good practice and child outcomes",
        seed_section="4.5.1",
        rationale=(
            "good practice should be reflected in 'improvements in child outcomes (e.g. "
            "reduction in risks, children do better and are happier at school)'"
        ),
        a_label="Evidence-informed, whole-family practice (Table 2, outcome 6)",
        a=_PRACTICE,
        b_label="Changes in risks and school experiences (Table 5)",
        b=(
            "t5_missing_episodes_change",
            "t5_domestic_violence_change",
            "t5_parental_mental_ill_health_change",
            "t5_parental_substance_misuse_change",
            "t5_exploitation_change",
            "t5_school_experiences",
            "t5_exclusions_change",
            "t5_unauthorised_absence_change",
        ),
    ),
    SeedPair(
        pair_id="seed:settled_and_happy",
        name="Settled and happy: behaviour and the child's own view",
        seed_section="4.5.1",
        rationale=(
            "'to establish if children are settled and happy, we would expect to see a "
            "reduction in levels of disruptive and risky behaviours, as well as exploring a "
            "child's perceptions of whether they are happy and settled'"
        ),
        a_label="Changes in disruptive and risky behaviour (Table 5, outcome 4)",
        a=(
            "t5_sdq_total_difficulties_change",
            "t5_youth_justice_change",
            "t5_child_substance_misuse_change",
            "t5_self_harm_change",
        ),
        b_label="Child feels settled, loved and cared for (Table 5, outcome 5)",
        b=("t5_feel_settled_loved_cared_for",),
    ),
    SeedPair(
        pair_id="seed:interagency_vs_dependent_outcomes",
        name="Interagency collaboration and outcomes that depend on other agencies",
        seed_section="4.5.2",
        rationale=(
            "'positive views from CSCS staff and users on effective interagency collaboration "
            "should result in positive child outcomes that largely depend on other agencies "
            "(e.g. stable and positive educational experiences, suitable accommodation for care "
            "leavers, engagement in early education)'"
        ),
        a_label="Staff and users' views on collaboration (Tables 2 and 4)",
        a=("t2_effective_multi_agency_working", *_COLLABORATION_VIEWS),
        b_label="School stability and experiences, exclusions, accommodation, early education",
        b=(
            "t5_midyear_school_changes",
            "t5_school_experiences",
            "t5_exclusions",
            "t5_care_leavers_suitable_accommodation",
            "t5_early_education",
        ),
    ),
    SeedPair(
        pair_id="seed:interagency_vs_family_and_community_risks",
        name="Multi-agency working and risks from family circumstances and the community",
        seed_section="4.5.2",
        rationale=(
            "'Failure to reduce risks associated with family circumstances (e.g. exposure to "
            "domestic violence, parental substance misuse) may highlight gaps in some adult "
            "services. Reduction in risks in the community (e.g. sexual/criminal exploitation) "
            "may signal effective working with the police.'"
        ),
        a_label="Effective multi-agency working (Table 2, outcome 4)",
        a=("t2_effective_multi_agency_working",),
        b_label="Changes in domestic violence, parental substance misuse, exploitation",
        b=(
            "t5_domestic_violence_change",
            "t5_parental_substance_misuse_change",
            "t5_exploitation_change",
        ),
    ),
)
"""The named pairs, each quoting the seed section that expects its two sides to agree."""


def _catalogue_links(
    catalogue: Catalogue,
) -> list[tuple[tuple[int, int], tuple[int, int], set, set]]:
    """Cross-outcome triangulation links grouped by outcome pair: (key a, key b, ids a, ids b).

    Keys are (table, outcome) with key a < key b, so each pair appears once.
    """
    links: dict[tuple[tuple[int, int], tuple[int, int]], tuple[set, set]] = {}
    for ind in catalogue.indicators.values():  # catalogue metadata (~100 rows), not data
        key = (ind.table, ind.outcome)
        for other_id in catalogue.triangulation_group(ind.id):
            other = catalogue.indicators[other_id]
            other_key = (other.table, other.outcome)
            if key < other_key:
                a, b = links.setdefault((key, other_key), (set(), set()))
                a.add(ind.id)
                b.add(other_id)
    return [(ka, kb, a, b) for (ka, kb), (a, b) in sorted(links.items())]


def _covered(a: set, b: set, pairs: tuple[SeedPair, ...]) -> bool:
    """Whether a seed pair already reads ``a`` against ``b`` (either way round)."""
    return any(
        (a <= set(p.a) and b <= set(p.b)) or (a <= set(p.b) and b <= set(p.a)) for p in pairs
    )


@pa.check_types
def cross_domain_pairs(
    catalogue: Catalogue, seed_pairs: tuple[SeedPair, ...] = SEED_PAIRS
) -> DataFrame[PairMembers]:
    """The triangulation pairs as one row per pair x side x indicator.

    The named seed pairs, then one pair per two outcomes joined by the catalogue's
    triangulation links (``Catalogue.triangulation_group``) that no seed pair already covers,
    with the linked indicators of each outcome as its sides. Raises ValueError if a seed pair
    names an indicator the catalogue does not have.
    """
    missing = sorted(
        {i for p in seed_pairs for i in (*p.a, *p.b)} - set(catalogue.indicators.keys())
    )
    if missing:
        raise ValueError(f"triangulation pairs name unknown indicators: {missing}")
    rows: list[dict[str, object]] = []
    for p in seed_pairs:
        for side, label, ids in (("a", p.a_label, p.a), ("b", p.b_label, p.b)):
            rows += [
                {
                    "pair_id": p.pair_id,
                    "source": "seed",
                    "name": p.name,
                    "seed_section": p.seed_section,
                    "rationale": p.rationale,
                    "side": side,
                    "side_label": label,
                    "indicator_id": i,
                }
                for i in ids
            ]
    domain_of_table = {d.table: d.id for d in catalogue.domains.values()}
    for key_a, key_b, ids_a, ids_b in _catalogue_links(catalogue):
        if _covered(ids_a, ids_b, seed_pairs):
            continue
        (da, oa), (db, ob) = ((domain_of_table[t], n) for t, n in (key_a, key_b))
        label_a = catalogue.outcome(da, oa).name
        label_b = catalogue.outcome(db, ob).name
        for side, label, ids in (("a", label_a, ids_a), ("b", label_b, ids_b)):
            rows += [
                {
                    "pair_id": f"catalogue:{da}.{oa}~{db}.{ob}",
                    "source": "catalogue",
                    "name": f"{label_a} / {label_b}",
                    "seed_section": "4.5.1",
                    "rationale": (
                        "Linked in the catalogue's triangulation lists (docs/catalogue.md): "
                        "indicators of different outcomes to read together."
                    ),
                    "side": side,
                    "side_label": label,
                    "indicator_id": i,
                }
                for i in sorted(ids)
            ]
    frame = pd.DataFrame(rows)
    indicators = catalogue.indicators.values()
    frame["domain"] = frame["indicator_id"].map({i.id: i.domain for i in indicators})
    frame["outcome"] = frame["indicator_id"].map({i.id: i.outcome for i in indicators})
    frame["polarity"] = frame["indicator_id"].map({i.id: i.polarity.value for i in indicators})
    return frame


@pa.check_types
def pair_readings(
    per_la_comparisons: DataFrame[Judgements], pairs: DataFrame[PairMembers]
) -> DataFrame[PairReadings]:
    """Per LA x period x pair: both sides' counts and readings, and whether they agree.

    Every pair gets a row for every LA x period present in ``per_la_comparisons``. Each side is
    read with :func:`reading` like an outcome; the two readings are compared by the rule of
    :data:`AGREEMENTS`.
    """
    judgements = _total_judgements(per_la_comparisons)
    frame = _unit_readings(judgements, pairs, ["pair_id", "side"])
    labels = pairs.drop_duplicates(["pair_id", "side"])[["pair_id", "side", "name", "side_label"]]
    frame = frame.merge(labels, on=["pair_id", "side"])
    keys = ["la_code", "period", "pair_id", "name"]
    values = ["side_label", *COUNT_COLUMNS, "reading"]
    sides = {
        s: frame.loc[frame["side"] == s, [*keys, *values]].rename(
            columns={v: f"{s}_{'label' if v == 'side_label' else v}" for v in values}
        )
        for s in ("a", "b")
    }
    wide = sides["a"].merge(sides["b"], on=keys)
    wide["agreement"] = _agreement(
        wide["a_reading"].to_numpy(dtype=object), wide["b_reading"].to_numpy(dtype=object)
    )
    columns = list(PairReadings.to_schema().columns)
    return wide.sort_values(["la_code", "period", "pair_id"])[columns].reset_index(drop=True)
