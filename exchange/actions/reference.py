"""Loading the packaged reference data into the database (``exchange init``).

One transaction on the given session (committed on success, rolled back on any error): the
tables are emptied and refilled in it, with its audit event, so readers see either the old or the
new contents and a failure leaves the old ones. Running it again replaces the rows with the same
rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, inspect
from sqlalchemy.orm import Session

from exchange import audit
from exchange.models.base import Base
from exchange.models.reference import (
    ChildPopulation,
    ReferenceLocalAuthority,
    ReferenceRegion,
    StatisticalNeighbour,
)
from schemas.reference import load_reference

__all__ = ["load_reference_data"]

# Parents first: rows are inserted in this order and deleted in the reverse one.
_TABLES: tuple[tuple[str, type[Base], str], ...] = (
    ("regions", ReferenceRegion, "regions"),
    ("la_history", ReferenceLocalAuthority, "local_authorities"),
    ("statistical_neighbours", StatisticalNeighbour, "statistical_neighbours"),
    ("child_population", ChildPopulation, "child_population"),
)


def _plain(value: Any) -> Any:
    """A pandas cell as a plain Python value: missing → None, timestamp → date."""
    if value is None or value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _records(frame: pd.DataFrame, columns: Iterable[str]) -> list[dict[str, Any]]:
    columns = list(columns)
    return [
        {column: _plain(value) for column, value in zip(columns, row, strict=True)}
        for row in frame[columns].itertuples(index=False, name=None)
    ]


def load_reference_data(session: Session, *, actor_label: str = "system") -> dict[str, int]:
    """Replace the reference tables with the packaged reference data; returns rows per table.

    Audited as ``reference_data_loaded`` with the counts (reference data holds no LA values).
    """
    frames = load_reference().to_frames()
    counts: dict[str, int] = {}
    try:
        for _, model, _ in reversed(_TABLES):
            session.execute(delete(model))
        for frame_name, model, label in _TABLES:
            columns = [attribute.key for attribute in inspect(model).column_attrs]
            rows = _records(frames[frame_name], columns)
            session.execute(insert(model), rows)
            counts[label] = len(rows)
        audit.record(
            session,
            "reference_data_loaded",
            actor_label=actor_label,
            target_type="reference_data",
            details={"rows": counts},
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return counts
