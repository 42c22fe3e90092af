"""Pandera checks for upload cells, registered once (``import schemas.upload.checks``).

They work on whole columns of text as written in the file and are vectorised with Arrow compute
kernels: the 1,000,000-row benchmark depends on no per-cell Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.compute as pc
from pandera.extensions import register_check_method

from .columns import EES_SYMBOLS

__all__ = [
    "COUNT_PATTERN",
    "NUMBER_PATTERN",
    "is_symbol",
    "is_yes_no",
    "parse_numbers",
    "scan_numbers",
]

# A count: digits, optionally followed by a zero fraction ("10" and "10.0" are 10; "10.5" is not).
COUNT_PATTERN = r"^\s*[0-9]+(\.0*)?\s*$"
# A decimal number, optionally negative, optionally in exponent form as spreadsheets write it.
NUMBER_PATTERN = r"^\s*-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_SYMBOLS = arrow.array(list(EES_SYMBOLS))
_YES_NO = arrow.array(["yes", "no"])


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
    return _elementwise(series, lambda t: pc.is_in(pc.utf8_lower(t), value_set=_SYMBOLS))


def is_blank(series: pd.Series) -> pd.Series:
    """True where the cell is empty or only spaces."""
    return _elementwise(series, _blank)


def is_yes_no(series: pd.Series) -> pd.Series:
    """True where the cell says yes or no (any case)."""
    return _elementwise(
        series, lambda t: pc.is_in(pc.utf8_lower(t), value_set=arrow.array(["yes", "no"]))
    )


def _blank(text: arrow.ChunkedArray) -> arrow.ChunkedArray:
    return pc.equal(pc.utf8_length(text), 0)


def _raw(series: pd.Series) -> arrow.ChunkedArray:
    return arrow.chunked_array(arrow.array(series.astype("str")))


def _np(array: object) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Scan:
    """What each cell of a measure column is, from one pass of Arrow kernels."""

    blank: np.ndarray  # empty or only spaces
    symbol: np.ndarray  # an EES symbol (any case)
    yes_no: np.ndarray  # yes or no (any case)
    numbers: np.ndarray  # the number, NaN where the cell is not one
    digits: np.ndarray  # plain digits: a count beyond doubt


# Scans of the columns being validated, keyed by the column's Arrow buffers: the registered
# checks and the multi-cell rules read the same columns, and each is scanned once.
_SCANS: dict[tuple[int, ...], Scan] = {}


def _buffers_key(raw: arrow.ChunkedArray) -> tuple[int, ...]:
    key: list[int] = [len(raw)]
    for chunk in raw.chunks:
        key += [b.address if b is not None else 0 for b in chunk.buffers()]
    return tuple(key)


def clear_scans() -> None:
    """Forget cached scans (called when a validation ends, to free their memory)."""
    _SCANS.clear()


def scan(series: pd.Series) -> Scan:
    raw = _raw(series)
    key = _buffers_key(raw)
    if key not in _SCANS:
        _SCANS[key] = _scan(raw)
    return _SCANS[key]


def _scan(raw: arrow.ChunkedArray) -> Scan:
    # Most cells are blank or plain digits: two cheap kernels settle them. Only the rest are
    # lowered (for symbols and yes/no) and cast, and only malformed ones meet the regex.
    n = len(raw)
    blank = _np(pc.equal(pc.utf8_length(raw), 0)).astype(bool)
    digits = _np(pc.utf8_is_digit(raw)).astype(bool)
    numbers = np.full(n, np.nan)
    numbers[digits] = _np(pc.cast(pc.filter(raw, digits), arrow.float64()))
    symbol = np.zeros(n, dtype=bool)
    yes_no = np.zeros(n, dtype=bool)
    rest = np.flatnonzero(~(blank | digits))
    if not len(rest):
        return Scan(blank=blank, symbol=symbol, yes_no=yes_no, numbers=numbers, digits=digits)
    cells = pc.take(raw, arrow.array(rest))
    lowered = pc.utf8_lower(cells)
    symbol[rest] = _np(pc.is_in(lowered, _SYMBOLS)).astype(bool)
    yes_no[rest] = _np(pc.is_in(lowered, _YES_NO)).astype(bool)
    other = ~(symbol[rest] | yes_no[rest])
    where = rest[other]
    if len(where):
        candidates = pc.filter(cells, other)
        try:
            # Plain decimals ("28.6", "-0.25") cast in one pass.
            numbers[where] = _np(pc.cast(candidates, arrow.float64()))
        except (arrow.ArrowInvalid, arrow.ArrowTypeError):
            # Padded or malformed cells: trim, then classify exactly.
            text = pc.utf8_trim_whitespace(candidates)
            blank[where] = _np(pc.equal(pc.utf8_length(text), 0)).astype(bool)
            lowered = pc.utf8_lower(text)
            symbol[where] = _np(pc.is_in(lowered, _SYMBOLS)).astype(bool)
            yes_no[where] = _np(pc.is_in(lowered, _YES_NO)).astype(bool)
            number = pc.match_substring_regex(text, NUMBER_PATTERN)
            none = arrow.scalar(None, arrow.string())
            numbers[where] = _np(pc.cast(pc.if_else(number, text, none), arrow.float64()))
    return Scan(blank=blank, symbol=symbol, yes_no=yes_no, numbers=numbers, digits=digits)


def scan_numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(numbers as float64 with NaN where not a number, EES-symbol mask)."""
    result = scan(series)
    return result.numbers, result.symbol


