"""Explore Education Statistics (EES) files: the layout of a release as DfE publishes data.

A release is written as a tidy data CSV and its ``.meta.csv``, as the EES data screener
expects (dfe-analytical-services/dfe-published-data-qa):

* time and geography columns first: ``time_period``, ``time_identifier``,
  ``geographic_level`` (National / Regional / Local authority), ``country_code``,
  ``country_name``, ``region_code``, ``region_name`` (Inner and Outer London are Regional rows
  with codes E13000001/2, and London LAs name them as their region, as DfE's children in need
  files do), ``old_la_code``, ``new_la_code``, ``la_name``;
* filters, each with a ``Total`` value: ``indicator`` (the catalogue id), ``breakdown_topic``
  and ``breakdown`` (grouped by topic);
* indicator columns, each with one unit: ``numerator``, ``denominator``, ``respondents``,
  ``n`` (counts), ``percent`` (%), ``rate_per_10000``, ``mean``, ``sd`` and ``yes_no`` (1 or 0).

Every indicator cell holds a number or an EES symbol: ``c`` (confidential: suppressed by the
release policy), ``x`` (not available), ``z`` (not applicable: the indicator has no such
measure), ``low`` (rounds to 0). A release's footnotes (its policy, what was rounded) go in a
``.footnotes.txt`` beside the pair, since footnotes are entered in EES's admin, not in files.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "GEOGRAPHY_COLUMNS",
    "INDICATOR_COLUMNS",
    "META_COLUMNS",
    "meta_table",
    "release_table",
    "write_ees",
]

ENGLAND = ("E92000001", "England")
GEOGRAPHY_COLUMNS = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "old_la_code",
    "new_la_code",
    "la_name",
)
# Filters: (label, filter_grouping_column); indicators: (label, grouping, unit, decimal places).
_FILTERS = {
    "indicator": ("Indicator (exchange catalogue id)", ""),
    "breakdown_topic": ("Breakdown", ""),
    "breakdown": ("Breakdown category", "breakdown_topic"),
}
_INDICATORS = {
    "numerator": ("Numerator (count)", "Counts", "", "0"),
    "denominator": ("Denominator (count)", "Counts", "", "0"),
    "respondents": ("Survey respondents (count)", "Counts", "", "0"),
    "n": ("Number of people (count)", "Counts", "", "0"),
    "percent": ("Percentage", "Values", "%", "1"),
    "rate_per_10000": ("Rate per 10,000 children", "Values", "", "1"),
    "mean": ("Mean", "Values", "", "2"),
    "sd": ("Standard deviation", "Values", "", "2"),
    "yes_no": ("Yes (1) or no (0)", "Values", "", "0"),
}
FILTER_COLUMNS = tuple(_FILTERS)
INDICATOR_COLUMNS = tuple(_INDICATORS)
META_COLUMNS = (
    "col_name",
    "col_type",
    "label",
    "indicator_grouping",
    "indicator_unit",
    "indicator_dp",
    "filter_hint",
    "filter_grouping_column",
    "filter_default",
)
SUBREGIONS = {"E13000001": "Inner London", "E13000002": "Outer London"}
_LEVEL_ORDER = {"National": 0, "Regional": 1, "Local authority": 2}


def _value_column(value_kind: str) -> str:
    if value_kind == "percentage":
        return "percent"
    if value_kind == "rate":
        return "rate_per_10000"
    if value_kind == "yes_no":
        return "yes_no"
    return "mean"


def release_table(
    published: pd.DataFrame,
    catalogue: Any,
    reference: Any,
    *,
    time_period: str,
    time_identifier: str,
) -> pd.DataFrame:
    """The EES data table of a release, all text, from the wide published table of
    :func:`privacy.release.published_table` (one row per area, indicator and breakdown cell
    with ``numerator`` … ``sd`` as text: a number or a symbol)."""
    frame = published.copy()
    kinds = {
        ind.id: catalogue.measure_types[ind.measure_type].value_kind
        for ind in catalogue.indicators.values()
    }
    target = frame["indicator_id"].map(lambda i: _value_column(kinds[i]))
    for column in ("percent", "rate_per_10000", "mean", "yes_no"):
        frame[column] = np.where(target == column, frame["value"], "z")
    # An sd only goes with a mean; elsewhere it is not applicable.
    frame["sd"] = np.where(target == "mean", frame["sd"], "z")

    areas = frame[["geographic_level", "area_code"]].drop_duplicates()
    geo = pd.DataFrame(
        [_geography(r.geographic_level, r.area_code, reference) for r in areas.itertuples()]
    )
    geo["area_code"] = areas["area_code"].to_numpy()
    frame = frame.merge(geo, on="area_code", how="left", validate="many_to_one")
    frame["time_period"] = str(time_period)
    frame["time_identifier"] = time_identifier
    frame = frame.rename(columns={"indicator_id": "indicator"})
    order = {ind: i for i, ind in enumerate(catalogue.indicators)}
    frame["_level"] = frame["geographic_level"].map(_LEVEL_ORDER)
    frame["_ind"] = frame["indicator"].map(order)
    frame["_total"] = frame["breakdown_topic"] != "Total"
    frame = frame.sort_values(
        ["_level", "region_code", "old_la_code", "_ind", "_total"], kind="stable"
    )
    columns = [*GEOGRAPHY_COLUMNS, *FILTER_COLUMNS, *INDICATOR_COLUMNS]
    return frame[columns].fillna("").astype(str).reset_index(drop=True)


def _geography(level: str, code: str, reference: Any) -> dict[str, str]:
    row = dict.fromkeys(GEOGRAPHY_COLUMNS[3:], "")
    row["country_code"], row["country_name"] = ENGLAND
    if level == "National":
        return row
    if level == "Regional":
        row["region_code"] = code
        row["region_name"] = SUBREGIONS.get(code) or _region_name(reference, code)
        return row
    la = reference.la(code)
    region_code, region_name = la.region_code, la.region_name
    sub = reference.london_subregion(code)
    if sub is not None:
        region_code = next(c for c, n in SUBREGIONS.items() if n == sub)
        region_name = sub
    row.update(
        region_code=region_code,
        region_name=region_name,
        old_la_code=la.old_la_code or "",
        new_la_code=code,
        la_name=la.la_name,
    )
    return row


def _region_name(reference: Any, code: str) -> str:
    names = dict(
        zip(reference.regions["region_code"], reference.regions["region_name"], strict=True)
    )
    return names[code]


def meta_table() -> pd.DataFrame:
    """The ``.meta.csv`` of a release table: one row per filter and indicator column."""
    blank = dict.fromkeys(META_COLUMNS, "")
    rows = [
        {**blank, "col_name": name, "col_type": "Filter", "label": label,
         "filter_grouping_column": group, "filter_default": "Total"}
        for name, (label, group) in _FILTERS.items()
    ] + [
        {**blank, "col_name": name, "col_type": "Indicator", "label": label,
         "indicator_grouping": grouping, "indicator_unit": unit, "indicator_dp": dp}
        for name, (label, grouping, unit, dp) in _INDICATORS.items()
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(META_COLUMNS))


def write_ees(
    table: pd.DataFrame, meta: pd.DataFrame, out: Path, stem: str, footnotes: list[str]
) -> list[Path]:
    """Write ``stem.csv``, ``stem.meta.csv`` and ``stem.footnotes.txt`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    data_path, meta_path = out / f"{stem}.csv", out / f"{stem}.meta.csv"
    notes_path = out / f"{stem}.footnotes.txt"
    # Quote only where needed ("Black, African, Caribbean or Black British"), as EES files do.
    table.to_csv(data_path, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    meta.to_csv(meta_path, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    notes_path.write_text("".join(f"{i}. {n}\n" for i, n in enumerate(footnotes, 1)), "utf-8")
    return [data_path, meta_path, notes_path]
