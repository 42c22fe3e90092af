"""The context file format (schemas.context): EES layout, codes checked against the reference
data, symbols read as missing, and every problem named with its file, row, column, value and
rule."""

from __future__ import annotations

import io

import numpy as np
import openpyxl
import pandas as pd
import pytest

from schemas.context import (
    CONTEXT_VARIABLES,
    MISSING_SYMBOLS,
    ContextFileError,
    ContextProblem,
    ContextValues,
    context_columns,
    context_template,
    read_context,
)
from workers.analytics import similar

HEADER = context_columns()
DURHAM = {
    "time_period": "2025",
    "time_identifier": "Reporting year",
    "geographic_level": "Local authority",
    "country_code": "E92000001",
    "country_name": "England",
    "region_code": "E12000001",
    "region_name": "North East",
    "old_la_code": "840",
    "new_la_code": "E06000047",
    "la_name": "County Durham",
    "child_population": "103000",
    "idaci_score": "0.215",
    "spend_per_child": "1250",
    "uasc_per_10k": "3.5",
    "inflow_families": "1.2",
}
CAMDEN = {
    **DURHAM,
    "region_code": "E13000001",  # DfE's files give London LAs their Inner/Outer London area
    "region_name": "Inner London",
    "old_la_code": "202",
    "new_la_code": "E09000007",
    "la_name": "Camden",
    "child_population": "37000",
    "idaci_score": "0.28",
}


