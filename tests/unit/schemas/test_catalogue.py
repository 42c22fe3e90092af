"""Tests for the indicator catalogue (schemas/catalogue).

The EXPECTED fixture below is written by hand from Tables 2 to 5 of the report the catalogue
implements (La Valle et al., 2019). For every indicator it gives a short phrase quoted from the
report, so the tests check both that the fixture is faithful to the report and that the catalogue
holds exactly the report's indicators.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

import schemas.catalogue as catalogue_module
from schemas.catalogue import (
    TABLE_FILES,
    Catalogue,
    CatalogueError,
    Indicator,
    Polarity,
    load_catalogue,
)

REPO = Path(__file__).resolve().parents[3]
SEED = REPO.parent / "shared" / "seed" / "000_753ef922b7107466.txt"
CATALOGUE_DIR = Path(catalogue_module.__file__).parent

# Indicator id -> phrase quoted from the report. A plain string must occur in the report and in
# the indicator's text. A pair (report phrase, text phrase) is used where the report's wording is
# shared by the parts of a compound indicator ("1) ...; 2) ...") or was garbled when the PDF was
# extracted: the first must occur in the report, the second in the indicator's text.
Phrase = str | tuple[str, str]
EXPECTED: dict[int, dict[str, Phrase]] = {
    2: {
        # 1. Effective leadership
        "t2_council_commitment": "the council is committed to CSCS",
        "t2_strategic_priorities": "clear strategic priorities",
        "t2_leaders_in_touch_with_practice": "leaders are in touch with frontline practice",
        # 2. Commitment to social work values and ethics
        "t2_values_statement": "statement setting out the values underpinning the service",
        "t2_values_statement_describes_operation": "describes how these values operate",
        "t2_staff_apply_values": "apply these values in their day to day practice",
        # 3. Culture that supports reflective learning
        "t2_reflective_learning": "the organisation supports reflective learning",
        "t2_feedback_informs_service_planning": (
            "users' feedback informs: 1) service planning",
            "users' feedback informs service planning",
        ),
        "t2_feedback_informs_practice": (
            "2) social work practice",
            "users' feedback informs social work practice",
        ),
        # 4. Effective multi-agency working
        "t2_partners_attend_strategic_meetings": (
            "routinely attend multi-agency 1) strategic meetings",
            "routinely attend multi-agency strategic meetings",
        ),
        "t2_partners_attend_operational_meetings": (
            "2) operational meetings",
            "routinely attend multi-agency operational meetings",
        ),
        "t2_effective_multi_agency_working": "the extent to which there is effective multi-agency",
        "t2_multi_agency_factors": "factors that support or undermine",
        # 5. Adequate support infrastructure
        "t2_access_to_information": "information about the children and families they work with",
        "t2_case_management_systems": "case management systems that allow efficient access",
        "t2_systems_training": "training to effectively use these systems",
        "t2_physical_work_environment": "adequacy of the physical work environment",
        # 6. Good social work practice
        "t2_practice_framework": (
            "Whether there is a framework underpinning practice",
            "Whether there is a framework underpinning practice",
        ),
        "t2_staff_apply_practice_framework": (
            "to what extent staff are able to apply it",
            "staff are able to apply it",
        ),
        "t2_evidence_informs_practice": "evidence is used to inform practice",
        "t2_whole_family_network": "whole network of relevant family members and friends",
        "t2_users_role_in_support": "meaningful role in determining the support they receive",
        "t2_trust_based_relationships": "establish relationships with children",
        "t2_autonomy_in_decisions": "appropriate autonomy in decision-making",
        # 7. Stable workforce
        "t2_staff_turnover": ("Turnover and vacancy rate", "Turnover rate"),
        "t2_vacancy_rate": ("Turnover and vacancy rate", "Vacancy rate"),
        "t2_length_of_service": "Length of service of staff",
        "t2_agency_social_workers": "social work agency staff",
        # 8. Motivated workforce
        "t2_satisfaction_time_with_children": "able to spend enough time with children",
        "t2_satisfaction_improved_outcomes": "intervention has improved children's outcomes",
        "t2_feel_valued": "feel valued by their employer",
        "t2_adequate_supervision": "receive adequate supervision",
        "t2_learning_opportunities": "enough learning and development",
        "t2_manageable_workloads": "workloads are manageable",
        "t2_sickness_absence": "Sickness levels of staff",
        # 9. Skilled workforce
        "t2_own_skills": "adequacy of own skills",
        "t2_colleagues_skills": ("skills of 1) colleagues", "skills of colleagues"),
        "t2_middle_managers_skills": ("2) middle", "skills of middle managers"),
    },
    3: {
        # 1. Partner agencies are able to identify children who are potentially in need
        "t3_referrals_leading_to_service": "becoming a child in need",
        "t3_referrals_nfa": "referrals leading to no further action",
        "t3_referral_outcomes_by_agency": "Outcomes of referrals made by different agencies",
        # 2. Effective identification of children in need
        "t3_rereferrals_no_service": "re-referrals of children who had not received a service",
        "t3_rereferrals_after_cin_plan": "re-referrals of children previously subject to a CiN",
        # 3. Effective identification of children at risk of harm
        "t3_s47_no_plan": "S47 enquiries that do not lead to a plan",
        "t3_repeat_s47_after_cp_plan": "repeat S47 enquiries of children previously subject",
        "t3_repeat_cp_plans": "children with repeat CP plans",
        # 4. Effective identification of children who cannot be cared for safely at home
        "t3_unplanned_admissions_to_care": "unplanned admissions into care",
        "t3_readmissions_to_care": "re-admitted into care",
        # 5. Support is appropriate to meet a child's needs
        "t3_plan_same_type": "remained on the same type of plan",
        "t3_deescalated_no_return": "de-escalated and did not present again",
        "t3_deescalated_returned": "de-escalated but who presented with unmet needs",
        "t3_escalated_confirmed": "escalated and confirmed at the first review",
        "t3_escalated_then_deescalated": "escalated and then de-escalated",
        # 6. Care leavers continue to be supported by their corporate parent
        "t3_care_leavers_in_touch": "Patterns of contact with LA services after leaving care",
    },
    4: {
        # 1. Children trust staff and have a stable and supportive relationship with them
        "t4_changed_social_worker": "children who have changed social worker",
        "t4_child_relationship_with_worker": (
            "Child's views on the relationship with their social worker",
            "Child's views on the relationship with their social worker",
        ),
        "t4_child_open_honest_communication": (
            "communication with their social worker/key staff has been open and honest",
            "Child's views on the extent to which communication",
        ),
        # 2. Parents/carers trust staff and have a stable and supportive relationship with them
        "t4_parent_relationship_with_worker": (
            "Parents'/carers' views on the relationship with their social worker",
            "Parents'/carers' views on the relationship with their social worker",
        ),
        "t4_parent_open_honest_communication": (
            "carers views on the extent to which communication",
            "Parents'/carers' views on the extent to which communication",
        ),
        # 3. Children involved in identifying their needs and planning their support
        "t4_child_involved_identifying_needs": (
            "involved in 1) identifying their needs",
            "involved in identifying their needs",
        ),
        "t4_child_involved_planning_support": (
            "2) what support they require",
            "deciding what support they require",
        ),
        "t4_child_attended_planning_meetings": "children who attended meetings to plan",
        # 4. Parents/carers involved in identifying their needs and planning their support
        "t4_parent_involved_identifying_needs": (
            "involved in 1) identifying needs",
            "involved in identifying needs",
        ),
        "t4_parent_involved_planning_support": "what support they and their child require",
        "t4_parent_attended_planning_meetings": "parents/carers who attended meetings to plan",
        # 5. Children think services are responding to their needs
        "t4_child_collaborative_working": (
            "Child's views on whether their social worker worked collaboratively",
            "Child's views on whether their social worker worked collaboratively",
        ),
        "t4_child_complaints_substantiated": "substantiated complaints from children",
        "t4_child_repeat_complaints": ("% of repeat complaints", "repeat complaints from children"),
        # 6. Parents/carers think services are responding to their needs
        "t4_parent_collaborative_working": (
            "Parents'/carers' views on whether their social worker worked collaboratively",
            "Parents'/carers' views on whether their social worker worked collaboratively",
        ),
        "t4_parent_complaints_substantiated": (
            "substantiated complaints from parents/ carers",
            "substantiated complaints from parents/carers",
        ),
        "t4_parent_repeat_complaints": "repeat complaints from parents/carers",
    },
    5: {
        # 1. Children are safe where they live
        "t5_went_missing": "went missing from home or placement",
        "t5_missing_episodes_change": "more/fewer missing episodes",
        "t5_domestic_violence": "affected by domestic violence in the previous 6 months",
        "t5_domestic_violence_change": "more/less likely to be affected by domestic violence",
        "t5_parental_mental_ill_health": "affected by parental mental ill health in the previous",
        "t5_parental_mental_ill_health_change": "affected by parental mental ill-health",
        "t5_parental_substance_misuse": "affected by parental substance misuse in the previous",
        "t5_parental_substance_misuse_change": "likely to be affected by parental substance",
        "t5_feel_safe_at_home": "feel safe and supported at home or in their placement",
        # 2. Children are safe in their community
        "t5_exploitation": "affected by criminal/sexual exploitation/trafficking in the previous",
        "t5_exploitation_change": "likely to be affected by criminal/sexual exploitation",
        "t5_feel_safe_in_community": "feels safe in their community",
        # 3. Care leavers are safe
        "t5_care_leavers_suitable_accommodation": "care leavers in suitable accommodation",
        "t5_care_leavers_accommodation_transitions": "moved from unsuitable to suitable",
        # 4. Children are settled and happy where they live
        "t5_sdq_total_difficulties_change": "SDQ behaviour scores",
        "t5_youth_justice_change": "involved with the youth justice system",
        "t5_child_substance_misuse_change": "involved in substance misuse",
        "t5_self_harm_change": "more/less likely to have self-harmed",
        # 5. Achieving stability and permanence
        "t5_feel_settled_loved_cared_for": "feel settled, loved and cared for",
        "t5_understand_future_care_plans": "understand the plans for their future care",
        "t5_audit_plan_updated": "has been updated in the past 6 months",
        "t5_audit_plan_not_drifting": "is not being allowed to drift",
        "t5_audit_needs_met_at_home": "evidence of the child's needs being met at home",
        "t5_long_term_plan_within_2_years": "within 2 years of becoming looked after",
        "t5_unplanned_placement_moves": "unplanned placement moves",
        "t5_successful_moves_to_permanence": "moves to permanence arrangements",
        "t5_child_views_permanence": (
            "Child's views on what is being",
            "Child's views on what is being done to achieve permanence",
        ),
        "t5_parent_views_permanence": "Parents'/carers' views on what is being done to achieve",
        "t5_child_clear_contact_plans": "are clear about the plans for contact with their family",
        "t5_child_wishes_contact": (
            "feel their wishes have been taken into account",
            "Children feel their wishes",
        ),
        "t5_family_clear_contact_plans": "are clear about the plans for contact with the child",
        "t5_family_wishes_contact": (
            "feel their wishes have been taken into account",
            "Parents/siblings feel their wishes",
        ),
        # 6. Behavioural and emotional development
        "t5_sdq_emotional_change": "emotional development",
        "t5_sdq_conduct_change": "conduct problems",
        "t5_sdq_hyperactivity_change": "hyperactivity",
        # 7. Social development
        "t5_sdq_peer_problems_change": "peer relationships",
        "t5_sdq_prosocial_change": "prosocial behaviour",
        # 8. Positive identity and hopes for the future (outcome name reconstructed)
        "t5_parent_views_positive_identity": "positive sense of their identity",
        "t5_parent_views_hopes_for_future": "hopes for their future",
        # 9. Mental health
        "t5_unmet_mental_health_needs": "identified unmet mental health needs",
        "t5_mental_health_needs_supported": "supported by CAMHS or equivalent",
        # 10. Children engage in early education
        "t5_early_education": "2-4 year olds in early education",
        # 11. Children engage in education
        "t5_exclusions": "with permanent and fixed term exclusions",
        "t5_unauthorised_absence": "unauthorised absences in the previous 6 months",
        "t5_exclusions_change": "more/less likely to have permanent or fixed term exclusions",
        "t5_unauthorised_absence_change": "more/less likely to have unauthorised absences",
        # 12. Children have stable and positive educational experiences
        "t5_midyear_school_changes": "with mid-year school changes",
        "t5_midyear_school_changes_change": "more/fewer mid-year school changes",
        "t5_school_experiences": "experiences of school/college",
        "t5_enjoyed_activities": "other activities they enjoy",
        # 13. Children make progress in education (numbered 12 a second time in the report)
        "t5_key_stage_progress": "Progress individual children make with Key Stage results",
        "t5_aspirations": "aspirations for the future",
        "t5_care_leavers_eet": "care leavers in education, employment or training",
        "t5_care_leavers_eet_change": "Change in EET status of individual care leavers",
    },
}

# Indicators per table in the report's Tables 2 to 5, compound indicators counted by part.
EXPECTED_COUNTS = {2: 38, 3: 16, 4: 17, 5: 54}

EXPECTED_PHRASES = [
    pytest.param(table, ind_id, phrase, id=ind_id)
    for table, phrases in EXPECTED.items()
    for ind_id, phrase in phrases.items()
]

CHANGE_CATEGORY_DIMENSIONS = {"change_direction", "accommodation_transition", "eet_transition"}
PERCENT_MEASURES = {"proportion", "agreement", "change_distribution"}
CHILD_DEMOGRAPHICS = {"gender", "ethnicity", "disability"}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _seed_phrase(phrase: Phrase) -> str:
    return phrase if isinstance(phrase, str) else phrase[0]


def _text_phrase(phrase: Phrase) -> str:
    return phrase if isinstance(phrase, str) else phrase[1]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def seed_text() -> str:
    # ../shared is laid beside every checkout, CI's included: a missing report is a failure.
    assert SEED.is_file(), f"report text not found at {SEED}"
    return _norm(SEED.read_text(encoding="utf-8"))


# --- the report's indicators


def test_catalogue_total_matches_report(catalogue: Catalogue) -> None:
    assert len(catalogue.indicators) == sum(EXPECTED_COUNTS.values())


@pytest.mark.parametrize("table", sorted(EXPECTED_COUNTS))
def test_expected_fixture_count_matches_report(table: int) -> None:
    assert len(EXPECTED[table]) == EXPECTED_COUNTS[table]


@pytest.mark.parametrize("table", sorted(EXPECTED_COUNTS))
def test_table_indicators_match_report(catalogue: Catalogue, table: int) -> None:
    actual = {i.id for i in catalogue.by_table(table)}
    expected = set(EXPECTED[table])
    assert not expected - actual, f"table {table}: missing indicators {sorted(expected - actual)}"
    assert not actual - expected, (
        f"table {table}: unexpected indicators {sorted(actual - expected)}"
    )
    assert len(actual) == EXPECTED_COUNTS[table]


@pytest.mark.parametrize(("table", "ind_id", "phrase"), EXPECTED_PHRASES)
def test_expected_phrase_in_report(seed_text: str, table: int, ind_id: str, phrase: Phrase) -> None:
    assert _norm(_seed_phrase(phrase)) in seed_text, f"{ind_id}: phrase not in the report"


@pytest.mark.parametrize(("table", "ind_id", "phrase"), EXPECTED_PHRASES)
def test_expected_phrase_matches_one_indicator(
    catalogue: Catalogue, table: int, ind_id: str, phrase: Phrase
) -> None:
    needle = _norm(_text_phrase(phrase))
    matches = [i.id for i in catalogue.by_table(table) if needle in _norm(i.text)]
    assert matches == [ind_id], f"table {table}: {needle!r} matches {matches}, expected {ind_id}"


# --- fields


def test_indicator_ids_unique_across_files() -> None:
    ids = [
        raw["id"]
        for name in TABLE_FILES
        for raw in yaml.safe_load((CATALOGUE_DIR / name).read_text(encoding="utf-8"))["indicators"]
    ]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not duplicates


def test_indicator_id_prefixed_by_table(catalogue: Catalogue) -> None:
    bad = [i.id for i in catalogue.indicators.values() if not i.id.startswith(f"t{i.table}_")]
    assert not bad


def test_indicator_text_clean(catalogue: Catalogue) -> None:
    footnote_marks = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]|\s{2,}|\t|\n")
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if footnote_marks.search(i.text) or i.text != i.text.strip() or i.text.endswith(".")
    ]
    assert not bad


def test_indicator_context_dependent_has_polarity_note(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if i.polarity is Polarity.CONTEXT_DEPENDENT and not (i.polarity_note or "").strip()
    ]
    assert not bad


def test_indicator_change_distribution_has_required_category(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if i.measure_type == "change_distribution"
        and not set(i.required_breakdowns) & CHANGE_CATEGORY_DIMENSIONS
    ]
    assert not bad


def test_indicator_change_category_only_on_change_distribution(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if set(i.breakdowns) & CHANGE_CATEGORY_DIMENSIONS
        and (i.measure_type != "change_distribution" or len(i.required_breakdowns) != 1)
    ]
    assert not bad


def test_indicator_yes_no_has_no_breakdowns(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if i.measure_type == "yes_no"
        and (
            i.breakdowns or i.unit != "yes/no" or i.decimals != 0 or i.cohort != "The organisation"
        )
    ]
    assert not bad


def test_indicator_other_measures_have_breakdowns(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if i.measure_type != "yes_no" and not i.breakdowns
    ]
    assert not bad


def test_indicator_unit_and_decimals_match_measure(catalogue: Catalogue) -> None:
    bad = []
    for i in catalogue.indicators.values():
        if i.measure_type in PERCENT_MEASURES:
            ok = (i.unit, i.decimals) == ("%", 1)
        elif i.measure_type == "mean_change":
            ok = i.decimals == 2 and i.unit in {"score points", "progress score"}
        elif i.measure_type == "mean":
            ok = (i.unit, i.decimals) == ("years", 1)
        else:
            ok = True
        if not ok:
            bad.append(i.id)
    assert not bad


def test_indicator_reference_period_matches_text(catalogue: Catalogue) -> None:
    bad = []
    for i in catalogue.indicators.values():
        text = i.text.casefold()
        if "compared with the previous 6 months" in text:
            expected = "change_vs_previous_6_months"
        elif "in the previous 6 months" in text:
            expected = "previous_6_months"
        elif i.measure_type == "change_distribution":
            expected = "change_vs_previous_6_months"
        else:
            continue
        if i.reference_period != expected:
            bad.append(i.id)
    assert not bad


def test_indicator_change_measures_longitudinal(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if i.measure_type in {"change_distribution", "mean_change"}
        and i.source_type != "longitudinal"
    ]
    assert not bad


def test_indicator_users_views_are_agreement(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if (i.source_type == "users_views") != (i.measure_type == "agreement" and i.table != 2)
    ]
    assert not bad


def test_indicator_table2_is_organisation_workforce(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.by_table(2)
        if i.source_type != "organisation_workforce"
        or i.cohort not in {"CSCS staff at all levels", "The organisation"}
        or (i.measure_type != "yes_no" and "staff_level" not in i.breakdowns)
    ]
    assert not bad


def test_indicator_care_leaver_cohort_has_age_breakdown(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if ("care leaver" in i.cohort.casefold()) != ("care_leaver_age" in i.breakdowns)
    ]
    assert not bad


def test_indicator_child_cohort_has_demographic_breakdowns(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if i.table != 2
        and i.cohort.casefold().startswith(("children", "all children", "looked after"))
        and not i.id.endswith(("_complaints_substantiated", "_repeat_complaints"))
        and not i.id.startswith("t5_audit_")
        and not set(i.breakdowns) >= CHILD_DEMOGRAPHICS
    ]
    assert not bad


@pytest.mark.parametrize(
    ("ind_id", "polarity"),
    [
        ("t2_staff_turnover", Polarity.CONTEXT_DEPENDENT),
        ("t2_vacancy_rate", Polarity.LOWER_IS_BETTER),
        ("t2_length_of_service", Polarity.HIGHER_IS_BETTER),
        ("t2_agency_social_workers", Polarity.LOWER_IS_BETTER),
        ("t2_sickness_absence", Polarity.LOWER_IS_BETTER),
        ("t3_referrals_leading_to_service", Polarity.HIGHER_IS_BETTER),
        ("t3_referrals_nfa", Polarity.LOWER_IS_BETTER),
        ("t3_repeat_cp_plans", Polarity.CONTEXT_DEPENDENT),
        ("t3_deescalated_no_return", Polarity.CONTEXT_DEPENDENT),
        ("t3_deescalated_returned", Polarity.LOWER_IS_BETTER),
        ("t4_changed_social_worker", Polarity.LOWER_IS_BETTER),
        ("t4_child_complaints_substantiated", Polarity.CONTEXT_DEPENDENT),
        ("t5_sdq_total_difficulties_change", Polarity.LOWER_IS_BETTER),
        ("t5_sdq_peer_problems_change", Polarity.LOWER_IS_BETTER),
        ("t5_sdq_prosocial_change", Polarity.HIGHER_IS_BETTER),
        ("t5_mental_health_needs_supported", Polarity.HIGHER_IS_BETTER),
        ("t5_unmet_mental_health_needs", Polarity.LOWER_IS_BETTER),
        ("t5_care_leavers_eet_change", Polarity.HIGHER_IS_BETTER),
    ],
)
def test_indicator_polarity_as_decided(
    catalogue: Catalogue, ind_id: str, polarity: Polarity
) -> None:
    assert catalogue.indicators[ind_id].polarity is polarity


@pytest.mark.parametrize(
    ("ind_id", "dimension"),
    [
        ("t3_referral_outcomes_by_agency", "referral_source"),
        ("t5_missing_episodes_change", "change_direction"),
        ("t5_self_harm_change", "change_direction"),
        ("t5_care_leavers_accommodation_transitions", "accommodation_transition"),
        ("t5_care_leavers_eet_change", "eet_transition"),
    ],
)
def test_indicator_required_breakdown_present(
    catalogue: Catalogue, ind_id: str, dimension: str
) -> None:
    ind = catalogue.indicators[ind_id]
    assert dimension in ind.required_breakdowns
    assert dimension in ind.breakdowns


@pytest.mark.parametrize(
    ("ind_id", "source"),
    [
        ("t2_vacancy_rate", "CSC workforce census"),
        ("t3_referrals_nfa", "CIN census"),
        ("t3_repeat_cp_plans", "CIN census"),
        ("t3_readmissions_to_care", "SSDA903"),
        ("t3_care_leavers_in_touch", "SSDA903"),
        ("t5_domestic_violence", "CIN census"),
        ("t5_exploitation", "CIN census"),
        ("t5_exclusions", "NPD"),
        ("t5_early_education", "NPD"),
        ("t5_key_stage_progress", "NPD"),
        ("t5_care_leavers_eet", "SSDA903"),
    ],
)
def test_indicator_national_source_listed(catalogue: Catalogue, ind_id: str, source: str) -> None:
    assert source in catalogue.indicators[ind_id].national_sources


def test_indicator_views_are_new(catalogue: Catalogue) -> None:
    # Users' views need a new standardised instrument (report section 3.3).
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if i.source_type == "users_views" and not i.is_new
    ]
    assert not bad


# --- outcomes


def test_outcome_has_indicator(catalogue: Catalogue) -> None:
    used = {(i.domain, i.outcome) for i in catalogue.indicators.values()}
    empty = [(o.domain, o.number) for o in catalogue.outcomes if (o.domain, o.number) not in used]
    assert not empty


def test_outcome_numbers_consecutive(catalogue: Catalogue) -> None:
    for domain in catalogue.domains:
        numbers = sorted(o.number for o in catalogue.outcomes if o.domain == domain)
        assert numbers == list(range(1, len(numbers) + 1)), domain


# --- triangulation


def test_triangulation_links_resolve(catalogue: Catalogue) -> None:
    bad = [
        (i.id, t)
        for i in catalogue.indicators.values()
        for t in i.triangulation
        if t not in catalogue.indicators or t == i.id
    ]
    assert not bad


def test_triangulation_links_not_repeated(catalogue: Catalogue) -> None:
    bad = [
        i.id
        for i in catalogue.indicators.values()
        if len(set(i.triangulation)) != len(i.triangulation)
    ]
    assert not bad


def test_triangulation_every_indicator_grouped(catalogue: Catalogue) -> None:
    # "None of the indicators included in the framework are designed to be used in isolation."
    alone = [i for i in catalogue.indicators if not catalogue.triangulation_group(i)]
    assert not alone


def test_triangulation_group_symmetric(catalogue: Catalogue) -> None:
    bad = [
        (a, b)
        for a in catalogue.indicators
        for b in catalogue.triangulation_group(a)
        if a not in catalogue.triangulation_group(b)
    ]
    assert not bad


def test_triangulation_links_whole_outcome(catalogue: Catalogue) -> None:
    # An outcome is assessed by reading its indicators together (report section 4.5.1).
    bad = []
    for ind in catalogue.indicators.values():
        siblings = {
            i.id
            for i in catalogue.indicators.values()
            if (i.domain, i.outcome) == (ind.domain, ind.outcome) and i.id != ind.id
        }
        missing = siblings - set(catalogue.triangulation_group(ind.id))
        if missing:
            bad.append((ind.id, sorted(missing)))
    assert not bad


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # 4.5.1: corporate support <-> staff have the support and infrastructure to do their job
        ("t2_council_commitment", "t2_access_to_information"),
        ("t2_strategic_priorities", "t2_physical_work_environment"),
        # 4.5.1: users' views <-> staff conditions and morale
        ("t4_child_relationship_with_worker", "t2_feel_valued"),
        ("t4_parent_involved_planning_support", "t2_manageable_workloads"),
        ("t4_child_collaborative_working", "t2_adequate_supervision"),
        # 4.5.1: good practice <-> support meets needs, and child outcomes
        ("t2_evidence_informs_practice", "t4_parent_collaborative_working"),
        ("t2_whole_family_network", "t5_domestic_violence_change"),
        ("t2_evidence_informs_practice", "t5_school_experiences"),
        # 4.5.1: settled and happy = fewer risky behaviours + the child's own view
        ("t5_sdq_total_difficulties_change", "t5_feel_settled_loved_cared_for"),
        # 4.5.2: multi-agency working <-> outcomes that depend on other agencies
        ("t2_effective_multi_agency_working", "t5_midyear_school_changes"),
        ("t2_effective_multi_agency_working", "t5_care_leavers_suitable_accommodation"),
        ("t2_effective_multi_agency_working", "t5_early_education"),
        ("t2_effective_multi_agency_working", "t5_exploitation_change"),
    ],
)
def test_triangulation_report_pair_linked(catalogue: Catalogue, a: str, b: str) -> None:
    assert b in catalogue.triangulation_group(a)
    assert a in catalogue.triangulation_group(b)


# --- rejecting bad data


def _first(raw: dict[str, dict], name: str = "table2.yaml") -> dict:
    return raw[name]["indicators"][0]


# (case, change to the packaged files, what the error must say)
BAD_CATALOGUES: list[tuple[str, Callable[[dict[str, dict]], object], str]] = [
    (
        "unknown_measure_type",
        lambda raw: _first(raw).update(measure_type="median"),
        "unknown measure type 'median'",
    ),
    ("unknown_polarity", lambda raw: _first(raw).update(polarity="up"), "polarity"),
    ("unknown_source_type", lambda raw: _first(raw).update(source_type="hearsay"), "source_type"),
    ("unknown_outcome", lambda raw: _first(raw).update(outcome=99), "unknown outcome 99"),
    (
        "unknown_breakdown",
        lambda raw: _first(raw).update(breakdowns=["staff_level", "postcode"]),
        "unknown breakdown 'postcode'",
    ),
    (
        "unknown_national_source",
        lambda raw: _first(raw).update(national_sources=["Census 2021"]),
        "unknown national source",
    ),
    (
        "required_not_in_breakdowns",
        lambda raw: _first(raw).update(required_breakdowns=["gender"]),
        "required_breakdowns must also be in breakdowns",
    ),
    (
        "dangling_triangulation",
        lambda raw: _first(raw).update(triangulation=["t2_no_such_thing"]),
        "link to unknown indicator 't2_no_such_thing'",
    ),
    (
        "self_triangulation",
        lambda raw: _first(raw).update(triangulation=[_first(raw)["id"]]),
        "link to itself",
    ),
    ("bad_id", lambda raw: _first(raw).update(id="T2-Council"), "should match pattern"),
    ("extra_field", lambda raw: _first(raw).update(colour="red"), "colour"),
    ("missing_field", lambda raw: _first(raw).pop("polarity"), "polarity: Field required"),
    ("short_text", lambda raw: _first(raw).update(text="Views"), "text"),
    (
        "duplicate_id",
        lambda raw: raw["table5.yaml"]["indicators"].append(copy.deepcopy(_first(raw))),
        "duplicate indicator id t2_council_commitment",
    ),
    (
        "table_domain_mismatch",
        lambda raw: raw["table2.yaml"].update(table=3),
        "table 3 but domain is table 2",
    ),
    (
        "unknown_domain",
        lambda raw: raw["table3.yaml"].update(domain="no_such_domain"),
        "unknown domain 'no_such_domain'",
    ),
    (
        "total_listed_as_breakdown_value",
        lambda raw: raw["catalogue.yaml"]["breakdowns"][0]["values"].append("Total"),
        "'Total' is implicit",
    ),
]


@pytest.fixture(scope="module")
def raw_files() -> dict[str, dict]:
    return {
        name: yaml.safe_load((CATALOGUE_DIR / name).read_text(encoding="utf-8"))
        for name in ("catalogue.yaml", *TABLE_FILES)
    }


def _load_from(raw: dict[str, dict], monkeypatch: pytest.MonkeyPatch) -> Catalogue:
    monkeypatch.setattr(catalogue_module, "_read_yaml", lambda name: copy.deepcopy(raw[name]))
    # Bypass the cache so the patched files are read.
    return catalogue_module.load_catalogue.__wrapped__()


def test_loader_accepts_packaged_files(
    raw_files: dict[str, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(_load_from(raw_files, monkeypatch).indicators) == sum(EXPECTED_COUNTS.values())


@pytest.mark.parametrize(
    ("mutate", "message"), [pytest.param(m, msg, id=name) for name, m, msg in BAD_CATALOGUES]
)
def test_loader_rejects_bad_catalogue(
    raw_files: dict[str, dict],
    monkeypatch: pytest.MonkeyPatch,
    mutate: Callable[[dict[str, dict]], object],
    message: str,
) -> None:
    raw = copy.deepcopy(raw_files)
    mutate(raw)
    with pytest.raises(CatalogueError, match=re.escape(message)):
        _load_from(raw, monkeypatch)


@pytest.mark.parametrize(
    "update",
    [
        pytest.param({"polarity": "sideways"}, id="unknown_polarity"),
        pytest.param({"reference_period": "last_week"}, id="unknown_reference_period"),
        pytest.param({"decimals": 9}, id="too_many_decimals"),
        pytest.param({"id": "has space"}, id="bad_id"),
        pytest.param({"extra": 1}, id="extra_field"),
    ],
)
def test_indicator_model_rejects_bad_field(catalogue: Catalogue, update: dict[str, object]) -> None:
    good = catalogue.indicators["t2_council_commitment"].model_dump()
    with pytest.raises(ValidationError):
        Indicator.model_validate({**good, **update})


@pytest.mark.parametrize(
    "update",
    [
        pytest.param({"measure_type": "median"}, id="unknown_measure_type"),
        pytest.param({"triangulation": ("t2_no_such_thing",)}, id="dangling_triangulation"),
        pytest.param({"breakdowns": ("postcode",)}, id="unknown_breakdown"),
    ],
)
def test_catalogue_model_rejects_bad_indicator(
    catalogue: Catalogue, update: dict[str, object]
) -> None:
    bad = catalogue.indicators["t2_council_commitment"].model_copy(update=update)
    data = {**catalogue.model_dump(), "indicators": {**catalogue.indicators, bad.id: bad}}
    with pytest.raises(ValidationError, match="invalid catalogue"):
        Catalogue.model_validate(data)
