"""The shared frames of the analytics: indicator metadata, values, and comparison groups.

Every analytics module takes and returns long DataFrames; the pandera models here are the
contract between them (and with the tasks that load data and store results), so each module
imports them from this one place rather than restating columns:

- :class:`IndicatorMeta`: one row per catalogue indicator, with what a computation needs to
  judge a value (polarity, value kind and scale) and to place it in the framework (table,
  domain, outcome). :func:`indicator_meta` builds it from the catalogue, so the pure functions
  take a frame rather than the pydantic ``Catalogue`` object.
- :class:`ValueFrame`: one row per LA x indicator x period x breakdown cell. Comparison
  functions take two: ``raw`` (each LA's own true values) and ``protected`` (what other LAs
  may see after the privacy layer; suppressed values are NaN).
- :class:`Groups`: membership of comparison groups (statistical neighbours, regions, alliances,
  England, custom and "similar challenges" sets).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from schemas.catalogue import Catalogue, Polarity

__all__ = [
    "CELL",
    "CONTEXT_DEPENDENT",
    "GROUP_TYPES",
    "HIGHER_IS_BETTER",
    "KEY",
    "LOWER_IS_BETTER",
    "POLARITIES",
    "SHARED_OWNER",
    "TOTAL",
    "VALUE_KINDS",
    "Groups",
    "IndicatorMeta",
    "ValueFrame",
    "indicator_meta",
]

HIGHER_IS_BETTER = str(Polarity.HIGHER_IS_BETTER)
LOWER_IS_BETTER = str(Polarity.LOWER_IS_BETTER)
CONTEXT_DEPENDENT = str(Polarity.CONTEXT_DEPENDENT)
POLARITIES = (HIGHER_IS_BETTER, LOWER_IS_BETTER, CONTEXT_DEPENDENT)
"""An indicator's polarity. ``context_dependent`` indicators (seed 4.5.7: more CP plans as
assessment improves, temporary staff turnover) have no "good" direction, so no computation
judges them better or worse."""

VALUE_KINDS = ("percentage", "rate", "number", "yes_no")
"""What an indicator's ``value`` holds (the catalogue's measure type ``value_kind``)."""

GROUP_TYPES = ("neighbours", "region", "alliance", "england", "custom", "similar")
"""The kinds of comparison group (issue 5). Inner and Outer London are ``region`` groups."""

SHARED_OWNER = ""
"""The ``owner`` of a group shared by its members (a region, an alliance, England), as opposed
to a per-LA group (an LA's statistical neighbours or "similar challenges" set), whose owner is
the LA it was built for and which does not include that LA."""

TOTAL = "Total"
"""The EES filter value of a total: ``breakdown_topic == breakdown == "Total"``."""

CELL = ["indicator_id", "period", "breakdown_topic", "breakdown"]
"""The columns that identify a cell of the national table: one value per LA."""

KEY = ["la_code", *CELL]
"""The columns that identify a row of a :class:`ValueFrame`."""


class IndicatorMeta(pa.DataFrameModel):
    """One row per indicator: how to judge its values and where it sits in the framework."""

    indicator_id: Series[str] = pa.Field(unique=True)
    polarity: Series[str] = pa.Field(isin=list(POLARITIES))
    value_kind: Series[str] = pa.Field(isin=list(VALUE_KINDS))
    # value = numerator / denominator x value_scale (100 for percentages, 10,000 for rates).
    value_scale: Series[float] = pa.Field(gt=0)
    table: Series[np.int64] = pa.Field(ge=2, le=5)
    domain: Series[str]
    outcome: Series[np.int64]

    class Config:
        strict = True
        coerce = True


class ValueFrame(pa.DataFrameModel):
    """One row per LA x indicator x period x breakdown cell (:data:`KEY` is unique).

    ``period`` is an EES reporting year such as ``"2025"``. ``value`` is NaN when the value is
    missing or (in a protected frame) suppressed; ``numerator``/``denominator`` likewise.
    """

    la_code: Series[str]
    indicator_id: Series[str]
    period: Series[str] = pa.Field(str_matches=r"^\d{4}$")
    breakdown_topic: Series[str]
    breakdown: Series[str]
    value: Series[float] = pa.Field(nullable=True)
    numerator: Series[float] = pa.Field(nullable=True)
    denominator: Series[float] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="duplicate LA x cell row")
    @classmethod
    def one_row_per_key(cls, frame: pd.DataFrame) -> bool:
        """One value per LA and cell: a duplicate would count an LA twice in a rank or mean.

        A scalar check rather than ``Config.unique``: pandera's report of failing rows cannot
        be built from a frame whose index is duplicated too.
        """
        return not _repeats_rows(frame, KEY)


_MAX_KEY = 2**62
"""Row keys combine column codes in mixed radix in an int64; beyond this many combinations
:func:`_repeats_rows` falls back to pandas' row hashing."""


def _repeats_rows(frame: pd.DataFrame, columns: list[str]) -> bool:
    """Whether two rows of ``frame`` agree on all ``columns`` (missing values equal).

    ``frame.duplicated`` hashes the rows; coding each column and sorting one int64 per row
    is ~3x faster on millions of rows (it validates every recompute's input).
    """
    key = np.zeros(len(frame), dtype=np.int64)
    combinations = 1
    for column in columns:
        codes, uniques = pd.factorize(frame[column], use_na_sentinel=False)
        combinations *= max(len(uniques), 1)
        if combinations > _MAX_KEY:
            return bool(frame.duplicated(columns).any())
        key = key * max(len(uniques), 1) + codes
    key.sort()
    return bool((key[1:] == key[:-1]).any())


class Groups(pa.DataFrameModel):
    """Membership of comparison groups: one row per group x member LA.

    ``owner`` is the LA a per-LA group was built for (its neighbours, its "similar challenges"
    set, a custom set it defined), :data:`SHARED_OWNER` for groups shared by their members.
    An LA's statistical neighbours do not include the LA itself.
    """

    group_id: Series[str]
    group_type: Series[str] = pa.Field(isin=list(GROUP_TYPES))
    owner: Series[str]
    la_code: Series[str]

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="an LA is listed twice in a group")
    @classmethod
    def one_row_per_member(cls, frame: pd.DataFrame) -> bool:
        """Each member once per group (a duplicate would count it twice in a mean)."""
        return not frame.duplicated(["group_id", "la_code"]).any()

    @pa.dataframe_check(error="a group has more than one type or owner")
    @classmethod
    def one_type_and_owner_per_group(cls, frame: pd.DataFrame) -> bool:
        """A group id names one group: the same type and owner on every membership row."""
        per_group = frame.groupby("group_id", sort=False)[["group_type", "owner"]].nunique()
        return bool((per_group <= 1).all(axis=None))


@pa.check_types
def indicator_meta(catalogue: Catalogue) -> DataFrame[IndicatorMeta]:
    """The :class:`IndicatorMeta` frame of every indicator of ``catalogue`` (in catalogue order).

    ``value_kind`` and ``value_scale`` come from the indicator's measure type.
    """
    rows = []
    for ind in catalogue.indicators.values():
        measure = catalogue.measure_types[ind.measure_type]
        rows.append(
            {
                "indicator_id": ind.id,
                "polarity": str(ind.polarity),
                "value_kind": measure.value_kind,
                "value_scale": float(measure.value_scale),
                "table": ind.table,
                "domain": ind.domain,
                "outcome": ind.outcome,
            }
        )
    columns = list(IndicatorMeta.to_schema().columns)
    return DataFrame[IndicatorMeta](pd.DataFrame(rows, columns=columns))