def csv_bytes(rows: list[dict[str, str]], header: list[str] | None = None) -> bytes:
    header = header or HEADER
    lines = [",".join(header)] + [",".join(row.get(c, "") for c in header) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def problems_of(data: bytes, filename: str = "context.csv") -> list[ContextProblem]:
    with pytest.raises(ContextFileError) as caught:
        read_context(data, filename)
    assert caught.value.problems, "a refused file says why"
    return caught.value.problems


def values_of(frame: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    return {(r.la_code, r.period, r.variable): r.value for r in frame.itertuples(index=False)}


# ----------------------------------------------------------------------------------- good files


def test_read_context_good_file_long_values() -> None:
    frame = read_context(csv_bytes([DURHAM, CAMDEN]), "context.csv")
    assert list(frame.columns) == ["la_code", "period", "variable", "value"]
    assert len(frame) == 2 * len(CONTEXT_VARIABLES)
    got = values_of(frame)
    assert got[("E06000047", "2025", "child_population")] == 103_000
    assert got[("E06000047", "2025", "idaci_score")] == pytest.approx(0.215)
    assert got[("E09000007", "2025", "idaci_score")] == pytest.approx(0.28)
    assert frame["value"].dtype == np.float64


def test_read_context_conforms_to_the_similar_context_frame() -> None:
    frame = read_context(csv_bytes([DURHAM, CAMDEN]), "context.csv")
    validated = similar.ContextFrame.validate(frame)
    assert len(validated) == len(frame)
    ContextValues.validate(frame)


def test_variable_names_match_the_similar_sets_constants() -> None:
    assert list(CONTEXT_VARIABLES) == [
        similar.CHILD_POPULATION,
        similar.IDACI_SCORE,
        similar.SPEND_PER_CHILD,
        similar.UASC_PER_10K,
        similar.INFLOW_FAMILIES,
    ]
    variables = {v for s in similar.DEFAULT_SETS for v in s.weights}
    assert variables <= set(CONTEXT_VARIABLES), "every default set's variable can be loaded"


def test_read_context_template_reads_back() -> None:
    text = context_template()
    header, example = text.splitlines()
    assert header.split(",") == HEADER
    frame = read_context(text.encode(), "template.csv")
    assert set(frame["variable"]) == set(CONTEXT_VARIABLES)
    assert frame["la_code"].unique().tolist() == [example.split(",")[8]]


def test_read_context_national_and_regional_rows_ignored() -> None:
    national = {
        **DURHAM,
        "geographic_level": "National",
        "region_code": "",
        "region_name": "",
        "old_la_code": "",
        "new_la_code": "",
        "la_name": "",
        "child_population": "12183016",
    }
    regional = {**national, "geographic_level": "Regional", "region_code": "E12000001"}
    frame = read_context(csv_bytes([national, regional, DURHAM]), "context.csv")
    assert set(frame["la_code"]) == {"E06000047"}


def test_read_context_some_variables_any_order() -> None:
    header = [*HEADER[:10], "uasc_per_10k", "child_population"]
    frame = read_context(csv_bytes([DURHAM], header), "context.csv")
    assert set(frame["variable"]) == {"uasc_per_10k", "child_population"}


def test_read_context_financial_year_is_the_reporting_year_it_ends_in() -> None:
    row = {**DURHAM, "time_period": "202324", "time_identifier": "Financial year"}
    frame = read_context(csv_bytes([row]), "s251.csv")
    assert set(frame["period"]) == {"2024"}


def test_read_context_stores_the_las_current_code() -> None:
    """DfE's 2024-25 data codes Barnsley E08000016; its organisation is E08000038."""
    barnsley = {
        **DURHAM,
        "region_code": "E12000003",
        "region_name": "Yorkshire and The Humber",
        "old_la_code": "370",
        "new_la_code": "E08000016",
        "la_name": "Barnsley",
    }
    frame = read_context(csv_bytes([barnsley]), "context.csv")
    assert set(frame["la_code"]) == {"E08000038"}


@pytest.mark.parametrize("symbol", [*MISSING_SYMBOLS, "X", " low "])
def test_read_context_symbols_read_as_missing(symbol: str) -> None:
    row = {**DURHAM, "uasc_per_10k": symbol, "spend_per_child": symbol}
    got = values_of(read_context(csv_bytes([row]), "context.csv"))
    assert np.isnan(got[("E06000047", "2025", "uasc_per_10k")])
    assert np.isnan(got[("E06000047", "2025", "spend_per_child")])
    assert got[("E06000047", "2025", "child_population")] == 103_000


def test_read_context_xlsx() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append([float(DURHAM[c]) if c in CONTEXT_VARIABLES else DURHAM[c] for c in HEADER])
    buffer = io.BytesIO()
    book.save(buffer)
    got = values_of(read_context(buffer.getvalue(), "context.xlsx"))
    assert got[("E06000047", "2025", "spend_per_child")] == 1250


# ----------------------------------------------------------------------------------- problems

# (what changes in Durham's row (data row 2 of the file, after Camden's) -> row, column, value,
# rule of the one problem it causes)
NEW, VALID = "la_code_unknown", "la_code_valid_for_period"
CUMBERLAND = {
    "new_la_code": "E06000063",
    "old_la_code": "942",
    "la_name": "Cumberland",
    "region_code": "E12000002",
    "region_name": "North West",
}
CASES = {
    "unknown new code": ({"new_la_code": "E06999999"}, "new_la_code", "E06999999", NEW),
    "unknown old code": ({"old_la_code": "999"}, "old_la_code", "999", NEW),
    "codes disagree": ({"old_la_code": "841"}, "new_la_code", "E06000047", VALID),
    "code not valid for period": (
        {"time_period": "2020", **CUMBERLAND},
        "new_la_code",
        "E06000063",
        VALID,
    ),
    "region": ({"region_code": "E12000002"}, "region_code", "E12000002", "region_matches_la"),
    "country": ({"country_code": "W92000004"}, "country_code", "W92000004", "country_is_england"),
    "time identifier": (
        {"time_identifier": "Calendar year"},
        "time_identifier",
        "Calendar year",
        "time_identifier_unknown",
    ),
    "period form": ({"time_period": "25"}, "time_period", "25", "time_period_form"),
    "level": ({"geographic_level": "Ward"}, "geographic_level", "Ward", "geographic_level"),
    "blank name": ({"la_name": ""}, "la_name", "", "la_name_blank"),
    "not a number": ({"spend_per_child": "lots"}, "spend_per_child", "lots", "number_invalid"),
    "thousands separator": (
        {"child_population": '"103,000"'},
        "child_population",
        "103,000",
        "number_invalid",
    ),
    "blank value": ({"inflow_families": ""}, "inflow_families", "", "value_blank"),
    "negative": ({"uasc_per_10k": "-1"}, "uasc_per_10k", "-1", "value_negative"),
    "idaci above 1": ({"idaci_score": "1.5"}, "idaci_score", "1.5", "value_out_of_range"),
    "no children": ({"child_population": "0"}, "child_population", "0", "value_out_of_range"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_read_context_each_error_kind_names_row_column_value_rule(case: str) -> None:
    change, column, value, rule = CASES[case]
    problems = problems_of(csv_bytes([CAMDEN, {**DURHAM, **change}]), "bad.csv")
    assert [(p.file, p.row, p.column, p.value, p.rule) for p in problems] == [
        ("bad.csv", 3, column, value, rule)
    ], problems
    assert problems[0].message
    assert f"bad.csv, row 3, column {column}" in str(problems[0])


def test_read_context_duplicate_la_and_period() -> None:
    """The same LA twice for one period, once as the financial year of the same months."""
    again = {**DURHAM, "time_period": "202425", "time_identifier": "Financial year"}
    problems = problems_of(csv_bytes([DURHAM, CAMDEN, again]))
    assert [(p.row, p.column, p.value, p.rule) for p in problems] == [
        (4, "new_la_code", "E06000047", "duplicate_la_period")
    ]
    assert "row 2" in problems[0].message


def test_read_context_every_problem_at_once() -> None:
    bad = {**DURHAM, "spend_per_child": "lots", "idaci_score": "2"}
    worse = {**CAMDEN, "old_la_code": "999", "uasc_per_10k": "-3"}
    problems = problems_of(csv_bytes([bad, worse]))
    assert [(p.row, p.column, p.rule) for p in problems] == [
        (2, "idaci_score", "value_out_of_range"),
        (2, "spend_per_child", "number_invalid"),
        (3, "old_la_code", "la_code_unknown"),
        (3, "uasc_per_10k", "value_negative"),
    ]


def test_read_context_unknown_column_named_with_the_known_ones() -> None:
    header = [*HEADER, "Looked after rate"]
    problems = problems_of(csv_bytes([DURHAM], header), "extra.csv")
    assert [(p.file, p.row, p.column, p.value, p.rule) for p in problems] == [
        ("extra.csv", 1, "Looked after rate", "Looked after rate", "header_unknown")
    ]
    for known in (*HEADER,):
        assert known in problems[0].message


def test_read_context_missing_required_column() -> None:
    header = [c for c in HEADER if c != "old_la_code"]
    problems = problems_of(csv_bytes([DURHAM], header))
    assert [(p.row, p.column, p.rule) for p in problems] == [(1, "old_la_code", "header_missing")]


def test_read_context_needs_a_variable_column() -> None:
    problems = problems_of(csv_bytes([DURHAM], HEADER[:10]))
    assert [(p.row, p.rule) for p in problems] == [(1, "header_missing")]
    assert "child_population" in problems[0].message


def test_read_context_no_local_authority_rows() -> None:
    national = {**DURHAM, "geographic_level": "National", "new_la_code": "", "old_la_code": ""}
    problems = problems_of(csv_bytes([national]))
    assert [p.rule for p in problems] == ["file_empty"]


def test_read_context_unreadable_file() -> None:
    problems = problems_of(b"%PDF-1.7 not a table", "context.pdf")
    assert [(p.file, p.row, p.rule) for p in problems] == [("context.pdf", None, "file_type")]
