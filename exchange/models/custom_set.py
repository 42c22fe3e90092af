"""Custom comparison sets (issue 5): groups of LAs an LA or an alliance defines to compare with.

* :class:`CustomComparisonSet` — a named set owned by one organisation: an LA (a set it compares
  itself with; it is the set's only viewer and never one of its members) or an alliance (a set
  shared by its members: each member sees the set's statistics, as alliances are shared). Names
  are unique per owner.
* :class:`CustomComparisonSetMember` — one member LA of a set.

A set holds no indicator value: a name, a description and LAs. Its statistics are computed like
every other group's (:mod:`exchange.actions.comparisons`), from protected values only and under
the disclosure rule. Written only through :mod:`exchange.actions.custom_sets`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .organisation import Organisation

__all__ = ["CustomComparisonSet", "CustomComparisonSetMember"]


class CustomComparisonSet(Base):
    __tablename__ = "custom_comparison_set"
    # Its index (led by the owner) also serves "this owner's sets".
    __table_args__ = (UniqueConstraint("owner_organisation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # An LA or an alliance.
    owner_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    # Who made it: "user:<email>" or a system actor's label.
    created_by_label: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[Organisation] = relationship()
    members: Mapped[list[CustomComparisonSetMember]] = relationship(
        back_populates="comparison_set",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )


class CustomComparisonSetMember(Base):
    """A member LA of a custom comparison set."""

    __tablename__ = "custom_comparison_set_member"
    __table_args__ = (UniqueConstraint("set_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("custom_comparison_set.id", ondelete="CASCADE"))
    # A local authority; indexed for "the sets this LA is in".
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)

    comparison_set: Mapped[CustomComparisonSet] = relationship(back_populates="members")
    organisation: Mapped[Organisation] = relationship(lazy="selectin")
