"""Calibration of the synthetic data: cohorts, indicator levels and breakdown compositions.

Nothing here is measured data except where a ``real`` source is named (those levels come from
each LA's published figures in ``data/la_rates.csv``). The other levels are plausible national
magnitudes chosen for the synthetic data: survey agreement 40 to 90%, workforce turnover around
16%, the factors recorded at assessment in the CIN census, and so on. They make the data look
like children's social care data; they are not statistics and must never be reported as such.

An indicator's denominator is drawn from a *cohort* (the children, staff or survey respondents it
is about) whose size scales with the LA's child population. Cohorts derived from another cohort
(survey respondents from staff, S47 enquiries from referrals) are sub-samples of it, so their
breakdown categories are sub-samples of the parent's categories too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "CHANGE_GOODNESS",
    "CHANGE_SHARES",
    "COHORTS",
    "CONTEXT_SHIFTS",
    "DEFAULT_SHARES",
    "ETHNICITY_SHARES",
    "INDICATORS",
    "JOURNEY",
    "MEAN_CATEGORY_OFFSETS",
    "ODDS_OFFSETS",
    "SHARE_OVERRIDES",
    "CohortSpec",
    "IndicatorParams",
    "params_for",
]


# ------------------------------------------------------------------------------------- cohorts


@dataclass(frozen=True)
class CohortSpec:
    """How big a cohort is for an LA.

    ``base``: ``per_10000`` children aged 0-17, times (the LA's ``driver`` rate / the median
    LA's) ** ``elasticity``; with ``per_10000`` None the size is the LA's own ``driver`` rate.
    ``thin``: a ``fraction`` sub-sample of ``parent``. ``scale``: ``parent`` x ``factor`` exactly.
    """

    kind: Literal["base", "thin", "scale"]
    per_10000: float | None = 0.0
    driver: str | None = None  # an la_rates column the size follows
    elasticity: float = 1.0
    parent: str | None = None
    fraction: float | str = 1.0  # a number, or "response_rate" (the LA's staff survey rate)
    factor: int = 1
    floor: float = 0.0  # a minimum expected size (every LA has some staff)
    journey_bump: float = 0.0  # relative rise during the Table 3 phase of an improvement journey


COHORTS: Final[dict[str, CohortSpec]] = {
    # Staff headcount: about 19 per 10,000 children (33,000 children's social workers plus
    # managers and other CSC staff in England), so 40 to 600 for most LAs, a handful in the
    # smallest.
    "staff": CohortSpec("base", per_10000=19.0, floor=3.0),
    "posts": CohortSpec("base", per_10000=22.5, floor=3.0),
    "staff_survey": CohortSpec("thin", parent="staff", fraction="response_rate"),
    "social_workers": CohortSpec("thin", parent="staff", fraction=0.62),
    "staff_days": CohortSpec("scale", parent="staff", factor=220),
    # Children referred in the year: the LA's own published rate (c1), England ~460 per 10,000.
    "referrals": CohortSpec("base", per_10000=None, driver="referral_child_rate"),
    "s47": CohortSpec("thin", parent="referrals", fraction=0.38),
    # Child protection plans starting: the LA's own published rate (d3), England ~50 per 10,000.
    "cp": CohortSpec("base", per_10000=None, driver="cpp_start_rate", journey_bump=0.18),
    # Children in need of help or protection or looked after in the year (~540 per 10,000).
    "cin_all": CohortSpec("base", per_10000=540.0, driver="referral_child_rate", elasticity=0.7),
    "cin": CohortSpec("thin", parent="cin_all", fraction=0.72),
    "early_years": CohortSpec("thin", parent="cin_all", fraction=0.12),
    # Looked after in the year (~95 per 10,000), higher where child protection rates are high.
    "lac": CohortSpec(
        "base", per_10000=95.0, driver="cpp_start_rate", elasticity=0.6, journey_bump=0.12
    ),
    "care_leavers": CohortSpec("base", per_10000=40.0, driver="cpp_start_rate", elasticity=0.5),
    "population": CohortSpec("base", per_10000=10_000.0),
}

# Cohort of an indicator, from the catalogue's "cohort" text (first match wins).
COHORT_BY_TEXT: Final[tuple[tuple[str, str], ...]] = (
    ("staff", "staff_survey"),
    ("organisation", "staff"),
    ("referred", "referrals"),
    ("s47", "s47"),
    ("cp plan", "cp"),
    ("aged 2 to 4", "early_years"),
    ("care leavers", "care_leavers"),
    ("looked after children in the past year", "lac"),
    ("children who were looked after", "lac"),
    ("or looked after", "cin_all"),
    ("in need of help or protection", "cin"),
)


# ---------------------------------------------------------------------------------- indicators


@dataclass(frozen=True)
class IndicatorParams:
    """Level and sampling of one indicator.

    ``level``: the national probability (proportion, agreement, yes/no) or mean; ``fraction``: the
    share of the cohort in the denominator (survey response, audit sample); ``real``: the
    la_rates expression giving each LA's own level instead of ``level``.
    """

    cohort: str
    fraction: float = 1.0
    level: float = 0.6
    real: str | None = None
    sd: float = 1.0  # individual-level SD of a mean
    between: float = 0.3  # LA-to-LA spread: logit units, or mean units for means
    beta: float = 0.3  # effect of one SD of the LA's latent performance (logit or mean units)
    offsets: str = "default"  # which ODDS_OFFSETS profile subgroups follow


def _agree(level: float, cohort: str = "staff_survey", fraction: float = 0.96) -> IndicatorParams:
    return IndicatorParams(cohort, fraction, level)


def _prop(
    cohort: str,
    level: float,
    fraction: float = 1.0,
    *,
    real: str | None = None,
    between: float = 0.3,
    beta: float = 0.3,
    offsets: str = "default",
) -> IndicatorParams:
    return IndicatorParams(
        cohort, fraction, level, real=real, between=between, beta=beta, offsets=offsets
    )


CHILD_SURVEY = 0.07  # share of children in the cohort answering a views survey
PARENT_SURVEY = 0.06
LAC_SURVEY = 0.10

INDICATORS: Final[dict[str, IndicatorParams]] = {
    # Table 2: staff survey (respondents ~ staff x the LA's response rate x item response)
    "t2_council_commitment": _agree(0.72),
    "t2_strategic_priorities": _agree(0.70),
    "t2_leaders_in_touch_with_practice": _agree(0.52),
    "t2_staff_apply_values": _agree(0.78),
    "t2_reflective_learning": _agree(0.66),
    "t2_feedback_informs_service_planning": _agree(0.50),
    "t2_feedback_informs_practice": _agree(0.58),
    "t2_effective_multi_agency_working": _agree(0.60),
    "t2_multi_agency_factors": _agree(0.55),
    "t2_access_to_information": _agree(0.62),
    "t2_case_management_systems": _agree(0.45),
    "t2_systems_training": _agree(0.57),
    "t2_physical_work_environment": _agree(0.60),
    "t2_staff_apply_practice_framework": _agree(0.74),
    "t2_evidence_informs_practice": _agree(0.68),
    "t2_whole_family_network": _agree(0.75),
    "t2_users_role_in_support": _agree(0.71),
    "t2_trust_based_relationships": _agree(0.77),
    "t2_autonomy_in_decisions": _agree(0.64),
    "t2_satisfaction_time_with_children": _agree(0.42),
    "t2_satisfaction_improved_outcomes": _agree(0.66),
    "t2_feel_valued": _agree(0.58),
    "t2_adequate_supervision": _agree(0.73),
    "t2_learning_opportunities": _agree(0.69),
    "t2_manageable_workloads": _agree(0.44),
    "t2_own_skills": _agree(0.85),
    "t2_colleagues_skills": _agree(0.80),
    "t2_middle_managers_skills": _agree(0.70),
    # Table 2: organisational facts (probability of "yes")
    "t2_values_statement": _prop("staff", 0.90, beta=1.0, between=0.8),
    "t2_values_statement_describes_operation": _prop("staff", 0.78, beta=1.0, between=0.8),
    "t2_partners_attend_strategic_meetings": _prop("staff", 0.90, beta=1.0, between=0.8),
    "t2_partners_attend_operational_meetings": _prop("staff", 0.80, beta=1.0, between=0.8),
    "t2_practice_framework": _prop("staff", 0.92, beta=1.0, between=0.8),
    # Table 2: workforce (headcounts; sickness in working days)
    "t2_staff_turnover": _prop("staff", 0.16, offsets="workforce"),
    "t2_vacancy_rate": _prop("posts", 0.17, offsets="workforce"),
    "t2_agency_social_workers": _prop("social_workers", 0.17, offsets="workforce"),
    "t2_sickness_absence": _prop("staff_days", 0.035, offsets="workforce", beta=0.15),
    "t2_length_of_service": IndicatorParams("staff", 1.0, 7.5, sd=6.0, between=1.2, beta=0.5),
    # Table 3: the LA's own published levels (c1, d3)
    "t3_referrals_leading_to_service": _prop(
        "referrals", 0.62, real="service", between=0.08, beta=0.12, offsets="referral"
    ),
    "t3_referrals_nfa": _prop(
        "referrals", 0.065, real="nfa", between=0.08, beta=0.12, offsets="referral"
    ),
    "t3_referral_outcomes_by_agency": _prop(
        "referrals", 0.62, real="service", between=0.08, beta=0.12, offsets="referral"
    ),
    "t3_rereferrals_no_service": _prop("referrals", 0.09, real="rereferral_no_service", beta=0.12),
    "t3_rereferrals_after_cin_plan": _prop("referrals", 0.11, real="rereferral_cin", beta=0.12),
    "t3_s47_no_plan": _prop("s47", 0.62),
    "t3_repeat_s47_after_cp_plan": _prop("s47", 0.09),
    "t3_repeat_cp_plans": _prop("cp", 0.23, real="cpp_subsequent", between=0.08),
    "t3_unplanned_admissions_to_care": _prop("lac", 0.10),
    "t3_readmissions_to_care": _prop("lac", 0.06),
    "t3_plan_same_type": _prop("cin_all", 0.62),
    "t3_deescalated_no_return": _prop("cin_all", 0.14),
    "t3_deescalated_returned": _prop("cin_all", 0.04),
    "t3_escalated_confirmed": _prop("cin_all", 0.07),
    "t3_escalated_then_deescalated": _prop("cin_all", 0.03),
    "t3_care_leavers_in_touch": _prop("care_leavers", 0.91),
    # Table 4
    "t4_changed_social_worker": _prop("cin_all", 0.42),
    "t4_child_relationship_with_worker": _agree(0.74, "cin_all", CHILD_SURVEY),
    "t4_child_open_honest_communication": _agree(0.70, "cin_all", CHILD_SURVEY),
    "t4_parent_relationship_with_worker": _agree(0.68, "cin_all", PARENT_SURVEY),
    "t4_parent_open_honest_communication": _agree(0.64, "cin_all", PARENT_SURVEY),
    "t4_child_involved_identifying_needs": _agree(0.62, "cin_all", CHILD_SURVEY),
    "t4_child_involved_planning_support": _agree(0.58, "cin_all", CHILD_SURVEY),
    "t4_child_attended_planning_meetings": _prop("cin_all", 0.52, 0.55),
    "t4_parent_involved_identifying_needs": _agree(0.63, "cin_all", PARENT_SURVEY),
    "t4_parent_involved_planning_support": _agree(0.60, "cin_all", PARENT_SURVEY),
    "t4_parent_attended_planning_meetings": _prop("cin_all", 0.78),
    "t4_child_collaborative_working": _agree(0.66, "cin_all", CHILD_SURVEY),
    "t4_child_complaints_substantiated": _prop("cin_all", 0.30, 0.004),
    "t4_child_repeat_complaints": _prop("cin_all", 0.12, 0.004),
    "t4_parent_collaborative_working": _agree(0.62, "cin_all", PARENT_SURVEY),
    "t4_parent_complaints_substantiated": _prop("cin_all", 0.28, 0.012),
    "t4_parent_repeat_complaints": _prop("cin_all", 0.14, 0.012),
    # Table 5: factors recorded at assessment and other administrative measures
    "t5_went_missing": _prop("cin_all", 0.07),
    "t5_domestic_violence": _prop("cin_all", 0.31),
    "t5_parental_mental_ill_health": _prop("cin_all", 0.30),
    "t5_parental_substance_misuse": _prop("cin_all", 0.17),
    "t5_exploitation": _prop("cin_all", 0.05),
    "t5_feel_safe_at_home": _agree(0.80, "cin_all", CHILD_SURVEY),
    "t5_feel_safe_in_community": _agree(0.68, "cin_all", CHILD_SURVEY),
    "t5_care_leavers_suitable_accommodation": _prop("care_leavers", 0.88),
    "t5_feel_settled_loved_cared_for": _agree(0.78, "cin", CHILD_SURVEY),
    "t5_understand_future_care_plans": _agree(0.61, "cin", CHILD_SURVEY),
    "t5_audit_plan_updated": _prop("cin", 0.78, 0.035),
    "t5_audit_plan_not_drifting": _prop("cin", 0.72, 0.035),
    "t5_audit_needs_met_at_home": _prop("cin", 0.69, 0.035),
    "t5_long_term_plan_within_2_years": _prop("lac", 0.74),
    "t5_unplanned_placement_moves": _prop("lac", 0.10),
    "t5_successful_moves_to_permanence": _prop("lac", 0.90, 0.08),
    "t5_child_views_permanence": _agree(0.70, "lac", LAC_SURVEY),
    "t5_parent_views_permanence": _agree(0.62, "lac", PARENT_SURVEY),
    "t5_child_clear_contact_plans": _agree(0.69, "lac", LAC_SURVEY),
    "t5_child_wishes_contact": _agree(0.64, "lac", LAC_SURVEY),
    "t5_family_clear_contact_plans": _agree(0.60, "lac", PARENT_SURVEY),
    "t5_family_wishes_contact": _agree(0.58, "lac", PARENT_SURVEY),
    "t5_parent_views_positive_identity": _agree(0.71, "cin_all", PARENT_SURVEY),
    "t5_parent_views_hopes_for_future": _agree(0.66, "cin_all", PARENT_SURVEY),
    "t5_unmet_mental_health_needs": _prop("cin_all", 0.09),
    "t5_mental_health_needs_supported": _prop("cin_all", 0.63, 0.22),
    "t5_early_education": _prop("early_years", 0.72),
    "t5_exclusions": _prop("cin_all", 0.11, 0.6),
    "t5_unauthorised_absence": _prop("cin_all", 0.34, 0.6),
    "t5_midyear_school_changes": _prop("cin_all", 0.08, 0.6),
    "t5_school_experiences": _agree(0.64, "cin_all", CHILD_SURVEY),
    "t5_enjoyed_activities": _agree(0.72, "cin_all", CHILD_SURVEY),
    "t5_aspirations": _agree(0.69, "cin_all", CHILD_SURVEY),
    "t5_care_leavers_eet": _prop("care_leavers", 0.55),
    # Table 5: change distributions (children with two comparable six-month measurements)
    "t5_missing_episodes_change": _prop("cin_all", 1.0, 0.45),
    "t5_domestic_violence_change": _prop("cin_all", 1.0, 0.45),
    "t5_parental_mental_ill_health_change": _prop("cin_all", 1.0, 0.45),
    "t5_parental_substance_misuse_change": _prop("cin_all", 1.0, 0.45),
    "t5_exploitation_change": _prop("cin_all", 1.0, 0.45),
    "t5_youth_justice_change": _prop("cin_all", 1.0, 0.45),
    "t5_child_substance_misuse_change": _prop("cin_all", 1.0, 0.45),
    "t5_self_harm_change": _prop("cin_all", 1.0, 0.45),
    "t5_exclusions_change": _prop("cin_all", 1.0, 0.3),
    "t5_unauthorised_absence_change": _prop("cin_all", 1.0, 0.3),
    "t5_midyear_school_changes_change": _prop("cin_all", 1.0, 0.3),
    "t5_care_leavers_accommodation_transitions": _prop("care_leavers", 1.0, 0.95),
    "t5_care_leavers_eet_change": _prop("care_leavers", 1.0, 0.95),
    # Table 5: mean changes (SDQ: later minus earlier score; Key Stage progress scores)
    "t5_sdq_total_difficulties_change": IndicatorParams(
        "cin_all", 0.06, -0.5, sd=4.8, between=0.4, beta=0.35
    ),
    "t5_sdq_emotional_change": IndicatorParams(
        "cin_all", 0.05, -0.15, sd=1.9, between=0.15, beta=0.12
    ),
    "t5_sdq_conduct_change": IndicatorParams(
        "cin_all", 0.05, -0.12, sd=1.8, between=0.15, beta=0.12
    ),
    "t5_sdq_hyperactivity_change": IndicatorParams(
        "cin_all", 0.05, -0.10, sd=1.9, between=0.15, beta=0.12
    ),
    "t5_sdq_peer_problems_change": IndicatorParams(
        "cin_all", 0.05, -0.08, sd=1.7, between=0.15, beta=0.12
    ),
    "t5_sdq_prosocial_change": IndicatorParams(
        "cin_all", 0.05, 0.15, sd=1.8, between=0.15, beta=0.12
    ),
    "t5_key_stage_progress": IndicatorParams(
        "cin_all", 0.04, -0.65, sd=1.15, between=0.2, beta=0.15
    ),
}

# Levels for indicators added to the catalogue after this table was written, by measure type.
_DEFAULT_LEVEL: Final = {
    "proportion": 0.3,
    "rate_per_10000": 0.01,
    "agreement": 0.65,
    "yes_no": 0.85,
    "mean": 5.0,
    "mean_change": 0.0,
    "change_distribution": 1.0,
}


def params_for(indicator_id: str, measure_type: str, cohort_text: str) -> IndicatorParams:
    """The indicator's parameters; a sensible default for indicators not listed above."""
    known = INDICATORS.get(indicator_id)
    if known is not None:
        return known
    text = cohort_text.casefold()
    cohort = next((c for key, c in COHORT_BY_TEXT if key in text), "cin_all")
    if measure_type == "rate_per_10000":
        cohort = "population"
    fraction = {"agreement": CHILD_SURVEY if cohort != "staff_survey" else 0.96}.get(
        measure_type, 1.0
    )
    return IndicatorParams(cohort, fraction, _DEFAULT_LEVEL.get(measure_type, 0.5))


# ------------------------------------------------------------------------ breakdown composition

# Share of a cohort in each category, in the catalogue's category order.
DEFAULT_SHARES: Final[dict[str, tuple[float, ...]]] = {
    "age_band": (0.06, 0.18, 0.24, 0.36, 0.16),
    "gender": (0.515, 0.47, 0.015),
    "disability": (0.12, 0.88),
    "plan_type": (0.55, 0.14, 0.31),
    # CIN census referral sources (police ~29%, schools ~20%, health ~15% ...)
    "referral_source": (0.07, 0.20, 0.02, 0.15, 0.02, 0.07, 0.29, 0.05, 0.06, 0.02, 0.05),
    "staff_level": (0.07, 0.18, 0.75),
    "care_leaver_age": (0.40, 0.60),
}
# Cohort-specific compositions where they differ from the default.
SHARE_OVERRIDES: Final[dict[tuple[str, str], tuple[float, ...]]] = {
    ("referrals", "age_band"): (0.08, 0.19, 0.22, 0.35, 0.16),
    ("cp", "age_band"): (0.11, 0.27, 0.27, 0.29, 0.06),
    ("lac", "age_band"): (0.05, 0.14, 0.18, 0.39, 0.24),
    ("posts", "staff_level"): (0.07, 0.17, 0.76),
}
# Ethnicity: London LAs are far more diverse than the rest of England.
ETHNICITY_SHARES: Final[dict[str, tuple[float, ...]]] = {
    "london": (0.40, 0.13, 0.15, 0.24, 0.05, 0.03),
    "other": (0.80, 0.07, 0.06, 0.03, 0.02, 0.02),
}
# How concentrated each LA's composition is around the shares (Dirichlet concentration).
COMPOSITION_CONCENTRATION: Final = 150.0

# Subgroup differences: log-odds of a *better* outcome in each category, scaled per indicator.
ODDS_OFFSETS: Final[dict[str, dict[str, tuple[float, ...]]]] = {
    "default": {
        "age_band": (-0.4, -0.2, 0.0, 0.25, 0.35),
        "gender": (0.05, -0.05, 0.2),
        "ethnicity": (0.0, 0.1, -0.1, 0.15, 0.05, 0.2),
        "disability": (0.35, -0.05),
        "plan_type": (-0.3, 0.2, 0.3),
        "referral_source": (-0.3, 0.0, 0.1, 0.3, -0.1, 0.35, -0.45, 0.2, -0.1, -0.9, -0.4),
        "staff_level": (0.6, 0.3, -0.15),
        "care_leaver_age": (0.2, -0.2),
    },
    "referral": {  # share of referrals leading to a service, by referring agency
        "referral_source": (-0.3, 0.1, 0.2, 0.3, -0.1, 0.4, -0.5, 0.2, -0.1, -0.9, -0.4),
    },
    "workforce": {  # turnover, vacancies, agency use and sickness are worse on the front line
        "staff_level": (0.4, 0.2, -0.2),
    },
}

# Mean indicators: category offsets in the indicator's units (length of service in years).
MEAN_CATEGORY_OFFSETS: Final[dict[str, dict[str, tuple[float, ...]]]] = {
    "t2_length_of_service": {"staff_level": (4.0, 2.5, -1.0)},
}

# Change distributions: national shares of the categories, and which categories are good (+1)
# or bad (-1): a better LA shifts children from bad categories to good ones.
CHANGE_SHARES: Final[dict[str, tuple[float, ...]]] = {
    "t5_missing_episodes_change": (0.08, 0.77, 0.15),
    "t5_domestic_violence_change": (0.10, 0.62, 0.28),
    "t5_parental_mental_ill_health_change": (0.11, 0.64, 0.25),
    "t5_parental_substance_misuse_change": (0.08, 0.70, 0.22),
    "t5_exploitation_change": (0.05, 0.85, 0.10),
    "t5_youth_justice_change": (0.04, 0.88, 0.08),
    "t5_child_substance_misuse_change": (0.05, 0.85, 0.10),
    "t5_self_harm_change": (0.07, 0.80, 0.13),
    "t5_exclusions_change": (0.07, 0.80, 0.13),
    "t5_unauthorised_absence_change": (0.14, 0.62, 0.24),
    "t5_midyear_school_changes_change": (0.05, 0.88, 0.07),
    "t5_care_leavers_accommodation_transitions": (0.07, 0.04, 0.81, 0.08),
    "t5_care_leavers_eet_change": (0.09, 0.08, 0.46, 0.37),
}
CHANGE_GOODNESS: Final[dict[str, dict[str, int]]] = {
    "change_direction": {"More": -1, "Same": 0, "Fewer": 1},
    "accommodation_transition": {
        "Moved to suitable": 1,
        "Moved to unsuitable": -1,
        "Stayed in suitable": 1,
        "Stayed in unsuitable": -1,
    },
    "eet_transition": {
        "Moved into EET": 1,
        "Moved out of EET": -1,
        "Stayed in EET": 1,
        "Stayed out of EET": -1,
    },
}


# ------------------------------------------------------------------------- improvement journeys


@dataclass(frozen=True)
class JourneySettings:
    count: int = 15
    start_years: tuple[int, ...] = (2021, 2022, 2023)
    # Years after the start before each table starts to improve (seed section 4.5.7: conditions
    # and culture first, child outcomes "considerably" later).
    lags: tuple[tuple[int, int], ...] = ((2, 0), (3, 1), (4, 1), (5, 2))
    initial_gap: float = 0.9  # how far below its latent level the LA starts (SD units)
    step: float = 0.45  # improvement per year once a table is improving
    max_steps: int = 3
    triggers: tuple[tuple[str, float], ...] = (
        ("Ofsted inadequate", 0.6),
        ("Ofsted requires improvement to be good", 0.25),
        ("New leadership self-assessment", 0.15),
    )
    focus_areas: tuple[str, ...] = (
        "Workforce stability",
        "Practice model",
        "Front door and thresholds",
        "Management oversight",
        "Multi-agency safeguarding",
        "Voice of the child",
        "Placement sufficiency",
        "Care leavers",
    )


JOURNEY: Final = JourneySettings()

# Context-dependent indicators that move "the wrong way" early in a journey (section 4.5.7):
# (table whose phase they follow, logit shift in the first two years of it, shift afterwards).
CONTEXT_SHIFTS: Final[dict[str, tuple[int, float, float]]] = {
    "t2_staff_turnover": (2, 0.35, -0.2),  # staff with different skills: turnover rises, then falls
    "t3_repeat_cp_plans": (3, 0.5, 0.0),  # better assessment finds earlier plans ended too soon
    "t3_escalated_confirmed": (3, 0.4, 0.0),  # more children escalated to the support they need
    "t3_deescalated_no_return": (3, -0.4, 0.0),  # de-escalations fall for a time
    "t4_child_complaints_substantiated": (4, 0.3, 0.0),  # children heard: more complaints upheld
    "t4_parent_complaints_substantiated": (4, 0.3, 0.0),
}
