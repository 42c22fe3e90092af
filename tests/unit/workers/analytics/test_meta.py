"""The shared frames of the analytics (workers.analytics.meta): the ValueFrame row check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.errors
import pytest

from workers.analytics import meta
from workers.analytics.meta import KEY, ValueFrame


def frame(keys: list[tuple[str, ...]]) -> pd.DataFrame:
    rows = pd.DataFrame(keys, columns=KEY)
    return rows.assign(value=1.0, numerator=np.nan, denominator=np.nan)


ROW = ("E06000001", "t3_cin_rate", "2025", "Total", "Total")
OTHER_LA = ("E06000002", *ROW[1:])
OTHER_PERIOD = (*ROW[:2], "2024", *ROW[3:])


@pytest.mark.parametrize(
    ("keys", "repeated"),
    [
        ([ROW, OTHER_LA, OTHER_PERIOD], False),
        ([ROW, OTHER_LA, ROW], True),
        # Codes combine per column: ("a", "bc") and ("ab", "c") must not collide.
        ([("a", "bc", "2025", "T", "T"), ("ab", "c", "2025", "T", "T")], False),
        ([], False),
    ],
)
def test_repeats_rows_agrees_with_pandas(
    keys: list[tuple[str, ...]], repeated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = frame(keys)
    assert meta._repeats_rows(rows, KEY) is repeated
    assert bool(rows.duplicated(KEY).any()) is repeated
    # Beyond an int64 of combinations it falls back to pandas, with the same answer.
    monkeypatch.setattr(meta, "_MAX_KEY", 1)
    assert meta._repeats_rows(rows, KEY) is repeated


def test_repeats_rows_missing_values_are_equal() -> None:
    # As in frame.duplicated: two rows missing the same key value repeat each other.
    rows = pd.DataFrame({"a": ["x", None, None, "y"], "b": [1, 2, 2, 2]})
    assert meta._repeats_rows(rows, ["a", "b"])
    assert not meta._repeats_rows(rows.iloc[[0, 1, 3]], ["a", "b"])


def test_value_frame_rejects_a_repeated_key() -> None:
    ValueFrame.validate(frame([ROW, OTHER_LA]))
    with pytest.raises(pandera.errors.SchemaError, match="duplicate LA x cell row"):
        ValueFrame.validate(frame([ROW, OTHER_LA, ROW]))
