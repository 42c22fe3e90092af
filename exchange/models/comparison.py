"""Comparison results: what each LA sees of itself against its neighbours, region and England.

* :class:`ComparisonSet` — one recompute of the comparisons, from one release version per
  period (``releases``), so a view never mixes stale and fresh figures: it shows one set and
  says which releases it rests on. A newer set supersedes it in the same transaction that
  makes the new one current (the switch is atomic; a failed recompute leaves the old set).
* :class:`ComparisonFile` — one viewer LA's results within a set, stored as one encrypted
  zip of Parquet tables (``stored_file``). A viewer's file holds its own raw values and the
  group statistics computed for it from protected values only, so reading one LA's file can
  never show another LA's raw value. Stored files never change, so an incremental recompute
  lets the new set point at the previous file of every LA it did not touch.
* ``ComparisonSet.shared_file_id`` — what every LA may see of the improvement journeys
  (stages and aligned trajectories read from protected values only).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .stored_file import StoredFile

__all__ = ["ComparisonFile", "ComparisonSet", "ComparisonStatus"]


class ComparisonStatus(enum.StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"


# SQLAlchemy stores an enum's member *name*: the predicate must compare with 'CURRENT'.
_IS_CURRENT = "status = 'CURRENT'"


class ComparisonSet(Base):
    __tablename__ = "comparison_set"
    # At most one current set: two recomputes racing to make the first set current cannot
    # both succeed (later switches supersede exactly the set they started from).
    __table_args__ = (
        Index(
            "uq_comparison_set_one_current",
            "status",
            unique=True,
            sqlite_where=text(_IS_CURRENT),
            postgresql_where=text(_IS_CURRENT),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[ComparisonStatus] = mapped_column(
        Enum(ComparisonStatus, native_enum=False, length=16, validate_strings=True)
    )
    # The release each period's protected values came from: {time_period: release id}.
    releases: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # The submission versions the raw values came from: {organisation code: [version ids]}.
    sources: Mapped[dict[str, list[int]]] = mapped_column(JSON, default=dict)
    # Counts only (LAs, rows, seconds): never a cell value.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    job_id: Mapped[str | None] = mapped_column(String(36))
    # What every LA may see of the improvement journeys (read from protected values only).
    shared_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    files: Mapped[list[ComparisonFile]] = relationship(back_populates="comparison_set")


class ComparisonFile(Base):
    __tablename__ = "comparison_file"
    __table_args__ = (UniqueConstraint("set_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("comparison_set.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))

    comparison_set: Mapped[ComparisonSet] = relationship(back_populates="files")
    file: Mapped[StoredFile] = relationship()
