"""Pandera checks for upload cells, registered once (``import schemas.upload.checks``).

They work on whole columns of text as written in the file and are vectorised with Arrow compute
kernels: the 1,000,000-row benchmark depends on no per-cell Python.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.compute as pc
from pandera.extensions import register_check_method

from .columns import EES_SYMBOLS

__all__ = ["COUNT_PATTERN", "NUMBER_PATTERN", "is_symbol", "parse_numbers"]

# A count: digits, optionally followed by a zero fraction ("10" and "10.0" are 10; "10.5" is not).
COUNT_PATTERN = r"^\s*[0-9]+(\.0*)?\s*$"
# A decimal number, optionally negative, optionally in exponent form as spreadsheets write it.
NUMBER_PATTERN = r"^\s*-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_SYMBOLS = arrow.array(list(EES_SYMBOLS))


def _text(series: pd.Series) -> arrow.ChunkedArray:
    """The column as trimmed Arrow strings (zero-copy for pandas' Arrow-backed str dtype)."""
    return pc.utf8_trim_whitespace(arrow.chunked_array(arrow.array(series.astype("str"))))


def _elementwise(series: pd.Series, fn: Callable[[arrow.ChunkedArray], object]) -> pd.Series:
    """Apply an Arrow predicate to each cell; for categoricals, once per category."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = pd.Series(series.cat.categories, dtype="str")
        per_cat = np.asarray(fn(_text(cats)).to_numpy(zero_copy_only=False), dtype=bool)
        codes = series.cat.codes.to_numpy()
        # Code -1 is a missing cell, read as blank.
        missing = bool(
            np.asarray(fn(_text(pd.Series([""], dtype="str"))).to_numpy(zero_copy_only=False))[0]
        )
        out = np.where(codes >= 0, per_cat[codes] if len(per_cat) else False, missing)
    else:
        out = np.asarray(fn(_text(series)).to_numpy(zero_copy_only=False), dtype=bool)
    return pd.Series(out, index=series.index)


def is_symbol(series: pd.Series) -> pd.Series:
    """True where the cell is one of the EES symbols (c, x, z, u, low)."""
    return _elementwise(series, lambda t: pc.is_in(t, value_set=_SYMBOLS))


def _blank(text: arrow.ChunkedArray) -> arrow.ChunkedArray:
    return pc.equal(pc.utf8_length(text), 0)


def parse_numbers(series: pd.Series) -> pd.Series:
    """Numbers as float64; NaN where the cell is blank, a symbol or not a number."""
    text = _text(series)
    ok = pc.match_substring_regex(text, NUMBER_PATTERN)
    values = pc.cast(pc.if_else(ok, text, arrow.scalar(None, arrow.string())), arrow.float64())
    return pd.Series(values.to_numpy(zero_copy_only=False), index=series.index, dtype="float64")


def _cells_ok(series: pd.Series, pattern: str, extra: tuple[str, ...] = ()) -> pd.Series:
    allowed = arrow.array([*EES_SYMBOLS, *extra])

    def ok(text: arrow.ChunkedArray) -> object:
        lowered = pc.utf8_lower(text)
        return pc.or_(
            pc.or_(_blank(text), pc.is_in(lowered, value_set=allowed)),
            pc.match_substring_regex(text, pattern),
        )

    return _elementwise(series, ok)


@register_check_method(statistics=[])
def ees_count(pandas_obj: pd.Series) -> pd.Series:
    """Blank, an EES symbol, or a non-negative whole number ("10.0" allowed)."""
    return _cells_ok(pandas_obj, COUNT_PATTERN)


@register_check_method(statistics=[])
def ees_number(pandas_obj: pd.Series) -> pd.Series:
    """Blank, an EES symbol, 'yes'/'no' (for yes/no indicators), or a decimal number."""
    return _cells_ok(pandas_obj, NUMBER_PATTERN, extra=("yes", "no"))


@register_check_method(statistics=[])
def not_blank(pandas_obj: pd.Series) -> pd.Series:
    """The cell has something in it other than spaces."""
    return _elementwise(pandas_obj, lambda t: pc.invert(_blank(t)))


# Keep a reference so linters see the module is used for its registration side effect.
REGISTERED = (pa.Check.ees_count, pa.Check.ees_number, pa.Check.not_blank)
