"""Upload rules: every rule fires on the row and column it names, and only where it should.

Each case is a small CSV built from dict rows (row 2 is the first data row, as in a spreadsheet)
and names the exact problems expected as (rule, row, column). The indicators and LA codes are
real: t3_referrals_nfa (proportion), t2_feel_valued (agreement), t2_values_statement (yes/no),
t2_length_of_service (mean), t5_sdq_conduct_change (mean_change), t5_missing_episodes_change
(change_distribution); County Durham 840 / E06000047.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping

import pytest

from schemas.catalogue import load_catalogue
from schemas.upload import (
    IDENTITY_COLUMNS,
    MEASURE_COLUMNS,
    Problem,
    ValidationReport,
    validate_upload,
)
from schemas.upload.columns import GEOGRAPHY_OPTIONAL
from schemas.upload.validate import RULES

HEADER = [*IDENTITY_COLUMNS, *MEASURE_COLUMNS]
LA = {"new_la_code": "E06000047", "old_la_code": "840", "la_name": "County Durham"}
BASE = {
    "time_period": "2025",
    "time_identifier": "Reporting year",
    "geographic_level": "Local authority",
    **LA,
    "indicator_id": "t3_referrals_nfa",
    "breakdown_topic": "Total",
    "breakdown": "Total",
    "numerator": "10",
    "denominator": "100",
    "value": "10.0",
}
AGREEMENT = {
    **BASE,
    "indicator_id": "t2_feel_valued",
    "denominator": "",
    "numerator": "30",
    "respondents": "50",
    "value": "60.0",
}
YES_NO = {**BASE, "indicator_id": "t2_values_statement", "numerator": "", "denominator": ""}
YES_NO["value"] = "yes"
MEAN = {
    **BASE,
    "indicator_id": "t2_length_of_service",
    "numerator": "",
    "denominator": "",
    "n": "40",
    "value": "6.5",
}
MEAN_CHANGE = {**MEAN, "indicator_id": "t5_sdq_conduct_change", "value": "-1.25", "sd": "2.1"}
DISTRIBUTION = {
    **BASE,
    "indicator_id": "t5_missing_episodes_change",
    "numerator": "100",
    "denominator": "100",
    "value": "100.0",
}


def row(base: Mapping[str, str], **changes: str) -> dict[str, str]:
    return {**base, **changes}


def category(base: Mapping[str, str], topic: str, name: str, **changes: str) -> dict[str, str]:
    """A breakdown row of ``base`` (value left blank unless given)."""
    return {**base, "breakdown_topic": topic, "breakdown": name, "value": "", **changes}


def categories(
    base: Mapping[str, str], topic: str, **columns: Iterable[object]
) -> list[dict[str, str]]:
    """One row per category of ``topic``, column values given in category order."""
    names = load_catalogue().breakdowns[topic].values
    cells = {c: [str(v) for v in values] for c, values in columns.items()}
    assert all(len(v) == len(names) for v in cells.values())
    return [
        category(base, topic, name, **{c: v[i] for c, v in cells.items()})
        for i, name in enumerate(names)
    ]


def genders(base: Mapping[str, str], **columns: Iterable[object]) -> list[dict[str, str]]:
    return categories(base, "gender", **columns)


def distribution(numerators: Iterable[int], cohort: int = 100) -> list[dict[str, str]]:
    return [
        category(DISTRIBUTION, "change_direction", d, numerator=str(n), denominator=str(cohort))
        for d, n in zip(("More", "Same", "Fewer"), numerators, strict=True)
    ]


def csv_bytes(rows: Iterable[Mapping[str, str]], header: list[str] | None = None) -> bytes:
    header = HEADER if header is None else header
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    return out.getvalue().encode("utf-8")


def validate(rows: Iterable[Mapping[str, str]], **kwargs: object) -> ValidationReport:
    return validate_upload(csv_bytes(rows), "return.csv", **kwargs)  # type: ignore[arg-type]


def where(report: ValidationReport) -> set[tuple[str, int | None, str | None]]:
    return {(p.rule, p.row, p.column) for p in report.errors}


def mean_requiring_sd():  # type: ignore[no-untyped-def]
    """The catalogue with the mean measure type requiring sd (no real type requires it yet)."""
    catalogue = load_catalogue()
    mean = catalogue.measure_types["mean"]
    changed = mean.model_copy(update={"required": (*mean.required, "sd"), "optional": ()})
    return catalogue.model_copy(
        update={"measure_types": {**catalogue.measure_types, "mean": changed}}
    )


# ------------------------------------------------------------------------ dataframe rules

# (rows, validate_upload keyword arguments, expected errors). Ids start with the rule id.
DATAFRAME_CASES = [
    pytest.param(
        [row(BASE, time_period="2024-25")],
        {},
        {("time_period_form", 2, "time_period")},
        id="time_period_form-reporting-year-dash",
    ),
    pytest.param(
        [row(BASE, time_period="2024", time_identifier="Financial year")],
        {},
        {("time_period_form", 2, "time_period")},
        id="time_period_form-financial-year-four-digits",
    ),
    pytest.param(
        [row(BASE, time_period="202426", time_identifier="Financial year")],
        {},
        {("time_period_form", 2, "time_period")},
        id="time_period_form-years-not-consecutive",
    ),
    pytest.param(
        [row(BASE, time_period="1999")],
        {},
        {("time_period_form", 2, "time_period")},
        id="time_period_form-before-2000",
    ),
    pytest.param(
        [row(BASE, time_period="2022", new_la_code="E10000021", old_la_code="928")],
        {},
        {("la_code_valid_for_period", 2, "new_la_code")},
        id="la_code_valid_for_period-northamptonshire-after-2021",
    ),
    pytest.param(
        [row(BASE, time_period="2021", new_la_code="E06000061", old_la_code="940")],
        {},
        {("la_code_valid_for_period", 2, "new_la_code")},
        id="la_code_valid_for_period-north-northamptonshire-before-2022",
    ),
    pytest.param(
        [row(BASE, time_period="2024", new_la_code="E10000006", old_la_code="909")],
        {},
        {("la_code_valid_for_period", 2, "new_la_code")},
        id="la_code_valid_for_period-cumbria-after-2023",
    ),
    pytest.param(
        [row(BASE, time_period="2023", new_la_code="E06000063", old_la_code="942")],
        {},
        {("la_code_valid_for_period", 2, "new_la_code")},
        id="la_code_valid_for_period-cumberland-before-2024",
    ),
    pytest.param(
        [row(BASE, time_period="2025", new_la_code="E08000038", old_la_code="370")],
        {},
        {("la_code_valid_for_period", 2, "new_la_code")},
        id="la_code_valid_for_period-barnsley-new-gss-too-early",
    ),
    pytest.param(
        [row(BASE, time_period="2026", new_la_code="E08000016", old_la_code="370")],
        {},
        {("la_code_valid_for_period", 2, "new_la_code")},
        id="la_code_valid_for_period-barnsley-old-gss-after-recoding",
    ),
    pytest.param(
        [
            row(
                BASE,
                time_period="202526",
                time_identifier="Part 1 (April to September)",
                new_la_code="E08000019",
                old_la_code="373",
            )
        ],
        {},
        {("la_code_valid_for_period", 2, "new_la_code")},
        id="la_code_valid_for_period-sheffield-old-gss-part-1",
    ),
    pytest.param(
        [row(BASE, old_la_code="370")],
        {},
        {("la_code_valid_for_period", 2, "new_la_code")},
        id="la_code_valid_for_period-old-and-new-codes-disagree",
    ),
    pytest.param(
        [BASE],
        {"authority": "370"},
        {("la_matches_authority", 2, "new_la_code")},
        id="la_matches_authority-another-la",
    ),
    pytest.param(
        [BASE, category(BASE, "staff_level", "Senior managers")],
        {},
        {("breakdown_topic_allowed", 3, "breakdown_topic")},
        id="breakdown_topic_allowed-staff-level-on-referrals",
    ),
    pytest.param(
        [YES_NO, category(YES_NO, "gender", "Male", value="yes")],
        {},
        {("breakdown_topic_allowed", 3, "breakdown_topic")},
        id="breakdown_topic_allowed-yes-no-has-no-breakdowns",
    ),
    pytest.param(
        [BASE, category(BASE, "gender", "Boys")],
        {},
        {("breakdown_value_allowed", 3, "breakdown")},
        id="breakdown_value_allowed-not-a-gender",
    ),
    pytest.param(
        [BASE, row(BASE, breakdown="Male")],
        {},
        {("breakdown_value_allowed", 3, "breakdown")},
        id="breakdown_value_allowed-total-topic-needs-total",
    ),
    pytest.param(
        [BASE, category(BASE, "age_band", "Under 18")],
        {},
        {("breakdown_value_allowed", 3, "breakdown")},
        id="breakdown_value_allowed-not-an-age-band",
    ),
    pytest.param(
        [BASE, row(BASE)],
        {},
        {("duplicate_key", 3, "indicator_id")},
        id="duplicate_key-same-row-twice",
    ),
    pytest.param(
        [BASE, category(BASE, "gender", "Male"), category(BASE, "gender", "Male", numerator="3")],
        {},
        {("duplicate_key", 4, "indicator_id")},
        id="duplicate_key-same-key-different-numbers",
    ),
    pytest.param(
        [category(BASE, "gender", "Male")],
        {},
        {("total_row_missing", 2, "breakdown")},
        id="total_row_missing-category-without-total",
    ),
    pytest.param(
        [DISTRIBUTION],
        {},
        {("required_breakdown_missing", 2, "indicator_id")},
        id="required_breakdown_missing-change-distribution-total-only",
    ),
    pytest.param(
        [row(BASE, indicator_id="t3_referral_outcomes_by_agency")],
        {},
        {("required_breakdown_missing", 2, "indicator_id")},
        id="required_breakdown_missing-referral-source",
    ),
    pytest.param(
        [row(BASE, numerator="")],
        {},
        {("numerator_required", 2, "numerator")},
        id="numerator_required-blank",
    ),
    pytest.param(
        [row(BASE, denominator="")],
        {},
        {("denominator_required", 2, "denominator")},
        id="denominator_required-blank",
    ),
    pytest.param(
        [row(AGREEMENT, respondents="")],
        {},
        {("respondents_required", 2, "respondents")},
        id="respondents_required-blank",
    ),
    pytest.param(
        [row(AGREEMENT, respondents="", denominator="50")],
        {},
        {("respondents_required", 2, "respondents")},
        id="respondents_required-denominator-given-instead",
    ),
    pytest.param(
        [row(MEAN_CHANGE, n="")],
        {},
        {("n_required", 2, "n")},
        id="n_required-blank",
    ),
    pytest.param(
        [row(YES_NO, value="")],
        {},
        {("value_required", 2, "value")},
        id="value_required-yes-no-blank",
    ),
    pytest.param(
        [row(MEAN, value="")],
        {},
        {("value_required", 2, "value")},
        id="value_required-mean-blank",
    ),
    pytest.param(
        [row(MEAN, sd="")],
        {"catalogue": "mean_requiring_sd"},
        {("sd_required", 2, "sd")},
        id="sd_required-blank",
    ),
    pytest.param(
        [BASE, row(YES_NO, value="1")],
        {},
        {("yes_no_value", 3, "value")},
        id="yes_no_value-number-for-yes-no",
    ),
    pytest.param(
        [row(BASE, value="yes")],
        {},
        {("yes_no_value", 2, "value")},
        id="yes_no_value-yes-for-proportion",
    ),
    pytest.param(
        [row(BASE, numerator="120", value="120.0")],
        {},
        {("numerator_within_denominator", 2, "numerator")},
        id="numerator_within_denominator-proportion",
    ),
    pytest.param(
        [row(AGREEMENT, numerator="60", value="")],
        {},
        {("numerator_within_denominator", 2, "numerator")},
        id="numerator_within_denominator-agreement-respondents",
    ),
    pytest.param(
        [row(BASE, value="12.0")],
        {},
        {("value_agrees", 2, "value")},
        id="value_agrees-wrong-percentage",
    ),
    pytest.param(
        [row(BASE, value="0.1")],
        {},
        {("value_agrees", 2, "value")},
        id="value_agrees-fraction-not-percentage",
    ),
    pytest.param(
        [row(BASE, numerator="1", denominator="3", value="34")],
        {},
        {("value_agrees", 2, "value")},
        id="value_agrees-beyond-rounding",
    ),
    pytest.param(
        [row(BASE, numerator="c", value="-10.0")],
        {},
        {("negative_value", 2, "value")},
        id="negative_value-proportion",
    ),
    pytest.param(
        [row(MEAN, value="-1.5")],
        {},
        {("negative_value", 2, "value")},
        id="negative_value-mean",
    ),
    pytest.param(
        [BASE, *genders(BASE, numerator=(5, 5, 1), denominator=(50, 40, 10))],
        {},
        {("breakdown_sum", 2, "numerator")},
        id="breakdown_sum-numerators",
    ),
    pytest.param(
        [BASE, *genders(BASE, numerator=(4, 5, 1), denominator=(50, 40, 9))],
        {},
        {("breakdown_sum", 2, "denominator")},
        id="breakdown_sum-denominators",
    ),
    pytest.param(
        [
            AGREEMENT,
            *categories(AGREEMENT, "staff_level", numerator=(5, 10, 15), respondents=(10, 15, 26)),
        ],
        {},
        {("breakdown_sum", 2, "respondents")},
        id="breakdown_sum-respondents",
    ),
    pytest.param(
        [MEAN_CHANGE, *genders(MEAN_CHANGE, n=(20, 15, 4), value=(-1, -1.5, 0))],
        {},
        {("breakdown_sum", 2, "n")},
        id="breakdown_sum-n",
    ),
    pytest.param(
        [DISTRIBUTION, *distribution((10, 60, 20))],
        {},
        {("breakdown_sum", 2, "numerator")},
        id="breakdown_sum-distribution-categories",
    ),
]


def _kwargs(kwargs: Mapping[str, object]) -> dict[str, object]:
    out = dict(kwargs)
    if out.get("catalogue") == "mean_requiring_sd":
        out["catalogue"] = mean_requiring_sd()
    return out


@pytest.mark.parametrize(("rows", "kwargs", "expected"), DATAFRAME_CASES)
def test_rule_dataframe_fires_on_row_and_column(
    rows: list[dict[str, str]],
    kwargs: dict[str, object],
    expected: set[tuple[str, int, str]],
) -> None:
    report = validate(rows, **_kwargs(kwargs))
    assert where(report) == expected, report.to_text()
    for problem in report.errors:
        assert problem.message, problem
        if problem.column in HEADER:
            written = rows[problem.row - 2].get(problem.column, "")  # type: ignore[operator]
            assert problem.value == written, problem


GEOGRAPHY = {
    "country_code": "E92000001",
    "country_name": "England",
    "region_code": "E12000001",
    "region_name": "North East",
}
GEOGRAPHY_CASES = [
    pytest.param(
        {"region_code": "E12000007", "region_name": "London"},
        {("region_matches_la", 2, "region_code")},
        id="region_matches_la-london-for-durham",
    ),
    pytest.param(
        {"country_code": "W92000004"},
        {("country_is_england", 2, "country_code")},
        id="country_is_england-wales",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), GEOGRAPHY_CASES)
def test_rule_geography_fires_on_row_and_column(
    changes: dict[str, str], expected: set[tuple[str, int, str]]
) -> None:
    header = [*HEADER, *GEOGRAPHY_OPTIONAL]
    report = validate_upload(csv_bytes([{**BASE, **GEOGRAPHY, **changes}], header), "r.csv")
    assert where(report) == expected


def test_rule_every_dataframe_rule_has_a_case() -> None:
    cases = [*DATAFRAME_CASES, *GEOGRAPHY_CASES]
    covered = {rule for case in cases for rule, _, _ in case.values[-1]}  # type: ignore[union-attr]
    assert set(RULES) <= covered, sorted(set(RULES) - covered)


# ----------------------------------------------------------------- rule messages that help


def test_rule_la_code_recoded_message_names_new_code() -> None:
    report = validate([row(BASE, time_period="2026", new_la_code="E08000016", old_la_code="370")])
    assert "E08000038" in report.errors[0].message


def test_rule_duplicate_key_message_names_first_row() -> None:
    report = validate([BASE, category(BASE, "gender", "Male"), row(BASE, numerator="11", value="")])
    assert where(report) == {("duplicate_key", 4, "indicator_id")}
    assert "row 2" in report.errors[0].message


def test_rule_value_agrees_message_gives_expected_value() -> None:
    report = validate([row(BASE, value="12.0")])
    assert "10.0" in report.errors[0].message


def test_rule_breakdown_topic_allowed_message_lists_allowed() -> None:
    report = validate([BASE, category(BASE, "staff_level", "Senior managers")])
    assert "gender" in report.errors[0].message
    assert "referral_source" in report.errors[0].message


def test_rule_breakdown_sum_message_gives_both_sums() -> None:
    report = validate([BASE, *genders(BASE, numerator=(5, 5, 1), denominator=(50, 40, 10))])
    message = report.errors[0].message
    assert "11" in message
    assert "10" in message


# ---------------------------------------------------------------- rules that must not fire


ACCEPTED_CASES = [
    pytest.param([row(BASE, time_period="202425", time_identifier="Financial year")], {}, id="fy"),
    pytest.param([row(BASE, time_period="202425", time_identifier="Academic year")], {}, id="ay"),
    pytest.param([row(BASE, time_period="2024", time_identifier="Calendar year")], {}, id="cy"),
    pytest.param(
        [row(BASE, time_period="2021", new_la_code="E10000021", old_la_code="928")],
        {},
        id="northamptonshire-2021",
    ),
    pytest.param(
        [row(BASE, time_period="2022", new_la_code="E06000061", old_la_code="940")],
        {},
        id="north-northamptonshire-2022",
    ),
    pytest.param(
        [row(BASE, time_period="2023", new_la_code="E10000006", old_la_code="909")],
        {},
        id="cumbria-2023",
    ),
    pytest.param(
        [row(BASE, time_period="2024", new_la_code="E06000063", old_la_code="942")],
        {},
        id="cumberland-2024",
    ),
    pytest.param(
        [row(BASE, time_period="2024", new_la_code="E06000064", old_la_code="943")],
        {},
        id="westmorland-and-furness-2024",
    ),
    pytest.param(
        [row(BASE, time_period="2025", new_la_code="E08000016", old_la_code="370")],
        {},
        id="barnsley-old-gss-2025",
    ),
    pytest.param(
        [row(BASE, time_period="2026", new_la_code="E08000038", old_la_code="370")],
        {},
        id="barnsley-new-gss-2026",
    ),
    pytest.param(
        [
            row(
                BASE,
                time_period="202425",
                time_identifier="Financial year",
                new_la_code="E08000019",
                old_la_code="373",
            )
        ],
        {},
        id="sheffield-old-gss-2024-25",
    ),
    pytest.param(
        [
            row(
                BASE,
                time_period="202526",
                time_identifier="Part 1 (April to September)",
                new_la_code="E08000039",
                old_la_code="373",
            )
        ],
        {},
        id="sheffield-new-gss-part-1",
    ),
    pytest.param([BASE], {"authority": "E06000047"}, id="authority-gss"),
    pytest.param([BASE], {"authority": "840"}, id="authority-number"),
    pytest.param(
        [row(BASE, new_la_code="E08000016", old_la_code="370")],
        {"authority": "E08000038"},
        id="authority-recoded-barnsley",
    ),
    pytest.param([row(BASE, numerator="c", denominator="c", value="c")], {}, id="symbols-c"),
    pytest.param([row(BASE, numerator="x", denominator="x", value="x")], {}, id="symbols-x"),
    pytest.param([row(BASE, numerator="low", value="low")], {}, id="symbol-low"),
    pytest.param([row(BASE, numerator="u", value="u")], {}, id="symbol-u"),
    pytest.param([row(BASE, value="")], {}, id="value-optional-blank"),
    pytest.param([row(BASE, value="z")], {}, id="value-optional-z"),
    pytest.param([row(BASE, numerator="1", denominator="3", value="33.3")], {}, id="round-1dp"),
    pytest.param([row(BASE, numerator="1", denominator="3", value="33")], {}, id="round-0dp"),
    pytest.param([row(BASE, numerator="2", denominator="3", value="66.67")], {}, id="round-2dp"),
    pytest.param([row(BASE, numerator="0", denominator="0", value="")], {}, id="zero-cohort"),
    pytest.param([row(BASE, numerator="100", value="100.0")], {}, id="numerator-equals-den"),
    pytest.param([AGREEMENT], {}, id="agreement"),
    pytest.param(
        [YES_NO, row(YES_NO, indicator_id="t2_practice_framework", value="no")], {}, id="yn"
    ),
    pytest.param([row(YES_NO, value="Yes")], {}, id="yes-capitalised"),
    pytest.param([MEAN], {}, id="mean"),
    pytest.param([MEAN_CHANGE], {}, id="mean-change-negative"),
    pytest.param([row(MEAN_CHANGE, sd="")], {}, id="mean-change-sd-optional"),
    pytest.param(
        [BASE, *genders(BASE, numerator=(4, 5, 1), denominator=(50, 40, 10))],
        {},
        id="sum-numerators-and-denominators",
    ),
    pytest.param(
        [
            AGREEMENT,
            *categories(AGREEMENT, "staff_level", numerator=(5, 10, 15), respondents=(10, 15, 25)),
        ],
        {},
        id="sum-respondents",
    ),
    pytest.param(
        [BASE, *genders(BASE, numerator=(4, 5, 2), denominator=(50, 40, 20))[:2]],
        {},
        id="sum-skipped-when-category-missing",
    ),
    pytest.param(
        [
            BASE,
            *genders(BASE, numerator=(4, 5, 1), denominator=(50, 40, 10))[:2],
            category(BASE, "gender", "Unknown or other", numerator="c", denominator="10"),
        ],
        {},
        id="sum-skipped-when-category-suppressed",
    ),
    pytest.param(
        [MEAN_CHANGE, *genders(MEAN_CHANGE, n=(20, 15, 5), value=(-1, -1.5, 0))],
        {},
        id="sum-n-mean-change",
    ),
    pytest.param(
        [DISTRIBUTION, *distribution((10, 60, 30))],
        {},
        id="distribution-categories-share-cohort",
    ),
    pytest.param(
        [
            row(BASE, indicator_id="t3_referral_outcomes_by_agency"),
            *[
                category(
                    BASE,
                    "referral_source",
                    source,
                    indicator_id="t3_referral_outcomes_by_agency",
                    numerator="1" if i < 10 else "0",
                    denominator="10" if i < 10 else "0",
                )
                for i, source in enumerate(load_catalogue().breakdowns["referral_source"].values)
            ],
        ],
        {},
        id="referral-source-required-given",
    ),
    pytest.param(
        [BASE, category(BASE, "gender", "Male", numerator="4", denominator="50")],
        {},
        id="partial-breakdown",
    ),
    pytest.param(
        [
            BASE,
            row(BASE, time_period="2024"),
            row(BASE, new_la_code="E06000005", old_la_code="841", la_name="Darlington"),
        ],
        {},
        id="several-periods-and-las",
    ),
]


@pytest.mark.parametrize(("rows", "kwargs"), ACCEPTED_CASES)
def test_rule_valid_rows_accepted(rows: list[dict[str, str]], kwargs: dict[str, object]) -> None:
    report = validate(rows, **kwargs)
    assert report.ok, report.to_text()
    assert report.problems == []
    assert report.rows == len(rows)


# ------------------------------------------------------------------------- column rules

COLUMN_CASES = [
    ("time_period", "", "time_period_blank"),
    ("time_identifier", "", "time_identifier_blank"),
    ("time_identifier", "Year", "time_identifier_unknown"),
    ("time_identifier", "reporting year", "time_identifier_unknown"),
    ("time_identifier", "2024-25", "time_identifier_unknown"),
    ("geographic_level", "", "geographic_level_blank"),
    ("geographic_level", "Regional", "geographic_level"),
    ("geographic_level", "National", "geographic_level"),
    ("new_la_code", "", "new_la_code_blank"),
    ("new_la_code", "E0600047", "la_code_unknown"),
    ("new_la_code", "County Durham", "la_code_unknown"),
    ("old_la_code", "", "old_la_code_blank"),
    ("old_la_code", "999", "la_code_unknown"),
    ("old_la_code", "84", "la_code_unknown"),
    ("la_name", "", "la_name_blank"),
    ("indicator_id", "", "indicator_id_blank"),
    ("indicator_id", "t3_referals_nfa", "indicator_unknown"),
    ("indicator_id", "3.1", "indicator_unknown"),
    ("breakdown_topic", "", "breakdown_topic_blank"),
    ("breakdown_topic", "Sex", "breakdown_topic_unknown"),
    ("breakdown", "", "breakdown_blank"),
    ("numerator", "10.5", "count_not_integer"),
    ("numerator", "-1", "count_negative"),
    ("numerator", "n/a", "count_invalid"),
    ("denominator", "1,000", "count_invalid"),
    ("value", "10%", "number_invalid"),
    ("value", "ten", "number_invalid"),
]


@pytest.mark.parametrize(("column", "written", "rule"), COLUMN_CASES)
def test_rule_column_cell_named(column: str, written: str, rule: str) -> None:
    """The bad cell is on row 4, after a valid Total row and a valid category row."""
    bad = {**category(BASE, "gender", "Female", numerator="5"), column: written}
    report = validate([BASE, category(BASE, "gender", "Male", numerator="4"), bad])
    found = [p for p in report.errors if (p.rule, p.column) == (rule, column)]
    assert [(p.row, p.value) for p in found] == [(4, written)], report.to_text()
    assert {p.row for p in report.errors} == {4}, report.to_text()


def test_rule_sd_not_a_number() -> None:
    report = validate([row(MEAN_CHANGE, sd="abc")])
    assert where(report) == {("number_invalid", 2, "sd")}


def test_rule_unknown_indicator_reported_once() -> None:
    """An unknown indicator has no measure type: only the unknown id is reported."""
    report = validate([row(BASE, indicator_id="t3_referals_nfa")])
    assert where(report) == {("indicator_unknown", 2, "indicator_id")}
    assert "Did you mean 't3_referrals_nfa'?" in report.errors[0].message


@pytest.mark.parametrize("column", GEOGRAPHY_OPTIONAL)
def test_rule_optional_geography_blank(column: str) -> None:
    header = [*HEADER, *GEOGRAPHY_OPTIONAL]
    geography = {
        "country_code": "E92000001",
        "country_name": "England",
        "region_code": "E12000001",
        "region_name": "North East",
    }
    rows = [
        {**BASE, **geography},
        {
            **BASE,
            **geography,
            column: "",
            "breakdown_topic": "gender",
            "breakdown": "Male",
            "numerator": "4",
            "value": "",
        },
    ]
    report = validate_upload(csv_bytes(rows, header), "return.csv")
    assert where(report) == {(f"{column}_blank", 3, column)}


def test_rule_optional_geography_filled_accepted() -> None:
    header = [*HEADER, *GEOGRAPHY_OPTIONAL]
    geography = {
        "country_code": "E92000001",
        "country_name": "England",
        "region_code": "E12000001",
        "region_name": "North East",
    }
    report = validate_upload(csv_bytes([{**BASE, **geography}], header), "return.csv")
    assert report.ok, report.to_text()


def test_rule_optional_geography_wrong_region_rejected() -> None:
    header = [*HEADER, "region_code", "region_name"]
    rows = [{**BASE, "region_code": "E12000007", "region_name": "London"}]
    report = validate_upload(csv_bytes(rows, header), "return.csv")
    assert not report.ok
    assert {p.column for p in report.errors} & {"region_code", "region_name"}


def test_rule_uppercase_symbol_accepted_as_symbol() -> None:
    """'C' passes the count check, so it must also count as present (or be rejected as such)."""
    report = validate([row(BASE, numerator="C", value="C")])
    rules = {p.rule for p in report.errors}
    assert "numerator_required" not in rules, report.to_text()


# ------------------------------------------------------------------------------- reports


def _messy_report() -> ValidationReport:
    rows = [
        BASE,
        category(BASE, "gender", "Male", numerator="4.5"),
        category(BASE, "gender", "Boys"),
        row(BASE, indicator_id="t2_feel_valued", respondents="", denominator=""),
    ]
    header = [h if h != "old_la_code" else "LA number" for h in HEADER]
    renamed = [{("LA number" if k == "old_la_code" else k): v for k, v in r.items()} for r in rows]
    return validate_upload(csv_bytes(renamed, header), "messy.csv")


def test_report_valid_file_ok_no_errors() -> None:
    report = validate([BASE])
    assert report.ok
    assert report.errors == []
    assert report.summary()["valid"] is True
    text = report.to_text()
    assert text.startswith("return.csv: VALID - 1 rows checked")
    assert "0 error(s) in 0 row(s), 0 warning(s)" in text


def test_report_messy_problems_expected() -> None:
    report = _messy_report()
    assert where(report) == {
        ("count_not_integer", 3, "numerator"),
        ("breakdown_value_allowed", 4, "breakdown"),
        ("respondents_required", 5, "respondents"),
    }
    assert {(p.rule, p.row, p.column) for p in report.warnings} == {
        ("header_renamed", 1, "LA number")
    }


def test_report_text_contains_summary_counts() -> None:
    report = _messy_report()
    text = report.to_text()
    assert text.startswith("messy.csv: INVALID - 4 rows checked")
    assert "3 error(s) in 3 row(s), 1 warning(s)" in text
    for rule in ("count_not_integer", "breakdown_value_allowed", "respondents_required"):
        assert f"  {rule}: 1" in text
    assert "header_renamed" in text  # warnings are listed, not counted as errors


def test_report_text_limit_says_how_many_more() -> None:
    text = _messy_report().to_text(limit=2)
    assert "... and 2 more (use --format json for all)" in text


def test_report_json_round_trips() -> None:
    report = _messy_report()
    payload = json.loads(report.to_json())
    assert payload["summary"] == json.loads(json.dumps(report.summary()))
    assert payload["summary"]["errors_by_rule"] == {
        "breakdown_value_allowed": 1,
        "count_not_integer": 1,
        "respondents_required": 1,
    }
    assert [Problem(**p) for p in payload["problems"]] == report.sorted_problems()


def test_report_csv_header_and_one_line_per_problem() -> None:
    report = _messy_report()
    lines = list(csv.reader(io.StringIO(report.to_csv())))
    assert lines[0] == ["severity", "row", "column", "value", "rule", "message"]
    assert len(lines) == len(report.problems) + 1
    assert [(r[4], r[1], r[2]) for r in lines[1:]] == [
        (p.rule, str(p.row), p.column) for p in report.sorted_problems()
    ]


def test_report_problems_sorted_by_row() -> None:
    rows = [
        r for _, r, _ in sorted(((p.row or 0), p.row, p.rule) for p in _messy_report().problems)
    ]
    assert [p.row for p in _messy_report().sorted_problems()] == rows


def test_report_file_level_problem_has_no_row() -> None:
    report = validate_upload(b"", "empty.csv")
    assert not report.ok
    lines = list(csv.reader(io.StringIO(report.to_csv())))
    assert lines[1][:3] == ["error", "", ""]
    assert "file_empty: 1" in report.to_text()


@pytest.mark.parametrize(
    ("written", "in_csv"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+1+1", "'+1+1"),
        ("-5", "-5"),
        ("Male", "Male"),
    ],
)
def test_report_csv_echoed_formula_made_inert(written: str, in_csv: str) -> None:
    report = ValidationReport("r.csv", problems=[Problem("x", "m", 2, "breakdown", written)])
    lines = list(csv.reader(io.StringIO(report.to_csv())))
    assert lines[1][3] == in_csv
