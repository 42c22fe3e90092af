"""EES time periods: the ``time_period`` / ``time_identifier`` pairs an upload may use.

Explore Education Statistics (EES) encodes a period as a number whose form depends on its
identifier: ``2025`` with ``Reporting year``, ``202425`` with ``Financial year``. Children's social
care returns use the *reporting year* (1 April to 31 March, named by the year it ends, as in the
CIN census and SSDA903), so that is the exchange's main period; the six-month indicators of the
framework are measured over the last six months of the period they are returned for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = ["TIME_IDENTIFIERS", "Period", "PeriodError", "parse_period"]


class PeriodError(ValueError):
    """A time_period does not have the form its time_identifier requires."""


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date
    time_period: str
    time_identifier: str

    @property
    def label(self) -> str:
        return f"{self.time_identifier} {self.time_period}"

    @property
    def year(self) -> int:
        """The calendar year the period ends in (the "reporting year" convention)."""
        return self.end.year


def _year(tp: str) -> int:
    return int(tp)


def _two_years(tp: str) -> int:
    """'202425' -> 2024, checking the second part follows the first (EES's YYYYYY form)."""
    first, second = int(tp[:4]), int(tp[4:])
    if (first + 1) % 100 != second:
        raise PeriodError(f"{tp!r}: the second year must follow the first (e.g. 202425)")
    return first


def _reporting_year(tp: str) -> tuple[date, date]:
    y = _year(tp)
    return date(y - 1, 4, 1), date(y, 3, 31)


def _calendar_year(tp: str) -> tuple[date, date]:
    y = _year(tp)
    return date(y, 1, 1), date(y, 12, 31)


def _financial_year(tp: str) -> tuple[date, date]:
    y = _two_years(tp)
    return date(y, 4, 1), date(y + 1, 3, 31)


def _academic_year(tp: str) -> tuple[date, date]:
    y = _two_years(tp)
    return date(y, 9, 1), date(y + 1, 8, 31)


def _financial_part_1(tp: str) -> tuple[date, date]:
    y = _two_years(tp)
    return date(y, 4, 1), date(y, 9, 30)


def _financial_part_2(tp: str) -> tuple[date, date]:
    y = _two_years(tp)
    return date(y, 10, 1), date(y + 1, 3, 31)


_FOUR = re.compile(r"^\d{4}$")
_SIX = re.compile(r"^\d{6}$")

# time_identifier -> (form the time_period must have, human description, date range)
TIME_IDENTIFIERS: dict[str, tuple[re.Pattern[str], str, object]] = {
    "Reporting year": (_FOUR, "a four-digit year, e.g. 2025", _reporting_year),
    "Calendar year": (_FOUR, "a four-digit year, e.g. 2025", _calendar_year),
    "Financial year": (_SIX, "six digits for two consecutive years, e.g. 202425", _financial_year),
    "Academic year": (_SIX, "six digits for two consecutive years, e.g. 202425", _academic_year),
    "Part 1 (April to September)": (_SIX, "six digits, e.g. 202425", _financial_part_1),
    "Part 2 (October to March)": (_SIX, "six digits, e.g. 202425", _financial_part_2),
}


def expected_form(time_identifier: str) -> str:
    return TIME_IDENTIFIERS[time_identifier][1]


def parse_period(time_period: str, time_identifier: str) -> Period:
    """Parse an EES period, raising :class:`PeriodError` with a plain-English reason."""
    spec = TIME_IDENTIFIERS.get(time_identifier)
    if spec is None:
        known = ", ".join(TIME_IDENTIFIERS)
        raise PeriodError(f"unknown time_identifier {time_identifier!r}; use one of: {known}")
    pattern, form, to_dates = spec
    tp = time_period.strip()
    if not pattern.match(tp):
        raise PeriodError(f"time_period {tp!r} must be {form} for {time_identifier!r}")
    start, end = to_dates(tp)  # type: ignore[operator]
    if not 2000 <= start.year <= 2100:
        raise PeriodError(f"time_period {tp!r} is outside the years the exchange holds")
    return Period(start=start, end=end, time_period=tp, time_identifier=time_identifier)
