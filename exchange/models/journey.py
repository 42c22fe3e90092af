"""Improvement journeys and Ofsted judgement history (seed 4.5.7).

* :class:`ImprovementJourney` — an LA's improvement journey: when it started, what triggered it
  (e.g. an Ofsted judgement) and what it focuses on. A journey is *open* until it has an
  ``ended_on`` date; an LA has at most one open journey (a partial unique index on
  ``organisation_id WHERE ended_on IS NULL``, as ``submission_version`` has for its current
  version), so starting a new one ends the open one in the same transaction
  (:func:`exchange.actions.journeys.record_journey`). Ended journeys stay for the record.
* :class:`OfstedJudgement` — one Ofsted inspection's overall effectiveness judgement of an LA's
  children's services, recorded by administrators: one per LA and inspection date.

Neither holds an indicator value: dates, short texts and a judgement grade only.

``judgement`` is stored as the grade's text, checked by the database against
:data:`JUDGEMENTS`, a copy of :data:`workers.analytics.trajectories.JUDGEMENTS` (the analytics
are the source of truth; importing them here would load pandas, pandera and scipy with every
model, so the copy is checked to stay in step by tests/unit/exchange/test_journeys.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .organisation import Organisation

__all__ = ["JUDGEMENTS", "MAX_JUDGEMENT_LENGTH", "ImprovementJourney", "OfstedJudgement"]

# Must equal workers.analytics.trajectories.JUDGEMENTS (a test checks that they stay in step).
JUDGEMENTS = ("Outstanding", "Good", "Requires improvement to be good", "Inadequate")
MAX_JUDGEMENT_LENGTH = 64

_OPEN = "ended_on IS NULL"


class ImprovementJourney(Base):
    __tablename__ = "improvement_journey"
    __table_args__ = (
        # At most one open journey per LA, whatever races the application loses.
        Index(
            "uq_improvement_journey_one_open",
            "organisation_id",
            unique=True,
            sqlite_where=sql_text(_OPEN),
            postgresql_where=sql_text(_OPEN),
        ),
        CheckConstraint("ended_on IS NULL OR ended_on >= start_date", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    trigger: Mapped[str] = mapped_column(String(200))  # e.g. "Ofsted inadequate 2021"
    focus_areas: Mapped[str] = mapped_column(Text)  # free text, e.g. "Workforce; Front door"
    ended_on: Mapped[date | None] = mapped_column(Date)  # NULL: the LA's open journey
    # Who recorded (or last changed) it: "user:<email>" or a system actor's label.
    recorded_by_label: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship()

    @property
    def is_open(self) -> bool:
        return self.ended_on is None


class OfstedJudgement(Base):
    __tablename__ = "ofsted_judgement"
    __table_args__ = (
        # One judgement per LA and inspection date (a load replaces it); its index serves
        # "this LA's history" too, as it leads with organisation_id.
        UniqueConstraint("organisation_id", "inspection_date"),
        CheckConstraint(
            "judgement IN (" + ", ".join(f"'{j}'" for j in JUDGEMENTS) + ")", name="judgement"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    inspection_date: Mapped[date] = mapped_column(Date)
    judgement: Mapped[str] = mapped_column(String(MAX_JUDGEMENT_LENGTH))
    recorded_by_label: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship()
