"""Tests for schemas.upload.templates and ``exchange template``: filled templates validate."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from schemas.catalogue import Catalogue, load_catalogue
from schemas.upload import EES_SYMBOLS, IDENTITY_COLUMNS, MEASURE_COLUMNS, TOTAL, validate_upload
from schemas.upload.templates import (
    NOT_APPLICABLE,
    PLACEHOLDERS,
    guidance_rows,
    template_columns,
    template_filename,
    template_frame,
    write_template,
)

CATALOGUE = load_catalogue()
DOMAINS = list(CATALOGUE.domains)
# County Durham: a unitary authority whose codes are valid for reporting year 2025.
LA = {"new_la_code": "E06000047", "old_la_code": "840", "la_name": "County Durham"}
# Totals chosen so percentages are not whole numbers and every split keeps numerator <= denominator.
TOTAL_NUMERATOR, TOTAL_DENOMINATOR = 250, 600


def _share(total: int, k: int, i: int) -> int:
    """Category i's part of ``total`` split into k parts that add up to ``total``."""
    return total // k + (1 if i < total % k else 0)


def _position(row: dict[str, str], catalogue: Catalogue) -> tuple[int, int]:
    """(number of categories, index of this row's category); (1, 0) for the Total row."""
    if row["breakdown_topic"] == TOTAL:
        return 1, 0
    values = catalogue.breakdowns[row["breakdown_topic"]].values
    return len(values), values.index(row["breakdown"])


def fill_measures(row: dict[str, str], catalogue: Catalogue = CATALOGUE) -> dict[str, object]:
    """Consistent numbers for one template row: categories add up to their Total row."""
    indicator = catalogue.indicators[row["indicator_id"]]
    mt = catalogue.measure_types[indicator.measure_type]
    k, i = _position(row, catalogue)
    out: dict[str, object] = {}
    if mt.value_kind == "yes_no":
        out["value"] = "yes"
    elif mt.value_kind == "number":
        out["n"] = _share(TOTAL_DENOMINATOR, k, i)
        out["value"] = -1.25 if mt.value_may_be_negative else 12.5
        if "sd" in (*mt.required, *mt.optional):
            out["sd"] = 2.5
    else:
        assert mt.value_numerator is not None
        assert mt.value_denominator is not None
        if mt.id == "change_distribution":
            # The Total row is the whole cohort; the distribution's own categories (More /
            # Same / Fewer) share it as denominator; other breakdowns split the cohort.
            num = den = _share(TOTAL_DENOMINATOR, k, i)
            if row["breakdown_topic"] in indicator.required_breakdowns:
                den = TOTAL_DENOMINATOR
        else:
            num, den = _share(TOTAL_NUMERATOR, k, i), _share(TOTAL_DENOMINATOR, k, i)
        out[mt.value_numerator] = num
        out[mt.value_denominator] = den
        out["value"] = round(num / den * mt.value_scale, 1)
    return out


def filled_frame(domain_id: str, *, with_values: bool = True) -> pd.DataFrame:
    frame = template_frame(domain_id)
    records = []
    for row in frame.to_dict("records"):
        measures = fill_measures(row)
        if not with_values and isinstance(measures.get("value"), float):
            measures["value"] = ""
        records.append({**row, **LA, **{c: str(v) for c, v in measures.items()}})
    return pd.DataFrame(records, columns=frame.columns)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


# ----------------------------------------------------------------------------- template_frame


@pytest.mark.parametrize("domain_id", DOMAINS)
def test_template_frame_header_identity_then_domain_measures(domain_id: str) -> None:
    frame = template_frame(domain_id)
    used = {
        c
        for ind in CATALOGUE.by_domain(domain_id)
        for c in (
            *CATALOGUE.measure_types[ind.measure_type].required,
            *CATALOGUE.measure_types[ind.measure_type].optional,
        )
    }
    assert list(frame.columns) == [*IDENTITY_COLUMNS, *(c for c in MEASURE_COLUMNS if c in used)]
    assert list(frame.columns) == template_columns(domain_id)


@pytest.mark.parametrize("domain_id", DOMAINS)
def test_template_frame_rows_total_then_every_category(domain_id: str) -> None:
    frame = template_frame(domain_id)
    expected = []
    for ind in CATALOGUE.by_domain(domain_id):
        expected.append((ind.id, TOTAL, TOTAL))
        for topic in ind.breakdowns:
            expected += [(ind.id, topic, v) for v in CATALOGUE.breakdowns[topic].values]
    got = list(frame[["indicator_id", "breakdown_topic", "breakdown"]].itertuples(index=False))
    assert [tuple(r) for r in got] == expected


@pytest.mark.parametrize("domain_id", DOMAINS)
def test_template_frame_placeholders_and_blank_cells(domain_id: str) -> None:
    frame = template_frame(domain_id)
    for column, placeholder in PLACEHOLDERS.items():
        assert set(frame[column]) == {placeholder}, column
    for row in frame.to_dict("records"):
        mt = CATALOGUE.measure_types[CATALOGUE.indicators[row["indicator_id"]].measure_type]
        for column in MEASURE_COLUMNS:
            if column not in frame:
                continue
            expected = "" if column in (*mt.required, *mt.optional) else NOT_APPLICABLE
            assert row[column] == expected, (row["indicator_id"], column)


def test_template_frame_yes_no_indicator_has_total_row_only() -> None:
    frame = template_frame("conditions_culture")
    rows = frame[frame.indicator_id == "t2_values_statement"]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row.breakdown_topic, row.breakdown, row.value) == (TOTAL, TOTAL, "")
    assert (row.numerator, row.denominator, row.n) == ("z", "z", "z")