def decimal_places(series: pd.Series) -> np.ndarray:
    """Digits after the decimal point as written ("33" -> 0, "33.30" -> 2)."""
    text = pc.utf8_trim_whitespace(_raw(series))
    dot = pc.find_substring(text, ".")
    after = pc.subtract(pc.subtract(pc.utf8_length(text), dot), 1)
    places = pc.if_else(pc.less(dot, 0), 0, after)
    return _np(places).astype("float64")


def parse_numbers(series: pd.Series) -> pd.Series:
    """Numbers as float64; NaN where the cell is blank, a symbol or not a number."""
    return pd.Series(scan(series).numbers, index=series.index, dtype="float64")


def _cells_ok(series: pd.Series, pattern: str, extra: tuple[str, ...] = ()) -> pd.Series:
    """Blank, a symbol (or ``extra`` word), or text matching ``pattern``, per category."""
    allowed = arrow.array([*EES_SYMBOLS, *extra])
    return _elementwise(series, lambda text: _match(text, pattern, allowed))


def _match(text: object, pattern: str, allowed: arrow.Array) -> object:
    text = pc.utf8_trim_whitespace(text)
    return pc.or_(
        pc.or_(_blank(text), pc.is_in(pc.utf8_lower(text), value_set=allowed)),
        pc.match_substring_regex(text, pattern),
    )


@register_check_method(statistics=[])
def ees_count(pandas_obj: pd.Series) -> pd.Series:
    """Blank, an EES symbol, or a non-negative whole number ("10.0" allowed)."""
    if isinstance(pandas_obj.dtype, pd.CategoricalDtype):
        return _cells_ok(pandas_obj, COUNT_PATTERN)
    cells = scan(pandas_obj)
    good = cells.blank | cells.symbol | cells.digits
    rest = np.flatnonzero(~good & ~np.isnan(cells.numbers))
    if len(rest):  # "10.0" is a count; "10.5", "-1" and "1e3" are not
        text = pc.utf8_trim_whitespace(pc.take(_raw(pandas_obj), arrow.array(rest)))
        good[rest] = _np(pc.match_substring_regex(text, COUNT_PATTERN)).astype(bool)
    return pd.Series(good, index=pandas_obj.index)


@register_check_method(statistics=[])
def ees_number(pandas_obj: pd.Series) -> pd.Series:
    """Blank, an EES symbol, 'yes'/'no' (for yes/no indicators), or a decimal number."""
    if isinstance(pandas_obj.dtype, pd.CategoricalDtype):
        return _cells_ok(pandas_obj, NUMBER_PATTERN, extra=("yes", "no"))
    cells = scan(pandas_obj)
    good = cells.blank | cells.symbol | cells.yes_no | np.isfinite(cells.numbers)
    return pd.Series(good, index=pandas_obj.index)


@register_check_method(statistics=[])
def not_blank(pandas_obj: pd.Series) -> pd.Series:
    """The cell has something in it other than spaces."""
    return _elementwise(pandas_obj, lambda t: pc.invert(_blank(t)))


# Keep a reference so linters see the module is used for its registration side effect.
REGISTERED = (pa.Check.ees_count, pa.Check.ees_number, pa.Check.not_blank)
