"""Context data: published figures about each LA (child population, deprivation, spend per
child, unaccompanied asylum-seeking children, inflow of families) by period.

* :class:`ContextDataset` — one file an administrator loaded (:mod:`schemas.context` format):
  what it covered and who loaded it. Kept for the record after later files replace its values.
* :class:`ContextValue` — the current value of one variable for one LA and period, and the
  dataset it came from. Exactly one per (la_code, period, variable): loading a file replaces
  the values it covers and keeps the others. ``value`` is None where the file gave an EES
  symbol (not available).

Context figures are published statistics: nothing here is protected, and any signed-in user
may see them (``exchange.actions.context``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

__all__ = ["ContextDataset", "ContextValue"]


class ContextDataset(Base):
    __tablename__ = "context_dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    # Reporting years and variable names the file covered, sorted.
    periods: Mapped[list[str]] = mapped_column(JSON, default=list)
    variables: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Local authority rows read from the file (National and Regional rows are ignored).
    row_count: Mapped[int]
    loaded_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    loaded_by_label: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    values: Mapped[list[ContextValue]] = relationship(back_populates="dataset")


class ContextValue(Base):
    __tablename__ = "context_value"
    __table_args__ = (UniqueConstraint("la_code", "period", "variable"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("context_dataset.id"), index=True)
    la_code: Mapped[str] = mapped_column(String(9))  # the LA's current GSS code
    period: Mapped[str] = mapped_column(String(16))  # reporting year, e.g. "2025"
    variable: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float)

    dataset: Mapped[ContextDataset] = relationship(back_populates="values")
