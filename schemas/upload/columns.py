"""The upload format's columns and EES symbols (documented in docs/upload-format.md)."""

from __future__ import annotations

__all__ = [
    "EES_SYMBOLS",
    "GEOGRAPHY_OPTIONAL",
    "IDENTITY_COLUMNS",
    "KEY_COLUMNS",
    "MEASURE_COLUMNS",
    "TOTAL",
]

TOTAL = "Total"

# Columns every row must have, in template order. EES time and geography columns first.
IDENTITY_COLUMNS: tuple[str, ...] = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "new_la_code",
    "old_la_code",
    "la_name",
    "indicator_id",
    "breakdown_topic",
    "breakdown",
)

# EES geography columns a file may carry; checked against the reference data when present.
GEOGRAPHY_OPTIONAL: tuple[str, ...] = ("country_code", "country_name", "region_code", "region_name")

# Measure columns; which are required depends on each indicator's measure type (catalogue).
MEASURE_COLUMNS: tuple[str, ...] = ("numerator", "denominator", "respondents", "n", "value", "sd")

# One row per (period, LA, indicator, breakdown category).
KEY_COLUMNS: tuple[str, ...] = (
    "time_period",
    "time_identifier",
    "new_la_code",
    "indicator_id",
    "breakdown_topic",
    "breakdown",
)

# The EES symbols accepted in place of a number, with their EES meanings.
EES_SYMBOLS: dict[str, str] = {
    "c": "confidential: suppressed to protect individuals",
    "x": "not available: the data was not collected or is unavailable",
    "z": "not applicable: a figure cannot exist for this cell",
    "u": "low reliability: the figure is not shown because it is unreliable",
    "low": "a positive figure that rounds to zero",
}