def test_template_frame_unknown_domain_raises() -> None:
    with pytest.raises(KeyError, match="reaching_families"):
        template_frame("reaching_famlies")


# ------------------------------------------------------------------------ filled templates


@pytest.mark.parametrize("domain_id", DOMAINS)
def test_template_filled_csv_validates(domain_id: str) -> None:
    frame = filled_frame(domain_id)
    report = validate_upload(csv_bytes(frame), f"{domain_id}.csv")
    assert report.errors == []
    assert report.warnings == []
    assert report.ok
    assert report.rows == len(frame)


@pytest.mark.parametrize("domain_id", DOMAINS)
def test_template_filled_xlsx_validates(domain_id: str, tmp_path: Path) -> None:
    """Filled as a user would in Excel: codes and counts typed as numbers, the Guidance kept."""
    path = write_template(domain_id, tmp_path / "t.xlsx", "xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["Data"]
    header = [c.value for c in sheet[1]]
    for cells in sheet.iter_rows(min_row=2):
        row = {
            h: ("" if c.value is None else str(c.value)) for h, c in zip(header, cells, strict=True)
        }
        values: dict[str, object] = {
            "time_period": 2025,
            "new_la_code": LA["new_la_code"],
            "old_la_code": 840,
            "la_name": LA["la_name"],
            **fill_measures(row),
        }
        for h, cell in zip(header, cells, strict=True):
            if h in values:
                cell.value = values[h]
    out = io.BytesIO()
    book.save(out)
    report = validate_upload(out.getvalue(), "filled.xlsx")
    assert report.sheet == "Data"
    assert report.errors == []
    assert report.ok
    assert report.rows == len(template_frame(domain_id))


def test_template_filled_counts_only_validates() -> None:
    """value is optional: counts with blank values are valid (value_agrees once crashed here)."""
    frame = filled_frame("reaching_families", with_values=False)
    report = validate_upload(csv_bytes(frame), "counts.csv")
    assert report.errors == []


def test_template_unfilled_header_accepted_rows_need_la() -> None:
    frame = template_frame("reaching_families")
    report = validate_upload(csv_bytes(frame), "blank.csv")
    assert not report.ok
    assert report.rows == len(frame)
    rules = {p.rule for p in report.errors}
    assert not {r for r in rules if r.startswith("header_")}
    first = {(p.rule, p.column) for p in report.errors if p.row == 2}
    assert {
        ("new_la_code_blank", "new_la_code"),
        ("old_la_code_blank", "old_la_code"),
        ("la_name_blank", "la_name"),
        ("numerator_required", "numerator"),
        ("denominator_required", "denominator"),
    } <= first


# --------------------------------------------------------------------------- write_template


def test_write_template_csv_utf8_bom_round_trips(tmp_path: Path) -> None:
    path = write_template("valued_involved", tmp_path / "t.csv")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    expected = template_frame("valued_involved")
    assert list(back.columns) == list(expected.columns)
    assert back.values.tolist() == expected.values.tolist()


def test_write_template_xlsx_data_and_guidance_sheets(tmp_path: Path) -> None:
    path = write_template("conditions_culture", tmp_path / "t.xlsx", fmt="xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Data", "Guidance"]
    data = book["Data"]
    frame = template_frame("conditions_culture")
    assert [c.value for c in data[1]] == list(frame.columns)
    assert all(c.font.b for c in data[1])
    assert data.freeze_panes == "A2"
    assert data.max_row == len(frame) + 1
    for letter in ("A", "G", "I"):
        assert data.column_dimensions[letter].width >= len(str(data[f"{letter}1"].value))
    assert data["E2"].number_format == "@"  # old_la_code typed as text keeps leading zeros


def test_write_template_xlsx_guidance_lists_indicators_and_symbols(tmp_path: Path) -> None:
    path = write_template("conditions_culture", tmp_path / "t.xlsx", fmt="xlsx")
    guide = openpyxl.load_workbook(path)["Guidance"]
    rows = [tuple(v for v in r if v is not None) for r in guide.iter_rows(values_only=True)]
    ids = {r[0] for r in rows if r}
    assert {i.id for i in CATALOGUE.by_domain("conditions_culture")} <= ids
    for symbol, meaning in EES_SYMBOLS.items():
        assert (symbol, meaning) in rows
    length_of_service = next(r for r in rows if r and r[0] == "t2_length_of_service")
    assert "value, n" in length_of_service
    assert "years" in length_of_service
    table = guidance_rows("conditions_culture")
    assert table[0][:4] == ["Indicator", "What it measures", "Measure type", "Required columns"]
    assert len(table) == len(CATALOGUE.by_domain("conditions_culture")) + 1


def test_write_template_unknown_format_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="csv"):
        write_template("child_outcomes", tmp_path / "t.ods", fmt="ods")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_cli_template_all_domains(fmt: str, tmp_path: Path) -> None:
    from exchange.cli import main

    result = CliRunner().invoke(
        main, ["template", "--domain", "all", "--out", str(tmp_path / "out"), "--format", fmt]
    )
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(template_filename(d, fmt) for d in DOMAINS)  # type: ignore[arg-type]
    assert "reaching_families" in result.output


def test_cli_template_one_domain_default_csv(tmp_path: Path) -> None:
    from exchange.cli import main

    result = CliRunner().invoke(
        main, ["template", "--domain", "child_outcomes", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["upload-template-child_outcomes.csv"]


def test_cli_template_unknown_domain_fails(tmp_path: Path) -> None:
    from exchange.cli import main

    result = CliRunner().invoke(main, ["template", "--domain", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "conditions_culture" in result.output
    assert not list(tmp_path.iterdir())
